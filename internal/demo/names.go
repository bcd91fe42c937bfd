package demo

import "strings"

// The name lists below are ordered by frequency, most common first; a
// name's weight is derived from its rank (zipfWeights), which follows the
// long-tailed distribution of surnames and given names closely enough for
// linkage tests: a few names are very common (many namesakes), most are rare.

// italianSurnames are common Italian surnames, national ones first with
// Tuscan ones mixed in, including forms with apostrophes and particles.
var italianSurnames = weighted(`
ROSSI, RUSSO, FERRARI, ESPOSITO, BIANCHI, ROMANO, COLOMBO, RICCI, MARINO, GRECO,
BRUNO, GALLO, CONTI, DE LUCA, MANCINI, COSTA, GIORDANO, RIZZO, LOMBARDI, MORETTI,
BARBIERI, FONTANA, SANTORO, MARIANI, RINALDI, CARUSO, FERRARA, GALLI, MARTINI, LEONE,
LONGO, GENTILE, MARTINELLI, VITALE, LOMBARDO, SERRA, COPPOLA, DE SANTIS, D'ANGELO, MARCHETTI,
PARISI, VILLA, CONTE, FERRARO, FERRI, FABBRI, BIANCO, MARINI, GRASSO, VALENTINI,
MESSINA, SALA, DE ANGELIS, GATTI, PELLEGRINI, PALUMBO, SANNA, FARINA, RIZZI, MONTI,
BARTOLINI, BALDI, INNOCENTI, NICCOLAI, GIANNINI, BENVENUTI, BIAGINI, CECCHI, GORI, MAZZONI,
CATTANEO, MORELLI, AMATO, SILVESTRI, MAZZA, TESTA, GRASSI, PELLEGRINO, CARBONE, GIULIANI,
BANDINI, LANDI, PIERI, TADDEI, FANTONI, LENZI, PAOLI, CIANI, GUIDI, BINI,
BENEDETTI, BARONE, ROSSETTI, CAPUTO, MONTANARI, GUERRA, PALMIERI, BERNARDI, MARTINO, FIORE,
BACCI, LAZZERI, SARTI, CAPPELLI, NARDI, NESI, GIOVANNINI, MORI, FRANCHI, MASINI,
DE ROSA, FERRANTE, BRUNI, ORLANDO, NERI, D'AMICO, DI STEFANO, DI MARTINO, LA ROSA, LO BIANCO,
BETTI, PUCCI, BERTI, CORSI, SANTINI, MATTEI, FALCHI, CIONI, BAGNOLI, CHELI,
BARDI, CARLI, MEUCCI, MANETTI, NOCENTINI, BONINI, CONTINI, TOGNONI, PAGLIAI, BORGHINI,
BALDINI, MARZI, BECATTINI, CIAMPI, SANI, ROMEI, PIERACCINI, BARSOTTI, MANNUCCI, BRACCINI,
VANNUCCI, LUCCHESI, DEL CORSO, DEL BENE, DELLA ROCCA, D'ALESSANDRO, DELL'AQUILA, NICCOLINI, GUARDUCCI, SALVADORI`)

// italianMale and italianFemale are given names of children born in Italy
// in the last twenty years, with Tuscan favourites (LAPO, DUCCIO, COSIMO).
var italianMale = weighted(`
LEONARDO, FRANCESCO, ALESSANDRO, LORENZO, MATTIA, TOMMASO, GABRIELE, ANDREA, RICCARDO, EDOARDO,
MATTEO, GIUSEPPE, NICCOLÒ, ANTONIO, FEDERICO, DIEGO, DAVIDE, CHRISTIAN, GIOVANNI, PIETRO,
SAMUELE, MARCO, FILIPPO, LUCA, MICHELE, SIMONE, ALESSIO, GIACOMO, EMANUELE, NICOLA,
ELIA, VINCENZO, SALVATORE, DANIELE, GABRIEL, JACOPO, MANUEL, CRISTIAN, THOMAS, SAMUEL,
STEFANO, LUIGI, ALBERTO, ENEA, ACHILLE, ETTORE, GIULIO, LEONE, NOAH, ALEX,
DENIS, KEVIN, PAOLO, ROBERTO, SERGIO, FABIO, CLAUDIO, MASSIMO, GIORGIO, VALERIO,
CARLO, RAFFAELE, DOMENICO, ENRICO, FABRIZIO, IACOPO, LAPO, DUCCIO, GUIDO, BERNARDO,
COSIMO, NICOLÒ, ERIK, SEBASTIAN, GIANMARCO, DARIO, IVAN, MIRKO, CESARE, OTTAVIO`)

var italianFemale = weighted(`
SOFIA, GIULIA, AURORA, ALICE, GINEVRA, EMMA, GIORGIA, GRETA, BEATRICE, ANNA,
VITTORIA, CHIARA, MARTINA, LUDOVICA, MATILDE, SARA, NICOLE, REBECCA, ARIANNA, ELENA,
NOEMI, GAIA, MIA, FRANCESCA, BIANCA, ALESSIA, CAMILLA, LUCIA, VIOLA, MARIA,
ASIA, IRENE, CECILIA, ELISABETTA, LINDA, ADELE, AMELIA, AGNESE, CARLOTTA, DILETTA,
MARGHERITA, ISABEL, ANGELICA, CATERINA, ELEONORA, VALENTINA, SERENA, SILVIA, FEDERICA, ILARIA,
LAURA, MARIKA, DESIRÈE, BENEDETTA, COSTANZA, OLIVIA, CLARA, ZOE, ESTER, AZZURRA,
ALESSANDRA, VERONICA, ROBERTA, DEBORA, SIMONA, PAOLA, TERESA, ROSA, ANITA, ADA,
CLOE, LETIZIA, STELLA, DALILA, MIRIAM, ELISA, EMILY, AMBRA, GEMMA, PENELOPE`)

// Second elements of double given names (MARIA CHIARA, GIAN MARCO).
var (
	doubleFemaleFirst  = weighted(`MARIA, ANNA`)
	doubleFemaleSecond = weighted(`CHIARA, SOLE, VITTORIA, GIULIA, ELENA, LUCE, BEATRICE, MARIA`)
	doubleMaleFirst    = weighted(`GIAN, PIER`)
	doubleMaleSecond   = weighted(`MARCO, LUCA, FRANCESCO, PAOLO, LUIGI, GIORGIO`)
)

// place is a birth place: its Belfiore code.
type place struct{ name, belfiore string }

// italianPlaces are real municipalities, Tuscan ones first, with their
// Belfiore (cadastral) codes, weighted towards the region's own births.
var italianPlaces = []weightedItem[place]{
	{place{"FIRENZE", "D612"}, 20}, {place{"PRATO", "G999"}, 8}, {place{"PISA", "G702"}, 6},
	{place{"LIVORNO", "E625"}, 6}, {place{"AREZZO", "A390"}, 5}, {place{"SIENA", "I726"}, 4},
	{place{"LUCCA", "E715"}, 4}, {place{"PISTOIA", "G713"}, 4}, {place{"GROSSETO", "E202"}, 4},
	{place{"MASSA", "F023"}, 3}, {place{"CARRARA", "B832"}, 2}, {place{"EMPOLI", "D403"}, 3},
	{place{"VIAREGGIO", "L833"}, 2}, {place{"SCANDICCI", "B962"}, 2}, {place{"SESTO FIORENTINO", "I684"}, 2},
	{place{"ROMA", "H501"}, 4}, {place{"MILANO", "F205"}, 3}, {place{"NAPOLI", "F839"}, 4},
	{place{"TORINO", "L219"}, 1}, {place{"BOLOGNA", "A944"}, 1}, {place{"GENOVA", "D969"}, 1},
	{place{"PALERMO", "G273"}, 2}, {place{"BARI", "A662"}, 1}, {place{"CATANIA", "C351"}, 1},
}

// country is a foreign country of birth or citizenship with names typical
// of its children, as they appear in Italian registries (transliterated,
// sometimes with their own diacritics).
type country struct {
	name     string
	belfiore string // Z code
	iso      string // ISO 3166-1 numeric
	male     []weightedItem[string]
	female   []weightedItem[string]
	surnames []weightedItem[string]
}

var (
	albania = country{"ALBANIA", "Z100", "008",
		weighted(`ARDIT, ERION, KLEJDI, ENEA, ARLIND, KEVIN, DENIS, FLORIAN, ERGI, JURGEN`),
		weighted(`ERSA, KLEA, ANISA, ELONA, SARA, AMELA, XHESIKA, ENXHI, BORA, JONA`),
		weighted(`HOXHA, SHEHU, KOLA, GJONI, DOKA, MUÇA, ÇELA, LEKA, BEGA, PRIFTI`)}
	romania = country{"ROMANIA", "Z129", "642",
		weighted(`ANDREI, ALEXANDRU, IONUȚ, MIHAI, ȘTEFAN, GABRIEL, DARIUS, RĂZVAN, COSMIN, VLAD`),
		weighted(`IOANA, ANDREEA, MARIA, ELENA, BIANCA, ALEXANDRA, DENISA, ROXANA, CRISTINA, DARIA`),
		weighted(`POPESCU, POPA, IONESCU, RADU, DUMITRU, STAN, STOICA, GHEORGHE, MATEI, CONSTANTIN`)}
	morocco = country{"MAROCCO", "Z330", "504",
		weighted(`MOHAMED, YOUSSEF, AYOUB, ADAM, HAMZA, OMAR, ANAS, ILYAS, AMINE, MEHDI`),
		weighted(`FATIMA, SALMA, AYA, KHADIJA, MERYEM, HIBA, NOUR, IMANE, SARA, YASMINE`),
		weighted(`EL AMRANI, BENALI, EL IDRISSI, BOUZIDI, ALAOUI, BENNANI, EL FASSI, TAHIRI, CHAKIR, OUALI`)}
	tunisia = country{"TUNISIA", "Z352", "788",
		weighted(`MOHAMED, AHMED, YASSINE, AYMEN, HAMZA, SAMI, KARIM, WALID, OUSSAMA, RAYEN`),
		weighted(`AMIRA, MARIEM, YASMINE, EYA, RIM, SARRA, INES, NOUR, OUMAIMA, MALAK`),
		weighted(`BEN ALI, TRABELSI, GHARBI, HAMDI, JEBALI, MEJRI, BEN SALAH, SASSI, KHALFALLAH, DRIDI`)}
	egypt = country{"EGITTO", "Z336", "818",
		weighted(`MOHAMED, AHMED, MAHMOUD, MOSTAFA, ABDELRAHMAN, OMAR, YOUSSEF, ALI, KARIM, HASSAN`),
		weighted(`MARIAM, NOUR, HABIBA, MALAK, SALMA, FATMA, AYA, ROKAYA, MENNA, SHAHD`),
		weighted(`ABDELAZIZ, HASSAN, IBRAHIM, MAHMOUD, SAYED, MOUSTAFA, ELSAYED, SALEH, FARAG, ABDALLA`)}
	nigeria = country{"NIGERIA", "Z335", "566",
		weighted(`CHINEDU, EMEKA, OLUWASEUN, IBRAHIM, DANIEL, SAMUEL, DAVID, GODWIN, JOSHUA, EMMANUEL`),
		weighted(`BLESSING, PRECIOUS, FAVOUR, CHIOMA, NGOZI, JOY, ESTHER, GLORY, MERCY, AMAKA`),
		weighted(`OKAFOR, OKONKWO, ADEYEMI, EZE, OBI, NWOSU, OGUNDIPE, BELLO, IBRAHIM, OSAGIE`)}
	pakistan = country{"PAKISTAN", "Z236", "586",
		weighted(`MUHAMMAD, ALI, HASSAN, USMAN, BILAL, HAMZA, ZAIN, ABDULLAH, AHMED, FAHAD`),
		weighted(`AYESHA, FATIMA, ZAINAB, MARYAM, HIRA, SANA, IQRA, AMNA, ALINA, MAHNOOR`),
		weighted(`KHAN, AHMED, HUSSAIN, ALI, BUTT, CHAUDHRY, RAZA, IQBAL, MALIK, SHAH`)}
	bangladesh = country{"BANGLADESH", "Z249", "050",
		weighted(`MOHAMMAD, RAKIB, SHAKIL, TANVIR, ARIF, RIFAT, SAKIB, NAYEM, IMRAN, HASAN`),
		weighted(`NUSRAT, SUMAIYA, TASNIM, JANNAT, MIM, FARJANA, SADIA, RIYA, TANIA, SHARMIN`),
		weighted(`HOSSAIN, ISLAM, RAHMAN, AHMED, UDDIN, MIAH, SARKAR, CHOWDHURY, KHAN, ALAM`)}
	gambia = country{"GAMBIA", "Z317", "270",
		weighted(`LAMIN, MODOU, OUSMAN, EBRIMA, ALIEU, BAKARY, MUSA, SAIKOU, MOMODOU, ABDOULIE`),
		weighted(`FATOU, ISATOU, MARIAMA, AWA, HAWA, AMIE, BINTA, KUMBA, NDEYE, JAINABA`),
		weighted(`JALLOW, CEESAY, BAH, SANNEH, JOBE, TOURAY, DARBOE, CAMARA, SOWE, NJIE`)}
	ukraine = country{"UCRAINA", "Z138", "804",
		weighted(`OLEKSANDR, MAKSYM, DMYTRO, ARTEM, ANDRII, IVAN, MYKHAILO, BOHDAN, DANYLO, NAZAR`),
		weighted(`SOFIIA, ANASTASIIA, ANNA, MARIIA, VIKTORIIA, DARYNA, YULIIA, KATERYNA, POLINA, OLENA`),
		weighted(`SHEVCHENKO, KOVALENKO, BONDARENKO, TKACHENKO, KOVALCHUK, KRAVCHENKO, OLIINYK, SHEVCHUK, POLISHCHUK, MELNYK`)}
	china = country{"CINA", "Z210", "156",
		weighted(`HAO, JUN, WEI, YI, JIAHAO, ZIHAN, HAORAN, YUXUAN, MING, JIE`),
		weighted(`XINYI, YUTONG, MENGYAO, JING, LI, YAN, XIN, LINA, YUE, SHUANG`),
		weighted(`HU, CHEN, ZHOU, WANG, LIN, ZHANG, JIN, LI, XU, YE`)}
	senegal = country{"SENEGAL", "Z343", "686",
		weighted(`MAMADOU, CHEIKH, MOUSTAPHA, IBRAHIMA, OUSMANE, ABDOULAYE, MODOU, PAPE, SERIGNE, ALIOU`),
		weighted(`FATOU, AMINATA, MARIAMA, KHADY, AWA, NDEYE, ASTOU, COUMBA, BINTA, SOKHNA`),
		weighted(`DIOP, NDIAYE, FALL, SARR, DIALLO, GUEYE, MBAYE, SECK, FAYE, CISSÉ`)}
	peru = country{"PERU", "Z611", "604",
		weighted(`JOSÉ, LUIS, CARLOS, JUAN, DIEGO, SEBASTIÁN, MATEO, SANTIAGO, ÁNGEL, JESÚS`),
		weighted(`MARÍA, CAMILA, VALERIA, LUCÍA, XIMENA, DANIELA, ANDREA, KIARA, ALEJANDRA, FERNANDA`),
		weighted(`QUISPE, FLORES, RAMÍREZ, SÁNCHEZ, GARCÍA, RODRÍGUEZ, MAMANI, HUAMÁN, NÚÑEZ, TORRES`)}
)

// residentCountries are the citizenships of foreign minors resident in
// Tuscany, roughly in the order of their communities' size.
var residentCountries = []weightedItem[*country]{
	{&romania, 20}, {&albania, 15}, {&china, 14}, {&morocco, 10}, {&ukraine, 6}, {&peru, 5},
	{&bangladesh, 5}, {&pakistan, 4}, {&nigeria, 4}, {&senegal, 4}, {&egypt, 3}, {&tunisia, 3}, {&gambia, 1},
}

// msnaCountries are the countries of unaccompanied foreign minors (MSNA),
// roughly as in the Ministry of Labour's recent reports.
var msnaCountries = []weightedItem[*country]{
	{&egypt, 18}, {&ukraine, 12}, {&tunisia, 12}, {&bangladesh, 10}, {&albania, 10}, {&gambia, 8},
	{&pakistan, 8}, {&senegal, 6}, {&morocco, 6}, {&nigeria, 4},
}

// weightedItem is a value with its relative frequency.
type weightedItem[T any] struct {
	v T
	w float64
}

// weighted parses a comma-separated list ordered by frequency and weights
// its items by rank with a Zipf-like law, 1/(rank+5).
func weighted(list string) []weightedItem[string] {
	var out []weightedItem[string]
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, weightedItem[string]{s, 1 / float64(len(out)+6)})
		}
	}
	return out
}

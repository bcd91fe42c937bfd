package linkage

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustNormalize(t *testing.T, id Identity) Normalized {
	t.Helper()
	n, err := Normalize(id, minorsPolicy)
	require.NoError(t, err)
	return n
}

// sharedKinds returns the kinds on which a and b have the same value.
func sharedKinds(t *testing.T, a, b Identity) []KeyKind {
	t.Helper()
	bv := map[KeyValue]bool{}
	for _, kv := range mustNormalize(t, b).KeyValues() {
		bv[kv] = true
	}
	var shared []KeyKind
	for _, kv := range mustNormalize(t, a).KeyValues() {
		if bv[kv] && (len(shared) == 0 || shared[len(shared)-1] != kv.Kind) {
			shared = append(shared, kv.Kind)
		}
	}
	return shared
}

func TestKeyValuesVector(t *testing.T) {
	id := Identity{CodiceFiscale: cfVerdiOmo1, Surname: "De Luca-Verdi", GivenNames: "Maria Chiara",
		BirthDate: "2010-03-05", Sex: "F", Citizenship: "642"}
	// The codice fiscale does not agree with these names, which is allowed,
	// but it must agree with the date and sex: use a matching one.
	id.CodiceFiscale = ComputeCF(id.Surname, id.GivenNames, mustDate(id.BirthDate), id.Sex, "Z129")
	require.Equal(t, "DLCMCH10C45Z129", id.CodiceFiscale[:15]) // DLC (D L C), MCH (M R C H → 1st, 3rd, 4th), 10, C, 5+40, Z129

	got := mustNormalize(t, id).KeyValues()
	want := []KeyValue{
		{KindCF, id.CodiceFiscale},
		{KindNDS, "DE LUCA VERDI|MARIA CHIARA|2010-03-05|F"},
		{KindSWAP, "CHIARA DE LUCA MARIA VERDI|2010-03-05"},
		{KindNFG, "DE LUCA VERDI|MARIA|2010-03-05"},
		{KindNFG, "DE LUCA VERDI|CHIARA|2010-03-05"},
		{KindPHON, "DLKVRD|MR|2010-03-05"},
		{KindDMS, "DE LUCA VERDI|MARIA CHIARA|2010|03-05"},
		{KindYM, "DE LUCA VERDI|MARIA CHIARA|2010-03"},
		{KindMD, "DE LUCA VERDI|MARIA CHIARA|03-05"},
		{KindYD, "DE LUCA VERDI|MARIA CHIARA|2010|05"},
		{KindGDI, "MARIA CHIARA|2010-03-05|D"},
		{KindSDI, "DE LUCA VERDI|2010-03-05|M"},
		{KindPND, "DLKVRD|2010-03-05"},
		{KindPND, "MR|2010-03-05"},
		{KindPND, "MRKR|2010-03-05"},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, got, mustNormalize(t, id).KeyValues(), "deterministic")
}

func TestKeyValuesShape(t *testing.T) {
	tests := []struct {
		name      string
		id        Identity
		wantKinds []KeyKind
	}{
		{"noCodeDayAbove12", Identity{Surname: "Rossi", GivenNames: "Luca", BirthDate: "2012-04-20", Sex: "M"},
			[]KeyKind{KindNDS, KindSWAP, KindNFG, KindPHON, KindYM, KindMD, KindYD, KindGDI, KindSDI, KindPND, KindPND}},
		{"dayEqualsMonthNoDMS", Identity{Surname: "Rossi", GivenNames: "Luca", BirthDate: "2012-04-04", Sex: "M"},
			[]KeyKind{KindNDS, KindSWAP, KindNFG, KindPHON, KindYM, KindMD, KindYD, KindGDI, KindSDI, KindPND, KindPND}},
		{"provisional", Identity{CodiceFiscale: provValid2, Surname: "Hu", GivenNames: "Jie", BirthDate: "2012-04-03", Sex: "M"},
			[]KeyKind{KindPROV, KindNDS, KindSWAP, KindNFG, KindPHON, KindDMS, KindYM, KindMD, KindYD, KindGDI, KindSDI, KindPND, KindPND}},
		{"repeatedGivenNameOneNFG", Identity{Surname: "Rossi", GivenNames: "Maria Maria", BirthDate: "2012-04-20", Sex: "F"},
			[]KeyKind{KindNDS, KindSWAP, KindNFG, KindPHON, KindYM, KindMD, KindYD, KindGDI, KindSDI, KindPND, KindPND, KindPND}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kinds []KeyKind
			seen := map[KeyValue]bool{}
			for _, kv := range mustNormalize(t, tt.id).KeyValues() {
				assert.True(t, kv.Kind.Valid())
				assert.False(t, seen[kv], "duplicate %s", kv.Kind)
				seen[kv] = true
				kinds = append(kinds, kv.Kind)
			}
			assert.Equal(t, tt.wantKinds, kinds)
		})
	}
}

// bothNames are the weak kinds that hold both names.
var bothNames = []KeyKind{KindNDS, KindSWAP, KindNFG, KindPHON, KindDMS, KindYM, KindMD, KindYD, KindGDI, KindSDI}

// withoutPostcode are the weak kinds of an identity without a postcode.
var withoutPostcode = slices.DeleteFunc(slices.Clone(KeyKinds[3:]), func(k KeyKind) bool { return k == KindPCN || k == KindPCD })

func withPC(id Identity, pc string) Identity { id.Residence.Postcode = pc; return id }

func TestKeyValuesMatchVariants(t *testing.T) {
	rossi := Identity{CodiceFiscale: cfRossi, Surname: "Rossi", GivenNames: "Mario", BirthDate: "2010-01-01",
		Sex: "M", BirthPlace: "H501"}
	rossi.CodiceFiscale = ComputeCF("Rossi", "Mario", mustDate("2010-01-01"), "M", "H501")
	plain := Identity{Surname: "Esposito", GivenNames: "Maria Chiara", BirthDate: "2011-03-07", Sex: "F"}
	with := func(id Identity, f func(*Identity)) Identity { f(&id); return id }

	tests := []struct {
		name    string
		a, b    Identity
		want    []KeyKind // kinds that must be shared
		notWant []KeyKind // kinds that must not be
	}{
		{"omocodiaSameKeys", rossi, with(rossi, func(i *Identity) { i.CodiceFiscale = Omocodia(i.CodiceFiscale, 3) }),
			KeyKinds[:1], nil},
		{"swappedNames", plain, with(plain, func(i *Identity) { i.Surname, i.GivenNames = i.GivenNames, i.Surname }),
			[]KeyKind{KindSWAP}, []KeyKind{KindNDS}},
		{"splitDifferently", Identity{Surname: "Ali Hassan", GivenNames: "Mohamed", BirthDate: "2008-11-20", Sex: "M"},
			Identity{Surname: "Hassan", GivenNames: "Mohamed Ali", BirthDate: "2008-11-20", Sex: "M"},
			[]KeyKind{KindSWAP}, []KeyKind{KindNDS}},
		{"secondGivenNameDropped", plain, with(plain, func(i *Identity) { i.GivenNames = "Maria" }),
			[]KeyKind{KindNFG, KindPHON, KindSDI}, []KeyKind{KindNDS}},
		{"firstGivenNameDropped", plain, with(plain, func(i *Identity) { i.GivenNames = "Chiara" }),
			[]KeyKind{KindNFG}, []KeyKind{KindNDS}},
		{"dayMonthSwapped", plain, with(plain, func(i *Identity) { i.BirthDate = "2011-07-03" }),
			[]KeyKind{KindDMS}, []KeyKind{KindNDS}},
		{"dayWrong", plain, with(plain, func(i *Identity) { i.BirthDate = "2011-03-17" }),
			[]KeyKind{KindYM}, []KeyKind{KindNDS, KindMD}},
		{"yearWrong", plain, with(plain, func(i *Identity) { i.BirthDate = "2012-03-07" }),
			[]KeyKind{KindMD}, []KeyKind{KindNDS, KindYM}},
		{"monthWrong", plain, with(plain, func(i *Identity) { i.BirthDate = "2011-08-07" }),
			[]KeyKind{KindYD}, []KeyKind{KindNDS, KindYM}},
		{"surnameTypo", plain, with(plain, func(i *Identity) { i.Surname = "Espisoto" }),
			[]KeyKind{KindGDI}, []KeyKind{KindNDS}},
		{"givenNameTypo", plain, with(plain, func(i *Identity) { i.GivenNames = "Maria Chiata" }),
			[]KeyKind{KindPHON, KindSDI}, []KeyKind{KindNDS}},
		{"sexUnknownMeetsFemale", plain, with(plain, func(i *Identity) { i.Sex = "X" }),
			withoutPostcode, []KeyKind{KindNDS}},
		{"sexMiscoded", plain, with(plain, func(i *Identity) { i.Sex = "M" }),
			withoutPostcode, []KeyKind{KindNDS}},
		{"apostropheDropped", Identity{Surname: "D'Angelo", GivenNames: "Niccolò", BirthDate: "2012-05-20", Sex: "M"},
			Identity{Surname: "Dangelo", GivenNames: "Niccolo", BirthDate: "2012-05-20", Sex: "M"},
			[]KeyKind{KindPHON, KindGDI}, []KeyKind{KindNDS}},
		// Twins share only the keys that hold one name (the score keeps
		// them apart), none that holds both.
		{"twinsShareOnlyOneNameKeys", Identity{Surname: "Bruno", GivenNames: "Marco", BirthDate: "2013-02-14", Sex: "M"},
			Identity{Surname: "Bruno", GivenNames: "Luca", BirthDate: "2013-02-14", Sex: "M"},
			[]KeyKind{KindPND}, bothNames},
		{"namesakesOtherDayShareNothing", plain, with(plain, func(i *Identity) { i.BirthDate = "2009-10-22" }),
			nil, KeyKinds},
		{"surnameReplacedGivenTypo", plain, with(plain, func(i *Identity) { i.Surname, i.GivenNames = "Bianchi", "Maria Kiara" }),
			[]KeyKind{KindPND}, bothNames},
		{"swappedAndMisspelt", plain, with(plain, func(i *Identity) { i.Surname, i.GivenNames = "Maria Chiara", "Espositto" }),
			[]KeyKind{KindPND}, []KeyKind{KindNDS}},
		{"bothNamesWrongSamePostcode", withPC(plain, "50100"), with(withPC(plain, "50100"), func(i *Identity) { i.Surname, i.GivenNames = "Bianchi", "Anna" }),
			[]KeyKind{KindPCD}, append(slices.Clone(bothNames), KindPND, KindPCN)},
		{"dateWrongAndSurnameReplacedSamePostcode", withPC(plain, "50100"), with(withPC(plain, "50100"), func(i *Identity) { i.Surname, i.BirthDate = "Bianchi", "2009-12-25" }),
			[]KeyKind{KindPCN}, append(slices.Clone(bothNames), KindPND, KindPCD)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shared := sharedKinds(t, tt.a, tt.b)
			for _, k := range tt.want {
				assert.Contains(t, shared, k)
			}
			for _, k := range tt.notWant {
				assert.NotContains(t, shared, k)
			}
		})
	}
}

// TestPhoneticTypos pairs realistic misspellings met in registries: each
// pair must get one code, and different names must not.
func TestPhoneticTypos(t *testing.T) {
	same := [][2]string{
		{"ROSSI", "ROSI"},               // doubled consonant
		{"MATTEO", "MATEO"},             // doubled consonant
		{"GIULIA", "GUILIA"},            // vowels transposed
		{"JACOPO", "IACOPO"},            // J/I
		{"CHIARA", "KIARA"},             // CH/K
		{"FILIPPO", "PHILIPPO"},         // PH/F
		{"MOHAMED", "MUHAMMAD"},         // transliteration
		{"MOHAMED", "MOHAMMED"},         // transliteration
		{"YOUSSEF", "YUSUF"},            // transliteration
		{"DE LUCA", "DELUCA"},           // spacing
		{"SHEVCHENKO", "SEVCENKO"},      // SH/S, CH/C
		{"ALEX", "ALEKS"},               // X/KS
		{"LUCA", "LUKA"},                // C/K
		{"ZANETTI", "SANETTI"},          // Z/S
		{"WALTER", "VALTER"},            // W/V
		{"HASSAN", "ASSAN"},             // silent H
		{"ALESSANDRO", "ALESANDRO"},     // doubled consonant
		{"FRANCESCA", "FRANCESKA"},      // C/K
		{"CHRISTIAN", "CRISTIAN"},       // CH/C
		{"ABDELRAHMAN", "ABDELRAHAMAN"}, // inserted vowel
	}
	for _, p := range same {
		t.Run(p[0]+"="+p[1], func(t *testing.T) {
			assert.Equal(t, Phonetic(p[0]), Phonetic(p[1]))
		})
	}
	different := [][2]string{
		{"ROSSI", "BIANCHI"},
		{"MARCO", "MARIO"},
		{"ANNA", "ANNA MARIA"},
		{"SARA", "SERENA"},
	}
	for _, p := range different {
		t.Run(p[0]+"≠"+p[1], func(t *testing.T) {
			assert.NotEqual(t, Phonetic(p[0]), Phonetic(p[1]))
		})
	}
	// Documented coarseness: vowels after the first letter are dropped, so
	// these meet; PHON keys rely on the exact birth date, and scoring
	// (names' Bloom filters, sex) tells them apart.
	coarse := [][2]string{{"ROSSI", "RUSSO"}, {"LUCA", "LUCIA"}}
	for _, p := range coarse {
		t.Run(p[0]+"~"+p[1], func(t *testing.T) {
			assert.Equal(t, Phonetic(p[0]), Phonetic(p[1]))
		})
	}
	assert.Equal(t, "MMD", Phonetic("MOHAMED"))
	assert.Equal(t, "KR", Phonetic("CHIARA"))
	assert.Equal(t, "DNGL", Phonetic("D ANGELO"))
}

func TestKeyKinds(t *testing.T) {
	strong := 0
	for i, k := range KeyKinds {
		assert.True(t, k.Valid())
		if k.Strong() {
			assert.Equal(t, strong, i, "strong kinds come first")
			strong++
		}
	}
	assert.Equal(t, 3, strong)
	assert.False(t, KeyKind("cf").Valid())
	assert.False(t, KeyKind("").Valid())
	assert.False(t, KindSWAP.Strong())
}

func TestPRFInput(t *testing.T) {
	assert.Equal(t, []byte("CF\x00RSSMRA80A01H501U"), PRFInput(KeyValue{KindCF, cfRossi}))
	assert.Equal(t, []byte("NDS\x00A|B|2010-01-01|M"), PRFInput(KeyValue{KindNDS, "A|B|2010-01-01|M"}))
	// The separator keeps kinds apart even when one kind is a prefix of another.
	assert.NotEqual(t, PRFInput(KeyValue{"MD", "X"}), PRFInput(KeyValue{"M", "DX"}))
}

func TestKeyValueNotPrinted(t *testing.T) {
	kv := KeyValue{KindNDS, "ROSSI|MARIO|1980-01-01|M"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", kv, "keys", []KeyValue{kv})
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s %q %x", kv, kv, kv, kv, kv, kv),
		fmt.Sprintf("%v %+v %#v", []KeyValue{kv}, struct{ K KeyValue }{kv}, &kv),
		logged.String(),
	} {
		assert.NotContains(t, out, "ROSSI")
		assert.NotContains(t, out, "1980")
		assert.Contains(t, out, "NDS")
	}
}

func TestAttributes(t *testing.T) {
	tests := []struct {
		citizenship, group string
	}{
		{"380", "IT"},
		{"642", "EU"}, // Romania
		{"276", "EU"}, // Germany
		{"008", "NON_EU"},
		{"504", "NON_EU"},
		{"756", "NON_EU"}, // Switzerland
		{"", ""},
	}
	for _, tt := range tests {
		t.Run("citizenship"+tt.citizenship, func(t *testing.T) {
			n := mustNormalize(t, Identity{Surname: "Rossi", GivenNames: "Luca", BirthDate: "2012-04-20", Sex: "X",
				Citizenship: tt.citizenship})
			assert.Equal(t, Attributes{Sex: "X", BirthYear: 2012, BirthMonth: 4, CitizenshipGroup: tt.group}, n.Attributes())
		})
	}
	assert.Len(t, euCountries, 26, "EU-27 without Italy")
}

package linkage

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// KeyKind names a kind of match key. A key's digest is PRF(kind ‖ 0x00 ‖
// value), so values of different kinds never meet.
//
// Strong keys identify a person on their own (CF, PROV, NDS). Weak keys only
// propose candidates, which resolution scores; each is built so that one
// class of common error leaves it unchanged:
//
//	kind  value                                                   survives
//	SWAP  all name words, sorted | date                           surname and given names swapped or split differently
//	NFG   surname | one given name | date  (one value per name)   a given name dropped, added or reordered
//	PHON  phon(surname) | phon(first given name) | date           spelling variants, doubled letters, vowel typos
//	DMS   surname | given | year | the two of day and month       day and month swapped (both ≤ 12, different)
//	YM    surname | given | year-month                            wrong or missing day
//	MD    surname | given | month-day                             wrong year
//	YD    surname | given | year, day                             wrong month
//	GDI   given | date | surname's initial                        any other error in the surname
//	SDI   surname | date | first given name's initial             any other error in the given names
//
// The kinds above all hold both names and the date, so two errors in
// different fields (a replaced surname and a typo in the given name, a
// wrong date and a misspelt name) leave an identity with no candidate. The
// kinds below hold fewer fields and survive several errors at once; they
// are broader, and only propose candidates (at most MaxCandidates per
// identity, as for every weak key), which the score keeps apart when they
// differ. ph(N) is the Phonetic code of a name N, where N is, one value
// each, the surname, the first given name and all given names together
// (when its code differs from the first's):
//
//	PND   ph(N) | date                       (one value per N)  the other name wholly wrong or replaced, names swapped, spelling variants
//	PCN   residence postcode | ph(N)         (one value per N)  as PND, and any error in the date; only with a postcode
//	PCD   residence postcode | date                             errors in both names; only with a postcode
//
// Because PND and PCN hold the surname and the given names as values
// of the same kind, a surname meets a given name: swapped names still meet
// when one of them is also misspelt or replaced. Twins and siblings born
// together share PND and, living together, PCN and PCD: they are candidates of each other, and
// their different given names keep their score below the automatic
// threshold (TestSyntheticTwinsDistinct). For that reason these three
// kinds do not count in the key part of the score (see Score): only the
// kinds above, which hold both names, do. Residence only enters keys when
// the identity has a postcode. Keys without the date or the postcode
// (phonetic name + birth year, the two phonetic names without date) were
// measured and left out: on FEBRL 4 they added under 1 % of blocking recall
// and multiplied the candidates (and the fuzzy store throughput fell 10×).
//
// No weak key contains sex. Sex X (unknown) must meet both M and F, and a
// miscoded sex is itself a common error; the given names nearly determine
// sex, so leaving it out costs little, and resolution compares sex when it
// scores candidates. NDS, a strong key, uses sex as given (X included).
//
// Keys whose value is symmetric in the error (SWAP, DMS) give the same value
// for the right and the wrong form, as keys of one kind only ever meet keys
// of the same kind.
type KeyKind string

// Key kinds. See KeyKind for what each holds.
const (
	KindCF   KeyKind = "CF"   // canonical codice fiscale
	KindPROV KeyKind = "PROV" // 11-digit provisional code
	KindNDS  KeyKind = "NDS"  // surname | given names | birth date | sex

	KindSWAP KeyKind = "SWAP"
	KindNFG  KeyKind = "NFG"
	KindPHON KeyKind = "PHON"
	KindDMS  KeyKind = "DMS"
	KindYM   KeyKind = "YM"
	KindMD   KeyKind = "MD"
	KindYD   KeyKind = "YD"
	KindGDI  KeyKind = "GDI"
	KindSDI  KeyKind = "SDI"

	KindPND KeyKind = "PND"
	KindPCN KeyKind = "PCN"
	KindPCD KeyKind = "PCD"
)

// KeyKinds lists every key kind, strong ones first, in the order
// KeyValues returns them.
var KeyKinds = []KeyKind{KindCF, KindPROV, KindNDS,
	KindSWAP, KindNFG, KindPHON, KindDMS, KindYM, KindMD, KindYD, KindGDI, KindSDI,
	KindPND, KindPCN, KindPCD}

// Strong reports whether a key of kind k identifies a person on its own.
func (k KeyKind) Strong() bool { return k == KindCF || k == KindPROV || k == KindNDS }

// Valid reports whether k is one of KeyKinds.
func (k KeyKind) Valid() bool { return slices.Contains(KeyKinds, k) }

// maxNFG bounds the NFG values of one identity (one per given name).
const maxNFG = 4

// KeyValue is one match key of a person before the PRF: its kind and its
// value. Its fmt and slog forms show only the kind.
type KeyValue struct {
	Kind  KeyKind
	Value string
}

// String shows the kind only.
func (kv KeyValue) String() string { return string(kv.Kind) + ":…" }

// GoString shows the kind only.
func (kv KeyValue) GoString() string {
	return "linkage.KeyValue{Kind:" + strconv.Quote(string(kv.Kind)) + ", Value:…}"
}

// Format shows the kind only, whatever the verb and flags.
func (kv KeyValue) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(kv.GoString()))
		return
	}
	_, _ = f.Write([]byte(kv.String()))
}

// LogValue shows the kind only.
func (kv KeyValue) LogValue() slog.Value { return slog.StringValue(kv.String()) }

// KeyValues returns the match keys of n: CF if any, PROV if any, NDS always,
// then the weak keys in KeyKinds order (DMS only when day and month are
// both ≤ 12 and differ). The order is deterministic and no (kind, value)
// pair appears twice. n must come from Normalize.
//
// A weak value that spells the same text as NDS's is still returned: digests
// are separated by kind, so dropping it would stop it meeting the same kind
// of key of another identity.
func (n Normalized) KeyValues() []KeyValue {
	var (
		out   = make([]KeyValue, 0, 16)
		given = strings.Join(n.GivenNames, " ")
		date  = n.BirthDate.Format("2006-01-02")
		y, m  = n.BirthDate.Year(), int(n.BirthDate.Month())
		d     = n.BirthDate.Day()
		first string
	)
	if len(n.GivenNames) > 0 {
		first = n.GivenNames[0]
	}
	add := func(k KeyKind, parts ...string) {
		kv := KeyValue{Kind: k, Value: strings.Join(parts, "|")}
		if !slices.Contains(out, kv) {
			out = append(out, kv)
		}
	}
	if n.CF != "" {
		add(KindCF, n.CF)
	}
	if n.Provisional != "" {
		add(KindPROV, n.Provisional)
	}
	add(KindNDS, n.Surname, given, date, n.Sex)

	words := append(strings.Fields(n.Surname), n.GivenNames...)
	slices.Sort(words)
	add(KindSWAP, strings.Join(words, " "), date)
	for _, g := range n.GivenNames[:min(len(n.GivenNames), maxNFG)] {
		add(KindNFG, n.Surname, g, date)
	}
	add(KindPHON, Phonetic(n.Surname), Phonetic(first), date)
	if d <= 12 && d != m {
		lo, hi := min(d, m), max(d, m)
		add(KindDMS, n.Surname, given, strconv.Itoa(y), fmt.Sprintf("%02d-%02d", lo, hi))
	}
	add(KindYM, n.Surname, given, date[:7])
	add(KindMD, n.Surname, given, date[5:])
	add(KindYD, n.Surname, given, date[:4], date[8:])
	add(KindGDI, given, date, initial(n.Surname))
	add(KindSDI, n.Surname, date, initial(first))
	ps, pg := Phonetic(n.Surname), Phonetic(first)
	names := []string{ps, pg}
	if pa := Phonetic(given); pa != pg {
		names = append(names, pa)
	}
	for _, p := range names {
		add(KindPND, p, date)
	}
	if pc := n.Residence.Postcode; pc != "" {
		for _, p := range names {
			add(KindPCN, pc, p)
		}
	}
	if pc := n.Residence.Postcode; pc != "" {
		add(KindPCD, pc, date)
	}
	return out
}

func initial(s string) string {
	if s == "" {
		return ""
	}
	return s[:1]
}

// PRFInput returns the byte string the PRF is applied to for kv:
// kind ‖ 0x00 ‖ value.
func PRFInput(kv KeyValue) []byte {
	b := make([]byte, 0, len(kv.Kind)+1+len(kv.Value))
	b = append(b, kv.Kind...)
	b = append(b, 0)
	return append(b, kv.Value...)
}

// Phonetic returns an Italian-aware phonetic code of a normalised name
// (upper case A–Z and spaces), so that spellings that sound alike, and
// common typos, give the same code. In order:
//
//   - spaces are removed (DE LUCA = DELUCA, D ANGELO = DANGELO);
//   - PH → F, CH → K (Italian CHI is KI), GH → G, KH → K, SH → S, TH → T;
//   - X → KS; C, K, Q → K; Y, J → I (JACOPO = IACOPO); W → V; Z → S;
//   - H is dropped (silent in Italian);
//   - runs of the same letter become one (ROSSI = ROSI, MATTEO = MATEO);
//   - vowels after the first letter are dropped, so vowel typos and
//     transpositions (GIULIA, GUILIA) and transliterations (MOHAMED,
//     MUHAMMAD) meet.
//
// The code is coarse on purpose: PHON keys also carry the exact birth date,
// and only propose candidates for scoring.
func Phonetic(name string) string {
	s := strings.ReplaceAll(name, " ", "")
	s = phoneticDigraphs.Replace(s)
	b := make([]byte, 0, len(s)+2)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 'X':
			b = append(b, 'K', 'S')
		case 'C', 'K', 'Q':
			b = append(b, 'K')
		case 'Y', 'J':
			b = append(b, 'I')
		case 'W':
			b = append(b, 'V')
		case 'Z':
			b = append(b, 'S')
		case 'H':
		default:
			b = append(b, c)
		}
	}
	out := make([]byte, 0, len(b))
	for i, c := range b {
		if i > 0 && c == b[i-1] {
			continue
		}
		if len(out) > 0 && strings.IndexByte("AEIOU", c) >= 0 {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

var phoneticDigraphs = strings.NewReplacer("PH", "F", "CH", "K", "GH", "G", "KH", "K", "SH", "S", "TH", "T")

// Attributes are the only person data stored besides digests: coarse
// enough not to identify anyone, useful to score candidates and to count.
type Attributes struct {
	Sex        string // "M", "F" or "X"
	BirthYear  int
	BirthMonth int // 1–12
	// CitizenshipGroup is "IT" (380), "EU" (another EU-27 country),
	// "NON_EU", or "" when the citizenship is unknown.
	CitizenshipGroup string
}

// euCountries are the ISO 3166-1 numeric codes of the EU-27 other than
// Italy.
var euCountries = map[string]bool{
	"040": true, "056": true, "100": true, "191": true, "196": true, "203": true, "208": true,
	"233": true, "246": true, "250": true, "276": true, "300": true, "348": true, "372": true,
	"428": true, "440": true, "442": true, "470": true, "528": true, "616": true, "620": true,
	"642": true, "703": true, "705": true, "724": true, "752": true,
}

// Attributes returns the stored attributes of n.
func (n Normalized) Attributes() Attributes {
	a := Attributes{Sex: n.Sex, BirthYear: n.BirthDate.Year(), BirthMonth: int(n.BirthDate.Month())}
	switch {
	case n.Citizenship == "":
	case n.Citizenship == "380":
		a.CitizenshipGroup = "IT"
	case euCountries[n.Citizenship]:
		a.CitizenshipGroup = "EU"
	default:
		a.CitizenshipGroup = "NON_EU"
	}
	return a
}

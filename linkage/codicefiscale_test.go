package linkage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected codes below were computed by hand from the official tables
// (odd-position values A/0=1 B/1=0 C/2=5 D/3=7 E/4=9 F/5=13 G/6=15 H/7=17
// I/8=19 J/9=21 K=2 L=4 M=18 N=20 O=11 P=3 Q=6 R=8 S=12 T=14 U=16 V=10 W=22
// X=25 Y=24 Z=23; even positions: A/0=0 … Z=25; check = sum mod 26 as A–Z),
// not with the code under test.
//
// RSSMRA80A01H501U — ROSSI MARIO, 1980-01-01, M, Roma (H501)
//
//	odd  R8 S12 R8 8→19 A1 1→0 5→13 1→0  = 61
//	even S18 M12 A0 0 0 H7 0             = 37
//	98 mod 26 = 20 → U
//
// VRDGLI95L55D612U — VERDI GIULIA, 1995-07-15, F, Firenze (D612)
//
//	GIULIA has 2 consonants: G L + first vowel I; July = L; day 15+40 = 55
//	odd  V10 D7 L4 9→21 L4 5→13 6→15 2→5 = 79
//	even R17 G6 I8 5 5 D3 1              = 45
//	124 mod 26 = 20 → U
//
// BNCGFR01T31D612T — BIANCHI GIANFRANCO, 2001-12-31, M, Firenze
//
//	GIANFRANCO has ≥4 consonants G N F R N C: 1st, 3rd, 4th = G F R
//	odd  B0 C5 F13 0→1 T14 1→0 6→15 2→5 = 53
//	even N13 G6 R17 1 3 D3 1            = 44
//	97 mod 26 = 19 → T
//
// LIXYIX15C49Z210O — LI YI, 2015-03-09, F, China (Z210)
//
//	short names padded with X; Y counts as a consonant; March = C; 9+40 = 49
//	odd  L4 X25 I19 1→0 C5 9→21 2→5 0→1 = 80
//	even I8 Y24 X23 5 4 Z25 1           = 90
//	170 mod 26 = 14 → O
//
// DNGNCL12E20G999F — D'ANGELO NICCOLÒ, 2012-05-20, M, Prato (G999)
//
//	NICCOLO: consonants N C C L → N C L; May = E
//	odd  D7 G15 C5 1→0 E9 0→1 9→21 9→21 = 79
//	even N13 N13 L11 2 2 G6 9           = 56
//	135 mod 26 = 5 → F
//
// Omocodia, from the sums above (replacement from the rightmost digit):
//
//	RSSMRA80A01H50MM  level 1: pos 15 1→M, odd 0→18: 116 mod 26 = 12 → M
//	RSSMRA80A01H5LMX  level 2: pos 14 0→L, even 0→11: 127 mod 26 = 23 → X
//	RSSMRAULALMHRLMD  level 7: deltas −3 +11 +11 +18 −5 +11 +18 = 61: 159 mod 26 = 3 → D
//	VRDGLI95L55D61NJ  level 1: pos 15 2→N, odd 5→20: 139 mod 26 = 9 → J
const (
	cfRossi     = "RSSMRA80A01H501U"
	cfVerdi     = "VRDGLI95L55D612U"
	cfBianchi   = "BNCGFR01T31D612T"
	cfLi        = "LIXYIX15C49Z210O"
	cfDAngelo   = "DNGNCL12E20G999F"
	cfRossiOmo1 = "RSSMRA80A01H50MM"
	cfRossiOmo2 = "RSSMRA80A01H5LMX"
	cfRossiOmo7 = "RSSMRAULALMHRLMD"
	cfVerdiOmo1 = "VRDGLI95L55D61NJ"
)

// Provisional codes, checked by hand (odd positions summed, even positions
// doubled minus 9 when above 9):
//
//	00743110157: odd 0+7+3+1+1 = 12; even 0,4,1,0,5 → 0+8+2+0+1 = 11; 23 → (10−3) = 7 ✓
//	01234567897: odd 0+2+4+6+8 = 20; even 1,3,5,7,9 → 2+6+1+5+9 = 23; 43 → 7 ✓
const (
	provValid1 = "00743110157"
	provValid2 = "01234567897"
)

func mustDate(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestComputeCF(t *testing.T) {
	tests := []struct {
		name                  string
		surname, given, birth string
		sex, place, want      string
	}{
		{"rossiMario", "Rossi", "Mario", "1980-01-01", "M", "H501", cfRossi},
		{"verdiGiuliaFemale", "Verdi", "Giulia", "1995-07-15", "F", "D612", cfVerdi},
		{"fourConsonantsGivenName", "BIANCHI", "GIANFRANCO", "2001-12-31", "M", "D612", cfBianchi},
		{"shortNamesPaddedWithX", "Li", "Yi", "2015-03-09", "F", "z210", cfLi},
		{"apostropheAndAccent", "D'Angelo", "Niccolò", "2012-05-20", "M", "G999", cfDAngelo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ComputeCF(tt.surname, tt.given, mustDate(tt.birth), tt.sex, tt.place))
		})
	}
}

func TestOmocodia(t *testing.T) {
	t.Run("handVectors", func(t *testing.T) {
		assert.Equal(t, cfRossiOmo1, Omocodia(cfRossi, 1))
		assert.Equal(t, cfRossiOmo2, Omocodia(cfRossi, 2))
		assert.Equal(t, cfRossiOmo7, Omocodia(cfRossi, 7))
		assert.Equal(t, cfVerdiOmo1, Omocodia(cfVerdi, 1))
		assert.Equal(t, cfRossi, Omocodia(cfRossi, 0))
	})
	for _, cf := range []string{cfRossi, cfVerdi, cfBianchi, cfLi, cfDAngelo} {
		t.Run("roundTrip"+cf, func(t *testing.T) {
			seen := map[string]bool{}
			for k := 1; k <= 7; k++ {
				omo := Omocodia(cf, k)
				assert.False(t, seen[omo], "level %d repeats an earlier level", k)
				seen[omo] = true
				p, reason := parseCF(omo)
				require.Empty(t, reason, "level %d", k)
				assert.Equal(t, cf, p.canonical, "level %d", k)
			}
		})
	}
}

func TestParseCF(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		reason string // "" = valid
		canon  string
	}{
		{"valid", cfRossi, "", cfRossi},
		{"validFemale", cfVerdi, "", cfVerdi},
		{"omocodia1", cfRossiOmo1, "", cfRossi},
		{"omocodia2", cfRossiOmo2, "", cfRossi},
		{"omocodia7", cfRossiOmo7, "", cfRossi},
		{"omocodiaFemale", cfVerdiOmo1, "", cfVerdi},
		{"wrongCheck", "RSSMRA80A01H501X", "check character does not match", ""},
		{"omocodiaWithCanonicalCheck", "RSSMRA80A01H50MU", "check character does not match", ""},
		{"wrongMonthLetter", "RSSMRA80F01H501U", "has an invalid month letter", ""},
		{"letterInYear", "RSSMRA8AA01H501U", "does not have the pattern of a codice fiscale", ""},
		{"digitInSurname", "R5SMRA80A01H501U", "does not have the pattern of a codice fiscale", ""},
		{"digitForPlaceLetter", "RSSMRA80A011501U", "does not have the pattern of a codice fiscale", ""},
		{"dayOutOfRange", withCheck("RSSMRA80A35H501"), "has an invalid birth day", ""},
		{"femaleDayOutOfRange", withCheck("RSSMRA80A72H501"), "has an invalid birth day", ""},
		{"dayZero", withCheck("RSSMRA80A00H501"), "has an invalid birth day", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, reason := parseCF(tt.code)
			assert.Equal(t, tt.reason, reason)
			assert.Equal(t, tt.canon, p.canonical)
		})
	}
	t.Run("decoded", func(t *testing.T) {
		p, reason := parseCF(cfVerdiOmo1)
		require.Empty(t, reason)
		assert.Equal(t, parsedCF{canonical: cfVerdi, year: 95, month: time.July, day: 15, sex: "F", place: "D612"}, p)
	})
}

// withCheck appends the check character to 15 characters; used only for
// codes whose check character is not what the test is about.
func withCheck(code15 string) string { return code15 + string(cfCheckChar(code15)) }

func TestProvisionalCheckDigit(t *testing.T) {
	tests := []struct {
		code  string
		valid bool
	}{
		{provValid1, true},
		{provValid2, true},
		{"00743110158", false},
		{"01234567890", false},
		{"00000000000", true}, // sum 0 → check 0
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			assert.Equal(t, tt.valid, provisionalCheckDigit(tt.code[:10]) == tt.code[10])
		})
	}
}

func TestNormalizeCodiceFiscale(t *testing.T) {
	rossi := Identity{Surname: "Rossi", GivenNames: "Mario", BirthDate: "1980-01-01", Sex: "M", BirthPlace: "H501"}
	verdi := Identity{Surname: "Verdi", GivenNames: "Giulia", BirthDate: "1995-07-15", Sex: "F"}
	with := func(id Identity, f func(*Identity)) Identity { f(&id); return id }

	tests := []struct {
		name     string
		id       Identity
		wantCF   string
		wantProv string
		errs     []FieldError
	}{
		{"canonical", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi }), cfRossi, "", nil},
		{"lowerCaseWithSpaces", with(rossi, func(i *Identity) { i.CodiceFiscale = " rssmra 80a01 h501u " }), cfRossi, "", nil},
		{"omocodiaCanonicalised", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossiOmo2 }), cfRossi, "", nil},
		{"omocodia7Canonicalised", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossiOmo7 }), cfRossi, "", nil},
		{"femaleNoBirthPlace", with(verdi, func(i *Identity) { i.CodiceFiscale = cfVerdiOmo1 }), cfVerdi, "", nil},
		{"sexUnknownAcceptsFemaleCode", with(verdi, func(i *Identity) { i.CodiceFiscale = cfVerdi; i.Sex = "x" }), cfVerdi, "", nil},
		{"sexUnknownAcceptsMaleCode", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi; i.Sex = "X" }), cfRossi, "", nil},
		{"provisional", with(rossi, func(i *Identity) { i.CodiceFiscale = provValid1 }), "", provValid1, nil},
		{"provisionalBadCheck", with(rossi, func(i *Identity) { i.CodiceFiscale = "00743110158" }), "", "",
			[]FieldError{{fieldCF, "check digit does not match"}}},
		{"wrongLength", with(rossi, func(i *Identity) { i.CodiceFiscale = "RSSMRA80A01H501" }), "", "",
			[]FieldError{{fieldCF, "must be 16 characters or the 11-digit provisional code"}}},
		{"wrongCheck", with(rossi, func(i *Identity) { i.CodiceFiscale = "RSSMRA80A01H501X" }), "", "",
			[]FieldError{{fieldCF, "check character does not match"}}},
		{"wrongMonthLetter", with(rossi, func(i *Identity) { i.CodiceFiscale = "RSSMRA80F01H501U" }), "", "",
			[]FieldError{{fieldCF, "has an invalid month letter"}}},
		{"disagreesDay", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi; i.BirthDate = "1980-01-02" }), "", "",
			[]FieldError{{fieldCF, "does not agree with birth_date"}, {fieldBirthDate, reasonDisagreesCF}}},
		{"disagreesMonth", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi; i.BirthDate = "1980-02-01" }), "", "",
			[]FieldError{{fieldCF, "does not agree with birth_date"}, {fieldBirthDate, reasonDisagreesCF}}},
		{"disagreesYear", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi; i.BirthDate = "1981-01-01" }), "", "",
			[]FieldError{{fieldCF, "does not agree with birth_date"}, {fieldBirthDate, reasonDisagreesCF}}},
		{"centuryNotEncoded", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi; i.BirthDate = "1880-01-01" }), "", "",
			[]FieldError{{fieldBirthDate, "must not be before 1900"}}},
		{"disagreesSexMale", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossi; i.Sex = "F" }), "", "",
			[]FieldError{{fieldCF, "does not agree with sex"}, {fieldSex, reasonDisagreesCF}}},
		{"disagreesSexFemale", with(verdi, func(i *Identity) { i.CodiceFiscale = cfVerdi; i.Sex = "M" }), "", "",
			[]FieldError{{fieldCF, "does not agree with sex"}, {fieldSex, reasonDisagreesCF}}},
		{"disagreesBirthPlace", with(rossi, func(i *Identity) { i.CodiceFiscale = cfRossiOmo7; i.BirthPlace = "F205" }), "", "",
			[]FieldError{{fieldCF, "does not agree with birth_place"}, {fieldBirthPlace, reasonDisagreesCF}}},
		{"disagreesAll", with(rossi, func(i *Identity) {
			i.CodiceFiscale, i.BirthDate, i.Sex, i.BirthPlace = cfRossi, "1980-01-02", "F", "F205"
		}), "", "", []FieldError{
			{fieldCF, "does not agree with birth_date, sex, birth_place"},
			{fieldBirthDate, reasonDisagreesCF}, {fieldSex, reasonDisagreesCF}, {fieldBirthPlace, reasonDisagreesCF},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Normalize(tt.id, Policy{})
			if tt.errs != nil {
				var ve *ValidationError
				require.ErrorAs(t, err, &ve)
				assert.Equal(t, tt.errs, ve.Fields)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCF, n.CF)
			assert.Equal(t, tt.wantProv, n.Provisional)
		})
	}
}

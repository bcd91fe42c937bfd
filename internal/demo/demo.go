// Package demo generates realistic, entirely fictitious identities of minors
// for `sirm demo identities`, for linkage tests and for benchmarks: Italian
// children, children of foreign residents and unaccompanied foreign minors
// (MSNA), with the codes, names and errors each group shows in real
// registries, and the ground truth of which records are the same minor.
package demo

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/toscana/sirm/linkage"
)

// Profiles of generated minors.
const (
	ProfileItalian         = "italian"          // Italian citizen
	ProfileForeignResident = "foreign_resident" // foreign citizen living with a family in Italy
	ProfileMSNA            = "msna"             // minore straniero non accompagnato
)

// Minor is one generated record.
type Minor struct {
	PersonID int // ground truth: records of the same minor share it; from 1
	Identity linkage.Identity
	Profile  string // ProfileItalian, ProfileForeignResident or ProfileMSNA
	// TwinOf is, for a twin or sibling generated beside an earlier minor
	// (same surname, birth date and birth place, another given name), the
	// PersonID of that minor; 0 otherwise. The two are different persons:
	// a linkage that merges them is wrong.
	TwinOf int
}

// Options control Identities.
type Options struct {
	N    int   // number of records
	Seed int64 // the same Seed (and Now) gives the same records
	// Now is the reference date: minors are 0–17 years old on it, a few
	// 18–20 (care continued after majority). Zero means today, which makes
	// the output depend on the day it runs.
	Now time.Time
	// DuplicateRate is the share of records, after the first, that are a
	// variant of an earlier minor: typos, swapped or dropped names, missing
	// code, omocodia form of the same code, a wrong birth date (day and
	// month swapped among others) where no code would contradict it, a
	// foreign name transliterated another way (MOHAMED, MUHAMMAD,
	// MOHAMMED). 0 gives one record per minor.
	DuplicateRate float64
	// TwinRate is the share of new minors that are a twin or sibling of an
	// earlier minor: same surname, birth date, birth place, citizenship and
	// kind of code, another given name (and so another codice fiscale). 0
	// gives none, and then the records are those of earlier versions.
	TwinRate float64
}

// Policy is the validation policy the generated identities satisfy: the
// default deployment's age limit, on the reference date of o.
func Policy(o Options) linkage.Policy {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	return linkage.Policy{MaxAgeYears: 21, Now: func() time.Time { return now }}
}

// profileShares are the shares of the profiles among distinct minors:
// mostly Italian children, a quarter children of foreign residents, a few
// percent unaccompanied minors.
var profileShares = []weightedItem[string]{
	{ProfileItalian, 0.68}, {ProfileForeignResident, 0.26}, {ProfileMSNA, 0.06},
}

// Kinds of code an identity carries.
const (
	codeCF   = "cf"
	codeProv = "prov"
	codeNone = "none"
)

// codeShares are, per profile, the shares of minors with a codice fiscale,
// with only a provisional numeric code, and with no code at all. Italians
// always have a codice fiscale; some foreign children and many MSNA are
// registered with the provisional code the Agenzia delle Entrate gives
// while their documents are checked, and some MSNA with none yet.
var codeShares = map[string][]weightedItem[string]{
	ProfileItalian:         {{codeCF, 1}},
	ProfileForeignResident: {{codeCF, 0.92}, {codeProv, 0.08}},
	ProfileMSNA:            {{codeCF, 0.40}, {codeProv, 0.35}, {codeNone, 0.25}},
}

const (
	omocodiaShare    = 0.02 // codici fiscali issued in omocodia form
	maleShare        = 0.50 // among Italian and resident children (52% overall with MSNA)
	msnaMaleShare    = 0.90 // among MSNA
	msnaSexXShare    = 0.03 // MSNA whose sex is recorded as unknown
	msnaNoPlaceShare = 0.10 // MSNA whose birth place is not recorded
	doubleGiven      = 0.06 // Italians with two given names
	titleCase        = 0.25 // records typed "D'Angelo" rather than "D'ANGELO"
)

// generator holds the state of one Identities call.
type generator struct {
	rng    *rand.Rand
	today  time.Time // UTC midnight
	policy linkage.Policy
}

// Identities returns o.N generated records. The same Options give the same
// records. Every record passes linkage.Normalize with Policy(o).
func Identities(o Options) []Minor {
	if o.N <= 0 {
		return nil
	}
	policy := Policy(o)
	y, m, d := policy.Now().Date()
	g := &generator{
		rng:    rand.New(rand.NewPCG(uint64(o.Seed), 0x5349524d)), // "SIRM"
		today:  time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
		policy: policy,
	}
	out := make([]Minor, 0, o.N)
	var firsts []Minor // first record of each minor
	for len(out) < o.N {
		if len(firsts) > 0 && g.rng.Float64() < o.DuplicateRate {
			base := firsts[g.rng.IntN(len(firsts))]
			out = append(out, Minor{PersonID: base.PersonID, Identity: g.variant(base), Profile: base.Profile})
			continue
		}
		var m Minor
		if len(firsts) > 0 && o.TwinRate > 0 && g.rng.Float64() < o.TwinRate {
			if tw, ok := g.twin(firsts[g.rng.IntN(len(firsts))], len(firsts)+1); ok {
				m = tw
			}
		}
		if m.PersonID == 0 {
			m = g.minor(len(firsts) + 1)
		}
		firsts = append(firsts, m)
		out = append(out, m)
	}
	return out
}

// minor generates a new minor.
func (g *generator) minor(personID int) Minor {
	profile := pick(g.rng, profileShares)
	var (
		sex, surname, given, birthPlace, citizenship string
		c                                            *country
		birth                                        time.Time
	)
	switch profile {
	case ProfileItalian:
		sex = g.sex(maleShare)
		surname = pick(g.rng, italianSurnames)
		given = g.italianGiven(sex)
		birthPlace = pick(g.rng, italianPlaces).belfiore
		citizenship = "380"
		birth = g.birthDate(0, 18, 0.05)
	case ProfileForeignResident:
		c = pick(g.rng, residentCountries)
		sex = g.sex(maleShare)
		surname, given = g.foreignNames(c, sex)
		birthPlace = c.belfiore
		if g.rng.Float64() < 0.5 { // second generation: born in Italy
			birthPlace = pick(g.rng, italianPlaces).belfiore
		}
		citizenship = c.iso
		birth = g.birthDate(0, 18, 0.05)
	default:
		c = pick(g.rng, msnaCountries)
		sex = g.sex(msnaMaleShare)
		surname, given = g.foreignNames(c, sex)
		birthPlace = c.belfiore
		citizenship = c.iso
		birth = g.birthDate(14, 18, 0.08)
	}

	id := linkage.Identity{
		Surname:     g.casing(surname),
		GivenNames:  g.casing(given),
		BirthDate:   birth.Format(time.DateOnly),
		Sex:         sex,
		BirthPlace:  birthPlace,
		Citizenship: citizenship,
	}
	switch pick(g.rng, codeShares[profile]) {
	case codeCF:
		cf := linkage.ComputeCF(surname, given, birth, sex, birthPlace)
		if g.rng.Float64() < omocodiaShare {
			cf = linkage.Omocodia(cf, 1+g.rng.IntN(2))
		}
		id.CodiceFiscale = cf
	case codeProv:
		id.CodiceFiscale = g.provisional()
	}
	// An MSNA's sex is sometimes recorded as unknown; the code, when there
	// is one, still carries the sex the Agenzia registered.
	if profile == ProfileMSNA && g.rng.Float64() < msnaSexXShare {
		id.Sex = "X"
	}
	// Some MSNA arrive without documents: the birth country is not recorded.
	if profile == ProfileMSNA && g.rng.Float64() < msnaNoPlaceShare {
		id.BirthPlace = ""
	}
	return Minor{PersonID: personID, Identity: id, Profile: profile}
}

// twin returns a twin or sibling of base, born the same day in the same
// place with the same surname and another given name, as minor personID;
// false when no given name was found that differs from base's in name and
// in codice fiscale (the CF of twins differs only by the given-name
// letters, and for a few name pairs not even there: real registries then
// issue an omocodia form, which this generator does not model).
func (g *generator) twin(base Minor, personID int) (Minor, bool) {
	if base.TwinOf != 0 {
		return Minor{}, false
	}
	id := base.Identity
	birth, err := time.Parse(time.DateOnly, id.BirthDate)
	if err != nil {
		return Minor{}, false
	}
	var c *country
	for _, it := range append(residentCountries[:len(residentCountries):len(residentCountries)], msnaCountries...) {
		if it.v.iso == id.Citizenship {
			c = it.v
		}
	}
	surname := strings.ToUpper(id.Surname)
	for range 8 {
		sex := g.sex(maleShare)
		if id.Sex == "X" {
			sex = "X"
		}
		nameSex := sex
		if nameSex == "X" {
			nameSex = "M"
		}
		var given string
		if c == nil {
			given = g.italianGiven(nameSex)
		} else {
			_, given = g.foreignNames(c, nameSex)
		}
		if strings.EqualFold(given, id.GivenNames) {
			continue
		}
		tw := id
		tw.GivenNames = g.casing(given)
		tw.Sex = sex
		switch {
		case len(id.CodiceFiscale) == 16:
			cfSex := sex
			if cfSex == "X" {
				cfSex = "M"
			}
			cf := linkage.ComputeCF(surname, given, birth, cfSex, placeOf(base))
			if cf[:15] == linkage.ComputeCF(surname, strings.ToUpper(id.GivenNames), birth, cfSex, placeOf(base))[:15] {
				continue
			}
			tw.CodiceFiscale = cf
		case id.CodiceFiscale != "":
			tw.CodiceFiscale = g.provisional()
		}
		if _, err := linkage.Normalize(tw, g.policy); err != nil {
			continue
		}
		return Minor{PersonID: personID, Identity: tw, Profile: base.Profile, TwinOf: base.PersonID}, true
	}
	return Minor{}, false
}

// placeOf returns the birth place encoded in m's codice fiscale, which is
// the recorded birth place unless that was left out.
func placeOf(m Minor) string {
	if len(m.Identity.CodiceFiscale) == 16 {
		return strings.ToUpper(m.Identity.CodiceFiscale[11:15])
	}
	return m.Identity.BirthPlace
}

// sex returns "M" with probability male, else "F".
func (g *generator) sex(male float64) string {
	if g.rng.Float64() < male {
		return "M"
	}
	return "F"
}

// italianGiven returns one given name, or now and then two (MARIA CHIARA,
// GIAN MARCO).
func (g *generator) italianGiven(sex string) string {
	if g.rng.Float64() >= doubleGiven {
		if sex == "M" {
			return pick(g.rng, italianMale)
		}
		return pick(g.rng, italianFemale)
	}
	first, second := doubleMaleFirst, doubleMaleSecond
	if sex == "F" {
		first, second = doubleFemaleFirst, doubleFemaleSecond
	}
	a, b := pick(g.rng, first), pick(g.rng, second)
	if a == b {
		return a
	}
	return a + " " + b
}

// foreignNames returns a surname and given names typical of c; one in ten
// has two given names.
func (g *generator) foreignNames(c *country, sex string) (surname, given string) {
	names := c.female
	if sex == "M" {
		names = c.male
	}
	given = pick(g.rng, names)
	if g.rng.Float64() < 0.10 {
		if second := pick(g.rng, names); second != given {
			given += " " + second
		}
	}
	return pick(g.rng, c.surnames), given
}

// birthDate returns a birth date making the minor between minAge and
// maxAge−1 full years old today, or, with probability adult, 18 to 20.
func (g *generator) birthDate(minAge, maxAge int, adult float64) time.Time {
	if g.rng.Float64() < adult {
		minAge, maxAge = 18, 21
	}
	earliest := g.today.AddDate(-maxAge, 0, 1)
	latest := g.today.AddDate(-minAge, 0, 0)
	days := int(latest.Sub(earliest).Hours() / 24)
	return earliest.AddDate(0, 0, g.rng.IntN(days+1))
}

// casing returns name as most registries type it (upper case) or, now and
// then, in title case (D'Angelo, De Luca).
func (g *generator) casing(name string) string {
	if g.rng.Float64() < titleCase {
		return toTitle(name)
	}
	return name
}

// toTitle upper-cases the first letter of each word (after a space, an
// apostrophe or a hyphen) and lower-cases the rest.
func toTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if start {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = r == ' ' || r == '\'' || r == '-'
	}
	return b.String()
}

// provisional returns an 11-digit provisional code with a valid check
// digit: a 7-digit serial, a 3-digit office code and the check digit.
func (g *generator) provisional() string {
	d := fmt.Sprintf("%07d%03d", 1+g.rng.IntN(9_999_999), 1+g.rng.IntN(999))
	return d + string(provisionalCheckDigit(d))
}

// provisionalCheckDigit is the partita IVA check digit of 10 digits: odd
// positions summed, even positions doubled (minus 9 when above 9), then
// (10 − sum mod 10) mod 10.
func provisionalCheckDigit(d string) byte {
	sum := 0
	for i := range 10 {
		v := int(d[i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10)
}

// variant returns another record of base's minor with the errors and
// differences real registries show. It tries a few times for a variant that
// still validates (a wrong date can fall in the future or past the age
// limit) and falls back to a change of case.
func (g *generator) variant(base Minor) linkage.Identity {
	for range 8 {
		v := base.Identity
		switch k := g.rng.IntN(100); {
		case k < 12 && g.transliterate(&v):
		case k < 30:
			g.typo(&v)
		case k < 40:
			v.Surname, v.GivenNames = v.GivenNames, v.Surname
		case k < 55:
			v.CodiceFiscale = ""
			if g.rng.Float64() < 0.3 {
				v.BirthPlace = ""
			}
		case k < 62:
			if !g.omocodia(&v) {
				continue
			}
		case k < 70:
			words := strings.Fields(v.GivenNames)
			if len(words) < 2 {
				g.typo(&v)
				break
			}
			v.GivenNames = words[g.rng.IntN(len(words))]
		case k < 85:
			g.reformat(&v)
		default:
			g.dateError(&v)
		}
		if _, err := linkage.Normalize(v, g.policy); err == nil && v != base.Identity {
			return v
		}
	}
	v := base.Identity
	v.Surname = strings.ToLower(v.Surname)
	return v
}

// typo makes one keyboard error in the surname or the given names: a letter
// replaced, dropped, doubled, or two letters swapped.
func (g *generator) typo(v *linkage.Identity) {
	name := &v.Surname
	if g.rng.IntN(2) == 0 {
		name = &v.GivenNames
	}
	rs := []rune(*name)
	var letters []int
	for i, r := range rs {
		if unicode.IsLetter(r) {
			letters = append(letters, i)
		}
	}
	if len(letters) < 3 {
		return
	}
	i := letters[g.rng.IntN(len(letters))]
	switch g.rng.IntN(4) {
	case 0: // replaced
		c := rune('A' + g.rng.IntN(26))
		if unicode.IsLower(rs[i]) {
			c = unicode.ToLower(c)
		}
		rs[i] = c
	case 1: // dropped
		rs = append(rs[:i], rs[i+1:]...)
	case 2: // doubled
		rs = append(rs[:i+1], rs[i:]...)
	default: // swapped with the next letter
		if i+1 < len(rs) && unicode.IsLetter(rs[i+1]) {
			rs[i], rs[i+1] = rs[i+1], rs[i]
		} else {
			rs = append(rs[:i], rs[i+1:]...)
		}
	}
	*name = string(rs)
}

// transliterations are spellings of one foreign name that registries
// write differently from one office to the next.
var transliterations = [][]string{
	{"MOHAMED", "MOHAMMED", "MUHAMMAD", "MOHAMMAD", "MOHAMAD", "MUHAMED"},
	{"AHMED", "AHMAD", "AHMET"},
	{"YOUSSEF", "YOUSEF", "YUSUF", "YOUSSOUF"},
	{"HASSAN", "HASAN"},
	{"MAHMOUD", "MAHMUD"},
	{"MOSTAFA", "MUSTAFA", "MOUSTAFA"},
	{"OUSMAN", "USMAN", "OUSMANE"},
	{"FATIMA", "FATMA", "FATIMAH"},
	{"MARIAM", "MARYAM", "MERYEM"},
	{"IBRAHIM", "EBRAHIM"},
	{"KHADIJA", "KHADIDJA"},
	{"OMAR", "UMAR"},
	{"YASSINE", "YASSIN", "YASIN"},
	{"HAMZA", "HAMZAH"},
	{"HOSSAIN", "HUSSAIN", "HUSSEIN"},
	{"AYESHA", "AISHA", "AICHA"},
}

// transliterate respells one foreign name of v (MOHAMED → MUHAMMAD) and,
// one time in two, drops the codice fiscale, as an office that typed the
// name from another document would; false when v has no such name.
func (g *generator) transliterate(v *linkage.Identity) bool {
	for _, name := range []*string{&v.GivenNames, &v.Surname} {
		words := strings.Fields(*name)
		for i, w := range words {
			for _, group := range transliterations {
				at := slices.IndexFunc(group, func(s string) bool { return strings.EqualFold(s, w) })
				if at < 0 {
					continue
				}
				other := group[(at+1+g.rng.IntN(len(group)-1))%len(group)]
				if strings.ToUpper(w) != w {
					other = toTitle(other)
				}
				words[i] = other
				*name = strings.Join(words, " ")
				if g.rng.IntN(2) == 0 && len(v.CodiceFiscale) == 16 {
					v.CodiceFiscale = ""
				}
				return true
			}
		}
	}
	return false
}

// omocodia replaces a codice fiscale with another omocodia form of the same
// code (or its canonical form); false when there is no codice fiscale.
func (g *generator) omocodia(v *linkage.Identity) bool {
	if len(v.CodiceFiscale) != 16 {
		return false
	}
	n, err := linkage.Normalize(*v, g.policy)
	if err != nil {
		return false
	}
	if n.CF != v.CodiceFiscale {
		v.CodiceFiscale = n.CF
		return true
	}
	v.CodiceFiscale = linkage.Omocodia(n.CF, 1+g.rng.IntN(3))
	return true
}

// reformat types the same names differently: another case, an accent as
// an apostrophe (NICCOLO'), an apostrophe or a particle's space dropped
// (DANGELO, DELUCA).
func (g *generator) reformat(v *linkage.Identity) {
	switch g.rng.IntN(4) {
	case 0:
		if strings.ToUpper(v.Surname) == v.Surname {
			v.Surname, v.GivenNames = toTitle(v.Surname), toTitle(v.GivenNames)
		} else {
			v.Surname, v.GivenNames = strings.ToUpper(v.Surname), strings.ToUpper(v.GivenNames)
		}
	case 1:
		v.GivenNames = accentsAsApostrophes.Replace(v.GivenNames)
		v.Surname = accentsAsApostrophes.Replace(v.Surname)
	case 2:
		v.Surname = strings.NewReplacer("'", "", " ", "").Replace(v.Surname)
	default:
		v.Surname, v.GivenNames = strings.ToLower(v.Surname), strings.ToLower(v.GivenNames)
	}
}

var accentsAsApostrophes = strings.NewReplacer(
	"À", "A'", "È", "E'", "É", "E'", "Ì", "I'", "Ò", "O'", "Ù", "U'",
	"à", "a'", "è", "e'", "é", "e'", "ì", "i'", "ò", "o'", "ù", "u'")

// dateError records a wrong birth date: day and month swapped, or one of
// day, month and year mistyped (the others unchanged). A codice fiscale
// would contradict it and be rejected, so the variant carries none (a
// provisional code does not encode the date and stays).
func (g *generator) dateError(v *linkage.Identity) {
	d, err := time.Parse(time.DateOnly, v.BirthDate)
	if err != nil {
		return
	}
	if len(v.CodiceFiscale) == 16 {
		v.CodiceFiscale = ""
	}
	y, m, day := d.Year(), int(d.Month()), d.Day()
	switch k := g.rng.IntN(4); {
	case k == 0 && day <= 12 && day != m:
		m, day = day, m
	case k <= 1:
		day += plusMinus(g.rng, 1+g.rng.IntN(2))
	case k == 2:
		m += plusMinus(g.rng, 1)
	default:
		y += plusMinus(g.rng, 1)
	}
	// A date that does not exist (30 February, month 13) is refused by
	// validation; variant then tries another error.
	w := time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
	if w.Year() != y || int(w.Month()) != m || w.Day() != day {
		v.BirthDate = "not a date"
		return
	}
	v.BirthDate = w.Format(time.DateOnly)
}

func plusMinus(rng *rand.Rand, n int) int {
	if rng.IntN(2) == 0 {
		return -n
	}
	return n
}

// pick returns an item of items with probability proportional to its weight.
func pick[T any](rng *rand.Rand, items []weightedItem[T]) T {
	total := 0.0
	for _, it := range items {
		total += it.w
	}
	r := rng.Float64() * total
	for _, it := range items {
		if r < it.w {
			return it.v
		}
		r -= it.w
	}
	return items[len(items)-1].v
}

// csvHeader is the header WriteCSV writes, without the ground truth column.
var csvHeader = []string{"codice_fiscale", "surname", "given_names", "birth_date", "sex", "birth_place", "citizenship"}

// WriteCSV writes ms as CSV with a header: codice_fiscale (the codice
// fiscale or the provisional code), surname, given_names, birth_date, sex,
// birth_place, citizenship, and person_id when withTruth is true.
func WriteCSV(w io.Writer, ms []Minor, withTruth bool) error {
	cw := csv.NewWriter(w)
	header := csvHeader
	if withTruth {
		header = append(header[:len(header):len(header)], "person_id")
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, m := range ms {
		id := m.Identity
		rec := []string{id.CodiceFiscale, id.Surname, id.GivenNames, id.BirthDate, id.Sex, id.BirthPlace, id.Citizenship}
		if withTruth {
			rec = append(rec, strconv.Itoa(m.PersonID))
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

package linkage

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Identity is what a caller submits to be resolved to a person. It is
// never stored and never logged: its fmt and slog forms print no value.
type Identity struct {
	// CodiceFiscale is optional: the 16-character codice fiscale (omocodia
	// forms accepted) or the 11-digit provisional numeric code.
	CodiceFiscale string
	Surname       string
	GivenNames    string
	BirthDate     string // YYYY-MM-DD
	Sex           string // M, F, or X (unknown)
	// BirthPlace is optional: a Belfiore code, a letter and three digits
	// (Z### for foreign countries).
	BirthPlace string
	// Citizenship is optional: the ISO 3166-1 numeric country code (three
	// digits; Italy is 380), as INPS flows use.
	Citizenship string
	Residence   Residence // optional
}

// Residence is the optional, auxiliary place of residence of an identity.
type Residence struct {
	Municipality string // ISTAT municipality code, 6 digits
	Postcode     string // CAP, 5 digits
	Locality     string // free text, normalised like names
}

// Policy holds the deployment's validation settings.
type Policy struct {
	// MaxAgeYears rejects identities older than this many full years on
	// Now; 0 means no limit. The default deployment serves minors and young
	// adults and uses 21; the FEBRL benchmark (adults) runs with 0.
	MaxAgeYears int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Normalized is a validated identity in canonical form, the only input of
// the match keys. Its fields are exported for linkage's own use; its fmt
// and slog forms print "linkage.Normalized{…}" and nothing else, so that it
// cannot leak into a log by accident.
type Normalized struct {
	CF          string    // canonical 16-character codice fiscale (omocodia letters mapped back to digits); "" if none
	Provisional string    // 11-digit provisional code; "" if none
	Surname     string    // normalised: upper case A–Z words separated by single spaces
	GivenNames  []string  // normalised given names, in order
	BirthDate   time.Time // UTC midnight
	Sex         string    // "M", "F" or "X"
	BirthPlace  string    // Belfiore code, upper case; "" if none
	Citizenship string    // 3 digits; "" if none
	Residence   Residence // normalised; locality like names
}

const redactedNormalized = "linkage.Normalized{…}"

// String prints no value of n.
func (n Normalized) String() string { return redactedNormalized }

// GoString prints no value of n.
func (n Normalized) GoString() string { return redactedNormalized }

// Format prints no value of n, whatever the verb and flags.
func (n Normalized) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedNormalized)) }

// LogValue prints no value of n.
func (n Normalized) LogValue() slog.Value { return slog.StringValue(redactedNormalized) }

const redactedIdentity = "linkage.Identity{…}"

// String prints no value of id.
func (id Identity) String() string { return redactedIdentity }

// GoString prints no value of id.
func (id Identity) GoString() string { return redactedIdentity }

// Format prints no value of id, whatever the verb and flags.
func (id Identity) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedIdentity)) }

// LogValue prints no value of id.
func (id Identity) LogValue() slog.Value { return slog.StringValue(redactedIdentity) }

// JSON names of the identity's fields, as FieldError.Field reports them.
const (
	fieldCF           = "codice_fiscale"
	fieldSurname      = "surname"
	fieldGivenNames   = "given_names"
	fieldBirthDate    = "birth_date"
	fieldSex          = "sex"
	fieldBirthPlace   = "birth_place"
	fieldCitizenship  = "citizenship"
	fieldMunicipality = "residence.municipality"
	fieldPostcode     = "residence.postcode"
	fieldLocality     = "residence.locality"
)

// fieldOrder fixes the order of a ValidationError's fields: the order of
// the identity's JSON fields.
var fieldOrder = []string{fieldCF, fieldSurname, fieldGivenNames, fieldBirthDate, fieldSex,
	fieldBirthPlace, fieldCitizenship, fieldMunicipality, fieldPostcode, fieldLocality}

// Reasons. None of them repeats the submitted value.
const (
	reasonRequired    = "is required"
	reasonDisagreesCF = "does not agree with the codice fiscale"
)

// maxNameLen bounds a normalised name; maxRawNameLen bounds the input before
// normalisation, so that a huge input is refused before any work on it.
const (
	maxNameLen    = 100
	maxRawNameLen = 4 * maxNameLen
)

// Normalize validates id and returns its canonical form. On failure the
// error is a *ValidationError that lists every bad field, not only the
// first, with reasons that never repeat the submitted values.
//
// A codice fiscale must agree with the declared birth date, sex and birth
// place: each disagreement is reported on the declared field and on
// codice_fiscale. The name triplets of a codice fiscale are not checked:
// typos and transliterations of the names are common, and the code itself
// is the stronger evidence.
func Normalize(id Identity, p Policy) (Normalized, error) {
	var (
		n    Normalized
		errs = map[string]string{}
	)
	fail := func(field, reason string) {
		if _, dup := errs[field]; !dup {
			errs[field] = reason
		}
	}

	if s, reason := normalizeName(id.Surname); reason != "" {
		fail(fieldSurname, reason)
	} else {
		n.Surname = s
	}
	if s, reason := normalizeName(id.GivenNames); reason != "" {
		fail(fieldGivenNames, reason)
	} else {
		n.GivenNames = strings.Fields(s)
	}

	if d, reason := parseBirthDate(id.BirthDate, p); reason != "" {
		fail(fieldBirthDate, reason)
	} else {
		n.BirthDate = d
	}

	switch sex := strings.ToUpper(strings.TrimSpace(id.Sex)); sex {
	case "M", "F", "X":
		n.Sex = sex
	case "":
		fail(fieldSex, reasonRequired)
	default:
		fail(fieldSex, "must be M, F or X")
	}

	if bp := strings.ToUpper(strings.TrimSpace(id.BirthPlace)); bp != "" {
		if isBelfiore(bp) {
			n.BirthPlace = bp
		} else {
			fail(fieldBirthPlace, "must be a Belfiore code: a letter and three digits")
		}
	}
	if c := strings.TrimSpace(id.Citizenship); c != "" {
		if isDigits(c, 3) {
			n.Citizenship = c
		} else {
			fail(fieldCitizenship, "must be a 3-digit ISO 3166-1 numeric code")
		}
	}

	if m := strings.TrimSpace(id.Residence.Municipality); m != "" {
		if isDigits(m, 6) {
			n.Residence.Municipality = m
		} else {
			fail(fieldMunicipality, "must be a 6-digit ISTAT code")
		}
	}
	if pc := strings.TrimSpace(id.Residence.Postcode); pc != "" {
		if isDigits(pc, 5) {
			n.Residence.Postcode = pc
		} else {
			fail(fieldPostcode, "must be 5 digits")
		}
	}
	if strings.TrimSpace(id.Residence.Locality) != "" {
		if s, reason := normalizeName(id.Residence.Locality); reason != "" {
			fail(fieldLocality, reason)
		} else {
			n.Residence.Locality = s
		}
	}

	normalizeCode(id, &n, errs, fail)

	if len(errs) > 0 {
		ve := &ValidationError{}
		for _, f := range fieldOrder {
			if r, ok := errs[f]; ok {
				ve.Fields = append(ve.Fields, FieldError{Field: f, Reason: r})
			}
		}
		return Normalized{}, ve
	}
	return n, nil
}

// normalizeCode validates the codice fiscale or provisional code of id and
// checks that a codice fiscale agrees with the fields of n that passed their
// own validation (those with an error are not compared again).
func normalizeCode(id Identity, n *Normalized, errs map[string]string, fail func(field, reason string)) {
	code := strings.ToUpper(strings.Join(strings.Fields(id.CodiceFiscale), ""))
	switch {
	case code == "":
		return
	case len(code) == 11 && isDigits(code, 11):
		if provisionalCheckDigit(code[:10]) != code[10] {
			fail(fieldCF, "check digit does not match")
			return
		}
		n.Provisional = code
		return
	case len(code) != 16:
		fail(fieldCF, "must be 16 characters or the 11-digit provisional code")
		return
	}
	cf, reason := parseCF(code)
	if reason != "" {
		fail(fieldCF, reason)
		return
	}
	var disagree []string
	if _, bad := errs[fieldBirthDate]; !bad {
		d := n.BirthDate
		if cf.year != d.Year()%100 || cf.month != d.Month() || cf.day != d.Day() {
			disagree = append(disagree, fieldBirthDate)
		}
	}
	if _, bad := errs[fieldSex]; !bad && n.Sex != "X" && n.Sex != cf.sex {
		disagree = append(disagree, fieldSex)
	}
	if _, bad := errs[fieldBirthPlace]; !bad && n.BirthPlace != "" && n.BirthPlace != cf.place {
		disagree = append(disagree, fieldBirthPlace)
	}
	if len(disagree) > 0 {
		for _, f := range disagree {
			fail(f, reasonDisagreesCF)
		}
		fail(fieldCF, "does not agree with "+strings.Join(disagree, ", "))
		return
	}
	n.CF = cf.canonical
}

// parseBirthDate parses an ISO date and applies the policy's limits.
func parseBirthDate(s string, p Policy) (time.Time, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, reasonRequired
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, "must be a real date in the form YYYY-MM-DD"
	}
	if d.Year() < 1900 {
		return time.Time{}, "must not be before 1900"
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	y, m, day := now().Date()
	today := time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
	if d.After(today) {
		return time.Time{}, "must not be in the future"
	}
	if p.MaxAgeYears > 0 && ageOn(d, today) > p.MaxAgeYears {
		return time.Time{}, "is older than the age limit of " + strconv.Itoa(p.MaxAgeYears) + " years"
	}
	return d, ""
}

// ageOn returns the age in full years on day of someone born on birth.
// Someone born on 29 February turns a year older on 1 March in common years.
func ageOn(birth, day time.Time) int {
	age := day.Year() - birth.Year()
	if day.Month() < birth.Month() || (day.Month() == birth.Month() && day.Day() < birth.Day()) {
		age--
	}
	return age
}

// normalizeName returns the canonical form of a name, or the reason it is
// not acceptable.
func normalizeName(s string) (string, string) {
	if strings.TrimSpace(s) == "" {
		return "", reasonRequired
	}
	if len(s) > maxRawNameLen {
		return "", "is longer than " + strconv.Itoa(maxNameLen) + " characters"
	}
	f := foldName(s)
	for _, r := range f {
		switch {
		case r == ' ' || (r >= 'A' && r <= 'Z'):
		case unicode.IsDigit(r):
			return "", "must not contain digits"
		default:
			return "", "must contain only letters, spaces, apostrophes, hyphens and dots"
		}
	}
	if f == "" {
		return "", "must contain letters"
	}
	if len(f) > maxNameLen {
		return "", "is longer than " + strconv.Itoa(maxNameLen) + " characters"
	}
	return f, ""
}

// letterFolds spells the Latin letters that have no canonical
// decomposition into a base letter and marks.
var letterFolds = map[rune]string{
	'ß': "SS", 'ẞ': "SS", 'Æ': "AE", 'æ': "AE", 'Œ': "OE", 'œ': "OE",
	'Ø': "O", 'ø': "O", 'Ł': "L", 'ł': "L", 'Đ': "D", 'đ': "D", 'Ð': "D", 'ð': "D",
	'Þ': "TH", 'þ': "TH", 'Ħ': "H", 'ħ': "H", 'ı': "I", 'Ŧ': "T", 'ŧ': "T",
}

// foldName applies the name normalisation: compatibility decomposition
// (NFKD), combining marks removed, Latin special letters spelled out, upper
// case, apostrophes, dashes, dots and white space turned into single spaces,
// trimmed. Characters that are none of these are kept, for the caller to
// reject.
func foldName(s string) string {
	var b strings.Builder
	space := true // at the start, as after a space: no leading space
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || isApostrophe(r) || r == '.':
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		if rep, ok := letterFolds[r]; ok {
			b.WriteString(rep)
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
		space = false
	}
	return strings.TrimSuffix(b.String(), " ")
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '`', '\u2018', '\u2019', '\u201B', '\u02BC', '\u02B9', '\u2032', '\u00B4':
		return true
	}
	return false
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isBelfiore reports whether s has the form of a Belfiore code: an upper
// case letter and three digits.
func isBelfiore(s string) bool {
	return len(s) == 4 && s[0] >= 'A' && s[0] <= 'Z' && isDigits(s[1:], 3)
}

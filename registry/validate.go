package registry

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of free-text fields, in characters.
const (
	maxName   = 200
	maxStreet = 200
	maxAct    = 100
	maxEmail  = 254
	// MaxPlaces bounds authorised places when the typology sets no limit:
	// a sanity bound, far above any Tuscan facility for minors.
	MaxPlaces = 200
	// MaxAge is the oldest age a facility for minors may host: young
	// adults up to 21 stay on (prosieguo amministrativo).
	MaxAge = 21
)

var (
	postcodePattern = regexp.MustCompile(`^5[0-9]{4}$`) // Tuscan CAPs are 50xxx–59xxx
	phonePattern    = regexp.MustCompile(`^\+?[0-9][0-9 ./-]{5,18}[0-9]$`)
	cfPattern       = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)
)

// normalise trims the free-text fields and upper-cases codes, so that
// what is validated is what is stored.
func normalise(d *Data) {
	d.Name = strings.Join(strings.Fields(d.Name), " ")
	d.Typology = strings.TrimSpace(d.Typology)
	d.Operator.Name = strings.Join(strings.Fields(d.Operator.Name), " ")
	d.Operator.LegalNature = strings.TrimSpace(d.Operator.LegalNature)
	d.Operator.TaxNumber = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(d.Operator.TaxNumber), " ", ""))
	d.Address.Street = strings.Join(strings.Fields(d.Address.Street), " ")
	d.Address.Postcode = strings.TrimSpace(d.Address.Postcode)
	d.Address.Municipality = strings.TrimSpace(d.Address.Municipality)
	d.Zone = strings.TrimSpace(d.Zone)
	d.Authorisation.Act = strings.TrimSpace(d.Authorisation.Act)
	d.Accreditation.Act = strings.TrimSpace(d.Accreditation.Act)
	d.Contacts.Email = strings.TrimSpace(d.Contacts.Email)
	d.Contacts.Phone = strings.TrimSpace(d.Contacts.Phone)
}

// Validate normalises d, fills the zone from the municipality when it is
// empty, and checks every field against the code lists; today bounds the
// dates of acts. It returns a *ValidationError naming every bad field.
func (c *Codes) Validate(d *Data, today time.Time) error {
	normalise(d)
	var bad []FieldError
	add := func(field, reason string, args ...any) {
		bad = append(bad, FieldError{Field: field, Reason: fmt.Sprintf(reason, args...)})
	}
	text := func(field, v string, limit int) {
		switch n := utf8.RuneCountInString(v); {
		case n == 0:
			add(field, "required")
		case n > limit:
			add(field, "at most %d characters", limit)
		}
	}
	text("name", d.Name, maxName)

	typ, typOK := c.Typology(d.Typology)
	switch {
	case d.Typology == "":
		add("typology", "required")
	case !typOK:
		add("typology", "unknown typology code %q", d.Typology)
	}

	text("operator.name", d.Operator.Name, maxName)
	switch _, ok := c.LegalNature(d.Operator.LegalNature); {
	case d.Operator.LegalNature == "":
		add("operator.legal_nature", "required")
	case !ok:
		add("operator.legal_nature", "unknown legal nature code %q", d.Operator.LegalNature)
	}
	if reason := checkTaxNumber(d.Operator.TaxNumber); reason != "" {
		add("operator.tax_number", "%s", reason)
	}

	text("address.street", d.Address.Street, maxStreet)
	if !postcodePattern.MatchString(d.Address.Postcode) {
		add("address.postcode", "must be a Tuscan postcode (CAP): 5 digits from 50000 to 59999")
	}
	mun, munOK := c.Municipality(d.Address.Municipality)
	switch {
	case d.Address.Municipality == "":
		add("address.municipality", "required")
	case !validISTAT(d.Address.Municipality):
		add("address.municipality", "must be a 6-digit ISTAT municipality code")
	case !munOK:
		add("address.municipality", "unknown ISTAT code %q: not a Tuscan municipality", d.Address.Municipality)
	}
	if d.Zone == "" && munOK {
		d.Zone = mun.Zone
	}
	switch z, ok := c.Zone(d.Zone); {
	case d.Zone == "":
		add("zone", "required")
	case !ok:
		add("zone", "unknown zone code %q", d.Zone)
	case munOK && !slices.Contains(z.Provinces, mun.Province):
		// The comune→zone table is not an official one (seed/SOURCES.md):
		// only the province, which is certain, is held against the zone.
		add("zone", "zone %s has no municipality in the province %s of %s", z.Code, mun.Province, mun.Name)
	}

	a := d.Authorisation
	switch {
	case a.Status == "":
		add("authorisation.status", "required")
	case !slices.Contains(AuthorisationStatuses, a.Status):
		add("authorisation.status", "must be one of pending, granted, communicated, revoked")
	case a.Status != AuthorisationPending:
		if a.Date.IsZero() {
			add("authorisation.date", "required when the status is %s", a.Status)
		}
		if a.Act == "" {
			add("authorisation.act", "required when the status is %s", a.Status)
		}
	}
	if !a.Date.IsZero() && a.Date.After(today) {
		add("authorisation.date", "must not be in the future")
	}
	if utf8.RuneCountInString(a.Act) > maxAct {
		add("authorisation.act", "at most %d characters", maxAct)
	}
	ac := d.Accreditation
	if ac.Accredited {
		if ac.Date.IsZero() {
			add("accreditation.date", "required when accredited")
		}
		if ac.Act == "" {
			add("accreditation.act", "required when accredited")
		}
	} else if !ac.Date.IsZero() || ac.Act != "" {
		add("accreditation.accredited", "must be true when a date or act is given")
	}
	if !ac.Date.IsZero() && ac.Date.After(today) {
		add("accreditation.date", "must not be in the future")
	}
	if utf8.RuneCountInString(ac.Act) > maxAct {
		add("accreditation.act", "at most %d characters", maxAct)
	}

	limit := MaxPlaces
	if typOK && typ.MaxPlaces > 0 {
		limit = typ.MaxPlaces
	}
	switch {
	case d.AuthorisedPlaces <= 0:
		add("authorised_places", "must be greater than 0")
	case d.AuthorisedPlaces > limit:
		if typOK && typ.MaxPlaces > 0 {
			add("authorised_places", "at most %d for the typology %s", limit, typ.Code)
		} else {
			add("authorised_places", "at most %d", limit)
		}
	}

	t := d.Target
	if t.MinAge < 0 || t.MinAge > MaxAge {
		add("target.min_age", "must be from 0 to %d", MaxAge)
	}
	if t.MaxAge < 0 || t.MaxAge > MaxAge {
		add("target.max_age", "must be from 0 to %d", MaxAge)
	} else if t.MaxAge < t.MinAge {
		add("target.max_age", "must not be below min_age")
	}

	if reason := checkEmail(d.Contacts.Email); reason != "" {
		add("contacts.email", "%s", reason)
	}
	if !phonePattern.MatchString(d.Contacts.Phone) || digits(d.Contacts.Phone) < 6 || digits(d.Contacts.Phone) > 15 {
		add("contacts.phone", "must be a phone number: 6 to 15 digits, optionally with a leading + and spaces, dots, dashes or slashes")
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

func checkEmail(s string) string {
	if s == "" {
		return "required"
	}
	if len(s) > maxEmail {
		return fmt.Sprintf("at most %d characters", maxEmail)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "must be an e-mail address (name@domain)"
	}
	at := strings.LastIndexByte(s, '@')
	if !strings.Contains(s[at+1:], ".") {
		return "must be an e-mail address with a full domain"
	}
	return ""
}

// checkTaxNumber accepts an 11-digit partita IVA (or an entity's numeric
// codice fiscale, which has the same check digit) or a person's
// 16-character codice fiscale, and returns why s is neither.
func checkTaxNumber(s string) string {
	switch len(s) {
	case 0:
		return "required"
	case 11:
		if !ValidPartitaIVA(s) {
			return "not a valid partita IVA: 11 digits whose last is the check digit of the first 10"
		}
		return ""
	case 16:
		if !ValidCodiceFiscale(s) {
			return "not a valid codice fiscale: wrong pattern or check character"
		}
		return ""
	}
	return "must be an 11-digit partita IVA or a 16-character codice fiscale"
}

// ValidPartitaIVA reports whether s is 11 digits and its last is the check
// digit of the first ten (the Luhn-style algorithm of D.M. 23/12/1976:
// odd positions summed, even positions doubled and reduced by 9 when over
// 9, the check digit brings the total to a multiple of 10). Eleven zeros
// pass the arithmetic but are no one's number, and are rejected.
func ValidPartitaIVA(s string) bool {
	if len(s) != 11 || s == "00000000000" {
		return false
	}
	sum := 0
	for i := 0; i < 11; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// cfOdd are the values of the characters in odd (1st, 3rd, …) positions
// for the check character of a codice fiscale (D.M. 23/12/1976), digits
// 0–9 then letters A–Z.
var cfOdd = [36]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// ValidCodiceFiscale reports whether s is a 16-character codice fiscale
// of a person: pattern (omocodia letters allowed in the digit positions)
// and check character.
func ValidCodiceFiscale(s string) bool {
	if !cfPattern.MatchString(s) {
		return false
	}
	sum := 0
	for i := 0; i < 15; i++ {
		c := s[i]
		var v int
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		} else {
			v = int(c-'A') + 10
		}
		if i%2 == 0 {
			sum += cfOdd[v]
		} else if c >= '0' && c <= '9' {
			sum += int(c - '0')
		} else {
			sum += int(c - 'A')
		}
	}
	return s[15] == byte('A'+sum%26)
}

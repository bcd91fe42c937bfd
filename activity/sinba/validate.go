package sinba

import (
	"strconv"
	"strings"
	"time"
)

// Violation is one way in which a record or a header breaks the schema or
// sirm's rules.
type Violation struct {
	// Field is the path of the attribute or element in the schema's names,
	// relative to the record: "LuogoVita", "Prestazioni/CodicePrestazione[2]"
	// (1-based, as in XPath); for a header "IdentificazioneFlusso/Ente/Codice".
	// Empty when the problem is the record as a whole.
	Field string
	// Reason says what is wrong, with the bad value when it is a code, a
	// date or a number (never a token or a tax code).
	Reason string
}

// JSONField returns v.Field in the names of the JSON form: dots between
// levels, 0-based indexes ("Prestazioni/CodicePrestazione[2]" →
// "prestazioni[1]", "IdentificazioneFlusso/Ente/CFOperatore" →
// "identificazione_flusso.ente.cf_operatore"). Names the schema does not
// have (an unknown JSON field) are kept as they are.
func (v Violation) JSONField() string {
	path, index, _ := strings.Cut(v.Field, "[")
	parts := strings.Split(path, "/")
	// A wrapper and its item are one array in JSON.
	if n := len(parts); n >= 2 && jsonNames[parts[n-2]] != "" && wrapperItems[parts[n-2]] == parts[n-1] {
		parts = parts[:n-1]
	}
	for i, p := range parts {
		if j := jsonNames[strings.TrimPrefix(p, "@")]; j != "" {
			parts[i] = j
		}
	}
	out := strings.Join(parts, ".")
	if index != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(index, "]"))
		if err == nil {
			out += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return out
}

// wrapperItems maps each wrapper element of a record to its item element.
var wrapperItems = func() map[string]string {
	m := map[string]string{}
	for _, w := range recordWrappers {
		m[w.name] = w.item
	}
	return m
}()

// ValidationError is returned by Record.Validate and Header.Validate: it
// lists every violation, in schema order.
type ValidationError struct {
	Violations []Violation
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid SINBA ")
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		if v.Field != "" {
			b.WriteString(v.Field)
			b.WriteString(": ")
		}
		b.WriteString(v.Reason)
	}
	return b.String()
}

// Fields whose values never appear in a reason: the token and the
// operator's tax code.
var quietFields = map[string]bool{"IDBeneficiario": true, "CFOperatore": true, "Nome": true, "Codice": true, "Denominazione": true}

// checker collects violations.
type checker struct {
	v []Violation
}

func (c *checker) add(field, reason string) {
	c.v = append(c.v, Violation{Field: field, Reason: reason})
}

func (c *checker) bad(prefix, name, v, reason string) {
	if !quietFields[name] {
		reason = strconv.Quote(v) + ": " + reason
	}
	c.add(prefix+name, reason)
}

// value checks a required attribute: empty counts as absent.
func (c *checker) value(prefix, name, v string, f *facets) {
	if v == "" {
		c.add(prefix+name, "required")
		return
	}
	if r := f.check(v); r != "" {
		c.bad(prefix, name, v, r)
	}
}

// optional checks an optional attribute: absent (nil) is fine, present
// must satisfy the facets, even when empty.
func (c *checker) optional(prefix, name string, v *string, f *facets) {
	if v == nil {
		return
	}
	if r := f.check(*v); r != "" {
		c.bad(prefix, name, *v, r)
	}
}

// count checks the cardinality of a repeated element; max < 0 is unbounded.
func (c *checker) count(prefix, path string, n, min, max int) {
	switch {
	case n < min && n == 0:
		c.add(prefix+path, "required: at least "+strconv.Itoa(min))
	case n < min:
		c.add(prefix+path, strconv.Itoa(n)+" given, at least "+strconv.Itoa(min)+" required")
	case max >= 0 && n > max:
		c.add(prefix+path, strconv.Itoa(n)+" given, at most "+strconv.Itoa(max)+" allowed")
	}
}

// item checks the i-th (0-based) value of a repeated element.
func (c *checker) item(prefix, path string, i int, v string, f *facets) {
	if r := f.check(v); r != "" {
		c.add(prefix+path+"["+strconv.Itoa(i+1)+"]", strconv.Quote(v)+": "+r)
	}
}

// Validate checks h against IdentificazioneFlussoType and returns nil or a
// *ValidationError. Like every required attribute here, Nome must not be
// empty, which the schema would allow but sirm needs to recognise a flow
// sent again.
func (h *Header) Validate() error {
	var c checker
	h.checkSchema(&c, HeaderElement+"/")
	if len(c.v) > 0 {
		return &ValidationError{Violations: c.v}
	}
	return nil
}

// Validate checks r against SinbaType and against the consistency rules the
// schema cannot express, and returns nil or a *ValidationError listing
// every violation. now bounds dates from above ("nothing in the future"),
// at the month of now in now's location.
//
// Beyond the schema: every CodicePrestazione must be a SIUSS code; dates
// (MM/YYYY) and AnnoNascita must not be after now; a court measure
// (DataProvvedimentoGiudiziario) not before the year of birth; DataSegnalazione
// only with SegnalazioneAutoritaGiudiziaria = 1 (SI); the details of a court
// measure (its date, authority, type, PotestaTutela) only with
// ProvvedimentoGiudiziario = 1; NumeroComponentiISEE at least 1, the minor
// being one. Problems met while decoding r (unknown attributes, JSON values
// of the wrong type) come first.
func (r *Record) Validate(now time.Time) error {
	c := checker{v: append([]Violation(nil), r.problems...)}
	r.checkSchema(&c, "")
	r.checkConsistency(&c, now)
	if len(c.v) > 0 {
		return &ValidationError{Violations: c.v}
	}
	return nil
}

func (r *Record) checkConsistency(c *checker, now time.Time) {
	ny, nm, _ := now.Date()
	nowMonth := ny*12 + int(nm) - 1

	birth := -1
	if y, err := strconv.Atoi(r.AnnoNascita); err == nil && recordAnnoNascitaFacets.check(r.AnnoNascita) == "" {
		birth = y
		if y > ny {
			c.bad("", "AnnoNascita", r.AnnoNascita, "after the current year "+strconv.Itoa(ny))
		}
	}
	// month returns the month index of a valid date, or -1.
	month := func(name string, d *DataMeseAnno) int {
		if d == nil {
			return -1
		}
		m, ok := d.month()
		if !ok {
			return -1 // the schema check has reported it
		}
		if m > nowMonth {
			c.bad("", name, string(*d), "in the future")
		}
		return m
	}
	prima := r.DataPrimaSegnalazione
	month("DataPrimaSegnalazione", &prima)
	month("DataSegnalazione", r.DataSegnalazione)
	if m := month("DataProvvedimentoGiudiziario", r.DataProvvedimentoGiudiziario); m >= 0 && birth >= 0 && m/12 < birth {
		c.bad("", "DataProvvedimentoGiudiziario", string(*r.DataProvvedimentoGiudiziario), "before the year of birth "+r.AnnoNascita)
	}

	if r.SegnalazioneAutoritaGiudiziaria == "2" && r.DataSegnalazione != nil {
		c.add("DataSegnalazione", "given while SegnalazioneAutoritaGiudiziaria is 2 (NO)")
	}
	if r.ProvvedimentoGiudiziario == "2" {
		for _, f := range []struct {
			name  string
			given bool
		}{
			{"DataProvvedimentoGiudiziario", r.DataProvvedimentoGiudiziario != nil},
			{"AutoritaProvvedimento", r.AutoritaProvvedimento != nil},
			{"PotestaTutela", r.PotestaTutela != nil},
			{"TipoProvvedimentoGiudiziario", r.TipoProvvedimentoGiudiziario != nil},
		} {
			if f.given {
				c.add(f.name, "given while ProvvedimentoGiudiziario is 2 (NO)")
			}
		}
	}
	if v := r.NumeroComponentiISEE; v != nil && recordNumeroComponentiISEEFacets.check(*v) == "" {
		if n, _ := strconv.Atoi(*v); n < 1 {
			c.bad("", "NumeroComponentiISEE", *v, "less than 1 (the minor is a member)")
		}
	}
}

// Time returns the first day of the month d names, in UTC. ok is false
// when d is not a valid DataMeseAnnoType (MM/YYYY).
func (d DataMeseAnno) Time() (t time.Time, ok bool) {
	m, ok := d.month()
	if !ok {
		return time.Time{}, false
	}
	return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC), true
}

// month returns year*12 + month-1.
func (d DataMeseAnno) month() (int, bool) {
	if dataMeseAnnoFacets.check(string(d)) != "" {
		return 0, false
	}
	s := string(d)
	m, _ := strconv.Atoi(s[:2])
	y, _ := strconv.Atoi(s[3:])
	return y*12 + m - 1, true
}

// NewDataMeseAnno returns the DataMeseAnnoType value of t's month (MM/YYYY).
func NewDataMeseAnno(t time.Time) DataMeseAnno {
	return DataMeseAnno(t.Format("01/2006"))
}

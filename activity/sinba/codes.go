package sinba

import (
	"regexp"
	"strconv"
	"unicode/utf8"
)

// Code is one value of a code list with its Italian label.
type Code struct {
	Value string
	Label string
}

// CodeList is an enumeration of SINBA.xsd (or the SIUSS service list): its
// codes in the source's order and their labels. Safe for concurrent use.
type CodeList struct {
	// Name is the schema's type name, e.g. "LuogoVitaType".
	Name string
	// Codes are the values with their labels, in the source's order.
	Codes  []Code
	labels map[string]string
}

func newCodeList(name string, codes []Code) *CodeList {
	l := &CodeList{Name: name, Codes: codes, labels: make(map[string]string, len(codes))}
	for _, c := range codes {
		l.labels[c.Value] = c.Label
	}
	return l
}

// Valid reports whether code is in the list. Codes match exactly, as in the
// schema: " 1" is not "1".
func (l *CodeList) Valid(code string) bool {
	_, ok := l.labels[code]
	return ok
}

// Label returns the label of code, or "" if code is not in the list.
func (l *CodeList) Label(code string) string { return l.labels[code] }

// CodeListByName returns the code list with the given schema type name
// ("LuogoVitaType", or "CodicePrestazione" for the SIUSS services), or nil.
func CodeListByName(name string) *CodeList {
	for _, l := range CodeLists {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// JSONName returns the JSON name of a schema field or element name
// (IDBeneficiario → id_beneficiario), or "" if the schema has no such name.
func JSONName(xsdName string) string { return jsonNames[xsdName] }

// facets are the restrictions of one simple type of the schema.
type facets struct {
	typeName  string // schema type name, "" when anonymous
	base      string // "string" or "int"
	codes     *CodeList
	pattern   string // as written in the schema
	re        *regexp.Regexp
	minLength int // -1 when absent
	maxLength int // -1 when absent
	hasMin    bool
	min       int64
	hasMax    bool
	max       int64
}

// check returns why v breaks f, or "" if it does not.
func (f *facets) check(v string) string {
	if f.codes != nil && !f.codes.Valid(v) {
		if f.typeName != "" {
			return "not a code of " + f.typeName
		}
		return "not a code of " + f.codes.Name
	}
	if f.base == "int" {
		// xs:int allows a sign and leading zeros. The schema would collapse
		// surrounding white space, but libxml2 (xmllint) rejects it in an
		// attribute, so we do too: what passes here passes there.
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return "not an integer (xs:int)"
		}
		if f.hasMin && n < f.min {
			return "less than " + strconv.FormatInt(f.min, 10)
		}
		if f.hasMax && n > f.max {
			return "greater than " + strconv.FormatInt(f.max, 10)
		}
		return ""
	}
	if f.minLength >= 0 || f.maxLength >= 0 {
		n := utf8.RuneCountInString(v)
		switch {
		case f.minLength == f.maxLength && n != f.minLength:
			return "length " + strconv.Itoa(n) + ", must be " + strconv.Itoa(f.minLength)
		case f.minLength >= 0 && n < f.minLength:
			return "length " + strconv.Itoa(n) + ", must be at least " + strconv.Itoa(f.minLength)
		case f.maxLength >= 0 && n > f.maxLength:
			return "length " + strconv.Itoa(n) + ", must be at most " + strconv.Itoa(f.maxLength)
		}
	}
	if f.re != nil && !f.re.MatchString(v) {
		if f.typeName != "" {
			return "does not match " + f.typeName + " (" + f.pattern + ")"
		}
		return "does not match " + f.pattern
	}
	return ""
}

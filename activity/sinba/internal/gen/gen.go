// Package gen writes the Go code of package sinba that follows from the
// national schema: the code lists of SINBA.xsd with their labels, the
// restrictions of its other simple types, the record structs and the code
// that checks a record against them; and the SIUSS CodicePrestazione list.
//
// It understands the subset of XML Schema that SINBA.xsd uses and fails on
// anything else, so that a new version of the schema is noticed rather
// than half-translated.
package gen

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"go/format"
	"sort"
	"strconv"
	"strings"
)

const xsNS = "http://www.w3.org/2001/XMLSchema"

// node is any element of the schema document.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

func (n *node) is(local string) bool { return n.XMLName.Space == xsNS && n.XMLName.Local == local }

func (n *node) child(local string) *node {
	for i := range n.Children {
		if n.Children[i].is(local) {
			return &n.Children[i]
		}
	}
	return nil
}

// documentation returns the text of n's xs:annotation/xs:documentation.
func (n *node) documentation() string {
	if a := n.child("annotation"); a != nil {
		if d := a.child("documentation"); d != nil {
			return strings.Join(strings.Fields(d.Text), " ")
		}
	}
	return ""
}

// restriction is an xs:simpleType's xs:restriction.
type restriction struct {
	name         string // XSD type name, "" when anonymous
	base         string // local name of the base type: string or int
	doc          string
	enums        [][2]string // value, label
	pattern      string
	minLength    int // -1 when absent
	maxLength    int
	minInclusive *int64
	maxInclusive *int64
}

func parseSimpleType(st *node) (*restriction, error) {
	r := st.child("restriction")
	if r == nil {
		return nil, fmt.Errorf("simpleType %q: only xs:restriction is supported", st.attr("name"))
	}
	base := strings.TrimPrefix(r.attr("base"), "xs:")
	if base != "string" && base != "int" {
		return nil, fmt.Errorf("simpleType %q: base %q not supported", st.attr("name"), r.attr("base"))
	}
	res := &restriction{name: st.attr("name"), base: base, minLength: -1, maxLength: -1}
	for i := range r.Children {
		f := &r.Children[i]
		if f.XMLName.Space != xsNS {
			continue
		}
		v := f.attr("value")
		switch f.XMLName.Local {
		case "annotation":
			res.doc = r.documentation()
		case "enumeration":
			res.enums = append(res.enums, [2]string{v, f.documentation()})
		case "pattern":
			if res.pattern != "" {
				return nil, fmt.Errorf("simpleType %q: several patterns not supported", res.name)
			}
			res.pattern = v
		case "minLength", "maxLength", "length":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("simpleType %q: %s %q: %w", res.name, f.XMLName.Local, v, err)
			}
			if f.XMLName.Local != "maxLength" {
				res.minLength = n
			}
			if f.XMLName.Local != "minLength" {
				res.maxLength = n
			}
		case "minInclusive", "maxInclusive":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("simpleType %q: %s %q: %w", res.name, f.XMLName.Local, v, err)
			}
			if f.XMLName.Local == "minInclusive" {
				res.minInclusive = &n
			} else {
				res.maxInclusive = &n
			}
		default:
			return nil, fmt.Errorf("simpleType %q: facet %s not supported", res.name, f.XMLName.Local)
		}
	}
	if len(res.enums) > 0 && (res.pattern != "" || res.minLength >= 0 || res.maxLength >= 0) {
		return nil, fmt.Errorf("simpleType %q: enumeration mixed with other facets not supported", res.name)
	}
	return res, nil
}

// The complex types that become Go structs, and their Go names. Any other
// complex type in the schema is an error.
var structNames = map[string]string{
	"IdentificazioneFlussoType": "Header",
	"EnteType":                  "Ente",
	"SinbaType":                 "Record",
}

// field is an attribute or child element of a complex type.
type field struct {
	xsdName  string
	goName   string
	jsonName string
	attr     bool
	required bool // attributes: use="required"; elements: minOccurs ≥ 1
	simple   *restriction
	// Elements only.
	structType string // child of a complex type that is a struct
	listPath   string // wrapper/item for a wrapper holding a repeated simple item
	minOccurs  int
	maxOccurs  int // -1 when unbounded
}

type complexType struct {
	xsdName string
	goName  string
	doc     string
	fields  []field
}

type schema struct {
	targetNS   string
	root       string // the global element
	header     string // element of the header
	record     string // element of the records
	simple     []*restriction
	simpleByNm map[string]*restriction
	complex    []*complexType
	services   [][3]string // SIUSS code, label, area
}

// Generate returns the gofmt-ed source of codes_gen.go from the contents of
// SINBA.xsd and prestazioni-siuss.csv.
func Generate(xsd, prestazioniCSV []byte) ([]byte, error) {
	s, err := parse(xsd)
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	if s.services, err = parseServices(prestazioniCSV); err != nil {
		return nil, fmt.Errorf("parse prestazioni: %w", err)
	}
	var b bytes.Buffer
	s.emit(&b)
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated code: %w\n%s", err, b.Bytes())
	}
	return out, nil
}

func parseServices(data []byte) ([][3]string, error) {
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "code,label,area" {
		return nil, errors.New("header must be code,label,area")
	}
	seen := map[string]bool{}
	var out [][3]string
	for _, r := range rows[1:] {
		if seen[r[0]] {
			return nil, fmt.Errorf("code %q twice", r[0])
		}
		seen[r[0]] = true
		out = append(out, [3]string{r[0], r[1], r[2]})
	}
	return out, nil
}

func parse(data []byte) (*schema, error) {
	var root node
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if !root.is("schema") {
		return nil, errors.New("root is not xs:schema")
	}
	if root.attr("elementFormDefault") != "qualified" {
		return nil, errors.New("elementFormDefault must be qualified")
	}
	s := &schema{targetNS: root.attr("targetNamespace"), simpleByNm: map[string]*restriction{}}
	// Simple types first: complex types refer to them.
	for i := range root.Children {
		c := &root.Children[i]
		if c.is("simpleType") {
			r, err := parseSimpleType(c)
			if err != nil {
				return nil, err
			}
			s.simple = append(s.simple, r)
			s.simpleByNm[r.name] = r
		}
	}
	var flusso *node
	for i := range root.Children {
		c := &root.Children[i]
		switch {
		case c.is("element"):
			if s.root != "" {
				return nil, errors.New("more than one global element")
			}
			s.root = c.attr("name")
			if c.attr("type") != "FlussoType" {
				return nil, fmt.Errorf("global element %s: type %q, want FlussoType", s.root, c.attr("type"))
			}
		case c.is("complexType"):
			name := c.attr("name")
			if name == "FlussoType" {
				flusso = c
				continue
			}
			ct, err := s.parseComplex(c)
			if err != nil {
				return nil, err
			}
			s.complex = append(s.complex, ct)
		case c.is("simpleType"), c.is("annotation"):
		default:
			return nil, fmt.Errorf("top-level %s not supported", c.XMLName.Local)
		}
	}
	if flusso == nil {
		return nil, errors.New("no FlussoType")
	}
	// The flow: a header element, then one or more records. The reader
	// streams on this shape, so anything else must fail here.
	seq := flusso.child("sequence")
	if seq == nil || len(seq.Children) != 2 {
		return nil, errors.New("FlussoType must be a sequence of two elements")
	}
	h, r := &seq.Children[0], &seq.Children[1]
	if h.attr("type") != "IdentificazioneFlussoType" || occurs(h, "minOccurs") != 1 || occurs(h, "maxOccurs") != 1 {
		return nil, errors.New("FlussoType's first element must be one IdentificazioneFlussoType")
	}
	if r.attr("type") != "SinbaType" || occurs(r, "minOccurs") != 1 || occurs(r, "maxOccurs") != -1 {
		return nil, errors.New("FlussoType's second element must be one or more SinbaType")
	}
	s.header, s.record = h.attr("name"), r.attr("name")
	return s, nil
}

// occurs returns minOccurs or maxOccurs: 1 when absent, -1 when unbounded.
func occurs(n *node, name string) int {
	v := n.attr(name)
	switch v {
	case "":
		return 1
	case "unbounded":
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		return -2
	}
	return i
}

func (s *schema) simpleOf(n *node) (*restriction, error) {
	if t := n.attr("type"); t != "" {
		if strings.HasPrefix(t, "xs:") {
			return nil, fmt.Errorf("%s: built-in type %s without restriction not supported", n.attr("name"), t)
		}
		r, ok := s.simpleByNm[t]
		if !ok {
			return nil, fmt.Errorf("%s: unknown simple type %s", n.attr("name"), t)
		}
		return r, nil
	}
	st := n.child("simpleType")
	if st == nil {
		return nil, fmt.Errorf("%s: no type", n.attr("name"))
	}
	return parseSimpleType(st)
}

func (s *schema) parseComplex(c *node) (*complexType, error) {
	name := c.attr("name")
	goName, ok := structNames[name]
	if !ok {
		return nil, fmt.Errorf("complex type %s not supported", name)
	}
	ct := &complexType{xsdName: name, goName: goName, doc: c.documentation()}
	// Elements precede attributes so that structs read in document order.
	if seq := c.child("sequence"); seq != nil {
		for i := range seq.Children {
			e := &seq.Children[i]
			if !e.is("element") {
				return nil, fmt.Errorf("%s: %s in sequence not supported", name, e.XMLName.Local)
			}
			f, err := s.parseElement(name, e)
			if err != nil {
				return nil, err
			}
			ct.fields = append(ct.fields, f)
		}
	}
	for i := range c.Children {
		a := &c.Children[i]
		switch {
		case a.is("attribute"):
			r, err := s.simpleOf(a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			use := a.attr("use")
			if use != "required" && use != "optional" && use != "" {
				return nil, fmt.Errorf("%s/@%s: use %q not supported", name, a.attr("name"), use)
			}
			n := a.attr("name")
			ct.fields = append(ct.fields, field{xsdName: n, goName: n, jsonName: snake(n), attr: true, required: use == "required", simple: r})
		case a.is("sequence"), a.is("annotation"):
		default:
			return nil, fmt.Errorf("%s: %s not supported", name, a.XMLName.Local)
		}
	}
	// Attributes first in the struct (encoding/xml writes them on the start
	// tag anyway), elements after, each group in schema order.
	sort.SliceStable(ct.fields, func(i, j int) bool { return ct.fields[i].attr && !ct.fields[j].attr })
	return ct, nil
}

func (s *schema) parseElement(parent string, e *node) (field, error) {
	n := e.attr("name")
	f := field{xsdName: n, goName: n, jsonName: snake(n), minOccurs: occurs(e, "minOccurs"), maxOccurs: occurs(e, "maxOccurs")}
	f.required = f.minOccurs >= 1
	if t := e.attr("type"); t != "" {
		if g, ok := structNames[t]; ok {
			if f.minOccurs != 1 || f.maxOccurs != 1 {
				return f, fmt.Errorf("%s/%s: only a single struct element is supported", parent, n)
			}
			f.structType = g
			return f, nil
		}
		return f, fmt.Errorf("%s/%s: simple element not wrapped is not supported", parent, n)
	}
	// A wrapper element holding one repeated simple item: the struct gets
	// the items as a slice (Prestazioni>CodicePrestazione).
	ct := e.child("complexType")
	if ct == nil || f.minOccurs != 1 || f.maxOccurs != 1 {
		return f, fmt.Errorf("%s/%s: not a wrapper of one repeated simple element", parent, n)
	}
	seq := ct.child("sequence")
	if seq == nil || len(seq.Children) != 1 || !seq.Children[0].is("element") || len(ct.Children) != 1 {
		return f, fmt.Errorf("%s/%s: not a wrapper of one repeated simple element", parent, n)
	}
	item := &seq.Children[0]
	r, err := s.simpleOf(item)
	if err != nil {
		return f, fmt.Errorf("%s/%s: %w", parent, n, err)
	}
	f.simple = r
	f.listPath = n + "/" + item.attr("name")
	f.minOccurs, f.maxOccurs = occurs(item, "minOccurs"), occurs(item, "maxOccurs")
	if item.attr("name") == "CodicePrestazione" {
		// Not an enumeration in the schema: the codes come from the SIUSS list.
		f.goName = "Prestazioni"
	}
	return f, nil
}

// snake turns an XSD name into its JSON name: IDBeneficiario →
// id_beneficiario, FasciaISEEBeneficiario → fascia_isee_beneficiario.
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		up := c >= 'A' && c <= 'Z'
		if up && i > 0 {
			prevLower := r[i-1] >= 'a' && r[i-1] <= 'z' || r[i-1] >= '0' && r[i-1] <= '9'
			nextLower := i+1 < len(r) && r[i+1] >= 'a' && r[i+1] <= 'z'
			prevUpper := r[i-1] >= 'A' && r[i-1] <= 'Z'
			if prevLower || prevUpper && nextLower {
				b.WriteByte('_')
			}
		}
		if up {
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// goType is the Go name of a named simple type: LuogoVitaType → LuogoVita.
func goType(r *restriction) string { return strings.TrimSuffix(r.name, "Type") }

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// facetsVar is the name of the variable holding r's restrictions.
func facetsVar(r *restriction, structName, fieldName string) string {
	if r.name != "" {
		return lowerFirst(goType(r)) + "Facets"
	}
	return lowerFirst(structName) + fieldName + "Facets"
}

// fieldType returns the Go type of a simple field's value.
func fieldType(f *field) string {
	switch {
	case f.listPath == "Prestazioni/CodicePrestazione":
		return "CodicePrestazione"
	case f.simple.name != "":
		return goType(f.simple)
	}
	return "string"
}

func (s *schema) emit(b *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("// Code generated by sinbagen from schema/SINBA.xsd and schema/prestazioni-siuss.csv; DO NOT EDIT.\n\n")
	p("package sinba\n\nimport \"regexp\"\n\n")
	p("// Namespace is the target namespace of SINBA.xsd: the elements of a flow are in it.\nconst Namespace = %q\n\n", s.targetNS)
	p("// The elements of a flow: the root, its header and its records.\nconst (\n")
	p("\tRootElement = %q\n\tHeaderElement = %q\n\tRecordElement = %q\n)\n\n", s.root, s.header, s.record)

	// Named simple types.
	var lists []string
	for _, r := range s.simple {
		t := goType(r)
		if len(r.enums) > 0 {
			lists = append(lists, t+"Codes")
			p("// %s is a code of SINBA.xsd's %s.\ntype %s string\n\n", t, r.name, t)
			p("// %sCodes lists the codes of %s with their labels, in schema order.\n", t, r.name)
			p("var %sCodes = newCodeList(%q, []Code{\n", t, r.name)
			for _, e := range r.enums {
				p("\t{%q, %q},\n", e[0], e[1])
			}
			p("})\n\n")
			p("// Valid reports whether c is a code of %s.\nfunc (c %s) Valid() bool { return %sCodes.Valid(string(c)) }\n\n", r.name, t, t)
			p("// Label returns the label of c, or \"\" if c is not a code of %s.\nfunc (c %s) Label() string { return %sCodes.Label(string(c)) }\n\n", r.name, t, t)
		} else {
			p("// %s is a value of SINBA.xsd's %s", t, r.name)
			if r.pattern != "" {
				p(" (pattern %s)", r.pattern)
			}
			p(".\ntype %s string\n\n", t)
		}
		list := ""
		if len(r.enums) > 0 {
			list = t + "Codes"
		}
		s.emitFacets(b, facetsVar(r, "", ""), r, list)
	}
	// SIUSS services.
	p("// CodicePrestazione is a SIUSS service code (prestazioni-siuss.csv): the\n")
	p("// schema only bounds its length, the list gives the codes.\ntype CodicePrestazione string\n\n")
	p("// CodicePrestazioneCodes lists the SIUSS service codes with their labels.\n")
	p("var CodicePrestazioneCodes = newCodeList(\"CodicePrestazione\", []Code{\n")
	for _, c := range s.services {
		p("\t{%q, %q},\n", c[0], c[1])
	}
	p("})\n\n")
	p("// CodicePrestazioneAreas maps each SIUSS service code to its area (the code's prefix).\n")
	p("var CodicePrestazioneAreas = map[CodicePrestazione]string{\n")
	for _, c := range s.services {
		p("\t%q: %q,\n", c[0], c[2])
	}
	p("}\n\n")
	p("// Valid reports whether c is a SIUSS service code.\nfunc (c CodicePrestazione) Valid() bool { return CodicePrestazioneCodes.Valid(string(c)) }\n\n")
	p("// Label returns the label of c, or \"\" if c is not a SIUSS service code.\nfunc (c CodicePrestazione) Label() string { return CodicePrestazioneCodes.Label(string(c)) }\n\n")
	lists = append(lists, "CodicePrestazioneCodes")
	p("// CodeLists holds every code list: those of SINBA.xsd in schema order, then the SIUSS services.\n")
	p("var CodeLists = []*CodeList{\n")
	for _, l := range lists {
		p("\t%s,\n", l)
	}
	p("}\n\n")

	// Structs.
	for _, ct := range s.complex {
		s.emitStruct(b, ct)
	}
	// JSON names.
	p("// jsonNames maps the schema name of every field to its JSON name.\n")
	p("var jsonNames = map[string]string{\n")
	seen := map[string]bool{}
	for _, ct := range s.complex {
		for _, f := range ct.fields {
			if !seen[f.xsdName] {
				seen[f.xsdName] = true
				p("\t%q: %q,\n", f.xsdName, f.jsonName)
			}
		}
	}
	p("\t%q: %q,\n", s.header, snake(s.header))
	p("\t%q: %q,\n", s.record, snake(s.record))
	p("}\n")
}

func (s *schema) emitFacets(b *bytes.Buffer, name string, r *restriction, list string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("var %s = facets{typeName: %q, base: %q, minLength: %d, maxLength: %d", name, r.name, r.base, r.minLength, r.maxLength)
	if list != "" {
		p(", codes: %s", list)
	}
	if r.pattern != "" {
		p(", pattern: %q, re: regexp.MustCompile(%q)", r.pattern, "^(?:"+r.pattern+")$")
	}
	if r.minInclusive != nil {
		p(", hasMin: true, min: %d", *r.minInclusive)
	}
	if r.maxInclusive != nil {
		p(", hasMax: true, max: %d", *r.maxInclusive)
	}
	p("}\n\n")
}

func (s *schema) emitStruct(b *bytes.Buffer, ct *complexType) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	// Facets of anonymous simple types.
	for i := range ct.fields {
		f := &ct.fields[i]
		if f.simple != nil && f.simple.name == "" {
			list := ""
			if f.listPath == "Prestazioni/CodicePrestazione" {
				list = "CodicePrestazioneCodes"
			}
			// The schema has no enumeration for CodicePrestazione; the SIUSS list applies.
			s.emitFacets(b, facetsVar(f.simple, ct.goName, f.goName), f.simple, list)
		}
	}
	p("// %s is SINBA.xsd's %s.", ct.goName, ct.xsdName)
	if ct.doc != "" {
		p(" %s", ct.doc)
	}
	p(" Optional attributes are pointers: nil when absent.\n")
	p("type %s struct {\n", ct.goName)
	for i := range ct.fields {
		f := &ct.fields[i]
		switch {
		case f.attr:
			t, omit, use := fieldType(f), "", "required"
			if !f.required {
				t, omit, use = "*"+t, ",omitempty", "optional"
			}
			p("\t// %s is the %s attribute %s", f.goName, use, f.xsdName)
			p("%s.\n", describe(f.simple))
			p("\t%s %s `xml:\"%s,attr%s\" json:\"%s%s\"`\n", f.goName, t, f.xsdName, omit, f.jsonName, omit)
		case f.structType != "":
			p("\t// %s is the element %s.\n", f.goName, f.xsdName)
			p("\t%s %s `xml:\"%s\" json:\"%s\"`\n", f.goName, f.structType, f.xsdName, f.jsonName)
		default:
			max := "unbounded"
			if f.maxOccurs >= 0 {
				max = strconv.Itoa(f.maxOccurs)
			}
			p("\t// %s holds the %s elements (%d..%s)%s.\n", f.goName, f.listPath, f.minOccurs, max, describe(f.simple))
			p("\t%s []%s `xml:\"%s\" json:\"%s\"`\n", f.goName, fieldType(f), strings.ReplaceAll(f.listPath, "/", ">"), f.jsonName)
		}
	}
	if ct.goName == "Record" {
		p("\n\t// problems are what the reader found while decoding: Validate reports them.\n\tproblems []Violation\n")
	}
	p("}\n\n")

	if ct.goName == "Record" {
		s.emitXMLSetters(b, ct)
	}

	// The check against the schema.
	p("// checkSchema adds to c every way in which x breaks %s.\n", ct.xsdName)
	p("func (x *%s) checkSchema(c *checker, prefix string) {\n", ct.goName)
	for i := range ct.fields {
		f := &ct.fields[i]
		switch {
		case f.attr:
			fv := facetsVar(f.simple, ct.goName, f.goName)
			if f.required && fieldType(f) == "string" {
				p("\tc.value(prefix, %q, x.%s, &%s)\n", f.xsdName, f.goName, fv)
			} else if f.required {
				p("\tc.value(prefix, %q, string(x.%s), &%s)\n", f.xsdName, f.goName, fv)
			} else if fieldType(f) == "string" {
				p("\tc.optional(prefix, %q, x.%s, &%s)\n", f.xsdName, f.goName, fv)
			} else {
				p("\tc.optional(prefix, %q, (*string)(x.%s), &%s)\n", f.xsdName, f.goName, fv)
			}
		case f.structType != "":
			p("\tx.%s.checkSchema(c, prefix+%q)\n", f.goName, f.xsdName+"/")
		default:
			fv := facetsVar(f.simple, ct.goName, f.goName)
			p("\tc.count(prefix, %q, len(x.%s), %d, %d)\n", f.listPath, f.goName, f.minOccurs, f.maxOccurs)
			p("\tfor i, v := range x.%s {\n\t\tc.item(prefix, %q, i, string(v), &%s)\n\t}\n", f.goName, f.listPath, fv)
		}
	}
	p("}\n\n")
}

// describe says in a few words what values a simple type allows.
func describe(r *restriction) string {
	var parts []string
	if r.name != "" {
		parts = append(parts, r.name)
	}
	if r.base != "string" {
		parts = append(parts, "xs:"+r.base)
	}
	switch {
	case r.minLength >= 0 && r.minLength == r.maxLength:
		parts = append(parts, fmt.Sprintf("length %d", r.minLength))
	case r.minLength >= 0 && r.maxLength >= 0:
		parts = append(parts, fmt.Sprintf("length %d..%d", r.minLength, r.maxLength))
	case r.maxLength >= 0:
		parts = append(parts, fmt.Sprintf("length ≤ %d", r.maxLength))
	case r.minLength >= 0:
		parts = append(parts, fmt.Sprintf("length ≥ %d", r.minLength))
	}
	if r.pattern != "" && r.name == "" {
		parts = append(parts, "pattern "+r.pattern)
	}
	if r.maxInclusive != nil {
		parts = append(parts, fmt.Sprintf("≤ %d", *r.maxInclusive))
	}
	if r.minInclusive != nil {
		parts = append(parts, fmt.Sprintf("≥ %d", *r.minInclusive))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// emitXMLSetters writes what the XML reader needs to fill a struct from
// tokens without reflection: a setter of attributes by name, and the
// wrapper elements in schema order with a setter of their items.
func (s *schema) emitXMLSetters(b *bytes.Buffer, ct *complexType) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("// setAttr sets the attribute name of x to v; it reports false when %s has no such attribute.\n", ct.xsdName)
	p("func (x *%s) setAttr(name, v string) bool {\n\tswitch name {\n", ct.goName)
	for i := range ct.fields {
		f := &ct.fields[i]
		if !f.attr {
			continue
		}
		t := fieldType(f)
		p("\tcase %q:\n", f.xsdName)
		switch {
		case f.required && t == "string":
			p("\t\tx.%s = v\n", f.goName)
		case f.required:
			p("\t\tx.%s = %s(v)\n", f.goName, t)
		case t == "string":
			p("\t\tx.%s = &v\n", f.goName)
		default:
			p("\t\tx.%s = (*%s)(&v)\n", f.goName, t)
		}
	}
	p("\tdefault:\n\t\treturn false\n\t}\n\treturn true\n}\n\n")
	p("// %sWrappers are the child elements of %s, in schema order.\n", lowerFirst(ct.goName), ct.xsdName)
	p("var %sWrappers = []wrapper[%s]{\n", lowerFirst(ct.goName), ct.goName)
	for i := range ct.fields {
		f := &ct.fields[i]
		if f.attr || f.structType != "" {
			continue
		}
		w, item, _ := strings.Cut(f.listPath, "/")
		p("\t{%q, %q, func(x *%s, v string) { x.%s = append(x.%s, %s(v)) }},\n", w, item, ct.goName, f.goName, f.goName, fieldType(f))
	}
	p("}\n\n")
}

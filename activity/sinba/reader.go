package sinba

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// ErrNoRecords is returned by a Reader at the end of a flow that has no
// SINBA element, and by Writer.Close when no record was written: the schema
// requires at least one.
var ErrNoRecords = errors.New("flow has no SINBA record")

// SyntaxError is returned by a Reader when its input is not well-formed
// XML or JSON, or not shaped like a Flusso (wrong root element or
// namespace, header missing, unexpected element). Reading cannot go on
// after it.
type SyntaxError struct {
	// Line and Column (1-based) locate the problem in XML input: where the
	// decoder stopped. They are 0 for JSON input.
	Line, Column int
	// Offset is the byte offset where the decoder stopped.
	Offset int64
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("SINBA flow: line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("SINBA flow: offset %d: %s", e.Offset, e.Msg)
}

// Reader decodes a flow one record at a time, from XML (NewReader) or from
// the JSON form (NewJSONReader), holding at most one record in memory: a
// flow of any length is read in constant memory, but one record is held
// whole, so bound the input (http.MaxBytesReader) where it comes from
// outside. It is not safe for concurrent use.
//
// The XML reader checks the shape of the flow (root, namespace, header
// first, then SINBA elements only) and fails on it. A record is read token
// by token, without reflection: what SinbaType does not allow inside it
// (unknown or qualified attributes, unknown elements, text, Prestazioni and
// Famiglia out of order or repeated) becomes a problem of that record, which
// Record.Validate reports. The header is decoded with encoding/xml, which
// ignores unknown attributes there.
type Reader struct {
	xd *xml.Decoder
	jd *json.Decoder

	header     Header
	headerRead bool
	headerErr  error
	err        error // sticky: the first fatal error, or io.EOF at the end
	index      int   // records decoded so far
	line, col  int   // where the last record's start tag ends (XML)
	offset     int64 // where the last record starts
	charsetErr error // the encoding the XML declaration names is not supported
}

// NewReader returns a Reader of an XML flow. Besides UTF-8 it accepts the
// encodings ISO-8859-1, ISO-8859-15 and windows-1252 when the XML
// declaration names them. A DOCTYPE is refused.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{xd: xml.NewDecoder(r)}
	rd.xd.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		out, err := charsetReader(label, in)
		rd.charsetErr = err
		return out, err
	}
	return rd
}

// NewJSONReader returns a Reader of a flow in the JSON form (see the
// package documentation): an object whose "identificazione_flusso" member
// must come before its "sinba" array.
func NewJSONReader(r io.Reader) *Reader {
	d := json.NewDecoder(r)
	return &Reader{jd: d}
}

func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		return charmap.ISO8859_1.NewDecoder().Reader(in), nil
	case "iso-8859-15", "iso8859-15", "latin9":
		return charmap.ISO8859_15.NewDecoder().Reader(in), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(in), nil
	}
	return nil, fmt.Errorf("encoding %q not supported", label)
}

// Header decodes the flow up to and including its header
// (IdentificazioneFlusso) and returns it; later calls return the same. It
// does not validate the header: call Header.Validate. The error is a
// *SyntaxError, or the underlying reader's error.
func (rd *Reader) Header() (Header, error) {
	if !rd.headerRead {
		rd.headerRead = true
		var err error
		if rd.xd != nil {
			err = rd.xmlHeader()
		} else {
			err = rd.jsonHeader()
		}
		if err != nil {
			rd.headerErr, rd.err = err, err
		}
	}
	return rd.header, rd.headerErr
}

// Next decodes the next record. It returns io.EOF after the last one
// (ErrNoRecords if there was none), a *SyntaxError or the underlying
// reader's error when the flow cannot be read further. Problems of the
// record itself (an unknown attribute, a JSON value of the wrong type) do
// not stop reading: Record.Validate reports them.
func (rd *Reader) Next() (Record, error) {
	if _, err := rd.Header(); err != nil {
		return Record{}, err
	}
	if rd.err != nil {
		return Record{}, rd.err
	}
	var rec Record
	var err error
	if rd.xd != nil {
		err = rd.xmlNext(&rec)
	} else {
		err = rd.jsonNext(&rec)
	}
	if err == io.EOF && rd.index == 0 {
		err = ErrNoRecords
	}
	if err != nil {
		rd.err = err
		return Record{}, err
	}
	rd.index++
	return rec, nil
}

// Records returns an iterator over the records that Next decodes. It ends
// after the last record, or after yielding the first error (with a zero
// Record); the end of the flow is not an error.
func (rd *Reader) Records() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// Index returns how many records have been decoded: after Next, the
// 1-based number of the record it returned.
func (rd *Reader) Index() int { return rd.index }

// Position returns where the last record decoded starts: for XML the line
// and column where its start tag ends, for JSON 0, 0 and its byte offset.
func (rd *Reader) Position() (line, column int, offset int64) {
	return rd.line, rd.col, rd.offset
}

// XML.

func (rd *Reader) xmlError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		line, col := rd.xd.InputPos()
		if se.Line > line {
			line = se.Line
		}
		return &SyntaxError{Line: line, Column: col, Offset: rd.xd.InputOffset(), Msg: se.Msg}
	}
	if rd.charsetErr != nil {
		return rd.xmlSyntax("%s", rd.charsetErr.Error())
	}
	return fmt.Errorf("read SINBA flow: %w", err)
}

func (rd *Reader) xmlSyntax(format string, args ...any) error {
	line, col := rd.xd.InputPos()
	return &SyntaxError{Line: line, Column: col, Offset: rd.xd.InputOffset(), Msg: fmt.Sprintf(format, args...)}
}

// xmlStart returns the next start element, or the end element of the root
// when end is true; it allows only white space, comments and processing
// instructions in between.
func (rd *Reader) xmlStart() (start xml.StartElement, end bool, err error) {
	for {
		tok, err := rd.xd.Token()
		if err != nil {
			if err == io.EOF {
				return start, false, rd.xmlSyntax("unexpected end of input")
			}
			return start, false, rd.xmlError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return start, true, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return start, false, rd.xmlSyntax("unexpected text %.20q", string(bytes.TrimSpace(t)))
			}
		case xml.Directive:
			return start, false, rd.xmlSyntax("DOCTYPE and other directives are not allowed")
		}
	}
}

func (rd *Reader) xmlHeader() error {
	root, _, err := rd.xmlStart()
	if err != nil {
		return err
	}
	if root.Name.Space != Namespace || root.Name.Local != RootElement {
		return rd.xmlSyntax("root element is {%s}%s, want %s in namespace %s", root.Name.Space, root.Name.Local, RootElement, Namespace)
	}
	h, end, err := rd.xmlStart()
	if err != nil {
		return err
	}
	if end || h.Name.Space != Namespace || h.Name.Local != HeaderElement {
		return rd.xmlSyntax("%s must begin with %s", RootElement, HeaderElement)
	}
	if err := rd.xd.DecodeElement(&rd.header, &h); err != nil {
		return rd.xmlError(err)
	}
	return nil
}

// wrapper is a child element of a record that holds repeated simple items
// (Prestazioni of CodicePrestazione); add appends an item's value.
type wrapper[T any] struct {
	name, item string
	add        func(x *T, v string)
}

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// ignoredAttr reports whether a is a namespace declaration or an
// xsi: attribute, which any element may carry.
func ignoredAttr(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == xsiNamespace
}

func (r *Record) problem(field, reason string) {
	r.problems = append(r.problems, Violation{Field: field, Reason: reason})
}

func (rd *Reader) xmlNext(rec *Record) error {
	start, end, err := rd.xmlStart()
	if err != nil {
		return err
	}
	if end {
		// The root is closed: only white space, comments and processing
		// instructions may follow.
		for {
			tok, err := rd.xd.Token()
			if err == io.EOF {
				return io.EOF
			}
			if err != nil {
				return rd.xmlError(err)
			}
			switch t := tok.(type) {
			case xml.CharData:
				if len(bytes.TrimSpace(t)) == 0 {
					continue
				}
			case xml.Comment, xml.ProcInst:
				continue
			}
			return rd.xmlSyntax("content after the end of %s", RootElement)
		}
	}
	if start.Name.Space != Namespace || start.Name.Local != RecordElement {
		return rd.xmlSyntax("unexpected element {%s}%s in %s, want %s", start.Name.Space, start.Name.Local, RootElement, RecordElement)
	}
	rd.line, rd.col = rd.xd.InputPos()
	rd.offset = rd.xd.InputOffset()
	return rd.xmlRecord(start, rec)
}

// xmlRecord fills rec from a SINBA element whose start tag has been read,
// token by token: what SinbaType does not allow (an unknown or qualified
// attribute, an unknown element, text, the wrappers out of order or
// repeated) becomes a problem of the record.
func (rd *Reader) xmlRecord(start xml.StartElement, rec *Record) error {
	for _, a := range start.Attr {
		if ignoredAttr(a) {
			continue
		}
		if a.Name.Space != "" || !rec.setAttr(a.Name.Local, a.Value) {
			rec.problem(a.Name.Local, "attribute not allowed by SinbaType")
		}
	}
	next := 0 // index of the next wrapper in schema order
	text := false
	for {
		tok, err := rd.xd.Token()
		if err != nil {
			return rd.xmlError(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.CharData:
			if !text && len(bytes.TrimSpace(t)) > 0 {
				text = true
				rec.problem("", "text not allowed in SINBA")
			}
		case xml.StartElement:
			i := -1
			if t.Name.Space == Namespace {
				i = slices.IndexFunc(recordWrappers, func(w wrapper[Record]) bool { return w.name == t.Name.Local })
			}
			if i < 0 {
				rec.problem(t.Name.Local, "element not allowed by SinbaType")
				if err := rd.xd.Skip(); err != nil {
					return rd.xmlError(err)
				}
				continue
			}
			if i < next {
				rec.problem(t.Name.Local, "repeated or out of order: SinbaType has "+wrapperOrder+", once each")
			}
			next = max(next, i+1)
			if err := rd.xmlItems(t, &recordWrappers[i], rec); err != nil {
				return err
			}
		}
	}
}

var wrapperOrder = func() string {
	var names []string
	for _, w := range recordWrappers {
		names = append(names, w.name)
	}
	return strings.Join(names, " then ")
}()

// xmlItems reads the items of a wrapper element whose start tag has been read.
func (rd *Reader) xmlItems(start xml.StartElement, w *wrapper[Record], rec *Record) error {
	for _, a := range start.Attr {
		if !ignoredAttr(a) {
			rec.problem(w.name+"/@"+a.Name.Local, "attribute not allowed by SinbaType")
		}
	}
	text := false
	for {
		tok, err := rd.xd.Token()
		if err != nil {
			return rd.xmlError(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.CharData:
			if !text && len(bytes.TrimSpace(t)) > 0 {
				text = true
				rec.problem(w.name, "text not allowed in "+w.name)
			}
		case xml.StartElement:
			if t.Name.Space != Namespace || t.Name.Local != w.item {
				rec.problem(w.name+"/"+t.Name.Local, "element not allowed by SinbaType")
				if err := rd.xd.Skip(); err != nil {
					return rd.xmlError(err)
				}
				continue
			}
			for _, a := range t.Attr {
				if !ignoredAttr(a) {
					rec.problem(w.name+"/"+w.item+"/@"+a.Name.Local, "attribute not allowed by SinbaType")
				}
			}
			v, err := rd.xmlText(w, rec)
			if err != nil {
				return err
			}
			w.add(rec, v)
		}
	}
}

// xmlText returns the text of a simple element whose start tag has been
// read, up to its end tag.
func (rd *Reader) xmlText(w *wrapper[Record], rec *Record) (string, error) {
	var v []byte
	for {
		tok, err := rd.xd.Token()
		if err != nil {
			return "", rd.xmlError(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return string(v), nil
		case xml.CharData:
			v = append(v, t...)
		case xml.StartElement:
			rec.problem(w.name+"/"+w.item+"/"+t.Name.Local, "element not allowed by SinbaType")
			if err := rd.xd.Skip(); err != nil {
				return "", rd.xmlError(err)
			}
		}
	}
}

// JSON.

func (rd *Reader) jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &SyntaxError{Offset: rd.jd.InputOffset(), Msg: "unexpected end of input"}
	}
	return fmt.Errorf("read SINBA flow: %w", err)
}

func (rd *Reader) jsonSyntax(format string, args ...any) error {
	return &SyntaxError{Offset: rd.jd.InputOffset(), Msg: fmt.Sprintf(format, args...)}
}

var (
	jsonHeaderKey = jsonNames[HeaderElement]
	jsonRecordKey = jsonNames[RecordElement]
)

func (rd *Reader) jsonDelim(want json.Delim) error {
	tok, err := rd.jd.Token()
	if err != nil {
		return rd.jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return rd.jsonSyntax("want %q", want)
	}
	return nil
}

func (rd *Reader) jsonHeader() error {
	if err := rd.jsonDelim('{'); err != nil {
		return err
	}
	tok, err := rd.jd.Token()
	if err != nil {
		return rd.jsonError(err)
	}
	if tok != jsonHeaderKey {
		return rd.jsonSyntax("the flow must begin with %q", jsonHeaderKey)
	}
	var raw json.RawMessage
	if err := rd.jd.Decode(&raw); err != nil {
		return rd.jsonError(err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&rd.header); err != nil {
		return rd.jsonSyntax("%s: %s", jsonHeaderKey, strings.TrimPrefix(err.Error(), "json: "))
	}
	if tok, err = rd.jd.Token(); err != nil {
		return rd.jsonError(err)
	}
	if tok != jsonRecordKey {
		return rd.jsonSyntax("want %q after %q", jsonRecordKey, jsonHeaderKey)
	}
	return rd.jsonDelim('[')
}

func (rd *Reader) jsonNext(rec *Record) error {
	if !rd.jd.More() {
		if err := rd.jsonDelim(']'); err != nil {
			return err
		}
		if err := rd.jsonDelim('}'); err != nil {
			return rd.jsonSyntax("nothing may follow %q", jsonRecordKey)
		}
		if _, err := rd.jd.Token(); err != io.EOF {
			return rd.jsonSyntax("content after the end of the flow")
		}
		return io.EOF
	}
	rd.offset = rd.jd.InputOffset()
	var raw json.RawMessage
	if err := rd.jd.Decode(&raw); err != nil {
		return rd.jsonError(err)
	}
	decodeJSONRecord(raw, rec)
	return nil
}

// jsonFields maps the JSON names of Record's fields to their schema names.
var jsonFields = func() map[string]string {
	m := map[string]string{}
	t := reflect.TypeFor[Record]()
	for i := range t.NumField() {
		f := t.Field(i)
		j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		x, _, _ := strings.Cut(f.Tag.Get("xml"), ",")
		if j != "" {
			x, _, _ = strings.Cut(x, ">")
			m[j] = x
		}
	}
	return m
}()

// decodeJSONRecord decodes raw into rec, turning what does not fit into
// problems of the record.
func decodeJSONRecord(raw []byte, rec *Record) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	err := d.Decode(rec)
	if err == nil {
		return
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		name, _, _ := strings.Cut(te.Field, ".")
		if name == "" {
			rec.problems = append(rec.problems, Violation{Reason: "a record must be a JSON object, not " + te.Value})
			return
		}
		if x, ok := jsonFields[name]; ok {
			name = x
		}
		rec.problems = append(rec.problems, Violation{Field: name, Reason: "must be a JSON string, not " + te.Value})
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil {
		var unknown []string
		for k := range fields {
			if _, ok := jsonFields[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			for _, k := range unknown {
				rec.problems = append(rec.problems, Violation{Field: k, Reason: "field not allowed by SinbaType"})
			}
			return
		}
	}
	rec.problems = append(rec.problems, Violation{Reason: "cannot decode record: " + strings.TrimPrefix(err.Error(), "json: ")})
}

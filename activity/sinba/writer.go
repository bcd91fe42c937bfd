package sinba

import (
	"encoding/xml"
	"fmt"
	"io"
)

// Writer writes records as a Flusso of SINBA.xsd, one at a time: the
// header when it is created, each record on Write, the end on Close. It
// writes what it is given: validate records first (Record.Validate). It is
// not safe for concurrent use.
type Writer struct {
	enc *xml.Encoder
	n   int
	err error
}

var (
	rootName   = xml.Name{Space: Namespace, Local: RootElement}
	headerName = xml.StartElement{Name: xml.Name{Local: HeaderElement}}
	recordName = xml.StartElement{Name: xml.Name{Local: RecordElement}}
)

// NewWriter writes the XML declaration, the root element and h to w, and
// returns a Writer for the records. Output is buffered: Close flushes it.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return nil, fmt.Errorf("write SINBA flow: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	// The root carries the default namespace; header and records, written
	// without one, inherit it.
	if err := enc.EncodeToken(xml.StartElement{Name: rootName}); err != nil {
		return nil, fmt.Errorf("write SINBA flow: %w", err)
	}
	if err := enc.EncodeElement(&h, headerName); err != nil {
		return nil, fmt.Errorf("write SINBA header: %w", err)
	}
	return &Writer{enc: enc}, nil
}

// Write writes one record.
func (w *Writer) Write(r *Record) error {
	if w.err != nil {
		return w.err
	}
	if err := w.enc.EncodeElement(r, recordName); err != nil {
		w.err = fmt.Errorf("write SINBA record: %w", err)
		return w.err
	}
	w.n++
	return nil
}

// Close ends the flow and flushes it. It returns ErrNoRecords, after ending
// the flow, if no record was written: the result does not satisfy the
// schema.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.enc.EncodeToken(xml.EndElement{Name: rootName}); err != nil {
		return fmt.Errorf("write SINBA flow: %w", err)
	}
	if err := w.enc.Close(); err != nil {
		return fmt.Errorf("write SINBA flow: %w", err)
	}
	if w.n == 0 {
		return ErrNoRecords
	}
	return nil
}

package render

import (
	"encoding/csv"
	"io"

	"github.com/toscana/sirm/report"
)

// CSVOptions shape the CSV output.
type CSVOptions struct {
	// Semicolon separates fields with ';' instead of ',', as spreadsheets
	// set up for Italian expect (comma being their decimal separator);
	// numbers with decimals are then written with a decimal comma.
	Semicolon bool
	// BOM starts the file with a UTF-8 byte order mark, without which
	// Excel reads UTF-8 as a legacy code page and garbles accented labels.
	BOM bool
	// Lang is "it" (default) or "en" for the labels.
	Lang string
	// Mark replaces a suppressed value; empty means DefaultMark.
	Mark string
}

// ItalianSpreadsheet is the CSV flavour for Excel or LibreOffice set up for
// Italian: ';', decimal comma, BOM, Italian labels.
var ItalianSpreadsheet = CSVOptions{Semicolon: true, BOM: true, Lang: "it"}

// WriteCSV writes one grid as CSV (RFC 4180 quoting, UTF-8): a header line
// with the row dimension's label, the column categories and "Totale"; one
// line per row category with its row total; a last line of column totals
// and the grand total. Suppressed entries are the mark, ratios with a zero
// denominator a dash; numbers are not grouped by thousands. No title or notes:
// the file stays a plain grid for programs; the legend is in the JSON,
// XLSX and HTML forms.
func WriteCSV(w io.Writer, g report.Grid, o CSVOptions) error {
	if err := check([]report.Grid{g}); err != nil {
		return err
	}
	if o.Mark == "" {
		o.Mark = DefaultMark
	}
	if o.BOM {
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	dec := "."
	if o.Semicolon {
		cw.Comma, dec = ';', ","
	}
	if err := cw.Write(header(g.Header(), o.Lang)); err != nil {
		return err
	}
	for _, pr := range rowsOf(g, o.Lang) {
		rec := []string{pr.label}
		for _, c := range pr.values {
			if c.ok {
				rec = append(rec, formatNumber(c.n, "", dec))
			} else {
				rec = append(rec, o.Mark)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Package render writes protected report tables as JSON, CSV, XLSX and an
// HTML page with SVG charts. Every renderer refuses a table that has not been
// through report.Table.Protect and reads values only through
// report.Table.Published, so a suppressed value cannot reach the output:
// it is written as null (JSON) or as the mark (CSV, XLSX, HTML), never as a
// number, and primary and secondary suppressions look the same.
package render

import (
	"fmt"

	"github.com/toscana/sirm/report"
)

// DefaultMark is printed in place of a suppressed value in CSV, XLSX and
// HTML.
const DefaultMark = "x"

// legend explains the mark under a table.
func legend(mark string, t *report.Table) report.Label {
	return report.Label{
		IT: fmt.Sprintf("%s: dato oscurato per la tutela del segreto statistico (valori maggiori di 0 e minori di %d, e valori che permetterebbero di ricavarli)", mark, t.Policy().Threshold),
		EN: fmt.Sprintf("%s: value suppressed for statistical confidentiality (values above 0 and below %d, and values that would give them back)", mark, t.Policy().Threshold),
	}
}

func check(tables []*report.Table) error {
	for _, t := range tables {
		if !t.Protected() {
			return fmt.Errorf("table %s: %w", t.ID, report.ErrNotProtected)
		}
	}
	return nil
}

// totalLabel is the label of the totals row and column.
var totalLabel = report.Label{IT: "Totale", EN: "Total"}

// entries returns, for a table, the rows of its grid in print order: each
// row's label and its published entries, totals last, with the totals row
// at the end.
type printRow struct {
	label  string
	values []cell
	total  bool
}

type cell struct {
	v  int
	ok bool
}

func rowsOf(t *report.Table, lang string) []printRow {
	out := make([]printRow, 0, t.NumRows()+1)
	line := func(r int, label string) printRow {
		pr := printRow{label: label, total: r == report.Total}
		for c := 0; c < t.NumCols(); c++ {
			v, ok := t.Published(r, c)
			pr.values = append(pr.values, cell{v, ok})
		}
		v, ok := t.Published(r, report.Total)
		pr.values = append(pr.values, cell{v, ok})
		return pr
	}
	for r, cat := range t.Rows.Categories {
		out = append(out, line(r, cat.Label.In(lang)))
	}
	return append(out, line(report.Total, totalLabel.In(lang)))
}

// header returns the column headings: the row dimension's label, the column
// categories and the total.
func header(t *report.Table, lang string) []string {
	h := []string{t.Rows.Label.In(lang)}
	for _, c := range t.Cols.Categories {
		h = append(h, c.Label.In(lang))
	}
	return append(h, totalLabel.In(lang))
}

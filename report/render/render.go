// Package render writes protected report tables as JSON, CSV, XLSX and an
// HTML page with SVG charts. Every renderer refuses a table that has not been
// through report.Table.Protect and reads values only through
// report.Table.Published, so a suppressed value cannot reach the output:
// it is written as null (JSON) or as the mark (CSV, XLSX, HTML), never as a
// number, and primary and secondary suppressions look the same.
package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/toscana/sirm/report"
)

// DefaultMark is printed in place of a suppressed value in CSV, XLSX and
// HTML.
const DefaultMark = "x"

// legend explains the marks under a grid.
func legend(mark string, g report.Grid) report.Label {
	h := g.Header()
	if q, ok := report.Unwrap(g).(*report.Quantiles); ok {
		return report.Label{
			IT: fmt.Sprintf("%s: non pubblicato (gruppo con meno di %d osservazioni)", mark, q.MinGroup),
			EN: fmt.Sprintf("%s: not published (group of fewer than %d observations)", mark, q.MinGroup),
		}
	}
	if _, ok := report.Unwrap(g).(*report.Ratio); ok {
		return report.Label{
			IT: fmt.Sprintf("%s: dato oscurato per la tutela del segreto statistico (numeratore o denominatore oscurato); %s: non calcolabile (denominatore zero)", mark, undefinedMark),
			EN: fmt.Sprintf("%s: value suppressed for statistical confidentiality (numerator or denominator suppressed); %s: not defined (zero denominator)", mark, undefinedMark),
		}
	}
	return report.Label{
		IT: fmt.Sprintf("%s: dato oscurato per la tutela del segreto statistico (valori maggiori di 0 e minori di %d, e valori che permetterebbero di ricavarli)", mark, h.Policy.Threshold),
		EN: fmt.Sprintf("%s: value suppressed for statistical confidentiality (values above 0 and below %d, and values that would give them back)", mark, h.Policy.Threshold),
	}
}

func check(grids []report.Grid) error {
	for _, g := range grids {
		if !g.Protected() {
			return fmt.Errorf("table %s: %w", g.Header().ID, report.ErrNotProtected)
		}
	}
	return nil
}

// totalLabel is the label of the totals row and column.
var totalLabel = report.Label{IT: "Totale", EN: "Total"}

// undefinedMark is printed for a ratio with a zero denominator.
const undefinedMark = "-"

// printRow is one line of a grid in print order: its label and its entries,
// the row total last.
type printRow struct {
	label  string
	values []cell
	total  bool
}

type cell struct {
	n  report.Number
	ok bool // false: suppressed
}

// rowsOf returns the lines of a grid, the totals line last.
func rowsOf(g report.Grid, lang string) []printRow {
	h := g.Header()
	out := make([]printRow, 0, len(h.Rows.Categories)+1)
	line := func(r int, label string) printRow {
		pr := printRow{label: label, total: r == report.Total}
		for c := range h.Cols.Categories {
			n, ok := g.Entry(r, c)
			pr.values = append(pr.values, cell{n, ok})
		}
		if !h.NoRowTotals {
			n, ok := g.Entry(r, report.Total)
			pr.values = append(pr.values, cell{n, ok})
		}
		return pr
	}
	for r, cat := range h.Rows.Categories {
		out = append(out, line(r, cat.Label.In(lang)))
	}
	return append(out, line(report.Total, totalLabel.In(lang)))
}

// header returns the column headings: the row dimension's label, the column
// categories and the total (unless the grid has no row totals).
func header(h report.Header, lang string) []string {
	out := []string{h.Rows.Label.In(lang)}
	for _, c := range h.Cols.Categories {
		out = append(out, c.Label.In(lang))
	}
	if h.NoRowTotals {
		return out
	}
	return append(out, totalLabel.In(lang))
}

// formatNumber prints a published number: digits grouped by thousands
// when group is not empty, the decimal separator dec.
func formatNumber(n report.Number, group, dec string) string {
	if n.Undefined {
		return undefinedMark
	}
	s := strconv.FormatFloat(n.Value, 'f', n.Decimals, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if group != "" {
		for i := len(intPart) - 3; i > 0; i -= 3 {
			intPart = intPart[:i] + group + intPart[i:]
		}
	}
	s = intPart
	if hasFrac {
		s += dec + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

// separators returns the thousands and decimal separators of a language.
func separators(lang string) (group, dec string) {
	if lang == "en" {
		return ",", "."
	}
	return ".", ","
}

package render

import (
	"encoding/json"
	"io"

	"github.com/toscana/sirm/report"
)

// LabelJSON is a label in both languages.
type LabelJSON struct {
	IT string `json:"it"`
	EN string `json:"en"`
}

// CategoryJSON is one category of a dimension.
type CategoryJSON struct {
	Code  string    `json:"code"`
	Label LabelJSON `json:"label"`
}

// DimensionJSON is a dimension and its categories, in table order.
type DimensionJSON struct {
	Code       string         `json:"code"`
	Label      LabelJSON      `json:"label"`
	Categories []CategoryJSON `json:"categories"`
}

// SuppressedJSON names one suppressed entry by category codes; a null row or
// column is the total over that dimension (row null and column null is the
// grand total).
type SuppressedJSON struct {
	Row    *string `json:"row"`
	Column *string `json:"column"`
}

// DisclosureJSON states the rule applied, so a reader knows what null means.
type DisclosureJSON struct {
	Threshold int       `json:"threshold"`
	Margin    int       `json:"margin"`
	Note      LabelJSON `json:"note"`
}

// TableJSON is the JSON shape of a protected table of counts or ratios.
// Cells is row-major, rows × columns, in the order of the dimensions'
// categories. A suppressed value is null wherever it appears (cells,
// totals) and is listed in Suppressed as well, so a client can use either;
// a null not listed there is a ratio with a zero denominator.
type TableJSON struct {
	ID string `json:"id"`
	// Kind is "counts" (a report.Table: cells add up to the totals),
	// "ratios" (a report.Ratio) or "quantiles" (a report.Quantiles:
	// statistics by group, no row totals; the totals row is the whole
	// population).
	Kind         string           `json:"kind"`
	Title        LabelJSON        `json:"title"`
	Unit         LabelJSON        `json:"unit"`
	Rows         DimensionJSON    `json:"rows"`
	Columns      DimensionJSON    `json:"columns"`
	Cells        [][]*float64     `json:"cells"`
	RowTotals    []*float64       `json:"row_totals"`
	ColumnTotals []*float64       `json:"column_totals"`
	GrandTotal   *float64         `json:"grand_total"`
	Suppressed   []SuppressedJSON `json:"suppressed"`
	Disclosure   DisclosureJSON   `json:"disclosure_control"`
	Notes        []LabelJSON      `json:"notes"`
}

func labelJSON(l report.Label) LabelJSON { return LabelJSON{IT: l.IT, EN: l.In("en")} }

func dimensionJSON(d report.Dimension) DimensionJSON {
	out := DimensionJSON{Code: d.Code, Label: labelJSON(d.Label), Categories: make([]CategoryJSON, 0, len(d.Categories))}
	for _, c := range d.Categories {
		out.Categories = append(out.Categories, CategoryJSON{Code: c.Code, Label: labelJSON(c.Label)})
	}
	return out
}

// ToJSON converts a protected grid to its JSON shape, for an api handler
// that embeds it in a larger response. It returns report.ErrNotProtected
// for an unprotected grid.
func ToJSON(g report.Grid) (TableJSON, error) {
	if err := check([]report.Grid{g}); err != nil {
		return TableJSON{}, err
	}
	h := g.Header()
	m, n := len(h.Rows.Categories), len(h.Cols.Categories)
	kind := "counts"
	switch report.Unwrap(g).(type) {
	case *report.Ratio:
		kind = "ratios"
	case *report.Quantiles:
		kind = "quantiles"
	}
	out := TableJSON{
		ID: h.ID, Kind: kind, Title: labelJSON(h.Title), Unit: labelJSON(h.Unit),
		Rows: dimensionJSON(h.Rows), Columns: dimensionJSON(h.Cols),
		Cells:        make([][]*float64, m),
		RowTotals:    make([]*float64, m),
		ColumnTotals: make([]*float64, n),
		Suppressed:   []SuppressedJSON{},
		Disclosure: DisclosureJSON{
			Threshold: h.Policy.Threshold, Margin: h.Policy.Margin,
			Note: labelJSON(legend("null", g)),
		},
		Notes: []LabelJSON{},
	}
	code := func(d report.Dimension, i int) *string {
		if i == report.Total {
			return nil
		}
		return &d.Categories[i].Code
	}
	get := func(r, c int) *float64 {
		v, ok := g.Entry(r, c)
		if !ok {
			out.Suppressed = append(out.Suppressed, SuppressedJSON{Row: code(h.Rows, r), Column: code(h.Cols, c)})
			return nil
		}
		if v.Undefined {
			return nil
		}
		return &v.Value
	}
	for r := range m {
		out.Cells[r] = make([]*float64, n)
		for c := range n {
			out.Cells[r][c] = get(r, c)
		}
		if !h.NoRowTotals {
			out.RowTotals[r] = get(r, report.Total)
		}
	}
	if h.NoRowTotals {
		out.RowTotals = []*float64{}
	}
	for c := range n {
		out.ColumnTotals[c] = get(report.Total, c)
	}
	if !h.NoRowTotals {
		out.GrandTotal = get(report.Total, report.Total)
	}
	for _, l := range h.Notes {
		out.Notes = append(out.Notes, labelJSON(l))
	}
	return out, nil
}

// WriteJSON writes the grids as a JSON object {"tables": [...]}.
func WriteJSON(w io.Writer, grids ...report.Grid) error {
	doc := struct {
		Tables []TableJSON `json:"tables"`
	}{Tables: make([]TableJSON, 0, len(grids))}
	for _, g := range grids {
		tj, err := ToJSON(g)
		if err != nil {
			return err
		}
		doc.Tables = append(doc.Tables, tj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// View returns what a reader of this JSON knows, for report.Audit or
// report.AuditLinked: an end-to-end test can fetch a report, decode it and
// check that no suppressed entry can be recomputed. The margins' keys are
// those report.Table.View gives. It is meaningful for tables of counts,
// not of ratios.
func (tj TableJSON) View() report.View {
	m, n := len(tj.Cells), len(tj.ColumnTotals)
	v := report.View{Rows: m, Cols: n, TotalKey: "total"}
	for _, c := range tj.Rows.Categories {
		v.RowKeys = append(v.RowKeys, tj.Rows.Code+"="+c.Code)
	}
	for _, c := range tj.Columns.Categories {
		v.ColKeys = append(v.ColKeys, tj.Columns.Code+"="+c.Code)
	}
	for r := 0; r <= m; r++ {
		vals, known := make([]int, n+1), make([]bool, n+1)
		for c := 0; c <= n; c++ {
			var p *float64
			switch {
			case r < m && c < n:
				p = tj.Cells[r][c]
			case r < m:
				p = tj.RowTotals[r]
			case c < n:
				p = tj.ColumnTotals[c]
			default:
				p = tj.GrandTotal
			}
			if p != nil {
				vals[c], known[c] = int(*p), true
			}
		}
		v.Values, v.Known = append(v.Values, vals), append(v.Known, known)
	}
	return v
}

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

// TableJSON is the JSON shape of a protected table. Cells is row-major,
// rows × columns, in the order of the dimensions' categories; a suppressed
// value is null wherever it appears (cells, totals) and is listed in
// Suppressed as well, so a client can use either.
type TableJSON struct {
	ID           string           `json:"id"`
	Title        LabelJSON        `json:"title"`
	Unit         LabelJSON        `json:"unit"`
	Rows         DimensionJSON    `json:"rows"`
	Columns      DimensionJSON    `json:"columns"`
	Cells        [][]*int         `json:"cells"`
	RowTotals    []*int           `json:"row_totals"`
	ColumnTotals []*int           `json:"column_totals"`
	GrandTotal   *int             `json:"grand_total"`
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

// ToJSON converts a protected table to its JSON shape, for an api handler
// that embeds it in a larger response. It returns report.ErrNotProtected
// for an unprotected table.
func ToJSON(t *report.Table) (TableJSON, error) {
	if err := check([]*report.Table{t}); err != nil {
		return TableJSON{}, err
	}
	m, n := t.NumRows(), t.NumCols()
	out := TableJSON{
		ID: t.ID, Title: labelJSON(t.Title), Unit: labelJSON(t.Unit),
		Rows: dimensionJSON(t.Rows), Columns: dimensionJSON(t.Cols),
		Cells:        make([][]*int, m),
		RowTotals:    make([]*int, m),
		ColumnTotals: make([]*int, n),
		Suppressed:   []SuppressedJSON{},
		Disclosure: DisclosureJSON{
			Threshold: t.Policy().Threshold, Margin: t.Policy().Margin,
			Note: labelJSON(legend("null", t)),
		},
		Notes: []LabelJSON{},
	}
	code := func(d report.Dimension, i int) *string {
		if i == report.Total {
			return nil
		}
		return &d.Categories[i].Code
	}
	get := func(r, c int) *int {
		v, ok := t.Published(r, c)
		if !ok {
			out.Suppressed = append(out.Suppressed, SuppressedJSON{Row: code(t.Rows, r), Column: code(t.Cols, c)})
			return nil
		}
		return &v
	}
	for r := range m {
		out.Cells[r] = make([]*int, n)
		for c := range n {
			out.Cells[r][c] = get(r, c)
		}
		out.RowTotals[r] = get(r, report.Total)
	}
	for c := range n {
		out.ColumnTotals[c] = get(report.Total, c)
	}
	out.GrandTotal = get(report.Total, report.Total)
	for _, l := range t.Notes {
		out.Notes = append(out.Notes, labelJSON(l))
	}
	return out, nil
}

// WriteJSON writes the tables as a JSON object {"tables": [...]}.
func WriteJSON(w io.Writer, tables ...*report.Table) error {
	doc := struct {
		Tables []TableJSON `json:"tables"`
	}{Tables: make([]TableJSON, 0, len(tables))}
	for _, t := range tables {
		tj, err := ToJSON(t)
		if err != nil {
			return err
		}
		doc.Tables = append(doc.Tables, tj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

package report

import (
	"errors"
	"fmt"
)

// Label is a text in Italian and English. Italian is the language of record;
// English falls back to Italian when empty.
type Label struct {
	IT string
	EN string
}

// In returns the label in lang ("it" or "en"); anything else is Italian.
func (l Label) In(lang string) string {
	if lang == "en" && l.EN != "" {
		return l.EN
	}
	return l.IT
}

// Category is one value of a dimension: a stable code (an official code where
// one exists, such as a zone code) and its labels.
type Category struct {
	Code  string
	Label Label
}

// Dimension is a classification along the rows or the columns of a table.
type Dimension struct {
	Code       string // e.g. "zone", "age_class"
	Label      Label
	Categories []Category
}

// Index returns the position of the category with code, or -1.
func (d Dimension) Index(code string) int {
	for i, c := range d.Categories {
		if c.Code == code {
			return i
		}
	}
	return -1
}

// Total is the index that stands for the marginal total in Table.Value,
// Table.Status and Table.Published: Value(r, Total) is the total of row r,
// Value(Total, c) of column c, and Value(Total, Total) the grand total.
const Total = -1

// Status says whether an entry of a table is published and, if not, why.
type Status uint8

const (
	// Published entries are printed as they are.
	Published Status = iota
	// Primary marks an entry suppressed because 0 < value < threshold.
	Primary
	// Secondary marks an entry suppressed so that a primary one cannot be
	// recomputed from published totals. Renderers never tell it apart from
	// Primary: telling which cells are small would itself disclose.
	Secondary
)

// Suppressed reports whether the status hides the value.
func (s Status) Suppressed() bool { return s != Published }

// ErrNotProtected is returned by renderers handed a table on which Protect
// has not run (or that was changed afterwards).
var ErrNotProtected = errors.New("report: table has not been through disclosure control")

// ErrUnknownCategory is returned by Table.Add for a row or column code that
// is not in the table's dimension.
var ErrUnknownCategory = errors.New("report: unknown category")

// Table is a two-dimensional table of counts (persons, facilities, places)
// with row totals, column totals and a grand total. A third dimension is
// either folded into the rows (Cross) or published as one table per layer,
// protected together with their sum by ProtectLayers.
//
// A table is filled with Set or Add, then Protect applies disclosure control.
// Changing a count afterwards makes the table unprotected again. A Table is
// not safe for concurrent mutation.
type Table struct {
	ID    string // stable identifier, e.g. "out_of_family_by_zone_age"
	Title Label
	Unit  Label // what is counted, e.g. {"minori", "minors"}
	Rows  Dimension
	Cols  Dimension
	Notes []Label

	counts [][]int
	// status is the (rows+1)×(cols+1) grid of statuses; the last row and
	// column are the totals. nil until Protect.
	status [][]Status
	policy Policy
}

// NewTable returns an empty table (all counts zero) over rows × cols.
func NewTable(id string, title Label, rows, cols Dimension) *Table {
	counts := make([][]int, len(rows.Categories))
	for i := range counts {
		counts[i] = make([]int, len(cols.Categories))
	}
	return &Table{ID: id, Title: title, Rows: rows, Cols: cols, counts: counts}
}

// NumRows is the number of row categories (totals excluded).
func (t *Table) NumRows() int { return len(t.Rows.Categories) }

// NumCols is the number of column categories (totals excluded).
func (t *Table) NumCols() int { return len(t.Cols.Categories) }

// Set sets the count of cell (r, c). It panics on an index out of range or a
// negative count, which are programming errors.
func (t *Table) Set(r, c, n int) {
	if n < 0 {
		panic(fmt.Sprintf("report: negative count %d", n))
	}
	t.counts[r][c] = n
	t.status = nil
}

// Add adds n to the cell identified by row and column category codes, as the
// SQL-backed code does with each row of a GROUP BY.
func (t *Table) Add(rowCode, colCode string, n int) error {
	r, c := t.Rows.Index(rowCode), t.Cols.Index(colCode)
	if r < 0 {
		return fmt.Errorf("row %q of %s: %w", rowCode, t.Rows.Code, ErrUnknownCategory)
	}
	if c < 0 {
		return fmt.Errorf("column %q of %s: %w", colCode, t.Cols.Code, ErrUnknownCategory)
	}
	t.Set(r, c, t.counts[r][c]+n)
	return nil
}

// Value returns the true value of an entry, Total standing for a margin. It
// ignores suppression: it is for building and testing tables, never for
// output (renderers use Published).
func (t *Table) Value(r, c int) int {
	switch {
	case r == Total && c == Total:
		s := 0
		for _, row := range t.counts {
			for _, v := range row {
				s += v
			}
		}
		return s
	case r == Total:
		s := 0
		for _, row := range t.counts {
			s += row[c]
		}
		return s
	case c == Total:
		s := 0
		for _, v := range t.counts[r] {
			s += v
		}
		return s
	}
	return t.counts[r][c]
}

// Protected reports whether Protect has run since the last change.
func (t *Table) Protected() bool { return t.status != nil }

// Policy returns the policy of the last Protect.
func (t *Table) Policy() Policy { return t.policy }

// Status returns the disclosure status of an entry (Total for margins).
// Before Protect every entry is Published.
func (t *Table) Status(r, c int) Status {
	if t.status == nil {
		return Published
	}
	return t.status[t.gi(r)][t.gj(c)]
}

// Published returns the value of an entry as it may be printed, and false
// when the entry is suppressed or the table is not protected.
func (t *Table) Published(r, c int) (int, bool) {
	if t.status == nil || t.status[t.gi(r)][t.gj(c)].Suppressed() {
		return 0, false
	}
	return t.Value(r, c), true
}

// SuppressedCount is the number of suppressed entries, totals included.
func (t *Table) SuppressedCount() int {
	n := 0
	for _, row := range t.status {
		for _, s := range row {
			if s.Suppressed() {
				n++
			}
		}
	}
	return n
}

// View returns what a reader of the published table knows: the published
// values and which entries are hidden. It is the auditor's input.
func (t *Table) View() View {
	m, n := t.NumRows(), t.NumCols()
	v := View{Rows: m, Cols: n, Values: make([][]int, m+1), Known: make([][]bool, m+1), TotalKey: "total"}
	for _, c := range t.Rows.Categories {
		v.RowKeys = append(v.RowKeys, t.Rows.Code+"="+c.Code)
	}
	for _, c := range t.Cols.Categories {
		v.ColKeys = append(v.ColKeys, t.Cols.Code+"="+c.Code)
	}
	for i := 0; i <= m; i++ {
		v.Values[i] = make([]int, n+1)
		v.Known[i] = make([]bool, n+1)
		for j := 0; j <= n; j++ {
			v.Values[i][j], v.Known[i][j] = t.Published(gridToIndex(i, m), gridToIndex(j, n))
		}
	}
	return v
}

// grid index of a table index (Total → last).
func (t *Table) gi(r int) int {
	if r == Total {
		return t.NumRows()
	}
	return r
}

func (t *Table) gj(c int) int {
	if c == Total {
		return t.NumCols()
	}
	return c
}

// grid returns the (m+1)×(n+1) grid of true values, totals last.
func (t *Table) grid() [][]int {
	m, n := t.NumRows(), t.NumCols()
	g := make([][]int, m+1)
	for i := range g {
		g[i] = make([]int, n+1)
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			v := t.counts[i][j]
			g[i][j] = v
			g[i][n] += v
			g[m][j] += v
			g[m][n] += v
		}
	}
	return g
}

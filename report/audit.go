package report

import "fmt"

// View is what a reader of a published table knows. Values and Known are
// (Rows+1)×(Cols+1) grids whose last row and column are the totals; a value
// where Known is false is hidden and ignored.
//
// RowKeys, ColKeys and TotalKey name the margins for linked tables (see
// ProtectLinked): margins with the same non-empty key in several views of
// AuditLinked are one quantity, known if any view publishes it. Table.View
// sets them to dimension=category codes and "total".
type View struct {
	Rows, Cols int
	Values     [][]int
	Known      [][]bool
	RowKeys    []string // len Rows, or nil
	ColKeys    []string // len Cols, or nil
	TotalKey   string
}

// key returns the shared key of grid entry (i, j), or "".
func (v View) key(i, j int) string {
	switch {
	case i == v.Rows && j == v.Cols:
		return v.TotalKey
	case j == v.Cols && v.RowKeys != nil:
		return v.RowKeys[i]
	case i == v.Rows && v.ColKeys != nil:
		return v.ColKeys[j]
	}
	return ""
}

// AuditOptions is what the auditor assumes about the attacker.
type AuditOptions struct {
	// Lower is the least value a hidden entry can have as far as a reader
	// knows. Protect never hides a zero (zeros are published), so a reader
	// who knows the rules knows every hidden entry is at least 1: audit
	// Protect's tables with Lower = 1.
	Lower int
	// Margin is the least width max−min of a hidden entry's feasible
	// interval; a narrower interval is a disclosure. Values below 1 count
	// as 1, which flags exactly the entries that can be recomputed.
	Margin int
}

// Interval is the auditor's finding on one hidden entry: the range of values
// consistent with everything published. Row and Col use Total for margins.
type Interval struct {
	Row, Col  int
	Min, Max  int
	Unbounded bool // no upper limit (Max is meaningless)
	Disclosed bool // Min == Max, or Max−Min below the margin
}

// Audit computes, for every hidden entry of v, the interval of values it can
// take given the published entries, non-negativity (at least o.Lower) and
// every linear relation the table states: each row and column of the grid,
// totals included, sums to its total. The bounds are exact: the linear
// programs are solved on rationals, and since the relations of a table with
// margins form a totally unimodular system, its vertices are integral and
// the integer bounds equal the rational ones rounded inwards.
//
// Audit returns ErrInconsistent when the published values cannot come from
// any table, and is safe for concurrent use.
func Audit(v View, o AuditOptions) ([]Interval, error) {
	v.RowKeys, v.ColKeys, v.TotalKey = nil, nil, ""
	out, err := AuditLinked([]View{v}, o)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// AuditLinked audits tables published together, whose margins with equal
// keys are one quantity (see View): it solves one linear system over all
// of them, since an attacker combines them. It returns one list of
// intervals per view, in row-major order of the hidden entries.
func AuditLinked(views []View, o AuditOptions) ([][]Interval, error) {
	return auditViews(views, false, o)
}

// AuditLayers audits a three-way tabulation published as one table per
// layer plus the table of their sum: every entry of total is the sum of the
// same entry of the layers, which an attacker uses too. It returns the
// intervals of each layer, then those of total last. Unlike two-way
// tables, three-way ones are not totally unimodular: the bounds are those
// of the rational relaxation rounded inwards, which can be wider than what
// an attacker solving the integer problem would get.
func AuditLayers(total View, layers []View, o AuditOptions) ([][]Interval, error) {
	return auditViews(append(append([]View(nil), layers...), total), true, o)
}

func auditViews(views []View, layered bool, o AuditOptions) ([][]Interval, error) {
	if o.Margin < 1 {
		o.Margin = 1
	}
	shapes := make([][2]int, len(views))
	for k, v := range views {
		shapes[k] = [2]int{v.Rows, v.Cols}
	}
	key := func(k, i, j int) string { return views[k].key(i, j) }
	if layered {
		key = nil
	}
	sys := newSystem(shapes, key, layered)
	val := make([]int, sys.n)
	known := make([]bool, sys.n)
	for e, occ := range sys.occ {
		for _, l := range occ {
			v := views[l.view]
			if !v.Known[l.i][l.j] {
				continue
			}
			if known[e] && val[e] != v.Values[l.i][l.j] {
				return nil, fmt.Errorf("margin %s published as %d and %d: %w", v.key(l.i, l.j), val[e], v.Values[l.i][l.j], ErrInconsistent)
			}
			val[e], known[e] = v.Values[l.i][l.j], true
		}
	}
	bounds, err := sys.bounds(val, known, o, false)
	if err != nil {
		return nil, err
	}
	out := make([][]Interval, len(views))
	for k, v := range views {
		for i := 0; i <= v.Rows; i++ {
			for j := 0; j <= v.Cols; j++ {
				e := sys.id[k][i][j]
				if known[e] {
					continue
				}
				iv := bounds[e]
				iv.Row, iv.Col = gridToIndex(i, v.Rows), gridToIndex(j, v.Cols)
				out[k] = append(out[k], iv)
			}
		}
	}
	return out, nil
}

// Audit audits the table as published under its own policy.
func (t *Table) Audit() ([]Interval, error) {
	if !t.Protected() {
		return nil, ErrNotProtected
	}
	return Audit(t.View(), AuditOptions{Lower: 1, Margin: t.policy.Margin})
}

// gridLines lists the linear relations of an (m+1)×(n+1) grid: each row
// (the totals row too) and each column (the totals column too), as the
// cells in order with the total last.
func gridLines(m, n int) [][][2]int {
	lines := make([][][2]int, 0, m+n+2)
	for i := 0; i <= m; i++ {
		ln := make([][2]int, 0, n+1)
		for j := 0; j <= n; j++ {
			ln = append(ln, [2]int{i, j})
		}
		lines = append(lines, ln)
	}
	for j := 0; j <= n; j++ {
		ln := make([][2]int, 0, m+1)
		for i := 0; i <= m; i++ {
			ln = append(ln, [2]int{i, j})
		}
		lines = append(lines, ln)
	}
	return lines
}

func gridToIndex(g, size int) int {
	if g == size {
		return Total
	}
	return g
}

package report

import "fmt"

// View is what a reader of a published table knows. Values and Known are
// (Rows+1)×(Cols+1) grids whose last row and column are the totals; a value
// where Known is false is hidden and ignored.
type View struct {
	Rows, Cols int
	Values     [][]int
	Known      [][]bool
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
	if o.Margin < 1 {
		o.Margin = 1
	}
	p, pos, err := buildLinear(v, o)
	if err != nil || len(pos) == 0 {
		return nil, err
	}
	bs, err := p.ranges()
	if err != nil {
		return nil, err
	}
	m, n := v.Rows, v.Cols
	out := make([]Interval, len(pos))
	for k, b := range bs {
		iv := Interval{
			Row: gridToIndex(pos[k][0], m), Col: gridToIndex(pos[k][1], n),
			Min: int(b.lo) + o.Lower, Max: int(b.hi) + o.Lower, Unbounded: b.unbounded,
		}
		if b.unbounded {
			iv.Max = 0
		}
		iv.Disclosed = !b.unbounded && iv.Max-iv.Min < o.Margin
		out[k] = iv
	}
	return out, nil
}

// buildLinear turns a view into the linear system over its hidden entries
// (in row-major order, positions in pos).
func buildLinear(v View, o AuditOptions) (linear, [][2]int, error) {
	m, n := v.Rows, v.Cols
	// Variables: the hidden entries, shifted by Lower so that y ≥ 0.
	id := make([][]int, m+1)
	var pos [][2]int
	for i := 0; i <= m; i++ {
		id[i] = make([]int, n+1)
		for j := 0; j <= n; j++ {
			id[i][j] = -1
			if !v.Known[i][j] {
				id[i][j] = len(pos)
				pos = append(pos, [2]int{i, j})
			}
		}
	}
	if len(pos) == 0 {
		return linear{}, nil, nil
	}
	p := linear{nv: len(pos)}
	addLine := func(cells [][2]int) error {
		row := make([]int64, p.nv)
		var rhs int64
		vars := false
		for k, c := range cells {
			coef := int64(1)
			if k == len(cells)-1 { // the total
				coef = -1
			}
			if x := id[c[0]][c[1]]; x >= 0 {
				row[x] += coef
				rhs -= coef * int64(o.Lower)
				vars = true
			} else {
				rhs -= coef * int64(v.Values[c[0]][c[1]])
			}
		}
		if !vars {
			if rhs != 0 {
				return fmt.Errorf("line through (%d,%d) does not add up: %w", cells[0][0], cells[0][1], ErrInconsistent)
			}
			return nil
		}
		if rhs < 0 {
			for j := range row {
				row[j] = -row[j]
			}
			rhs = -rhs
		}
		p.a = append(p.a, row)
		p.b = append(p.b, rhs)
		return nil
	}
	for _, ln := range gridLines(m, n) {
		if err := addLine(ln); err != nil {
			return linear{}, nil, err
		}
	}
	return p, pos, nil
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

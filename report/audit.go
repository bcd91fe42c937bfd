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
	if o.Margin < 1 {
		o.Margin = 1
	}
	p, pos, err := buildLinear(views, o)
	if err != nil {
		return nil, err
	}
	out := make([][]Interval, len(views))
	if p.nv == 0 {
		return out, nil
	}
	bs, err := p.ranges()
	if err != nil {
		return nil, err
	}
	for _, e := range pos {
		b, v := bs[e.x], views[e.view]
		iv := Interval{
			Row: gridToIndex(e.i, v.Rows), Col: gridToIndex(e.j, v.Cols),
			Min: int(b.lo) + o.Lower, Max: int(b.hi) + o.Lower, Unbounded: b.unbounded,
		}
		if b.unbounded {
			iv.Max = 0
		}
		iv.Disclosed = !b.unbounded && iv.Max-iv.Min < o.Margin
		out[e.view] = append(out[e.view], iv)
	}
	return out, nil
}

// hiddenEntry is a hidden grid entry of a view and its variable.
type hiddenEntry struct{ view, i, j, x int }

// buildLinear turns views into one linear system over their hidden entries
// (shared margins being one variable, or a constant when some view
// publishes them).
func buildLinear(views []View, o AuditOptions) (linear, []hiddenEntry, error) {
	known := map[string]int{}
	for _, v := range views {
		for i := 0; i <= v.Rows; i++ {
			for j := 0; j <= v.Cols; j++ {
				k := v.key(i, j)
				if k == "" || !v.Known[i][j] {
					continue
				}
				if old, ok := known[k]; ok && old != v.Values[i][j] {
					return linear{}, nil, fmt.Errorf("margin %s published as %d and %d: %w", k, old, v.Values[i][j], ErrInconsistent)
				}
				known[k] = v.Values[i][j]
			}
		}
	}
	// term of entry (i, j) of view t: a variable (x ≥ 0) or a constant.
	type term struct {
		x     int // -1 for a constant
		value int
	}
	shared := map[string]int{}
	var pos []hiddenEntry
	terms := make([][][]term, len(views))
	nv := 0
	for t, v := range views {
		terms[t] = make([][]term, v.Rows+1)
		for i := 0; i <= v.Rows; i++ {
			terms[t][i] = make([]term, v.Cols+1)
			for j := 0; j <= v.Cols; j++ {
				k := v.key(i, j)
				switch val, ok := known[k]; {
				case v.Known[i][j]:
					terms[t][i][j] = term{x: -1, value: v.Values[i][j]}
					continue
				case k != "" && ok:
					terms[t][i][j] = term{x: -1, value: val}
					continue
				}
				x, ok := shared[k]
				if k == "" || !ok {
					x = nv
					nv++
					if k != "" {
						shared[k] = x
					}
				}
				terms[t][i][j] = term{x: x}
				pos = append(pos, hiddenEntry{view: t, i: i, j: j, x: x})
			}
		}
	}
	if nv == 0 {
		return linear{}, pos, nil
	}
	p := linear{nv: nv}
	for t, v := range views {
		for _, ln := range gridLines(v.Rows, v.Cols) {
			row := make([]int64, nv)
			var rhs int64
			vars := false
			for k, c := range ln {
				coef := int64(1)
				if k == len(ln)-1 { // the total
					coef = -1
				}
				if tm := terms[t][c[0]][c[1]]; tm.x >= 0 {
					row[tm.x] += coef
					rhs -= coef * int64(o.Lower)
					vars = true
				} else {
					rhs -= coef * int64(tm.value)
				}
			}
			if !vars {
				if rhs != 0 {
					return linear{}, nil, fmt.Errorf("line through (%d,%d) does not add up: %w", ln[0][0], ln[0][1], ErrInconsistent)
				}
				continue
			}
			if rhs < 0 {
				for j := range row {
					row[j] = -row[j]
				}
				rhs = -rhs
			}
			p.a = append(p.a, row)
			p.b = append(p.b, rhs)
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

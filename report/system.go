package report

import "fmt"

// system is what disclosure control reasons on: entries (non-negative
// integers, each the cell or margin of one or more tables) tied by lines,
// each saying that its entries but the last sum to the last. One table
// gives the rows and columns of its grid; linked tables share the entries
// of equal margins; layered tables add, for each position, the line that
// sums the layers into the total table.
type system struct {
	n      int
	id     [][][]int // table → grid row → grid column → entry
	occ    [][]loc   // entry → where it appears
	lines  [][]int   // entry ids, total last
	of     [][]int   // entry → the lines it is in
	margin []bool    // a total of some sort: hidden only after inner cells
}

type loc struct{ view, i, j int }

// newSystem builds the system of tables of the given shapes (rows, columns
// without totals). key, when not nil, names shared margins (see View.key);
// layered means the last table is the sum of the others.
func newSystem(shapes [][2]int, key func(k, i, j int) string, layered bool) *system {
	s := &system{id: make([][][]int, len(shapes))}
	byKey := map[string]int{}
	for k, sh := range shapes {
		m, n := sh[0], sh[1]
		s.id[k] = make([][]int, m+1)
		for i := 0; i <= m; i++ {
			s.id[k][i] = make([]int, n+1)
			for j := 0; j <= n; j++ {
				name := ""
				if key != nil {
					name = key(k, i, j)
				}
				e, ok := byKey[name]
				if name == "" || !ok {
					e = s.n
					s.n++
					s.occ = append(s.occ, nil)
					s.margin = append(s.margin, false)
					if name != "" {
						byKey[name] = e
					}
				}
				s.id[k][i][j] = e
				s.occ[e] = append(s.occ[e], loc{k, i, j})
				if i == m || j == n || (layered && k == len(shapes)-1) {
					s.margin[e] = true
				}
			}
		}
		for _, ln := range gridLines(m, n) {
			ids := make([]int, len(ln))
			for x, c := range ln {
				ids[x] = s.id[k][c[0]][c[1]]
			}
			s.lines = append(s.lines, ids)
		}
	}
	if layered && len(shapes) > 1 {
		last := len(shapes) - 1
		m, n := shapes[last][0], shapes[last][1]
		for i := 0; i <= m; i++ {
			for j := 0; j <= n; j++ {
				ids := make([]int, 0, len(shapes))
				for k := range shapes {
					ids = append(ids, s.id[k][i][j])
				}
				s.lines = append(s.lines, ids)
			}
		}
	}
	s.of = make([][]int, s.n)
	for li, ln := range s.lines {
		for _, e := range ln {
			s.of[e] = append(s.of[e], li)
		}
	}
	return s
}

// bounds returns, for every entry that is not known, its feasible interval
// given the known values, every line and a lower bound o.Lower (Row and Col
// left zero). Entries that are known get a zero Interval.
//
// With decide set, only Disclosed is guaranteed: an entry found to vary by
// at least o.Margin may get a narrower Min and Max than its true ones.
func (s *system) bounds(val []int, known []bool, o AuditOptions, decide bool) ([]Interval, error) {
	p, vars, err := s.linear(val, known, o)
	if err != nil {
		return nil, err
	}
	out := make([]Interval, s.n)
	if p.nv == 0 {
		return out, nil
	}
	width := int64(0)
	if decide {
		width = int64(o.Margin)
	}
	bs, err := p.ranges(width)
	if err != nil {
		return nil, err
	}
	for e, v := range vars {
		if v < 0 {
			continue
		}
		b := bs[v]
		iv := Interval{Min: int(b.lo) + o.Lower, Max: int(b.hi) + o.Lower, Unbounded: b.unbounded}
		if b.unbounded {
			iv.Max = 0
		}
		iv.Disclosed = !b.unbounded && !b.partial && iv.Max-iv.Min < o.Margin
		out[e] = iv
	}
	return out, nil
}

// linear turns the system into equalities over the unknown entries, each
// shifted by o.Lower so that the variables are non-negative; vars maps an
// entry to its variable, -1 when known.
func (s *system) linear(val []int, known []bool, o AuditOptions) (linear, []int, error) {
	vars := make([]int, s.n)
	nv := 0
	for e := range vars {
		vars[e] = -1
		if !known[e] {
			vars[e] = nv
			nv++
		}
	}
	p := linear{nv: nv}
	for _, ln := range s.lines {
		row := make([]int64, nv)
		var rhs int64
		hasVar := false
		for x, e := range ln {
			coef := int64(1)
			if x == len(ln)-1 {
				coef = -1
			}
			if v := vars[e]; v >= 0 {
				row[v] += coef
				rhs -= coef * int64(o.Lower)
				hasVar = true
			} else {
				rhs -= coef * int64(val[e])
			}
		}
		if !hasVar {
			if rhs != 0 {
				return linear{}, nil, fmt.Errorf("a published total is not the sum of its published parts: %w", ErrInconsistent)
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
	return p, vars, nil
}

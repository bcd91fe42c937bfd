package report

import "fmt"

// Policy is the disclosure-control rule applied by Protect.
type Policy struct {
	// Threshold: every entry with 0 < value < Threshold is suppressed
	// (primary suppression). Zero means 3, the SISTAN threshold; 1 turns
	// suppression off (see NoSuppression). Zeros are always published: an
	// empty cell reveals nobody, and publishing zeros is the convention of
	// official statistics.
	Threshold int
	// Margin is the least width max−min that the feasible interval of every
	// suppressed entry must keep (see AuditOptions.Margin). Zero means 1:
	// no suppressed entry may be recomputable exactly.
	Margin int
}

// DefaultPolicy is the policy of published reports: threshold 3.
var DefaultPolicy = Policy{Threshold: 3, Margin: 1}

// NoSuppression publishes everything. It is for counts that are not about
// persons (facilities, authorised places), which the registry publishes
// anyway.
var NoSuppression = Policy{Threshold: 1, Margin: 1}

func (p Policy) withDefaults() Policy {
	if p.Threshold == 0 {
		p.Threshold = DefaultPolicy.Threshold
	}
	if p.Margin < 1 {
		p.Margin = 1
	}
	return p
}

// Protect applies disclosure control to the table, totals included:
//
//  1. primary suppression of every entry with 0 < value < Threshold (a
//     small row, column or grand total too);
//  2. secondary suppression until every row and column of the table, the
//     totals row and column included, holds either no suppressed entry or
//     at least two: each time one is missing, the smallest non-zero
//     published entry of that line is suppressed, inner cells before
//     totals, and among equal values one whose crossing line needs a
//     partner too (one suppression then serves two lines);
//  3. the auditor (Audit) then looks for suppressed entries that the
//     published ones still pin down, as chains of rows and columns can do
//     even with two suppressions per line; for each one found, the smallest
//     non-zero published entry in its row or column is suppressed; steps 2
//     and 3 repeat until the auditor finds nothing.
//
// The loop ends: every round suppresses at least one more entry, and with
// every non-zero entry suppressed nothing can be pinned down (adding 1 to a
// cell, its two totals and the grand total gives another solution). The
// result is correct by construction, since it is what the auditor accepts;
// it is not guaranteed to lose the least information (that problem is
// NP-hard), only to suppress small entries first.
func (t *Table) Protect(p Policy) error {
	return protectSystem(p, []*Table{t}, newSystem([][2]int{{t.NumRows(), t.NumCols()}}, nil, false))
}

// ProtectLinked protects tables published together that tabulate the same
// population, such as minors by zone × sex and by zone × age class. Their
// margins over the same category of the same dimension (the zone totals,
// say) and their grand totals are one quantity: ProtectLinked suppresses
// such a margin in every table or in none, and audits all the tables as one
// system, since an attacker combines them. Tables related by other sums (a
// Cross dimension beside one of its factors, layers beside their sum: see
// ProtectLayers) are not known to be linked and must not be published
// together.
//
// The dimension code names the variable: a table that crosses a variable
// with itself (zone of origin × zone of destination) must give its two
// dimensions different codes, and ProtectLinked refuses one that does not.
//
// It returns ErrInconsistent when the tables disagree on a shared margin.
func ProtectLinked(p Policy, tables ...*Table) error {
	shapes := make([][2]int, len(tables))
	views := make([]View, len(tables))
	for k, t := range tables {
		if t.Rows.Code == t.Cols.Code {
			return fmt.Errorf("protect %s: rows and columns share the dimension code %q", t.ID, t.Rows.Code)
		}
		shapes[k] = [2]int{t.NumRows(), t.NumCols()}
		t.status = nil
		views[k] = t.View() // for the keys only: nothing is known yet
	}
	key := func(k, i, j int) string { return views[k].key(i, j) }
	return protectSystem(p, tables, newSystem(shapes, key, false))
}

// ProtectLayers protects a three-way tabulation published as one table per
// layer (per zone, say) together with the table of their sum (the region):
// every entry of total, margins included, is the sum of the same entry of
// the layers, and the audit uses those relations too. All tables must have
// the same dimensions. The auditor's bounds are those of the rational
// relaxation (see AuditLayers).
//
// It is far slower than Protect: 28 zones of 12 typologies × 6 age classes
// take one to two minutes here, against under a second for the same counts
// as one table whose rows are Cross(zone, typology), which is the better
// choice when the regional table need not be published beside the zones'.
func ProtectLayers(p Policy, total *Table, layers ...*Table) error {
	tables := append(append([]*Table(nil), layers...), total)
	shapes := make([][2]int, len(tables))
	for k, t := range tables {
		if !sameDim(t.Rows, total.Rows) || !sameDim(t.Cols, total.Cols) {
			return fmt.Errorf("protect layers: %s and %s have different dimensions", t.ID, total.ID)
		}
		shapes[k] = [2]int{t.NumRows(), t.NumCols()}
	}
	m, n := total.NumRows(), total.NumCols()
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			sum := 0
			for _, l := range layers {
				sum += l.counts[i][j]
			}
			if sum != total.counts[i][j] {
				return fmt.Errorf("protect layers: %s is not the sum of its layers at (%d,%d): %w", total.ID, i, j, ErrInconsistent)
			}
		}
	}
	return protectSystem(p, tables, newSystem(shapes, nil, true))
}

// protectSystem runs the suppression of Protect on a system of tables and
// writes the statuses back into them.
func protectSystem(p Policy, tables []*Table, s *system) error {
	p = p.withDefaults()
	val := make([]int, s.n)
	seen := make([]bool, s.n)
	for k, t := range tables {
		g := t.grid()
		for i := range g {
			for j, v := range g[i] {
				e := s.id[k][i][j]
				if seen[e] && val[e] != v {
					return fmt.Errorf("protect: tables disagree on a shared margin of %s (%d, %d): %w", t.ID, val[e], v, ErrInconsistent)
				}
				val[e], seen[e] = v, true
			}
		}
	}
	st := make([]Status, s.n)
	for e, v := range val {
		if v > 0 && v < p.Threshold {
			st[e] = Primary
		}
	}
	count := func(li int) int {
		c := 0
		for _, e := range s.lines[li] {
			if st[e].Suppressed() {
				c++
			}
		}
		return c
	}
	// pick chooses the entry to suppress in line li: the smallest non-zero
	// published one, inner cells before totals, and among equals one that
	// is in another line with a single suppression (it then serves both).
	pick := func(li int) (int, bool) {
		best, found := 0, false
		var bestKey [3]int
		for _, e := range s.lines[li] {
			if st[e].Suppressed() || val[e] == 0 {
				continue
			}
			needy := 1
			for _, other := range s.of[e] {
				if other != li && count(other) == 1 {
					needy = 0
				}
			}
			margin := 0
			if s.margin[e] {
				margin = 1
			}
			key := [3]int{margin, val[e], needy}
			if !found || less3(key, bestKey) {
				best, bestKey, found = e, key, true
			}
		}
		return best, found
	}
	if p.Threshold > 1 {
		known := make([]bool, s.n)
		for {
			for changed := true; changed; {
				changed = false
				for li := range s.lines {
					if count(li) != 1 {
						continue
					}
					e, ok := pick(li)
					if !ok {
						// A suppressed entry is non-zero, so its line has
						// another non-zero entry; none means a bug.
						return fmt.Errorf("protect: line %d has no partner", li)
					}
					st[e] = Secondary
					changed = true
				}
			}
			for e := range known {
				known[e] = !st[e].Suppressed()
			}
			found, err := s.bounds(val, known, AuditOptions{Lower: 1, Margin: p.Margin}, true)
			if err != nil {
				return fmt.Errorf("protect: %w", err)
			}
			touched := make(map[int]bool)
			more, disclosed := false, false
			for e, iv := range found {
				if known[e] || !iv.Disclosed {
					continue
				}
				disclosed = true
				skip := false
				for _, li := range s.of[e] {
					skip = skip || touched[li]
				}
				if skip {
					continue // the suppression added for a neighbour may be enough
				}
				best, ok := 0, false
				for _, li := range s.of[e] {
					if c, okc := pick(li); okc && (!ok || val[c] < val[best]) {
						best, ok = c, true
					}
				}
				if !ok {
					for c := range val {
						if val[c] > 0 && !st[c].Suppressed() && (!ok || val[c] < val[best]) {
							best, ok = c, true
						}
					}
				}
				if !ok {
					continue // this round's additions hid everything: audit again
				}
				st[best] = Secondary
				for _, li := range s.of[e] {
					touched[li] = true
				}
				for _, li := range s.of[best] {
					touched[li] = true
				}
				more = true
			}
			if !disclosed {
				break
			}
			if !more {
				// Everything non-zero is hidden, and then adding one to a
				// cell and to every total over it is another solution:
				// the auditor cannot find a disclosure.
				return fmt.Errorf("protect: disclosure left with everything suppressed")
			}
		}
	}
	for k, t := range tables {
		m, n := t.NumRows(), t.NumCols()
		t.status = make([][]Status, m+1)
		for i := range t.status {
			t.status[i] = make([]Status, n+1)
			for j := range t.status[i] {
				t.status[i][j] = st[s.id[k][i][j]]
			}
		}
		t.policy = p
	}
	return nil
}

func less3(a, b [3]int) bool {
	for k := range a {
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return false
}

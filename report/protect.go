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
	p = p.withDefaults()
	g := t.grid()
	m, n := t.NumRows(), t.NumCols()
	st := make([][]Status, m+1)
	for i := range st {
		st[i] = make([]Status, n+1)
		for j := range st[i] {
			if v := g[i][j]; v > 0 && v < p.Threshold {
				st[i][j] = Primary
			}
		}
	}
	lines := gridLines(m, n)
	// lineOf[i][j] = the row line and the column line of an entry.
	rowLine := func(i int) int { return i }
	colLine := func(j int) int { return m + 1 + j }
	count := func(ln [][2]int) int {
		c := 0
		for _, e := range ln {
			if st[e[0]][e[1]].Suppressed() {
				c++
			}
		}
		return c
	}
	// pick chooses the entry to suppress in line li; ok is false when the
	// line has no non-zero published entry.
	pick := func(li int) ([2]int, bool) {
		var best [2]int
		found := false
		bestKey := [3]int{}
		for _, e := range lines[li] {
			if st[e[0]][e[1]].Suppressed() || g[e[0]][e[1]] == 0 {
				continue
			}
			cross := colLine(e[1])
			if li > m {
				cross = rowLine(e[0])
			}
			needy := 1
			if count(lines[cross]) == 1 {
				needy = 0
			}
			margin := 0
			if e[0] == m || e[1] == n {
				margin = 1
			}
			key := [3]int{margin, g[e[0]][e[1]], needy}
			if !found || less3(key, bestKey) {
				best, bestKey, found = e, key, true
			}
		}
		return best, found
	}
	if p.Threshold > 1 {
		for {
			for changed := true; changed; {
				changed = false
				for li, ln := range lines {
					if count(ln) != 1 {
						continue
					}
					e, ok := pick(li)
					if !ok {
						// A suppressed entry is non-zero, so its line has
						// another non-zero entry; none means a bug.
						return fmt.Errorf("protect %s: line %d has no partner", t.ID, li)
					}
					st[e[0]][e[1]] = Secondary
					changed = true
				}
			}
			t.status, t.policy = st, p
			found, err := Audit(t.View(), AuditOptions{Lower: 1, Margin: p.Margin})
			if err != nil {
				return fmt.Errorf("protect %s: %w", t.ID, err)
			}
			touched := make(map[int]bool)
			more := false
			for _, iv := range found {
				if !iv.Disclosed {
					continue
				}
				i, j := t.gi(iv.Row), t.gj(iv.Col)
				if touched[rowLine(i)] || touched[colLine(j)] {
					continue // the suppression added for a neighbour may be enough
				}
				e, ok := pick(rowLine(i))
				if e2, ok2 := pick(colLine(j)); ok2 && (!ok || g[e2[0]][e2[1]] < g[e[0]][e[1]]) {
					e, ok = e2, true
				}
				if !ok {
					e, ok = smallestPublished(g, st)
				}
				if !ok {
					return fmt.Errorf("protect %s: entry (%d,%d) disclosed with everything suppressed", t.ID, i, j)
				}
				st[e[0]][e[1]] = Secondary
				touched[rowLine(i)], touched[colLine(j)] = true, true
				touched[rowLine(e[0])], touched[colLine(e[1])] = true, true
				more = true
			}
			if !more {
				break
			}
		}
	}
	t.status, t.policy = st, p
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

func smallestPublished(g [][]int, st [][]Status) ([2]int, bool) {
	var best [2]int
	found := false
	for i := range g {
		for j, v := range g[i] {
			if v == 0 || st[i][j].Suppressed() {
				continue
			}
			if !found || v < g[best[0]][best[1]] {
				best, found = [2]int{i, j}, true
			}
		}
	}
	return best, found
}

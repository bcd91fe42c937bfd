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
	return ProtectLinked(p, t)
}

// ProtectLinked protects tables published together that tabulate the same
// population, such as minors by zone × sex and by zone × age class. Their
// margins over the same category of the same dimension (the zone totals,
// say) and their grand totals are one quantity: ProtectLinked suppresses
// such a margin in every table or in none, and audits all the tables as one
// system, since an attacker combines them. Tables related by other sums (a
// Cross dimension beside one of its factors) are not known to be linked and
// must not be published together.
//
// It returns ErrInconsistent when the tables disagree on a shared margin.
func ProtectLinked(p Policy, tables ...*Table) error {
	p = p.withDefaults()
	ps := make([]*protector, len(tables))
	for k, t := range tables {
		ps[k] = newProtector(t, p)
	}
	// Shared margins: every occurrence of each key.
	occ := map[string][][3]int{}
	val := map[string]int{}
	for k, pr := range ps {
		v := pr.t.View()
		for i := 0; i <= pr.m; i++ {
			for j := 0; j <= pr.n; j++ {
				key := v.key(i, j)
				if key == "" {
					continue
				}
				if old, ok := val[key]; ok && old != pr.g[i][j] {
					return fmt.Errorf("protect: tables disagree on margin %s (%d, %d): %w", key, old, pr.g[i][j], ErrInconsistent)
				}
				val[key] = pr.g[i][j]
				occ[key] = append(occ[key], [3]int{k, i, j})
			}
		}
	}
	keyOf := func(k, i, j int) string {
		pr := ps[k]
		switch {
		case i == pr.m && j == pr.n:
			return "total"
		case j == pr.n:
			return pr.t.Rows.Code + "=" + pr.t.Rows.Categories[i].Code
		case i == pr.m:
			return pr.t.Cols.Code + "=" + pr.t.Cols.Categories[j].Code
		}
		return ""
	}
	// suppress marks an entry and, for a shared margin, its copies.
	suppress := func(k, i, j int) {
		ps[k].st[i][j] = Secondary
		if key := keyOf(k, i, j); key != "" {
			for _, o := range occ[key] {
				if !ps[o[0]].st[o[1]][o[2]].Suppressed() {
					ps[o[0]].st[o[1]][o[2]] = Secondary
				}
			}
		}
	}
	if p.Threshold > 1 {
		for {
			for changed := true; changed; {
				changed = false
				for k, pr := range ps {
					for li, ln := range pr.lines {
						if pr.count(ln) != 1 {
							continue
						}
						e, ok := pr.pick(li)
						if !ok {
							// A suppressed entry is non-zero, so its line has
							// another non-zero entry; none means a bug.
							return fmt.Errorf("protect %s: line %d has no partner", pr.t.ID, li)
						}
						suppress(k, e[0], e[1])
						changed = true
					}
				}
			}
			views := make([]View, len(ps))
			for k, pr := range ps {
				pr.t.status, pr.t.policy = pr.st, p
				views[k] = pr.t.View()
			}
			found, err := AuditLinked(views, AuditOptions{Lower: 1, Margin: p.Margin})
			if err != nil {
				return fmt.Errorf("protect: %w", err)
			}
			more := false
			for k, pr := range ps {
				touched := make(map[int]bool)
				for _, iv := range found[k] {
					if !iv.Disclosed {
						continue
					}
					i, j := pr.t.gi(iv.Row), pr.t.gj(iv.Col)
					if touched[pr.rowLine(i)] || touched[pr.colLine(j)] {
						continue // the suppression added for a neighbour may be enough
					}
					e, ok := pr.pick(pr.rowLine(i))
					if e2, ok2 := pr.pick(pr.colLine(j)); ok2 && (!ok || pr.g[e2[0]][e2[1]] < pr.g[e[0]][e[1]]) {
						e, ok = e2, true
					}
					if !ok {
						e, ok = smallestPublished(pr.g, pr.st)
					}
					if !ok {
						continue // everything of this table is hidden: another table must give way
					}
					suppress(k, e[0], e[1])
					touched[pr.rowLine(i)], touched[pr.colLine(j)] = true, true
					touched[pr.rowLine(e[0])], touched[pr.colLine(e[1])] = true, true
					more = true
				}
			}
			if more {
				continue
			}
			disclosed := false
			for _, f := range found {
				for _, iv := range f {
					disclosed = disclosed || iv.Disclosed
				}
			}
			if !disclosed {
				break
			}
			// Every table whose entries are disclosed is fully hidden,
			// which cannot be: adding one to a cell, its margins and the
			// grand total of every table is another solution.
			return fmt.Errorf("protect: disclosure left with everything suppressed")
		}
	}
	for _, pr := range ps {
		pr.t.status, pr.t.policy = pr.st, p
	}
	return nil
}

// protector is the state of one table during ProtectLinked.
type protector struct {
	t     *Table
	g     [][]int // true values, totals last
	st    [][]Status
	m, n  int
	lines [][][2]int
}

func newProtector(t *Table, p Policy) *protector {
	pr := &protector{t: t, g: t.grid(), m: t.NumRows(), n: t.NumCols()}
	pr.lines = gridLines(pr.m, pr.n)
	pr.st = make([][]Status, pr.m+1)
	for i := range pr.st {
		pr.st[i] = make([]Status, pr.n+1)
		for j := range pr.st[i] {
			if v := pr.g[i][j]; v > 0 && v < p.Threshold {
				pr.st[i][j] = Primary
			}
		}
	}
	return pr
}

func (pr *protector) rowLine(i int) int { return i }
func (pr *protector) colLine(j int) int { return pr.m + 1 + j }

func (pr *protector) count(ln [][2]int) int {
	c := 0
	for _, e := range ln {
		if pr.st[e[0]][e[1]].Suppressed() {
			c++
		}
	}
	return c
}

// pick chooses the entry to suppress in line li: the smallest non-zero
// published one, inner cells before totals, and among equals one whose
// crossing line has a single suppression. ok is false when the line has no
// non-zero published entry.
func (pr *protector) pick(li int) ([2]int, bool) {
	var best [2]int
	found := false
	bestKey := [3]int{}
	for _, e := range pr.lines[li] {
		if pr.st[e[0]][e[1]].Suppressed() || pr.g[e[0]][e[1]] == 0 {
			continue
		}
		cross := pr.colLine(e[1])
		if li > pr.m {
			cross = pr.rowLine(e[0])
		}
		needy := 1
		if pr.count(pr.lines[cross]) == 1 {
			needy = 0
		}
		margin := 0
		if e[0] == pr.m || e[1] == pr.n {
			margin = 1
		}
		key := [3]int{margin, pr.g[e[0]][e[1]], needy}
		if !found || less3(key, bestKey) {
			best, bestKey, found = e, key, true
		}
	}
	return best, found
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

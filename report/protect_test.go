package report

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dim(code string, n int) Dimension {
	d := Dimension{Code: code, Label: Label{IT: code, EN: code}}
	for i := range n {
		c := fmt.Sprintf("%s%d", code, i+1)
		d.Categories = append(d.Categories, Category{Code: c, Label: Label{IT: c, EN: c}})
	}
	return d
}

func tableOf(rows [][]int) *Table {
	t := NewTable("t", Label{IT: "prova", EN: "test"}, dim("r", len(rows)), dim("c", len(rows[0])))
	for i, row := range rows {
		for j, v := range row {
			t.Set(i, j, v)
		}
	}
	return t
}

// viewOf builds a view from a grid of true values (totals included) and the
// hidden positions.
func viewOf(g [][]int, hidden [][2]int) View {
	m, n := len(g)-1, len(g[0])-1
	v := View{Rows: m, Cols: n, Values: make([][]int, m+1), Known: make([][]bool, m+1)}
	for i := range g {
		v.Values[i] = append([]int(nil), g[i]...)
		v.Known[i] = make([]bool, n+1)
		for j := range v.Known[i] {
			v.Known[i][j] = true
		}
	}
	for _, h := range hidden {
		v.Known[h[0]][h[1]] = false
	}
	return v
}

var knownTable = [][]int{
	{10, 2, 15},
	{20, 30, 25},
	{8, 12, 40},
}

func TestProtectKnownAnswer(t *testing.T) {
	tb := tableOf(knownTable)
	require.NoError(t, tb.Protect(DefaultPolicy))

	want := map[[2]int]Status{{0, 1}: Primary, {0, 0}: Secondary, {2, 0}: Secondary, {2, 1}: Secondary}
	for i := -1; i < 3; i++ {
		for j := -1; j < 3; j++ {
			assert.Equal(t, want[[2]int{i, j}], tb.Status(i, j), "status of (%d,%d)", i, j)
		}
	}
	v, ok := tb.Published(0, 1)
	assert.False(t, ok)
	assert.Zero(t, v)
	v, ok = tb.Published(Total, Total)
	assert.True(t, ok)
	assert.Equal(t, 162, v)

	// The rectangle (r1,r3)×(A,B): x1A+x1B=12, x3A+x3B=20, x1A+x3A=18,
	// x1B+x3B=14, each at least 1.
	ivs, err := tb.Audit()
	require.NoError(t, err)
	got := map[[2]int][2]int{}
	for _, iv := range ivs {
		assert.False(t, iv.Disclosed)
		assert.False(t, iv.Unbounded)
		got[[2]int{iv.Row, iv.Col}] = [2]int{iv.Min, iv.Max}
	}
	assert.Equal(t, map[[2]int][2]int{
		{0, 0}: {1, 11}, {0, 1}: {1, 11}, {2, 0}: {7, 17}, {2, 1}: {3, 13},
	}, got)
}

func TestAuditFlagsPrimaryOnly(t *testing.T) {
	g := tableOf(knownTable).grid()
	// Only the primary cell hidden: its row total gives it back.
	ivs, err := Audit(viewOf(g, [][2]int{{0, 1}}), AuditOptions{Lower: 1})
	require.NoError(t, err)
	require.Len(t, ivs, 1)
	assert.True(t, ivs[0].Disclosed)
	assert.Equal(t, 2, ivs[0].Min)
	assert.Equal(t, 2, ivs[0].Max)
}

func TestAuditFlagsBridge(t *testing.T) {
	// Two suppressed 2×2 rectangles joined by one suppressed cell: every row
	// and column has two suppressions, yet the joining cell is the total of
	// its side of the cut, so it is recomputable. The auditor must see it.
	rows := [][]int{
		{5, 6, 7, 0},
		{8, 9, 0, 0},
		{0, 0, 4, 5},
		{0, 0, 6, 7},
	}
	g := tableOf(rows).grid()
	hidden := [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 2}, {2, 3}, {3, 2}, {3, 3}, {0, 2}}
	ivs, err := Audit(viewOf(g, hidden), AuditOptions{Lower: 1})
	require.NoError(t, err)
	for _, iv := range ivs {
		if iv.Row == 0 && iv.Col == 2 {
			assert.True(t, iv.Disclosed, "bridge not flagged")
			assert.Equal(t, 7, iv.Min)
		} else {
			assert.False(t, iv.Disclosed, "(%d,%d) flagged", iv.Row, iv.Col)
		}
	}
	assert.False(t, witness(g, hidden, [2]int{0, 2}, 1))

	// Protect, given the same table with the primary cells that would lead
	// there, ends with nothing recomputable.
	tb := tableOf(rows)
	require.NoError(t, tb.Protect(Policy{Threshold: 10}))
	assertSafe(t, tb, Policy{Threshold: 10})
}

func TestAuditMarginAndUnbounded(t *testing.T) {
	// Whole table hidden but the grand total: nothing is pinned, and a cell
	// is bounded by the grand total.
	rows := [][]int{{3, 4}, {5, 6}}
	g := tableOf(rows).grid()
	var hidden [][2]int
	for i := 0; i <= 2; i++ {
		for j := 0; j <= 2; j++ {
			if i != 2 || j != 2 {
				hidden = append(hidden, [2]int{i, j})
			}
		}
	}
	ivs, err := Audit(viewOf(g, hidden), AuditOptions{Lower: 0, Margin: 30})
	require.NoError(t, err)
	for _, iv := range ivs {
		assert.Equal(t, 0, iv.Min)
		assert.Equal(t, 18, iv.Max)
		assert.True(t, iv.Disclosed, "width 18 < margin 30")
	}
	// Everything hidden: no upper limit.
	hidden = append(hidden, [2]int{2, 2})
	ivs, err = Audit(viewOf(g, hidden), AuditOptions{Lower: 1})
	require.NoError(t, err)
	for _, iv := range ivs {
		assert.True(t, iv.Unbounded)
		assert.False(t, iv.Disclosed)
	}
}

func TestAuditInconsistent(t *testing.T) {
	g := tableOf(knownTable).grid()
	g[0][3]++ // row total no longer the sum
	_, err := Audit(viewOf(g, [][2]int{{1, 1}}), AuditOptions{})
	assert.ErrorIs(t, err, ErrInconsistent)
	// A hidden entry that the totals force to 0, while hidden entries are
	// at least 1: no completion, found only by the simplex's first phase.
	tb := tableOf(knownTable)
	tb.Set(0, 1, 0)
	_, err = Audit(viewOf(tb.grid(), [][2]int{{0, 1}, {2, 1}}), AuditOptions{Lower: 1})
	assert.ErrorIs(t, err, ErrInconsistent)
}

func TestNoSuppression(t *testing.T) {
	tb := tableOf(knownTable)
	require.NoError(t, tb.Protect(NoSuppression))
	assert.Zero(t, tb.SuppressedCount())
	tb.Set(0, 0, 1)
	assert.False(t, tb.Protected(), "a change unprotects")
}

func TestSmallTotals(t *testing.T) {
	// A row of one small cell: the row total is as small and is hidden too,
	// and so is its partner in the column of row totals.
	tb := tableOf([][]int{{0, 1, 0}, {10, 20, 30}, {4, 0, 9}})
	require.NoError(t, tb.Protect(DefaultPolicy))
	assert.Equal(t, Primary, tb.Status(0, 1))
	assert.Equal(t, Primary, tb.Status(0, Total))
	assertSafe(t, tb, DefaultPolicy)
}

// randomTable draws a table with many small cells and zeros.
func randomTable(r *rand.Rand) *Table {
	m, n := 2+r.IntN(14), 2+r.IntN(9)
	rows := make([][]int, m)
	zeros, small := r.Float64()*0.4, r.Float64()*0.5
	for i := range rows {
		rows[i] = make([]int, n)
		for j := range rows[i] {
			switch x := r.Float64(); {
			case x < zeros:
			case x < zeros+small:
				rows[i][j] = 1 + r.IntN(3)
			default:
				rows[i][j] = 3 + r.IntN(60)
			}
		}
	}
	return tableOf(rows)
}

func TestProtectProperty(t *testing.T) {
	seeds := 1000
	if testing.Short() || raceEnabled {
		seeds = 200
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		tb := randomTable(r)
		p := DefaultPolicy
		if seed%5 == 4 {
			p = Policy{Threshold: 3, Margin: 3}
		}
		require.NoError(t, tb.Protect(p), "seed %d", seed)
		if !assertSafe(t, tb, p) {
			t.Fatalf("seed %d unsafe", seed)
		}
	}
}

// assertSafe checks a protected table with the auditor and, independently,
// with the witness search.
func assertSafe(t *testing.T, tb *Table, p Policy) bool {
	t.Helper()
	p = p.withDefaults()
	g := tb.grid()
	m, n := tb.NumRows(), tb.NumCols()
	var hidden [][2]int
	ok := true
	for i := 0; i <= m; i++ {
		for j := 0; j <= n; j++ {
			s := tb.status[i][j]
			v := g[i][j]
			if v > 0 && v < p.Threshold {
				ok = assert.Equal(t, Primary, s, "small entry (%d,%d)=%d published", i, j, v) && ok
			}
			if s.Suppressed() {
				ok = assert.NotZero(t, v, "zero suppressed") && ok
				hidden = append(hidden, [2]int{i, j})
			}
		}
	}
	for _, ln := range gridLines(m, n) {
		c := 0
		for _, e := range ln {
			if tb.status[e[0]][e[1]].Suppressed() {
				c++
			}
		}
		ok = assert.NotEqual(t, 1, c, "a line with one suppression") && ok
	}
	ivs, err := tb.Audit()
	if !assert.NoError(t, err) {
		return false
	}
	for _, iv := range ivs {
		ok = assert.False(t, iv.Disclosed, "(%d,%d) in [%d,%d]", iv.Row, iv.Col, iv.Min, iv.Max) && ok
		v := tb.Value(iv.Row, iv.Col)
		ok = assert.True(t, iv.Min <= v && (iv.Unbounded || v <= iv.Max), "true value outside interval") && ok
	}
	for _, h := range hidden {
		ok = assert.True(t, witness(g, hidden, h, 1), "no other table differs at %v", h) && ok
	}
	return ok
}

// witness reports whether another table, agreeing with every published
// entry and with every hidden entry at least lower, differs from g at entry
// e. It is an oracle independent of the simplex: the difference of two such
// tables decomposes into simple alternating cycles of hidden entries, each
// conformal to it, so if any other table exists, a unit step along one
// cycle through e gives one. The search is a BFS over row and column lines.
func witness(g [][]int, hidden [][2]int, e [2]int, lower int) bool {
	m, n := len(g)-1, len(g[0])-1
	// s is the sign of an entry in its two line equations once the totals
	// row and column equations are negated: -1 for a margin, +1 otherwise
	// (the grand total is +1).
	s := func(f [2]int) int {
		if (f[0] == m) != (f[1] == n) {
			return -1
		}
		return 1
	}
	for _, sigma := range []int{1, -1} {
		if g[e[0]][e[1]]+sigma*s(e) < lower {
			continue
		}
		// Nodes: rows 0..m, columns m+1..m+n+1. Walk from e's column to
		// e's row; an edge walked column→row changes by -σ·s, row→column
		// by +σ·s.
		prev := make([]int, m+n+2)
		for k := range prev {
			prev[k] = -2
		}
		start, goal := m+1+e[1], e[0]
		prev[start] = -1
		queue := []int{start}
		var path [][2]int
		edges := map[int][2]int{}
		for len(queue) > 0 && prev[goal] == -2 {
			u := queue[0]
			queue = queue[1:]
			for _, f := range hidden {
				if f == e {
					continue
				}
				var w, delta int
				switch {
				case u > m && f[1] == u-m-1:
					w, delta = f[0], -sigma*s(f)
				case u <= m && f[0] == u:
					w, delta = m+1+f[1], sigma*s(f)
				default:
					continue
				}
				if prev[w] != -2 || g[f[0]][f[1]]+delta < lower {
					continue
				}
				prev[w] = u
				edges[w] = f
				queue = append(queue, w)
			}
		}
		if prev[goal] == -2 {
			continue
		}
		for w := goal; w != start; w = prev[w] {
			path = append(path, edges[w])
		}
		// Check the alternative table directly.
		alt := make([][]int, m+1)
		for i := range g {
			alt[i] = append([]int(nil), g[i]...)
		}
		alt[e[0]][e[1]] += sigma * s(e)
		u := start
		for k := len(path) - 1; k >= 0; k-- {
			f := path[k]
			if u > m {
				alt[f[0]][f[1]] -= sigma * s(f)
				u = f[0]
			} else {
				alt[f[0]][f[1]] += sigma * s(f)
				u = m + 1 + f[1]
			}
		}
		if consistent(alt, lower) {
			return true
		}
		panic("witness: cycle step broke the table")
	}
	return false
}

func consistent(g [][]int, lower int) bool {
	m, n := len(g)-1, len(g[0])-1
	for _, ln := range gridLines(m, n) {
		sum := 0
		for _, e := range ln[:len(ln)-1] {
			sum += g[e[0]][e[1]]
		}
		last := ln[len(ln)-1]
		if sum != g[last[0]][last[1]] {
			return false
		}
	}
	for i := range g {
		for _, v := range g[i] {
			if v < lower && v != 0 {
				return false
			}
		}
	}
	return true
}

// The auditor and the witness oracle must agree on random hiding patterns,
// which include many disclosing ones.
func TestAuditMatchesWitness(t *testing.T) {
	seeds := 1000
	if testing.Short() || raceEnabled {
		seeds = 200
	}
	disclosed, safe := 0, 0
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		tb := randomTable(r)
		g := tb.grid()
		var hidden [][2]int
		p := 0.2 + 0.6*r.Float64()
		for i := range g {
			for j, v := range g[i] {
				if v > 0 && r.Float64() < p {
					hidden = append(hidden, [2]int{i, j})
				}
			}
		}
		ivs, err := Audit(viewOf(g, hidden), AuditOptions{Lower: 1})
		require.NoError(t, err, "seed %d", seed)
		require.Len(t, ivs, len(hidden))
		for k, iv := range ivs {
			h := hidden[k]
			w := witness(g, hidden, h, 1)
			require.Equal(t, !w, iv.Disclosed, "seed %d entry %v interval [%d,%d]", seed, h, iv.Min, iv.Max)
			if iv.Disclosed {
				disclosed++
			} else {
				safe++
			}
		}
	}
	t.Logf("%d disclosed and %d safe hidden entries agreed", disclosed, safe)
	assert.Positive(t, disclosed)
	assert.Positive(t, safe)
}

// The int64 and math/big arithmetics give the same bounds.
func TestRangesBigAgrees(t *testing.T) {
	for seed := range 40 {
		r := rand.New(rand.NewPCG(uint64(seed), 13))
		g := randomTable(r).grid()
		var hidden [][2]int
		for i := range g {
			for j, v := range g[i] {
				if v > 0 && r.Float64() < 0.5 {
					hidden = append(hidden, [2]int{i, j})
				}
			}
		}
		v := viewOf(g, hidden)
		sys := newSystem([][2]int{{v.Rows, v.Cols}}, nil, false)
		val := make([]int, sys.n)
		known := make([]bool, sys.n)
		for i := range g {
			for j := range g[i] {
				e := sys.id[0][i][j]
				val[e], known[e] = g[i][j], v.Known[i][j]
			}
		}
		p, _, err := sys.linear(val, known, AuditOptions{Lower: 1})
		require.NoError(t, err)
		small, err := p.ranges(0)
		require.NoError(t, err)
		big, err := rangesWith(p, bigQof, 0)
		require.NoError(t, err)
		require.Equal(t, small, big, "seed %d", seed)
	}
}

func TestQ64Overflow(t *testing.T) {
	assert.PanicsWithValue(t, errOverflow, func() { q64of(1 << 40).mul(q64of(1 << 40)) })
	assert.Equal(t, q64{1, 6}, mkq(1, 2).sub(mkq(1, 3)))
	f, _ := mkq(-7, 2).floor()
	c, _ := mkq(-7, 2).ceil()
	assert.Equal(t, [2]int64{-4, -3}, [2]int64{f, c})
	bf, _ := bigQ{big.NewRat(-7, 2)}.floor()
	bc, _ := bigQ{big.NewRat(-7, 2)}.ceil()
	assert.Equal(t, [2]int64{-4, -3}, [2]int64{bf, bc})
}

// The shortcut Protect uses (stop optimising an entry seen to vary enough)
// flags exactly what the full computation flags.
func TestDecideAgreesWithFull(t *testing.T) {
	for seed := range 200 {
		r := rand.New(rand.NewPCG(uint64(seed), 29))
		g := randomTable(r).grid()
		m, n := len(g)-1, len(g[0])-1
		sys := newSystem([][2]int{{m, n}}, nil, false)
		val := make([]int, sys.n)
		known := make([]bool, sys.n)
		p := 0.2 + 0.6*r.Float64()
		for i := range g {
			for j, v := range g[i] {
				e := sys.id[0][i][j]
				val[e], known[e] = v, v == 0 || r.Float64() >= p
			}
		}
		for _, margin := range []int{1, 3} {
			o := AuditOptions{Lower: 1, Margin: margin}
			full, err := sys.bounds(val, known, o, false)
			require.NoError(t, err)
			fast, err := sys.bounds(val, known, o, true)
			require.NoError(t, err)
			for e := range full {
				require.Equal(t, full[e].Disclosed, fast[e].Disclosed, "seed %d margin %d entry %d", seed, margin, e)
			}
		}
	}
}

func TestProtectEdgeCases(t *testing.T) {
	t.Run("noRows", func(t *testing.T) {
		tb := NewTable("e", Label{}, Dimension{Code: "r"}, dim("c", 3))
		require.NoError(t, tb.Protect(DefaultPolicy))
		v, ok := tb.Published(Total, Total)
		assert.True(t, ok)
		assert.Zero(t, v)
	})
	t.Run("oneCellSmall", func(t *testing.T) {
		tb := tableOf([][]int{{2}})
		require.NoError(t, tb.Protect(DefaultPolicy))
		assert.Equal(t, 4, tb.SuppressedCount(), "cell, both totals and the grand total")
		assertSafe(t, tb, DefaultPolicy)
	})
	t.Run("oneCellLarge", func(t *testing.T) {
		tb := tableOf([][]int{{20}})
		require.NoError(t, tb.Protect(DefaultPolicy))
		assert.Zero(t, tb.SuppressedCount())
	})
	t.Run("allZero", func(t *testing.T) {
		tb := tableOf([][]int{{0, 0}, {0, 0}})
		require.NoError(t, tb.Protect(DefaultPolicy))
		assert.Zero(t, tb.SuppressedCount())
	})
	t.Run("singleRow", func(t *testing.T) {
		// Column totals equal the cells: a small cell's column total is as
		// small, and the totals row needs a second suppression.
		tb := tableOf([][]int{{1, 40, 7, 0}})
		require.NoError(t, tb.Protect(DefaultPolicy))
		assert.True(t, tb.Status(Total, 0).Suppressed())
		assertSafe(t, tb, DefaultPolicy)
	})
	t.Run("largeValues", func(t *testing.T) {
		tb := tableOf([][]int{{1, 4_000_000_000, 7}, {3_000_000_000, 2, 5_000_000_000}})
		require.NoError(t, tb.Protect(DefaultPolicy))
		assertSafe(t, tb, DefaultPolicy)
	})
	t.Run("marginThree", func(t *testing.T) {
		tb := tableOf(knownTable)
		p := Policy{Threshold: 3, Margin: 30}
		require.NoError(t, tb.Protect(p))
		ivs, err := tb.Audit()
		require.NoError(t, err)
		for _, iv := range ivs {
			assert.True(t, iv.Unbounded || iv.Max-iv.Min >= 30)
		}
	})
}

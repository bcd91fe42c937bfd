package report

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linkedPair tabulates one random population of records twice, zone × sex
// and zone × age class, so the two tables share zone totals and the grand
// total.
func linkedPair(r *rand.Rand) (*Table, *Table) {
	zones := dim("z", 2+r.IntN(8))
	bySex := NewTable("by_sex", Label{IT: "per sesso"}, zones, SexDimension())
	byAge := NewTable("by_age", Label{IT: "per età"}, zones, AgeClassDimension())
	n := 20 + r.IntN(150)
	for range n {
		z := zones.Categories[r.IntN(len(zones.Categories))].Code
		// Skewed draws give many small cells.
		sex := SexDimension().Categories[min(r.IntN(5), 2)].Code
		age := AgeClasses[min(r.IntN(9), 5)].String()
		if err := bySex.Add(z, sex, 1); err != nil {
			panic(err)
		}
		if err := byAge.Add(z, age, 1); err != nil {
			panic(err)
		}
	}
	return bySex, byAge
}

func views(ts ...*Table) []View {
	out := make([]View, len(ts))
	for k, t := range ts {
		out[k] = t.View()
	}
	return out
}

func TestProtectLinked(t *testing.T) {
	seeds := 300
	if testing.Short() || raceEnabled {
		seeds = 80
	}
	leaks := 0
	for seed := range seeds {
		a, b := linkedPair(rand.New(rand.NewPCG(uint64(seed), 17)))

		// Protected one by one, each passes its own audit, yet together
		// they may not.
		require.NoError(t, a.Protect(DefaultPolicy))
		require.NoError(t, b.Protect(DefaultPolicy))
		found, err := AuditLinked(views(a, b), AuditOptions{Lower: 1})
		require.NoError(t, err)
		for _, f := range found {
			for _, iv := range f {
				if iv.Disclosed {
					leaks++
				}
			}
		}

		require.NoError(t, ProtectLinked(DefaultPolicy, a, b), "seed %d", seed)
		for r := -1; r < a.NumRows(); r++ {
			require.Equal(t, a.Status(r, Total).Suppressed(), b.Status(r, Total).Suppressed(), "seed %d zone %d", seed, r)
		}
		found, err = AuditLinked(views(a, b), AuditOptions{Lower: 1})
		require.NoError(t, err)
		for k, f := range found {
			for _, iv := range f {
				require.False(t, iv.Disclosed, "seed %d table %d entry (%d,%d)", seed, k, iv.Row, iv.Col)
			}
		}
		for _, tb := range []*Table{a, b} {
			for r := -1; r < tb.NumRows(); r++ {
				for c := -1; c < tb.NumCols(); c++ {
					if v := tb.Value(r, c); v > 0 && v < 3 {
						require.True(t, tb.Status(r, c).Suppressed())
					}
				}
			}
		}
	}
	t.Logf("separate protection left %d entries recomputable from the pair", leaks)
	assert.Positive(t, leaks, "the test should show why linked protection is needed")
}

func TestProtectLinkedDisagree(t *testing.T) {
	a := tableOf([][]int{{5, 6}, {7, 8}})
	b := tableOf([][]int{{5, 6}, {7, 9}})
	assert.ErrorIs(t, ProtectLinked(DefaultPolicy, a, b), ErrInconsistent)
}

// randomLayers draws 2-4 layer tables of one shape and their sum.
func randomLayers(r *rand.Rand) (*Table, []*Table) {
	m, n := 2+r.IntN(5), 2+r.IntN(4)
	rows, cols := dim("r", m), dim("c", n)
	total := NewTable("total", Label{IT: "totale"}, rows, cols)
	layers := make([]*Table, 2+r.IntN(3))
	for k := range layers {
		layers[k] = NewTable("layer", Label{IT: "strato"}, rows, cols)
		for i := range m {
			for j := range n {
				v := 0
				switch x := r.Float64(); {
				case x < 0.3:
				case x < 0.6:
					v = 1 + r.IntN(2)
				default:
					v = 3 + r.IntN(30)
				}
				layers[k].Set(i, j, v)
				total.Set(i, j, total.Value(i, j)+v)
			}
		}
	}
	return total, layers
}

func TestProtectLayers(t *testing.T) {
	seeds := 100
	if testing.Short() || raceEnabled {
		seeds = 25
	}
	leaks := 0
	for seed := range seeds {
		total, layers := randomLayers(rand.New(rand.NewPCG(uint64(seed), 23)))
		layerViews := func() []View {
			out := make([]View, len(layers))
			for k, l := range layers {
				out[k] = l.View()
			}
			return out
		}

		// One by one, then audited together.
		for _, tb := range append([]*Table{total}, layers...) {
			require.NoError(t, tb.Protect(DefaultPolicy))
		}
		found, err := AuditLayers(total.View(), layerViews(), AuditOptions{Lower: 1})
		require.NoError(t, err)
		for _, f := range found {
			for _, iv := range f {
				if iv.Disclosed {
					leaks++
				}
			}
		}

		require.NoError(t, ProtectLayers(DefaultPolicy, total, layers...), "seed %d", seed)
		found, err = AuditLayers(total.View(), layerViews(), AuditOptions{Lower: 1})
		require.NoError(t, err)
		require.Len(t, found, len(layers)+1)
		for k, f := range found {
			for _, iv := range f {
				require.False(t, iv.Disclosed, "seed %d table %d entry (%d,%d) in [%d,%d]", seed, k, iv.Row, iv.Col, iv.Min, iv.Max)
			}
		}
		for _, tb := range append([]*Table{total}, layers...) {
			require.True(t, tb.Protected())
			for r := -1; r < tb.NumRows(); r++ {
				for c := -1; c < tb.NumCols(); c++ {
					if v := tb.Value(r, c); v > 0 && v < 3 {
						require.True(t, tb.Status(r, c).Suppressed())
					}
				}
			}
		}
	}
	t.Logf("layers protected one by one left %d entries recomputable with their sum", leaks)
	assert.Positive(t, leaks)
}

func TestProtectLayersChecks(t *testing.T) {
	a := tableOf([][]int{{5, 6}, {7, 8}})
	b := tableOf([][]int{{5, 6}, {7, 8}})
	sum := tableOf([][]int{{10, 12}, {14, 17}})
	assert.ErrorIs(t, ProtectLayers(DefaultPolicy, sum, a, b), ErrInconsistent)
	other := NewTable("o", Label{}, dim("x", 2), dim("c", 2))
	assert.Error(t, ProtectLayers(DefaultPolicy, other, a, b))
}

func TestProtectSameCodeBothAxes(t *testing.T) {
	// Origin × destination: row and column totals of one zone differ.
	zones := dim("z", 3)
	tb := NewTable("transfers", Label{IT: "trasferimenti"}, zones, zones)
	for i, row := range [][]int{{0, 5, 1}, {7, 0, 9}, {4, 6, 0}} {
		for j, v := range row {
			tb.Set(i, j, v)
		}
	}
	require.NoError(t, tb.Protect(DefaultPolicy))
	assertSafe(t, tb, DefaultPolicy)
	assert.Error(t, ProtectLinked(DefaultPolicy, tb))
}

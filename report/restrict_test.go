package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRowOf: a zone's view of a protected table is its row, entry by
// entry (hidden where the table hides), its totals row the row itself.
func TestRowOf(t *testing.T) {
	rows := Dimension{Code: "zone", Categories: []Category{{Code: "A"}, {Code: "B"}, {Code: "C"}}}
	cols := Dimension{Code: "sex", Categories: []Category{{Code: "M"}, {Code: "F"}}}
	tab := NewTable("t", Label{IT: "t"}, rows, cols)
	for r, vs := range [][]int{{1, 9}, {8, 7}, {6, 5}} {
		for c, v := range vs {
			tab.Set(r, c, v)
		}
	}
	require.NoError(t, tab.Protect(DefaultPolicy))
	_, ok := tab.Published(0, 0)
	require.False(t, ok, "1 is suppressed")

	g, err := RowOf(tab, "A")
	require.NoError(t, err)
	assert.Equal(t, []Category{{Code: "A"}}, g.Header().Rows.Categories)
	assert.Same(t, tab, Unwrap(g))
	for c := Total; c < 2; c++ {
		want, wantOK := tab.Entry(0, c)
		for _, r := range []int{0, Total} {
			got, ok := g.Entry(r, c)
			assert.Equal(t, wantOK, ok)
			assert.Equal(t, want, got)
		}
	}
	_, ok = g.Entry(1, 0)
	assert.False(t, ok, "no second row")
	_, err = RowOf(tab, "Z")
	assert.ErrorIs(t, err, ErrUnknownCategory)
	assert.Same(t, tab, Unwrap(tab))
}

// TestQuantilesPublishOnlyWith: a group's statistics are hidden where the
// table of its counts hides the count, whatever its size.
func TestQuantilesPublishOnlyWith(t *testing.T) {
	rows := Dimension{Code: "zone", Categories: []Category{{Code: "A"}, {Code: "B"}, {Code: "C"}}}
	cols := Dimension{Code: "outcome", Categories: []Category{{Code: "1"}, {Code: "2"}}}
	tab := NewTable("d", Label{IT: "d"}, rows, cols)
	for r, vs := range [][]int{{50, 50}, {1, 1}, {4, 5}} { // B's total, 2, is hidden, and C's with it
		for c, v := range vs {
			tab.Set(r, c, v)
		}
	}
	// Sizes large enough to publish: only the table decides here.
	q := NewQuantiles("q", Label{IT: "q"}, rows, QuartileDimension(), DefaultPolicy, 0)
	require.NoError(t, q.Set("A", 100, []float64{1, 2, 3}))
	require.NoError(t, q.Set("B", 12, []float64{4, 5, 6}))
	require.NoError(t, q.Set("C", 11, []float64{4, 5, 6}))
	require.NoError(t, q.Set("", 123, []float64{7, 8, 9}))
	assert.ErrorIs(t, q.PublishOnlyWith(tab), ErrNotProtected)
	require.NoError(t, tab.Protect(DefaultPolicy))
	require.NoError(t, q.PublishOnlyWith(tab))
	for r := Total; r < 3; r++ {
		_, want := tab.Published(r, Total)
		_, got := q.Entry(r, 1)
		assert.Equal(t, want, got, "row %d", r)
	}
	_, ok := tab.Published(1, Total)
	assert.False(t, ok, "the example needs B's total hidden")
	_, ok = q.Entry(0, 1)
	assert.True(t, ok, "A's statistics stay")
}

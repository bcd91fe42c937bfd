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

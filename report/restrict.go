package report

import "fmt"

// RowOf returns the protected grid g restricted to its row with code:
// what the report of one zone publishes of the Region's table. The zone's
// view is then the Region's entry by entry — protected as part of the
// whole — so that asking for both gives back nothing either hides. (A
// zone's table protected on its own would suppress other entries than the
// Region's, and the two together could give a hidden entry back.) The
// totals row of the restriction is the row itself.
func RowOf(g Grid, code string) (Grid, error) {
	r := g.Header().Rows.Index(code)
	if r < 0 {
		return nil, fmt.Errorf("grid %s: row %q: %w", g.Header().ID, code, ErrUnknownCategory)
	}
	return &rowOf{g: g, r: r}, nil
}

type rowOf struct {
	g Grid
	r int
}

// Header implements Grid: the rows are the one kept.
func (v *rowOf) Header() Header {
	h := v.g.Header()
	rows := h.Rows
	rows.Categories = []Category{rows.Categories[v.r]}
	h.Rows = rows
	return h
}

// Entry implements Grid: row 0 and the totals row are the row kept.
func (v *rowOf) Entry(r, c int) (Number, bool) {
	if r != 0 && r != Total {
		return Number{}, false
	}
	return v.g.Entry(v.r, c)
}

// Protected implements Grid.
func (v *rowOf) Protected() bool { return v.g.Protected() }

// Unwrap returns the whole grid.
func (v *rowOf) Unwrap() Grid { return v.g }

// Unwrap returns the grid a restriction (RowOf) was made from, and g
// itself when it is not one: the concrete *Table, *Ratio or *Quantiles.
func Unwrap(g Grid) Grid {
	for {
		u, ok := g.(interface{ Unwrap() Grid })
		if !ok {
			return g
		}
		g = u.Unwrap()
	}
}

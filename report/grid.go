package report

import "fmt"

// Grid is what renderers print: a protected table of counts (*Table) or of
// ratios (*Ratio). Entry uses Total for margins and returns false for a
// hidden entry or an unprotected grid.
type Grid interface {
	Header() Header
	Entry(r, c int) (Number, bool)
	Protected() bool
}

// Header describes a grid for printing.
type Header struct {
	ID          string
	Title, Unit Label
	Rows, Cols  Dimension
	Notes       []Label
	Policy      Policy
	// NoRowTotals marks a grid of statistics that do not add up
	// (Quantiles): it has no totals column, and Entry(r, Total) is never
	// published. Its totals row, when it has one, is the whole population.
	NoRowTotals bool
}

// Number is a published value: a count (Decimals 0) or a ratio to be
// printed with Decimals decimals. Undefined marks a ratio whose
// denominator is zero: published, but not a number (printed as a dash).
type Number struct {
	Value     float64
	Decimals  int
	Undefined bool
}

// Header implements Grid.
func (t *Table) Header() Header {
	return Header{ID: t.ID, Title: t.Title, Unit: t.Unit, Rows: t.Rows, Cols: t.Cols, Notes: t.Notes, Policy: t.policy}
}

// Entry implements Grid with Published.
func (t *Table) Entry(r, c int) (Number, bool) {
	v, ok := t.Published(r, c)
	return Number{Value: float64(v)}, ok
}

// Ratio is a grid of ratios Num/Den × Scale of two protected tables over the
// same dimensions, such as the occupancy rate of the facility census
// (occupied over authorised places, × 100). An entry is published only
// when both its numerator and denominator are: a ratio beside a published
// denominator would give a hidden numerator back, and the other way round.
// A zero denominator gives an Undefined entry.
type Ratio struct {
	ID       string
	Title    Label
	Unit     Label // e.g. {"%", "%"}
	Num, Den *Table
	Scale    float64 // 0 means 1
	Decimals int     // printed decimals
	Notes    []Label
}

// NewRatio returns the ratio num/den × scale, checking that the two tables
// have the same dimensions (same codes in the same order).
func NewRatio(id string, title, unit Label, num, den *Table, scale float64, decimals int) (*Ratio, error) {
	if !sameDim(num.Rows, den.Rows) || !sameDim(num.Cols, den.Cols) {
		return nil, fmt.Errorf("ratio %s: %s and %s have different dimensions", id, num.ID, den.ID)
	}
	return &Ratio{ID: id, Title: title, Unit: unit, Num: num, Den: den, Scale: scale, Decimals: decimals}, nil
}

func sameDim(a, b Dimension) bool {
	if a.Code != b.Code || len(a.Categories) != len(b.Categories) {
		return false
	}
	for i := range a.Categories {
		if a.Categories[i].Code != b.Categories[i].Code {
			return false
		}
	}
	return true
}

// Header implements Grid; the policy is the numerator's.
func (q *Ratio) Header() Header {
	return Header{ID: q.ID, Title: q.Title, Unit: q.Unit, Rows: q.Num.Rows, Cols: q.Num.Cols, Notes: q.Notes, Policy: q.Num.policy}
}

// Protected implements Grid: both tables are protected.
func (q *Ratio) Protected() bool { return q.Num.Protected() && q.Den.Protected() }

// Entry implements Grid.
func (q *Ratio) Entry(r, c int) (Number, bool) {
	n, ok1 := q.Num.Published(r, c)
	d, ok2 := q.Den.Published(r, c)
	if !ok1 || !ok2 {
		return Number{}, false
	}
	if d == 0 {
		return Number{Undefined: true, Decimals: q.Decimals}, true
	}
	scale := q.Scale
	if scale == 0 {
		scale = 1
	}
	return Number{Value: float64(n) / float64(d) * scale, Decimals: q.Decimals}, true
}

var (
	_ Grid = (*Table)(nil)
	_ Grid = (*Ratio)(nil)
)

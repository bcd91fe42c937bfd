package report

import (
	"errors"
	"fmt"
)

// Quantiles is a grid of order statistics by group, such as the quartiles
// of the length of stay by zone: its columns are statistics (first
// quartile, median, third quartile), its rows groups, and its totals row
// the statistics of every group together. Statistics do not add up, so the
// grid has no row totals (Header.NoRowTotals): renderers print no totals
// column.
//
// A group's statistics are published only when the group holds at least
// MinGroup observations: the median of three stays is one minor's stay.
// The group sizes themselves are never published here (they are counts,
// which a protected Table publishes or suppresses); an unpublished row
// says only that its group is small or empty.
type Quantiles struct {
	ID       string
	Title    Label
	Unit     Label // e.g. {"giorni", "days"}
	Rows     Dimension
	Stats    Dimension // the statistics, in column order
	Notes    []Label
	MinGroup int
	Decimals int
	policy   Policy
	values   [][]float64 // len(Rows)+1 rows (the last is the total), len(Stats) columns
	n        []int
	hidden   []bool // by PublishOnlyWith
}

// MinQuantileGroup is the least number of observations whose quantiles
// are published: SISTAN's threshold protects counts, but an order
// statistic of a small group is one person's value, so the bar is higher.
const MinQuantileGroup = 10

// QuartileDimension is the dimension of the three quartiles.
func QuartileDimension() Dimension {
	return Dimension{Code: "statistic", Label: Label{IT: "Statistica", EN: "Statistic"}, Categories: []Category{
		{Code: "q1", Label: Label{IT: "Primo quartile", EN: "First quartile"}},
		{Code: "median", Label: Label{IT: "Mediana", EN: "Median"}},
		{Code: "q3", Label: Label{IT: "Terzo quartile", EN: "Third quartile"}},
	}}
}

// ErrStatsShape is returned by Quantiles.Set for a row of the wrong length.
var ErrStatsShape = errors.New("report: statistics do not match the grid's columns")

// NewQuantiles returns an empty grid (every group empty) of stats by rows.
// minGroup below the policy's threshold is raised to it; zero means
// MinQuantileGroup.
func NewQuantiles(id string, title Label, rows, stats Dimension, p Policy, minGroup int) *Quantiles {
	p = p.withDefaults()
	if minGroup == 0 {
		minGroup = MinQuantileGroup
	}
	if minGroup < p.Threshold {
		minGroup = p.Threshold
	}
	q := &Quantiles{ID: id, Title: title, Rows: rows, Stats: stats, MinGroup: minGroup, policy: p,
		values: make([][]float64, len(rows.Categories)+1), n: make([]int, len(rows.Categories)+1),
		hidden: make([]bool, len(rows.Categories)+1)}
	return q
}

// Set records the statistics of the group with row code rowCode ("" for
// the totals row) and its number of observations n.
func (q *Quantiles) Set(rowCode string, n int, stats []float64) error {
	if len(stats) != len(q.Stats.Categories) {
		return fmt.Errorf("quantiles %s, row %q: %d statistics for %d columns: %w", q.ID, rowCode, len(stats), len(q.Stats.Categories), ErrStatsShape)
	}
	i := len(q.Rows.Categories)
	if rowCode != "" {
		if i = q.Rows.Index(rowCode); i < 0 {
			return fmt.Errorf("quantiles %s: row %q: %w", q.ID, rowCode, ErrUnknownCategory)
		}
	}
	q.values[i], q.n[i] = append([]float64(nil), stats...), n
	return nil
}

// PublishOnlyWith hides the statistics of every group whose size the
// protected table t, over the same rows, does not publish (its row total;
// its grand total for the totals row). Otherwise whether a group's
// statistics appear — its size reaching MinGroup — would bound a count t
// hides.
func (q *Quantiles) PublishOnlyWith(t *Table) error {
	if !t.Protected() {
		return fmt.Errorf("quantiles %s, with %s: %w", q.ID, t.ID, ErrNotProtected)
	}
	if !sameDim(q.Rows, t.Rows) {
		return fmt.Errorf("quantiles %s and %s have different rows", q.ID, t.ID)
	}
	for i := range q.hidden {
		r := i
		if i == len(q.Rows.Categories) {
			r = Total
		}
		if _, ok := t.Published(r, Total); !ok {
			q.hidden[i] = true
		}
	}
	return nil
}

// Size returns the number of observations of row r (Total for all), for
// tests and for the code that checks them; it is not published.
func (q *Quantiles) Size(r int) int { return q.n[q.row(r)] }

func (q *Quantiles) row(r int) int {
	if r == Total {
		return len(q.Rows.Categories)
	}
	return r
}

// Header implements Grid.
func (q *Quantiles) Header() Header {
	return Header{ID: q.ID, Title: q.Title, Unit: q.Unit, Rows: q.Rows, Cols: q.Stats, Notes: q.Notes,
		Policy: q.policy, NoRowTotals: true}
}

// Protected implements Grid: the rule is applied on every read.
func (q *Quantiles) Protected() bool { return true }

// Entry implements Grid: the statistic of a group of at least MinGroup
// observations; there is no row total (c == Total).
func (q *Quantiles) Entry(r, c int) (Number, bool) {
	if c == Total || c < 0 || c >= len(q.Stats.Categories) {
		return Number{}, false
	}
	i := q.row(r)
	if q.n[i] < q.MinGroup || q.values[i] == nil || q.hidden[i] {
		return Number{}, false
	}
	return Number{Value: q.values[i][c], Decimals: q.Decimals}, true
}

var _ Grid = (*Quantiles)(nil)

package render

import (
	"fmt"

	"github.com/toscana/sirm/report"
)

// bar is one bar of a chart: a label and a published value (ok false when
// suppressed).
type bar struct {
	label string
	n     report.Number
	ok    bool
}

type chartView struct {
	ID, Title, Desc      string
	Width, Height, AxisX int
	Bars                 []barView
}

// barView holds the geometry of one bar; the template writes it inside an
// inline SVG, and html/template escapes every text and attribute.
type barView struct {
	Label, Full, Text string
	Suppressed        bool
	X, Y, W, H        string
	LabelX, ValueX    int
	TextY             string
}

// Geometry of a horizontal bar chart, in px.
const (
	chartWidth  = 760
	chartLabelW = 280 // room for the category labels, left of the axis
	chartValueW = 90  // room for the value after the longest bar
	barHeight   = 18
	barGap      = 8
	labelRunes  = 40 // longer labels are cut with an ellipsis (full text in the tooltip)
)

// barChart lays out a horizontal bar chart, one bar per category, with the
// value written after each bar. A suppressed value gets no bar, only the
// mark, so the chart discloses no more than the table.
func barChart(id, title string, bars []bar, p Page) chartView {
	max := 0.0
	for _, b := range bars {
		if b.ok && !b.n.Undefined && b.n.Value > max {
			max = b.n.Value
		}
	}
	group, dec := separators(p.Lang)
	span := float64(chartWidth - chartLabelW - chartValueW)
	c := chartView{
		ID: id, Title: title, Width: chartWidth, AxisX: chartLabelW,
		Height: len(bars)*(barHeight+barGap) + barGap,
	}
	hidden := 0
	for k, b := range bars {
		y := barGap + k*(barHeight+barGap)
		bv := barView{
			Label: cut(b.label), Full: b.label, LabelX: chartLabelW - 6,
			Y: fmt.Sprint(y), H: fmt.Sprint(barHeight), X: fmt.Sprint(chartLabelW),
			TextY: fmt.Sprintf("%.1f", float64(y)+barHeight*0.72),
		}
		switch {
		case !b.ok:
			hidden++
			bv.Suppressed, bv.Text, bv.ValueX = true, p.Mark, chartLabelW+6
		case b.n.Undefined:
			bv.Suppressed, bv.Text, bv.ValueX = true, undefinedMark, chartLabelW+6
		default:
			w := 0.0
			if max > 0 && b.n.Value > 0 {
				w = span * b.n.Value / max
			}
			bv.W = fmt.Sprintf("%.1f", w)
			bv.Text = formatNumber(b.n, group, dec)
			bv.ValueX = chartLabelW + int(w) + 6
		}
		c.Bars = append(c.Bars, bv)
	}
	if p.Lang == "en" {
		c.Desc = fmt.Sprintf("Horizontal bar chart, %d bars; the value is written after each bar.", len(bars))
		if hidden > 0 {
			c.Desc += fmt.Sprintf(" %d suppressed values have no bar and are shown as %q.", hidden, p.Mark)
		}
	} else {
		c.Desc = fmt.Sprintf("Grafico a barre orizzontali, %d barre; il valore è scritto dopo ogni barra.", len(bars))
		if hidden > 0 {
			c.Desc += fmt.Sprintf(" %d valori oscurati non hanno barra e sono indicati con %q.", hidden, p.Mark)
		}
	}
	return c
}

func cut(s string) string {
	r := []rune(s)
	if len(r) <= labelRunes {
		return s
	}
	return string(r[:labelRunes-1]) + "…"
}

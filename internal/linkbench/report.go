package linkbench

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/toscana/sirm/linkage"
)

// SweepThresholds are the automatic-link thresholds of a sweep: 0.60 to
// 0.98 by 0.02.
func SweepThresholds() []float64 {
	var ts []float64
	for c := 60; c <= 98; c += 2 {
		ts = append(ts, float64(c)/100)
	}
	return ts
}

// Sweep runs ds once per automatic-link threshold of thresholds, each on a
// fresh database. The review threshold stays o.ReviewThreshold (the
// service's default when zero) unless that is above the automatic one,
// where the band would be empty: then it follows it down.
func Sweep(ctx context.Context, ds Dataset, o Options, thresholds []float64) ([]Result, error) {
	review := o.ReviewThreshold
	if review == 0 {
		review = linkage.DefaultReviewThreshold
	}
	var out []Result
	for _, t := range thresholds {
		ot := o
		ot.AutoThreshold, ot.ReviewThreshold = t, min(review, t)
		ot.Progress = nil
		r, err := Run(ctx, ds, ot)
		if err != nil {
			return nil, fmt.Errorf("threshold %.2f: %w", t, err)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s: threshold %.2f: precision %.4f recall %.4f\n", ds.Name, t, r.Metrics.Precision, r.Metrics.Recall)
		}
		out = append(out, r)
	}
	return out, nil
}

// WriteSummary writes results as a markdown table, one row per run.
func WriteSummary(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| data set | records | invalid | persons | true pairs | valid pairs | linked pairs | found | precision | recall | F1 | recall incl. review | recall (valid pairs) | incl. review (valid pairs) | open reviews | twins merged | resolve time |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		m := r.Metrics
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %d | %d | %.1f s |\n",
			r.Dataset, m.Records, m.Invalid, m.Persons, m.TruePairs, m.ValidPairs, m.PredictedPairs, m.Found,
			m.Precision, m.Recall, m.F1, m.RecallWithReview, m.RecallValid, m.RecallWithReviewValid,
			m.OpenReviews, m.DistinctLinked, r.Elapsed.Seconds())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSweepTable writes a sweep as a markdown table.
func WriteSweepTable(w io.Writer, rows []Result) error {
	var b strings.Builder
	b.WriteString("| auto threshold | review threshold | precision | recall | F1 | recall incl. review | recall (valid pairs) | incl. review (valid pairs) | open reviews | twins merged |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		m := r.Metrics
		fmt.Fprintf(&b, "| %.2f | %.2f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %d | %d |\n",
			r.AutoThreshold, r.ReviewThreshold, m.Precision, m.Recall, m.F1, m.RecallWithReview,
			m.RecallValid, m.RecallWithReviewValid, m.OpenReviews, m.DistinctLinked)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSVG plots precision, recall, recall including review and recall
// over the valid pairs against the automatic-link threshold of a sweep, as
// a self-contained SVG.
func WriteSVG(w io.Writer, title string, rows []Result) error {
	const (
		width, height            = 720, 440
		left, right, top, bottom = 70, 190, 50, 60
		plotW, plotH             = width - left - right, height - top - bottom
	)
	xMin, xMax := 0.60, 0.98
	if len(rows) > 0 {
		xMin, xMax = rows[0].AutoThreshold, rows[len(rows)-1].AutoThreshold
		if xMax <= xMin {
			xMax = xMin + 0.02
		}
	}
	// The y axis ends at 1 and starts at the tenth below the lowest value,
	// so that the interesting part (near 1) is not squashed.
	lo := 1.0
	for _, r := range rows {
		lo = min(lo, r.Metrics.Precision, r.Metrics.Recall, r.Metrics.RecallWithReview, r.Metrics.RecallValid)
	}
	yMin := math.Max(0, math.Floor(lo*10-1e-9)/10)
	if yMin > 0.9 {
		yMin = 0.9
	}
	yMax := 1.0
	x := func(v float64) float64 { return left + (v-xMin)/(xMax-xMin)*plotW }
	y := func(v float64) float64 { return top + (yMax-v)/(yMax-yMin)*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="25" font-size="15" font-weight="bold">%s</text>`+"\n", left, escapeXML(title))
	// Grid and ticks.
	for i := 0; i <= 10; i++ {
		v := yMin + (yMax-yMin)*float64(i)/10
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, y(v), left+plotW, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.2f</text>`+"\n", left-6, y(v)+4, v)
	}
	for c := int(math.Round(xMin * 100)); c <= int(math.Round(xMax*100)); c += 4 {
		v := float64(c) / 100
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e0e0e0"/>`+"\n", x(v), top, x(v), top+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.2f</text>`+"\n", x(v), top+plotH+18, v)
	}
	// Axes and their labels.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, top+plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">automatic-link threshold</text>`+"\n", left+plotW/2, height-15)
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">pairwise precision / recall</text>`+"\n", top+plotH/2)

	series := []struct {
		name, color, dash string
		get               func(Metrics) float64
	}{
		{"precision", "#1f77b4", "", func(m Metrics) float64 { return m.Precision }},
		{"recall", "#d62728", "", func(m Metrics) float64 { return m.Recall }},
		{"recall incl. review", "#2ca02c", "6 4", func(m Metrics) float64 { return m.RecallWithReview }},
		{"recall (valid pairs)", "#9467bd", "2 3", func(m Metrics) float64 { return m.RecallValid }},
	}
	for i, s := range series {
		var pts []string
		for _, r := range rows {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(r.AutoThreshold), y(s.get(r.Metrics))))
		}
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		}
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
		}
		// Legend.
		ly := top + 10 + i*22
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", left+plotW+15, ly, left+plotW+45, ly, s.color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+plotW+52, ly+4, s.name)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

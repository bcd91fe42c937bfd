package render

import (
	"fmt"
	"html/template"
	"io"
	"unicode"

	"github.com/toscana/sirm/report"
)

// Page is an HTML report: a title and one section per table, each with the
// table and bar charts of its row and column totals.
type Page struct {
	Title    report.Label
	Subtitle report.Label // e.g. the reference date and the area
	Lang     string       // "it" (default) or "en"
	Mark     string       // replaces a suppressed value; empty means DefaultMark
	Tables   []report.Grid
}

// WriteHTML writes a self-contained page (inline CSS, inline SVG, no script,
// no external resource) that a person opens in a browser or prints.
func WriteHTML(w io.Writer, p Page) error {
	if err := check(p.Tables); err != nil {
		return err
	}
	if p.Lang != "en" {
		p.Lang = "it"
	}
	if p.Mark == "" {
		p.Mark = DefaultMark
	}
	v := pageView{Lang: p.Lang, Title: p.Title.In(p.Lang), Subtitle: p.Subtitle.In(p.Lang)}
	for k, t := range p.Tables {
		v.Sections = append(v.Sections, sectionOf(t, k, p))
	}
	return pageTemplate.Execute(w, v)
}

type pageView struct {
	Lang, Title, Subtitle string
	Sections              []sectionView
}

type sectionView struct {
	ID, Title, Unit string
	Header          []string
	Rows            []rowView
	Legend          string
	Notes           []string
	Charts          []chartView
}

type rowView struct {
	Label string
	Total bool
	Cells []cellView
}

type cellView struct {
	Text       string
	Suppressed bool
}

func sectionOf(g report.Grid, k int, p Page) sectionView {
	t := g.Header()
	group, dec := separators(p.Lang)
	s := sectionView{
		ID: fmt.Sprintf("t%d", k), Title: t.Title.In(p.Lang), Unit: t.Unit.In(p.Lang),
		Header: header(t, p.Lang), Legend: legend(p.Mark, g).In(p.Lang),
	}
	for _, pr := range rowsOf(g, p.Lang) {
		rv := rowView{Label: pr.label, Total: pr.total}
		for _, c := range pr.values {
			if c.ok {
				rv.Cells = append(rv.Cells, cellView{Text: formatNumber(c.n, group, dec)})
			} else {
				rv.Cells = append(rv.Cells, cellView{Text: p.Mark, Suppressed: true})
			}
		}
		s.Rows = append(s.Rows, rv)
	}
	for _, n := range t.Notes {
		s.Notes = append(s.Notes, n.In(p.Lang))
	}
	var rowBars, colBars []bar
	// A grid of statistics has no row totals: its rows chart the middle
	// statistic (the median of quartiles).
	rowCol := report.Total
	if t.NoRowTotals {
		rowCol = len(t.Cols.Categories) / 2
	}
	for r, c := range t.Rows.Categories {
		v, ok := g.Entry(r, rowCol)
		rowBars = append(rowBars, bar{label: c.Label.In(p.Lang), n: v, ok: ok})
	}
	for c, cat := range t.Cols.Categories {
		v, ok := g.Entry(report.Total, c)
		colBars = append(colBars, bar{label: cat.Label.In(p.Lang), n: v, ok: ok})
	}
	what := t.Title.In(p.Lang)
	by := map[string]string{"it": "%s per %s", "en": "%s by %s"}[p.Lang]
	s.Charts = append(s.Charts,
		barChart(s.ID+"-rows", upper(fmt.Sprintf(by, what, lower(t.Rows.Label.In(p.Lang)))), rowBars, p),
		barChart(s.ID+"-cols", upper(fmt.Sprintf(by, what, lower(t.Cols.Label.In(p.Lang)))), colBars, p))
	return s
}

func lower(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToLower(r[0])
	}
	return string(r)
}

func upper(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}
.subtitle{color:#555;margin-top:0}
section{margin:2.5rem 0;page-break-inside:avoid}
h2{font-size:1.25rem;border-bottom:2px solid #2f6f9f;padding-bottom:.2rem}
.unit{color:#555;font-size:.9rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #c8c8c8;padding:.25rem .5rem}
thead th{background:#eef3f7;text-align:center;vertical-align:bottom}
tbody th{text-align:left;font-weight:normal}
td{text-align:right;font-variant-numeric:tabular-nums}
.total th,.total td,td.total{font-weight:bold;background:#f6f6f6}
td.suppressed{color:#8a1c1c}
.legend,.note{font-size:.85rem;color:#444}
figure{margin:1rem 0}
figcaption{font-size:.9rem;color:#333;margin-bottom:.3rem}
svg text{font-family:inherit;font-size:12px;fill:#1b1b1b}
svg .bar{fill:#2f6f9f}
svg .axis{stroke:#888;stroke-width:1}
svg .missing{fill:#8a1c1c}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
{{if .Subtitle}}<p class="subtitle">{{.Subtitle}}</p>{{end}}
</header>
<main>
{{range .Sections}}<section id="{{.ID}}" aria-labelledby="{{.ID}}-h">
<h2 id="{{.ID}}-h">{{.Title}}</h2>
{{if .Unit}}<p class="unit">{{.Unit}}</p>{{end}}
<div class="scroll"><table>
<thead><tr>{{range .Header}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Total}} class="total"{{end}}><th scope="row">{{.Label}}</th>{{range $i, $c := .Cells}}<td{{if $c.Suppressed}} class="suppressed"{{end}}>{{$c.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
<p class="legend">{{.Legend}}</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Charts}}<figure>
<figcaption id="{{.ID}}-cap">{{.Title}}</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{{.ID}}-title {{.ID}}-desc" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}">
<title id="{{.ID}}-title">{{.Title}}</title>
<desc id="{{.ID}}-desc">{{.Desc}}</desc>
<line class="axis" x1="{{.AxisX}}" y1="0" x2="{{.AxisX}}" y2="{{.Height}}"/>
{{range .Bars}}<g>
<title>{{.Full}}: {{.Text}}</title>
<text x="{{.LabelX}}" y="{{.TextY}}" text-anchor="end">{{.Label}}</text>
{{if .Suppressed}}<text class="missing" x="{{.ValueX}}" y="{{.TextY}}">{{.Text}}</text>{{else}}<rect class="bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"/>
<text x="{{.ValueX}}" y="{{.TextY}}">{{.Text}}</text>{{end}}
</g>
{{end}}</svg>
</figure>
{{end}}</section>
{{end}}</main>
</body>
</html>
`))

package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/toscana/sirm/report"
	"github.com/xuri/excelize/v2"
	"golang.org/x/net/html"
)

// sample is a zone × age-class table whose labels need escaping and where
// suppression hides distinctive values (7777, 4444, 6666) that the tests
// look for in every output.
func sample(t *testing.T) *report.Table {
	t.Helper()
	rows := report.Dimension{Code: "zone", Label: report.Label{IT: "Zona", EN: "Zone"}, Categories: []report.Category{
		{Code: "Z1", Label: report.Label{IT: `Zona "Nord" <Lunigiana> & Co`, EN: `North "zone" <L> & Co`}},
		{Code: "Z2", Label: report.Label{IT: "Zona Fiorentina Sud-Est", EN: "Florence South-East"}},
		{Code: "Z3", Label: report.Label{IT: "Valdera – Alta Val di Cecina, una zona dal nome molto lungo", EN: "Valdera"}},
	}}
	tb := report.NewTable("out_of_family", report.Label{IT: "Minori fuori famiglia", EN: "Minors out of family"}, rows, report.AgeClassDimension())
	tb.Unit = report.Label{IT: "minori", EN: "minors"}
	tb.Notes = []report.Label{{IT: "Dati al 31/12/2025.", EN: "Data at 31/12/2025."}}
	counts := [][]int{
		{1, 7777, 0, 0, 0, 0},
		{4444, 6666, 0, 0, 0, 0},
		{0, 0, 30, 40, 50, 60},
	}
	for r, row := range counts {
		for c, v := range row {
			tb.Set(r, c, v)
		}
	}
	require.NoError(t, tb.Protect(report.DefaultPolicy))
	for _, rc := range [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
		require.True(t, tb.Status(rc[0], rc[1]).Suppressed(), "fixture: %v suppressed", rc)
	}
	return tb
}

var hiddenValues = []string{"7777", "7.777", "7,777", "4444", "4.444", "4,444", "6666", "6.666", "6,666"}

func assertNoHidden(t *testing.T, out string) {
	t.Helper()
	for _, h := range hiddenValues {
		assert.NotContains(t, out, h)
	}
}

// expected returns the grid as it should print: numbers, or the mark.
func expected(tb *report.Table, mark string) [][]string {
	var out [][]string
	for r := 0; r <= tb.NumRows(); r++ {
		ri := r
		if r == tb.NumRows() {
			ri = report.Total
		}
		var line []string
		for c := 0; c <= tb.NumCols(); c++ {
			ci := c
			if c == tb.NumCols() {
				ci = report.Total
			}
			if v, ok := tb.Published(ri, ci); ok {
				line = append(line, strconv.Itoa(v))
			} else {
				line = append(line, mark)
			}
		}
		out = append(out, line)
	}
	return out
}

func TestUnprotectedRefused(t *testing.T) {
	tb := report.NewTable("x", report.Label{IT: "x"}, report.SexDimension(), report.AgeClassDimension())
	var buf bytes.Buffer
	assert.ErrorIs(t, WriteJSON(&buf, tb), report.ErrNotProtected)
	assert.ErrorIs(t, WriteCSV(&buf, tb, CSVOptions{}), report.ErrNotProtected)
	assert.ErrorIs(t, WriteXLSX(&buf, XLSXOptions{}, tb), report.ErrNotProtected)
	assert.ErrorIs(t, WriteHTML(&buf, Page{Tables: []report.Grid{tb}}), report.ErrNotProtected)
	assert.Zero(t, buf.Len())
}

func TestJSON(t *testing.T) {
	tb := sample(t)
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, tb))
	assertNoHidden(t, buf.String())

	var doc struct {
		Tables []TableJSON `json:"tables"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Tables, 1)
	got := doc.Tables[0]
	assert.Equal(t, "Minori fuori famiglia", got.Title.IT)
	assert.Equal(t, "14-17", got.Columns.Categories[4].Code)
	assert.Equal(t, 3, got.Disclosure.Threshold)
	assert.Nil(t, got.Cells[0][0])
	assert.Nil(t, got.Cells[1][1])
	require.NotNil(t, got.Cells[2][5])
	assert.Equal(t, 60.0, *got.Cells[2][5])
	require.NotNil(t, got.GrandTotal)
	assert.Equal(t, float64(tb.Value(report.Total, report.Total)), *got.GrandTotal)

	// The suppressed list and the nulls agree, entry by entry.
	listed := map[[2]string]bool{}
	for _, s := range got.Suppressed {
		r, c := "*", "*"
		if s.Row != nil {
			r = *s.Row
		}
		if s.Column != nil {
			c = *s.Column
		}
		listed[[2]string{r, c}] = true
	}
	nulls := 0
	for r, row := range got.Cells {
		for c, v := range row {
			if v == nil {
				nulls++
				assert.True(t, listed[[2]string{got.Rows.Categories[r].Code, got.Columns.Categories[c].Code}])
			}
		}
	}
	for r, v := range got.RowTotals {
		if v == nil {
			nulls++
			assert.True(t, listed[[2]string{got.Rows.Categories[r].Code, "*"}])
		}
	}
	for c, v := range got.ColumnTotals {
		if v == nil {
			nulls++
			assert.True(t, listed[[2]string{"*", got.Columns.Categories[c].Code}])
		}
	}
	assert.Equal(t, tb.SuppressedCount(), nulls)
	assert.Len(t, got.Suppressed, nulls)

	// The published JSON, read back into a View, passes the auditor and
	// gives the same view as the table.
	v := got.View()
	assert.Equal(t, tb.View(), v)
	ivs, err := report.Audit(v, report.AuditOptions{Lower: 1})
	require.NoError(t, err)
	require.Len(t, ivs, tb.SuppressedCount())
	for _, iv := range ivs {
		assert.False(t, iv.Disclosed)
	}
}

func readCSV(t *testing.T, data []byte, comma rune) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	recs, err := r.ReadAll()
	require.NoError(t, err)
	return recs
}

func TestCSV(t *testing.T) {
	tb := sample(t)
	cases := []struct {
		name  string
		opts  CSVOptions
		comma rune
		mark  string
		bom   bool
		total string
	}{
		{"default", CSVOptions{}, ',', "x", false, "Totale"},
		{"english", CSVOptions{Lang: "en", Mark: ".."}, ',', "..", false, "Total"},
		{"italianSpreadsheet", ItalianSpreadsheet, ';', "x", true, "Totale"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteCSV(&buf, tb, c.opts))
			data := buf.Bytes()
			assertNoHidden(t, string(data))
			assert.Equal(t, c.bom, bytes.HasPrefix(data, []byte("\uFEFF")))
			data = bytes.TrimPrefix(data, []byte("\uFEFF"))
			recs := readCSV(t, data, c.comma)
			require.Len(t, recs, tb.NumRows()+2)
			assert.Equal(t, header(tb.Header(), c.opts.Lang), recs[0])
			assert.Equal(t, tb.Rows.Categories[0].Label.In(c.opts.Lang), recs[1][0], "label with quotes survives")
			assert.Equal(t, c.total, recs[len(recs)-1][0])
			var grid [][]string
			for _, rec := range recs[1:] {
				grid = append(grid, rec[1:])
			}
			assert.Equal(t, expected(tb, c.mark), grid)
		})
	}
}

func TestXLSX(t *testing.T) {
	tb := sample(t)
	other := report.NewTable("census", report.Label{IT: "Strutture", EN: "Facilities"}, report.SexDimension(), report.PlacementDimension())
	other.Set(0, 0, 12)
	require.NoError(t, other.Protect(report.NoSuppression))
	var buf bytes.Buffer
	require.NoError(t, WriteXLSX(&buf, XLSXOptions{}, tb, other))

	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, []string{"out_of_family", "census"}, f.GetSheetList())
	title, err := f.GetCellValue("out_of_family", "A1")
	require.NoError(t, err)
	assert.Equal(t, "Minori fuori famiglia", title)
	rows, err := f.GetRows("out_of_family")
	require.NoError(t, err)
	var all []string
	for _, r := range rows {
		all = append(all, r...)
	}
	assertNoHidden(t, strings.Join(all, "\n"))
	want := expected(tb, DefaultMark)
	for r, line := range want {
		for c, v := range line {
			ref, err := excelize.CoordinatesToCellName(c+2, xlsxHeaderRow+1+r)
			require.NoError(t, err)
			got, err := f.GetCellValue("out_of_family", ref)
			require.NoError(t, err)
			assert.Equal(t, v, got, "cell %s", ref)
			typ, err := f.GetCellType("out_of_family", ref)
			require.NoError(t, err)
			if v == DefaultMark {
				assert.NotEqual(t, excelize.CellTypeNumber, typ, "mark at %s is text", ref)
			} else {
				assert.Contains(t, []excelize.CellType{excelize.CellTypeNumber, excelize.CellTypeUnset}, typ, "number at %s", ref)
			}
		}
	}
	label, err := f.GetCellValue("out_of_family", "A4")
	require.NoError(t, err)
	assert.Equal(t, `Zona "Nord" <Lunigiana> & Co`, label)
	n, err := f.GetCellValue("census", "B4")
	require.NoError(t, err)
	assert.Equal(t, "12", n)
}

func TestHTML(t *testing.T) {
	tb := sample(t)
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, Page{
		Title:    report.Label{IT: "Rapporto di monitoraggio", EN: "Monitoring report"},
		Subtitle: report.Label{IT: "Toscana, 31 dicembre 2025"},
		Tables:   []report.Grid{tb},
	}))
	out := buf.String()
	assertNoHidden(t, out)
	assert.NotContains(t, out, "<Lunigiana>", "labels are escaped")
	assert.NotContains(t, out, "http://www.w3.org/1999/xhtml", "no external reference but the SVG namespace")
	for _, bad := range []string{"<script", "<link", "src=", "@import", "url("} {
		assert.NotContains(t, out, bad, "self-contained")
	}

	doc, err := html.Parse(strings.NewReader(out))
	require.NoError(t, err)
	var cells [][]string
	var svgs, svgTitles, svgDescs int
	lang := ""
	var walk func(n *html.Node, inSVG bool)
	walk = func(n *html.Node, inSVG bool) {
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "html":
				for _, a := range n.Attr {
					if a.Key == "lang" {
						lang = a.Val
					}
				}
			case n.Data == "svg":
				svgs++
				inSVG = true
			case inSVG && n.Data == "title" && n.Parent.Data == "svg":
				svgTitles++
			case inSVG && n.Data == "desc":
				svgDescs++
			case n.Data == "tr" && !inSVG:
				var line []string
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "td" {
						line = append(line, text(c))
					}
				}
				if line != nil {
					cells = append(cells, line)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inSVG)
		}
	}
	walk(doc, false)
	assert.Equal(t, "it", lang)
	assert.Equal(t, 2, svgs)
	assert.Equal(t, 2, svgTitles)
	assert.Equal(t, 2, svgDescs)
	want := expected(tb, DefaultMark)
	for r := range want {
		for c := range want[r] {
			if want[r][c] != DefaultMark {
				n, _ := strconv.Atoi(want[r][c])
				want[r][c] = formatNumber(report.Number{Value: float64(n)}, ".", ",")
			}
		}
	}
	assert.Equal(t, want, cells)

	// Each inline SVG is well-formed XML on its own.
	for rest := out; ; {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		require.Positive(t, j)
		frag := rest[i : i+j+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(frag))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "svg fragment:\n%s", frag)
		}
		assert.Contains(t, frag, "<rect")
		rest = rest[i+j:]
	}
}

func text(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

func TestFormatNumber(t *testing.T) {
	cases := []struct {
		n          report.Number
		group, dec string
		want       string
	}{
		{report.Number{}, ".", ",", "0"},
		{report.Number{Value: 999}, ".", ",", "999"},
		{report.Number{Value: 1000}, ".", ",", "1.000"},
		{report.Number{Value: 1234567}, ",", ".", "1,234,567"},
		{report.Number{Value: -12345}, ".", ",", "-12.345"},
		{report.Number{Value: 1234.5678, Decimals: 1}, ".", ",", "1.234,6"},
		{report.Number{Value: 87.5, Decimals: 2}, "", ".", "87.50"},
		{report.Number{Undefined: true}, ".", ",", "-"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, formatNumber(c.n, c.group, c.dec))
	}
}

// census builds the facility census of two zones × two typologies:
// authorised places (not about persons: published in full), occupied
// places (minors: protected) and the occupancy rate.
func census(t *testing.T) (*report.Table, *report.Table, *report.Ratio) {
	t.Helper()
	zones := report.Dimension{Code: "zone", Label: report.Label{IT: "Zona"}, Categories: []report.Category{
		{Code: "Z1", Label: report.Label{IT: "Pisana"}}, {Code: "Z2", Label: report.Label{IT: "Livornese"}},
	}}
	typ := report.Dimension{Code: "typology", Label: report.Label{IT: "Tipologia"}, Categories: []report.Category{
		{Code: "CE", Label: report.Label{IT: "Comunità educativa"}}, {Code: "CF", Label: report.Label{IT: "Comunità familiare"}}, {Code: "PA", Label: report.Label{IT: "Pronta accoglienza"}},
	}}
	places := report.NewTable("places", report.Label{IT: "Posti autorizzati"}, zones, typ)
	occupied := report.NewTable("occupied", report.Label{IT: "Posti occupati"}, zones, typ)
	for r, row := range [][]int{{40, 12, 0}, {30, 8, 10}} {
		for c, v := range row {
			places.Set(r, c, v)
		}
	}
	for r, row := range [][]int{{35, 2, 0}, {21, 6, 9}} {
		for c, v := range row {
			occupied.Set(r, c, v)
		}
	}
	require.NoError(t, places.Protect(report.NoSuppression))
	require.NoError(t, occupied.Protect(report.DefaultPolicy))
	rate, err := report.NewRatio("occupancy", report.Label{IT: "Tasso di occupazione", EN: "Occupancy rate"},
		report.Label{IT: "%", EN: "%"}, occupied, places, 100, 1)
	require.NoError(t, err)
	return places, occupied, rate
}

func TestRatio(t *testing.T) {
	places, occupied, rate := census(t)
	// Occupied (0, 1) = 2 is hidden, so its rate is too, and so is every
	// rate whose occupied count is hidden.
	for r := -1; r < 2; r++ {
		for c := -1; c < 3; c++ {
			_, okOcc := occupied.Published(r, c)
			n, ok := rate.Entry(r, c)
			assert.Equal(t, okOcc, ok, "(%d,%d)", r, c)
			if ok && !n.Undefined {
				d, _ := places.Published(r, c)
				o, _ := occupied.Published(r, c)
				assert.InDelta(t, 100*float64(o)/float64(d), n.Value, 1e-9)
			}
		}
	}
	n, ok := rate.Entry(0, 2)
	assert.True(t, ok)
	assert.True(t, n.Undefined, "no places: no rate")

	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, rate, ItalianSpreadsheet))
	recs := readCSV(t, bytes.TrimPrefix(buf.Bytes(), []byte("\uFEFF")), ';')
	// Occupied places: 2 is primary, and the rectangle (Z1, Z2) × (CE, CF)
	// goes with it.
	assert.Equal(t, []string{"Livornese", "x", "x", "90,0", "75,0"}, recs[2])
	assert.Equal(t, "-", recs[1][3])
	assert.Equal(t, "x", recs[1][2])

	buf.Reset()
	require.NoError(t, WriteJSON(&buf, places, occupied, rate))
	var doc struct {
		Tables []TableJSON `json:"tables"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Tables, 3)
	occ := doc.Tables[2]
	assert.Nil(t, occ.Cells[0][2], "undefined is null")
	assert.NotContains(t, occ.Suppressed, SuppressedJSON{Row: ptr("Z1"), Column: ptr("PA")}, "undefined is not suppressed")
	assert.Nil(t, occ.Cells[1][1])
	assert.Contains(t, occ.Suppressed, SuppressedJSON{Row: ptr("Z2"), Column: ptr("CF")})
	assert.InDelta(t, 90.0, *occ.Cells[1][2], 1e-9)

	buf.Reset()
	require.NoError(t, WriteXLSX(&buf, XLSXOptions{}, places, occupied, rate))
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer f.Close()
	v, err := f.GetCellValue("occupancy", "D5")
	require.NoError(t, err)
	assert.Equal(t, "90.0", v)
	v, err = f.GetCellValue("occupancy", "D4")
	require.NoError(t, err)
	assert.Equal(t, "-", v)

	buf.Reset()
	require.NoError(t, WriteHTML(&buf, Page{Title: report.Label{IT: "Censimento"}, Tables: []report.Grid{places, occupied, rate}}))
	assert.Contains(t, buf.String(), "<td>75,0</td>")
}

func ptr(s string) *string { return &s }

// TestQuantiles: a grid of statistics prints no totals column anywhere,
// its totals row is the whole population, and a small group's statistics
// are the mark, never numbers.
func TestQuantiles(t *testing.T) {
	zones := report.Dimension{Code: "zone", Label: report.Label{IT: "Zona"}, Categories: []report.Category{
		{Code: "Z1", Label: report.Label{IT: "Pisana"}}, {Code: "Z2", Label: report.Label{IT: "Livornese"}}}}
	q := report.NewQuantiles("los", report.Label{IT: "Durata", EN: "Length"}, zones, report.QuartileDimension(), report.DefaultPolicy, 0)
	q.Decimals = 1
	require.NoError(t, q.Set("Z1", 12, []float64{10, 20.5, 30}))
	require.NoError(t, q.Set("Z2", 4, []float64{7777, 4444, 6666}))
	require.NoError(t, q.Set("", 16, []float64{11, 22, 33}))
	assert.ErrorIs(t, q.Set("Z3", 10, []float64{1, 2, 3}), report.ErrUnknownCategory)
	assert.ErrorIs(t, q.Set("Z1", 10, []float64{1, 2}), report.ErrStatsShape)

	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, q, CSVOptions{}))
	recs := readCSV(t, buf.Bytes(), ',')
	assert.Equal(t, [][]string{
		{"Zona", "Primo quartile", "Mediana", "Terzo quartile"},
		{"Pisana", "10.0", "20.5", "30.0"},
		{"Livornese", "x", "x", "x"},
		{"Totale", "11.0", "22.0", "33.0"},
	}, recs)

	buf.Reset()
	require.NoError(t, WriteJSON(&buf, q))
	assertNoHidden(t, buf.String())
	var doc struct {
		Tables []TableJSON `json:"tables"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	tj := doc.Tables[0]
	assert.Equal(t, "quantiles", tj.Kind)
	assert.Empty(t, tj.RowTotals)
	assert.Nil(t, tj.GrandTotal)
	assert.Len(t, tj.Suppressed, 3, "the three statistics of Z2, no totals")
	assert.InDelta(t, 22.0, *tj.ColumnTotals[1], 1e-9)

	buf.Reset()
	require.NoError(t, WriteHTML(&buf, Page{Title: report.Label{IT: "Flussi"}, Tables: []report.Grid{q}}))
	assertNoHidden(t, buf.String())
	assert.Contains(t, buf.String(), "<td>20,5</td>")
	assert.NotContains(t, buf.String(), "<th scope=\"col\">Totale</th>")
	assert.Contains(t, buf.String(), "meno di 10 osservazioni")

	buf.Reset()
	require.NoError(t, WriteXLSX(&buf, XLSXOptions{}, q))
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows("los")
	require.NoError(t, err)
	assert.Equal(t, []string{"Zona", "Primo quartile", "Mediana", "Terzo quartile"}, rows[2])
	assert.Equal(t, []string{"Livornese", "x", "x", "x"}, rows[4])
}

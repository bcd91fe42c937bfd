package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/toscana/sirm/report"
	"github.com/xuri/excelize/v2"
)

// XLSXOptions shape the workbook.
type XLSXOptions struct {
	Lang string // "it" (default) or "en"
	Mark string // replaces a suppressed value; empty means DefaultMark
}

// Layout of a sheet, shared with the tests.
const (
	xlsxTitleRow  = 1
	xlsxHeaderRow = 3 // the grid starts here; data from the next row
)

// WriteXLSX writes one sheet per grid: the title, the grid with numbers as
// numbers and suppressed entries as the mark (a string, right-aligned), the
// totals in bold, and the legend and notes under the grid.
func WriteXLSX(w io.Writer, o XLSXOptions, grids ...report.Grid) error {
	if err := check(grids); err != nil {
		return err
	}
	if o.Mark == "" {
		o.Mark = DefaultMark
	}
	f := excelize.NewFile()
	defer f.Close()
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 13}})
	if err != nil {
		return err
	}
	markStyle, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Horizontal: "right"}})
	if err != nil {
		return err
	}
	markBold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Horizontal: "right"}})
	if err != nil {
		return err
	}
	decimals := map[[2]int]int{} // (decimals, bold) → style
	numStyle := func(d int, isBold bool) (int, error) {
		b := 0
		if isBold {
			b = 1
		}
		if st, ok := decimals[[2]int{d, b}]; ok {
			return st, nil
		}
		format := "0." + strings.Repeat("0", d)
		st, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: isBold}, CustomNumFmt: &format})
		decimals[[2]int{d, b}] = st
		return st, err
	}
	used := map[string]bool{}
	for k, g := range grids {
		t := g.Header()
		name := sheetName(t.ID, k, used)
		if k == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return err
		}
		set := func(col, row int, v any, style int) error {
			ref, err := excelize.CoordinatesToCellName(col, row)
			if err != nil {
				return err
			}
			if err := f.SetCellValue(name, ref, v); err != nil {
				return err
			}
			if style != 0 {
				return f.SetCellStyle(name, ref, ref, style)
			}
			return nil
		}
		if err := set(1, xlsxTitleRow, t.Title.In(o.Lang), title); err != nil {
			return err
		}
		if t.Unit.IT != "" {
			if err := set(1, xlsxTitleRow+1, t.Unit.In(o.Lang), 0); err != nil {
				return err
			}
		}
		for j, h := range header(t, o.Lang) {
			if err := set(j+1, xlsxHeaderRow, h, bold); err != nil {
				return err
			}
		}
		row := xlsxHeaderRow + 1
		for _, pr := range rowsOf(g, o.Lang) {
			style := 0
			if pr.total {
				style = bold
			}
			if err := set(1, row, pr.label, style); err != nil {
				return err
			}
			for j, c := range pr.values {
				tot := pr.total || j == len(pr.values)-1
				switch {
				case c.ok && c.n.Undefined:
					err = set(j+2, row, undefinedMark, markStyle)
				case c.ok && c.n.Decimals > 0:
					st, serr := numStyle(c.n.Decimals, tot)
					if serr != nil {
						return serr
					}
					err = set(j+2, row, c.n.Value, st)
				case c.ok && tot:
					err = set(j+2, row, int(c.n.Value), bold)
				case c.ok:
					err = set(j+2, row, int(c.n.Value), 0)
				case tot:
					err = set(j+2, row, o.Mark, markBold)
				default:
					err = set(j+2, row, o.Mark, markStyle)
				}
				if err != nil {
					return err
				}
			}
			row++
		}
		row++
		for _, l := range append([]report.Label{legend(o.Mark, g)}, t.Notes...) {
			if err := set(1, row, l.In(o.Lang), 0); err != nil {
				return err
			}
			row++
		}
		if err := f.SetColWidth(name, "A", "A", 34); err != nil {
			return err
		}
	}
	_, err = f.WriteTo(w)
	return err
}

// sheetName makes a valid, unique sheet name (at most 31 characters, none
// of []:*?/\) from the table's ID.
func sheetName(id string, k int, used map[string]bool) string {
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return '_'
		}
		return r
	}, id)
	if name == "" {
		name = "tabella"
	}
	if r := []rune(name); len(r) > 28 {
		name = string(r[:28])
	}
	if used[name] {
		name = fmt.Sprintf("%s_%d", name, k+1)
	}
	used[name] = true
	return name
}

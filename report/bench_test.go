package report

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkProtect30x20 protects tables of the largest size the surveys
// publish (30 rows × 20 columns) with many small cells.
func BenchmarkProtect30x20(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	tables := make([][][]int, 8)
	for k := range tables {
		rows := make([][]int, 30)
		for i := range rows {
			rows[i] = make([]int, 20)
			for j := range rows[i] {
				switch x := r.Float64(); {
				case x < 0.3:
				case x < 0.6:
					rows[i][j] = 1 + r.IntN(3)
				default:
					rows[i][j] = 3 + r.IntN(80)
				}
			}
		}
		tables[k] = rows
	}
	suppressed := 0
	for i := 0; b.Loop(); i++ {
		tb := tableOf(tables[i%len(tables)])
		if err := tb.Protect(DefaultPolicy); err != nil {
			b.Fatal(err)
		}
		suppressed = tb.SuppressedCount()
	}
	b.ReportMetric(float64(suppressed), "suppressed/last")
}

// BenchmarkProtectLayers protects per-zone tables (12 typologies × 6 age
// classes, about 25 minors a zone) with the regional table.
func BenchmarkProtectLayers(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	rows, cols := dim("t", 12), AgeClassDimension()
	build := func() (*Table, []*Table) {
		total := NewTable("region", Label{}, rows, cols)
		layers := make([]*Table, benchZones)
		for k := range layers {
			layers[k] = NewTable("zone", Label{}, rows, cols)
			for range 25 {
				i, j := min(r.IntN(16), 11), r.IntN(6)
				layers[k].Set(i, j, layers[k].Value(i, j)+1)
				total.Set(i, j, total.Value(i, j)+1)
			}
		}
		return total, layers
	}
	total, layers := build()
	for b.Loop() {
		if err := ProtectLayers(DefaultPolicy, total, layers...); err != nil {
			b.Fatal(err)
		}
	}
	n := total.SuppressedCount()
	for _, l := range layers {
		n += l.SuppressedCount()
	}
	b.ReportMetric(float64(n), "suppressed")
}

// benchZones is 10 to keep the benchmark short; Tuscany has 28 zones, for
// which ProtectLayers takes one to two minutes.
var benchZones = 10

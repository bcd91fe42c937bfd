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

package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/registry"
)

// BenchmarkSinbaExport exports a year's SINBA flow of 50 000 case files
// (one zone, each file a different minor, inserted with SQL) through
// GET /v1/exports/sinba over loopback HTTP against the real PostgreSQL,
// the client reading the flow into a counter. Before each export the inps
// token key is rotated, so every export derives and records 50 000 new
// tokens: the cost of a first export, not of a repeat. It reports records
// per second, the flow's size, and the peak RSS of the process (client
// and server together) during the export, from a reset of VmHWM, beside
// the RSS before.
func BenchmarkSinbaExport(b *testing.B) {
	const n = 50000
	env := newTestEnv(b)
	y := time.Now().In(registry.Rome).Year() - 1
	seedYearFiles(b, env.db, n, "FIORENTINA", y, validAttributes(b))
	_, err := env.db.Pool.Exec(context.Background(), `ANALYZE`)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(env.srv.Handler())
	defer srv.Close()
	tok := env.token(b, authn.RoleRegionAnalyst, "REGIONE")
	url := srv.URL + "/v1/exports/sinba?year=" + strconv.Itoa(y) + "&zone=FIORENTINA"
	var (
		elapsed    time.Duration
		peak, base float64
		size       int64
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := env.srv.linkage.RotateTokenKey(context.Background(), INPSDomain); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		resetHWM()
		base = max(base, vmRSS())
		b.StartTimer()
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		counter := &countingWriter{w: io.Discard}
		_, err = io.Copy(counter, resp.Body)
		resp.Body.Close()
		elapsed += time.Since(t0)
		b.StopTimer()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, %v", resp.StatusCode, err)
		}
		size = counter.n
		peak = max(peak, vmHWM())
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(base, "RSS-before-MiB")
	b.ReportMetric(float64(size)/(1<<20), "flow-MiB")
}

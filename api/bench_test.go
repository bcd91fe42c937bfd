package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/toscana/sirm/internal/authn"
)

// BenchmarkAuthenticatedGET measures one authenticated, audited GET through
// the whole middleware chain (request id, access log, recovery, problems,
// headers, JWT verification, rate limit off, policy, audit append in
// PostgreSQL, handler reading the audit log) and reports p50 and p99.
func BenchmarkAuthenticatedGET(b *testing.B) {
	env := newTestEnv(b)
	tok := env.token(b, authn.RoleAuditor, "REGIONE")
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/v1/audit/events?limit=10", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			start := time.Now()
			env.srv.Handler().ServeHTTP(w, req)
			local = append(local, time.Since(start))
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body.String())
				return
			}
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	}
}

package auditpg_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
)

// BenchmarkAppendParallel measures appends per second with 4×GOMAXPROCS
// concurrent writers (8 on two CPUs), each append its own transaction.
// Appends serialise on the head row, so this is the log's write ceiling.
func BenchmarkAppendParallel(b *testing.B) {
	const parallelism = 4
	u, err := url.Parse(pgtest.URL(b))
	require.NoError(b, err)
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(2*parallelism*4)) // a connection per writer, whatever GOMAXPROCS
	u.RawQuery = q.Encode()
	db, err := pgdb.Open(b.Context(), u.String())
	require.NoError(b, err)
	b.Cleanup(db.Close)
	svc := audit.NewService(auditpg.New(db))
	e := audit.Event{
		Actor: "bench", Role: "operator", Org: "zone-a", Action: "person.read",
		ObjectType: "person", ObjectID: "obj-1", PersonRef: "p-1", Purpose: "care",
		Outcome: audit.OutcomeAllowed, Status: 200, RequestID: "req-bench",
	}

	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Append(b.Context(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")

	v, err := svc.Verify(b.Context())
	require.NoError(b, err)
	require.True(b, v.OK, "verify: %+v", v)
}

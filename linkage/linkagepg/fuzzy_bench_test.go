package linkagepg_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
)

// BenchmarkResolveBatchFuzzy is BenchmarkResolveBatch with fuzzy matching
// on: every new identity also looks up candidates, is encoded, and has its
// encoding stored. Its identities/s over BenchmarkResolveBatch's is the
// throughput fuzzy matching keeps.
func BenchmarkResolveBatchFuzzy(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := pgtest.DB(b)
			svc, err := linkage.NewService(linkage.Config{
				Store: linkagepg.New(db), Tx: db, PRF: be.prf(b),
				TokenMasters: masters, Policy: testPolicy, BloomKey: bloomKey,
			})
			require.NoError(b, err)
			ctx := context.Background()
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batches := benchIdentities(i)
				b.StartTimer()
				start := time.Now()
				for _, batch := range batches {
					rs, err := svc.Resolve(ctx, "FIORENTINA", batch, nil)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range rs {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(b.N*benchBatches*benchBatchSize)/elapsed.Seconds(), "identities/s")
		})
	}
}

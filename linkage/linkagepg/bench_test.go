package linkagepg_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
)

const (
	benchBatches   = 10
	benchBatchSize = 1000
)

// benchIdentities returns the batches of iteration i: benchBatches batches
// of benchBatchSize identities of minors not seen in earlier iterations.
func benchIdentities(i int) [][]linkage.Identity {
	minors := demo.Identities(demo.Options{N: benchBatches * benchBatchSize, Seed: int64(1000 + i), Now: refNow})
	out := make([][]linkage.Identity, benchBatches)
	for j, m := range minors {
		out[j/benchBatchSize] = append(out[j/benchBatchSize], m.Identity)
	}
	return out
}

// BenchmarkResolveBatch resolves benchBatches batches of benchBatchSize new
// identities per iteration against the real database, with exact matching
// only and with fuzzy matching on (every new identity also looks up
// candidates and has its encodings stored). Compare exact's identities/s
// with BenchmarkPRFOnly's (the share of the time the PRF takes) and
// fuzzy's with exact's (the throughput fuzzy matching keeps).
func BenchmarkResolveBatch(b *testing.B) {
	for _, fuzzy := range []bool{false, true} {
		for _, be := range backends {
			name := "exact/" + be.name
			if fuzzy {
				name = "fuzzy/" + be.name
			}
			b.Run(name, func(b *testing.B) {
				db := pgtest.DB(b)
				cfg := linkage.Config{Store: linkagepg.New(db), Tx: db, PRF: be.prf(b), TokenMasters: masters, Policy: testPolicy}
				if fuzzy {
					cfg.BloomKey = bloomKey
				}
				svc, err := linkage.NewService(cfg)
				require.NoError(b, err)
				benchResolve(b, svc)
			})
		}
	}
}

func benchResolve(b *testing.B, svc *linkage.Service) {
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
}

// BenchmarkPRFOnly does the PRF work of BenchmarkResolveBatch without the
// database: normalisation, match-key values and one Eval per batch.
func BenchmarkPRFOnly(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			prf := be.prf(b)
			ctx := context.Background()
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batches := benchIdentities(i)
				b.StartTimer()
				start := time.Now()
				for _, batch := range batches {
					var inputs [][]byte
					for _, id := range batch {
						n, err := linkage.Normalize(id, testPolicy)
						if err != nil {
							b.Fatal(err)
						}
						for _, kv := range n.KeyValues() {
							inputs = append(inputs, linkage.PRFInput(kv))
						}
					}
					if _, err := prf.Eval(ctx, inputs); err != nil {
						b.Fatal(err)
					}
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(b.N*benchBatches*benchBatchSize)/elapsed.Seconds(), "identities/s")
		})
	}
}

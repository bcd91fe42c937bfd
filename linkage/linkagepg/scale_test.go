package linkagepg_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
)

// BenchmarkResolveAtScale measures the cost of resolving an identity that
// needs fuzzy matching — a known minor submitted without the codice
// fiscale and with a typo in the surname, so no strong key reaches it and
// its candidates are looked up and scored — against a registry of 10 000
// and of 200 000 persons (loaded first, untimed, through the Service).
// Each iteration resolves one batch of 1000 such identities, each a
// variant of a different loaded person. If candidate search were not
// index lookups, the time per identity would grow twentyfold.
//
//	go test -run '^$' -bench ResolveAtScale -benchtime 5x -timeout 30m ./linkage/linkagepg/
func BenchmarkResolveAtScale(b *testing.B) {
	for _, persons := range []int{10_000, 200_000} {
		// Loaded here, in the parent benchmark: the testing package runs a
		// sub-benchmark's function more than once and cleans up after each.
		svc, minors := loadRegistry(b, persons)
		next := 0 // batches resolved so far: each takes other minors
		b.Run(fmt.Sprintf("persons=%d", persons), func(b *testing.B) {
			ctx := context.Background()
			const batchSize = 1000
			var (
				elapsed        time.Duration
				linked, review int
			)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batch := make([]linkage.Identity, 0, batchSize)
				for j := range batchSize {
					id := minors[(next*batchSize+j)*7919%len(minors)].Identity
					id.CodiceFiscale = ""
					id.Surname = transpose(id.Surname)
					batch = append(batch, id)
				}
				next++
				b.StartTimer()
				start := time.Now()
				rs, err := svc.Resolve(ctx, "FIORENTINA", batch, nil)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range rs {
					switch {
					case r.Err != nil:
						b.Fatal(r.Err)
					case r.Status == linkage.StatusLinked:
						linked++
					case r.Status == linkage.StatusNew:
						review++
					}
				}
			}
			n := float64(b.N * batchSize)
			b.ReportMetric(float64(elapsed.Microseconds())/n, "µs/identity")
			b.ReportMetric(float64(linked)/n, "linked/identity")
			b.ReportMetric(float64(review)/n, "new/identity")
		})
	}
}

// loadRegistry resolves persons generated minors on a fresh database,
// untimed, and returns the service and the minors.
func loadRegistry(b *testing.B, persons int) (*linkage.Service, []demo.Minor) {
	ctx := context.Background()
	db := pgtest.DB(b)
	svc, err := linkage.NewService(linkage.Config{
		Store: linkagepg.New(db), Tx: db, PRF: newHMAC(b),
		TokenMasters: masters, Policy: testPolicy, BloomKey: bloomKey,
	})
	require.NoError(b, err)
	minors := demo.Identities(demo.Options{N: persons, Seed: 42, Now: refNow, TwinRate: 0.05})
	start := time.Now()
	for i := 0; i < len(minors); i += 1000 {
		batch := make([]linkage.Identity, 0, 1000)
		for _, m := range minors[i:min(i+1000, len(minors))] {
			batch = append(batch, m.Identity)
		}
		_, err := svc.Resolve(ctx, "FIORENTINA", batch, nil)
		require.NoError(b, err)
	}
	b.Logf("loaded %d persons in %s", count(b, db, "linkage.persons"), time.Since(start).Round(time.Second))
	_, err = db.Pool.Exec(ctx, "ANALYZE")
	require.NoError(b, err)
	return svc, minors
}

// transpose swaps the first two adjacent, different ASCII letters after
// the first character: a typo.
func transpose(s string) string {
	b := []byte(s)
	letter := func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
	for i := 1; i+1 < len(b); i++ {
		if letter(b[i]) && letter(b[i+1]) && b[i] != b[i+1] {
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		}
	}
	return s + "A"
}

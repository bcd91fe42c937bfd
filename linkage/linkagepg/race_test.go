package linkagepg_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
)

// TestResolveSameNewIdentityConcurrently: many requests for one new minor
// at once make one person, and all get its token.
func TestResolveSameNewIdentityConcurrently(t *testing.T) {
	const n = 50
	for _, tc := range []struct {
		name string
		id   func(i int) linkage.Identity
	}{
		{"sameIdentity", func(int) linkage.Identity { return rossi }},
		// Half without the code: they meet on NDS, the others on CF.
		{"withAndWithoutCF", func(i int) linkage.Identity {
			if i%2 == 0 {
				return noCode(rossi)
			}
			return rossi
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, db := newService(t, newHMAC(t))
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				results = make([]linkage.Result, n)
				errs    = make([]error, n)
			)
			for i := range n {
				wg.Go(func() {
					<-start
					rs, err := svc.Resolve(context.Background(), "FIORENTINA", []linkage.Identity{tc.id(i)}, nil)
					errs[i] = err
					if err == nil {
						results[i] = rs[0]
					}
				})
			}
			close(start)
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i], "goroutine %d", i)
				require.NoError(t, results[i].Err)
				assert.Equal(t, results[0].Person, results[i].Person, "goroutine %d", i)
				assert.Equal(t, results[0].Token, results[i].Token, "goroutine %d", i)
			}
			assert.Equal(t, 1, count(t, db, "linkage.persons"))
			assert.Equal(t, 1, count(t, db, "linkage.tokens"))
		})
	}
}

// TestResolveOverlappingBatchesConcurrently: batches that share half their
// identities, in different orders, resolved at once, make exactly one
// person per minor and no error (no deadlock, no race lost for good).
func TestResolveOverlappingBatchesConcurrently(t *testing.T) {
	const (
		workers = 4
		size    = 200
		step    = size / 2 // each batch shares half with the next
	)
	minors := demo.Identities(demo.Options{N: workers * step, Seed: 11, Now: refNow})
	distinct := map[int]bool{}
	for _, m := range minors {
		distinct[m.PersonID] = true
	}
	require.Len(t, distinct, len(minors), "DuplicateRate 0: one record per minor")

	svc, db := newService(t, newHMAC(t))
	batches := make([][]linkage.Identity, workers)
	for w := range workers {
		for i := range size {
			batches[w] = append(batches[w], minors[(w*step+i)%len(minors)].Identity)
		}
		switch w % 3 { // a different order in each
		case 1:
			slices.Reverse(batches[w])
		case 2:
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			rng.Shuffle(len(batches[w]), func(i, j int) { batches[w][i], batches[w][j] = batches[w][j], batches[w][i] })
		}
	}

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, workers)
		out   = make([][]linkage.Result, workers)
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			out[w], errs[w] = svc.Resolve(context.Background(), "FIORENTINA", batches[w], nil)
		})
	}
	close(start)
	wg.Wait()

	tokens := map[string]linkage.Token{} // by NDS-free key: the record's CF or index
	for w := range workers {
		require.NoError(t, errs[w], "batch %d", w)
		for _, r := range out[w] {
			require.NoError(t, r.Err)
			id := batches[w][r.Index]
			k := id.Surname + "|" + id.GivenNames + "|" + id.BirthDate + "|" + id.CodiceFiscale
			if prev, ok := tokens[k]; ok {
				assert.Equal(t, prev, r.Token, "one minor, two tokens")
			}
			tokens[k] = r.Token
		}
	}
	assert.Equal(t, len(distinct), count(t, db, "linkage.persons"))
	assert.Equal(t, len(distinct), count(t, db, "linkage.tokens"))

	// The same batches in a second domain: now every person exists and the
	// batches race for the same token rows, in different orders.
	for w := range workers {
		wg.Go(func() {
			out[w], errs[w] = svc.Resolve(context.Background(), "ASSO-000001", batches[w], nil)
		})
	}
	wg.Wait()
	for w := range workers {
		require.NoError(t, errs[w], "batch %d in the second domain", w)
		for _, r := range out[w] {
			assert.Equal(t, linkage.StatusExisting, r.Status)
		}
	}
	assert.Equal(t, len(distinct), count(t, db, "linkage.persons"))
	assert.Equal(t, 2*len(distinct), count(t, db, "linkage.tokens"))
}

// TestResolveTwoCodesConcurrently: a minor known without a code, and two
// requests at once bringing two different codici fiscali with its names and
// birth date. Resolved one after the other, the first links and the second
// is another minor; at once, they must not both link (the code guard).
func TestResolveTwoCodesConcurrently(t *testing.T) {
	const n = 12
	svc, db := newService(t, newHMAC(t))
	given := []string{"Giulia", "Marco", "Sofia", "Luca", "Chiara", "Matteo", "Anna", "Pietro", "Sara", "Paolo", "Elena", "Davide"}
	type pair struct{ a, b linkage.Identity }
	pairs := make([]pair, n)
	for i := range n {
		date := refNow.AddDate(-10, 0, -i).Format("2006-01-02")
		a := minor("Bianchi", given[i], date, "M", "D612", "380")
		b := minor("Bianchi", given[i], date, "M", "H501", "380")
		resolveOne(t, svc, "FIORENTINA", noCode(a))
		pairs[i] = pair{a, b}
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		ra    = make([]linkage.Result, n)
		rb    = make([]linkage.Result, n)
		errs  = make([]error, 2*n)
	)
	resolve := func(id linkage.Identity, into *linkage.Result, err *error) {
		<-start
		rs, e := svc.Resolve(context.Background(), "FIORENTINA", []linkage.Identity{id}, nil)
		if *err = e; e == nil {
			*into = rs[0]
		}
	}
	for i := range n {
		wg.Go(func() { resolve(pairs[i].a, &ra[i], &errs[2*i]) })
		wg.Go(func() { resolve(pairs[i].b, &rb[i], &errs[2*i+1]) })
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[2*i])
		require.NoError(t, errs[2*i+1])
		assert.NotEqual(t, ra[i].Person, rb[i].Person, "pair %d: two codici fiscali linked to one person", i)
		statuses := []linkage.Status{ra[i].Status, rb[i].Status}
		slices.Sort(statuses)
		assert.Equal(t, []linkage.Status{linkage.StatusLinked, linkage.StatusNew}, statuses, "pair %d", i)
	}
	assert.Equal(t, 2*n, count(t, db, "linkage.persons"))
	var twoCodes int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `
SELECT count(*) FROM (SELECT person_id FROM linkage.match_keys WHERE kind = 'CF'
GROUP BY person_id HAVING count(*) > 1) x`).Scan(&twoCodes))
	assert.Zero(t, twoCodes, "persons holding two codici fiscali")
}

// TestResolveRaceInCallersTransaction: a resolution that joins a
// transaction of its caller and loses a race leaves nothing of its first
// attempt in that transaction (WriteChanges' savepoint).
func TestResolveRaceInCallersTransaction(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	var (
		wg            sync.WaitGroup
		firstWritten  = make(chan struct{})
		commitFirst   = make(chan struct{})
		first, second []linkage.Result
		errFirst      error
		errSecond     error
	)
	wg.Go(func() {
		errFirst = db.WithTx(ctx, func(ctx context.Context) error {
			var err error
			first, err = svc.Resolve(ctx, "FIORENTINA", []linkage.Identity{rossi}, nil)
			close(firstWritten)
			<-commitFirst
			return err
		})
	})
	<-firstWritten
	wg.Go(func() {
		errSecond = db.WithTx(ctx, func(ctx context.Context) error {
			var err error
			second, err = svc.Resolve(ctx, "FIORENTINA", []linkage.Identity{amrani, rossi}, nil)
			return err
		})
	})
	// Commit the first only once the second waits on its key.
	require.Eventually(t, func() bool {
		var waiting int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 10*time.Second, 5*time.Millisecond, "the second resolution never waited on the first")
	close(commitFirst)
	wg.Wait()

	require.NoError(t, errFirst)
	require.NoError(t, errSecond)
	assert.Equal(t, first[0].Person, second[1].Person)
	assert.Equal(t, linkage.StatusExisting, second[1].Status)
	assert.Equal(t, linkage.StatusNew, second[0].Status)
	assert.Equal(t, 2, count(t, db, "linkage.persons"), "persons of the lost attempt left behind")
	var orphans int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM linkage.persons p
WHERE NOT EXISTS (SELECT 1 FROM linkage.match_keys k WHERE k.person_id = p.id)`).Scan(&orphans))
	assert.Zero(t, orphans)
}

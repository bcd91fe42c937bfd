package linkagepg_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
)

// resolveMany resolves n generated minors in domain and returns their
// persons and tokens.
func resolveMany(t *testing.T, svc *linkage.Service, domain string, n int, seed int64) ([]linkage.PersonID, []linkage.Token) {
	t.Helper()
	ms := demo.Identities(demo.Options{N: n, Seed: seed, Now: refNow})
	ids := make([]linkage.Identity, len(ms))
	for i, m := range ms {
		ids[i] = m.Identity
	}
	rs, err := svc.Resolve(context.Background(), domain, ids, nil)
	require.NoError(t, err)
	persons := make([]linkage.PersonID, len(rs))
	tokens := make([]linkage.Token, len(rs))
	for i, r := range rs {
		require.NoError(t, r.Err)
		persons[i], tokens[i] = r.Person, r.Token
	}
	return persons, tokens
}

func TestTokensFor(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	a := resolveOne(t, svc, "FIORENTINA", rossi)
	b := resolveOne(t, svc, "FIORENTINA", minor("Bianchi", "Marco", "2012-05-01", "M", "G702", "380"))
	require.NotEqual(t, a.Person, b.Person)
	tokensBefore := count(t, db, "linkage.tokens")

	got, err := svc.TokensFor(ctx, "inps", []linkage.PersonID{a.Person, b.Person, a.Person})
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, got[0], got[2], "one person, one token")
	assert.NotEqual(t, got[0], got[1])
	assert.Equal(t, tokensBefore+2, count(t, db, "linkage.tokens"), "each distinct token recorded once")

	t.Run("resolvesBack", func(t *testing.T) {
		for i, p := range []linkage.PersonID{a.Person, b.Person} {
			back, err := svc.PersonOf(ctx, "inps", got[i])
			require.NoError(t, err)
			assert.Equal(t, p, back)
			assert.LessOrEqual(t, len(got[i].String()), 20, "fits IDBeneficiario")
		}
		_, err := svc.PersonOf(ctx, "FIORENTINA", got[0])
		assert.ErrorIs(t, err, linkage.ErrNotFound, "an inps token is not a token of the zone")
	})
	t.Run("stable", func(t *testing.T) {
		again, err := svc.TokensFor(ctx, "inps", []linkage.PersonID{b.Person, a.Person})
		require.NoError(t, err)
		assert.Equal(t, []linkage.Token{got[1], got[0]}, again)
		assert.Equal(t, tokensBefore+2, count(t, db, "linkage.tokens"), "a token recorded already is left as it is")
	})
	t.Run("otherDomainsOtherTokens", func(t *testing.T) {
		stat, err := svc.TokensFor(ctx, "stat-2026", []linkage.PersonID{a.Person})
		require.NoError(t, err)
		assert.NotEqual(t, got[0], stat[0])
		assert.NotEqual(t, a.Token, got[0], "the export's token is not the service's")
		vs, err := svc.TokenKeyVersions(ctx, "stat-2026")
		require.NoError(t, err)
		assert.Len(t, vs, 1, "the first call in a domain creates its key v1")
	})
	t.Run("rotation", func(t *testing.T) {
		_, err := svc.RotateTokenKey(ctx, "inps")
		require.NoError(t, err)
		rotated, err := svc.TokensFor(ctx, "inps", []linkage.PersonID{a.Person})
		require.NoError(t, err)
		assert.NotEqual(t, got[0], rotated[0], "the current key issues")
		back, err := svc.PersonOf(ctx, "inps", got[0])
		require.NoError(t, err, "the old token resolves until retired")
		assert.Equal(t, a.Person, back)
	})
	t.Run("refused", func(t *testing.T) {
		before := counts(t, db)
		for _, tc := range []struct {
			name    string
			domain  string
			persons []linkage.PersonID
		}{
			{"emptyDomain", "", []linkage.PersonID{a.Person}},
			{"badDomain", "in ps", []linkage.PersonID{a.Person}},
			{"zeroPerson", "inps", []linkage.PersonID{a.Person, {}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := svc.TokensFor(ctx, tc.domain, tc.persons)
				assert.ErrorIs(t, err, linkage.ErrMalformed)
			})
		}
		_, err := svc.TokensFor(ctx, "inps", []linkage.PersonID{linkage.NewPersonID()})
		assert.Error(t, err, "a person the store does not hold gets no token")
		none, err := svc.TokensFor(ctx, "stat-2027", nil)
		require.NoError(t, err)
		assert.Empty(t, none)
		assert.Equal(t, before, counts(t, db), "nothing written, no key created")
	})
}

// TestTokensForConcurrently: overlapping batches in different orders, in a
// domain that has no key yet, recorded at once: no deadlock, no error, one
// token per person, the same whoever asked.
func TestTokensForConcurrently(t *testing.T) {
	const (
		workers = 6
		n       = 300
	)
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	persons, _ := resolveMany(t, svc, "FIORENTINA", n, 5)
	distinct := map[linkage.PersonID]bool{}
	for _, p := range persons {
		distinct[p] = true
	}
	before := count(t, db, "linkage.tokens")

	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		batches = make([][]linkage.PersonID, workers)
		results = make([][]linkage.Token, workers)
		errs    = make([]error, workers)
	)
	for w := range workers {
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		batches[w] = append([]linkage.PersonID(nil), persons[w*n/(2*workers):]...) // overlapping tails
		rng.Shuffle(len(batches[w]), func(i, j int) { batches[w][i], batches[w][j] = batches[w][j], batches[w][i] })
		wg.Go(func() {
			<-start
			results[w], errs[w] = svc.TokensFor(ctx, "inps", batches[w])
		})
	}
	close(start)
	wg.Wait()
	byPerson := map[linkage.PersonID]linkage.Token{}
	for w := range workers {
		require.NoError(t, errs[w], "worker %d", w)
		require.Len(t, results[w], len(batches[w]))
		for i, p := range batches[w] {
			if tok, ok := byPerson[p]; ok {
				assert.Equal(t, tok, results[w][i])
			}
			byPerson[p] = results[w][i]
		}
	}
	assert.Equal(t, before+len(distinct), count(t, db, "linkage.tokens"))
	vs, err := svc.TokenKeyVersions(ctx, "inps")
	require.NoError(t, err)
	assert.Len(t, vs, 1, "one key created, however many asked at once")
}

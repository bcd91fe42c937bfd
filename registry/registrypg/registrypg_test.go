package registrypg

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/registry"
)

var region = registry.Actor{Subject: "t", Role: "admin", Org: "REGIONE", Region: true}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newService(t *testing.T) (*registry.Service, *pgdb.DB, *clock) {
	t.Helper()
	db := pgtest.DB(t)
	c := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	svc, err := registry.NewService(registry.Config{Store: New(db), Tx: db, Now: c.now})
	require.NoError(t, err)
	return svc, db, c
}

func data() registry.Data {
	return registry.Data{
		Name: "Comunità Il Girasole", Typology: "COMUNITA_DIMENSIONE_FAMILIARE",
		Operator: registry.Operator{Name: "Cooperativa Il Ponte", LegalNature: "COOPERATIVA_SOCIALE", TaxNumber: "01307110484"},
		Address:  registry.Address{Street: "Via Roma 1", Postcode: "50121", Municipality: "048017"},
		Authorisation: registry.Authorisation{Status: registry.AuthorisationGranted,
			Date: registry.Date{Time: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}, Act: "SUAP 1/2020"},
		AuthorisedPlaces: 8, Target: registry.Target{MinAge: 6, MaxAge: 17},
		Contacts: registry.Contacts{Email: "info@girasole.example.it", Phone: "055 123456"},
	}
}

func rename(name string) func(registry.Data) (registry.Data, error) {
	return func(d registry.Data) (registry.Data, error) { d.Name = name; return d, nil }
}

func counts(t *testing.T, db *pgdb.DB) [2]int {
	t.Helper()
	var c [2]int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM registry.facilities), (SELECT count(*) FROM registry.facility_versions)`).Scan(&c[0], &c[1]))
	return c
}

// TestAsOfBoundaries: at any instant exactly one version of a facility is
// in force, even across versions made in the same instant.
func TestAsOfBoundaries(t *testing.T) {
	svc, db, c := newService(t)
	ctx := context.Background()
	store := New(db)
	t0 := c.now()
	f, err := svc.Create(ctx, region, data(), "", nil)
	require.NoError(t, err)
	t1 := t0.Add(time.Hour)
	c.set(t1)
	f, err = svc.Update(ctx, region, f.Ref(), 1, rename("Due"), "", nil)
	require.NoError(t, err)
	_, err = svc.Update(ctx, region, f.Ref(), 2, rename("Tre"), "", nil) // same instant: version 2 lasts no time
	require.NoError(t, err)

	all := registry.Query{Limit: 10, Visibility: registry.Visibility{All: true}}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0, ""},
		{t0.Add(time.Microsecond), "Comunità Il Girasole"},
		{t1, "Comunità Il Girasole"},
		{t1.Add(time.Microsecond), "Tre"},
		{t1.Add(24 * time.Hour), "Tre"},
	} {
		fs, err := store.Search(ctx, all, tc.at)
		require.NoError(t, err)
		if tc.want == "" {
			assert.Empty(t, fs, tc.at)
			continue
		}
		require.Len(t, fs, 1, tc.at)
		assert.Equal(t, tc.want, fs[0].Data.Name, tc.at)
	}
	h, err := svc.History(ctx, f.Ref(), registry.Visibility{All: true})
	require.NoError(t, err)
	require.Len(t, h, 3)
	assert.Equal(t, h[1].ValidFrom, h[1].ValidTo)
}

// TestConcurrentApprovals: of eight simultaneous approvals one wins, the
// others see the active state; one regional code is assigned.
func TestConcurrentApprovals(t *testing.T) {
	svc, db, _ := newService(t)
	ctx := context.Background()
	f, err := svc.Create(ctx, region, data(), "", nil)
	require.NoError(t, err)
	f, err = svc.Transition(ctx, region, f.Ref(), registry.ChangeSubmit, 0, "", nil)
	require.NoError(t, err)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []registry.Facility
		states []registry.Status
	)
	for range 8 {
		wg.Go(func() {
			got, err := svc.Transition(ctx, region, f.Ref(), registry.ChangeApprove, 0, "", nil)
			mu.Lock()
			defer mu.Unlock()
			var te *registry.TransitionError
			switch {
			case err == nil:
				wins = append(wins, got)
			case errors.As(err, &te):
				states = append(states, te.From)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.Len(t, wins, 1)
	assert.Len(t, states, 7)
	for _, s := range states {
		assert.Equal(t, registry.StatusActive, s)
	}
	assert.Equal(t, [2]int{1, 3}, counts(t, db))
	cur, err := svc.Get(ctx, registry.Ref{ID: f.ID}, registry.Visibility{All: true})
	require.NoError(t, err)
	assert.Equal(t, wins[0].Code, cur.Code)
}

// TestHookFailureWritesNothing: the hook (api's audit event) fails, and
// the change it would have recorded is not there either.
func TestHookFailureWritesNothing(t *testing.T) {
	svc, db, _ := newService(t)
	ctx := context.Background()
	boom := errors.New("audit log unavailable")
	fail := func(context.Context, registry.Facility) error { return boom }
	_, err := svc.Create(ctx, region, data(), "", fail)
	require.ErrorIs(t, err, boom)
	assert.Equal(t, [2]int{0, 0}, counts(t, db))

	f, err := svc.Create(ctx, region, data(), "", nil)
	require.NoError(t, err)
	_, err = svc.Update(ctx, region, f.Ref(), 1, rename("Altro"), "", fail)
	require.ErrorIs(t, err, boom)
	_, err = svc.Transition(ctx, region, f.Ref(), registry.ChangeSubmit, 1, "", fail)
	require.ErrorIs(t, err, boom)
	assert.Equal(t, [2]int{1, 1}, counts(t, db))
	cur, err := svc.Get(ctx, f.Ref(), registry.Visibility{All: true})
	require.NoError(t, err)
	assert.Equal(t, 1, cur.Version)
	assert.Equal(t, "Comunità Il Girasole", cur.Data.Name)
}

package reportpg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
	"github.com/toscana/sirm/report"
)

// demoDate is the reference day of the demo registry: every date in it is
// earlier.
var demoDate = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// seeded returns a database holding the demo registry (sirm demo
// facilities' own generator and loader) and the registry service on it.
func seeded(t *testing.T) (*pgdb.DB, *registry.Service, *clock) {
	t.Helper()
	db := pgtest.DB(t)
	c := &clock{}
	svc, err := registry.NewService(registry.Config{Store: registrypg.New(db), Tx: db, Now: c.now})
	require.NoError(t, err)
	fs := demo.Facilities(demo.FacilityOptions{N: 183, Seed: 1, Now: demoDate}, registry.MustLoadCodes())
	require.NoError(t, demo.LoadFacilities(context.Background(), svc, c.set, fs, nil))
	return db, svc, c
}

// rawVersion is one row of registry.facility_versions, as the test reads it.
type rawVersion struct {
	id           int64
	status, zone string
	typology     string
	places       int
	validFrom    time.Time
	validTo      *time.Time
}

// expected counts facilities and places by zone|typology from the raw rows,
// in Go: the independent computation the census must agree with. A version
// is the one of day d when it started before the day ended in Rome and had
// not ended before.
func expected(t *testing.T, db *pgdb.DB, d time.Time, zone string) (facilities, places map[[2]string]int) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`SELECT facility_id, status, zone, typology, authorised_places, valid_from, valid_to FROM registry.facility_versions`)
	require.NoError(t, err)
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rawVersion, error) {
		var v rawVersion
		err := r.Scan(&v.id, &v.status, &v.zone, &v.typology, &v.places, &v.validFrom, &v.validTo)
		return v, err
	})
	require.NoError(t, err)
	rome, err := time.LoadLocation("Europe/Rome")
	require.NoError(t, err)
	end := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, rome).AddDate(0, 0, 1)
	facilities, places = map[[2]string]int{}, map[[2]string]int{}
	seen := map[int64]bool{}
	for _, v := range vs {
		if !v.validFrom.Before(end) || (v.validTo != nil && v.validTo.Before(end)) {
			continue
		}
		require.False(t, seen[v.id], "two versions of facility %d in force on %s", v.id, d)
		seen[v.id] = true
		if v.status != "active" || (zone != "" && v.zone != zone) {
			continue
		}
		facilities[[2]string{v.zone, v.typology}]++
		places[[2]string{v.zone, v.typology}] += v.places
	}
	return facilities, places
}

// requireMatches checks every cell and margin of the published table t
// against want.
func requireMatches(t *testing.T, tab report.Grid, want map[[2]string]int) {
	t.Helper()
	h := tab.Header()
	grand := 0
	rowSum := make([]int, len(h.Rows.Categories))
	colSum := make([]int, len(h.Cols.Categories))
	for r, rc := range h.Rows.Categories {
		for c, cc := range h.Cols.Categories {
			n, ok := tab.Entry(r, c)
			require.True(t, ok, "%s: %s × %s is not published", h.ID, rc.Code, cc.Code)
			w := want[[2]string{rc.Code, cc.Code}]
			require.Equal(t, float64(w), n.Value, "%s: %s × %s", h.ID, rc.Code, cc.Code)
			rowSum[r] += w
			colSum[c] += w
			grand += w
		}
	}
	for r := range rowSum {
		n, _ := tab.Entry(r, report.Total)
		require.Equal(t, float64(rowSum[r]), n.Value, "%s: total of row %d", h.ID, r)
	}
	for c := range colSum {
		n, _ := tab.Entry(report.Total, c)
		require.Equal(t, float64(colSum[c]), n.Value, "%s: total of column %d", h.ID, c)
	}
	n, _ := tab.Entry(report.Total, report.Total)
	require.Equal(t, float64(grand), n.Value, "%s: grand total", h.ID)
	// Nothing is counted outside the lists.
	sum := 0
	for _, v := range want {
		sum += v
	}
	require.Equal(t, sum, grand, "%s: counts outside the zones or typologies listed", h.ID)
}

// TestFacilityCensusMatchesRawRows computes the census on the demo registry
// at several days, for the Region and for single zones, and compares every
// cell with counts made here from the raw version rows.
func TestFacilityCensusMatchesRawRows(t *testing.T) {
	db, svc, c := seeded(t)
	ctx := context.Background()
	s := New(db, Options{})

	// One more version: a facility active on the demo date changes its
	// places and typology the next day, so the day before and the day
	// after see different versions.
	fs, _, err := svc.Search(ctx, registry.Query{Status: registry.StatusActive, Zone: "FIORENTINA", Limit: 1,
		Visibility: registry.Visibility{All: true}})
	require.NoError(t, err)
	require.Len(t, fs, 1)
	c.set(demoDate.Add(36 * time.Hour)) // 1 July, 12:00 UTC
	_, err = svc.Update(ctx, registry.Actor{Subject: "t", Role: "admin", Org: "REGIONE", Region: true}, fs[0].Ref(), fs[0].Version,
		func(d registry.Data) (registry.Data, error) {
			d.Typology, d.AuthorisedPlaces = "COMUNITA_EDUCATIVA", 7
			if d.Typology == fs[0].Data.Typology {
				d.Typology = "COMUNITA_FAMILIARE"
			}
			return d, nil
		}, "", nil)
	require.NoError(t, err)

	days := []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), // before the registry
		time.Date(2021, 3, 15, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC),
		demoDate,
		demoDate.AddDate(0, 0, 1),
	}
	nonEmpty := 0
	for _, d := range days {
		for _, zone := range []string{"", "FIORENTINA", "LUNIGIANA"} {
			t.Run(fmt.Sprintf("%s/%s", d.Format(time.DateOnly), zone), func(t *testing.T) {
				out, err := s.FacilityCensus(ctx, report.Params{Date: d, Zone: zone})
				require.NoError(t, err)
				require.Len(t, out.Grids, 4)
				wantF, wantP := expected(t, db, d, zone)
				requireMatches(t, out.Grids[0], wantF)
				requireMatches(t, out.Grids[1], wantP)
				assert.Equal(t, TableFacilities, out.Grids[0].Header().ID)
				assert.Equal(t, TablePlaces, out.Grids[1].Header().ID)
				if zone != "" {
					assert.Len(t, out.Grids[0].Header().Rows.Categories, 1)
				}
				if n, _ := out.Grids[0].Entry(report.Total, report.Total); n.Value > 0 {
					nonEmpty++
				}
				// No stays here: nothing occupied (the surveys' test
				// checks occupancy against the demo stays).
				assert.Empty(t, out.Unavailable)
				assert.Equal(t, TableOccupied, out.Grids[2].Header().ID)
				assert.Equal(t, 0, report.Unwrap(out.Grids[2]).(*report.Table).Value(report.Total, report.Total))
			})
		}
	}
	assert.GreaterOrEqual(t, nonEmpty, 9, "the demo registry must give non-trivial censuses")

	// The day of the demo date and the next see the edited facility in
	// different cells.
	f0, _ := expected(t, db, demoDate, "")
	f1, _ := expected(t, db, demoDate.AddDate(0, 0, 1), "")
	assert.NotEqual(t, f0, f1)
}

// occFunc is a fake Occupancy, for counts the demo stays would not give.
type occFunc func(ctx context.Context, day time.Time) ([]report.Count, error)

func (f occFunc) OccupiedPlaces(ctx context.Context, day time.Time) ([]report.Count, error) {
	return f(ctx, day)
}

// TestFacilityCensusOccupancy: with a source of occupancy the census adds
// occupied places, protected with the person policy (threshold 3 by
// default, or the one configured), and the occupancy rate, published only
// where the occupied places are.
func TestFacilityCensusOccupancy(t *testing.T) {
	db := pgtest.DB(t)
	ctx := context.Background()
	occ := occFunc(func(_ context.Context, day time.Time) ([]report.Count, error) {
		assert.Equal(t, demoDate, day)
		return []report.Count{
			{Row: "FIORENTINA", Col: "COMUNITA_EDUCATIVA", N: 1},
			{Row: "FIORENTINA", Col: "COMUNITA_FAMILIARE", N: 12},
			{Row: "FIORENTINA", Col: "CENTRO_PRONTA_ACCOGLIENZA", N: 4},
			{Row: "APUANE", Col: "COMUNITA_EDUCATIVA", N: 9},
			{Row: "APUANE", Col: "COMUNITA_FAMILIARE", N: 2},
			{Row: "APUANE", Col: "CENTRO_PRONTA_ACCOGLIENZA", N: 6},
		}, nil
	})
	for _, tc := range []struct {
		name      string
		policy    report.Policy
		threshold int
	}{{"default3", report.Policy{}, 3}, {"threshold5", report.Policy{Threshold: 5, Margin: 1}, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(db, Options{Occupancy: occ, Policy: tc.policy})
			out, err := s.FacilityCensus(ctx, report.Params{Date: demoDate})
			require.NoError(t, err)
			require.Empty(t, out.Unavailable)
			require.Len(t, out.Grids, 4)
			occupied := out.Grids[2].(*report.Table)
			assert.Equal(t, tc.threshold, occupied.Policy().Threshold)
			// No published cell below the threshold, and no suppressed one
			// recomputable.
			for r := report.Total; r < occupied.NumRows(); r++ {
				for c := report.Total; c < occupied.NumCols(); c++ {
					if v, ok := occupied.Published(r, c); ok {
						assert.False(t, v > 0 && v < tc.threshold, "published %d at %d,%d", v, r, c)
					}
				}
			}
			assert.Positive(t, occupied.SuppressedCount())
			ivs, err := occupied.Audit()
			require.NoError(t, err)
			for _, iv := range ivs {
				assert.False(t, iv.Disclosed, "suppressed entry %d,%d can be recomputed", iv.Row, iv.Col)
			}
			rate := out.Grids[3]
			for r := 0; r < occupied.NumRows(); r++ {
				for c := 0; c < occupied.NumCols(); c++ {
					_, okNum := occupied.Published(r, c)
					_, okRate := rate.Entry(r, c)
					assert.Equal(t, okNum, okRate, "rate at %d,%d", r, c)
				}
			}
		})
	}

	t.Run("sourceFails", func(t *testing.T) {
		boom := errors.New("boom")
		s := New(db, Options{Occupancy: occFunc(func(context.Context, time.Time) ([]report.Count, error) { return nil, boom })})
		_, err := s.FacilityCensus(ctx, report.Params{Date: demoDate})
		assert.ErrorIs(t, err, boom)
	})
	t.Run("unknownCode", func(t *testing.T) {
		s := New(db, Options{Occupancy: occFunc(func(context.Context, time.Time) ([]report.Count, error) {
			return []report.Count{{Row: "NOWHERE", Col: "COMUNITA_EDUCATIVA", N: 5}}, nil
		})})
		_, err := s.FacilityCensus(ctx, report.Params{Date: demoDate})
		assert.ErrorIs(t, err, report.ErrUnknownCategory, "a count outside the lists is an error, not dropped")
	})
}

func TestDefinitions(t *testing.T) {
	s := New(nil, Options{})
	cat, err := report.NewCatalogue(s.Definitions()...)
	require.NoError(t, err)
	d, ok := cat.Lookup(FacilityCensus)
	require.True(t, ok)
	assert.True(t, d.Takes(report.ParamDate))
	assert.True(t, d.Takes(report.ParamZone))
	assert.False(t, d.Takes(report.ParamFrom))
}

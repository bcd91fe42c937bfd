package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
)

// kAnonymousSubset is a MicrodataSource that keeps, of the real store's
// records, those whose quasi-identifiers at least 3 minors share: data a
// release is allowed for, which the small demo population is not.
type kAnonymousSubset struct{ src report.MicrodataSource }

func (k kAnonymousSubset) OutOfFamilyRecords(ctx context.Context, day time.Time) ([]report.MicroRecord, error) {
	recs, err := k.src.OutOfFamilyRecords(ctx, day)
	if err != nil {
		return nil, err
	}
	minors := map[report.QuasiIdentifiers]map[string]bool{}
	for _, r := range recs {
		if minors[r.QuasiIdentifiers()] == nil {
			minors[r.QuasiIdentifiers()] = map[string]bool{}
		}
		minors[r.QuasiIdentifiers()][r.Person] = true
	}
	var out []report.MicroRecord
	for _, r := range recs {
		if len(minors[r.QuasiIdentifiers()]) >= 3 {
			out = append(out, r)
		}
	}
	return out, nil
}

// TestMicrodata: research microdata (the Region on 31 December of a past
// year) are refused when some combination of quasi-identifiers has fewer
// than 3 minors (the demo data: saying neither which nor how many) and
// released when none has; released records carry stat-YYYY tokens that
// resolve to the minors and nothing else that identifies them; only
// analysts may ask; every bad parameter is named.
func TestMicrodata(t *testing.T) {
	env := newTestEnv(t)
	seedDemoRegistry(t, env)
	seedDemoActivity(t, env, 300)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")
	today := time.Now().In(registry.Rome)
	last := strconv.Itoa(today.Year() - 1)
	domain := "stat-" + last

	t.Run("refusedWhenNotKAnonymous", func(t *testing.T) {
		for _, q := range []string{"?year=" + last, "?year=" + last + "&geo=region"} {
			w := env.do(t, http.MethodGet, "/v1/exports/microdata"+q, analyst, nil)
			p := requireProblem(t, w, http.StatusConflict)
			assert.Contains(t, p.Detail, "fewer than 3 minors", q)
			assert.Regexp(t, `^[^0-9]*3[^0-9]*$`, p.Detail, "no count of the combinations or minors short of k")
			for _, z := range env.srv.registry.Codes().Zones {
				assert.NotContains(t, p.Detail, z.Code, "the refusal names no combination")
			}
		}
		var n int
		require.NoError(t, env.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM linkage.tokens WHERE domain LIKE 'stat-%'`).Scan(&n))
		assert.Zero(t, n, "a refused release issues no token")
	})

	// The same server with a population a release is allowed for.
	src := kAnonymousSubset{env.srv.opts.Microdata}
	o := env.srv.opts
	o.Microdata = src
	rel := &testEnv{srv: New(o), key: env.key, store: env.store, db: env.db, prf: env.prf, clock: env.clock}
	day, err := time.Parse(time.DateOnly, last+"-12-31")
	require.NoError(t, err)
	want, err := src.OutOfFamilyRecords(context.Background(), day)
	require.NoError(t, err)
	require.NotEmpty(t, want, "the demo data has combinations of 3 or more minors")

	var first []microRecordJSON
	t.Run("released", func(t *testing.T) {
		w := rel.do(t, http.MethodGet, "/v1/exports/microdata?year="+last, analyst, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var resp microdataResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
		assert.Equal(t, domain, resp.Domain)
		assert.Equal(t, last+"-12-31", resp.Date)
		assert.Equal(t, 3, resp.K)
		require.Len(t, resp.Records, len(want))
		for i, r := range resp.Records {
			tok, err := linkage.ParseToken(r.Token)
			require.NoError(t, err)
			p, err := env.srv.linkage.PersonOf(context.Background(), domain, tok)
			require.NoError(t, err, "the token resolves in its domain")
			assert.Equal(t, strings.ReplaceAll(want[i].Person, "-", ""), p.String(), "record %d", i)
			_, err = env.srv.linkage.PersonOf(context.Background(), "FIORENTINA", tok)
			assert.ErrorIs(t, err, linkage.ErrNotFound, "a stat token is nobody's elsewhere")
			assert.Equal(t, want[i].Zone, r.Zone)
			assert.Equal(t, want[i].AgeClass.String(), r.AgeClass)
		}
		first = resp.Records
		assert.NotContains(t, w.Body.String(), want[0].Person, "no person id")
		assert.NotContains(t, w.Body.String(), strings.ReplaceAll(want[0].Person, "-", ""), "no person id")
	})
	t.Run("sameTokensWithinTheYear", func(t *testing.T) {
		w := rel.do(t, http.MethodGet, "/v1/exports/microdata?format=csv&year="+last, analyst, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, "text/csv; charset=utf-8; header=present", w.Header().Get("Content-Type"))
		recs, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, len(first)+1)
		assert.Equal(t, microdataColumns, recs[0])
		for i, r := range first {
			assert.Equal(t, r.Token, recs[i+1][0])
		}
	})
	t.Run("regionGeography", func(t *testing.T) {
		w := rel.do(t, http.MethodGet, "/v1/exports/microdata?geo=region&year="+last, analyst, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var resp microdataResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
		for _, r := range resp.Records {
			assert.Equal(t, report.RegionZone, r.Zone)
		}
	})
	t.Run("audited", func(t *testing.T) {
		auditor := env.token(t, authn.RoleAuditor, "REGIONE")
		w := rel.do(t, http.MethodGet, "/v1/audit/events?action=exports.microdata", auditor, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var page auditListResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		outcomes := map[string]int{}
		for _, e := range page.Events {
			outcomes[e.Outcome]++
			if e.Outcome == "allowed" && strings.Contains(e.ObjectID, "geo=region") {
				assert.Contains(t, e.ObjectID, "records=")
			}
		}
		assert.Equal(t, 2, outcomes["failed"], "the two refusals")
		assert.Equal(t, 3, outcomes["allowed"], "the three releases")
	})
	t.Run("access", func(t *testing.T) {
		for _, tok := range []string{
			env.token(t, authn.RoleServiceOperator, "FIORENTINA"), env.token(t, authn.RoleFacilityOperator, "ASSO-000001"),
			env.token(t, authn.RoleDataSteward, "REGIONE"), env.token(t, authn.RoleAuditor, "REGIONE"), env.token(t, authn.RoleAdmin, "REGIONE"),
		} {
			requireProblem(t, rel.do(t, http.MethodGet, "/v1/exports/microdata?year="+last, tok, nil), http.StatusForbidden)
		}
	})
	t.Run("badInput", func(t *testing.T) {
		for _, tc := range []struct {
			query  string
			fields []string
		}{
			{"", []string{"year"}},
			{"?year=20x5", []string{"year"}},
			{"?year=" + today.Format("2006"), []string{"year"}}, // not over yet
			{"?year=1999", []string{"year"}},
			{"?year=" + last + "&geo=province", []string{"geo"}},
			{"?year=" + last + "&format=xlsx", []string{"format"}},
			{"?year=" + last + "&k=2", []string{"k"}},
			{"?year=" + last + "&zone=PISANA", []string{"zone"}}, // always the whole Region
			{"?year=" + last + "&date=2025-06-30", []string{"date"}},
			{"?year=" + last + "&year=2024", []string{"year"}},
		} {
			p := requireProblem(t, rel.do(t, http.MethodGet, "/v1/exports/microdata"+tc.query, analyst, nil), http.StatusBadRequest)
			assert.Equal(t, tc.fields, fieldsOf(p), tc.query)
		}
	})
}

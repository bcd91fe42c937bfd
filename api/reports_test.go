package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
	"github.com/toscana/sirm/report/render"
)

// demoDay is the reference day of the demo registry.
const demoDay = "2025-06-30"

// seedDemoRegistry loads the demo registry (sirm demo facilities' generator
// and loader) into env's database, through env's registry service.
func seedDemoRegistry(t testing.TB, env *testEnv) {
	t.Helper()
	ref, _ := time.Parse(time.DateOnly, demoDay)
	fs := demo.Facilities(demo.FacilityOptions{N: 183, Seed: 1, Now: ref}, registry.MustLoadCodes())
	require.NoError(t, demo.LoadFacilities(context.Background(), env.srv.registry, env.clock.Set, fs, nil))
	env.clock.Set(time.Time{}) // the real time again
}

// seedDemoActivity loads n demo minors' case files and stays (sirm demo
// activity's generator) through the server's linkage and activity, as
// of today.
func seedDemoActivity(t testing.TB, env *testEnv, n int) demo.ActivitySummary {
	t.Helper()
	sum, err := demo.LoadActivity(context.Background(), demo.ActivityEnv{Linkage: env.srv.linkage, Activity: env.srv.activity,
		Registry: env.srv.registry, Actor: "test",
		Audit: func(context.Context, demo.Step, string, string, linkage.PersonID) error { return nil }},
		demo.ActivityOptions{N: n, Seed: 5, Today: activity.Day(time.Now())})
	require.NoError(t, err)
	require.Positive(t, sum.Stays)
	return sum
}

// rawCensus counts, in Go from the raw version rows, the active facilities
// and places by zone|typology on day, as a reader of the registry's history
// would: the version that started before the day ended in Rome and had not
// ended before.
func rawCensus(t *testing.T, env *testEnv, day, zone string) (facilities, places map[string]int) {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, day, registry.Rome)
	require.NoError(t, err)
	end := d.AddDate(0, 0, 1)
	rows, err := env.db.Pool.Query(context.Background(),
		`SELECT status, zone, typology, authorised_places, valid_from, valid_to FROM registry.facility_versions`)
	require.NoError(t, err)
	defer rows.Close()
	facilities, places = map[string]int{}, map[string]int{}
	for rows.Next() {
		var (
			status, z, typ string
			n              int
			from           time.Time
			to             *time.Time
		)
		require.NoError(t, rows.Scan(&status, &z, &typ, &n, &from, &to))
		if !from.Before(end) || (to != nil && to.Before(end)) || status != "active" || (zone != "" && z != zone) {
			continue
		}
		facilities[z+"|"+typ]++
		places[z+"|"+typ] += n
	}
	require.NoError(t, rows.Err())
	return facilities, places
}

func getReport(t *testing.T, env *testEnv, tok, query string, hdr ...string) *httptestResponse {
	t.Helper()
	w := env.do(t, http.MethodGet, "/v1/reports/facility-census"+query, tok, nil, hdr...)
	return &httptestResponse{code: w.Code, body: w.Body.Bytes(), w: w}
}

// requireTableMatches checks every cell and margin of a JSON table against
// want (keys zone|typology).
func requireTableMatches(t *testing.T, tj render.TableJSON, want map[string]int) {
	t.Helper()
	grand := 0
	for r, rc := range tj.Rows.Categories {
		row := 0
		for c, cc := range tj.Columns.Categories {
			v := tj.Cells[r][c]
			require.NotNil(t, v, "%s: %s × %s is not published", tj.ID, rc.Code, cc.Code)
			w := want[rc.Code+"|"+cc.Code]
			require.Equal(t, float64(w), *v, "%s: %s × %s", tj.ID, rc.Code, cc.Code)
			row += w
		}
		require.Equal(t, float64(row), *tj.RowTotals[r], "%s: total of %s", tj.ID, rc.Code)
		grand += row
	}
	sum := 0
	for _, v := range want {
		sum += v
	}
	require.Equal(t, sum, grand, "%s: counts outside the table", tj.ID)
	require.Equal(t, float64(grand), *tj.GrandTotal, tj.ID)
	assert.Empty(t, tj.Suppressed, "facilities and places are not person data: nothing is suppressed")
}

// TestFacilityCensusReport: the census the API returns on the demo
// registry matches counts made from the raw rows, for the Region and for a
// service's own zone; occupancy is announced as unavailable, not zero.
func TestFacilityCensusReport(t *testing.T) {
	env := newTestEnv(t)
	seedDemoRegistry(t, env)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")

	for _, tc := range []struct {
		name, tok, query, zone string
	}{
		{"analystRegion", analyst, "?date=" + demoDay, ""},
		{"analystZone", analyst, "?date=" + demoDay + "&zone=PISANA", "PISANA"},
		{"analystEarlier", analyst, "?date=2023-01-31", ""},
		{"serviceDefaultsToOwnZone", env.token(t, authn.RoleServiceOperator, "FIORENTINA"), "?date=" + demoDay, "FIORENTINA"},
		{"serviceOwnZone", env.token(t, authn.RoleServiceOperator, "FIORENTINA"), "?date=" + demoDay + "&zone=FIORENTINA", "FIORENTINA"},
		{"formatJSON", analyst, "?date=" + demoDay + "&format=json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := getReport(t, env, tc.tok, tc.query)
			require.Equal(t, http.StatusOK, r.code, string(r.body))
			assert.Equal(t, "application/json", r.w.Header().Get("Content-Type"))
			var rep reportResponse
			r.json(t, &rep)
			assert.Equal(t, "facility-census", rep.Report)
			if tc.zone == "" {
				assert.Nil(t, rep.Parameters.Zone)
				assert.Len(t, rep.Tables[0].Rows.Categories, 28)
			} else {
				require.NotNil(t, rep.Parameters.Zone)
				assert.Equal(t, tc.zone, *rep.Parameters.Zone)
				require.Len(t, rep.Tables[0].Rows.Categories, 1)
				assert.Equal(t, tc.zone, rep.Tables[0].Rows.Categories[0].Code)
			}
			require.Len(t, rep.Tables, 4)
			day := strings.TrimPrefix(strings.SplitN(tc.query, "&", 2)[0], "?date=")
			wantF, wantP := rawCensus(t, env, day, tc.zone)
			require.NotEmpty(t, wantF, "the demo registry gives a non-trivial census")
			requireTableMatches(t, rep.Tables[0], wantF)
			requireTableMatches(t, rep.Tables[1], wantP)
			assert.Equal(t, []string{"occupied_places_by_zone_typology", "occupancy_rate_by_zone_typology"},
				[]string{rep.Tables[2].ID, rep.Tables[3].ID})
			assert.Empty(t, rep.Unavailable)
		})
	}

	t.Run("defaultDateIsToday", func(t *testing.T) {
		r := getReport(t, env, analyst, "")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var rep reportResponse
		r.json(t, &rep)
		assert.Equal(t, time.Now().In(registry.Rome).Format(time.DateOnly), *rep.Parameters.Date)
	})

	t.Run("list", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/reports", analyst, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var l reportList
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &l))
		require.Len(t, l.Reports, 4)
		assert.Equal(t, "facility-census", l.Reports[0].Name)
		assert.Equal(t, []string{"from", "to", "zone"}, l.Reports[2].Parameters)
		assert.Equal(t, []string{"date", "zone"}, l.Reports[0].Parameters)
		assert.Equal(t, "/v1/reports/facility-census", l.Reports[0].Href)
	})
}

func TestReportFormats(t *testing.T) {
	env := newTestEnv(t)
	seedDemoRegistry(t, env)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")
	wantF, _ := rawCensus(t, env, demoDay, "")
	total := 0
	for _, v := range wantF {
		total += v
	}

	t.Run("csvComma", func(t *testing.T) {
		r := getReport(t, env, analyst, "?date="+demoDay+"&format=csv&lang=en&table=facilities_by_zone_typology")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		assert.Equal(t, "text/csv; charset=utf-8; header=present", r.w.Header().Get("Content-Type"))
		assert.Equal(t, `attachment; filename="facility-census_2025-06-30_facilities_by_zone_typology.csv"`,
			r.w.Header().Get("Content-Disposition"))
		recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 1+28+1, "header, 28 zones, totals")
		last := recs[len(recs)-1]
		assert.Equal(t, float64(total), mustFloat(t, last[len(last)-1]), "grand total")
	})
	t.Run("csvSemicolon", func(t *testing.T) {
		r := getReport(t, env, analyst, "?date="+demoDay+"&format=csv&sep=semicolon&table=authorised_places_by_zone_typology&zone=PISANA")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		assert.True(t, bytes.HasPrefix(r.body, []byte("\xEF\xBB\xBF")), "a BOM for Excel")
		assert.Contains(t, r.w.Header().Get("Content-Disposition"), "facility-census_2025-06-30_PISANA_authorised_places_by_zone_typology.csv")
		rd := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\xEF\xBB\xBF"))))
		rd.Comma = ';'
		recs, err := rd.ReadAll()
		require.NoError(t, err)
		assert.Len(t, recs, 3, "header, the zone, totals")
	})
	t.Run("xlsx", func(t *testing.T) {
		r := getReport(t, env, analyst, "?date="+demoDay+"&format=xlsx")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		assert.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", r.w.Header().Get("Content-Type"))
		assert.Equal(t, `attachment; filename="facility-census_2025-06-30.xlsx"`, r.w.Header().Get("Content-Disposition"))
		f, err := excelize.OpenReader(bytes.NewReader(r.body))
		require.NoError(t, err)
		defer f.Close()
		assert.Len(t, f.GetSheetList(), 4, "one sheet per table")
	})
	t.Run("html", func(t *testing.T) {
		r := getReport(t, env, analyst, "?date="+demoDay+"&format=html")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		assert.Equal(t, "text/html; charset=utf-8", r.w.Header().Get("Content-Type"))
		assert.Empty(t, r.w.Header().Get("Content-Disposition"), "the page opens in the browser")
		assert.Contains(t, r.w.Header().Get("Content-Security-Policy"), "style-src 'unsafe-inline'")
		assert.NotContains(t, r.w.Header().Get("Content-Security-Policy"), "script")
		assert.Contains(t, string(r.body), "<svg")
		assert.Contains(t, string(r.body), "Tasso di occupazione")
	})
	for _, tc := range []struct{ accept, want string }{
		{"text/csv", "text/csv; charset=utf-8; header=present"},
		{"text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "text/html; charset=utf-8"},
		{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"application/json;q=0.5, text/csv;q=0.4", "application/json"},
		{"*/*", "application/json"},
	} {
		t.Run("accept "+tc.accept, func(t *testing.T) {
			r := getReport(t, env, analyst, "?date="+demoDay+"&table=facilities_by_zone_typology", "Accept", tc.accept)
			require.Equal(t, http.StatusOK, r.code, string(r.body))
			assert.Equal(t, tc.want, r.w.Header().Get("Content-Type"))
		})
	}
	t.Run("csvNeedsTable", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/reports/facility-census?format=csv", analyst, nil)
		p := requireProblem(t, w, http.StatusBadRequest)
		assert.Equal(t, []string{"table"}, fieldsOf(p))
		assert.Contains(t, p.Errors[0].Reason, "occupancy_rate_by_zone_typology", "the reason lists the tables")
	})
	t.Run("formatWinsOverAccept", func(t *testing.T) {
		r := getReport(t, env, analyst, "?date="+demoDay+"&format=json", "Accept", "text/csv")
		require.Equal(t, http.StatusOK, r.code)
		assert.Equal(t, "application/json", r.w.Header().Get("Content-Type"))
	})
	t.Run("notAcceptable", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/reports/facility-census", analyst, nil, "Accept", "application/pdf")
		requireProblem(t, w, http.StatusNotAcceptable)
	})
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	require.NoError(t, json.Unmarshal([]byte(s), &f), s)
	return f
}

func TestReportAccess(t *testing.T) {
	env := newTestEnv(t)
	svc := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	for _, tc := range []struct {
		name, tok, query string
		status           int
	}{
		{"analystAnyZone", env.token(t, authn.RoleRegionAnalyst, "REGIONE"), "?zone=APUANE", 200},
		{"admin403", env.token(t, authn.RoleAdmin, "REGIONE"), "?zone=APUANE", 403},
		{"serviceOwnZone", svc, "?zone=FIORENTINA", 200},
		{"serviceOtherZone403", svc, "?zone=APUANE", 403},
		{"serviceNotAZone403", env.token(t, authn.RoleServiceOperator, "NOWHERE"), "", 403},
		{"facilityOperator403", env.token(t, authn.RoleFacilityOperator, "ASSO-000001"), "", 403},
		{"steward403", env.token(t, authn.RoleDataSteward, "REGIONE"), "", 403},
		{"auditor403", env.token(t, authn.RoleAuditor, "REGIONE"), "", 403},
		{"anonymous401", "", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := env.do(t, http.MethodGet, "/v1/reports/facility-census"+tc.query, tc.tok, nil)
			if tc.status == 200 {
				require.Equal(t, 200, w.Code, w.Body.String())
				return
			}
			requireProblem(t, w, tc.status)
		})
	}
	for _, role := range []authn.Role{authn.RoleFacilityOperator, authn.RoleDataSteward, authn.RoleAuditor, authn.RoleAdmin} {
		w := env.do(t, http.MethodGet, "/v1/reports", env.token(t, role, "X"), nil)
		requireProblem(t, w, http.StatusForbidden)
	}

	// Every report request is in the access log, with what was asked; a
	// service's request for another zone as a denial.
	auditor := env.token(t, authn.RoleAuditor, "REGIONE")
	w := env.do(t, http.MethodGet, "/v1/audit/events?action=reports.read", auditor, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var page auditListResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	today := time.Now().In(registry.Rome).Format(time.DateOnly)
	got := map[string]string{}
	for _, e := range page.Events {
		got[e.Role+" "+e.ObjectID] = e.Outcome
		assert.Equal(t, "report", e.ObjectType)
	}
	assert.Equal(t, "allowed", got["region_analyst facility-census?date="+today+"&zone=APUANE"])
	assert.Equal(t, "allowed", got["service_operator facility-census?date="+today+"&zone=FIORENTINA"])
	assert.Equal(t, "denied", got["service_operator facility-census?date="+today+"&zone=APUANE"])
	assert.Equal(t, "denied", got["facility_operator "], "a role without the grant is denied before the handler")
}

func TestReportBadInput(t *testing.T) {
	env := newTestEnv(t)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")
	tomorrow := time.Now().In(registry.Rome).AddDate(0, 0, 1).Format(time.DateOnly)
	for _, tc := range []struct {
		name, query string
		fields      []string
	}{
		{"badDate", "?date=2025-13-01", []string{"date"}},
		{"notADate", "?date=yesterday", []string{"date"}},
		{"futureDate", "?date=" + tomorrow, []string{"date"}},
		{"unknownZone", "?zone=ATLANTIDE", []string{"zone"}},
		{"badFormat", "?format=pdf", []string{"format"}},
		{"badSep", "?format=csv&sep=tab", []string{"sep"}},
		{"badLang", "?lang=fr", []string{"lang"}},
		{"unknownParam", "?typology=COMUNITA_EDUCATIVA", []string{"typology"}},
		{"periodNotTaken", "?from=2025-01-01", []string{"from"}},
		{"repeated", "?zone=APUANE&zone=PISANA", []string{"zone"}},
		{"several", "?date=x&format=y&sep=z", []string{"date", "format", "sep"}},
		{"unknownTable", "?table=nope", []string{"table"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := env.do(t, http.MethodGet, "/v1/reports/facility-census"+tc.query, analyst, nil)
			p := requireProblem(t, w, http.StatusBadRequest)
			assert.Equal(t, tc.fields, fieldsOf(p))
		})
	}
	t.Run("unknownReport404", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/reports/minors-in-the-moon", analyst, nil)
		requireProblem(t, w, http.StatusNotFound)
	})
}

// TestSurveyReports: the surveys of minors on the demo activity, through
// the API. What a reader gets — the JSON alone — gives no suppressed
// entry back (audited per set of tables protected together), publishes no
// count between 0 and the threshold, and equals what the store computes;
// a service gets its own zone; a period defaults to the year to date.
// Counts against the raw rows are reportpg's TestSurveysMatchRawRows.
func TestSurveyReports(t *testing.T) {
	env := newTestEnv(t)
	seedDemoRegistry(t, env)
	seedDemoActivity(t, env, 400)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")
	today := time.Now().In(registry.Rome).Format(time.DateOnly)

	get := func(t *testing.T, tok, target string) reportResponse {
		t.Helper()
		w := env.do(t, http.MethodGet, target, tok, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var rep reportResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &rep))
		return rep
	}
	suppressed := 0
	for _, tc := range []struct{ name, query string }{
		{"minors-out-of-family", ""},
		{"minors-out-of-family", "?date=" + time.Now().AddDate(0, -6, 0).Format(time.DateOnly)},
		{"minors-in-family", ""},
		{"flows", ""},
		{"flows", "?from=2024-01-01&to=" + today},
	} {
		t.Run(tc.name+tc.query, func(t *testing.T) {
			rep := get(t, analyst, "/v1/reports/"+tc.name+tc.query)
			require.NotEmpty(t, rep.Tables)
			sets := map[string][]report.View{}
			for _, tj := range rep.Tables {
				if tj.Kind != "counts" {
					assert.Equal(t, "quantiles", tj.Kind, tj.ID)
					continue
				}
				for _, row := range append(tj.Cells, tj.ColumnTotals, tj.RowTotals, []*float64{tj.GrandTotal}) {
					for _, v := range row {
						if v != nil {
							assert.False(t, *v > 0 && *v < 3, "%s: %v published", tj.ID, *v)
						}
					}
				}
				suppressed += len(tj.Suppressed)
				set, _, _ := strings.Cut(tj.ID, "_by_")
				sets[set] = append(sets[set], tj.View())
			}
			for set, views := range sets {
				ivs, err := report.AuditLinked(views, report.AuditOptions{Lower: 1, Margin: 1})
				require.NoError(t, err, set)
				for _, tv := range ivs {
					for _, iv := range tv {
						assert.False(t, iv.Disclosed, "%s: suppressed entry %d,%d recomputable", set, iv.Row, iv.Col)
					}
				}
			}
			// The same numbers as the store's.
			d, ok := env.srv.reports.Lookup(tc.name)
			require.True(t, ok)
			p := report.Params{}
			for _, x := range []struct {
				s *string
				t *time.Time
			}{{rep.Parameters.Date, &p.Date}, {rep.Parameters.From, &p.From}, {rep.Parameters.To, &p.To}} {
				if x.s != nil {
					*x.t, _ = time.Parse(time.DateOnly, *x.s)
				}
			}
			out, err := d.Compute(context.Background(), p)
			require.NoError(t, err)
			require.Len(t, rep.Tables, len(out.Grids))
			for k, g := range out.Grids {
				want, err := render.ToJSON(g)
				require.NoError(t, err)
				assert.Equal(t, want, rep.Tables[k], g.Header().ID)
			}
		})
	}
	assert.Positive(t, suppressed, "small cells exist in the demo data")

	t.Run("periodDefaultsToYearToDate", func(t *testing.T) {
		rep := get(t, analyst, "/v1/reports/flows")
		require.NotNil(t, rep.Parameters.From)
		assert.Equal(t, today[:4]+"-01-01", *rep.Parameters.From)
		assert.Equal(t, today, *rep.Parameters.To)
		assert.Nil(t, rep.Parameters.Date)
	})
	t.Run("serviceOwnZone", func(t *testing.T) {
		svc := env.token(t, authn.RoleServiceOperator, "PISANA")
		for _, name := range []string{"minors-out-of-family", "minors-in-family", "flows"} {
			rep := get(t, svc, "/v1/reports/"+name)
			require.NotNil(t, rep.Parameters.Zone)
			assert.Equal(t, "PISANA", *rep.Parameters.Zone)
			for _, tj := range rep.Tables {
				require.Len(t, tj.Rows.Categories, 1, tj.ID)
				assert.Equal(t, "PISANA", tj.Rows.Categories[0].Code)
			}
			w := env.do(t, http.MethodGet, "/v1/reports/"+name+"?zone=FIORENTINA", svc, nil)
			requireProblem(t, w, http.StatusForbidden)
		}
	})
	t.Run("badPeriod", func(t *testing.T) {
		tomorrow := time.Now().In(registry.Rome).AddDate(0, 0, 1).Format(time.DateOnly)
		for _, tc := range []struct {
			query  string
			fields []string
		}{
			{"?from=2025-06-01&to=2025-05-31", []string{"to"}},
			{"?from=" + tomorrow, []string{"from"}},
			{"?from=2025-02-30", []string{"from"}},
			{"?date=2025-01-01", []string{"date"}},
		} {
			w := env.do(t, http.MethodGet, "/v1/reports/flows"+tc.query, analyst, nil)
			p := requireProblem(t, w, http.StatusBadRequest)
			assert.Equal(t, tc.fields, fieldsOf(p), tc.query)
		}
	})
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/registry"
)

// facilityDoc is a valid POST /v1/facilities body; mod changes it.
func facilityDoc(mod ...func(m map[string]any)) map[string]any {
	m := map[string]any{
		"name":              "Comunità Il Girasole",
		"typology":          "COMUNITA_DIMENSIONE_FAMILIARE",
		"operator":          map[string]any{"name": "Cooperativa Sociale Il Ponte", "legal_nature": "COOPERATIVA_SOCIALE", "tax_number": "01307110484"},
		"address":           map[string]any{"street": "Via dei Pilastri 12", "postcode": "50121", "municipality": "048017"},
		"authorisation":     map[string]any{"status": "granted", "date": "2020-05-04", "act": "SUAP 123/2020"},
		"accreditation":     map[string]any{"accredited": false},
		"authorised_places": 8,
		"target":            map[string]any{"min_age": 6, "max_age": 17, "mothers_with_children": false, "unaccompanied_foreign_minors": true},
		"contacts":          map[string]any{"email": "girasole@example.it", "phone": "+39 055 123456"},
	}
	for _, f := range mod {
		f(m)
	}
	return m
}

func jsonBody(t *testing.T, v any) *strings.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return strings.NewReader(string(b))
}

func decodeFacility(t *testing.T, w *httptest.ResponseRecorder) facilityResponse {
	t.Helper()
	var f facilityResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &f), w.Body.String())
	return f
}

// registryCounts are the rows of the registry's tables.
func registryCounts(t *testing.T, env *testEnv) [2]int {
	t.Helper()
	var c [2]int
	require.NoError(t, env.db.Pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM registry.facilities), (SELECT count(*) FROM registry.facility_versions)`).Scan(&c[0], &c[1]))
	return c
}

func createFacility(t *testing.T, env *testEnv, tok string, mod ...func(map[string]any)) facilityResponse {
	t.Helper()
	w := env.do(t, http.MethodPost, "/v1/facilities", tok, jsonBody(t, facilityDoc(mod...)), "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	f := decodeFacility(t, w)
	assert.Equal(t, "/v1/facilities/"+f.DraftRef, w.Header().Get("Location"))
	return f
}

// activeFacility creates a facility and has it approved.
func activeFacility(t *testing.T, env *testEnv, mod ...func(map[string]any)) facilityResponse {
	t.Helper()
	admin := env.token(t, authn.RoleAdmin, "REGIONE")
	f := createFacility(t, env, admin, mod...)
	for _, a := range []string{"submit", "approve"} {
		w := env.do(t, http.MethodPost, "/v1/facilities/"+f.DraftRef+"/"+a, admin, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		f = decodeFacility(t, w)
	}
	return f
}

func patchFacility(t *testing.T, env *testEnv, ref, tok, ifMatch string, patch any) *httptest.ResponseRecorder {
	t.Helper()
	hdr := []string{"Content-Type", "application/merge-patch+json"}
	if ifMatch != "" {
		hdr = append(hdr, "If-Match", ifMatch)
	}
	return env.do(t, http.MethodPatch, "/v1/facilities/"+ref, tok, jsonBody(t, patch), hdr...)
}

func listFacilities(t *testing.T, env *testEnv, tok, query string) facilityPage {
	t.Helper()
	w := env.do(t, http.MethodGet, "/v1/facilities?"+query, tok, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var p facilityPage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	return p
}

// TestFacilityWorkflow: draft → submit → approve → edit → suspend → reopen
// → close, one day apart, by the facility's operator and the Region; the
// history holds every version with who and when, and as_of answers each
// day with the version of that day.
func TestFacilityWorkflow(t *testing.T) {
	env := newTestEnv(t)
	day := func(n int) time.Time { return time.Date(2025, 3, n, 10, 0, 0, 0, time.UTC) }
	admin := env.token(t, authn.RoleAdmin, "REGIONE")
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")

	env.clock.Set(day(1))
	f := createFacility(t, env, env.token(t, authn.RoleFacilityOperator, "NEW"))
	assert.Equal(t, "draft", f.Status)
	assert.Equal(t, 1, f.Version)
	assert.Empty(t, f.Code, "no regional code before approval")
	assert.Equal(t, "FIORENTINA", f.Zone, "the zone comes from the municipality")
	assert.Nil(t, f.OccupiedPlaces, "occupancy is unknown until ASMI stays exist")
	// The operator of the new facility is identified by its draft reference.
	op := env.token(t, authn.RoleFacilityOperator, f.DraftRef)

	env.clock.Set(day(2))
	w := env.do(t, http.MethodPost, "/v1/facilities/"+f.DraftRef+"/approve", admin, nil)
	p := requireProblem(t, w, http.StatusConflict)
	assert.Contains(t, p.Detail, "draft", "a 409 names the current state")
	w = env.do(t, http.MethodPost, "/v1/facilities/"+f.DraftRef+"/submit", op, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, `"v2"`, w.Header().Get("ETag"))

	env.clock.Set(day(3))
	w = env.do(t, http.MethodPost, "/v1/facilities/"+f.DraftRef+"/approve", admin, jsonBody(t, map[string]string{"note": "verbale 12/2025"}),
		"Content-Type", "application/json", "If-Match", `"v2"`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	f = decodeFacility(t, w)
	assert.Equal(t, "active", f.Status)
	assert.Regexp(t, `^ASSO-[0-9]{6}$`, f.Code)
	code := f.Code
	op = env.token(t, authn.RoleFacilityOperator, code)

	env.clock.Set(day(4))
	w = patchFacility(t, env, code, op, `"v3"`, map[string]any{"name": "Comunità Il Girasole Nuovo", "contacts": map[string]any{"phone": "055 654321"}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	f = decodeFacility(t, w)
	assert.Equal(t, "Comunità Il Girasole Nuovo", f.Name)
	assert.Equal(t, "055 654321", f.Contacts.Phone)
	assert.Equal(t, "girasole@example.it", f.Contacts.Email, "a merge patch keeps what it does not name")
	w = patchFacility(t, env, code, admin, `"v4"`, map[string]any{"authorised_places": 10})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	for i, a := range []string{"suspend", "reopen", "close"} {
		env.clock.Set(day(6 + i))
		w = env.do(t, http.MethodPost, "/v1/facilities/"+code+"/"+a, admin, nil)
		require.Equal(t, http.StatusOK, w.Code, "%s: %s", a, w.Body.String())
	}
	f = decodeFacility(t, w)
	assert.Equal(t, "closed", f.Status)
	assert.Equal(t, code, f.Code, "the regional code is stable")
	w = env.do(t, http.MethodPost, "/v1/facilities/"+code+"/reopen", admin, nil)
	p = requireProblem(t, w, http.StatusConflict)
	assert.Contains(t, p.Detail, "closed")
	w = patchFacility(t, env, code, admin, `"v8"`, map[string]any{"name": "Riaperta"})
	requireProblem(t, w, http.StatusConflict)

	w = env.do(t, http.MethodGet, "/v1/facilities/"+code+"/history", admin, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var h facilityHistoryResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &h))
	assert.Equal(t, code, h.Code)
	var changes, roles []string
	for i, v := range h.Versions {
		assert.Equal(t, i+1, v.Version)
		changes = append(changes, v.Change)
		roles = append(roles, v.ChangedRole)
		assert.NotEmpty(t, v.ChangedBy)
		if i > 0 {
			require.NotNil(t, h.Versions[i-1].ValidTo)
			assert.Equal(t, v.ValidFrom, *h.Versions[i-1].ValidTo, "versions follow each other without gaps")
		}
	}
	assert.Equal(t, []string{"create", "submit", "approve", "edit", "edit", "suspend", "reopen", "close"}, changes)
	assert.Equal(t, []string{"facility_operator", "facility_operator", "admin", "facility_operator", "admin", "admin", "admin", "admin"}, roles)
	assert.Equal(t, day(3), h.Versions[2].ValidFrom)
	assert.Equal(t, "verbale 12/2025", h.Versions[2].Note)
	assert.Nil(t, h.Versions[7].ValidTo)

	// as_of: the version in force at the end of each day.
	want := map[string]struct {
		version int
		status  string
	}{
		"2025-02-28": {0, ""}, "2025-03-01": {1, "draft"}, "2025-03-02": {2, "submitted"}, "2025-03-03": {3, "active"},
		"2025-03-04": {5, "active"}, "2025-03-05": {5, "active"}, "2025-03-06": {6, "suspended"},
		"2025-03-07": {7, "active"}, "2025-03-08": {8, "closed"}, "2025-04-01": {8, "closed"},
	}
	for date, wv := range want {
		t.Run("asOf"+date, func(t *testing.T) {
			page := listFacilities(t, env, admin, "as_of="+date)
			if wv.version == 0 {
				assert.Empty(t, page.Facilities)
				return
			}
			require.Len(t, page.Facilities, 1)
			got := page.Facilities[0]
			assert.Equal(t, wv.version, got.Version)
			assert.Equal(t, wv.status, got.Status)
			if wv.version >= 5 {
				assert.Equal(t, 10, got.AuthorisedPlaces)
			}
			if wv.version < 4 {
				assert.Equal(t, "Comunità Il Girasole", got.Name)
			}
			// Readers other than the Region see the facility on the days it was active.
			seen := listFacilities(t, env, analyst, "as_of="+date)
			assert.Equal(t, wv.status == "active", len(seen.Facilities) == 1)
		})
	}

	// Every write is in the audit log, in its own transaction's event.
	evs, err := env.store.List(context.Background(), audit.Filter{Limit: 100})
	require.NoError(t, err)
	writes := map[string]int{}
	for _, e := range evs {
		if e.ObjectType == "facility" && e.Outcome == audit.OutcomeAllowed {
			writes[e.Action]++
			assert.Contains(t, []string{f.DraftRef, code}, e.ObjectID)
		}
	}
	assert.Equal(t, map[string]int{
		string(ActionFacilitiesCreate): 1, string(ActionFacilitiesSubmit): 1, string(ActionFacilitiesApprove): 1,
		string(ActionFacilitiesUpdate): 2, string(ActionFacilitiesSuspend): 1, string(ActionFacilitiesReopen): 1,
		string(ActionFacilitiesClose): 1,
	}, writes)
}

// TestFacilityBadInput: each bad request is a 4xx problem naming its cause,
// and leaves the registry's tables as they were.
func TestFacilityBadInput(t *testing.T) {
	env := newTestEnv(t)
	admin := env.token(t, authn.RoleAdmin, "REGIONE")
	mine := createFacility(t, env, env.token(t, authn.RoleFacilityOperator, "NEW"))
	other := activeFacility(t, env, func(m map[string]any) { m["name"] = "Casa Aurora" })
	op := env.token(t, authn.RoleFacilityOperator, mine.DraftRef)
	otherOp := env.token(t, authn.RoleFacilityOperator, other.Code)
	set := func(path string, v any) func(map[string]any) {
		return func(m map[string]any) {
			parts := strings.Split(path, ".")
			for _, p := range parts[:len(parts)-1] {
				m = m[p].(map[string]any)
			}
			m[parts[len(parts)-1]] = v
		}
	}
	tests := []struct {
		name   string
		do     func() *httptest.ResponseRecorder
		status int
		field  string // the field a 422 names, or a word of the detail
	}{
		{"create422UnknownTypology", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("typology", "CASERMA"))), "Content-Type", "application/json")
		}, 422, "typology"},
		{"create422UnknownZone", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("zone", "ATLANTIDE"))), "Content-Type", "application/json")
		}, 422, "zone"},
		{"create422UnknownMunicipality", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("address.municipality", "058091"))), "Content-Type", "application/json")
		}, 422, "address.municipality"},
		{"create422ZeroPlaces", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("authorised_places", 0))), "Content-Type", "application/json")
		}, 422, "authorised_places"},
		{"create422NegativePlaces", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("authorised_places", -3))), "Content-Type", "application/json")
		}, 422, "authorised_places"},
		{"create422PartitaIVA", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("operator.tax_number", "01307110485"))), "Content-Type", "application/json")
		}, 422, "operator.tax_number"},
		{"create422UnknownField", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("beds", 3))), "Content-Type", "application/json")
		}, 422, "beds"},
		{"create422BadDate", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities", op, jsonBody(t, facilityDoc(set("authorisation.date", "04/05/2020"))), "Content-Type", "application/json")
		}, 422, "authorisation.date"},
		{"patch422Places", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, mine.DraftRef, op, `"v1"`, map[string]any{"authorised_places": 0})
		}, 422, "authorised_places"},
		{"patch422UnknownField", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, mine.DraftRef, op, `"v1"`, map[string]any{"status": "active"})
		}, 422, "status"},
		{"patch412Stale", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, other.Code, admin, `"v1"`, map[string]any{"name": "Casa Aurora 2"})
		}, 412, "changed"},
		{"patch412Weak", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, other.Code, admin, `W/"v3"`, map[string]any{"name": "Casa Aurora 2"})
		}, 412, "If-Match"},
		{"patch428NoIfMatch", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, other.Code, admin, "", map[string]any{"name": "Casa Aurora 2"})
		}, 428, "If-Match"},
		{"patch403OtherFacility", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, other.Code, op, `"v3"`, map[string]any{"name": "Presa"})
		}, 403, "own"},
		{"patch403OtherDraft", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, mine.DraftRef, otherOp, `"v1"`, map[string]any{"name": "Presa"})
		}, 403, "own"},
		{"patch403RegulatedField", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, other.Code, otherOp, `"v3"`, map[string]any{"authorised_places": 12})
		}, 403, "authorised_places"},
		{"submit403OtherFacility", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities/"+mine.DraftRef+"/submit", otherOp, nil)
		}, 403, "own"},
		{"approve403Operator", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities/"+mine.DraftRef+"/approve", op, nil)
		}, 403, "may not"},
		{"approve409Draft", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities/"+mine.DraftRef+"/approve", admin, nil)
		}, 409, "draft"},
		{"suspend412Stale", func() *httptest.ResponseRecorder {
			return env.do(t, http.MethodPost, "/v1/facilities/"+other.Code+"/suspend", admin, nil, "If-Match", `"v2"`)
		}, 412, "changed"},
		{"patch404Unknown", func() *httptest.ResponseRecorder {
			return patchFacility(t, env, "ASSO-999999", admin, `"v1"`, map[string]any{"name": "X"})
		}, 404, "facility"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := registryCounts(t, env)
			p := requireProblem(t, tc.do(), tc.status)
			if tc.status == 422 {
				assert.Contains(t, fieldsOf(p), tc.field)
			} else {
				assert.Contains(t, p.Detail, tc.field)
			}
			assert.Equal(t, before, registryCounts(t, env), "nothing is written")
		})
	}
	// The versions read back are the ones created: nothing changed them.
	for _, f := range []facilityResponse{mine, other} {
		w := env.do(t, http.MethodGet, "/v1/facilities/"+f.DraftRef, admin, nil)
		require.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, f.Version, decodeFacility(t, w).Version)
		assert.Equal(t, `"v`+strconv.Itoa(f.Version)+`"`, w.Header().Get("ETag"))
	}
	// A denied edit is in the access log as denied.
	evs, err := env.store.List(context.Background(), audit.Filter{Action: string(ActionFacilitiesUpdate), Limit: 100})
	require.NoError(t, err)
	denied := 0
	for _, e := range evs {
		if e.Outcome == audit.OutcomeDenied {
			denied++
		}
	}
	assert.Equal(t, 3, denied)
}

// TestFacilityAccess: who sees what.
func TestFacilityAccess(t *testing.T) {
	env := newTestEnv(t)
	admin := env.token(t, authn.RoleAdmin, "REGIONE")
	draft := createFacility(t, env, env.token(t, authn.RoleFacilityOperator, "NEW"))
	active := activeFacility(t, env, func(m map[string]any) { m["name"] = "Casa Aurora" })
	suspended := activeFacility(t, env, func(m map[string]any) { m["name"] = "Casa Borea" })
	w := env.do(t, http.MethodPost, "/v1/facilities/"+suspended.Code+"/suspend", admin, nil)
	require.Equal(t, http.StatusOK, w.Code)

	tests := []struct {
		name string
		tok  string
		sees []string
	}{
		{"admin", admin, []string{draft.DraftRef, active.DraftRef, suspended.DraftRef}},
		{"serviceOperator", env.token(t, authn.RoleServiceOperator, "FIORENTINA"), []string{active.DraftRef}},
		{"regionAnalyst", env.token(t, authn.RoleRegionAnalyst, "REGIONE"), []string{active.DraftRef}},
		{"draftOperator", env.token(t, authn.RoleFacilityOperator, draft.DraftRef), []string{draft.DraftRef, active.DraftRef}},
		{"suspendedOperator", env.token(t, authn.RoleFacilityOperator, suspended.Code), []string{active.DraftRef, suspended.DraftRef}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range listFacilities(t, env, tc.tok, "").Facilities {
				got = append(got, f.DraftRef)
			}
			assert.ElementsMatch(t, tc.sees, got)
			for _, f := range []facilityResponse{draft, active, suspended} {
				w := env.do(t, http.MethodGet, "/v1/facilities/"+f.DraftRef, tc.tok, nil)
				wantOK := contains(tc.sees, f.DraftRef)
				if wantOK {
					assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				} else {
					requireProblem(t, w, http.StatusNotFound)
				}
				w = env.do(t, http.MethodGet, "/v1/facilities/"+f.DraftRef+"/history", tc.tok, nil)
				if wantOK {
					assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				} else {
					requireProblem(t, w, http.StatusNotFound)
				}
			}
		})
	}
	for _, role := range []authn.Role{authn.RoleAuditor, authn.RoleDataSteward} {
		requireProblem(t, env.do(t, http.MethodGet, "/v1/facilities", env.token(t, role, "REGIONE"), nil), http.StatusForbidden)
	}
	for _, role := range []authn.Role{authn.RoleServiceOperator, authn.RoleRegionAnalyst} {
		w := env.do(t, http.MethodPost, "/v1/facilities", env.token(t, role, "REGIONE"), jsonBody(t, facilityDoc()), "Content-Type", "application/json")
		requireProblem(t, w, http.StatusForbidden)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestFacilitySearch: filters, text, pagination and validated parameters.
func TestFacilitySearch(t *testing.T) {
	env := newTestEnv(t)
	admin := env.token(t, authn.RoleAdmin, "REGIONE")
	type spec struct{ name, typology, municipality string }
	specs := []spec{
		{"Casa Famiglia Il Faro", "CASA_ACCOGLIENZA_GRUPPO_APP", "049009"},   // Livorno
		{"Comunità Il Faro di Pisa", "COMUNITA_EDUCATIVA", "050026"},         // Pisa
		{"Appartamento Autonomia Ponte", "APPARTAMENTO_AUTONOMIA", "050026"}, // Pisa
		{"Casa Betania", "CASA_GESTANTE_MADRE_FIGLIO", "048017"},             // Firenze
		{"Pronta Accoglienza 100%_sicura", "CENTRO_PRONTA_ACCOGLIENZA", "048017"},
	}
	for _, s := range specs {
		activeFacility(t, env, func(m map[string]any) {
			m["name"], m["typology"] = s.name, s.typology
			m["address"].(map[string]any)["municipality"] = s.municipality
		})
	}
	draft := createFacility(t, env, admin, func(m map[string]any) { m["name"] = "Bozza Il Faro" })

	names := func(p facilityPage) []string {
		var out []string
		for _, f := range p.Facilities {
			out = append(out, f.Name)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"zone=PISANA", []string{"Comunità Il Faro di Pisa", "Appartamento Autonomia Ponte"}},
		{"zone=LIVORNESE", []string{"Casa Famiglia Il Faro"}},
		{"typology=CASA_GESTANTE_MADRE_FIGLIO", []string{"Casa Betania"}},
		{"municipality=048017", []string{"Casa Betania", "Pronta Accoglienza 100%_sicura", "Bozza Il Faro"}},
		{"q=faro", []string{"Casa Famiglia Il Faro", "Comunità Il Faro di Pisa", "Bozza Il Faro"}},
		{"q=FARO&status=active", []string{"Casa Famiglia Il Faro", "Comunità Il Faro di Pisa"}},
		{"q=100%25_", []string{"Pronta Accoglienza 100%_sicura"}},
		{"q=a%25c", nil}, // % is a character, not a wildcard
		{"status=draft", []string{"Bozza Il Faro"}},
		{"zone=MUGELLO", nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			assert.Equal(t, tc.want, names(listFacilities(t, env, admin, tc.query)))
		})
	}
	// Pages of 2 walk the whole registry once, in order.
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		p := listFacilities(t, env, admin, "limit=2&cursor="+cursor)
		all = append(all, names(p)...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Len(t, all, len(specs)+1)
	assert.Contains(t, all, draft.Name)

	bad := []struct{ query, field string }{
		{"zone=ATLANTIDE", "zone"},
		{"typology=CASERMA", "typology"},
		{"municipality=058091", "municipality"},
		{"status=open", "status"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"cursor=abc", "cursor"},
		{"as_of=2025-13-01", "as_of"},
		{"as_of=2999-01-01", "as_of"},
		{"as_of=" + time.Now().In(registry.Rome).AddDate(0, 0, 1).Format(time.DateOnly), "as_of"},
		{"sort=name", "sort"},
		{"zone=PISANA&zone=ELBA", "zone"},
		{"q=" + strings.Repeat("a", 101), "q"},
	}
	for _, tc := range bad {
		t.Run("400"+tc.field, func(t *testing.T) {
			p := requireProblem(t, env.do(t, http.MethodGet, "/v1/facilities?"+tc.query, admin, nil), http.StatusBadRequest)
			assert.Equal(t, []string{tc.field}, fieldsOf(p))
		})
	}
}

// TestFacilityConcurrentPatches: clients that each read the facility and
// add one place with If-Match, retrying on 412, lose no update.
func TestFacilityConcurrentPatches(t *testing.T) {
	env := newTestEnv(t)
	admin := env.token(t, authn.RoleAdmin, "REGIONE")
	f := activeFacility(t, env, func(m map[string]any) { m["authorised_places"] = 10 })
	const clients = 16
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
		failures  []string
	)
	send := func(method, target string, body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		env.srv.Handler().ServeHTTP(w, req)
		return w
	}
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 200; attempt++ {
				r := send(http.MethodGet, "/v1/facilities/"+f.Code, "")
				var cur facilityResponse
				if r.Code != http.StatusOK || json.Unmarshal(r.Body.Bytes(), &cur) != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("GET %d", r.Code))
					mu.Unlock()
					return
				}
				body := `{"authorised_places": ` + strconv.Itoa(cur.AuthorisedPlaces+1) + `}`
				w := send(http.MethodPatch, "/v1/facilities/"+f.Code, body, "Content-Type", "application/merge-patch+json", "If-Match", r.Header().Get("ETag"))
				switch w.Code {
				case http.StatusOK:
					return
				case http.StatusPreconditionFailed:
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("PATCH %d %s", w.Code, w.Body.String()))
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			failures = append(failures, "gave up after 200 attempts")
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Empty(t, failures)
	w := env.do(t, http.MethodGet, "/v1/facilities/"+f.Code, admin, nil)
	require.Equal(t, http.StatusOK, w.Code)
	got := decodeFacility(t, w)
	assert.Equal(t, 10+clients, got.AuthorisedPlaces, "every increment is kept")
	assert.Equal(t, f.Version+clients, got.Version)
	t.Logf("%d clients, %d stale If-Match answered 412", clients, conflicts)
}

func TestRegistryCodeLists(t *testing.T) {
	env := newTestEnv(t)
	w := env.do(t, http.MethodGet, "/v1/registry/code-lists", env.token(t, authn.RoleServiceOperator, "FIORENTINA"), nil)
	require.Equal(t, http.StatusOK, w.Code)
	var r codeListsResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
	assert.Len(t, r.Zones, 28)
	assert.Len(t, r.Municipalities, 273)
	assert.NotEmpty(t, r.Typologies)
	assert.NotEmpty(t, r.LegalNatures)
}

// TestFacilityIdempotencyKey: a retried creation makes no second facility,
// even when the retries arrive together; the key reused for another body
// is a 422.
func TestFacilityIdempotencyKey(t *testing.T) {
	env := newTestEnv(t)
	op := env.token(t, authn.RoleFacilityOperator, "NEW")
	post := func(key string, doc map[string]any) *httptest.ResponseRecorder {
		b, err := json.Marshal(doc)
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "/v1/facilities", strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		env.srv.Handler().ServeHTTP(w, req)
		return w
	}
	first := post("k-1", facilityDoc())
	require.Equal(t, http.StatusCreated, first.Code, first.Body.String())
	again := post("k-1", facilityDoc())
	require.Equal(t, http.StatusCreated, again.Code, again.Body.String())
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, decodeFacility(t, first).DraftRef, decodeFacility(t, again).DraftRef)
	assert.Equal(t, [2]int{1, 1}, registryCounts(t, env))

	p := requireProblem(t, post("k-1", facilityDoc(func(m map[string]any) { m["name"] = "Altra" })), http.StatusUnprocessableEntity)
	assert.Contains(t, p.Type, "idempotency-key-reused")
	requireProblem(t, post(strings.Repeat("k", 256), facilityDoc()), http.StatusBadRequest)
	assert.Equal(t, [2]int{1, 1}, registryCounts(t, env))

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		refs = map[string]int{}
	)
	for range 8 {
		wg.Go(func() {
			w := post("k-2", facilityDoc())
			mu.Lock()
			defer mu.Unlock()
			if w.Code != http.StatusCreated {
				refs[fmt.Sprintf("status %d", w.Code)]++
				return
			}
			var f facilityResponse
			if json.Unmarshal(w.Body.Bytes(), &f) == nil {
				refs[f.DraftRef]++
			}
		})
	}
	wg.Wait()
	assert.Len(t, refs, 1, "one facility for eight simultaneous requests with one key: %v", refs)
	assert.Equal(t, [2]int{2, 2}, registryCounts(t, env))
}

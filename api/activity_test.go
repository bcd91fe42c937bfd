package api

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
)

// attrs returns valid SINBA attributes of an open file (no closure).
func attrs(seed uint64) map[string]any {
	rec := sinbatest.Record(rand.New(rand.NewPCG(seed, 1)), "x", time.Now())
	rec.IDBeneficiario = ""
	rec.MotivazioneChiusuraCarico, rec.SituazioneChiusuraCarico = nil, nil
	b, _ := json.Marshal(rec)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "id_beneficiario")
	m["minore_straniero_no_acc"] = "1"
	return m
}

// tokenFor resolves identity in org's domain.
func tokenFor(t *testing.T, env *testEnv, role authn.Role, org string, id map[string]any) tokenResponse {
	t.Helper()
	r := postJSON(t, env, "/v1/tokens", env.token(t, role, org), map[string]any{"identity": id})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var tr tokenResponse
	r.json(t, &tr)
	return tr
}

func openCaseFile(t *testing.T, env *testEnv, zone, tok string) caseResponse {
	t.Helper()
	r := postJSON(t, env, "/v1/cases", env.token(t, authn.RoleServiceOperator, zone), map[string]any{"token": tok, "attributes": attrs(1)})
	require.Equal(t, http.StatusCreated, r.code, string(r.body))
	var cr caseResponse
	r.json(t, &cr)
	return cr
}

func admitMinor(t *testing.T, env *testEnv, facility, tok, date string) stayResponse {
	t.Helper()
	r := postJSON(t, env, "/v1/admissions", env.token(t, authn.RoleFacilityOperator, facility), map[string]any{
		"token": tok, "admission_date": date, "sending_zone": "FIORENTINA", "form": "judicial", "with_parent": false, "msna": true})
	require.Equal(t, http.StatusCreated, r.code, string(r.body))
	var sr stayResponse
	r.json(t, &sr)
	return sr
}

func problemOf(t *testing.T, r *httptestResponse, status int) Problem {
	t.Helper()
	return requireProblem(t, r.w, status)
}

func activityCounts(t *testing.T, env *testEnv) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"activity.case_files", "activity.case_entries", "activity.stays", "activity.stay_activities", "activity.events"} {
		var n int
		require.NoError(t, env.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n))
		out[tbl] = n
	}
	return out
}

func daysAgo(n int) string { return time.Now().AddDate(0, 0, -n).Format(time.DateOnly) }

func TestCaseFiles(t *testing.T) {
	env := newTestEnv(t)
	// The identities these tests submit must not reach the logs.
	sink.addIdentity("BIANCHI", "GIULIA", "2015-07-15", "2012-01-03", "2011-04-05", "2010-05-06", "2013-02-09")
	svc := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	other := env.token(t, authn.RoleServiceOperator, "APUANE")
	m := tokenFor(t, env, authn.RoleServiceOperator, "FIORENTINA", minor())

	cf := openCaseFile(t, env, "FIORENTINA", m.Token)
	assert.Equal(t, "open", cf.Status)
	assert.Equal(t, "FIORENTINA", cf.Zone)
	id := strconv.FormatInt(cf.ID, 10)

	t.Run("create409", func(t *testing.T) {
		p := problemOf(t, postJSON(t, env, "/v1/cases", svc, map[string]any{"token": m.Token, "attributes": attrs(2)}), http.StatusConflict)
		assert.Contains(t, p.Detail, "open case file")
	})
	t.Run("badInput422", func(t *testing.T) {
		before := activityCounts(t, env)
		bad := attrs(3)
		bad["luogo_vita"] = "99"
		bad["colore"] = "rosso"
		other := tokenFor(t, env, authn.RoleServiceOperator, "APUANE", minor())
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"unknownCode", map[string]any{"token": m.Token, "attributes": func() map[string]any { a := attrs(3); a["luogo_vita"] = "99"; return a }()}, "attributes.luogo_vita"},
			{"unknownAttribute", map[string]any{"token": m.Token, "attributes": bad}, "attributes.colore"},
			{"futureDate", map[string]any{"token": m.Token, "opened_on": time.Now().AddDate(0, 0, 3).Format(time.DateOnly), "attributes": attrs(3)}, "opened_on"},
			{"otherDomainToken", map[string]any{"token": other.Token, "attributes": attrs(3)}, "token"},
			{"noAttributes", map[string]any{"token": m.Token}, "attributes"},
			{"closureAmongAttributes", map[string]any{"token": m.Token, "attributes": func() map[string]any { a := attrs(3); a["motivazione_chiusura_carico"] = "3"; return a }()}, "attributes.motivazione_chiusura_carico"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := problemOf(t, postJSON(t, env, "/v1/cases", svc, tc.body), http.StatusUnprocessableEntity)
				assert.Contains(t, fieldsOf(p), tc.field)
			})
		}
		assert.Equal(t, before, activityCounts(t, env), "a rejected request writes nothing")
	})
	t.Run("list", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/cases?status=open&limit=1", svc, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var page casePage
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		require.Len(t, page.CaseFiles, 1)
		assert.Equal(t, cf.ID, page.CaseFiles[0].ID)
		w = env.do(t, http.MethodGet, "/v1/cases", other, nil)
		assert.JSONEq(t, `{"case_files":[]}`, w.Body.String(), "another zone lists nothing of FIORENTINA's")
		requireProblem(t, env.do(t, http.MethodGet, "/v1/cases?status=maybe", svc, nil), http.StatusBadRequest)
	})
	t.Run("anotherZone404", func(t *testing.T) {
		requireProblem(t, env.do(t, http.MethodGet, "/v1/cases/"+id, other, nil), http.StatusNotFound)
		requireProblem(t, postJSON(t, env, "/v1/cases/"+id+"/interventions", other, map[string]any{"code": "A2.02", "start_date": daysAgo(1)}).w, http.StatusNotFound)
	})
	t.Run("entries", func(t *testing.T) {
		r := postJSON(t, env, "/v1/cases/"+id+"/interventions", svc, map[string]any{"code": "A2.02", "start_date": daysAgo(0)})
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		p := problemOf(t, postJSON(t, env, "/v1/cases/"+id+"/interventions", svc, map[string]any{"code": "Q1.00", "start_date": daysAgo(0)}), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"code"}, fieldsOf(p))
		p = problemOf(t, postJSON(t, env, "/v1/cases/"+id+"/foster-care", svc, map[string]any{"form": "1", "type": "2", "start_date": daysAgo(2), "end_date": daysAgo(5)}), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"end_date"}, fieldsOf(p))
		r = postJSON(t, env, "/v1/cases/"+id+"/foster-care", svc, map[string]any{"form": "1", "type": "2", "start_date": daysAgo(5), "end_date": daysAgo(2), "outcome": "1"})
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		r = postJSON(t, env, "/v1/cases/"+id+"/court-measures", svc, map[string]any{"authority": "2", "type": "5", "start_date": daysAgo(3)})
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		w := env.do(t, http.MethodGet, "/v1/cases/"+id, svc, nil)
		require.Equal(t, http.StatusOK, w.Code)
		var got caseResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		assert.Len(t, got.Interventions, 1)
		assert.Len(t, got.FosterCare, 1)
		assert.Len(t, got.CourtMeasures, 1)
		assert.Equal(t, "Sostegno socio-educativo territoriale o domiciliare", got.Interventions[0].Labels["code"])
	})
	t.Run("update", func(t *testing.T) {
		a := attrs(1)
		a["luogo_vita"] = "2"
		w := env.do(t, http.MethodPatch, "/v1/cases/"+id, svc, jsonBody(t, map[string]any{"attributes": a}), "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Contains(t, w.Body.String(), `"luogo_vita":"2"`)
	})
	t.Run("transferAndClose", func(t *testing.T) {
		p := problemOf(t, postJSON(t, env, "/v1/cases/"+id+"/transfer", svc, map[string]any{"to_zone": "NOWHERE"}), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"to_zone"}, fieldsOf(p))
		requireProblem(t, postJSON(t, env, "/v1/cases/"+id+"/accept", other, nil).w, http.StatusNotFound)
		r := postJSON(t, env, "/v1/cases/"+id+"/transfer", svc, map[string]any{"to_zone": "APUANE"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		w := env.do(t, http.MethodGet, "/v1/cases/"+id, other, nil)
		require.Equal(t, http.StatusOK, w.Code, "the receiving zone sees the file it is asked to take")
		w = env.do(t, http.MethodGet, "/v1/events", other, nil)
		assert.Contains(t, w.Body.String(), `"kind":"transfer_requested","case_id":`+id, "and hears of it")
		r = postJSON(t, env, "/v1/cases/"+id+"/accept", other, nil)
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var got caseResponse
		r.json(t, &got)
		assert.Equal(t, "APUANE", got.Zone)
		requireProblem(t, env.do(t, http.MethodGet, "/v1/cases/"+id, svc, nil), http.StatusNotFound)

		p = problemOf(t, postJSON(t, env, "/v1/cases/"+id+"/close", other, map[string]any{"date": daysAgo(0), "reason": "42"}), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"reason"}, fieldsOf(p))
		r = postJSON(t, env, "/v1/cases/"+id+"/close", other, map[string]any{"date": daysAgo(0), "reason": "3", "situation": "2"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		r.json(t, &got)
		assert.Equal(t, "closed", got.Status)
		assert.Equal(t, "raggiunta età maggiorenne", got.Closure.ReasonLabel)
		requireProblem(t, postJSON(t, env, "/v1/cases/"+id+"/interventions", other, map[string]any{"code": "A2.02", "start_date": daysAgo(0)}).w, http.StatusConflict)
		// Closed, a new file may be opened in FIORENTINA again.
		openCaseFile(t, env, "FIORENTINA", m.Token)
	})
}

func TestStays(t *testing.T) {
	env := newTestEnv(t)
	f1 := activeFacility(t, env)
	f2 := activeFacility(t, env, func(m map[string]any) { m["authorised_places"] = 1 })
	op1 := env.token(t, authn.RoleFacilityOperator, f1.Code)
	op2 := env.token(t, authn.RoleFacilityOperator, f2.Code)
	m := tokenFor(t, env, authn.RoleFacilityOperator, f1.Code, minor())

	st := admitMinor(t, env, f1.Code, m.Token, daysAgo(10))
	assert.Equal(t, "open", st.Status)
	assert.Equal(t, f1.Code, st.Facility)
	assert.Empty(t, st.Warnings)
	id := strconv.FormatInt(st.ID, 10)

	t.Run("occupancyIsLive", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/facilities/"+f1.Code, op1, nil)
		require.Equal(t, http.StatusOK, w.Code)
		f := decodeFacility(t, w)
		require.NotNil(t, f.OccupiedPlaces)
		assert.Equal(t, 1, *f.OccupiedPlaces)
	})
	t.Run("secondOpenStay409", func(t *testing.T) {
		m2 := tokenFor(t, env, authn.RoleFacilityOperator, f2.Code, minor())
		r := postJSON(t, env, "/v1/admissions", op2, map[string]any{"token": m2.Token, "admission_date": daysAgo(1), "sending_zone": "FIORENTINA",
			"form": "consensual", "with_parent": false, "msna": false})
		p := problemOf(t, r, http.StatusConflict)
		assert.Equal(t, "this minor has an open stay; it must be discharged first", p.Detail)
		assert.NotContains(t, string(r.body), f1.Code, "nothing says where")
	})
	t.Run("anotherFacility404", func(t *testing.T) {
		requireProblem(t, env.do(t, http.MethodGet, "/v1/admissions/"+id, op2, nil), http.StatusNotFound)
		requireProblem(t, postJSON(t, env, "/v1/admissions/"+id+"/discharge", op2, map[string]any{"date": daysAgo(0), "outcome": "1"}).w, http.StatusNotFound)
		w := env.do(t, http.MethodGet, "/v1/admissions/"+id, op1, nil)
		require.Equal(t, http.StatusOK, w.Code)
		w = env.do(t, http.MethodGet, "/v1/admissions?status=open", op2, nil)
		require.Equal(t, http.StatusOK, w.Code)
		assert.JSONEq(t, `{"stays":[]}`, w.Body.String())
	})
	t.Run("badInput", func(t *testing.T) {
		before := activityCounts(t, env)
		for _, tc := range []struct {
			name, path string
			body       map[string]any
			status     int
			field      string
		}{
			{"dischargeBeforeAdmission", "/v1/admissions/" + id + "/discharge", map[string]any{"date": daysAgo(20), "outcome": "1"}, 422, "date"},
			{"dischargeInFuture", "/v1/admissions/" + id + "/discharge", map[string]any{"date": time.Now().AddDate(0, 0, 2).Format(time.DateOnly), "outcome": "1"}, 422, "date"},
			{"unknownOutcome", "/v1/admissions/" + id + "/discharge", map[string]any{"date": daysAgo(1), "outcome": "77"}, 422, "outcome"},
			{"unknownActivity", "/v1/admissions/" + id + "/activities", map[string]any{"kind": "karaoke", "date": daysAgo(1)}, 422, "kind"},
			{"activityFreeText", "/v1/admissions/" + id + "/activities", map[string]any{"kind": "school", "date": daysAgo(1), "fields": map[string]any{"school": "5", "note": "he cried"}}, 422, "fields.note"},
			{"activityUnknownCode", "/v1/admissions/" + id + "/activities", map[string]any{"kind": "family_contact", "date": daysAgo(1), "fields": map[string]any{"with": "9", "mode": "phone"}}, 422, "fields.with"},
			{"admissionUnknownZone", "/v1/admissions", map[string]any{"token": m.Token, "admission_date": daysAgo(1), "sending_zone": "ATLANTIDE", "form": "judicial", "with_parent": false, "msna": false}, 422, "sending_zone"},
			{"admissionBadForm", "/v1/admissions", map[string]any{"token": m.Token, "admission_date": daysAgo(1), "sending_zone": "FIORENTINA", "form": "voluntary", "with_parent": false, "msna": false}, 422, "form"},
			{"admissionNoFlags", "/v1/admissions", map[string]any{"token": m.Token, "admission_date": daysAgo(1), "sending_zone": "FIORENTINA", "form": "judicial"}, 422, "msna"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := problemOf(t, postJSON(t, env, tc.path, op1, tc.body), tc.status)
				assert.Contains(t, fieldsOf(p), tc.field)
			})
		}
		assert.Equal(t, before, activityCounts(t, env), "a rejected request writes nothing")
	})
	t.Run("activityAndDischarge", func(t *testing.T) {
		r := postJSON(t, env, "/v1/admissions/"+id+"/activities", op1, map[string]any{"kind": "family_contact", "date": daysAgo(2), "fields": map[string]any{"with": "1", "mode": "protected"}})
		require.Equal(t, http.StatusCreated, r.code, string(r.body))
		r = postJSON(t, env, "/v1/admissions/"+id+"/discharge", op1, map[string]any{"date": daysAgo(1), "outcome": "2"})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var got stayResponse
		r.json(t, &got)
		assert.Equal(t, "discharged", got.Status)
		assert.Len(t, got.Activities, 1)
		requireProblem(t, postJSON(t, env, "/v1/admissions/"+id+"/discharge", op1, map[string]any{"date": daysAgo(0), "outcome": "2"}).w, http.StatusConflict)
	})
	t.Run("fullFacilityWarns", func(t *testing.T) {
		// f2 has 1 place: the second minor is admitted with a warning.
		a := admitMinor(t, env, f2.Code, tokenFor(t, env, authn.RoleFacilityOperator, f2.Code, minor()).Token, daysAgo(0))
		assert.Empty(t, a.Warnings)
		other := map[string]any{"surname": "Neri", "given_names": "Luca", "birth_date": "2012-01-03", "sex": "M", "birth_place": "G702", "citizenship": "380"}
		b := admitMinor(t, env, f2.Code, tokenFor(t, env, authn.RoleFacilityOperator, f2.Code, other).Token, daysAgo(0))
		assert.Equal(t, []string{"facility_full"}, b.Warnings)
	})
	t.Run("inactiveFacility409", func(t *testing.T) {
		admin := env.token(t, authn.RoleAdmin, "REGIONE")
		f3 := activeFacility(t, env)
		w := env.do(t, http.MethodPost, "/v1/facilities/"+f3.Code+"/suspend", admin, jsonBody(t, map[string]any{"note": "inspection"}), "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		draft := createFacility(t, env, admin)
		for _, org := range []string{f3.Code, draft.DraftRef} {
			tok := tokenFor(t, env, authn.RoleFacilityOperator, org, map[string]any{"surname": "Gialli", "given_names": "Anna", "birth_date": "2011-04-05", "sex": "F", "birth_place": "G702", "citizenship": "380"})
			r := postJSON(t, env, "/v1/admissions", env.token(t, authn.RoleFacilityOperator, org), map[string]any{"token": tok.Token, "admission_date": daysAgo(1),
				"sending_zone": "FIORENTINA", "form": "judicial", "with_parent": false, "msna": false})
			p := problemOf(t, r, http.StatusConflict)
			assert.Equal(t, problemTypeBase+"facility-not-active", p.Type)
		}
	})
}

func TestMinorViewsAndEvents(t *testing.T) {
	env := newTestEnv(t)
	f1 := activeFacility(t, env)
	f2 := activeFacility(t, env)
	svc := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	fac1 := env.token(t, authn.RoleFacilityOperator, f1.Code)
	fac2 := env.token(t, authn.RoleFacilityOperator, f2.Code)

	ms := tokenFor(t, env, authn.RoleServiceOperator, "FIORENTINA", minor())
	cf := openCaseFile(t, env, "FIORENTINA", ms.Token)

	// The facility spells the identity differently: same person.
	id := minor()
	id["surname"], id["given_names"] = "BIANCHI ", "giulia"
	mf := tokenFor(t, env, authn.RoleFacilityOperator, f1.Code, id)
	require.NotNil(t, mf.Sinba, "a facility learns of the open SINBA file")
	assert.Equal(t, sinbaSummary{ResponsibleZone: "FIORENTINA", Sex: "F", BirthYear: 2015, CitizenshipGroup: "IT", MSNA: true}, *mf.Sinba)
	// A service resolving gets no summary.
	assert.Nil(t, tokenFor(t, env, authn.RoleServiceOperator, "APUANE", minor()).Sinba)

	// Past events: none yet.
	w := env.do(t, http.MethodGet, "/v1/events", svc, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var page eventPage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	assert.Empty(t, page.Events)

	// A long poll returns as soon as the admission is recorded.
	done := make(chan eventPage)
	go func() {
		req := env.do(t, http.MethodGet, "/v1/events?timeout=10&since="+page.Cursor, svc, nil)
		var p eventPage
		_ = json.Unmarshal(req.Body.Bytes(), &p)
		done <- p
	}()
	time.Sleep(300 * time.Millisecond)
	st := admitMinor(t, env, f1.Code, mf.Token, daysAgo(3))
	select {
	case p := <-done:
		require.Len(t, p.Events, 1)
		assert.Equal(t, "admission", p.Events[0].Kind)
		assert.Equal(t, cf.ID, p.Events[0].CaseID)
		assert.Equal(t, f1.Code, p.Events[0].Facility)
		page = p
	case <-time.After(8 * time.Second):
		t.Fatal("the long poll did not return the admission")
	}
	r := postJSON(t, env, "/v1/admissions/"+strconv.FormatInt(st.ID, 10)+"/discharge", fac1, map[string]any{"date": daysAgo(1), "outcome": "1"})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	w = env.do(t, http.MethodGet, "/v1/events?since="+page.Cursor, svc, nil)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Len(t, page.Events, 1)
	assert.Equal(t, "discharge", page.Events[0].Kind)
	assert.Equal(t, "1", page.Events[0].Detail["outcome"])
	// Another zone hears nothing.
	w = env.do(t, http.MethodGet, "/v1/events", env.token(t, authn.RoleServiceOperator, "APUANE"), nil)
	assert.JSONEq(t, `{"events":[],"cursor":"0"}`, w.Body.String())

	t.Run("service", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/minors/"+ms.Token, svc, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var got minorResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		assert.Len(t, got.CaseFiles, 1)
		assert.Len(t, got.Stays, 1, "the stays of a minor in its charge")
		assert.Nil(t, got.Sinba)
		// Another zone, with its own token for the minor, sees no file and no stay.
		apuane := env.token(t, authn.RoleServiceOperator, "APUANE")
		ta := tokenFor(t, env, authn.RoleServiceOperator, "APUANE", minor())
		w = env.do(t, http.MethodGet, "/v1/minors/"+ta.Token, apuane, nil)
		require.Equal(t, http.StatusOK, w.Code)
		assert.JSONEq(t, `{"token":"`+ta.Token+`","stays":[]}`, strings.ReplaceAll(w.Body.String(), `"case_files":[],`, ""))
		// The other zone's token is not the service's: 404.
		requireProblem(t, env.do(t, http.MethodGet, "/v1/minors/"+ta.Token, svc, nil), http.StatusNotFound)
	})
	t.Run("facility", func(t *testing.T) {
		w := env.do(t, http.MethodGet, "/v1/minors/"+mf.Token, fac1, nil)
		require.Equal(t, http.StatusOK, w.Code)
		var got minorResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		require.NotNil(t, got.Sinba)
		assert.Len(t, got.Stays, 1)
		assert.Nil(t, got.CaseFiles)
		// f2 resolves the same minor: summary yes, f1's stay no.
		t2 := tokenFor(t, env, authn.RoleFacilityOperator, f2.Code, minor())
		w = env.do(t, http.MethodGet, "/v1/minors/"+t2.Token, fac2, nil)
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		assert.NotNil(t, got.Sinba)
		assert.Empty(t, got.Stays, "a facility never sees another facility's stays")
	})
	t.Run("othersForbidden", func(t *testing.T) {
		for _, role := range []authn.Role{authn.RoleRegionAnalyst, authn.RoleDataSteward, authn.RoleAuditor, authn.RoleAdmin} {
			requireProblem(t, env.do(t, http.MethodGet, "/v1/minors/"+ms.Token, env.token(t, role, "REGIONE"), nil), http.StatusForbidden)
		}
	})
	t.Run("audited", func(t *testing.T) {
		evs, _, err := env.srv.audit.List(context.Background(), audit.Filter{Limit: 1000})
		require.NoError(t, err)
		byAction := map[string]int{}
		refs := map[string]bool{}
		for _, e := range evs {
			if strings.HasPrefix(e.Action, "activity.") && e.Outcome == audit.OutcomeAllowed {
				byAction[e.Action]++
				if e.PersonRef != "" {
					refs[e.PersonRef] = true
				}
			}
		}
		for _, a := range []Action{ActionCasesCreate, ActionAdmissionsCreate, ActionAdmissionsDischarge, ActionMinorsRead, ActionEventsList} {
			assert.NotZero(t, byAction[string(a)], a)
		}
		assert.Len(t, refs, 1, "one minor, one audit reference")
	})
}

func TestMergesFollowAndConflicts(t *testing.T) {
	env := newTestEnv(t)
	f1 := activeFacility(t, env)
	f2 := activeFacility(t, env)
	tokens, persons := stewardPair(t, env, "FIORENTINA")
	steward := env.token(t, authn.RoleDataSteward, "REGIONE")
	svc := env.token(t, authn.RoleServiceOperator, "FIORENTINA")

	c0 := openCaseFile(t, env, "FIORENTINA", tokens[0])
	c1 := openCaseFile(t, env, "FIORENTINA", tokens[1])
	// The facilities resolve the two identities (no merge yet: two persons).
	stays := make([]stayResponse, 2)
	ids := []map[string]any{minor(), {"surname": "Rossi", "given_names": "Marco", "birth_date": "2013-02-09", "sex": "M", "birth_place": "G702", "citizenship": "380"}}
	for i, f := range []string{f1.Code, f2.Code} {
		stays[i] = admitMinor(t, env, f, tokenFor(t, env, authn.RoleFacilityOperator, f, ids[i]).Token, daysAgo(2))
	}
	w := env.do(t, http.MethodGet, "/v1/events", svc, nil)
	var before eventPage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &before))

	mergeID, err := env.srv.linkage.Merge(context.Background(), persons[0], persons[1], 0, "test")
	require.NoError(t, err)

	w = env.do(t, http.MethodGet, "/v1/activity/conflicts", steward, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var cp conflictPage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &cp))
	require.Len(t, cp.Conflicts, 2)
	kinds := map[string]conflictResponse{}
	for _, c := range cp.Conflicts {
		kinds[c.Kind] = c
		assert.Equal(t, mergeID, c.MergeID)
		assert.Nil(t, c.ResolvedAt)
	}
	assert.ElementsMatch(t, []int64{c0.ID, c1.ID}, kinds["open_case_files"].CaseIDs)
	assert.ElementsMatch(t, []int64{stays[0].ID, stays[1].ID}, kinds["open_stays"].StayIDs)

	// Records follow the merge: either token now shows both files and stays.
	w = env.do(t, http.MethodGet, "/v1/minors/"+tokens[1], svc, nil)
	var got minorResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Len(t, got.CaseFiles, 2)
	assert.Len(t, got.Stays, 2)
	// The service heard of the merge, on both files.
	w = env.do(t, http.MethodGet, "/v1/events?since="+before.Cursor, svc, nil)
	var evs eventPage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &evs))
	require.Len(t, evs.Events, 2)
	assert.Equal(t, "merge", evs.Events[0].Kind)

	// Undo: each person has its own records again, conflicts resolved.
	require.NoError(t, env.srv.linkage.Undo(context.Background(), mergeID, "test"))
	w = env.do(t, http.MethodGet, "/v1/minors/"+tokens[1], svc, nil)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Len(t, got.CaseFiles, 1)
	assert.Equal(t, c1.ID, got.CaseFiles[0].ID)
	assert.Len(t, got.Stays, 1)
	w = env.do(t, http.MethodGet, "/v1/activity/conflicts", steward, nil)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &cp))
	for _, c := range cp.Conflicts {
		assert.NotNil(t, c.ResolvedAt)
		assert.Equal(t, "merge undone", c.Resolution)
	}
	// Uniqueness follows the merge too: merged again, a third open file
	// in the zone for either token is refused.
	_, err = env.srv.linkage.Merge(context.Background(), persons[0], persons[1], 0, "test")
	require.NoError(t, err)
	requireProblem(t, postJSON(t, env, "/v1/cases", svc, map[string]any{"token": tokens[1], "attributes": attrs(5)}).w, http.StatusConflict)
}

// flowXML writes a flow of recs under nome.
func flowXML(t testing.TB, nome string, recs []sinba.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	wr, err := sinba.NewWriter(&buf, sinbatest.Header(nome))
	require.NoError(t, err)
	for i := range recs {
		require.NoError(t, wr.Write(&recs[i]))
	}
	require.NoError(t, wr.Close())
	return buf.Bytes()
}

func TestSinbaFlows(t *testing.T) {
	env := newTestEnv(t)
	svc := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	rng := rand.New(rand.NewPCG(7, 7))
	now := time.Now()
	mine := tokenFor(t, env, authn.RoleServiceOperator, "FIORENTINA", minor()).Token
	theirs := tokenFor(t, env, authn.RoleServiceOperator, "APUANE", minor()).Token
	good := sinbatest.Record(rng, mine, now)
	good.MotivazioneChiusuraCarico, good.SituazioneChiusuraCarico = nil, nil
	unknown := sinbatest.Record(rng, theirs, now)
	badCode := sinbatest.Record(rng, mine, now)
	badCode.LuogoVita = "99"
	post := func(body []byte, ctype string) *httptestResponse {
		w := env.do(t, http.MethodPost, "/v1/sinba/flows", svc, bytes.NewReader(body), "Content-Type", ctype)
		return &httptestResponse{code: w.Code, body: w.Body.Bytes(), w: w}
	}

	flow := flowXML(t, "FLUSSO-1", []sinba.Record{good, unknown, badCode})
	r := post(flow, "application/xml")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var first flowResponse
	r.json(t, &first)
	require.Len(t, first.Results, 3)
	assert.Equal(t, "created", first.Results[0].Outcome)
	assert.NotZero(t, first.Results[0].CaseID)
	assert.Equal(t, "error", first.Results[1].Outcome)
	assert.Equal(t, "IDBeneficiario", first.Results[1].Errors[0].Field)
	assert.Equal(t, "error", first.Results[2].Outcome)
	assert.Equal(t, "LuogoVita", first.Results[2].Errors[0].Field)
	assert.False(t, first.Replayed)

	counts := activityCounts(t, env)
	r = post(flow, "application/xml")
	require.Equal(t, http.StatusOK, r.code)
	var again flowResponse
	r.json(t, &again)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Results, again.Results, "the same Nome returns the same results")
	assert.Equal(t, counts, activityCounts(t, env), "and changes nothing")

	// Another flow: the same record is unchanged, a changed one updated.
	changed := good
	changed.LuogoVita = "4"
	if good.LuogoVita == "4" {
		changed.LuogoVita = "5"
	}
	r = post(flowXML(t, "FLUSSO-2", []sinba.Record{good}), "application/xml")
	require.Equal(t, http.StatusOK, r.code)
	r.json(t, &again)
	assert.Equal(t, "unchanged", again.Results[0].Outcome)
	// The JSON form.
	doc := map[string]any{"identificazione_flusso": sinbatest.Header("FLUSSO-3"), "sinba": []sinba.Record{changed}}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	r = post(b, "application/json")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	r.json(t, &again)
	assert.Equal(t, "updated", again.Results[0].Outcome)
	assert.Equal(t, first.Results[0].CaseID, again.Results[0].CaseID)

	t.Run("closingRecordSentAgain", func(t *testing.T) {
		other := map[string]any{"surname": "Conti", "given_names": "Elia", "birth_date": "2010-05-06", "sex": "M", "birth_place": "G702", "citizenship": "380"}
		closing := sinbatest.Record(rng, tokenFor(t, env, authn.RoleServiceOperator, "FIORENTINA", other).Token, now)
		reason := sinba.MotivazioneChiusuraCarico("3")
		closing.MotivazioneChiusuraCarico = &reason
		var res flowResponse
		r := post(flowXML(t, "FLUSSO-C1", []sinba.Record{closing}), "application/xml")
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		r.json(t, &res)
		require.Equal(t, "created", res.Results[0].Outcome)
		w := env.do(t, http.MethodGet, "/v1/cases/"+strconv.FormatInt(res.Results[0].CaseID, 10), svc, nil)
		assert.Contains(t, w.Body.String(), `"status":"closed"`)
		before := activityCounts(t, env)
		r = post(flowXML(t, "FLUSSO-C2", []sinba.Record{closing}), "application/xml")
		r.json(t, &res)
		assert.Equal(t, "unchanged", res.Results[0].Outcome, "a closed file is not opened again by its own closing record")
		assert.Equal(t, before, activityCounts(t, env))
	})
	t.Run("malformed400", func(t *testing.T) {
		bad := bytes.Replace(flowXML(t, "FLUSSO-4", []sinba.Record{good}), []byte("<SINBA "), []byte("<SINBA <"), 1)
		r := post(bad, "application/xml")
		p := problemOf(t, r, http.StatusBadRequest)
		assert.Contains(t, p.Detail, "line")
		var raw map[string]any
		require.NoError(t, json.Unmarshal(r.body, &raw))
		assert.NotZero(t, raw["line"])
		assert.NotZero(t, raw["column"])
		// Nothing was stored under that name: a corrected flow is processed.
		r = post(flowXML(t, "FLUSSO-4", []sinba.Record{good}), "application/xml")
		require.Equal(t, http.StatusOK, r.code)
		r.json(t, &again)
		assert.False(t, again.Replayed)
	})
	t.Run("badHeader422", func(t *testing.T) {
		h := sinbatest.Header("")
		var buf bytes.Buffer
		wr, err := sinba.NewWriter(&buf, h)
		require.NoError(t, err)
		require.NoError(t, wr.Write(&good))
		require.NoError(t, wr.Close())
		p := problemOf(t, post(buf.Bytes(), "application/xml"), http.StatusUnprocessableEntity)
		assert.NotEmpty(t, p.Errors)
	})
	t.Run("facilityForbidden", func(t *testing.T) {
		w := env.do(t, http.MethodPost, "/v1/sinba/flows", env.token(t, authn.RoleFacilityOperator, "ASSO-000001"), bytes.NewReader(flow), "Content-Type", "application/xml")
		requireProblem(t, w, http.StatusForbidden)
	})
	t.Run("bodyLimitRaisedForFlowsOnly", func(t *testing.T) {
		big := bytes.Repeat([]byte(" "), 2<<20)
		w := env.do(t, http.MethodPost, "/v1/cases", svc, bytes.NewReader(big), "Content-Type", "application/json")
		requireProblem(t, w, http.StatusRequestEntityTooLarge)
		w = env.do(t, http.MethodPost, "/v1/sinba/flows", svc, bytes.NewReader(append(big, flowXML(t, "FLUSSO-5", []sinba.Record{good})...)), "Content-Type", "application/xml")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	})
}

// TestConcurrentAdmissions: eight facilities admit the same minor at
// once; exactly one stay is created, the others get 409.
func TestConcurrentAdmissions(t *testing.T) {
	env := newTestEnv(t)
	const n = 8
	codes := make([]string, n)
	toks := make([]string, n)
	for i := range codes {
		codes[i] = activeFacility(t, env).Code
		toks[i] = tokenFor(t, env, authn.RoleFacilityOperator, codes[i], minor()).Token
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]any{"token": toks[i], "admission_date": daysAgo(1), "sending_zone": "FIORENTINA",
				"form": "judicial", "with_parent": false, "msna": false})
			req := httptest.NewRequest(http.MethodPost, "/v1/admissions", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+env.token(t, authn.RoleFacilityOperator, codes[i]))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			env.srv.Handler().ServeHTTP(w, req)
			statuses[i] = w.Code
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		assert.Contains(t, []int{http.StatusCreated, http.StatusConflict}, s)
		if s == http.StatusCreated {
			created++
		}
	}
	assert.Equal(t, 1, created, "statuses %v", statuses)
	var open int
	require.NoError(t, env.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM activity.stays WHERE discharged_on IS NULL`).Scan(&open))
	assert.Equal(t, 1, open)
}

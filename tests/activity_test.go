package tests

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestActivityIntegration is issue 6's acceptance, end to end: a service
// opens a case file for minor M; a facility resolves M's identity, spelled
// differently, gets the same person and the SINBA summary; it admits M;
// the service sees the admission event; the facility discharges M; the
// service sees that too; an auditor finds every one of these accesses.
func TestActivityIntegration(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.sirm("demo", "facilities")
	service := in.devToken("service_operator", "FIORENTINA")
	facility := in.devToken("facility_operator", "ASSO-000001")
	auditor := in.devToken("auditor", "REGIONE")
	captured.mu.Lock()
	captured.identities = append(captured.identities, "VERDINI", "MARTINA", "MARTNA", "2014-03-21")
	captured.mu.Unlock()

	var requests []string // X-Request-ID of every person-level access
	call := func(method, path, tok string, body any) response {
		t.Helper()
		var rd *strings.Reader
		ctype := ""
		if body != nil {
			b, err := json.Marshal(body)
			require.NoError(t, err)
			rd, ctype = strings.NewReader(string(b)), "application/json"
		}
		var r response
		if rd != nil {
			r = in.do(method, path, tok, ctype, rd)
		} else {
			r = in.do(method, path, tok, "", nil)
		}
		requests = append(requests, r.header.Get("X-Request-ID"))
		return r
	}

	r := in.get("/v1/facilities/ASSO-000001", facility)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var fac struct {
		Status string `json:"status"`
	}
	r.json(t, &fac)
	require.Equal(t, "active", fac.Status)

	// The service: M's token, then the case file.
	identity := map[string]any{"surname": "Verdini", "given_names": "Martina", "birth_date": "2014-03-21", "sex": "F",
		"birth_place": "D612", "citizenship": "380", "residence": map[string]any{"municipality": "048017", "postcode": "50121"}}
	r = call(http.MethodPost, "/v1/tokens", service, map[string]any{"identity": identity})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var st struct {
		Token string `json:"token"`
	}
	r.json(t, &st)
	attrs := map[string]any{
		"minore_straniero_no_acc": "2", "condizione_minore": "1", "luogo_vita": "1", "scuola_frequentata": "5",
		"condizione_lavoro": "1", "disabilita": "2", "data_prima_segnalazione": "01/2024", "fonte_segnalazione": "1",
		"valutazione_minore": "1", "valutazione_famiglia_minore": "1", "segnalazione_autorita_giudiziaria": "2",
		"provvedimento_giudiziario": "2", "fascia_eta_beneficiario": "4", "anno_nascita": "2014",
		"codice_nazione_residenza": "100", "prestazioni": []string{"A2.02"}, "famiglia": []string{"1"},
	}
	r = call(http.MethodPost, "/v1/cases", service, map[string]any{"token": st.Token, "attributes": attrs})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var cf struct {
		ID int64 `json:"id"`
	}
	r.json(t, &cf)

	// The facility: the same minor, a typo in the given name and the
	// surname in another case.
	variant := map[string]any{"surname": "VERDINI", "given_names": "Martna", "birth_date": "2014-03-21", "sex": "F",
		"birth_place": "D612", "citizenship": "380", "residence": map[string]any{"municipality": "048017", "postcode": "50121"}}
	r = call(http.MethodPost, "/v1/tokens", facility, map[string]any{"identity": variant})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var ft struct {
		Token  string         `json:"token"`
		Status string         `json:"status"`
		Sinba  map[string]any `json:"sinba"`
	}
	r.json(t, &ft)
	assert.NotEqual(t, "new", ft.Status, "the facility's spelling resolves to the service's minor")
	require.NotNil(t, ft.Sinba, "the facility learns of the open SINBA file: %s", r.body)
	assert.Equal(t, map[string]any{"responsible_zone": "FIORENTINA", "sex": "F", "birth_year": float64(2014),
		"citizenship_group": "IT", "msna": false}, ft.Sinba)
	r = call(http.MethodGet, "/v1/minors/"+ft.Token, facility, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"responsible_zone":"FIORENTINA"`)

	// Admission; the service sees it (long poll).
	today := time.Now().Format(time.DateOnly)
	r = call(http.MethodPost, "/v1/admissions", facility, map[string]any{"token": ft.Token, "admission_date": today,
		"sending_zone": "FIORENTINA", "form": "consensual", "with_parent": false, "msna": false})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var stay struct {
		ID int64 `json:"id"`
	}
	r.json(t, &stay)
	type events struct {
		Events []struct {
			Kind     string `json:"kind"`
			CaseID   int64  `json:"case_id"`
			StayID   int64  `json:"stay_id"`
			Facility string `json:"facility"`
		} `json:"events"`
		Cursor string `json:"cursor"`
	}
	r = call(http.MethodGet, "/v1/events?timeout=5", service, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var evs events
	r.json(t, &evs)
	require.Len(t, evs.Events, 1)
	assert.Equal(t, "admission", evs.Events[0].Kind)
	assert.Equal(t, cf.ID, evs.Events[0].CaseID)
	assert.Equal(t, "ASSO-000001", evs.Events[0].Facility)

	// Discharge; the service sees it.
	r = call(http.MethodPost, "/v1/admissions/"+strconv.FormatInt(stay.ID, 10)+"/discharge", facility,
		map[string]any{"date": today, "outcome": "1"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = call(http.MethodGet, "/v1/events?timeout=5&since="+evs.Cursor, service, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r.json(t, &evs)
	require.Len(t, evs.Events, 1)
	assert.Equal(t, "discharge", evs.Events[0].Kind)
	assert.Equal(t, stay.ID, evs.Events[0].StayID)
	// And the minor's view of the service holds the stay.
	r = call(http.MethodGet, "/v1/minors/"+st.Token, service, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"status":"discharged"`)

	// The auditor finds every access, each allowed, with one person
	// reference for every request about M.
	r = in.get("/v1/audit/events?limit=1000", auditor)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var page struct {
		Events []struct {
			auditEvent
			PersonRef string `json:"person_ref"`
		} `json:"events"`
	}
	r.json(t, &page)
	byRequest := map[string][]string{}
	refs := map[string]bool{}
	for _, e := range page.Events {
		byRequest[e.RequestID] = append(byRequest[e.RequestID], e.Action+" "+e.Outcome)
		if e.PersonRef != "" {
			refs[e.PersonRef] = true
		}
	}
	for _, id := range requests {
		assert.NotEmpty(t, byRequest[id], "request %s is not in the audit log", id)
		for _, a := range byRequest[id] {
			assert.True(t, strings.HasSuffix(a, " allowed"), a)
		}
	}
	assert.Len(t, refs, 1, "every access names the same minor")
	r = in.get("/v1/audit/verify", auditor)
	assert.Contains(t, string(r.body), `"ok":true`)
}

// TestActivityDemo: `sirm demo activity` seeds case files and stays on the
// demo registry (once), occupancy comes live from them, and the README's
// tour of case files and stays works on the seeded server.
func TestActivityDemo(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.sirm("demo", "facilities")
	out := in.sirm("demo", "activity", "-n", "80")
	require.Contains(t, out, "loaded 80 demo case files (")
	assert.Contains(t, in.sirm("demo", "activity"), "nothing loaded")

	analyst := in.devToken("region_analyst", "REGIONE")
	occupied, withGuests := 0, ""
	for cursor := ""; ; {
		r := in.get("/v1/facilities?limit=200&status=active"+cursor, analyst)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var page struct {
			Facilities []facility `json:"facilities"`
			NextCursor string     `json:"next_cursor"`
		}
		r.json(t, &page)
		for _, f := range page.Facilities {
			require.NotNil(t, f.OccupiedPlaces)
			assert.LessOrEqual(t, *f.OccupiedPlaces, f.AuthorisedPlaces, f.Code)
			occupied += *f.OccupiedPlaces
			if *f.OccupiedPlaces > 0 && withGuests == "" {
				withGuests = f.Code
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + page.NextCursor
	}
	require.NotZero(t, occupied, "the demo admits minors")
	r := in.get("/v1/admissions?status=open", in.devToken("facility_operator", withGuests))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var stays struct {
		Stays []struct {
			Facility string `json:"facility"`
		} `json:"stays"`
	}
	r.json(t, &stays)
	require.NotEmpty(t, stays.Stays)
	assert.Equal(t, withGuests, stays.Stays[0].Facility)
	r = in.get("/v1/audit/verify", in.devToken("auditor", "REGIONE"))
	assert.Contains(t, string(r.body), `"ok":true`)
}

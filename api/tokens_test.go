package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/authn"
)

// minor is a valid identity of a girl born in Florence (D612) in 2015.
func minor() map[string]any {
	return map[string]any{
		"surname": "Bianchi", "given_names": "Giulia", "birth_date": "2015-07-15", "sex": "F",
		"birth_place": "D612", "citizenship": "380",
	}
}

func postJSON(t *testing.T, env *testEnv, path, token string, body any) *httptestResponse {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	w := env.do(t, http.MethodPost, path, token, strings.NewReader(string(b)), "Content-Type", "application/json")
	return &httptestResponse{code: w.Code, body: w.Body.Bytes(), w: w}
}

func tableCounts(t *testing.T, env *testEnv) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, tbl := range []string{"linkage.persons", "linkage.match_keys", "linkage.blocking_keys", "linkage.tokens"} {
		var n int
		require.NoError(t, env.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n))
		counts[tbl] = n
	}
	return counts
}

func TestTokensSameMinorTwoDomains(t *testing.T) {
	env := newTestEnv(t)
	sink.addIdentity("BIANCHI", "GIULIA", "2015-07-15")
	service := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	facility := env.token(t, authn.RoleFacilityOperator, "ASSO-000001")

	var first, again, fac tokenResponse
	r := postJSON(t, env, "/v1/tokens", service, map[string]any{"identity": minor()})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	r.json(t, &first)
	assert.Equal(t, "new", first.Status)
	assert.LessOrEqual(t, len(first.Token), 20)

	r = postJSON(t, env, "/v1/tokens", service, map[string]any{"identity": minor()})
	r.json(t, &again)
	assert.Equal(t, first.Token, again.Token)
	assert.Equal(t, "existing", again.Status)

	// The facility types the name in lower case with extra spaces.
	m := minor()
	m["surname"], m["given_names"] = "  bianchi ", "giulia"
	r = postJSON(t, env, "/v1/tokens", facility, map[string]any{"identity": m})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	r.json(t, &fac)
	assert.NotEqual(t, first.Token, fac.Token, "two domains must get two tokens")
	assert.LessOrEqual(t, len(fac.Token), 20)
	assert.Equal(t, "existing", fac.Status, "the facility reached the person the service created")
	assert.Equal(t, 1, tableCounts(t, env)["linkage.persons"])

	// Each token resolves in its own domain only.
	w := env.do(t, http.MethodGet, "/v1/tokens/"+first.Token, service, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, fmt.Sprintf(`{"token":%q,"domain":"FIORENTINA","key_version":1,"status":"active"}`, first.Token), w.Body.String())
	requireProblem(t, env.do(t, http.MethodGet, "/v1/tokens/"+first.Token, facility, nil), http.StatusNotFound)
	requireProblem(t, env.do(t, http.MethodGet, "/v1/tokens/NOT-A-TOKEN", facility, nil), http.StatusNotFound)

	// Both resolutions carry the same person reference in the audit log, and
	// nothing of the identity.
	auditor := env.token(t, authn.RoleAuditor, "REGIONE")
	w = env.do(t, http.MethodGet, "/v1/audit/events?action=tokens.resolve", auditor, nil)
	require.Equal(t, http.StatusOK, w.Code)
	var page auditListResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Len(t, page.Events, 3)
	refs := map[string]bool{}
	for _, e := range page.Events {
		refs[e.PersonRef] = true
		assert.Equal(t, "person", e.ObjectType)
	}
	assert.Len(t, refs, 1, "one minor, one reference")
	assert.NotContains(t, strings.ToUpper(w.Body.String()), "BIANCHI")
	for ref := range refs {
		w = env.do(t, http.MethodGet, "/v1/audit/events?person_ref="+ref, auditor, nil)
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		assert.Len(t, page.Events, 4, "three resolutions and the token read")
	}
}

func TestTokensInvalidIdentity(t *testing.T) {
	env := newTestEnv(t)
	service := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	with := func(changes map[string]any) map[string]any {
		m := minor()
		for k, v := range changes {
			m[k] = v
		}
		return map[string]any{"identity": m}
	}
	// RSSMRA80A01H501U is ROSSI MARIO, male, born 1980-01-01 in Rome (H501):
	// a valid code that disagrees with everything the girl declares.
	tests := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"wrongCheckCharacter", with(map[string]any{"codice_fiscale": "RSSMRA80A01H501X"}), []string{"identity.codice_fiscale"}},
		{"cfDisagrees", with(map[string]any{"codice_fiscale": "RSSMRA80A01H501U"}), []string{"identity.codice_fiscale", "identity.birth_date", "identity.sex", "identity.birth_place"}},
		{"futureBirthDate", with(map[string]any{"birth_date": "2999-01-01"}), []string{"identity.birth_date"}},
		{"emptySurname", with(map[string]any{"surname": " "}), []string{"identity.surname"}},
		{"unknownSex", with(map[string]any{"sex": "Q"}), []string{"identity.sex"}},
		{"badDate", with(map[string]any{"birth_date": "15/07/2015"}), []string{"identity.birth_date"}},
		{"tooOld", with(map[string]any{"birth_date": "1990-01-01"}), []string{"identity.birth_date"}},
		{"noIdentity", map[string]any{}, []string{"identity"}},
	}
	before := tableCounts(t, env)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := postJSON(t, env, "/v1/tokens", service, tc.body)
			p := requireProblem(t, r.w, http.StatusUnprocessableEntity)
			assert.ElementsMatch(t, tc.fields, fieldsOf(p))
			assert.NotContains(t, r.w.Body.String(), "RSSMRA", "a problem must not repeat the submitted values")
		})
	}
	assert.Equal(t, before, tableCounts(t, env), "a rejected identity wrote something")
}

func TestTokensBatch(t *testing.T) {
	env := newTestEnv(t)
	service := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	bad := minor()
	bad["sex"] = "?"
	other := minor()
	other["given_names"] = "Anna"
	r := postJSON(t, env, "/v1/tokens/batch", service, map[string]any{"identities": []any{minor(), bad, other, minor()}})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var resp batchResponse
	r.json(t, &resp)
	require.Len(t, resp.Results, 4)
	for i, it := range resp.Results {
		assert.Equal(t, i, it.Index)
	}
	assert.Equal(t, "new", resp.Results[0].Status)
	require.NotNil(t, resp.Results[1].Error)
	assert.Equal(t, 422, resp.Results[1].Error.Status)
	assert.Equal(t, []string{"sex"}, fieldsOf(*resp.Results[1].Error))
	assert.Equal(t, "new", resp.Results[2].Status)
	assert.Equal(t, resp.Results[0].Token, resp.Results[3].Token, "a duplicate inside a batch is one person")
	assert.NotEqual(t, resp.Results[0].Token, resp.Results[2].Token)
	assert.Equal(t, 2, tableCounts(t, env)["linkage.persons"])

	requireProblem(t, postJSON(t, env, "/v1/tokens/batch", service, map[string]any{"identities": []any{}}).w, http.StatusUnprocessableEntity)
	many := make([]any, 1001)
	for i := range many {
		many[i] = map[string]any{"surname": "X"}
	}
	requireProblem(t, postJSON(t, env, "/v1/tokens/batch", service, map[string]any{"identities": many}).w, http.StatusRequestEntityTooLarge)
	requireProblem(t, postJSON(t, env, "/v1/tokens/batch", service, map[string]any{"identities": []any{map[string]any{"surname": "X", "nickname": "Y"}}}).w, http.StatusUnprocessableEntity)
}

func TestTokensLookup(t *testing.T) {
	env := newTestEnv(t)
	service := env.token(t, authn.RoleServiceOperator, "FIORENTINA")
	facility := env.token(t, authn.RoleFacilityOperator, "ASSO-000001")
	before := tableCounts(t, env)
	requireProblem(t, postJSON(t, env, "/v1/tokens/lookup", facility, map[string]any{"identity": minor()}).w, http.StatusNotFound)
	assert.Equal(t, before, tableCounts(t, env), "lookup created something")

	r := postJSON(t, env, "/v1/tokens", service, map[string]any{"identity": minor()})
	require.Equal(t, http.StatusOK, r.code)
	r = postJSON(t, env, "/v1/tokens/lookup", facility, map[string]any{"identity": minor()})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var got tokenResponse
	r.json(t, &got)
	assert.Equal(t, "existing", got.Status)
	// The looked-up token is the facility's, and resolves for the facility.
	assert.Equal(t, http.StatusOK, env.do(t, http.MethodGet, "/v1/tokens/"+got.Token, facility, nil).Code)
	assert.Equal(t, 1, tableCounts(t, env)["linkage.persons"])
}

package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudflare/circl/oprf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/client"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
)

// newOPRFEnv is newTestEnv on the oprf backend.
func newOPRFEnv(t *testing.T, mod ...func(*Options)) *testEnv {
	t.Helper()
	testPRF = linkage.BackendOPRF
	defer func() { testPRF = linkage.BackendHMAC }()
	return newTestEnv(t, mod...)
}

// blindedElements returns n valid blinded elements, base64.
func blindedElements(t *testing.T, n int) []string {
	t.Helper()
	inputs := make([][]byte, n)
	for i := range inputs {
		inputs[i] = []byte("input " + strconv.Itoa(i))
	}
	_, req, err := oprf.NewClient(oprf.SuiteRistretto255).Blind(inputs)
	require.NoError(t, err)
	out := make([]string, n)
	for i, e := range req.Elements {
		raw, err := e.MarshalBinaryCompress()
		require.NoError(t, err)
		out[i] = base64.StdEncoding.EncodeToString(raw)
	}
	return out
}

func oprfUsage(t *testing.T, env *testEnv) int64 {
	t.Helper()
	var n int64
	require.NoError(t, env.db.Pool.QueryRow(context.Background(), "SELECT coalesce(sum(elements), 0) FROM linkage.oprf_usage").Scan(&n))
	return n
}

func clientIdentity() client.Identity {
	return client.Identity{Surname: "Bianchi", GivenNames: "Giulia", BirthDate: "2015-07-15", Sex: "F", BirthPlace: "D612", Citizenship: "380"}
}

// TestBlindSameTokenAsServerSide: an identity resolved on the server and
// the same identity resolved in blind mode (through the client package)
// reach the same person: the same token. Both orders.
func TestBlindSameTokenAsServerSide(t *testing.T) {
	env := newOPRFEnv(t)
	hs := httptest.NewServer(env.srv.Handler())
	t.Cleanup(hs.Close)
	tok := env.token(t, authn.RoleServiceOperator, "ZONA-01")
	o, err := env.srv.linkage.BlindKey()
	require.NoError(t, err)
	blind := &client.Blind{Client: &client.Client{BaseURL: hs.URL, Token: tok}, Fingerprint: o.Fingerprint(),
		Policy: linkage.Policy{MaxAgeYears: 21}}

	// Server side first, then blind.
	r := postJSON(t, env, "/v1/tokens", tok, map[string]any{"identity": minor()})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var server tokenResponse
	r.json(t, &server)
	got, err := blind.Tokenize(context.Background(), clientIdentity())
	require.NoError(t, err)
	assert.Equal(t, server.Token, got.Token)
	assert.Equal(t, client.StatusExisting, got.Status)

	// Blind first (a new minor, with a codice fiscale), then server side.
	other := client.Identity{CodiceFiscale: "RSSMRA15A01D612K", Surname: "Rossi", GivenNames: "Mario", BirthDate: "2015-01-01", Sex: "M", BirthPlace: "D612"}
	rs, err := blind.TokenizeBatch(context.Background(), []client.Identity{other, {Surname: "X"}})
	require.NoError(t, err)
	require.Nil(t, rs[0].Error, "%v", rs[0].Error)
	assert.Equal(t, client.StatusNew, rs[0].Status)
	require.NotNil(t, rs[1].Error, "a bad identity is refused locally")
	r = postJSON(t, env, "/v1/tokens", tok, map[string]any{"identity": map[string]any{
		"codice_fiscale": other.CodiceFiscale, "surname": "ROSSI", "given_names": "Mario", "birth_date": "2015-01-01", "sex": "M", "birth_place": "D612"}})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	r.json(t, &server)
	assert.Equal(t, rs[0].Token, server.Token)
	assert.Equal(t, client.StatusExisting, server.Status)

	// A variant spelling without the code still reaches the person through
	// the weak keys the blind client sent.
	r = postJSON(t, env, "/v1/tokens", tok, map[string]any{"identity": map[string]any{
		"surname": "Rossi", "given_names": "Mario", "birth_date": "2015-01-01", "sex": "M"}})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	r.json(t, &server)
	assert.Equal(t, rs[0].Token, server.Token)

	// Each evaluation is audited as a count, with no person.
	rows, err := env.db.Pool.Query(context.Background(),
		"SELECT object_id, coalesce(person_ref, '') FROM audit.events WHERE action = 'oprf.evaluate' AND outcome = 'allowed'")
	require.NoError(t, err)
	var evaluated int
	for rows.Next() {
		var obj, person string
		require.NoError(t, rows.Scan(&obj, &person))
		require.True(t, strings.HasPrefix(obj, "elements:"), obj)
		n, err := strconv.Atoi(strings.TrimPrefix(obj, "elements:"))
		require.NoError(t, err)
		evaluated += n
		assert.Empty(t, person)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, int64(evaluated), oprfUsage(t, env))
	assert.Greater(t, evaluated, 10)
}

func TestOPRFPublicKey(t *testing.T) {
	env := newOPRFEnv(t)
	w := env.do(t, http.MethodGet, "/v1/oprf/public-key", env.token(t, authn.RoleFacilityOperator, "ASSO-000001"), nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var k oprfKeyResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &k))
	assert.Equal(t, "ristretto255-SHA512", k.Suite)
	assert.Equal(t, "verifiable", k.Mode)
	raw, err := base64.StdEncoding.DecodeString(k.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, env.prf.(*linkage.OPRF).PublicKey(), raw)
	assert.Equal(t, client.KeyFingerprint(raw), k.Fingerprint)
	assert.Equal(t, env.prf.Fingerprint(), k.Fingerprint)
}

// TestOPRFEvaluateBadInput: every refused call is a problem, and counts
// nothing against the quota.
func TestOPRFEvaluateBadInput(t *testing.T) {
	env := newOPRFEnv(t)
	tok := env.token(t, authn.RoleServiceOperator, "ZONA-01")
	good := blindedElements(t, 3)
	zero := base64.StdEncoding.EncodeToString(make([]byte, 32)) // the identity element
	tests := []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"empty422", `{"blinded":[]}`, 422, []string{"blinded"}},
		{"missing422", `{}`, 422, []string{"blinded"}},
		{"notBase64422", `{"blinded":["` + good[0] + `","!!!"]}`, 422, []string{"blinded[1]"}},
		{"notAnElement422", `{"blinded":["` + good[0] + `","` + good[1] + `","` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)) + `"]}`, 422, []string{"blinded[2]"}},
		{"identity422", `{"blinded":["` + zero + `"]}`, 422, []string{"blinded[0]"}},
		{"shortElement422", `{"blinded":["AAAA"]}`, 422, []string{"blinded[0]"}},
		{"tooMany413", `{"blinded":["` + strings.Repeat(good[0]+`","`, 1000) + good[0] + `"]}`, 413, []string{"blinded"}},
		{"unknownField422", `{"blinded":["` + good[0] + `"],"x":1}`, 422, []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := env.do(t, http.MethodPost, "/v1/oprf/evaluate", tok, strings.NewReader(tc.body), "Content-Type", "application/json")
			p := requireProblem(t, w, tc.status)
			if tc.fields != nil {
				assert.Equal(t, tc.fields, fieldsOf(p))
			}
			assert.Zero(t, oprfUsage(t, env))
		})
	}

	hm := newTestEnv(t) // the hmac backend: no blind mode
	for _, path := range []string{"/v1/oprf/public-key", "/v1/oprf/evaluate"} {
		method, body := http.MethodGet, ""
		if strings.HasSuffix(path, "evaluate") {
			method, body = http.MethodPost, `{"blinded":["`+good[0]+`"]}`
		}
		w := hm.do(t, method, path, hm.token(t, authn.RoleServiceOperator, "ZONA-01"), strings.NewReader(body), "Content-Type", "application/json")
		p := requireProblem(t, w, http.StatusNotImplemented)
		assert.Contains(t, p.Detail, "oprf backend")
	}
}

// TestOPRFQuota: past the daily limit a call is refused whole with 429 and
// Retry-After (seconds to the next UTC midnight), and counts nothing.
func TestOPRFQuota(t *testing.T) {
	env := newOPRFEnv(t, func(o *Options) { o.OPRFDailyLimit = 5 })
	tok := env.token(t, authn.RoleServiceOperator, "ZONA-01")
	evaluate := func(n int) *httptest.ResponseRecorder {
		body := `{"blinded":["` + strings.Join(blindedElements(t, n), `","`) + `"]}`
		return env.do(t, http.MethodPost, "/v1/oprf/evaluate", tok, strings.NewReader(body), "Content-Type", "application/json")
	}
	w := evaluate(3)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var ev oprfEvaluateResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ev))
	assert.Len(t, ev.Evaluated, 3)
	assert.NotEmpty(t, ev.Proof)

	w = evaluate(3)
	p := requireProblem(t, w, http.StatusTooManyRequests)
	assert.Equal(t, problemTypeBase+"quota-exceeded", p.Type)
	secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, secs >= 1 && secs <= 86400, secs)
	assert.EqualValues(t, 3, oprfUsage(t, env))

	// Another organisation has its own count.
	other := env.token(t, authn.RoleFacilityOperator, "ASSO-000002")
	w = env.do(t, http.MethodPost, "/v1/oprf/evaluate", other, strings.NewReader(`{"blinded":["`+strings.Join(blindedElements(t, 5), `","`)+`"]}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	w = evaluate(2)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.EqualValues(t, 10, oprfUsage(t, env))
	requireProblem(t, evaluate(1), http.StatusTooManyRequests)
	assert.EqualValues(t, 10, oprfUsage(t, env))
}

// blindSet computes a valid match-key item for the minor() identity with
// the server's PRF, as a blind client would.
func blindSet(t *testing.T, env *testEnv) map[string]any {
	t.Helper()
	n, err := linkage.Normalize(linkage.Identity{Surname: "Bianchi", GivenNames: "Giulia", BirthDate: "2015-07-15", Sex: "F", BirthPlace: "D612", Citizenship: "380"}, linkage.Policy{})
	require.NoError(t, err)
	var keys []any
	for _, kv := range n.KeyValues() {
		d, err := env.prf.Eval(context.Background(), [][]byte{linkage.PRFInput(kv)})
		require.NoError(t, err)
		keys = append(keys, map[string]any{"kind": string(kv.Kind), "digest": base64.StdEncoding.EncodeToString(d[0])})
	}
	return map[string]any{"match_keys": keys, "attributes": map[string]any{"sex": "F", "birth_year": 2015, "birth_month": 7, "citizenship_group": "IT"}}
}

func TestTokensMatchKeys(t *testing.T) {
	env := newTestEnv(t)
	tok := env.token(t, authn.RoleServiceOperator, "ZONA-01")
	r := postJSON(t, env, "/v1/tokens", tok, blindSet(t, env))
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var blind tokenResponse
	r.json(t, &blind)
	assert.Equal(t, "new", blind.Status)
	r = postJSON(t, env, "/v1/tokens", tok, map[string]any{"identity": minor()})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var server tokenResponse
	r.json(t, &server)
	assert.Equal(t, blind.Token, server.Token)
	assert.Equal(t, "existing", server.Status)

	r = postJSON(t, env, "/v1/tokens/batch", tok, map[string]any{"identities": []any{blindSet(t, env), map[string]any{"match_keys": []any{}, "attributes": map[string]any{}}}})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var batch batchResponse
	r.json(t, &batch)
	require.Len(t, batch.Results, 2)
	assert.Equal(t, blind.Token, batch.Results[0].Token)
	require.NotNil(t, batch.Results[1].Error)
	assert.Equal(t, 1, batch.Results[1].Index)
	assert.Contains(t, fieldsOf(*batch.Results[1].Error), "match_keys")
}

// TestTokensMatchKeysBadInput: a bad match-key item is a 422 naming the
// field, and nothing is stored.
func TestTokensMatchKeysBadInput(t *testing.T) {
	env := newTestEnv(t)
	tok := env.token(t, authn.RoleServiceOperator, "ZONA-01")
	edit := func(f func(m map[string]any)) map[string]any {
		m := blindSet(t, env)
		f(m)
		return m
	}
	key := func(m map[string]any, i int) map[string]any { return m["match_keys"].([]any)[i].(map[string]any) }
	tests := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"unknownKind", edit(func(m map[string]any) { key(m, 1)["kind"] = "BLOOM" }), []string{"match_keys[1].kind"}},
		{"shortDigest", edit(func(m map[string]any) { key(m, 2)["digest"] = base64.StdEncoding.EncodeToString(make([]byte, 31)) }), []string{"match_keys[2].digest"}},
		{"notBase64", edit(func(m map[string]any) { key(m, 0)["digest"] = "%%%" }), []string{"match_keys[0].digest"}},
		{"noNDS", edit(func(m map[string]any) { m["match_keys"] = m["match_keys"].([]any)[1:] }), []string{"match_keys"}},
		{"noAttributes", edit(func(m map[string]any) { delete(m, "attributes") }), []string{"attributes"}},
		{"badAttributes", edit(func(m map[string]any) {
			m["attributes"] = map[string]any{"sex": "Q", "birth_year": 2015, "birth_month": 13, "citizenship_group": "MARS"}
		}), []string{"attributes.sex", "attributes.birth_month", "attributes.citizenship_group"}},
		{"tooOld", edit(func(m map[string]any) { m["attributes"].(map[string]any)["birth_year"] = 1990 }), []string{"attributes.birth_year"}},
		{"identityAndKeys", edit(func(m map[string]any) { m["identity"] = minor() }), []string{"identity"}},
	}
	before := tableCounts(t, env)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := postJSON(t, env, "/v1/tokens", tok, tc.body)
			p := requireProblem(t, r.w, http.StatusUnprocessableEntity)
			assert.Equal(t, tc.fields, fieldsOf(p))

			r = postJSON(t, env, "/v1/tokens/batch", tok, map[string]any{"identities": []any{tc.body}})
			if tc.name == "identityAndKeys" {
				requireProblem(t, r.w, http.StatusUnprocessableEntity) // "identity" is no field of a batch item
				return
			}
			require.Equal(t, http.StatusOK, r.code, string(r.body))
			var batch batchResponse
			r.json(t, &batch)
			require.Len(t, batch.Results, 1)
			require.NotNil(t, batch.Results[0].Error)
			assert.Equal(t, tc.fields, fieldsOf(*batch.Results[0].Error))
		})
	}
	// A batch mixing identities and match keys is refused whole.
	r := postJSON(t, env, "/v1/tokens/batch", tok, map[string]any{"identities": []any{minor(), blindSet(t, env)}})
	p := requireProblem(t, r.w, http.StatusUnprocessableEntity)
	assert.Equal(t, []string{"identities[1]"}, fieldsOf(p))
	item := blindSet(t, env)
	item["surname"] = "Bianchi"
	r = postJSON(t, env, "/v1/tokens/batch", tok, map[string]any{"identities": []any{item}})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	assert.Contains(t, string(r.body), `"field":"match_keys"`)
	assert.Equal(t, before, tableCounts(t, env))
}

package vaulttest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/vaultcfg/vaulttest"
)

// call sends one request to the fake and decodes the JSON answer (nil for
// an empty body).
func call(t *testing.T, srv *vaulttest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+"/v1/"+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp.StatusCode, out
}

func data(t *testing.T, out map[string]any) map[string]any {
	t.Helper()
	d, ok := out["data"].(map[string]any)
	require.True(t, ok, "response has data: %v", out)
	return d
}

// clock is a manual clock for token lifetimes.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestTokenRequired(t *testing.T) {
	srv := vaulttest.New(t)
	srv.CreateTransitKey("transit", "k")
	paths := []struct {
		name, method, path string
		body               any
	}{
		{"kv-read", http.MethodGet, "secret/data/sirm/x", nil},
		{"kv-write", http.MethodPost, "secret/data/sirm/x", map[string]any{"data": map[string]any{"a": "b"}}},
		{"kv-metadata", http.MethodGet, "secret/metadata/sirm/x", nil},
		{"lookup-self", http.MethodGet, "auth/token/lookup-self", nil},
		{"renew-self", http.MethodPost, "auth/token/renew-self", map[string]any{}},
		{"transit", http.MethodPost, "transit/hmac/k/sha2-256", map[string]any{"input": "eA=="}},
	}
	tokens := []struct{ name, token string }{{"missing", ""}, {"unknown", "hvs.unknown"}}
	for _, p := range paths {
		for _, tok := range tokens {
			t.Run(p.name+"-"+tok.name, func(t *testing.T) {
				status, out := call(t, srv, p.method, p.path, tok.token, p.body)
				assert.Equal(t, http.StatusForbidden, status)
				assert.Equal(t, []any{"permission denied"}, out["errors"])
			})
		}
	}
	_, ok := srv.KV("secret", "sirm/x", 0)
	assert.False(t, ok, "refused write stored nothing")
}

func TestKV(t *testing.T) {
	srv := vaulttest.New(t)
	root := srv.RootToken()
	write := func(cas any, value string) (int, map[string]any) {
		body := map[string]any{"data": map[string]any{"material": value}}
		if cas != nil {
			body["options"] = map[string]any{"cas": cas}
		}
		return call(t, srv, http.MethodPost, "secret/data/sirm/k", root, body)
	}

	steps := []struct {
		name        string
		cas         any
		wantStatus  int
		wantVersion int
	}{
		{"create-cas0", 0, http.StatusOK, 1},
		{"create-again-cas0", 0, http.StatusBadRequest, 0},
		{"stale-cas", 5, http.StatusBadRequest, 0},
		{"cas-current", 1, http.StatusOK, 2},
		{"no-cas", nil, http.StatusOK, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, out := write(st.cas, "value-"+st.name)
			require.Equal(t, st.wantStatus, status, "%v", out)
			if st.wantStatus != http.StatusOK {
				assert.Equal(t, []any{vaulttest.CASMismatch}, out["errors"])
				return
			}
			d := data(t, out)
			assert.EqualValues(t, st.wantVersion, d["version"])
			assert.Equal(t, "", d["deletion_time"])
			assert.Equal(t, false, d["destroyed"])
		})
	}
	assert.Equal(t, []int{1, 2, 3}, srv.KVVersions("secret", "sirm/k"))

	t.Run("read-latest", func(t *testing.T) {
		status, out := call(t, srv, http.MethodGet, "secret/data/sirm/k", root, nil)
		require.Equal(t, http.StatusOK, status)
		d := data(t, out)
		assert.Equal(t, map[string]any{"material": "value-no-cas"}, d["data"])
		assert.EqualValues(t, 3, d["metadata"].(map[string]any)["version"])
	})
	t.Run("read-version", func(t *testing.T) {
		status, out := call(t, srv, http.MethodGet, "secret/data/sirm/k?version=1", root, nil)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, map[string]any{"material": "value-create-cas0"}, data(t, out)["data"])
	})
	t.Run("read-missing-version", func(t *testing.T) {
		status, _ := call(t, srv, http.MethodGet, "secret/data/sirm/k?version=9", root, nil)
		assert.Equal(t, http.StatusNotFound, status)
	})
	t.Run("read-missing-secret", func(t *testing.T) {
		status, out := call(t, srv, http.MethodGet, "secret/data/sirm/none", root, nil)
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, []any{}, out["errors"])
	})
	t.Run("unknown-mount", func(t *testing.T) {
		status, _ := call(t, srv, http.MethodGet, "kv/data/sirm/k", root, nil)
		assert.Equal(t, http.StatusNotFound, status)
	})
	t.Run("no-data", func(t *testing.T) {
		status, _ := call(t, srv, http.MethodPost, "secret/data/sirm/k", root, map[string]any{"options": map[string]any{}})
		assert.Equal(t, http.StatusBadRequest, status)
	})

	t.Run("soft-delete", func(t *testing.T) {
		status, _ := call(t, srv, http.MethodDelete, "secret/data/sirm/k", root, nil)
		require.Equal(t, http.StatusNoContent, status)
		status, out := call(t, srv, http.MethodGet, "secret/data/sirm/k", root, nil)
		assert.Equal(t, http.StatusNotFound, status)
		d := data(t, out)
		assert.Nil(t, d["data"])
		assert.NotEqual(t, "", d["metadata"].(map[string]any)["deletion_time"])
	})

	t.Run("metadata", func(t *testing.T) {
		srv.DestroyKVVersion("secret", "sirm/k", 1)
		status, out := call(t, srv, http.MethodGet, "secret/metadata/sirm/k", root, nil)
		require.Equal(t, http.StatusOK, status)
		d := data(t, out)
		assert.EqualValues(t, 3, d["current_version"])
		assert.EqualValues(t, 1, d["oldest_version"])
		versions := d["versions"].(map[string]any)
		require.Len(t, versions, 3)
		assert.Equal(t, true, versions["1"].(map[string]any)["destroyed"])
		assert.Equal(t, "", versions["2"].(map[string]any)["deletion_time"])
		assert.NotEqual(t, "", versions["3"].(map[string]any)["deletion_time"])

		status, _ = call(t, srv, http.MethodDelete, "secret/metadata/sirm/k", root, nil)
		require.Equal(t, http.StatusNoContent, status)
		status, _ = call(t, srv, http.MethodGet, "secret/metadata/sirm/k", root, nil)
		assert.Equal(t, http.StatusNotFound, status)
	})

	assert.Equal(t, 6, srv.Calls(vaulttest.EndpointKVWrite))
	assert.Equal(t, 2, srv.Calls(vaulttest.EndpointKVMetadata))
}

func TestKVMaxVersions(t *testing.T) {
	srv := vaulttest.New(t, vaulttest.WithKVMaxVersions(3))
	for i := range 5 {
		srv.PutKV("secret", "p", map[string]any{"i": i})
	}
	assert.Equal(t, []int{3, 4, 5}, srv.KVVersions("secret", "p"))
}

func TestTokenLifecycle(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv := vaulttest.New(t, vaulttest.WithClock(clk.Now))
	renewable := srv.AddToken(vaulttest.TokenSpec{TTL: 10 * time.Second, MaxTTL: 25 * time.Second, Renewable: true})
	fixed := srv.AddToken(vaulttest.TokenSpec{TTL: 10 * time.Second})

	status, out := call(t, srv, http.MethodGet, "auth/token/lookup-self", renewable, nil)
	require.Equal(t, http.StatusOK, status)
	d := data(t, out)
	assert.EqualValues(t, 10, d["ttl"])
	assert.Equal(t, true, d["renewable"])
	assert.Equal(t, renewable, d["id"])

	status, out = call(t, srv, http.MethodPost, "auth/token/renew-self", fixed, map[string]any{})
	assert.Equal(t, http.StatusBadRequest, status, "non-renewable: %v", out)
	assert.Equal(t, []any{"lease is not renewable"}, out["errors"])

	clk.Add(8 * time.Second)
	status, out = call(t, srv, http.MethodPost, "auth/token/renew-self", renewable, map[string]any{"increment": 0})
	require.Equal(t, http.StatusOK, status)
	auth := out["auth"].(map[string]any)
	assert.EqualValues(t, 10, auth["lease_duration"], "renewal extends by the TTL")
	assert.Equal(t, renewable, auth["client_token"])

	clk.Add(8 * time.Second)
	status, out = call(t, srv, http.MethodPost, "auth/token/renew-self", renewable, map[string]any{"increment": "1h"})
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 9, out["auth"].(map[string]any)["lease_duration"], "capped by max TTL (25s from issue, 16s gone)")

	// 16s after issue, the non-renewable 10s token has expired.
	status, out = call(t, srv, http.MethodGet, "auth/token/lookup-self", fixed, nil)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, []any{"permission denied"}, out["errors"])

	clk.Add(10 * time.Second)
	status, _ = call(t, srv, http.MethodGet, "auth/token/lookup-self", renewable, nil)
	assert.Equal(t, http.StatusForbidden, status, "expired at its max TTL")
	_, ok := srv.TokenTTL(renewable)
	assert.False(t, ok)

	assert.Equal(t, 3, srv.Calls(vaulttest.EndpointRenewSelf))
	assert.Equal(t, 3, srv.Calls(vaulttest.EndpointLookupSelf))
}

func TestAppRoleLogin(t *testing.T) {
	srv := vaulttest.New(t, vaulttest.WithAppRoleMount("approle"), vaulttest.WithAppRoleMount("ci"))
	srv.AddAppRole("role-a", "secret-a", vaulttest.TokenSpec{TTL: time.Minute, Renewable: true, Policies: []string{"sirm"}})
	tests := []struct {
		name       string
		mount      string
		body       map[string]any
		wantStatus int
	}{
		{"ok", "approle", map[string]any{"role_id": "role-a", "secret_id": "secret-a"}, http.StatusOK},
		{"ok-other-mount", "ci", map[string]any{"role_id": "role-a", "secret_id": "secret-a"}, http.StatusOK},
		{"wrong-secret", "approle", map[string]any{"role_id": "role-a", "secret_id": "nope"}, http.StatusBadRequest},
		{"unknown-role", "approle", map[string]any{"role_id": "role-b", "secret_id": "secret-a"}, http.StatusBadRequest},
		{"missing-role", "approle", map[string]any{"secret_id": "secret-a"}, http.StatusBadRequest},
		{"unknown-mount", "nope", map[string]any{"role_id": "role-a", "secret_id": "secret-a"}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(t, srv, http.MethodPost, "auth/"+tt.mount+"/login", "", tt.body)
			require.Equal(t, tt.wantStatus, status, "%v", out)
			if status != http.StatusOK {
				return
			}
			auth := out["auth"].(map[string]any)
			tok := auth["client_token"].(string)
			assert.NotEmpty(t, tok)
			assert.EqualValues(t, 60, auth["lease_duration"])
			assert.Equal(t, true, auth["renewable"])
			assert.Equal(t, []any{"sirm"}, auth["policies"])
			status, _ = call(t, srv, http.MethodGet, "auth/token/lookup-self", tok, nil)
			assert.Equal(t, http.StatusOK, status, "the issued token works")
		})
	}
	assert.Equal(t, 5, srv.Calls(vaulttest.EndpointLogin))
}

func TestTransitHMAC(t *testing.T) {
	srv := vaulttest.New(t)
	root := srv.RootToken()
	srv.CreateTransitKey("transit", "k")
	srv.RotateTransitKey("transit", "k")
	expect := func(version int, input []byte) string {
		h := hmac.New(sha256.New, srv.TransitKey("transit", "k", version))
		h.Write(input)
		return "vault:v" + string(rune('0'+version)) + ":" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	b64 := base64.StdEncoding.EncodeToString

	t.Run("single-latest", func(t *testing.T) {
		status, out := call(t, srv, http.MethodPost, "transit/hmac/k/sha2-256", root, map[string]any{"input": b64([]byte("x"))})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, expect(2, []byte("x")), data(t, out)["hmac"])
	})
	t.Run("single-pinned-algorithm-in-body", func(t *testing.T) {
		status, out := call(t, srv, http.MethodPost, "transit/hmac/k", root, map[string]any{"input": b64([]byte("x")), "key_version": 1, "algorithm": "sha2-256"})
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, expect(1, []byte("x")), data(t, out)["hmac"])
	})
	t.Run("batch", func(t *testing.T) {
		status, out := call(t, srv, http.MethodPost, "transit/hmac/k/sha2-256", root, map[string]any{
			"key_version": 1,
			"batch_input": []any{map[string]any{"input": b64([]byte("a"))}, map[string]any{"input": b64([]byte("b")), "reference": "r2"}},
		})
		require.Equal(t, http.StatusOK, status)
		res := data(t, out)["batch_results"].([]any)
		require.Len(t, res, 2)
		assert.Equal(t, expect(1, []byte("a")), res[0].(map[string]any)["hmac"])
		assert.Equal(t, expect(1, []byte("b")), res[1].(map[string]any)["hmac"])
		assert.Equal(t, "r2", res[1].(map[string]any)["reference"])
	})
	batchWithBadItem := []any{map[string]any{"input": b64([]byte("a"))}, map[string]any{"input": "%%%"}}
	t.Run("batch-item-error", func(t *testing.T) {
		status, out := call(t, srv, http.MethodPost, "transit/hmac/k/sha2-256", root, map[string]any{"batch_input": batchWithBadItem})
		require.Equal(t, http.StatusBadRequest, status)
		res := data(t, out)["batch_results"].([]any)
		assert.Contains(t, res[1].(map[string]any)["error"], "base64")
		assert.NotEmpty(t, res[0].(map[string]any)["hmac"])
	})
	t.Run("batch-partial-failure-code", func(t *testing.T) {
		status, _ := call(t, srv, http.MethodPost, "transit/hmac/k/sha2-256", root, map[string]any{"batch_input": batchWithBadItem, "partial_failure_response_code": 207})
		assert.Equal(t, 207, status)
	})
	errCases := []struct {
		name string
		path string
		body map[string]any
	}{
		{"version-too-high", "transit/hmac/k/sha2-256", map[string]any{"input": "eA==", "key_version": 3}},
		{"unknown-key", "transit/hmac/nope/sha2-256", map[string]any{"input": "eA=="}},
		{"unsupported-algorithm", "transit/hmac/k/md5", map[string]any{"input": "eA=="}},
		{"bad-input", "transit/hmac/k/sha2-256", map[string]any{"input": "%%%"}},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(t, srv, http.MethodPost, tt.path, root, tt.body)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.NotEmpty(t, out["errors"])
		})
	}
	assert.Nil(t, srv.TransitKey("transit", "k", 3))
	assert.Equal(t, 9, srv.Calls(vaulttest.EndpointTransitHMAC))
}

func TestFailureInjection(t *testing.T) {
	srv := vaulttest.New(t)
	root := srv.RootToken()

	srv.SetDown(true)
	status, out := call(t, srv, http.MethodGet, "auth/token/lookup-self", root, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, []any{"Vault is sealed"}, out["errors"])
	srv.SetDown(false)

	srv.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusTeapot)
			return true
		}
		return false
	})
	status, _ = call(t, srv, http.MethodGet, "auth/token/lookup-self", root, nil)
	assert.Equal(t, http.StatusTeapot, status)
	srv.SetIntercept(nil)
	status, _ = call(t, srv, http.MethodGet, "auth/token/lookup-self", root, nil)
	assert.Equal(t, http.StatusOK, status)

	assert.Equal(t, 3, srv.Calls(vaulttest.EndpointLookupSelf), "failed requests are counted too")
	assert.Equal(t, []string{
		"GET /v1/auth/token/lookup-self",
		"GET /v1/auth/token/lookup-self",
		"GET /v1/auth/token/lookup-self",
	}, srv.Requests())

	srv.Close()
	_, err := http.Get(srv.URL + "/v1/auth/token/lookup-self")
	assert.Error(t, err, "a closed server refuses connections")
}

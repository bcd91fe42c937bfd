package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const giulia = `{"identity":{"surname":"Bianchi","given_names":"Giulia","birth_date":"2015-07-15","sex":"F","birth_place":"D612","citizenship":"380"}}`

type tokenResp struct {
	Token  string `json:"token"`
	Status string `json:"status"`
}

type tokenInfo struct {
	Token      string `json:"token"`
	Domain     string `json:"domain"`
	KeyVersion int    `json:"key_version"`
	Status     string `json:"status"`
}

func (in *instance) tokenize(t *testing.T, jwt, body string) tokenResp {
	t.Helper()
	r := in.do(http.MethodPost, "/v1/tokens", jwt, "application/json", strings.NewReader(body))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var tr tokenResp
	r.json(t, &tr)
	return tr
}

// TestBackendPinned: a deployment keeps the PRF backend it started with.
func TestBackendPinned(t *testing.T) {
	in := newInstance(t)
	in.start()
	require.NoError(t, in.stop())
	_, errOut, code := in.run(in.env("SIRM_LINKAGE_BACKEND=hmac", "SIRM_LISTEN="+freeAddr(t)), "serve")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `linkage backend "oprf"`)
	assert.Contains(t, errOut, `backend "hmac"`)
}

// TestTokenKeyRotation: rotating a domain's key gives new tokens while old
// ones resolve; retiring stops the old ones.
func TestTokenKeyRotation(t *testing.T) {
	in := newInstance(t)
	in.start()
	service := in.devToken("service_operator", "FIORENTINA")
	old := in.tokenize(t, service, giulia)
	assert.Equal(t, "new", old.Status)

	out := in.sirm("keys", "rotate-token-key", "FIORENTINA")
	assert.Contains(t, out, "version 2")
	fresh := in.tokenize(t, service, giulia)
	assert.Equal(t, "existing", fresh.Status)
	assert.NotEqual(t, old.Token, fresh.Token)

	info := func(tok string) tokenInfo {
		r := in.get("/v1/tokens/"+tok, service)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var ti tokenInfo
		require.NoError(t, json.Unmarshal(r.body, &ti))
		return ti
	}
	assert.Equal(t, tokenInfo{Token: old.Token, Domain: "FIORENTINA", KeyVersion: 1, Status: "active"}, info(old.Token))
	assert.Equal(t, tokenInfo{Token: fresh.Token, Domain: "FIORENTINA", KeyVersion: 2, Status: "active"}, info(fresh.Token))

	assert.Contains(t, in.sirm("keys", "retire-token-key", "FIORENTINA"), "retired 1")
	assert.Equal(t, "retired", info(old.Token).Status)
	assert.Equal(t, "active", info(fresh.Token).Status)

	// Another domain never saw a rotation.
	facility := in.devToken("facility_operator", "ASSO-000001")
	fac := in.tokenize(t, facility, giulia)
	assert.Equal(t, 1, func() int {
		r := in.get("/v1/tokens/"+fac.Token, facility)
		var ti tokenInfo
		require.NoError(t, json.Unmarshal(r.body, &ti))
		return ti.KeyVersion
	}())

	_, errOut, code := in.run(in.env(), "keys", "rotate-token-key")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "DOMAIN")
	require.NoError(t, in.stop())
}

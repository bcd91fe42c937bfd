package authn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/authn"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return pub, priv
}

var alice = authn.Principal{Subject: "alice", Role: authn.RoleAuditor, Org: "REGIONE", Purpose: "verifica"}

func TestDevTokenRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	tok, err := authn.Mint(priv, authn.MintOptions{Principal: alice, TTL: time.Hour})
	require.NoError(t, err)
	got, err := authn.NewDevVerifier(pub).Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, alice, got)
}

func TestDevTokenRejected(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	now := time.Now()
	mint := func(key ed25519.PrivateKey, o authn.MintOptions) string {
		tok, err := authn.Mint(key, o)
		require.NoError(t, err)
		return tok
	}
	// A token signed right but with claims Mint refuses to write.
	forge := func(std jwt.Claims, extra map[string]any) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, nil)
		require.NoError(t, err)
		tok, err := jwt.Signed(s).Claims(std).Claims(extra).Serialize()
		require.NoError(t, err)
		return tok
	}
	valid := jwt.Claims{Issuer: authn.DevIssuer, Subject: "x", Audience: jwt.Audience{authn.DevAudience},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	wrongAud := valid
	wrongAud.Audience = jwt.Audience{"someone-else"}
	wrongIss := valid
	wrongIss.Issuer = "https://evil.example"
	future := valid
	future.NotBefore = jwt.NewNumericDate(now.Add(10 * time.Minute))

	tests := []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"garbage", "not.a.jwt"},
		{"wrongKey", mint(otherPriv, authn.MintOptions{Principal: alice})},
		{"expired", mint(priv, authn.MintOptions{Principal: alice, TTL: time.Minute, Now: now.Add(-time.Hour)})},
		{"notYetValid", forge(future, map[string]any{"role": "auditor", "org": "REGIONE"})},
		{"wrongAudience", forge(wrongAud, map[string]any{"role": "auditor", "org": "REGIONE"})},
		{"wrongIssuer", forge(wrongIss, map[string]any{"role": "auditor", "org": "REGIONE"})},
		{"unknownRole", forge(valid, map[string]any{"role": "root", "org": "REGIONE"})},
		{"noOrg", forge(valid, map[string]any{"role": "auditor"})},
	}
	v := authn.NewDevVerifier(pub)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.tok)
			assert.ErrorIs(t, err, authn.ErrUnauthenticated)
		})
	}
}

func TestMintRefusesIncompletePrincipal(t *testing.T) {
	_, priv := newKey(t)
	for _, p := range []authn.Principal{
		{Role: authn.RoleAdmin, Org: "R"},
		{Subject: "s", Role: "boss", Org: "R"},
		{Subject: "s", Role: authn.RoleAdmin},
	} {
		_, err := authn.Mint(priv, authn.MintOptions{Principal: p})
		assert.Error(t, err, "%+v", p)
	}
}

// TestOIDCVerifier runs a minimal OIDC issuer (discovery + JWKS) in process.
func TestOIDCVerifier(t *testing.T) {
	pub, priv := newKey(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks",
			"authorization_endpoint": srv.URL + "/auth", "token_endpoint": srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"EdDSA"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	})
	ctx := context.Background()
	v, err := authn.NewOIDCVerifier(ctx, srv.URL, "sirm-api")
	require.NoError(t, err)

	sign := func(aud string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		require.NoError(t, err)
		now := time.Now()
		tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: srv.URL, Subject: "op-7", Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).
			Claims(map[string]any{"role": "service_operator", "org": "FIORENTINA"}).Serialize()
		require.NoError(t, err)
		return tok
	}
	p, err := v.Verify(ctx, sign("sirm-api"))
	require.NoError(t, err)
	assert.Equal(t, authn.Principal{Subject: "op-7", Role: authn.RoleServiceOperator, Org: "FIORENTINA"}, p)

	_, err = v.Verify(ctx, sign("other-api"))
	assert.ErrorIs(t, err, authn.ErrUnauthenticated)
}

func TestBearerToken(t *testing.T) {
	assert.Equal(t, "abc", authn.BearerToken("Bearer abc"))
	assert.Equal(t, "abc", authn.BearerToken("bearer  abc "))
	assert.Equal(t, "", authn.BearerToken("Basic abc"))
	assert.Equal(t, "", authn.BearerToken("abc"))
}

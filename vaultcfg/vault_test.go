package vaultcfg_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/vaultcfg"
	"github.com/toscana/sirm/vaultcfg/vaulttest"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func vaultConfig(srv *vaulttest.Server, token string) vaultcfg.Config {
	return vaultcfg.Config{
		Kind: vaultcfg.KindVault,
		Env:  vaultcfg.EnvProduction,
		Vault: vaultcfg.VaultConfig{
			Addr:       srv.URL,
			Token:      token,
			MaxRetries: -1, // fail fast on 5xx and refused connections
		},
	}
}

func openVault(t *testing.T, cfg vaultcfg.Config) *vaultcfg.VaultSource {
	t.Helper()
	src, err := vaultcfg.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	vs, ok := src.(*vaultcfg.VaultSource)
	require.True(t, ok, "Open(kind vault) returns a *VaultSource, got %T", src)
	return vs
}

func initVault(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
	t.Helper()
	cfg := vaultConfig(srv, srv.RootToken())
	created, err := vaultcfg.Init(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, vaultcfg.StandardSecrets, created)
	return cfg
}

func TestVaultOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		cfg        func(srv *vaulttest.Server) vaultcfg.Config
		wantLogins int
	}{
		{"root-token", func(srv *vaulttest.Server) vaultcfg.Config {
			return vaultConfig(srv, srv.RootToken())
		}, 0},
		{"service-token", func(srv *vaulttest.Server) vaultcfg.Config {
			return vaultConfig(srv, srv.AddToken(vaulttest.TokenSpec{TTL: time.Hour, Renewable: true}))
		}, 0},
		{"approle", func(srv *vaulttest.Server) vaultcfg.Config {
			srv.AddAppRole("role-1", "secret-1", vaulttest.TokenSpec{TTL: time.Hour, Renewable: true})
			cfg := vaultConfig(srv, "")
			cfg.Vault.Auth = vaultcfg.AuthAppRole
			cfg.Vault.RoleID, cfg.Vault.SecretID = "role-1", "secret-1"
			return cfg
		}, 1},
		{"approle-custom-mount", func(srv *vaulttest.Server) vaultcfg.Config {
			srv.AddAppRole("role-2", "secret-2", vaulttest.TokenSpec{TTL: time.Hour})
			cfg := vaultConfig(srv, "")
			cfg.Vault.Auth = vaultcfg.AuthAppRole
			cfg.Vault.AppRoleMount = "sirm-approle"
			cfg.Vault.RoleID, cfg.Vault.SecretID = "role-2", "secret-2"
			return cfg
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := vaulttest.New(t, vaulttest.WithAppRoleMount("approle"), vaulttest.WithAppRoleMount("sirm-approle"))
			cfg := tt.cfg(srv)
			src := openVault(t, cfg)
			assert.Equal(t, vaultcfg.KindVault, src.Kind())
			assert.Equal(t, tt.wantLogins, srv.Calls(vaulttest.EndpointLogin))
			assert.Equal(t, 1, srv.Calls(vaulttest.EndpointKVMetadata), "Open checks the KV path")
			require.NoError(t, src.Check(ctx))

			// The source can use the KV engine with the token it has.
			srv.PutKV("secret", "sirm/"+vaultcfg.SecretToken, map[string]any{"material": base64.StdEncoding.EncodeToString(seq(32))})
			s, err := src.Secret(ctx, vaultcfg.SecretToken)
			require.NoError(t, err)
			assert.Equal(t, seq(32), s.Material)
			assert.Equal(t, 1, s.Version)
		})
	}
}

func TestVaultOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		cfg      func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config
		wantIs   error
		wantMsgs []string
	}{
		{"unknown-token", func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
			return vaultConfig(srv, "hvs.not-a-token")
		}, vaultcfg.ErrUnavailable, []string{"auth/token/lookup-self", "permission denied"}},
		{"expired-token", func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
			id := srv.AddToken(vaulttest.TokenSpec{TTL: time.Nanosecond})
			return vaultConfig(srv, id)
		}, vaultcfg.ErrUnavailable, []string{"permission denied"}},
		{"approle-bad-secret-id", func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
			srv.AddAppRole("role-1", "secret-1", vaulttest.TokenSpec{TTL: time.Hour})
			cfg := vaultConfig(srv, "")
			cfg.Vault.Auth = vaultcfg.AuthAppRole
			cfg.Vault.RoleID, cfg.Vault.SecretID = "role-1", "wrong"
			return cfg
		}, vaultcfg.ErrUnavailable, []string{"auth/approle/login", "invalid role or secret ID"}},
		{"kv-path-denied", func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
			id := srv.AddToken(vaulttest.TokenSpec{TTL: time.Hour, DenyPrefixes: []string{"secret/metadata/sirm/"}})
			return vaultConfig(srv, id)
		}, vaultcfg.ErrUnavailable, []string{"secret/metadata/sirm/jwt-signing", "permission denied"}},
		{"sealed", func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
			srv.SetDown(true)
			return vaultConfig(srv, srv.RootToken())
		}, vaultcfg.ErrUnavailable, []string{"503", "Vault is sealed"}},
		{"server-down", func(t *testing.T, srv *vaulttest.Server) vaultcfg.Config {
			srv.Close()
			return vaultConfig(srv, srv.RootToken())
		}, vaultcfg.ErrUnavailable, []string{"auth/token/lookup-self"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := vaulttest.New(t)
			cfg := tt.cfg(t, srv)
			src, err := vaultcfg.Open(ctx, cfg)
			require.Error(t, err)
			assert.Nil(t, src)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Contains(t, err.Error(), srv.URL, "the error names the Vault address")
			for _, m := range tt.wantMsgs {
				assert.Contains(t, err.Error(), m)
			}
			assert.NotContains(t, err.Error(), srv.RootToken())
			assert.NotContains(t, err.Error(), "\n", "one-line error")
		})
	}
}

func TestVaultInit(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	cfg := initVault(t, srv)

	for _, name := range vaultcfg.StandardSecrets {
		data, ok := srv.KV("secret", "sirm/"+name, 0)
		require.True(t, ok, name)
		m, err := base64.StdEncoding.DecodeString(data["material"].(string))
		require.NoError(t, err)
		assert.Len(t, m, 32, name)
		assert.Equal(t, []int{1}, srv.KVVersions("secret", "sirm/"+name))
	}

	t.Run("idempotent", func(t *testing.T) {
		created, err := vaultcfg.Init(ctx, cfg)
		require.NoError(t, err)
		assert.Empty(t, created)
		for _, name := range vaultcfg.StandardSecrets {
			assert.Equal(t, []int{1}, srv.KVVersions("secret", "sirm/"+name), "no new version of %s", name)
		}
	})

	t.Run("adds-missing", func(t *testing.T) {
		cfg := cfg
		cfg.Vault.KVPath = "other"
		srv.PutKV("secret", "other/"+vaultcfg.SecretBloom, map[string]any{"material": base64.StdEncoding.EncodeToString(seq(32))})
		created, err := vaultcfg.Init(ctx, cfg)
		require.NoError(t, err)
		assert.Equal(t, []string{vaultcfg.SecretJWTSigning, vaultcfg.SecretLinkage, vaultcfg.SecretToken}, created)
		data, _ := srv.KV("secret", "other/"+vaultcfg.SecretBloom, 0)
		assert.Equal(t, base64.StdEncoding.EncodeToString(seq(32)), data["material"], "existing secret untouched")
	})

	t.Run("custom-mount", func(t *testing.T) {
		srv := vaulttest.New(t, vaulttest.WithKVMount("kv"))
		cfg := vaultConfig(srv, srv.RootToken())
		cfg.Vault.KVMount, cfg.Vault.KVPath = "kv", "apps/sirm"
		created, err := vaultcfg.Init(ctx, cfg)
		require.NoError(t, err)
		assert.Len(t, created, 4)
		_, ok := srv.KV("kv", "apps/sirm/"+vaultcfg.SecretLinkage, 1)
		assert.True(t, ok)
	})
}

func TestVaultConcurrentInit(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	cfg := vaultConfig(srv, srv.RootToken())

	const n = 4
	results := make([][]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = vaultcfg.Init(ctx, cfg) })
	}
	wg.Wait()
	count := map[string]int{}
	for i := range n {
		require.NoError(t, errs[i])
		for _, name := range results[i] {
			count[name]++
		}
	}
	for _, name := range vaultcfg.StandardSecrets {
		assert.Equal(t, 1, count[name], "%s created by exactly one Init", name)
		assert.Equal(t, []int{1}, srv.KVVersions("secret", "sirm/"+name))
	}
}

func TestVaultSecrets(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	cfg := initVault(t, srv)
	src := openVault(t, cfg)

	v1, err := src.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, 1, v1.Version)
	assert.Len(t, v1.Material, 32)
	assert.False(t, v1.CreatedAt.IsZero())
	data, _ := srv.KV("secret", "sirm/token", 1)
	assert.Equal(t, base64.StdEncoding.EncodeToString(v1.Material), data["material"])

	v2, err := src.Rotate(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, 2, v2.Version)
	assert.NotEqual(t, v1.Material, v2.Material)
	assert.NotEqual(t, v1.Fingerprint(), v2.Fingerprint())
	data, _ = srv.KV("secret", "sirm/token", 2)
	assert.Equal(t, base64.StdEncoding.EncodeToString(v2.Material), data["material"], "Rotate returns what it wrote")

	newest, err := src.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, v2.Material, newest.Material)
	assert.Equal(t, v2.Fingerprint(), newest.Fingerprint())

	old, err := src.SecretVersion(ctx, vaultcfg.SecretToken, 1)
	require.NoError(t, err)
	assert.Equal(t, v1.Material, old.Material)
	assert.Equal(t, 1, old.Version)

	v3, err := src.Rotate(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	vs, err := src.Versions(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, vs)

	t.Run("deleted-and-destroyed-versions-skipped", func(t *testing.T) {
		srv.DeleteKVVersion("secret", "sirm/token", 2)
		srv.DestroyKVVersion("secret", "sirm/token", 1)
		vs, err := src.Versions(ctx, vaultcfg.SecretToken)
		require.NoError(t, err)
		assert.Equal(t, []int{3}, vs)
		_, err = src.SecretVersion(ctx, vaultcfg.SecretToken, 2)
		assert.ErrorIs(t, err, vaultcfg.ErrNotFound)
	})

	t.Run("newest-deleted-falls-back", func(t *testing.T) {
		v4, err := src.Rotate(ctx, vaultcfg.SecretToken)
		require.NoError(t, err)
		srv.DeleteKVVersion("secret", "sirm/token", v4.Version)
		s, err := src.Secret(ctx, vaultcfg.SecretToken)
		require.NoError(t, err)
		assert.Equal(t, v3.Version, s.Version)
		assert.Equal(t, v3.Material, s.Material)
	})
}

func TestVaultNotFound(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	cfg := initVault(t, srv)
	src := openVault(t, cfg)

	tests := []struct {
		name  string
		call  func() error
		wants []string
	}{
		{"secret", func() error { _, err := src.Secret(ctx, "nope"); return err }, []string{"secret/data/sirm/nope"}},
		{"version", func() error { _, err := src.SecretVersion(ctx, vaultcfg.SecretToken, 9); return err }, []string{"secret/data/sirm/token", "version 9"}},
		{"versions", func() error { _, err := src.Versions(ctx, "nope"); return err }, []string{"secret/metadata/sirm/nope"}},
		{"rotate", func() error { _, err := src.Rotate(ctx, "nope"); return err }, []string{"secret/metadata/sirm/nope", "sirm keys init"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, vaultcfg.ErrNotFound)
			assert.NotErrorIs(t, err, vaultcfg.ErrUnavailable)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := src.Secret(ctx, "../../sys/seal")
	assert.ErrorContains(t, err, "invalid secret name", "names cannot leave the KV path")
}

func TestVaultRotateCASConflict(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// racers is how many KV writes get a competing version written
		// just before them.
		racers       int
		wantErr      error
		wantVersions []int
	}{
		{"one-race-then-success", 1, nil, []int{1, 2, 3}},
		{"always-losing", 1000, vaultcfg.ErrConflict, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := vaulttest.New(t)
			cfg := initVault(t, srv)
			src := openVault(t, cfg)
			var mu sync.Mutex
			left := tt.racers
			srv.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/secret/data/sirm/token") {
					mu.Lock()
					race := left > 0
					left--
					mu.Unlock()
					if race {
						// Another writer gets in between Rotate's read and write.
						srv.PutKV("secret", "sirm/token", map[string]any{"material": base64.StdEncoding.EncodeToString(seq(32))})
					}
				}
				return false
			})
			writesBefore := srv.Calls(vaulttest.EndpointKVWrite)
			s, err := src.Rotate(ctx, vaultcfg.SecretToken)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), "secret/data/sirm/token")
				assert.Equal(t, 8, srv.Calls(vaulttest.EndpointKVWrite)-writesBefore, "bounded retries")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 3, s.Version, "the competing write took version 2")
			assert.Equal(t, 2, srv.Calls(vaulttest.EndpointKVWrite)-writesBefore, "one cas mismatch, one retry")
			vs, err := src.Versions(ctx, vaultcfg.SecretToken)
			require.NoError(t, err)
			assert.Equal(t, tt.wantVersions, vs)
		})
	}
}

func TestVaultConcurrentRotate(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	cfg := initVault(t, srv)
	src := openVault(t, cfg)

	const n = 5 // within Rotate's retry budget even if every write races
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = src.Rotate(ctx, vaultcfg.SecretToken) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	vs, err := src.Versions(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, vs)
}

func TestVaultUnavailableAfterOpen(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	cfg := initVault(t, srv)
	src := openVault(t, cfg)

	srv.SetDown(true)
	calls := map[string]func() error{
		"secret":   func() error { _, err := src.Secret(ctx, vaultcfg.SecretToken); return err },
		"version":  func() error { _, err := src.SecretVersion(ctx, vaultcfg.SecretToken, 1); return err },
		"versions": func() error { _, err := src.Versions(ctx, vaultcfg.SecretToken); return err },
		"rotate":   func() error { _, err := src.Rotate(ctx, vaultcfg.SecretToken); return err },
		"check":    func() error { return src.Check(ctx) },
		"transit":  func() error { _, err := src.Transit("k").HMAC(ctx, 1, [][]byte{{1}}); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, vaultcfg.ErrUnavailable)
			assert.NotErrorIs(t, err, vaultcfg.ErrNotFound)
			assert.Contains(t, err.Error(), srv.URL)
			assert.Contains(t, err.Error(), "Vault is sealed")
		})
	}

	srv.SetDown(false)
	require.NoError(t, src.Check(ctx), "usable again once Vault is back")

	t.Run("token-revoked", func(t *testing.T) {
		id := srv.AddToken(vaulttest.TokenSpec{TTL: time.Hour})
		src := openVault(t, vaultConfig(srv, id))
		srv.RevokeToken(id)
		err := src.Check(ctx)
		require.ErrorIs(t, err, vaultcfg.ErrUnavailable)
		assert.Contains(t, err.Error(), "permission denied")
	})
}

func TestVaultTokenRenewal(t *testing.T) {
	t.Parallel()
	srv := vaulttest.New(t)
	id := srv.AddToken(vaulttest.TokenSpec{TTL: 2 * time.Second, Renewable: true})
	logs := &syncBuffer{}
	cfg := vaultConfig(srv, id)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := openVault(t, cfg)

	// Two renewals take longer than the token's 2s TTL, so the token is
	// still valid afterwards only because the renewals extended it.
	require.Eventually(t, func() bool { return srv.Calls(vaulttest.EndpointRenewSelf) >= 2 }, 20*time.Second, 20*time.Millisecond)
	_, ok := srv.TokenTTL(id)
	assert.True(t, ok, "token still valid after more than its original TTL")
	require.NoError(t, src.Check(context.Background()))

	require.NoError(t, src.Close())
	require.NoError(t, src.Close(), "Close is idempotent")
	out := logs.String()
	assert.Contains(t, out, "vault token renewed")
	assert.NotContains(t, out, id, "the token never appears in logs")
	assert.NotContains(t, out, strings.TrimPrefix(id, "hvs."))
}

func TestVaultAppRoleRelogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		spec       vaulttest.TokenSpec
		wantRenews bool
	}{
		// A non-renewable token is replaced by logging in again.
		{"not-renewable", vaulttest.TokenSpec{TTL: 2 * time.Second}, false},
		// A renewable token capped by its max TTL is renewed, then replaced.
		{"max-ttl", vaulttest.TokenSpec{TTL: 2 * time.Second, MaxTTL: 2500 * time.Millisecond, Renewable: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := vaulttest.New(t)
			initVault(t, srv)
			srv.AddAppRole("role-1", "secret-id-very-private", tt.spec)
			logs := &syncBuffer{}
			cfg := vaultConfig(srv, "")
			cfg.Vault.Auth = vaultcfg.AuthAppRole
			cfg.Vault.RoleID, cfg.Vault.SecretID = "role-1", "secret-id-very-private"
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			src := openVault(t, cfg)

			require.Eventually(t, func() bool { return srv.Calls(vaulttest.EndpointLogin) >= 3 }, 20*time.Second, 20*time.Millisecond)
			_, err := src.Secret(context.Background(), vaultcfg.SecretToken)
			require.NoError(t, err, "the source keeps working across token replacements")
			require.NoError(t, src.Close())
			if tt.wantRenews {
				assert.Positive(t, srv.Calls(vaulttest.EndpointRenewSelf), "renewed before logging in again")
			} else {
				assert.Zero(t, srv.Calls(vaulttest.EndpointRenewSelf), "a non-renewable token is not renewed")
			}

			out := logs.String()
			assert.Contains(t, out, "vault token replaced by a new approle login")
			assert.NotContains(t, out, "secret-id-very-private")
			for _, tok := range srv.Tokens() {
				assert.NotContains(t, out, tok)
			}
		})
	}
}

func TestTransitHMAC(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	srv.CreateTransitKey("transit", "linkage")
	require.Equal(t, 2, srv.RotateTransitKey("transit", "linkage"))
	src := openVault(t, vaultConfig(srv, srv.RootToken()))
	tr := src.Transit("linkage")

	inputs := [][]byte{[]byte("CF\x00RSSMRA80A01H501U"), []byte("NDS\x00ROSSI|MARIO|1980-01-01|M"), {0, 1, 2, 255}}
	byVersion := map[int][][]byte{}
	for _, version := range []int{1, 2} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			key := srv.TransitKey("transit", "linkage", version)
			require.Len(t, key, 32)
			macs, err := tr.HMAC(ctx, version, inputs)
			require.NoError(t, err)
			require.Len(t, macs, len(inputs))
			for i, in := range inputs {
				h := hmac.New(sha256.New, key)
				h.Write(in)
				assert.Equal(t, h.Sum(nil), macs[i], "input %d", i)
			}
			byVersion[version] = macs
		})
	}
	assert.NotEqual(t, byVersion[1][0], byVersion[2][0], "versions use different keys")
	assert.Equal(t, 2, srv.Calls(vaulttest.EndpointTransitHMAC), "one batch request per call")

	t.Run("request-shape", func(t *testing.T) {
		var body map[string]any
		var path string
		srv.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			path = r.URL.Path
			return json.Unmarshal(b, &body) != nil
		})
		defer srv.SetIntercept(nil)
		_, err := tr.HMAC(ctx, 1, [][]byte{[]byte("x"), []byte("y")})
		require.NoError(t, err)
		assert.Equal(t, "/v1/transit/hmac/linkage/sha2-256", path)
		assert.EqualValues(t, 1, body["key_version"])
		assert.Equal(t, []any{map[string]any{"input": "eA=="}, map[string]any{"input": "eQ=="}}, body["batch_input"])
	})

	t.Run("empty", func(t *testing.T) {
		macs, err := tr.HMAC(ctx, 1, nil)
		require.NoError(t, err)
		assert.Empty(t, macs)
	})

	errTests := []struct {
		name    string
		key     string
		version int
		reply   string // JSON body answered with status; "" lets the fake answer
		status  int
		want    string
	}{
		{"version-too-high", "linkage", 3, "", 0, "version is too high"},
		{"version-unpinned", "linkage", 0, "", 0, "pin a version"},
		{"unknown-key", "nope", 1, "", 0, "encryption key not found"},
		{"item-error", "linkage", 1, `{"data":{"batch_results":[{"hmac":"vault:v1:AAAA"},{"error":"unable to decode input"}]}}`, 400, "input 1: unable to decode input"},
		{"item-error-partial-200", "linkage", 1, `{"data":{"batch_results":[{"hmac":"vault:v1:AAAA"},{"error":"boom"}]}}`, 200, "input 1: boom"},
		{"wrong-version-in-result", "linkage", 1, `{"data":{"batch_results":[{"hmac":"vault:v2:AAAA"},{"hmac":"vault:v1:AAAA"}]}}`, 200, "input 0"},
		{"result-count", "linkage", 1, `{"data":{"batch_results":[{"hmac":"vault:v1:AAAA"}]}}`, 200, "1 results for 2 inputs"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.reply != "" {
				srv.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.reply)
					return true
				})
				defer srv.SetIntercept(nil)
			}
			_, err := src.Transit(tt.key).HMAC(ctx, tt.version, [][]byte{[]byte("a"), []byte("b")})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

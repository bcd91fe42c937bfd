package vaultcfg_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/vaultcfg"
)

func fileConfig(t *testing.T) vaultcfg.Config {
	t.Helper()
	return vaultcfg.Config{KeyringPath: filepath.Join(t.TempDir(), "data", "keyring.json")}
}

func openFile(t *testing.T, cfg vaultcfg.Config) vaultcfg.Source {
	t.Helper()
	src, err := vaultcfg.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return src
}

func TestFileInit(t *testing.T) {
	ctx := context.Background()
	cfg := fileConfig(t)

	created, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, vaultcfg.StandardSecrets, created)

	fi, err := os.Stat(cfg.KeyringPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "keyring mode")
	di, err := os.Stat(filepath.Dir(cfg.KeyringPath))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm(), "keyring directory mode")

	// The file has the documented layout.
	raw, err := os.ReadFile(cfg.KeyringPath)
	require.NoError(t, err)
	var doc struct {
		Format  int `json:"format"`
		Secrets map[string][]struct {
			Version   int    `json:"version"`
			CreatedAt string `json:"created_at"`
			Material  string `json:"material"`
		} `json:"secrets"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, 1, doc.Format)
	require.Len(t, doc.Secrets, len(vaultcfg.StandardSecrets))
	src := openFile(t, cfg)
	for _, name := range vaultcfg.StandardSecrets {
		entries := doc.Secrets[name]
		require.Len(t, entries, 1, name)
		assert.Equal(t, 1, entries[0].Version)
		_, err := time.Parse(time.RFC3339, entries[0].CreatedAt)
		assert.NoError(t, err, "created_at is RFC 3339")
		m, err := base64.StdEncoding.DecodeString(entries[0].Material)
		require.NoError(t, err)
		assert.Len(t, m, 32)

		s, err := src.Secret(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, m, s.Material, name)
		assert.Equal(t, 1, s.Version)
	}

	t.Run("idempotent", func(t *testing.T) {
		created, err := vaultcfg.Init(ctx, cfg)
		require.NoError(t, err)
		assert.Empty(t, created)
		again, err := os.ReadFile(cfg.KeyringPath)
		require.NoError(t, err)
		assert.Equal(t, raw, again, "a second Init leaves the keyring alone")
	})

	t.Run("adds-missing", func(t *testing.T) {
		delete(doc.Secrets, vaultcfg.SecretBloom)
		b, err := json.Marshal(doc)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(cfg.KeyringPath, b, 0o600))
		created, err := vaultcfg.Init(ctx, cfg)
		require.NoError(t, err)
		assert.Equal(t, []string{vaultcfg.SecretBloom}, created)
		s, err := src.Secret(ctx, vaultcfg.SecretToken)
		require.NoError(t, err)
		assert.Equal(t, 1, s.Version, "existing secrets are kept")
	})
}

func TestFileRefusesLooseMode(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		mode os.FileMode
	}{
		{"0644", 0o644},
		{"0640", 0o640},
		{"0604", 0o604},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fileConfig(t)
			_, err := vaultcfg.Init(ctx, cfg)
			require.NoError(t, err)
			require.NoError(t, os.Chmod(cfg.KeyringPath, tt.mode))

			_, err = vaultcfg.Init(ctx, cfg)
			require.ErrorIs(t, err, vaultcfg.ErrInsecureKeyring)
			assert.Contains(t, err.Error(), cfg.KeyringPath)
			assert.Contains(t, err.Error(), "0"+tt.name[1:])

			_, err = vaultcfg.Open(ctx, cfg)
			assert.ErrorIs(t, err, vaultcfg.ErrInsecureKeyring, "Open refuses it too")
		})
	}
}

func TestFileOpenMissing(t *testing.T) {
	cfg := fileConfig(t)
	_, err := vaultcfg.Open(context.Background(), cfg)
	require.ErrorIs(t, err, vaultcfg.ErrNotFound)
	assert.Contains(t, err.Error(), cfg.KeyringPath)
	assert.Contains(t, err.Error(), "sirm keys init")
}

func TestFileRotate(t *testing.T) {
	ctx := context.Background()
	cfg := fileConfig(t)
	_, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	src := openFile(t, cfg)

	v1, err := src.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	v2, err := src.Rotate(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, 2, v2.Version)
	assert.Len(t, v2.Material, 32)
	assert.NotEqual(t, v1.Material, v2.Material)
	assert.NotEqual(t, v1.Fingerprint(), v2.Fingerprint())

	newest, err := src.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, v2.Material, newest.Material)
	assert.Equal(t, v2.Fingerprint(), newest.Fingerprint(), "fingerprint stable across reads")

	old, err := src.SecretVersion(ctx, vaultcfg.SecretToken, 1)
	require.NoError(t, err)
	assert.Equal(t, v1.Material, old.Material, "rotation keeps old versions")

	vs, err := src.Versions(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, vs)

	fi, err := os.Stat(cfg.KeyringPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "rotation keeps mode 0600")

	// Another source on the same file sees the rotation.
	other := openFile(t, cfg)
	s, err := other.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Version)
}

func TestFileNotFound(t *testing.T) {
	ctx := context.Background()
	cfg := fileConfig(t)
	_, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	src := openFile(t, cfg)

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"secret", func() error { _, err := src.Secret(ctx, "nope"); return err }, "nope"},
		{"version", func() error { _, err := src.SecretVersion(ctx, vaultcfg.SecretToken, 7); return err }, "version 7"},
		{"versions", func() error { _, err := src.Versions(ctx, "nope"); return err }, "nope"},
		{"rotate", func() error { _, err := src.Rotate(ctx, "nope"); return err }, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, vaultcfg.ErrNotFound)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), cfg.KeyringPath)
		})
	}
}

func TestFileConcurrentRotate(t *testing.T) {
	ctx := context.Background()
	cfg := fileConfig(t)
	_, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)

	// Half the goroutines share one source, half open their own, so both
	// the process mutex and the flock are exercised.
	shared := openFile(t, cfg)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	versions := make(chan int, n)
	for i := range n {
		src := shared
		if i%2 == 1 {
			src = openFile(t, cfg)
		}
		wg.Go(func() {
			s, err := src.Rotate(ctx, vaultcfg.SecretToken)
			errs <- err
			versions <- s.Version
		})
	}
	wg.Wait()
	close(errs)
	close(versions)
	for err := range errs {
		require.NoError(t, err)
	}
	seen := map[int]bool{}
	for v := range versions {
		assert.False(t, seen[v], "version %d returned twice", v)
		seen[v] = true
	}

	vs, err := shared.Versions(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	want := make([]int, n+1)
	for i := range want {
		want[i] = i + 1
	}
	assert.Equal(t, want, vs, "21 versions, none lost")
	matches, err := filepath.Glob(cfg.KeyringPath + ".tmp-*")
	require.NoError(t, err)
	assert.Empty(t, matches, "no temporary files left behind")
}

func TestOpenConfigErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		cfg     vaultcfg.Config
		wantIs  error
		wantMsg string
	}{
		{"production-file", vaultcfg.Config{Env: vaultcfg.EnvProduction}, vaultcfg.ErrFileKeysInProduction, "SIRM_KEYS=vault or SIRM_ALLOW_FILE_KEYS=1"},
		{"production-file-explicit", vaultcfg.Config{Kind: vaultcfg.KindFile, Env: vaultcfg.EnvProduction}, vaultcfg.ErrFileKeysInProduction, "SIRM_ALLOW_FILE_KEYS=1"},
		{"unknown-kind", vaultcfg.Config{Kind: "consul"}, nil, `"consul"`},
		{"unknown-env", vaultcfg.Config{Env: "staging"}, nil, `"staging"`},
		{"unknown-auth", vaultcfg.Config{Kind: vaultcfg.KindVault, Vault: vaultcfg.VaultConfig{Auth: "kubernetes"}}, nil, `"kubernetes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.KeyringPath = filepath.Join(t.TempDir(), "keyring.json")
			_, err := vaultcfg.Open(ctx, tt.cfg)
			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantMsg)

			_, err = vaultcfg.Init(ctx, tt.cfg)
			require.Error(t, err, "Init refuses too")
			_, statErr := os.Stat(tt.cfg.KeyringPath)
			assert.ErrorIs(t, statErr, os.ErrNotExist, "nothing written")
		})
	}
}

func TestFileProductionAllowed(t *testing.T) {
	ctx := context.Background()
	cfg := fileConfig(t)
	cfg.Env = vaultcfg.EnvProduction
	cfg.AllowFileKeys = true
	created, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	assert.Len(t, created, len(vaultcfg.StandardSecrets))
	src := openFile(t, cfg)
	assert.Equal(t, vaultcfg.KindFile, src.Kind())
	assert.NoError(t, src.Check(ctx))
}

func TestFileCheck(t *testing.T) {
	ctx := context.Background()
	cfg := fileConfig(t)
	_, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	src := openFile(t, cfg)
	require.NoError(t, src.Check(ctx))

	require.NoError(t, os.Remove(cfg.KeyringPath))
	assert.ErrorIs(t, src.Check(ctx), vaultcfg.ErrNotFound)
}

package vaultcfg_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/vaultcfg"
)

// TestRealVault runs the vault source against a real Vault (for example
// `vault server -dev`, whose "secret" mount is KV v2) when VAULT_ADDR and
// VAULT_TOKEN are set. It only touches secret/sirm-test-<random>/..., and
// deletes those secrets' metadata (every version) at the end.
func TestRealVault(t *testing.T) {
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		t.Skip("VAULT_ADDR and VAULT_TOKEN not set: skipping the test against a real Vault")
	}
	ctx := context.Background()
	suffix := make([]byte, 6)
	_, err := rand.Read(suffix)
	require.NoError(t, err)
	kvPath := "sirm-test-" + hex.EncodeToString(suffix)

	conf := vault.DefaultConfig()
	conf.Address = addr
	admin, err := vault.NewClient(conf)
	require.NoError(t, err)
	admin.SetToken(token)
	t.Cleanup(func() {
		for _, name := range vaultcfg.StandardSecrets {
			err := admin.KVv2("secret").DeleteMetadata(context.Background(), kvPath+"/"+name)
			assert.NoError(t, err, "clean up %s/%s", kvPath, name)
		}
	})

	cfg := vaultcfg.Config{
		Kind:  vaultcfg.KindVault,
		Vault: vaultcfg.VaultConfig{Addr: addr, Token: token, KVPath: kvPath},
	}
	created, err := vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, vaultcfg.StandardSecrets, created)
	created, err = vaultcfg.Init(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, created, "Init is idempotent")

	src, err := vaultcfg.Open(ctx, cfg)
	require.NoError(t, err)
	defer src.Close()
	require.NoError(t, src.Check(ctx))

	v1, err := src.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, 1, v1.Version)
	assert.Len(t, v1.Material, 32)

	v2, err := src.Rotate(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, 2, v2.Version)
	assert.NotEqual(t, v1.Material, v2.Material)

	vs, err := src.Versions(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, vs)

	old, err := src.SecretVersion(ctx, vaultcfg.SecretToken, 1)
	require.NoError(t, err)
	assert.Equal(t, v1.Material, old.Material)
	newest, err := src.Secret(ctx, vaultcfg.SecretToken)
	require.NoError(t, err)
	assert.Equal(t, v2.Material, newest.Material)

	_, err = src.Secret(ctx, "missing")
	assert.ErrorIs(t, err, vaultcfg.ErrNotFound)
}

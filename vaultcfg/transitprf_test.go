package vaultcfg_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/vaultcfg"
	"github.com/toscana/sirm/vaultcfg/vaulttest"
)

// transitSource opens a VaultSource on srv with a transit key "linkage" of
// one version.
func transitSource(t *testing.T, srv *vaulttest.Server) *vaultcfg.VaultSource {
	t.Helper()
	srv.CreateTransitKey("transit", "linkage")
	src, err := vaultcfg.Open(context.Background(), vaultcfg.Config{
		Kind:  vaultcfg.KindVault,
		Env:   vaultcfg.EnvProduction,
		Vault: vaultcfg.VaultConfig{Addr: srv.URL, Token: srv.RootToken(), MaxRetries: -1},
	})
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	vs, ok := src.(*vaultcfg.VaultSource)
	require.True(t, ok, "Open(kind vault) returns a *VaultSource, got %T", src)
	return vs
}

func hmacAll(key []byte, inputs [][]byte) [][]byte {
	out := make([][]byte, len(inputs))
	for i, in := range inputs {
		h := hmac.New(sha256.New, key)
		h.Write(in)
		out[i] = h.Sum(nil)
	}
	return out
}

func TestTransitPRF(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	src := transitSource(t, srv)
	p, err := vaultcfg.NewTransitPRF(src.Transit("linkage"), 1)
	require.NoError(t, err)
	assert.Equal(t, "transit", p.Backend())
	assert.Equal(t, "transit:transit/linkage:v1", p.Fingerprint())

	inputs := [][]byte{[]byte("CF\x00RSSMRA10A01H501Z"), []byte("NDS\x00ROSSI|MARIO|2010-01-01|M"), {}, {0, 255}}
	v1 := srv.TransitKey("transit", "linkage", 1)
	require.Len(t, v1, 32)
	want := hmacAll(v1, inputs)

	got, err := p.Eval(ctx, inputs)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, 1, srv.Calls(vaulttest.EndpointTransitHMAC))

	t.Run("batches", func(t *testing.T) {
		before := srv.Calls(vaulttest.EndpointTransitHMAC)
		many := make([][]byte, 2500)
		for i := range many {
			many[i] = fmt.Appendf(nil, "NDS\x00PERSON%d|2010-01-01|F", i)
		}
		got, err := p.Eval(ctx, many)
		require.NoError(t, err)
		assert.Equal(t, hmacAll(v1, many), got)
		assert.Equal(t, 3, srv.Calls(vaulttest.EndpointTransitHMAC)-before, "1000 + 1000 + 500")
	})

	t.Run("exact-batch", func(t *testing.T) {
		before := srv.Calls(vaulttest.EndpointTransitHMAC)
		got, err := p.Eval(ctx, make([][]byte, vaultcfg.TransitBatchSize))
		require.NoError(t, err)
		assert.Len(t, got, vaultcfg.TransitBatchSize)
		assert.Equal(t, 1, srv.Calls(vaulttest.EndpointTransitHMAC)-before)
	})

	t.Run("empty", func(t *testing.T) {
		before := srv.Calls(vaulttest.EndpointTransitHMAC)
		got, err := p.Eval(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Equal(t, 0, srv.Calls(vaulttest.EndpointTransitHMAC)-before, "no request for no input")
	})

	t.Run("pinned-after-rotation", func(t *testing.T) {
		require.Equal(t, 2, srv.RotateTransitKey("transit", "linkage"))
		got, err := p.Eval(ctx, inputs)
		require.NoError(t, err)
		assert.Equal(t, want, got, "the pinned version still gives the old digests")

		p2, err := vaultcfg.NewTransitPRF(src.Transit("linkage"), 2)
		require.NoError(t, err)
		assert.Equal(t, "transit:transit/linkage:v2", p2.Fingerprint())
		got2, err := p2.Eval(ctx, inputs)
		require.NoError(t, err)
		assert.Equal(t, hmacAll(srv.TransitKey("transit", "linkage", 2), inputs), got2)
		assert.NotEqual(t, got[0], got2[0])
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		before := srv.Calls(vaulttest.EndpointTransitHMAC)
		got, err := p.Eval(cctx, inputs)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, got)
		assert.Equal(t, 0, srv.Calls(vaulttest.EndpointTransitHMAC)-before)
	})

	t.Run("down", func(t *testing.T) {
		srv.SetDown(true)
		defer srv.SetDown(false)
		got, err := p.Eval(ctx, inputs)
		assert.ErrorIs(t, err, vaultcfg.ErrUnavailable)
		assert.Nil(t, got)
	})

	t.Run("unknown-key", func(t *testing.T) {
		q, err := vaultcfg.NewTransitPRF(src.Transit("nope"), 1)
		require.NoError(t, err)
		assert.Equal(t, "transit:transit/nope:v1", q.Fingerprint())
		_, err = q.Eval(ctx, inputs)
		assert.ErrorContains(t, err, "encryption key not found")
	})
}

func TestNewTransitPRFErrors(t *testing.T) {
	srv := vaulttest.New(t)
	src := transitSource(t, srv)
	for _, v := range []int{0, -1} {
		_, err := vaultcfg.NewTransitPRF(src.Transit("linkage"), v)
		assert.ErrorContains(t, err, "pin a version", "version %d", v)
	}
	_, err := vaultcfg.NewTransitPRF(nil, 1)
	assert.Error(t, err)
}

package linkage_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/vaultcfg"
	"github.com/toscana/sirm/vaultcfg/vaulttest"
)

// Every backend has the method set of linkage.PRF; vaultcfg cannot import
// linkage, so its backend is checked here.
var (
	_ linkage.PRF = (*linkage.OPRF)(nil)
	_ linkage.PRF = (*vaultcfg.TransitPRF)(nil)
)

// hmacKey is the fixed key of the HMAC vectors: 32 bytes of 0x42.
var hmacKey = bytes.Repeat([]byte{0x42}, 32)

// Expected values computed independently with Python's hmac and hashlib:
//
//	hmac.new(b"\x42"*32, inp, hashlib.sha256).hexdigest()
//	"hmac:sha256:" + hashlib.sha256(b"sirm-prf-fingerprint\x00" + b"\x42"*32).hexdigest()[:16]
var hmacVectors = []struct {
	name  string
	input string
	want  string
}{
	{"empty", "", "58f0742d53a418d2df62182814f137600fd049ed179c20b311a62ea179895be7"},
	{"cf", "CF\x00RSSMRA80A01H501U", "98065a8d19b4c3d4f720224f7954d595a24556baef165ab790520e5fd4976ea6"},
	{"nds", "NDS\x00ROSSI|MARIO|1980-01-01|M", "c5a7b5dd95290a432172fbc7153e7d471e55464b695d897d22567b784879fbb9"},
}

const hmacFingerprint = "hmac:sha256:1549ed85958fba60"

func TestHMACVectors(t *testing.T) {
	p, err := linkage.NewHMAC(hmacKey)
	require.NoError(t, err)
	assert.Equal(t, linkage.BackendHMAC, p.Backend())
	assert.Equal(t, hmacFingerprint, p.Fingerprint())

	inputs := make([][]byte, len(hmacVectors))
	for i, v := range hmacVectors {
		inputs[i] = []byte(v.input)
	}
	digests, err := p.Eval(context.Background(), inputs)
	require.NoError(t, err)
	require.Len(t, digests, len(hmacVectors))
	for i, v := range hmacVectors {
		t.Run(v.name, func(t *testing.T) {
			assert.Len(t, digests[i], linkage.DigestSize)
			assert.Equal(t, v.want, hex.EncodeToString(digests[i]))
		})
	}
	// Digests share one allocation: an append to one must not overwrite the
	// next.
	_ = append(digests[0], 0xff)
	assert.Equal(t, hmacVectors[1].want, hex.EncodeToString(digests[1]))
}

func TestNewHMAC(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		_, err := linkage.NewHMAC(make([]byte, n))
		assert.Error(t, err, "key of %d bytes", n)
	}
	long, err := linkage.NewHMAC(make([]byte, 64))
	require.NoError(t, err)
	assert.NotEqual(t, hmacFingerprint, long.Fingerprint())

	key := bytes.Clone(hmacKey)
	p, err := linkage.NewHMAC(key)
	require.NoError(t, err)
	key[0] ^= 1
	got, err := p.Eval(context.Background(), [][]byte{{}})
	require.NoError(t, err)
	assert.Equal(t, hmacVectors[0].want, hex.EncodeToString(got[0]), "the key is copied")
	assert.Equal(t, hmacFingerprint, p.Fingerprint())
}

func TestHMACEval(t *testing.T) {
	p, err := linkage.NewHMAC(hmacKey)
	require.NoError(t, err)

	t.Run("empty", func(t *testing.T) {
		got, err := p.Eval(context.Background(), nil)
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, err := p.Eval(ctx, [][]byte{{1}})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, got)
	})
	t.Run("concurrent", func(t *testing.T) {
		inputs := make([][]byte, 3000)
		for i := range inputs {
			inputs[i] = fmt.Appendf(nil, "NDS\x00P%d", i)
		}
		want, err := p.Eval(context.Background(), inputs)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				got, err := p.Eval(context.Background(), inputs)
				if assert.NoError(t, err) {
					assert.Equal(t, want, got)
				}
			})
		}
		wg.Wait()
	})
}

func TestPRFDoesNotPrintKey(t *testing.T) {
	p, err := linkage.NewHMAC(hmacKey)
	require.NoError(t, err)
	keyHex := hex.EncodeToString(hmacKey)
	keyDec := fmt.Sprint(hmacKey)[1 : len(fmt.Sprint(hmacKey))-1] // "66 66 66 …"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for name, out := range map[string]string{
			"direct": fmt.Sprintf(verb, p),
			"nested": fmt.Sprintf(verb, struct{ p linkage.PRF }{p}),
		} {
			assert.NotContains(t, out, keyHex, "%s %s", name, verb)
			assert.NotContains(t, out, keyDec, "%s %s", name, verb)
			assert.NotContains(t, out, "BBBBBBBB", "%s %s", name, verb) // 0x42 is 'B'
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("prf", "prf", p)
	assert.Contains(t, buf.String(), hmacFingerprint)
	assert.NotContains(t, buf.String(), keyHex)
}

// TestTransitMatchesHMAC: Vault's transit hmac and the hmac backend with the
// same key give the same digests, so a deployment can move between them
// without breaking links (while keeping its fingerprint pin in mind).
func TestTransitMatchesHMAC(t *testing.T) {
	ctx := context.Background()
	srv := vaulttest.New(t)
	srv.CreateTransitKey("transit", "linkage")
	src, err := vaultcfg.Open(ctx, vaultcfg.Config{
		Kind:  vaultcfg.KindVault,
		Env:   vaultcfg.EnvProduction,
		Vault: vaultcfg.VaultConfig{Addr: srv.URL, Token: srv.RootToken(), MaxRetries: -1},
	})
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	vs, ok := src.(*vaultcfg.VaultSource)
	require.True(t, ok)

	transit, err := vaultcfg.NewTransitPRF(vs.Transit("linkage"), 1)
	require.NoError(t, err)
	var p linkage.PRF = transit
	assert.Equal(t, linkage.BackendTransit, p.Backend())
	local, err := linkage.NewHMAC(srv.TransitKey("transit", "linkage", 1))
	require.NoError(t, err)

	inputs := make([][]byte, 50)
	for i := range inputs {
		inputs[i] = fmt.Appendf(nil, "NDS\x00P%d|2010-01-01|M", i)
	}
	want, err := local.Eval(ctx, inputs)
	require.NoError(t, err)
	got, err := p.Eval(ctx, inputs)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	for i, d := range got {
		assert.Len(t, d, linkage.DigestSize, "digest %d", i)
	}
}

// benchInputs is a batch as one resolution pass sees it: 1000 identities ×
// 8 match keys.
func benchInputs() [][]byte {
	inputs := make([][]byte, 8000)
	for i := range inputs {
		inputs[i] = fmt.Appendf(nil, "K%d\x00SURNAME%06d|GIVEN NAMES|2010-01-%02d|F", i%8, i/8, 1+i%28)
	}
	return inputs
}

func benchmarkPRF(b *testing.B, p linkage.PRF) {
	ctx := context.Background()
	inputs := benchInputs()
	for b.Loop() {
		if _, err := p.Eval(ctx, inputs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(inputs))/b.Elapsed().Seconds(), "evals/s")
}

func BenchmarkOPRFEval(b *testing.B) {
	p, err := linkage.NewOPRF(bytes.Repeat([]byte{1}, linkage.OPRFSeedSize))
	require.NoError(b, err)
	benchmarkPRF(b, p)
}

func BenchmarkHMACEval(b *testing.B) {
	p, err := linkage.NewHMAC(hmacKey)
	require.NoError(b, err)
	benchmarkPRF(b, p)
}

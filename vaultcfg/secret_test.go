package vaultcfg_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/vaultcfg"
)

// seq returns the bytes 1, 2, ..., n.
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func TestFingerprint(t *testing.T) {
	// Expected values computed independently with Python's hashlib:
	// sha256(b"sirm-key-fingerprint\x00" + name + b"\x00" + version + b"\x00" + material).hexdigest()[:16]
	tests := []struct {
		name   string
		secret vaultcfg.Secret
		want   string
	}{
		{"token-v2", vaultcfg.Secret{Name: "token", Version: 2, Material: seq(32)}, "sha256:80b0573dc90d1d19"},
		{"token-v10", vaultcfg.Secret{Name: "token", Version: 10, Material: seq(32)}, "sha256:a6576cade15e99e1"},
		{"empty-material", vaultcfg.Secret{Name: "bloom", Version: 1}, "sha256:72088de25de17260"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.secret.Fingerprint())
			assert.Equal(t, tt.want, tt.secret.Fingerprint(), "stable across calls")
		})
	}
}

func TestFingerprintDiffers(t *testing.T) {
	base := vaultcfg.Secret{Name: "token", Version: 1, Material: seq(32)}
	otherMaterial := base
	otherMaterial.Material = append(seq(31), 0)
	tests := []struct {
		name  string
		other vaultcfg.Secret
	}{
		{"version", vaultcfg.Secret{Name: "token", Version: 2, Material: seq(32)}},
		{"name", vaultcfg.Secret{Name: "bloom", Version: 1, Material: seq(32)}},
		{"material", otherMaterial},
		// The separators keep ("token", 11) and ("token1", 1) apart.
		{"name-version-boundary", vaultcfg.Secret{Name: "token1", Version: 1, Material: seq(32)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NotEqual(t, base.Fingerprint(), tt.other.Fingerprint())
		})
	}
	assert.NotEqual(t,
		vaultcfg.Secret{Name: "token", Version: 11, Material: seq(32)}.Fingerprint(),
		vaultcfg.Secret{Name: "token1", Version: 1, Material: seq(32)}.Fingerprint())
}

// leaks reports which encodings of material appear in s.
func leaks(s string, material []byte) []string {
	var found []string
	encodings := map[string]string{
		"base64":     base64.StdEncoding.EncodeToString(material),
		"base64-raw": base64.RawStdEncoding.EncodeToString(material),
		"base64-url": base64.URLEncoding.EncodeToString(material),
		"hex":        hex.EncodeToString(material),
		"HEX":        strings.ToUpper(hex.EncodeToString(material)),
		"bytes":      fmt.Sprint([]byte(material)),
		"raw":        string(material),
	}
	for name, enc := range encodings {
		if strings.Contains(s, enc) {
			found = append(found, name)
		}
	}
	return found
}

func TestSecretNeverPrintsMaterial(t *testing.T) {
	material := []byte("0123456789abcdefghijklmnopqrstuv") // printable, so a raw leak shows too
	s := vaultcfg.Secret{Name: "linkage-prf", Version: 3, Material: material, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("loaded", "secret", s)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("loaded", "secret", s, "ptr", &s)
	js, err := json.Marshal(s)
	require.NoError(t, err)

	outputs := map[string]string{
		"v-plus-sharp": fmt.Sprintf("%v %+v %#v", s, s, s),
		"pointer":      fmt.Sprintf("%v %+v %#v", &s, &s, &s),
		"s-q-x":        fmt.Sprintf("%s %q %x %X", s, s, s, s),
		"in-struct":    fmt.Sprintf("%v %+v %#v", struct{ S vaultcfg.Secret }{s}, struct{ S vaultcfg.Secret }{s}, []vaultcfg.Secret{s}),
		"error":        fmt.Errorf("using %v", s).Error(),
		"slog":         logBuf.String(),
		"json":         string(js),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			assert.Empty(t, leaks(out, material), "output: %s", out)
			assert.Contains(t, out, s.Fingerprint())
			assert.Contains(t, out, "linkage-prf")
		})
	}
	assert.Equal(t, "linkage-prf v3 "+s.Fingerprint(), s.String())
}

func TestConfigStringMasksCredentials(t *testing.T) {
	cfg := vaultcfg.Config{
		Kind: vaultcfg.KindVault,
		Vault: vaultcfg.VaultConfig{
			Addr:     "https://vault.example:8200",
			Token:    "hvs.super-secret-token",
			Auth:     vaultcfg.AuthAppRole,
			RoleID:   "role-123",
			SecretID: "secret-id-456",
		},
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "cfg", cfg, "vault", cfg.Vault)
	outputs := map[string]string{
		"config":       fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		"vault-config": fmt.Sprintf("%v %+v %#v %s", cfg.Vault, cfg.Vault, cfg.Vault, cfg.Vault),
		"slog":         logBuf.String(),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			assert.NotContains(t, out, "hvs.super-secret-token")
			assert.NotContains(t, out, "secret-id-456")
			assert.Contains(t, out, "https://vault.example:8200")
			assert.Contains(t, out, "role-123")
			assert.Contains(t, out, "****")
		})
	}
}

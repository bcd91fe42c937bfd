// Package vaultcfg is where sirm's secrets come from: the keys that sign
// development JWTs, seed the linkage PRF, key the Bloom-filter encodings and
// derive tokens.
//
// Two sources implement Source. The vault source keeps each secret in a KV v2
// secret of HashiCorp Vault (one KV version per secret version), logs in with
// a token or AppRole and renews its token while it runs; it also gives access
// to Vault's transit engine for the linkage "transit" backend. The file source
// keeps the same secrets in a local JSON keyring with mode 0600, for
// development and demos; production refuses it unless explicitly allowed.
//
// This is the only package that imports the Vault client. It reads no
// environment variables itself apart from the VAULT_* defaults the Vault
// client reads (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, ...);
// everything else comes in through Config.
package vaultcfg

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// Standard secret names created by Init.
const (
	SecretJWTSigning = "jwt-signing" // 32-byte Ed25519 seed; signs development JWTs
	SecretLinkage    = "linkage-prf" // 32-byte seed of the linkage PRF (OPRF/HMAC)
	SecretBloom      = "bloom"       // 32-byte key of Bloom-filter encodings
	SecretToken      = "token"       // 32-byte token master key (versions = rotations)
)

// StandardSecrets lists the secrets Init creates, in the order it creates them.
var StandardSecrets = []string{SecretJWTSigning, SecretLinkage, SecretBloom, SecretToken}

// Source kinds and environments accepted in Config.
const (
	KindFile  = "file"
	KindVault = "vault"

	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// SecretSize is the size in bytes of the material Init and Rotate generate.
const SecretSize = 32

// ErrNotFound is returned when a secret, or the requested version of it, does
// not exist (or the file keyring itself does not exist). It is wrapped with
// the secret's name and the Vault path or keyring path.
var ErrNotFound = errors.New("secret not found")

// ErrUnavailable is returned when the source cannot be used right now: Vault
// cannot be reached, is sealed, the login failed or the token was refused.
// It is wrapped with the Vault address and the path that failed.
var ErrUnavailable = errors.New("secret source unavailable")

// ErrConflict is returned by Rotate when other writers kept adding versions
// of the same secret while it retried its check-and-set write.
var ErrConflict = errors.New("concurrent update of secret")

// ErrInsecureKeyring is returned by Open and Init when the keyring file grants
// any permission to group or others; it is wrapped with the path and mode.
var ErrInsecureKeyring = errors.New("keyring file is readable by group or others")

// ErrFileKeysInProduction is returned by Open and Init when production is
// configured with the file keyring without explicitly allowing it.
var ErrFileKeysInProduction = errors.New("production refuses the file keyring: set SIRM_KEYS=vault or SIRM_ALLOW_FILE_KEYS=1")

// Secret is one version of a named secret. Its String, GoString and Format
// methods, its slog value and its JSON encoding never show Material, so an
// accidental %v, log attribute or json.Marshal does not leak key material.
type Secret struct {
	Name      string
	Version   int
	Material  []byte
	CreatedAt time.Time
}

// Fingerprint identifies the secret's name, version and material without
// revealing the material: "sha256:" and the first 16 hex characters of
// SHA-256("sirm-key-fingerprint\x00" + name + "\x00" + version + "\x00" + material),
// with the version in decimal. Deployments record it to detect a silent key change.
func (s Secret) Fingerprint() string {
	h := sha256.New()
	io.WriteString(h, "sirm-key-fingerprint\x00")
	io.WriteString(h, s.Name)
	io.WriteString(h, "\x00")
	io.WriteString(h, strconv.Itoa(s.Version))
	io.WriteString(h, "\x00")
	h.Write(s.Material)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// String returns the name, version and fingerprint, never the material.
func (s Secret) String() string {
	return fmt.Sprintf("%s v%d %s", s.Name, s.Version, s.Fingerprint())
}

// GoString is like String, in Go syntax, with the material left out.
func (s Secret) GoString() string {
	return fmt.Sprintf("vaultcfg.Secret{Name:%q, Version:%d, Fingerprint:%q}", s.Name, s.Version, s.Fingerprint())
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %x,
// %q...) prints String or GoString and never the material.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s.GoString())
		return
	}
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer: name, version and fingerprint only.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.Int("version", s.Version),
		slog.String("fingerprint", s.Fingerprint()),
	)
}

// MarshalJSON encodes the name, version, fingerprint and creation time; the
// material is left out so that a secret cannot be sent by mistake.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name        string    `json:"name"`
		Version     int       `json:"version"`
		Fingerprint string    `json:"fingerprint"`
		CreatedAt   time.Time `json:"created_at"`
	}{s.Name, s.Version, s.Fingerprint(), s.CreatedAt})
}

// Source gives access to versioned secrets. Implementations are safe for
// concurrent use.
type Source interface {
	// Kind returns "file" or "vault".
	Kind() string
	// Secret returns the newest version of the named secret.
	// Errors: ErrNotFound, ErrUnavailable.
	Secret(ctx context.Context, name string) (Secret, error)
	// SecretVersion returns one version of the named secret.
	// Errors: ErrNotFound (no such secret or version), ErrUnavailable.
	SecretVersion(ctx context.Context, name string, version int) (Secret, error)
	// Versions lists the existing versions of the named secret, ascending.
	// Errors: ErrNotFound, ErrUnavailable.
	Versions(ctx context.Context, name string) ([]int, error)
	// Rotate adds a new random 32-byte version of an existing secret and
	// returns it; older versions stay readable.
	// Errors: ErrNotFound (the secret does not exist: run Init), ErrConflict,
	// ErrUnavailable.
	Rotate(ctx context.Context, name string) (Secret, error)
	// Check reports whether the source is usable now (for GET /status).
	// Errors: ErrUnavailable (vault), ErrNotFound or ErrInsecureKeyring (file).
	Check(ctx context.Context) error
	// Close stops token renewal. It is safe to call more than once.
	Close() error
}

// Config says which source to open and how. The zero value opens the file
// keyring at .data/keyring.json in development mode.
type Config struct {
	Kind          string // "file" (default) or "vault"
	Env           string // "development" (default) or "production"
	AllowFileKeys bool   // production may use the file keyring only with this
	KeyringPath   string // default ".data/keyring.json"
	Vault         VaultConfig
	Logger        *slog.Logger // may be nil
}

// VaultConfig configures the vault source. Empty fields take the defaults
// noted, or what the Vault client reads from VAULT_* variables (Addr, Token,
// Namespace).
type VaultConfig struct {
	Addr         string // VAULT_ADDR
	Token        string // VAULT_TOKEN (auth "token")
	Auth         string // "token" (default) or "approle"
	RoleID       string // AppRole role_id
	SecretID     string // AppRole secret_id
	AppRoleMount string // default "approle"
	KVMount      string // default "secret"
	KVPath       string // default "sirm": secret NAME lives at <KVMount>/data/<KVPath>/<NAME>
	TransitMount string // default "transit"
	Namespace    string // optional (Vault Enterprise / HCP)
	// MaxRetries is how often the client retries a request that failed with
	// a 5xx status or a connection error: 0 keeps the client's default (2, or
	// VAULT_MAX_RETRIES), a negative value disables retries.
	MaxRetries int
}

// Auth methods accepted in VaultConfig.Auth.
const (
	AuthToken   = "token"
	AuthAppRole = "approle"
)

func mask(s string) string {
	if s == "" {
		return `""`
	}
	return "****"
}

// String prints the configuration with the token and secret ID masked.
func (c VaultConfig) String() string {
	return fmt.Sprintf("VaultConfig{Addr:%q Token:%s Auth:%q RoleID:%q SecretID:%s AppRoleMount:%q KVMount:%q KVPath:%q TransitMount:%q Namespace:%q MaxRetries:%d}",
		c.Addr, mask(c.Token), c.Auth, c.RoleID, mask(c.SecretID), c.AppRoleMount, c.KVMount, c.KVPath, c.TransitMount, c.Namespace, c.MaxRetries)
}

// GoString is String, so that %#v masks the token and secret ID too.
func (c VaultConfig) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with the token and secret ID masked.
func (c VaultConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String prints the configuration with the Vault token and secret ID masked.
func (c Config) String() string {
	return fmt.Sprintf("Config{Kind:%q Env:%q AllowFileKeys:%t KeyringPath:%q Vault:%s}",
		c.Kind, c.Env, c.AllowFileKeys, c.KeyringPath, c.Vault.String())
}

// GoString is String, so that %#v masks the token and secret ID too.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with the token and secret ID masked.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// withDefaults fills the defaults in and validates the enumerations.
func (c Config) withDefaults() (Config, error) {
	if c.Kind == "" {
		c.Kind = KindFile
	}
	if c.Env == "" {
		c.Env = EnvDevelopment
	}
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		return c, fmt.Errorf("unknown environment %q (want %q or %q)", c.Env, EnvDevelopment, EnvProduction)
	}
	if c.KeyringPath == "" {
		c.KeyringPath = ".data/keyring.json"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	v := &c.Vault
	if v.Auth == "" {
		v.Auth = AuthToken
	}
	if v.AppRoleMount == "" {
		v.AppRoleMount = "approle"
	}
	if v.KVMount == "" {
		v.KVMount = "secret"
	}
	if v.KVPath == "" {
		v.KVPath = "sirm"
	}
	if v.TransitMount == "" {
		v.TransitMount = "transit"
	}
	switch c.Kind {
	case KindFile:
		if c.Env == EnvProduction && !c.AllowFileKeys {
			return c, ErrFileKeysInProduction
		}
	case KindVault:
		if v.Auth != AuthToken && v.Auth != AuthAppRole {
			return c, fmt.Errorf("unknown vault auth method %q (want %q or %q)", v.Auth, AuthToken, AuthAppRole)
		}
	default:
		return c, fmt.Errorf("unknown secret source kind %q (want %q or %q)", c.Kind, KindFile, KindVault)
	}
	return c, nil
}

// Open opens the configured source.
//
// Production with the file keyring is refused unless AllowFileKeys is set
// (ErrFileKeysInProduction); an unknown kind is an error naming it. The file
// keyring must exist (ErrNotFound wrapped with its path and the hint to run
// `sirm keys init`) and be private to its owner (ErrInsecureKeyring). For
// vault, Open logs in, checks that the KV path is readable (ErrUnavailable
// otherwise) and, when the token is renewable or was obtained by AppRole,
// keeps it alive in the background until Close.
func Open(ctx context.Context, cfg Config) (Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Kind == KindVault {
		return openVault(ctx, cfg, true)
	}
	return openFile(cfg)
}

// Init creates every missing secret of StandardSecrets (32 random bytes,
// version 1) and returns the names it created, in StandardSecrets order;
// secrets that already exist are left alone, so Init is idempotent.
//
// For file, Init creates the keyring (and its parent directory, mode 0700)
// with mode 0600 by writing a temporary file and renaming it; an existing
// keyring that grants group or other permissions is refused
// (ErrInsecureKeyring). For vault, each secret is written with cas=0, so of
// two concurrent Inits only one creates a given secret.
func Init(ctx context.Context, cfg Config) (created []string, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Kind == KindVault {
		s, err := openVault(ctx, cfg, false)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		return s.initSecrets(ctx)
	}
	return initFile(cfg)
}

// newMaterial returns SecretSize random bytes.
func newMaterial() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	return b, nil
}

// validName rejects names that could escape the KV path or the keyring's
// flat namespace.
func validName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("invalid secret name %q", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("invalid secret name %q: use a-z, 0-9, '-', '_', '.'", name)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("invalid secret name %q", name)
	}
	return nil
}

package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/toscana/sirm/vaultcfg"
)

// Config is every setting of sirm. Each comes from a flag, else from its
// environment variable, else from its default; only main reads them.
type Config struct {
	DatabaseURL   string
	Listen        string
	Env           string
	LogLevel      string
	MaxBodyBytes  int64
	RatePerSecond float64
	RateBurst     int64
	// OPRFDailyLimit bounds the blinded elements an organisation may have
	// evaluated per UTC day (blind mode).
	OPRFDailyLimit int64
	ShutdownGrace  time.Duration
	OIDCIssuer     string
	OIDCAudience   string
	Keys           vaultcfg.Config
	Linkage        LinkageConfig
	Report         ReportConfig
	SINBA          SINBAConfig
}

// settings binds flags to environment variables and remembers them for the
// help text.
type settings struct {
	fs   *flag.FlagSet
	docs []settingDoc
	errs []error
}

type settingDoc struct {
	flag, env, def, usage string
	secret                bool
}

func newSettings(name, summary string) *settings {
	s := &settings{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.fs.Usage = func() { s.usage(s.fs.Output(), name, summary) }
	return s
}

func (s *settings) usage(w io.Writer, name, summary string) {
	fmt.Fprintf(w, "Usage: sirm %s [flags]\n\n%s\n", name, summary)
	if len(s.docs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSettings (a flag overrides its environment variable):\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, d := range s.docs {
		def := d.def
		if d.secret {
			def = "(secret, not shown)"
		} else if def == "" {
			def = `""`
		}
		env := d.env
		if env == "" {
			env = "-"
		}
		fmt.Fprintf(tw, "  --%s\t%s\tdefault %s\t%s\n", d.flag, env, def, d.usage)
	}
	tw.Flush()
}

// value returns the environment's value of env, or def.
func (s *settings) value(env, def string) (string, bool) {
	if env != "" {
		if v, ok := os.LookupEnv(env); ok {
			return v, true
		}
	}
	return def, false
}

func (s *settings) str(p *string, name, env, def, usage string, secret bool) {
	s.docs = append(s.docs, settingDoc{name, env, def, usage, secret})
	v, _ := s.value(env, def)
	s.fs.StringVar(p, name, v, usage)
}

func (s *settings) boolean(p *bool, name, env string, def bool, usage string) {
	s.docs = append(s.docs, settingDoc{name, env, strconv.FormatBool(def), usage, false})
	v := def
	if raw, ok := s.value(env, ""); ok {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a boolean (use 1 or 0)", env, raw))
		}
		v = b
	}
	s.fs.BoolVar(p, name, v, usage)
}

func (s *settings) int64(p *int64, name, env string, def int64, usage string) {
	s.docs = append(s.docs, settingDoc{name, env, strconv.FormatInt(def, 10), usage, false})
	v := def
	if raw, ok := s.value(env, ""); ok {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not an integer", env, raw))
		}
		v = n
	}
	s.fs.Int64Var(p, name, v, usage)
}

func (s *settings) float(p *float64, name, env string, def float64, usage string) {
	s.docs = append(s.docs, settingDoc{name, env, strconv.FormatFloat(def, 'g', -1, 64), usage, false})
	v := def
	if raw, ok := s.value(env, ""); ok {
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a number", env, raw))
		}
		v = f
	}
	s.fs.Float64Var(p, name, v, usage)
}

func (s *settings) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	s.docs = append(s.docs, settingDoc{name, env, def.String(), usage, false})
	v := def
	if raw, ok := s.value(env, ""); ok {
		d, err := time.ParseDuration(raw)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a duration (e.g. 30s, 8h)", env, raw))
		}
		v = d
	}
	s.fs.DurationVar(p, name, v, usage)
}

func (s *settings) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", s.fs.Arg(0))
	}
	return nil
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/sirm?sslmode=disable"

func (s *settings) database(c *Config) {
	s.str(&c.DatabaseURL, "database-url", "SIRM_DATABASE_URL", defaultDatabaseURL, "PostgreSQL connection URL", false)
}

func (s *settings) environment(c *Config) {
	s.str(&c.Env, "env", "SIRM_ENV", "development", "development or production (production refuses the file keyring and development tokens)", false)
	s.str(&c.LogLevel, "log-level", "SIRM_LOG_LEVEL", "info", "debug, info, warn or error", false)
}

func (s *settings) keys(c *Config) {
	k := &c.Keys
	s.str(&k.Kind, "keys", "SIRM_KEYS", "file", "key source: file (local keyring) or vault", false)
	s.str(&k.KeyringPath, "keyring", "SIRM_KEYRING", ".data/keyring.json", "path of the file keyring (mode 0600)", false)
	s.boolean(&k.AllowFileKeys, "allow-file-keys", "SIRM_ALLOW_FILE_KEYS", false, "allow the file keyring in production")
	v := &k.Vault
	s.str(&v.Addr, "vault-addr", "VAULT_ADDR", "", "Vault address, e.g. https://vault.example:8200", false)
	s.str(&v.Auth, "vault-auth", "SIRM_VAULT_AUTH", "token", "Vault login: token or approle", false)
	s.str(&v.Token, "vault-token", "VAULT_TOKEN", "", "Vault token (auth token)", true)
	s.str(&v.RoleID, "vault-role-id", "SIRM_VAULT_ROLE_ID", "", "AppRole role_id (auth approle)", false)
	s.str(&v.SecretID, "vault-secret-id", "SIRM_VAULT_SECRET_ID", "", "AppRole secret_id (auth approle)", true)
	s.str(&v.AppRoleMount, "vault-approle-mount", "SIRM_VAULT_APPROLE_MOUNT", "approle", "mount of the AppRole auth method", false)
	s.str(&v.KVMount, "vault-kv-mount", "SIRM_VAULT_KV_MOUNT", "secret", "mount of the KV v2 engine holding sirm's keys", false)
	s.str(&v.KVPath, "vault-kv-path", "SIRM_VAULT_KV_PATH", "sirm", "path under the KV mount; each key is <path>/<name>", false)
	s.str(&v.TransitMount, "vault-transit-mount", "SIRM_VAULT_TRANSIT_MOUNT", "transit", "mount of the transit engine", false)
	s.str(&v.Namespace, "vault-namespace", "VAULT_NAMESPACE", "", "Vault Enterprise namespace", false)
}

func (s *settings) server(c *Config) {
	s.str(&c.Listen, "listen", "SIRM_LISTEN", "127.0.0.1:8080", "host:port to serve on", false)
	s.str(&c.OIDCIssuer, "oidc-issuer", "SIRM_OIDC_ISSUER", "", "OIDC issuer URL whose tokens are accepted; empty: development tokens signed by the keyring", false)
	s.str(&c.OIDCAudience, "oidc-audience", "SIRM_OIDC_AUDIENCE", "sirm", "audience (aud) the OIDC tokens must carry", false)
	s.int64(&c.MaxBodyBytes, "max-body-bytes", "SIRM_MAX_BODY_BYTES", 1<<20, "largest request body accepted (413 beyond)")
	s.float(&c.RatePerSecond, "rate-limit", "SIRM_RATE_LIMIT", 50, "requests per second allowed to each principal (429 beyond); 0 turns it off")
	s.int64(&c.RateBurst, "rate-burst", "SIRM_RATE_BURST", 100, "requests a principal may send at once before the rate limit applies")
	s.int64(&c.OPRFDailyLimit, "oprf-daily-limit", "SIRM_OPRF_DAILY_LIMIT", 250_000, "blinded elements each organisation may have evaluated per UTC day in blind mode (429 beyond)")
	s.duration(&c.ShutdownGrace, "shutdown-grace", "SIRM_SHUTDOWN_GRACE", 20*time.Second, "how long in-flight requests may run on after SIGTERM")
}

// logger builds the JSON logger of every command.
func (c *Config) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// redactURL hides the password of a database URL, for logs and messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (c *Config) production() bool { return strings.EqualFold(c.Env, "production") }

package vaultcfg

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// maxRotateAttempts bounds Rotate's check-and-set retries.
const maxRotateAttempts = 8

// minRenewWait keeps a token that is about to expire from being renewed in a
// tight loop.
const minRenewWait = 200 * time.Millisecond

// VaultSource is the Source backed by Vault's KV v2 engine: the secret NAME
// lives at <KVMount>/data/<KVPath>/<NAME> with data {"material": base64}, and
// its versions are the KV versions. It is safe for concurrent use.
type VaultSource struct {
	client *vault.Client
	kv     *vault.KVv2
	cfg    VaultConfig
	addr   string
	logger *slog.Logger

	// ctx is cancelled by Close and bounds the renewal goroutine's requests.
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the renewal goroutine returns
	closeMu sync.Once
}

var _ Source = (*VaultSource)(nil)

// tokenLease is what the source knows of its token's lifetime.
type tokenLease struct {
	ttl       time.Duration // 0: the token does not expire
	renewable bool
}

func openVault(ctx context.Context, cfg Config, renew bool) (*VaultSource, error) {
	vc := cfg.Vault
	conf := vault.DefaultConfig() // reads VAULT_ADDR, VAULT_CACERT, VAULT_MAX_RETRIES...
	if conf.Error != nil {
		return nil, fmt.Errorf("vault client configuration: %w", conf.Error)
	}
	if vc.Addr != "" {
		conf.Address = vc.Addr
	}
	switch {
	case vc.MaxRetries < 0:
		conf.MaxRetries = 0
	case vc.MaxRetries > 0:
		conf.MaxRetries = vc.MaxRetries
	}
	client, err := vault.NewClient(conf) // picks up VAULT_TOKEN and VAULT_NAMESPACE
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	if vc.Namespace != "" {
		client.SetNamespace(vc.Namespace)
	}
	s := &VaultSource{
		client: client,
		kv:     client.KVv2(vc.KVMount),
		cfg:    vc,
		addr:   client.Address(),
		logger: cfg.Logger.With(slog.String("source", KindVault), slog.String("vault_addr", client.Address())),
		done:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	lease, err := s.login(ctx)
	if err != nil {
		s.cancel()
		return nil, err
	}
	if err := s.checkKV(ctx); err != nil {
		s.cancel()
		return nil, err
	}
	s.logger.Info("vault source opened", slog.String("auth", vc.Auth), slog.String("kv", vc.KVMount+"/data/"+vc.KVPath),
		slog.Duration("token_ttl", lease.ttl), slog.Bool("token_renewable", lease.renewable))
	if renew && (vc.Auth == AuthAppRole && lease.ttl > 0 || lease.renewable && lease.ttl > 0) {
		go s.keepAlive(lease)
	} else {
		close(s.done)
	}
	return s, nil
}

// login authenticates and returns the token's lifetime. With token auth it
// looks the token up; with AppRole it logs in and installs the new token.
func (s *VaultSource) login(ctx context.Context) (tokenLease, error) {
	if s.cfg.Auth == AuthAppRole {
		path := "auth/" + s.cfg.AppRoleMount + "/login"
		if s.cfg.RoleID == "" || s.cfg.SecretID == "" {
			return tokenLease{}, fmt.Errorf("vault approle login: role ID and secret ID are required")
		}
		// Log in on a clone without a token, so that requests in flight on
		// the shared client keep the old token until the new one is set.
		lc, err := s.client.CloneWithHeaders()
		if err != nil {
			return tokenLease{}, fmt.Errorf("vault approle login: %w", err)
		}
		lc.ClearToken()
		sec, err := lc.Logical().WriteWithContext(ctx, path, map[string]any{
			"role_id":   s.cfg.RoleID,
			"secret_id": s.cfg.SecretID,
		})
		if err != nil {
			return tokenLease{}, s.unavailable(ctx, "log in", path, err)
		}
		if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
			return tokenLease{}, fmt.Errorf("log in at vault %s %s: %w: no token in the response", s.addr, path, ErrUnavailable)
		}
		s.client.SetToken(sec.Auth.ClientToken)
		return tokenLease{ttl: time.Duration(sec.Auth.LeaseDuration) * time.Second, renewable: sec.Auth.Renewable}, nil
	}
	if s.cfg.Token != "" {
		s.client.SetToken(s.cfg.Token)
	}
	if s.client.Token() == "" {
		return tokenLease{}, fmt.Errorf("vault %s: no token: set VAULT_TOKEN or use AppRole", s.addr)
	}
	return s.lookupSelf(ctx)
}

func (s *VaultSource) lookupSelf(ctx context.Context) (tokenLease, error) {
	const path = "auth/token/lookup-self"
	sec, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return tokenLease{}, s.unavailable(ctx, "look up token", path, err)
	}
	if sec == nil {
		return tokenLease{}, fmt.Errorf("look up token at vault %s %s: %w: empty response", s.addr, path, ErrUnavailable)
	}
	ttl, err := sec.TokenTTL()
	if err != nil {
		return tokenLease{}, fmt.Errorf("look up token at vault %s %s: %w", s.addr, path, err)
	}
	renewable, err := sec.TokenIsRenewable()
	if err != nil {
		return tokenLease{}, fmt.Errorf("look up token at vault %s %s: %w", s.addr, path, err)
	}
	return tokenLease{ttl: ttl, renewable: renewable}, nil
}

// checkKV reads the metadata of the first standard secret: 200 and 404 both
// prove the KV path is readable (Vault answers 403 before it looks for the
// secret), and reading metadata moves no key material.
func (s *VaultSource) checkKV(ctx context.Context) error {
	_, err := s.kv.GetMetadata(ctx, s.secretPath(StandardSecrets[0]))
	if err == nil || errors.Is(err, vault.ErrSecretNotFound) {
		return nil
	}
	return s.translate(ctx, "read metadata", s.metadataPath(StandardSecrets[0]), err)
}

// keepAlive renews the token at two thirds of its remaining lifetime. When
// renewal fails, is not possible or stops extending the token (its max TTL is
// near), an AppRole source logs in again; a token source retries until the
// token expires. It logs renewals and failures, never the token.
func (s *VaultSource) keepAlive(lease tokenLease) {
	defer close(s.done)
	granted := lease.ttl // lifetime of the last fresh token
	expires := time.Now().Add(lease.ttl)
	wait := lease.ttl * 2 / 3
	for {
		timer := time.NewTimer(max(wait, minRenewWait))
		select {
		case <-s.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}

		if lease.renewable {
			sec, err := s.client.Auth().Token().RenewSelfWithContext(s.ctx, 0)
			if s.ctx.Err() != nil {
				return
			}
			if err == nil && (sec == nil || sec.Auth == nil) {
				err = errors.New("empty renewal response")
			}
			if err == nil {
				ttl := time.Duration(sec.Auth.LeaseDuration) * time.Second
				s.logger.Info("vault token renewed", slog.Duration("ttl", ttl), slog.Bool("renewable", sec.Auth.Renewable))
				if ttl > 0 {
					lease = tokenLease{ttl: ttl, renewable: sec.Auth.Renewable}
					expires = time.Now().Add(ttl)
					wait = ttl * 2 / 3
					if s.cfg.Auth == AuthAppRole && ttl < granted/2 {
						// The token is near its max TTL: log in again at
						// the next tick instead of renewing a dying token.
						lease.renewable = false
					}
					if lease.renewable || s.cfg.Auth == AuthAppRole {
						continue
					}
					s.logger.Warn("vault token is no longer renewable; it will expire", slog.Duration("ttl", ttl))
					return
				}
				err = errors.New("renewal granted no further lifetime (max TTL reached)")
			}
			s.logger.Warn("vault token renewal failed", slog.String("error", compact(err).Error()))
		}

		if s.cfg.Auth == AuthAppRole {
			l, err := s.login(s.ctx)
			if s.ctx.Err() != nil {
				return
			}
			if err == nil && l.ttl > 0 {
				lease, granted, expires, wait = l, l.ttl, time.Now().Add(l.ttl), l.ttl*2/3
				s.logger.Info("vault token replaced by a new approle login", slog.Duration("ttl", l.ttl), slog.Bool("renewable", l.renewable))
				continue
			}
			if err == nil {
				s.logger.Info("vault approle login issued a token that does not expire")
				return
			}
			s.logger.Warn("vault approle login failed", slog.String("error", err.Error()))
		}

		remaining := time.Until(expires)
		if remaining <= 0 {
			if s.cfg.Auth == AuthAppRole {
				// A new login does not depend on the old token: keep trying.
				wait = 5 * time.Second
				continue
			}
			s.logger.Error("vault token expired; secrets stay unavailable until sirm restarts with a new token")
			return
		}
		wait = remaining / 3
	}
}

// Kind returns "vault".
func (s *VaultSource) Kind() string { return KindVault }

// Close stops the token renewal and waits for it to end.
func (s *VaultSource) Close() error {
	s.closeMu.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}

// Check looks the token up and reads the KV path.
func (s *VaultSource) Check(ctx context.Context) error {
	if _, err := s.lookupSelf(ctx); err != nil {
		return err
	}
	return s.checkKV(ctx)
}

func (s *VaultSource) secretPath(name string) string { return s.cfg.KVPath + "/" + name }

func (s *VaultSource) dataPath(name string) string {
	return s.cfg.KVMount + "/data/" + s.secretPath(name)
}

func (s *VaultSource) metadataPath(name string) string {
	return s.cfg.KVMount + "/metadata/" + s.secretPath(name)
}

// Secret returns the newest version of name; if that version was deleted it
// returns the newest one still readable.
func (s *VaultSource) Secret(ctx context.Context, name string) (Secret, error) {
	if err := validName(name); err != nil {
		return Secret{}, err
	}
	kvs, err := s.kv.Get(ctx, s.secretPath(name))
	if err != nil {
		return Secret{}, s.translate(ctx, "read secret", s.dataPath(name), err)
	}
	if kvs.Data == nil {
		vs, err := s.Versions(ctx, name)
		if err != nil {
			return Secret{}, err
		}
		return s.SecretVersion(ctx, name, vs[len(vs)-1])
	}
	return s.toSecret(name, kvs)
}

// SecretVersion reads ?version=N of name.
func (s *VaultSource) SecretVersion(ctx context.Context, name string, version int) (Secret, error) {
	if err := validName(name); err != nil {
		return Secret{}, err
	}
	if version < 1 {
		return Secret{}, fmt.Errorf("read secret %s version %d: %w", s.dataPath(name), version, ErrNotFound)
	}
	kvs, err := s.kv.GetVersion(ctx, s.secretPath(name), version)
	if err != nil {
		return Secret{}, s.translate(ctx, fmt.Sprintf("read secret version %d", version), s.dataPath(name), err)
	}
	if kvs.Data == nil {
		return Secret{}, fmt.Errorf("read secret %s version %d (deleted or destroyed): %w", s.dataPath(name), version, ErrNotFound)
	}
	return s.toSecret(name, kvs)
}

func (s *VaultSource) toSecret(name string, kvs *vault.KVSecret) (Secret, error) {
	if kvs.VersionMetadata == nil {
		return Secret{}, fmt.Errorf("read secret %s: no version metadata in the response", s.dataPath(name))
	}
	v := kvs.VersionMetadata.Version
	raw, ok := kvs.Data["material"].(string)
	if !ok {
		return Secret{}, fmt.Errorf("read secret %s version %d: no string field \"material\"", s.dataPath(name), v)
	}
	m, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(m) == 0 {
		// err quotes a byte offset only, never the input, but there is
		// nothing it adds: say what is wrong.
		return Secret{}, fmt.Errorf("read secret %s version %d: field \"material\" is not non-empty base64", s.dataPath(name), v)
	}
	return Secret{Name: name, Version: v, Material: m, CreatedAt: kvs.VersionMetadata.CreatedTime}, nil
}

// Versions lists the versions of name that are neither deleted nor destroyed.
func (s *VaultSource) Versions(ctx context.Context, name string) ([]int, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	md, err := s.kv.GetMetadata(ctx, s.secretPath(name))
	if err != nil {
		return nil, s.translate(ctx, "read metadata", s.metadataPath(name), err)
	}
	now := time.Now()
	var vs []int
	for k, v := range md.Versions {
		if v.Destroyed || !v.DeletionTime.IsZero() && !v.DeletionTime.After(now) {
			continue
		}
		n := v.Version
		if n == 0 {
			n, _ = strconv.Atoi(k)
		}
		vs = append(vs, n)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("read metadata %s: every version is deleted or destroyed: %w", s.metadataPath(name), ErrNotFound)
	}
	slices.Sort(vs)
	return vs, nil
}

// Rotate writes a new random version of name with cas = its current version,
// retrying when another writer got in first.
func (s *VaultSource) Rotate(ctx context.Context, name string) (Secret, error) {
	if err := validName(name); err != nil {
		return Secret{}, err
	}
	for range maxRotateAttempts {
		md, err := s.kv.GetMetadata(ctx, s.secretPath(name))
		if err != nil {
			err = s.translate(ctx, "read metadata", s.metadataPath(name), err)
			if errors.Is(err, ErrNotFound) {
				return Secret{}, fmt.Errorf("rotate: %w (run `sirm keys init`)", err)
			}
			return Secret{}, err
		}
		sec, err := s.put(ctx, name, md.CurrentVersion)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Secret{}, err
		}
		s.logger.Info("secret rotated", slog.Any("secret", sec))
		return sec, nil
	}
	return Secret{}, fmt.Errorf("rotate secret %s: %d check-and-set attempts failed: %w", s.dataPath(name), maxRotateAttempts, ErrConflict)
}

// put writes a new random version of name with check-and-set cas.
func (s *VaultSource) put(ctx context.Context, name string, cas int) (Secret, error) {
	m, err := newMaterial()
	if err != nil {
		return Secret{}, err
	}
	kvs, err := s.kv.Put(ctx, s.secretPath(name),
		map[string]any{"material": base64.StdEncoding.EncodeToString(m)},
		vault.WithCheckAndSet(cas))
	if err != nil {
		return Secret{}, s.translate(ctx, fmt.Sprintf("write secret (cas=%d)", cas), s.dataPath(name), err)
	}
	if kvs.VersionMetadata == nil {
		return Secret{}, fmt.Errorf("write secret %s: no version in the response", s.dataPath(name))
	}
	return Secret{Name: name, Version: kvs.VersionMetadata.Version, Material: m, CreatedAt: kvs.VersionMetadata.CreatedTime}, nil
}

// initSecrets creates the missing standard secrets with cas=0.
func (s *VaultSource) initSecrets(ctx context.Context) ([]string, error) {
	var created []string
	for _, name := range StandardSecrets {
		_, err := s.put(ctx, name, 0)
		if errors.Is(err, ErrConflict) {
			continue // exists already, perhaps created by a concurrent Init
		}
		if err != nil {
			return created, err
		}
		created = append(created, name)
	}
	if len(created) > 0 {
		s.logger.Info("vault secrets initialised", slog.String("path", s.cfg.KVMount+"/data/"+s.cfg.KVPath), slog.Any("created", created))
	}
	return created, nil
}

// Transit returns a handle on the transit key named key, under the
// configured TransitMount.
func (s *VaultSource) Transit(key string) *Transit {
	return &Transit{s: s, mount: s.cfg.TransitMount, key: key}
}

// Transit computes HMACs with a key of Vault's transit engine, which never
// leaves Vault. It is safe for concurrent use.
type Transit struct {
	s     *VaultSource
	mount string
	key   string
}

type transitBatchItem struct {
	HMAC  string `json:"hmac"`
	Error string `json:"error"`
}

// HMAC computes HMAC-SHA256 of every input with version keyVersion of the
// transit key in one request (POST <mount>/hmac/<key>/sha2-256 with
// batch_input and key_version) and returns the raw MACs in input order. A
// failed item fails the call with its index; a MAC made with another key
// version than the one pinned is an error too.
func (t *Transit) HMAC(ctx context.Context, keyVersion int, inputs [][]byte) ([][]byte, error) {
	if keyVersion < 1 {
		return nil, fmt.Errorf("transit hmac with key %s: key version %d: pin a version >= 1", t.key, keyVersion)
	}
	if len(inputs) == 0 {
		return [][]byte{}, nil
	}
	path := t.mount + "/hmac/" + t.key + "/sha2-256"
	batch := make([]map[string]string, len(inputs))
	for i, in := range inputs {
		batch[i] = map[string]string{"input": base64.StdEncoding.EncodeToString(in)}
	}
	body, err := json.Marshal(map[string]any{"batch_input": batch, "key_version": keyVersion})
	if err != nil {
		return nil, fmt.Errorf("transit hmac: %w", err)
	}
	// Not Logical().WriteRawWithContext: it cancels its context before
	// returning, so reading a large response body fails with "context
	// canceled" (hashicorp/vault#31986). RawRequestWithContext is what the
	// read paths use for the same reason (hashicorp/vault#18708).
	req := t.s.client.NewRequest(http.MethodPut, "/v1/"+path)
	req.BodyBytes = body
	resp, reqErr := t.s.client.RawRequestWithContext(ctx, req) //nolint:staticcheck // SA1019: see above
	if resp != nil {
		defer resp.Body.Close()
	}
	var out struct {
		Data struct {
			BatchResults []transitBatchItem `json:"batch_results"`
		} `json:"data"`
	}
	if reqErr != nil {
		// A batch with failed items comes back as 400 with the per-item
		// errors in the body: report the first with its index.
		if resp != nil && resp.StatusCode == http.StatusBadRequest && resp.DecodeJSON(&out) == nil {
			for i, r := range out.Data.BatchResults {
				if r.Error != "" {
					return nil, fmt.Errorf("transit hmac %s: input %d: %s", path, i, r.Error)
				}
			}
		}
		return nil, t.s.translate(ctx, "transit hmac", path, reqErr)
	}
	if err := resp.DecodeJSON(&out); err != nil {
		return nil, fmt.Errorf("transit hmac %s: decode response: %w", path, err)
	}
	res := out.Data.BatchResults
	if len(res) != len(inputs) {
		return nil, fmt.Errorf("transit hmac %s: %d results for %d inputs", path, len(res), len(inputs))
	}
	prefix := "vault:v" + strconv.Itoa(keyVersion) + ":"
	macs := make([][]byte, len(res))
	for i, r := range res {
		if r.Error != "" {
			return nil, fmt.Errorf("transit hmac %s: input %d: %s", path, i, r.Error)
		}
		enc, ok := strings.CutPrefix(r.HMAC, prefix)
		if !ok {
			return nil, fmt.Errorf("transit hmac %s: input %d: result is not of the form %s<base64>", path, i, prefix)
		}
		mac, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("transit hmac %s: input %d: result is not base64", path, i)
		}
		macs[i] = mac
	}
	return macs, nil
}

// translate maps a Vault client error to this package's errors: a missing
// secret to ErrNotFound, a refused, failed or unreachable request to
// ErrUnavailable, a check-and-set mismatch to ErrConflict.
func (s *VaultSource) translate(ctx context.Context, op, path string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", op, path, ctxErr)
	}
	if errors.Is(err, vault.ErrSecretNotFound) {
		return fmt.Errorf("%s %s: %w", op, path, ErrNotFound)
	}
	var re *vault.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s %s: %w", op, path, ErrNotFound)
		case re.StatusCode == http.StatusBadRequest && isCASMismatch(re.Errors):
			return fmt.Errorf("%s %s: %w", op, path, ErrConflict)
		case re.StatusCode == http.StatusBadRequest:
			return fmt.Errorf("%s %s at vault %s: %w", op, path, s.addr, compact(err))
		}
	}
	return s.unavailable(ctx, op, path, err)
}

// unavailable wraps err with ErrUnavailable, the address and the path.
func (s *VaultSource) unavailable(ctx context.Context, op, path string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s at vault %s %s: %w", op, s.addr, path, ctxErr)
	}
	return fmt.Errorf("%s at vault %s %s: %w: %w", op, s.addr, path, ErrUnavailable, compact(err))
}

func isCASMismatch(errs []string) bool {
	for _, e := range errs {
		if strings.Contains(e, "check-and-set") {
			return true
		}
	}
	return false
}

// responseError is a one-line form of the Vault client's multi-line
// ResponseError; it unwraps to the original.
type responseError struct{ err *vault.ResponseError }

func (e responseError) Error() string {
	msg := strings.Join(e.err.Errors, "; ")
	if e.err.RawError {
		msg = "unparsable response"
	}
	if msg == "" {
		msg = http.StatusText(e.err.StatusCode)
	}
	return fmt.Sprintf("HTTP %d: %s", e.err.StatusCode, msg)
}

func (e responseError) Unwrap() error { return e.err }

func compact(err error) error {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return responseError{re}
	}
	return err
}

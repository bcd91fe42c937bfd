// Package vaulttest runs an in-process fake of the subset of Vault's HTTP API
// that sirm uses, so that tests can drive the official Vault client without a
// Vault server: KV v2 (read with ?version, write with check-and-set, soft
// delete, metadata read and delete), AppRole login, token lookup-self and
// renew-self with expiring tokens, and transit hmac with versioned keys.
//
// It is written from Vault's API documentation and answers with the same
// JSON shapes and status codes: 403 {"errors":["permission denied"]} for a
// missing, unknown or expired token, 404 for a missing secret, 400 for a
// check-and-set mismatch. Tests can read the number of calls per endpoint,
// the transit keys, and inject failures with SetDown or SetIntercept.
package vaulttest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names for Calls.
const (
	EndpointLogin          = "approle-login"   // POST auth/<mount>/login
	EndpointLookupSelf     = "lookup-self"     // GET auth/token/lookup-self
	EndpointRenewSelf      = "renew-self"      // POST auth/token/renew-self
	EndpointKVRead         = "kv-read"         // GET <mount>/data/<path>
	EndpointKVWrite        = "kv-write"        // POST/PUT <mount>/data/<path>
	EndpointKVDelete       = "kv-delete"       // DELETE <mount>/data/<path>
	EndpointKVMetadata     = "kv-metadata"     // GET <mount>/metadata/<path>
	EndpointKVMetadataDrop = "kv-metadata-del" // DELETE <mount>/metadata/<path>
	EndpointTransitHMAC    = "transit-hmac"    // POST <mount>/hmac/<key>[/<algorithm>]
	EndpointOther          = "other"           // anything else (answered 404)
)

// CASMismatch is the error text Vault's KV v2 engine answers a write whose
// cas option differs from the secret's current version.
const CASMismatch = "check-and-set parameter did not match the current version"

// TokenSpec describes a token the fake accepts or issues.
type TokenSpec struct {
	ID        string        // empty: a random ID
	TTL       time.Duration // 0: never expires (like a root token)
	MaxTTL    time.Duration // 0: renewals are not capped
	Renewable bool
	Policies  []string
	// DenyPrefixes lists API paths (without /v1/) this token gets 403 on.
	DenyPrefixes []string
}

type token struct {
	spec    TokenSpec
	issued  time.Time
	expires time.Time // zero: never
}

type kvVersion struct {
	data      map[string]any
	created   time.Time
	deleted   time.Time
	destroyed bool
}

type kvSecret struct {
	created  time.Time
	updated  time.Time
	current  int
	versions map[int]*kvVersion
}

type appRole struct {
	secretID string
	token    TokenSpec
}

// Server is the fake Vault. Its methods are safe for concurrent use.
type Server struct {
	// URL is the address to give the client (VAULT_ADDR).
	URL string

	srv *httptest.Server

	mu             sync.Mutex
	kvMounts       []string
	transitMounts  []string
	appRoleMounts  []string
	maxVersions    int
	tokens         map[string]*token
	root           string
	roles          map[string]appRole // role_id → secret_id and token spec
	kv             map[string]*kvSecret
	transit        map[string][][]byte // "<mount>/<key>" → versions (index v-1)
	calls          map[string]int
	down           bool
	intercept      func(w http.ResponseWriter, r *http.Request) bool
	requestsLogged []string
	now            func() time.Time
}

// Option configures New.
type Option func(*Server)

// WithKVMount adds a KV v2 mount (default: "secret" when none is given).
func WithKVMount(mount string) Option {
	return func(s *Server) { s.kvMounts = append(s.kvMounts, mount) }
}

// WithTransitMount adds a transit mount (default: "transit").
func WithTransitMount(mount string) Option {
	return func(s *Server) { s.transitMounts = append(s.transitMounts, mount) }
}

// WithAppRoleMount adds an AppRole auth mount (default: "approle").
func WithAppRoleMount(mount string) Option {
	return func(s *Server) { s.appRoleMounts = append(s.appRoleMounts, mount) }
}

// WithKVMaxVersions makes KV writes prune the oldest versions beyond n, as
// Vault's max_versions does (Vault's default is 10; the fake's is 0: keep all).
func WithKVMaxVersions(n int) Option {
	return func(s *Server) { s.maxVersions = n }
}

// WithClock replaces time.Now for token lifetimes and KV timestamps, so
// tests can expire tokens without waiting.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// New starts a fake Vault with one root token (RootToken) and closes it when
// the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		tokens:  map[string]*token{},
		roles:   map[string]appRole{},
		kv:      map[string]*kvSecret{},
		transit: map[string][][]byte{},
		calls:   map[string]int{},
		now:     time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if len(s.kvMounts) == 0 {
		s.kvMounts = []string{"secret"}
	}
	if len(s.transitMounts) == 0 {
		s.transitMounts = []string{"transit"}
	}
	if len(s.appRoleMounts) == 0 {
		s.appRoleMounts = []string{"approle"}
	}
	s.root = s.AddToken(TokenSpec{Policies: []string{"root"}})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	tb.Cleanup(s.Close)
	return s
}

// Close shuts the server down; later requests fail to connect.
func (s *Server) Close() { s.srv.Close() }

// RootToken returns the ID of a token that never expires and may do anything.
func (s *Server) RootToken() string { return s.root }

// AddToken registers a token and returns its ID.
func (s *Server) AddToken(spec TokenSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTokenLocked(spec)
}

func (s *Server) addTokenLocked(spec TokenSpec) string {
	if spec.ID == "" {
		spec.ID = "hvs." + randomHex(12)
	}
	now := s.now()
	t := &token{spec: spec, issued: now}
	if spec.TTL > 0 {
		t.expires = now.Add(spec.TTL)
	}
	s.tokens[spec.ID] = t
	return spec.ID
}

// RevokeToken makes a token unknown.
func (s *Server) RevokeToken(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, id)
}

// TokenTTL returns the remaining lifetime of a token (0 if it never
// expires) and whether the token is known and unexpired.
func (s *Server) TokenTTL(id string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.validTokenLocked(id)
	if !ok {
		return 0, false
	}
	if t.expires.IsZero() {
		return 0, true
	}
	return t.expires.Sub(s.now()), true
}

// Tokens returns the IDs of every known unexpired token, including those
// issued by AppRole logins.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.tokens {
		if _, ok := s.validTokenLocked(id); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// AddAppRole lets a login with roleID and secretID obtain a token made from spec.
func (s *Server) AddAppRole(roleID, secretID string, spec TokenSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleID] = appRole{secretID: secretID, token: spec}
}

// PutKV writes a new version of the KV v2 secret at mount/path (path
// relative to the mount, e.g. "sirm/token") without checks and returns the
// version.
func (s *Server) PutKV(mount, path string, data map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putKVLocked(mount+"/"+path, data)
}

// DeleteKVVersion soft-deletes one version, as DELETE <mount>/data/<path> does for the newest.
func (s *Server) DeleteKVVersion(mount, path string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.kv[mount+"/"+path]; sec != nil && sec.versions[version] != nil {
		sec.versions[version].deleted = s.now()
	}
}

// DestroyKVVersion destroys one version: its data is gone for good.
func (s *Server) DestroyKVVersion(mount, path string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.kv[mount+"/"+path]; sec != nil && sec.versions[version] != nil {
		sec.versions[version].destroyed = true
		sec.versions[version].data = nil
	}
}

// KV returns the data of one version of mount/path (0: the current one) and
// whether it exists and is readable.
func (s *Server) KV(mount, path string, version int) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.kv[mount+"/"+path]
	if sec == nil {
		return nil, false
	}
	if version == 0 {
		version = sec.current
	}
	v := sec.versions[version]
	if v == nil || v.destroyed || !v.deleted.IsZero() {
		return nil, false
	}
	return maps.Clone(v.data), true
}

// KVVersions returns the version numbers stored for mount/path, ascending,
// deleted and destroyed ones included.
func (s *Server) KVVersions(mount, path string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.kv[mount+"/"+path]
	if sec == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(sec.versions))
}

// CreateTransitKey creates the transit key mount/name with one random
// version, if it does not exist.
func (s *Server) CreateTransitKey(mount, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.transit[mount+"/"+name]) == 0 {
		s.transit[mount+"/"+name] = [][]byte{randomBytes(32)}
	}
}

// RotateTransitKey adds a random version to the transit key mount/name
// (creating it if needed) and returns the new version.
func (s *Server) RotateTransitKey(mount, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := mount + "/" + name
	s.transit[k] = append(s.transit[k], randomBytes(32))
	return len(s.transit[k])
}

// TransitKey returns a copy of version v of the transit key mount/name, so a
// test can compute the expected HMAC independently; nil if there is none.
func (s *Server) TransitKey(mount, name string, v int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.transit[mount+"/"+name]
	if v < 1 || v > len(vs) {
		return nil
	}
	return slices.Clone(vs[v-1])
}

// Calls returns how many requests reached endpoint (an Endpoint constant),
// counting those refused for a bad token or failed by SetDown.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// SetDown makes every request fail with 503 {"errors":["Vault is sealed"]}
// while down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetIntercept installs f, called for every request before the fake handles
// it (and without the fake's lock held, so f may call the Server's methods).
// If f returns true it has written the response and the fake does nothing
// more. nil removes it.
func (s *Server) SetIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = f
}

// Requests returns "METHOD /v1/path" of every request so far, in order.
// Bodies and headers, where tokens and secret IDs travel, are not recorded.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requestsLogged)
}

// --- HTTP ---

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound)
		return
	}
	endpoint, handle := s.route(r.Method, p)

	s.mu.Lock()
	s.calls[endpoint]++
	s.requestsLogged = append(s.requestsLogged, r.Method+" "+r.URL.Path)
	down, intercept := s.down, s.intercept
	s.mu.Unlock()

	if intercept != nil && intercept(w, r) {
		return
	}
	if down {
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if handle == nil {
		writeErrors(w, http.StatusNotFound, "no handler for route \""+p+"\"")
		return
	}
	if endpoint != EndpointLogin {
		s.mu.Lock()
		t, ok := s.validTokenLocked(r.Header.Get("X-Vault-Token"))
		denied := ok && slices.ContainsFunc(t.spec.DenyPrefixes, func(pre string) bool { return strings.HasPrefix(p, pre) })
		s.mu.Unlock()
		if !ok || denied {
			writeErrors(w, http.StatusForbidden, "permission denied")
			return
		}
	}
	var body map[string]any
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil && err.Error() != "EOF" {
			writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	handle(w, r, body)
}

type handler func(w http.ResponseWriter, r *http.Request, body map[string]any)

// route maps a method and path (without /v1/) to an endpoint and handler;
// the handler is nil for an unknown route.
func (s *Server) route(method, p string) (string, handler) {
	write := method == http.MethodPost || method == http.MethodPut
	switch {
	case p == "auth/token/lookup-self" && method == http.MethodGet:
		return EndpointLookupSelf, s.lookupSelf
	case p == "auth/token/renew-self" && write:
		return EndpointRenewSelf, s.renewSelf
	}
	for _, m := range s.appRoleMounts {
		if p == "auth/"+m+"/login" && write {
			return EndpointLogin, s.appRoleLogin
		}
	}
	for _, m := range s.kvMounts {
		if rest, ok := strings.CutPrefix(p, m+"/data/"); ok && rest != "" {
			key := m + "/" + rest
			switch {
			case method == http.MethodGet:
				return EndpointKVRead, func(w http.ResponseWriter, r *http.Request, _ map[string]any) { s.kvRead(w, r, key) }
			case write:
				return EndpointKVWrite, func(w http.ResponseWriter, _ *http.Request, body map[string]any) { s.kvWrite(w, key, body) }
			case method == http.MethodDelete:
				return EndpointKVDelete, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) { s.kvDelete(w, key) }
			}
		}
		if rest, ok := strings.CutPrefix(p, m+"/metadata/"); ok && rest != "" {
			key := m + "/" + rest
			switch method {
			case http.MethodGet:
				return EndpointKVMetadata, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) { s.kvMetadata(w, key) }
			case http.MethodDelete:
				return EndpointKVMetadataDrop, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) { s.kvMetadataDelete(w, key) }
			}
		}
	}
	for _, m := range s.transitMounts {
		if rest, ok := strings.CutPrefix(p, m+"/hmac/"); ok && write {
			name, algo, _ := strings.Cut(rest, "/")
			return EndpointTransitHMAC, func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
				s.transitHMAC(w, m, name, algo, body)
			}
		}
	}
	return EndpointOther, nil
}

// validTokenLocked returns the token if it is known and unexpired.
func (s *Server) validTokenLocked(id string) (*token, bool) {
	if id == "" {
		return nil, false
	}
	t := s.tokens[id]
	if t == nil {
		return nil, false
	}
	if !t.expires.IsZero() && !s.now().Before(t.expires) {
		delete(s.tokens, id)
		return nil, false
	}
	return t, true
}

func (s *Server) lookupSelf(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	s.mu.Lock()
	t, ok := s.validTokenLocked(r.Header.Get("X-Vault-Token"))
	if !ok {
		s.mu.Unlock()
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	ttl := 0
	var expire any
	if !t.expires.IsZero() {
		ttl = int(t.expires.Sub(s.now()).Round(time.Second) / time.Second)
		expire = t.expires.UTC().Format(time.RFC3339Nano)
	}
	data := map[string]any{
		"accessor":         "acc-" + hashHex(t.spec.ID)[:12],
		"creation_time":    t.issued.Unix(),
		"creation_ttl":     int(t.spec.TTL / time.Second),
		"display_name":     "token",
		"entity_id":        "",
		"expire_time":      expire,
		"explicit_max_ttl": int(t.spec.MaxTTL / time.Second),
		"id":               t.spec.ID,
		"issue_time":       t.issued.UTC().Format(time.RFC3339Nano),
		"meta":             nil,
		"num_uses":         0,
		"orphan":           true,
		"path":             "auth/token/create",
		"policies":         policies(t.spec),
		"renewable":        t.spec.Renewable,
		"ttl":              ttl,
		"type":             "service",
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, envelope(data, nil))
}

func (s *Server) renewSelf(w http.ResponseWriter, r *http.Request, body map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.validTokenLocked(r.Header.Get("X-Vault-Token"))
	if !ok {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	if !t.spec.Renewable {
		writeErrors(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	if t.expires.IsZero() {
		writeJSON(w, http.StatusOK, envelope(nil, authBlock(t.spec, 0)))
		return
	}
	inc := t.spec.TTL
	if d, ok := parseDuration(body["increment"]); ok && d > 0 {
		inc = d
	}
	now := s.now()
	exp := now.Add(inc)
	if t.spec.MaxTTL > 0 && exp.After(t.issued.Add(t.spec.MaxTTL)) {
		exp = t.issued.Add(t.spec.MaxTTL)
	}
	t.expires = exp
	writeJSON(w, http.StatusOK, envelope(nil, authBlock(t.spec, exp.Sub(now))))
}

func (s *Server) appRoleLogin(w http.ResponseWriter, _ *http.Request, body map[string]any) {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	role, ok := s.roles[roleID]
	if roleID == "" {
		writeErrors(w, http.StatusBadRequest, "missing role_id")
		return
	}
	if !ok || role.secretID != secretID {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	spec := role.token
	spec.ID = ""
	id := s.addTokenLocked(spec)
	spec.ID = id
	writeJSON(w, http.StatusOK, envelope(nil, authBlock(spec, spec.TTL)))
}

func authBlock(spec TokenSpec, ttl time.Duration) map[string]any {
	return map[string]any{
		"client_token":   spec.ID,
		"accessor":       "acc-" + hashHex(spec.ID)[:12],
		"policies":       policies(spec),
		"token_policies": policies(spec),
		"metadata":       map[string]any{},
		"lease_duration": int(ttl.Round(time.Second) / time.Second),
		"renewable":      spec.Renewable,
		"entity_id":      "",
		"token_type":     "service",
		"orphan":         true,
	}
}

func policies(spec TokenSpec) []string {
	if len(spec.Policies) == 0 {
		return []string{"default"}
	}
	return spec.Policies
}

// --- KV v2 ---

func (s *Server) putKVLocked(key string, data map[string]any) int {
	now := s.now()
	sec := s.kv[key]
	if sec == nil {
		sec = &kvSecret{created: now, versions: map[int]*kvVersion{}}
		s.kv[key] = sec
	}
	sec.current++
	sec.updated = now
	sec.versions[sec.current] = &kvVersion{data: maps.Clone(data), created: now}
	if s.maxVersions > 0 {
		for len(sec.versions) > s.maxVersions {
			delete(sec.versions, slices.Min(slices.Collect(maps.Keys(sec.versions))))
		}
	}
	return sec.current
}

func (s *Server) kvRead(w http.ResponseWriter, r *http.Request, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.kv[key]
	if sec == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	version := sec.current
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 {
			writeErrors(w, http.StatusBadRequest, "invalid version")
			return
		}
		version = n
	}
	v := sec.versions[version]
	if v == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	meta := versionMetadata(version, v)
	if v.destroyed || !v.deleted.IsZero() {
		// Vault answers 404 but still shows the version's metadata.
		writeJSON(w, http.StatusNotFound, envelope(map[string]any{"data": nil, "metadata": meta}, nil))
		return
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{"data": v.data, "metadata": meta}, nil))
}

func (s *Server) kvWrite(w http.ResponseWriter, key string, body map[string]any) {
	data, ok := body["data"].(map[string]any)
	if !ok {
		writeErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	current := 0
	if sec := s.kv[key]; sec != nil {
		current = sec.current
	}
	if opts, ok := body["options"].(map[string]any); ok {
		if raw, ok := opts["cas"]; ok {
			cas, err := strconv.Atoi(fmt.Sprint(raw))
			if err != nil {
				writeErrors(w, http.StatusBadRequest, "invalid cas parameter")
				return
			}
			if cas != current {
				writeErrors(w, http.StatusBadRequest, CASMismatch)
				return
			}
		}
	}
	version := s.putKVLocked(key, data)
	writeJSON(w, http.StatusOK, envelope(versionMetadata(version, s.kv[key].versions[version]), nil))
}

func (s *Server) kvDelete(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.kv[key]; sec != nil {
		if v := sec.versions[sec.current]; v != nil && v.deleted.IsZero() {
			v.deleted = s.now()
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) kvMetadata(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.kv[key]
	if sec == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	versions := map[string]any{}
	oldest := 0
	for n, v := range sec.versions {
		m := versionMetadata(n, v)
		delete(m, "version")
		delete(m, "custom_metadata")
		versions[strconv.Itoa(n)] = m
		if oldest == 0 || n < oldest {
			oldest = n
		}
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{
		"cas_required":         false,
		"created_time":         sec.created.UTC().Format(time.RFC3339Nano),
		"current_version":      sec.current,
		"custom_metadata":      nil,
		"delete_version_after": "0s",
		"max_versions":         s.maxVersions,
		"oldest_version":       oldest,
		"updated_time":         sec.updated.UTC().Format(time.RFC3339Nano),
		"versions":             versions,
	}, nil))
}

func (s *Server) kvMetadataDelete(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv, key)
	w.WriteHeader(http.StatusNoContent)
}

func versionMetadata(n int, v *kvVersion) map[string]any {
	deletion := ""
	if !v.deleted.IsZero() {
		deletion = v.deleted.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"created_time":    v.created.UTC().Format(time.RFC3339Nano),
		"custom_metadata": nil,
		"deletion_time":   deletion,
		"destroyed":       v.destroyed,
		"version":         n,
	}
}

// --- transit ---

func (s *Server) transitHMAC(w http.ResponseWriter, mount, name, algo string, body map[string]any) {
	if algo == "" {
		if a, ok := body["algorithm"].(string); ok {
			algo = a
		} else {
			algo = "sha2-256"
		}
	}
	if algo != "sha2-256" {
		writeErrors(w, http.StatusBadRequest, "unsupported algorithm "+algo)
		return
	}
	s.mu.Lock()
	versions := slices.Clone(s.transit[mount+"/"+name])
	s.mu.Unlock()
	if len(versions) == 0 {
		writeErrors(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	ver := len(versions)
	if raw, ok := body["key_version"]; ok {
		n, err := strconv.Atoi(fmt.Sprint(raw))
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "invalid key_version")
			return
		}
		if n > len(versions) {
			writeErrors(w, http.StatusBadRequest, "cannot generate HMAC: version is too high")
			return
		}
		if n > 0 {
			ver = n
		}
	}
	key := versions[ver-1]
	mac := func(input any) (string, string) {
		in, ok := input.(string)
		if !ok {
			return "", "missing input to process"
		}
		raw, err := base64.StdEncoding.DecodeString(in)
		if err != nil {
			return "", "unable to decode input as base64: " + err.Error()
		}
		h := hmac.New(sha256.New, key)
		h.Write(raw)
		return "vault:v" + strconv.Itoa(ver) + ":" + base64.StdEncoding.EncodeToString(h.Sum(nil)), ""
	}

	batch, isBatch := body["batch_input"].([]any)
	if !isBatch {
		out, errMsg := mac(body["input"])
		if errMsg != "" {
			writeErrors(w, http.StatusBadRequest, errMsg)
			return
		}
		writeJSON(w, http.StatusOK, envelope(map[string]any{"hmac": out}, nil))
		return
	}
	results := make([]map[string]any, len(batch))
	failed := 0
	for i, item := range batch {
		m, _ := item.(map[string]any)
		out, errMsg := mac(m["input"])
		res := map[string]any{}
		if ref, ok := m["reference"]; ok {
			res["reference"] = ref
		}
		if errMsg != "" {
			failed++
			res["error"] = errMsg
		} else {
			res["hmac"] = out
		}
		results[i] = res
	}
	status := http.StatusOK
	if failed > 0 {
		// As Vault: a batch with failed items is a 400 unless
		// partial_failure_response_code asks otherwise and some succeeded.
		status = http.StatusBadRequest
		if code, err := strconv.Atoi(fmt.Sprint(body["partial_failure_response_code"])); err == nil && code > 0 && failed < len(batch) {
			status = code
		}
	}
	writeJSON(w, status, envelope(map[string]any{"batch_results": results}, nil))
}

// --- helpers ---

func envelope(data, auth map[string]any) map[string]any {
	var d, a any
	if data != nil {
		d = data
	}
	if auth != nil {
		a = auth
	}
	return map[string]any{
		"request_id":     randomHex(8),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           d,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           a,
	}
}

func writeErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// parseDuration reads Vault's duration parameters: seconds as a number or a
// numeric string, or a Go duration string such as "1h".
func parseDuration(v any) (time.Duration, bool) {
	if v == nil {
		return 0, false
	}
	str := fmt.Sprint(v)
	if n, err := strconv.Atoi(str); err == nil {
		return time.Duration(n) * time.Second, true
	}
	d, err := time.ParseDuration(str)
	return d, err == nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

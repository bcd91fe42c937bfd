package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/activitypg"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
	"github.com/toscana/sirm/report"
	"github.com/toscana/sirm/report/reportpg"
)

// logSink collects every log line of every server this package's tests
// build; TestMain scans it for JWTs and key material once they are done.
type logSink struct {
	mu         sync.Mutex
	buf        bytes.Buffer
	secrets    [][]byte
	identities []string
}

// addIdentity registers identity values the logs must never hold.
func (l *logSink) addIdentity(vs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.identities = append(l.identities, vs...)
}

// httptestResponse is a recorded response with its body.
type httptestResponse struct {
	code int
	body []byte
	w    *httptest.ResponseRecorder
}

func (r *httptestResponse) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) addSecret(s []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, s)
}

var sink = &logSink{}

// jwtPattern matches a compact JWS: base64url header and payload of JSON.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`)

// leaks reports every JWT or secret found in logs.
func leaks(logs []byte, secrets [][]byte) []string {
	var found []string
	for _, m := range jwtPattern.FindAll(logs, -1) {
		found = append(found, "a JWT: "+string(m[:20])+"…")
	}
	for _, s := range secrets {
		for _, enc := range encodings(s) {
			if bytes.Contains(logs, []byte(enc)) {
				found = append(found, "key material")
			}
		}
	}
	return found
}

func TestMain(m *testing.M) {
	code := m.Run()
	sink.mu.Lock()
	found := leaks(sink.buf.Bytes(), sink.secrets)
	for _, id := range sink.identities {
		if bytes.Contains(bytes.ToUpper(sink.buf.Bytes()), []byte(strings.ToUpper(id))) {
			found = append(found, "an identity value")
		}
	}
	sink.mu.Unlock()
	if len(found) > 0 {
		fmt.Fprintf(os.Stderr, "log scan: the logs of this test run contain %s\n", strings.Join(found, "; "))
		code = 1
	}
	os.Exit(code)
}

// testPRF is the PRF backend of the next newTestEnv: HMAC, fast, for
// tests; benchmarks set OPRF.
var testPRF = linkage.BackendHMAC

// testBloomKey, when set, turns fuzzy matching on in the next newTestEnv.
var testBloomKey []byte

type testEnv struct {
	prf   linkage.PRF
	db    *pgdb.DB
	srv   *Server
	key   ed25519.PrivateKey
	store *auditpg.Store
	// clock is the registry's clock: the real time until a test sets it.
	clock *testClock
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the time set, or the real time when none is.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

// Set sets the time Now returns.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newTestEnv builds a server on a fresh database, with a development
// signing key of its own and its logs going to sink.
func newTestEnv(t testing.TB, mod ...func(*Options)) *testEnv {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sink.addSecret(key.Seed())
	db := pgtest.DB(t)
	store := auditpg.New(db)
	prfKey := bytes.Repeat([]byte{7}, 32)
	var prf linkage.PRF
	if testPRF == linkage.BackendOPRF {
		prf, err = linkage.NewOPRF(prfKey)
	} else {
		prf, err = linkage.NewHMAC(prfKey)
	}
	require.NoError(t, err)
	master := bytes.Repeat([]byte{9}, 32)
	sink.addSecret(prfKey)
	sink.addSecret(master)
	lk, err := linkage.NewService(linkage.Config{
		Store: linkagepg.New(db), Tx: db, PRF: prf,
		TokenMasters: map[int][]byte{1: master},
		Policy:       linkage.Policy{MaxAgeYears: 21},
		BloomKey:     testBloomKey,
	})
	require.NoError(t, err)
	clock := &testClock{}
	acts := activitypg.New(db)
	reg, err := registry.NewService(registry.Config{Store: registrypg.New(db), Tx: db, Now: clock.Now, Occupancy: acts})
	require.NoError(t, err)
	act, err := activity.NewService(activity.Config{Store: acts, Tx: db, Persons: lk, Facilities: activity.RegistryFacilities(reg),
		Zone: activity.RegistryZones(reg), Now: clock.Now})
	require.NoError(t, err)
	reps := reportpg.New(db, reportpg.Options{})
	cat, err := report.NewCatalogue(reps.Definitions()...)
	require.NoError(t, err)
	opts := Options{
		Registry:  reg,
		Activity:  act,
		Reports:   cat,
		Microdata: reps,
		Logger:    slog.New(slog.NewJSONHandler(sink, nil)),
		Audit:     audit.NewService(store),
		Linkage:   lk,
		Verifier:  authn.NewDevVerifier(pub),
		Checks:    map[string]Checker{"database": CheckFunc(func(context.Context) error { return nil })},
	}
	for _, f := range mod {
		f(&opts)
	}
	return &testEnv{srv: New(opts), key: key, store: store, db: db, prf: prf, clock: clock}
}

func (e *testEnv) token(t testing.TB, role authn.Role, org string) string {
	t.Helper()
	tok, err := authn.Mint(e.key, authn.MintOptions{Principal: authn.Principal{Subject: "t-" + string(role), Role: role, Org: org}, TTL: time.Hour})
	require.NoError(t, err)
	return tok
}

// do sends one request through the whole handler.
func (e *testEnv) do(t *testing.T, method, target, token string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return w
}

// requireProblem checks w is a problem+json document with status and
// returns it.
func requireProblem(t *testing.T, w *httptest.ResponseRecorder, status int) Problem {
	t.Helper()
	require.Equal(t, status, w.Code, "body: %s", w.Body.String())
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	var p Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	assert.Equal(t, status, p.Status)
	assert.True(t, strings.HasPrefix(p.Type, problemTypeBase), p.Type)
	assert.NotEmpty(t, p.Title)
	assert.Equal(t, w.Header().Get("X-Request-ID"), p.RequestID)
	return p
}

func fieldsOf(p Problem) []string {
	var fs []string
	for _, f := range p.Errors {
		fs = append(fs, f.Field)
	}
	return fs
}

func TestLeakScanner(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_ = pub
	tok, err := authn.Mint(key, authn.MintOptions{Principal: authn.Principal{Subject: "s", Role: authn.RoleAdmin, Org: "R"}})
	require.NoError(t, err)
	assert.Empty(t, leaks([]byte(`{"msg":"request","route":"/v1/audit/events"}`), [][]byte{secret}))
	assert.NotEmpty(t, leaks([]byte(`{"auth":"Bearer `+tok+`"}`), nil))
	for _, enc := range encodings(secret) {
		assert.NotEmpty(t, leaks([]byte(`{"k":"`+enc+`"}`), [][]byte{secret}), enc)
	}
}

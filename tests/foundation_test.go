package tests

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

func requireProblem(t *testing.T, r response, status int) problem {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	var p problem
	r.json(t, &p)
	assert.Equal(t, status, p.Status)
	assert.NotEmpty(t, p.Type)
	assert.Equal(t, r.header.Get("X-Request-ID"), p.RequestID)
	return p
}

type auditEvent struct {
	Seq       int64  `json:"seq"`
	Role      string `json:"role"`
	Org       string `json:"org"`
	Action    string `json:"action"`
	Outcome   string `json:"outcome"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id"`
}

type verification struct {
	OK        bool   `json:"ok"`
	Events    int64  `json:"events"`
	BrokenSeq int64  `json:"broken_seq"`
	Reason    string `json:"reason"`
}

// TestAuditLogScenario is the foundation issue's acceptance, end to end:
// 401 without a token, 403 for a facility, 200 for an auditor with the 403
// in the log; a row changed behind the trigger's back is named by both the
// API and `sirm audit verify`; SIGTERM stops the server cleanly.
func TestAuditLogScenario(t *testing.T) {
	in := newInstance(t)
	ready := in.start()
	t.Logf("serve answered /status 200 after %s", ready)

	r := in.get("/status", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(r.body))

	requireProblem(t, in.get("/v1/audit/events", ""), http.StatusUnauthorized)

	facility := in.devToken("facility_operator", "ASSO-000001")
	denied := in.get("/v1/audit/events", facility)
	requireProblem(t, denied, http.StatusForbidden)
	deniedID := denied.header.Get("X-Request-ID")

	auditor := in.devToken("auditor", "REGIONE")
	r = in.get("/v1/audit/events", auditor)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var page struct {
		Events []auditEvent `json:"events"`
	}
	r.json(t, &page)
	var found bool
	for _, e := range page.Events {
		if e.RequestID == deniedID {
			found = true
			assert.Equal(t, "denied", e.Outcome)
			assert.Equal(t, "facility_operator", e.Role)
			assert.Equal(t, "ASSO-000001", e.Org)
			assert.Equal(t, "audit.events.list", e.Action)
		}
	}
	assert.True(t, found, "the 403 (request %s) is not among the events: %s", deniedID, r.body)

	var v verification
	r = in.get("/v1/audit/verify", auditor)
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &v)
	assert.True(t, v.OK, "%+v", v)
	assert.EqualValues(t, 2, v.Events) // the denial and the auditor's read

	out, _, code := in.run(in.env(), "audit", "verify")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "intact")

	// An administrator with superuser rights edits event 1 behind the
	// trigger's back.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE audit.events SET actor = 'someone-else' WHERE seq = 1`)
	require.Error(t, err, "the trigger let an UPDATE through")
	_, err = conn.Exec(ctx, `ALTER TABLE audit.events DISABLE TRIGGER USER;
		UPDATE audit.events SET actor = 'someone-else' WHERE seq = 1;
		ALTER TABLE audit.events ENABLE TRIGGER USER`)
	require.NoError(t, err)

	r = in.get("/v1/audit/verify", auditor)
	require.Equal(t, http.StatusOK, r.status)
	v = verification{}
	r.json(t, &v)
	assert.False(t, v.OK)
	assert.EqualValues(t, 1, v.BrokenSeq)

	out, _, code = in.run(in.env(), "audit", "verify")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "BROKEN at event 1")
	out, _, code = in.run(in.env(), "audit", "verify", "--json")
	assert.Equal(t, 1, code)
	assert.JSONEq(t, `{"ok":false,"events":1,"broken_seq":1,"reason":"hash does not match the event's contents"}`, out)

	require.NoError(t, in.stop(), "sirm serve did not exit 0 on SIGTERM")
}

func TestBadInputEndToEnd(t *testing.T) {
	in := newInstance(t)
	in.start()
	auditor := in.devToken("auditor", "REGIONE")
	before := in.get("/v1/audit/verify", auditor)
	var v0 verification
	before.json(t, &v0)

	big := strings.NewReader(`{"x":"` + strings.Repeat("a", 2<<20) + `"}`)
	tests := []struct {
		name, method, path, ctype string
		body                      string
		status                    int
	}{
		{"methodNotAllowed", http.MethodPost, "/v1/audit/events", "application/json", `{}`, 405},
		{"malformedQuery", http.MethodGet, "/v1/audit/events?limit=-1&from=x", "", "", 400},
		{"unknownParameter", http.MethodGet, "/v1/audit/events?surname=ROSSI", "", "", 400},
		{"notFound", http.MethodGet, "/v1/nothing", "", "", 404},
		{"wrongContentType", http.MethodPost, "/v1/audit/events", "text/xml", `<a/>`, 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := in.do(tc.method, tc.path, auditor, tc.ctype, strings.NewReader(tc.body))
			requireProblem(t, r, tc.status)
		})
	}
	r := in.do(http.MethodPost, "/v1/audit/events", auditor, "application/json", big)
	requireProblem(t, r, http.StatusRequestEntityTooLarge)

	// The failed requests wrote nothing but their own audit events.
	var v1 verification
	in.get("/v1/audit/verify", auditor).json(t, &v1)
	assert.True(t, v1.OK)
}

func TestCommandLine(t *testing.T) {
	in := newInstance(t)

	_, help, code := in.run(in.env(), "serve", "--help")
	assert.Equal(t, 0, code)
	for _, want := range []string{"SIRM_DATABASE_URL", "SIRM_LISTEN", "127.0.0.1:8080", "SIRM_KEYS", "SIRM_KEYRING",
		".data/keyring.json", "SIRM_ENV", "SIRM_ALLOW_FILE_KEYS", "SIRM_OIDC_ISSUER", "VAULT_ADDR", "VAULT_TOKEN"} {
		assert.Contains(t, help, want)
	}

	out := in.sirm("dev-token", "--role", "auditor", "--org", "REGIONE", "--ttl", "5m")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 1, "dev-token must print the JWT alone: %q", out)
	assert.Regexp(t, `^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`, lines[0])

	_, errOut, code := in.run(in.env(), "dev-token", "--role", "superuser", "--org", "X")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "superuser")

	show := in.sirm("keys", "show")
	for _, name := range []string{"jwt-signing", "linkage-prf", "bloom", "token"} {
		assert.Contains(t, show, name)
	}
	assert.Contains(t, show, "sha256:")
	assert.NotContains(t, show, `"material"`)

	_, errOut, code = in.run(in.env("SIRM_ENV=production"), "keys", "show")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "SIRM_ALLOW_FILE_KEYS")
	_, _, code = in.run(in.env("SIRM_ENV=production", "SIRM_ALLOW_FILE_KEYS=1"), "keys", "show")
	assert.Equal(t, 0, code)

	_, errOut, code = in.run(in.env("SIRM_ENV=production", "SIRM_ALLOW_FILE_KEYS=1"), "serve")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "SIRM_OIDC_ISSUER")

	// pgtest has migrated the database already: migrate again changes nothing.
	assert.Contains(t, in.sirm("migrate"), "up to date")

	_, _, code = in.run(in.env(), "frobnicate")
	assert.Equal(t, 2, code)
	_, errOut, code = in.run(in.env("SIRM_LISTEN=127.0.0.1:1", "SIRM_RATE_LIMIT=fast"), "serve")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "SIRM_RATE_LIMIT")
}

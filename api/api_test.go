package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
)

var paramPattern = regexp.MustCompile(`:([A-Za-z_]+)`)

// wantGrants is DESIGN.md's role table written out once more, by hand: the
// policy must agree with it, so a change to either is a deliberate change
// to both.
var wantGrants = map[Action][]authn.Role{
	ActionAuditList:   {authn.RoleAuditor},
	ActionAuditVerify: {authn.RoleAuditor},

	ActionTokensResolve: {authn.RoleServiceOperator, authn.RoleFacilityOperator},
	ActionTokensLookup:  {authn.RoleServiceOperator, authn.RoleFacilityOperator},
	ActionTokensRead:    {authn.RoleServiceOperator, authn.RoleFacilityOperator},

	ActionReviewsList:   {authn.RoleDataSteward},
	ActionReviewsDecide: {authn.RoleDataSteward},
	ActionMergesUndo:    {authn.RoleDataSteward},

	ActionOPRFPublicKey: {authn.RoleServiceOperator, authn.RoleFacilityOperator},
	ActionOPRFEvaluate:  {authn.RoleServiceOperator, authn.RoleFacilityOperator},

	ActionFacilitiesList:    {authn.RoleServiceOperator, authn.RoleFacilityOperator, authn.RoleRegionAnalyst, authn.RoleAdmin},
	ActionFacilitiesRead:    {authn.RoleServiceOperator, authn.RoleFacilityOperator, authn.RoleRegionAnalyst, authn.RoleAdmin},
	ActionFacilitiesHistory: {authn.RoleServiceOperator, authn.RoleFacilityOperator, authn.RoleRegionAnalyst, authn.RoleAdmin},
	ActionRegistryCodeLists: {authn.RoleServiceOperator, authn.RoleFacilityOperator, authn.RoleRegionAnalyst, authn.RoleAdmin},
	ActionFacilitiesCreate:  {authn.RoleFacilityOperator, authn.RoleAdmin},
	ActionFacilitiesUpdate:  {authn.RoleFacilityOperator, authn.RoleAdmin},
	ActionFacilitiesSubmit:  {authn.RoleFacilityOperator, authn.RoleAdmin},
	ActionFacilitiesReturn:  {authn.RoleAdmin},
	ActionFacilitiesApprove: {authn.RoleAdmin},
	ActionFacilitiesSuspend: {authn.RoleAdmin},
	ActionFacilitiesReopen:  {authn.RoleAdmin},
	ActionFacilitiesClose:   {authn.RoleAdmin},

	ActionCasesCreate:         {authn.RoleServiceOperator},
	ActionCasesList:           {authn.RoleServiceOperator},
	ActionCasesRead:           {authn.RoleServiceOperator},
	ActionCasesUpdate:         {authn.RoleServiceOperator},
	ActionCasesTransfer:       {authn.RoleServiceOperator},
	ActionCasesAccept:         {authn.RoleServiceOperator},
	ActionCasesClose:          {authn.RoleServiceOperator},
	ActionFlowsSubmit:         {authn.RoleServiceOperator},
	ActionEventsList:          {authn.RoleServiceOperator},
	ActionAdmissionsCreate:    {authn.RoleFacilityOperator},
	ActionAdmissionsList:      {authn.RoleFacilityOperator},
	ActionAdmissionsRead:      {authn.RoleFacilityOperator},
	ActionAdmissionsDischarge: {authn.RoleFacilityOperator},
	ActionAdmissionsActivity:  {authn.RoleFacilityOperator},
	ActionMinorsRead:          {authn.RoleServiceOperator, authn.RoleFacilityOperator},
	ActionActivityCodeLists:   {authn.RoleServiceOperator, authn.RoleFacilityOperator},
	ActionConflictsList:       {authn.RoleDataSteward},
	ActionReportsList:         {authn.RoleServiceOperator, authn.RoleRegionAnalyst},
	ActionReportsRead:         {authn.RoleServiceOperator, authn.RoleRegionAnalyst},
	ActionExportsSINBA:        {authn.RoleServiceOperator, authn.RoleRegionAnalyst},
	ActionExportsMicrodata:    {authn.RoleRegionAnalyst},
}

// TestPolicyCoversEveryRoute walks every registered route with a token of
// every role and compares the outcome with the policy table, so that a new
// route without a policy entry, or a handler that bypasses it, fails here.
func TestPolicyCoversEveryRoute(t *testing.T) {
	env := newTestEnv(t)
	used := map[Action]bool{}
	for _, r := range env.srv.engine.Routes() {
		info, ok := env.srv.routes[routeKey{r.Method, r.Path}]
		require.True(t, ok, "route %s %s was not registered through handle or handlePublic", r.Method, r.Path)
		target := paramPattern.ReplaceAllString(r.Path, "x")
		if info.action == "" {
			w := env.do(t, r.Method, target, "", nil)
			assert.NotContains(t, []int{401, 403}, w.Code, "public route %s %s", r.Method, r.Path)
			continue
		}
		used[info.action] = true
		_, inPolicy := policy[info.action]
		require.True(t, inPolicy, "route %s %s: action %s has no policy entry", r.Method, r.Path, info.action)

		w := env.do(t, r.Method, target, "", nil)
		requireProblem(t, w, http.StatusUnauthorized)
		for _, role := range authn.Roles {
			t.Run(r.Method+" "+r.Path+" "+string(role), func(t *testing.T) {
				w := env.do(t, r.Method, target, env.token(t, role, "ORG"), nil)
				allowed := false
				for _, r := range wantGrants[info.action] {
					allowed = allowed || r == role
				}
				if allowed {
					assert.NotContains(t, []int{401, 403}, w.Code, w.Body.String())
				} else {
					requireProblem(t, w, http.StatusForbidden)
				}
			})
		}
	}
	for a := range policy {
		assert.True(t, used[a], "policy entry %s has no route", a)
	}
	assert.Len(t, wantGrants, len(policy), "the policy and the table of this test list different actions")
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	env := newTestEnv(t)
	w := env.do(t, http.MethodGet, "/v1/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, w.Code)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)

	documented := map[string]bool{}
	opIDs := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			var op struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			require.NoError(t, json.Unmarshal(raw, &op), "%s %s", method, path)
			assert.NotEmpty(t, op.OperationID, "%s %s has no operationId", method, path)
			assert.False(t, opIDs[op.OperationID], "operationId %s is used twice", op.OperationID)
			opIDs[op.OperationID] = true
			assert.NotEmpty(t, op.Responses, "%s %s has no responses", method, path)
		}
	}
	registered := map[string]bool{}
	for _, r := range env.srv.engine.Routes() {
		key := r.Method + " " + paramPattern.ReplaceAllString(r.Path, "{$1}")
		registered[key] = true
		assert.True(t, documented[key], "route %s is not in openapi.json", key)
	}
	for key := range documented {
		assert.True(t, registered[key], "openapi.json documents %s, which is not a route", key)
	}
}

func TestAuthentication(t *testing.T) {
	env := newTestEnv(t)
	other := newTestEnv(t) // a different signing key
	expired, err := authn.Mint(env.key, authn.MintOptions{
		Principal: authn.Principal{Subject: "a", Role: authn.RoleAuditor, Org: "R"},
		TTL:       time.Minute, Now: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	tests := []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"notBearer", "Basic dXNlcjpwYXNz"},
		{"garbage", "Bearer abc.def.ghi"},
		{"otherKey", "Bearer " + other.token(t, authn.RoleAuditor, "R")},
		{"expired", "Bearer " + expired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := env.do(t, http.MethodGet, "/v1/audit/verify", "", nil, "Authorization", tc.header)
			requireProblem(t, w, http.StatusUnauthorized)
			assert.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer")
		})
	}
	w := env.do(t, http.MethodGet, "/v1/audit/verify", env.token(t, authn.RoleAuditor, "REGIONE"), nil)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// TestDenialIsAudited: a 403 is in the log an auditor reads, with the
// request id the client saw.
func TestDenialIsAudited(t *testing.T) {
	env := newTestEnv(t)
	w := env.do(t, http.MethodGet, "/v1/audit/events", env.token(t, authn.RoleFacilityOperator, "ASSO-000009"), nil)
	requireProblem(t, w, http.StatusForbidden)
	rid := w.Header().Get("X-Request-ID")

	w = env.do(t, http.MethodGet, "/v1/audit/events?outcome=x", env.token(t, authn.RoleAuditor, "REGIONE"), nil)
	p := requireProblem(t, w, http.StatusBadRequest)
	assert.Equal(t, []string{"outcome"}, fieldsOf(p))

	w = env.do(t, http.MethodGet, "/v1/audit/events?action=audit.events.list", env.token(t, authn.RoleAuditor, "REGIONE"), nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var page auditListResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	var found *auditEventResponse
	for i := range page.Events {
		if page.Events[i].RequestID == rid {
			found = &page.Events[i]
		}
	}
	require.NotNil(t, found, "the denied request %s is not in the log", rid)
	assert.Equal(t, "denied", found.Outcome)
	assert.Equal(t, 403, found.Status)
	assert.Equal(t, "facility_operator", found.Role)
	assert.Equal(t, "ASSO-000009", found.Org)

	w = env.do(t, http.MethodGet, "/v1/audit/verify", env.token(t, authn.RoleAuditor, "REGIONE"), nil)
	require.Equal(t, http.StatusOK, w.Code)
	var v auditVerifyResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
	assert.True(t, v.OK)
	assert.EqualValues(t, 3, v.Events) // the denial, the failed query, the list
}

func TestAuditEventsPagination(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := env.store.Append(ctx, audit.Event{Actor: "seed", Role: "admin", Org: "R", Action: "seed", Outcome: audit.OutcomeAllowed})
		require.NoError(t, err)
	}
	tok := env.token(t, authn.RoleAuditor, "REGIONE")
	var seqs []int64
	target := "/v1/audit/events?actor=seed&limit=2"
	for pages := 0; pages < 10; pages++ {
		w := env.do(t, http.MethodGet, target, tok, nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var page auditListResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		for _, e := range page.Events {
			seqs = append(seqs, e.Seq)
		}
		if page.NextCursor == "" {
			break
		}
		target = "/v1/audit/events?actor=seed&limit=2&cursor=" + page.NextCursor
	}
	assert.Equal(t, []int64{5, 4, 3, 2, 1}, seqs)
}

// TestBadInput: every kind of bad request gets a 4xx problem, never a 500,
// and nothing is written.
func TestBadInput(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	written := 0
	g := env.srv.engine.Group("/test")
	env.srv.handlePublic(g, "/test", http.MethodPost, "/echo", func(c *gin.Context) {
		var b body
		if err := decodeJSON(c, &b); err != nil {
			_ = c.Error(err)
			return
		}
		written++
		c.JSON(http.StatusCreated, b)
	})
	auditor := env.token(t, authn.RoleAuditor, "REGIONE")
	big := `{"name":"` + strings.Repeat("a", 2000) + `"}`
	tests := []struct {
		name, method, target, ctype, body string
		chunked                           bool
		token                             string
		status                            int
		fields                            []string
	}{
		{name: "malformed", method: "POST", target: "/test/echo", ctype: "application/json", body: `{"name":`, status: 400},
		{name: "syntax", method: "POST", target: "/test/echo", ctype: "application/json", body: `{"name" "x"}`, status: 400},
		{name: "empty", method: "POST", target: "/test/echo", ctype: "application/json", body: ``, status: 400},
		{name: "twoValues", method: "POST", target: "/test/echo", ctype: "application/json", body: `{} {}`, status: 400},
		{name: "wrongContentType", method: "POST", target: "/test/echo", ctype: "text/plain", body: `{"name":"x"}`, status: 415},
		{name: "noContentType", method: "POST", target: "/test/echo", body: `{"name":"x"}`, status: 415},
		{name: "oversized", method: "POST", target: "/test/echo", ctype: "application/json", body: big, status: 413},
		{name: "oversizedChunked", method: "POST", target: "/test/echo", ctype: "application/json", body: big, chunked: true, status: 413},
		{name: "unknownField", method: "POST", target: "/test/echo", ctype: "application/json", body: `{"name":"x","surname":"y"}`, status: 422, fields: []string{"surname"}},
		{name: "wrongType", method: "POST", target: "/test/echo", ctype: "application/json", body: `{"count":"three"}`, status: 422, fields: []string{"count"}},
		{name: "notAnObject", method: "POST", target: "/test/echo", ctype: "application/json", body: `[1,2]`, status: 422},
		{name: "unknownRoute", method: "GET", target: "/v1/nothing-here", status: 404},
		{name: "wrongMethod", method: "POST", target: "/v1/audit/events", ctype: "application/json", body: `{}`, token: auditor, status: 405},
		{name: "badLimit", method: "GET", target: "/v1/audit/events?limit=abc", token: auditor, status: 400, fields: []string{"limit"}},
		{name: "badTimes", method: "GET", target: "/v1/audit/events?from=yesterday&to=2026-13-01", token: auditor, status: 400, fields: []string{"from", "to"}},
		{name: "badCursor", method: "GET", target: "/v1/audit/events?cursor=-4", token: auditor, status: 400, fields: []string{"cursor"}},
		{name: "verifyParams", method: "GET", target: "/v1/audit/verify?deep=1", token: auditor, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.chunked {
				req.ContentLength = -1
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			env.srv.Handler().ServeHTTP(w, req)
			p := requireProblem(t, w, tc.status)
			if tc.fields != nil {
				assert.ElementsMatch(t, tc.fields, fieldsOf(p))
			}
		})
	}
	assert.Zero(t, written, "a bad request reached the write")
	w := env.do(t, http.MethodPost, "/test/echo", "", strings.NewReader(`{"name":"ok","count":2}`), "Content-Type", "application/json; charset=utf-8")
	assert.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, 1, written)
}

func TestPanicIsInternalError(t *testing.T) {
	env := newTestEnv(t)
	env.srv.handlePublic(env.srv.engine, "", http.MethodGet, "/boom", func(*gin.Context) { panic("secret internal detail") })
	w := env.do(t, http.MethodGet, "/boom", "", nil)
	p := requireProblem(t, w, http.StatusInternalServerError)
	assert.Equal(t, "internal error", p.Detail)
	assert.NotContains(t, w.Body.String(), "secret internal detail")
}

func TestUnmappedErrorIsInternal(t *testing.T) {
	env := newTestEnv(t)
	env.srv.handlePublic(env.srv.engine, "", http.MethodGet, "/fail", func(c *gin.Context) {
		_ = c.Error(errors.New("pq: relation \"x\" does not exist"))
	})
	w := env.do(t, http.MethodGet, "/fail", "", nil)
	p := requireProblem(t, w, http.StatusInternalServerError)
	assert.NotContains(t, w.Body.String(), "relation")
	assert.Equal(t, "internal error", p.Detail)
}

func TestRequestID(t *testing.T) {
	env := newTestEnv(t)
	w := env.do(t, http.MethodGet, "/healthz", "", nil, "X-Request-ID", "abc-123")
	assert.Equal(t, "abc-123", w.Header().Get("X-Request-ID"))
	w = env.do(t, http.MethodGet, "/healthz", "", nil, "X-Request-ID", "RSSMRA80A01H501U ROSSI")
	got := w.Header().Get("X-Request-ID")
	assert.NotContains(t, got, "ROSSI")
	assert.Len(t, got, 32)
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
}

func TestRateLimit(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.RatePerSecond, o.RateBurst = 0.5, 2 })
	tok := env.token(t, authn.RoleAuditor, "REGIONE")
	for i := 0; i < 2; i++ {
		require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, "/v1/audit/verify", tok, nil).Code)
	}
	w := env.do(t, http.MethodGet, "/v1/audit/verify", tok, nil)
	requireProblem(t, w, http.StatusTooManyRequests)
	assert.Equal(t, "2", w.Header().Get("Retry-After"))
	// Another principal has its own budget.
	assert.Equal(t, http.StatusOK, env.do(t, http.MethodGet, "/v1/audit/verify", env.token(t, authn.RoleAuditor, "OTHER"), nil).Code)
}

func TestStatus(t *testing.T) {
	var dbErr error
	env := newTestEnv(t, func(o *Options) {
		o.Checks = map[string]Checker{
			"database": CheckFunc(func(context.Context) error { return dbErr }),
			"keys":     CheckFunc(func(context.Context) error { return nil }),
		}
	})
	w := env.do(t, http.MethodGet, "/status", "", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"status":"ok"}`, w.Body.String())
	assert.Equal(t, http.StatusOK, env.do(t, http.MethodGet, "/readyz", "", nil).Code)

	dbErr = errors.New("connection refused")
	for _, path := range []string{"/status", "/readyz"} {
		w = env.do(t, http.MethodGet, path, "", nil)
		p := requireProblem(t, w, http.StatusServiceUnavailable)
		assert.Equal(t, []string{"database"}, fieldsOf(p))
		assert.NotContains(t, w.Body.String(), "refused")
	}
	assert.Equal(t, http.StatusOK, env.do(t, http.MethodGet, "/healthz", "", nil).Code)
}

// TestGracefulShutdown: a request in flight when the server is told to stop
// finishes, and the server then stops accepting.
func TestGracefulShutdown(t *testing.T) {
	env := newTestEnv(t)
	started := make(chan struct{})
	env.srv.handlePublic(env.srv.engine, "", http.MethodGet, "/slow", func(c *gin.Context) {
		close(started)
		time.Sleep(500 * time.Millisecond)
		c.JSON(http.StatusOK, gin.H{"done": true})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- env.srv.Serve(ctx, ln, 5*time.Second) }()

	url := "http://" + ln.Addr().String()
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	<-started
	cancel()
	r := <-res
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	require.NoError(t, <-served)
	_, err = http.Get(url + "/healthz")
	assert.Error(t, err, "the server still accepts connections after shutdown")
}

// cancelOnWrite is a client that hangs up as soon as the body starts: the
// request's context is cancelled on the first write.
type cancelOnWrite struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (w cancelOnWrite) Write(b []byte) (int, error) {
	n, err := w.ResponseRecorder.Write(b)
	w.cancel()
	return n, err
}

// TestAuditedAfterClientLeaves: a person-level read whose client goes
// away once served is in the access log all the same (the event is
// written after the body, with a context the client's departure does not
// cancel).
func TestAuditedAfterClientLeaves(t *testing.T) {
	env := newTestEnv(t)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/reports/facility-census", nil)
	req.Header.Set("Authorization", "Bearer "+analyst)
	req.Header.Set("X-Request-ID", "client-left-1")
	w := cancelOnWrite{httptest.NewRecorder(), cancel}
	env.srv.Handler().ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Error(t, ctx.Err(), "the client left")

	events, err := env.store.List(context.Background(), audit.Filter{Action: string(ActionReportsRead), Limit: 10})
	require.NoError(t, err)
	found := false
	for _, e := range events {
		found = found || e.RequestID == "client-left-1"
	}
	assert.True(t, found, "the served report is not in the access log")
}

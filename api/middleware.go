package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
)

const (
	ctxRequestID = "sirm.request_id"
	ctxPrincipal = "sirm.principal"
	ctxAudited   = "sirm.audited"
	ctxPerson    = "sirm.person_ref"
	// ctxObject is the object a handler names for the audit event of its
	// request (a report and its parameters).
	ctxObject = "sirm.object_id"
)

// validRequestID bounds what a caller may send as X-Request-ID, so that
// nothing else (an identity, a token) travels into the logs under its name.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID.MatchString(id) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// principal returns the authenticated caller; only routes behind
// authenticate have one.
func principal(c *gin.Context) (authn.Principal, bool) {
	p, ok := c.Get(ctxPrincipal)
	if !ok {
		return authn.Principal{}, false
	}
	return p.(authn.Principal), true
}

// accessLog writes one line per request: the route template, never the raw
// path or query (which may carry a token), and never a body.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", c.Writer.Status()),
		slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("request_id", requestID(c)),
	}
	if p, ok := principal(c); ok {
		attrs = append(attrs, slog.Group("principal", "sub", p.Subject, "role", string(p.Role), "org", p.Org))
	}
	s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
}

func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic", "request_id", requestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				p, _, _ := toProblem(fmt.Errorf("panic"))
				writeProblem(c, p, nil)
			}
		}
	}()
	c.Next()
}

// problems renders the last error a handler or middleware recorded.
func (s *Server) problems(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	p, hdr, internal := toProblem(err)
	if internal {
		s.log.Error("internal error", "request_id", requestID(c), "route", c.FullPath(), "err", err.Error())
	}
	writeProblem(c, p, hdr)
}

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	c.Next()
}

func (s *Server) bodyLimit(c *gin.Context) {
	limit := s.opts.MaxBodyBytes
	if info, ok := s.routes[routeKey{c.Request.Method, c.FullPath()}]; ok && info.maxBody > 0 {
		limit = info.maxBody
	}
	if c.Request.ContentLength > limit {
		_ = c.Error(&http.MaxBytesError{Limit: limit})
		c.Abort()
		return
	}
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	}
	c.Next()
}

// contentType refuses a body whose media type the route does not consume
// (application/json unless the route says otherwise).
func (s *Server) contentType(c *gin.Context) {
	if c.Request.ContentLength == 0 || c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	consumes := []string{"application/json"}
	if info, ok := s.routes[routeKey{c.Request.Method, c.FullPath()}]; ok && len(info.consumes) > 0 {
		consumes = info.consumes
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	ok := err == nil
	if ok {
		ok = false
		for _, want := range consumes {
			ok = ok || mt == want
		}
	}
	if !ok {
		_ = c.Error(newError(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			fmt.Sprintf("the body must be one of %v", consumes)))
		c.Abort()
		return
	}
	c.Next()
}

func (s *Server) authenticate(c *gin.Context) {
	p, err := s.verifier.Verify(c.Request.Context(), authn.BearerToken(c.GetHeader("Authorization")))
	if err != nil {
		// The reason (expired, bad signature…) goes to the log, not to the client.
		s.log.Info("authentication failed", "request_id", requestID(c), "reason", err.Error())
		_ = c.Error(err)
		c.Abort()
		return
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

// authorize applies the policy to the route's action. A denial is written
// to the audit log before the 403 goes out.
func (s *Server) authorize(action Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, _ := principal(c)
		scope, ok := allows(action, p.Role)
		if ok && scope == ScopeOwnOrg {
			if org := c.Param("org"); org != "" && org != p.Org {
				ok = false
			}
		}
		if !ok {
			s.record(c, action, audit.OutcomeDenied, http.StatusForbidden)
			_ = c.Error(errForbidden(fmt.Sprintf("role %s may not %s", p.Role, action)))
			c.Abort()
			return
		}
		c.Next()
	}
}

// auditTimeout bounds the append of a request's audit event, which does
// not end with the client's request.
const auditTimeout = 10 * time.Second

// auditTrail writes the event of a person-level request once the handler
// is done, unless the handler already wrote it in its own transaction.
func (s *Server) auditTrail(action Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if r := policy[action]; !(r.personLevel || r.write) || c.GetBool(ctxAudited) {
			return
		}
		status := c.Writer.Status()
		if len(c.Errors) > 0 && !c.Writer.Written() {
			p, _, _ := toProblem(c.Errors.Last().Err)
			status = p.Status
		}
		outcome := audit.OutcomeAllowed
		switch {
		case status == http.StatusForbidden:
			// Denied by the handler (a facility that is not the caller's).
			outcome = audit.OutcomeDenied
		case status >= 400:
			outcome = audit.OutcomeFailed
		}
		s.record(c, action, outcome, status)
	}
}

// record appends the event of this request. A failure to log a read is
// itself logged; writes call recordTx inside their transaction instead, so
// that they fail with it.
//
// The event is written even when the client has gone (its request context
// cancelled once the body was sent): what was served must be in the log.
func (s *Server) record(c *gin.Context, action Action, outcome audit.Outcome, status int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), auditTimeout)
	defer cancel()
	if _, err := s.audit.Append(ctx, s.event(c, action, outcome, status)); err != nil {
		s.log.Error("audit append failed", "request_id", requestID(c), "action", string(action), "err", err.Error())
	}
	c.Set(ctxAudited, true)
}

func (s *Server) event(c *gin.Context, action Action, outcome audit.Outcome, status int) audit.Event {
	p, _ := principal(c)
	return audit.Event{
		Actor:      p.Subject,
		Role:       string(p.Role),
		Org:        p.Org,
		Action:     string(action),
		ObjectType: objectType(action),
		ObjectID:   c.GetString(ctxObject),
		PersonRef:  c.GetString(ctxPerson),
		Purpose:    p.Purpose,
		Outcome:    outcome,
		Status:     status,
		RequestID:  requestID(c),
	}
}

func objectType(a Action) string {
	switch a {
	case ActionAuditList, ActionAuditVerify:
		return "audit_log"
	case ActionTokensResolve, ActionTokensLookup, ActionTokensRead:
		return "person"
	case ActionFacilitiesCreate, ActionFacilitiesUpdate, ActionFacilitiesSubmit, ActionFacilitiesReturn,
		ActionFacilitiesApprove, ActionFacilitiesSuspend, ActionFacilitiesReopen, ActionFacilitiesClose:
		return "facility"
	case ActionCasesCreate, ActionCasesList, ActionCasesRead, ActionCasesUpdate, ActionCasesTransfer, ActionCasesAccept, ActionCasesClose:
		return "case_file"
	case ActionAdmissionsCreate, ActionAdmissionsList, ActionAdmissionsRead, ActionAdmissionsDischarge, ActionAdmissionsActivity:
		return "stay"
	case ActionMinorsRead:
		return "person"
	case ActionEventsList:
		return "activity_events"
	case ActionFlowsSubmit:
		return "sinba_flow"
	case ActionConflictsList:
		return "activity_conflicts"
	case ActionReportsRead:
		return "report"
	case ActionExportsSINBA:
		return "sinba_export"
	}
	return ""
}

// limiter keeps one token bucket per principal.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	byKey map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(perSecond))
	}
	return &limiter{rate: rate.Limit(perSecond), burst: burst, byKey: map[string]*rate.Limiter{}}
}

func (l *limiter) get(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byKey[key]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byKey[key] = lim
	}
	return lim
}

func (s *Server) rateLimit(c *gin.Context) {
	if s.limiter == nil {
		c.Next()
		return
	}
	p, _ := principal(c)
	r := s.limiter.get(string(p.Role) + "|" + p.Org + "|" + p.Subject).Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		e := newError(http.StatusTooManyRequests, "rate-limited", "Too many requests", "slow down and retry after the time in Retry-After")
		e.header = map[string]string{"Retry-After": strconv.Itoa(int(math.Ceil(d.Seconds())))}
		_ = c.Error(e)
		c.Abort()
		return
	}
	c.Next()
}

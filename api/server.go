// Package api is sirm's HTTP layer, the only package that imports gin. It
// composes the domains behind one middleware chain, in this order: request
// id, access log, recovery, problem rendering, security headers, body limit
// and content type, then per route group authentication, rate limit,
// authorisation and audit.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
)

func init() {
	// Release mode only silences gin's start-up banner and route dump.
	gin.SetMode(gin.ReleaseMode)
}

// Checker is a dependency whose health /status and /readyz report.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to Checker.
type CheckFunc func(ctx context.Context) error

// Check calls f.
func (f CheckFunc) Check(ctx context.Context) error { return f(ctx) }

// Options are the dependencies and settings of a Server.
type Options struct {
	Logger   *slog.Logger
	Audit    *audit.Service
	Linkage  *linkage.Service
	Registry *registry.Service
	// Activity is the SINBA and ASMI domain; its routes need Linkage and
	// Registry too.
	Activity *activity.Service
	// Reports are the reports served under /v1/reports; they need
	// Registry too (its zone codes).
	Reports  *report.Catalogue
	Verifier authn.Verifier
	// Checks are the dependencies /status and /readyz report, by name
	// ("database", "keys").
	Checks map[string]Checker
	// MaxBodyBytes bounds request bodies (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	// RatePerSecond and RateBurst bound each principal's requests (429
	// beyond); a zero rate turns the limit off.
	RatePerSecond float64
	RateBurst     int
	// OPRFDailyLimit bounds the blinded elements each organisation may
	// have evaluated per UTC day (429 beyond); 0 means
	// DefaultOPRFDailyLimit.
	OPRFDailyLimit int64
	// SINBAEnte is the sender of the SINBA flows exported for INPS (the
	// Ente of their header); zero means DefaultSINBAEnte. It must satisfy
	// SINBA.xsd (sinba.Header.Validate): main checks it at start.
	SINBAEnte sinba.Ente
	// Microdata is the population research microdata are drawn from
	// (GET /v1/exports/microdata); nil leaves the route out. It needs
	// Linkage and Registry too.
	Microdata report.MicrodataSource
	// MicrodataK is the least number of minors every combination of
	// quasi-identifiers of released microdata must have; below
	// report.DefaultK (3) means report.DefaultK.
	MicrodataK int
}

// Server holds the services the handlers call.
type Server struct {
	opts     Options
	log      *slog.Logger
	audit    *audit.Service
	linkage  *linkage.Service
	registry *registry.Service
	activity *activity.Service
	reports  *report.Catalogue
	verifier authn.Verifier
	engine   *gin.Engine
	routes   map[routeKey]routeInfo
	limiter  *limiter
	draining atomic.Bool
	// facilityCodes caches registry.ID → regional code: a code, once
	// given on approval, never changes.
	facilityCodes sync.Map
	// exportSlot lets one SINBA export run at a time (see exportSINBA).
	exportSlot chan struct{}
}

type routeKey struct{ method, path string }

type routeInfo struct {
	action   Action // empty for public routes
	consumes []string
	maxBody  int64 // 0: Options.MaxBodyBytes
}

// New builds the server and its routes.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.OPRFDailyLimit <= 0 {
		opts.OPRFDailyLimit = DefaultOPRFDailyLimit
	}
	if opts.SINBAEnte == (sinba.Ente{}) {
		opts.SINBAEnte = DefaultSINBAEnte()
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		audit:    opts.Audit,
		linkage:  opts.Linkage,
		registry: opts.Registry,
		activity: opts.Activity,
		reports:  opts.Reports,
		verifier: opts.Verifier,
		routes:   map[routeKey]routeInfo{},
		limiter:  newLimiter(opts.RatePerSecond, opts.RateBurst),

		exportSlot: make(chan struct{}, 1),
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(s.requestID, s.accessLog, s.recovery, s.problems, securityHeaders, s.bodyLimit, s.contentType)
	e.NoRoute(func(c *gin.Context) {
		_ = c.Error(newError(http.StatusNotFound, "not-found", "Not found", "no such resource"))
	})
	e.NoMethod(func(c *gin.Context) {
		_ = c.Error(newError(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "this resource does not accept "+c.Request.Method))
	})
	s.engine = e
	s.healthRoutes(e)
	v1 := e.Group("/v1")
	s.openapiRoutes(v1)
	authed := v1.Group("", s.authenticate, s.rateLimit)
	s.auditRoutes(authed)
	if s.linkage != nil {
		s.tokenRoutes(authed)
		s.linkageRoutes(authed)
	}
	s.oprfRoutes(authed)
	if s.registry != nil {
		s.registryRoutes(authed)
		if s.reports != nil {
			s.reportRoutes(authed)
		}
	}
	if s.activity != nil && s.linkage != nil && s.registry != nil {
		s.activityRoutes(authed)
		s.exportRoutes(authed)
		s.linkage.Subscribe(s.onMerge)
	}
	if s.opts.Microdata != nil && s.linkage != nil && s.registry != nil {
		s.microdataRoutes(authed)
	}
	return s
}

// Handler is the http.Handler of the API.
func (s *Server) Handler() http.Handler { return s.engine }

// handle registers a route that needs a principal allowed to perform action.
func (s *Server) handle(g *gin.RouterGroup, method, path string, action Action, h gin.HandlerFunc, consumes ...string) {
	full := joinPath(g.BasePath(), path)
	s.routes[routeKey{method, full}] = routeInfo{action: action, consumes: consumes}
	g.Handle(method, path, s.authorize(action), s.auditTrail(action), h)
}

// handleLarge is handle for a route whose body may reach maxBody bytes,
// more than Options.MaxBodyBytes; the handler must read it as a stream.
func (s *Server) handleLarge(g *gin.RouterGroup, method, path string, action Action, maxBody int64, h gin.HandlerFunc, consumes ...string) {
	s.handle(g, method, path, action, h, consumes...)
	full := joinPath(g.BasePath(), path)
	info := s.routes[routeKey{method, full}]
	info.maxBody = maxBody
	s.routes[routeKey{method, full}] = info
}

// handlePublic registers a route anyone may call.
func (s *Server) handlePublic(g gin.IRoutes, base, method, path string, h gin.HandlerFunc) {
	s.routes[routeKey{method, joinPath(base, path)}] = routeInfo{}
	g.Handle(method, path, h)
}

func joinPath(base, p string) string {
	if base == "/" || base == "" {
		return p
	}
	if p == "" || p == "/" {
		return base
	}
	return base + p
}

// Serve serves on ln until ctx is cancelled, then stops accepting, lets
// in-flight requests finish for up to grace, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

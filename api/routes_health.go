package api

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
)

// healthRoutes: /status (the interoperability guidelines' health resource),
// /healthz (the process answers) and /readyz (it can serve: dependencies
// usable and not shutting down).
func (s *Server) healthRoutes(e *gin.Engine) {
	s.handlePublic(e, "", http.MethodGet, "/status", s.status)
	s.handlePublic(e, "", http.MethodGet, "/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	s.handlePublic(e, "", http.MethodGet, "/readyz", s.ready)
}

// checkAll runs every dependency check and returns the names that failed.
func (s *Server) checkAll(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var failed []string
	for name, ch := range s.opts.Checks {
		if err := ch.Check(ctx); err != nil {
			s.log.Warn("dependency check failed", "dependency", name, "err", err.Error())
			failed = append(failed, name)
		}
	}
	sort.Strings(failed)
	return failed
}

func (s *Server) status(c *gin.Context) {
	if failed := s.checkAll(c.Request.Context()); len(failed) > 0 {
		_ = c.Error(unavailable(failed))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) ready(c *gin.Context) {
	if s.draining.Load() {
		_ = c.Error(newError(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "shutting down"))
		return
	}
	s.status(c)
}

func unavailable(failed []string) *httpError {
	e := newError(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "a dependency is unusable")
	for _, f := range failed {
		e.fields = append(e.fields, FieldError{Field: f, Reason: "unusable"})
	}
	e.header = map[string]string{"Retry-After": "5"}
	return e
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// Line and Column locate a syntax error in an XML body (1-based).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// FieldError names one bad field of a request and why it is bad.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// problemTypeBase prefixes the problem types sirm defines; a URN needs no
// resolvable host, and clients match on the whole string.
const problemTypeBase = "urn:sirm:problem:"

// httpError is an error that already knows its problem. Handlers and
// middleware create them with the constructors below.
type httpError struct {
	status int
	slug   string
	title  string
	detail string
	fields []FieldError
	header map[string]string
	// line and column locate a syntax error in the body, when known.
	line, column int
}

func (e *httpError) Error() string {
	if e.detail != "" {
		return fmt.Sprintf("%d %s: %s", e.status, e.slug, e.detail)
	}
	return fmt.Sprintf("%d %s", e.status, e.slug)
}

func newError(status int, slug, title, detail string) *httpError {
	return &httpError{status: status, slug: slug, title: title, detail: detail}
}

func errBadRequest(detail string, fields ...FieldError) *httpError {
	e := newError(http.StatusBadRequest, "bad-request", "Bad request", detail)
	e.fields = fields
	return e
}

// queryProblems names every parameter of the request's query that is not
// in known ("unknown parameter", then hint when not empty) or is given
// more than once.
func queryProblems(c *gin.Context, known []string, hint string) []FieldError {
	var bad []FieldError
	for name, vs := range c.Request.URL.Query() {
		switch {
		case !slices.Contains(known, name):
			reason := "unknown parameter"
			if hint != "" {
				reason += " (" + hint + ")"
			}
			bad = append(bad, FieldError{Field: name, Reason: reason})
		case len(vs) > 1:
			bad = append(bad, FieldError{Field: name, Reason: "given more than once"})
		}
	}
	return bad
}

// badQuery is nil when bad is empty, and otherwise the 400 naming each bad
// parameter, in the order of their names.
func badQuery(bad []FieldError) error {
	if len(bad) == 0 {
		return nil
	}
	slices.SortFunc(bad, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return errBadRequest("invalid query parameters", bad...)
}

// zoneParam returns the query's zone parameter, adding to bad when it is
// not a zone code.
func (s *Server) zoneParam(c *gin.Context, bad *[]FieldError) string {
	z := c.Query("zone")
	if _, ok := s.registry.Codes().Zone(z); z != "" && !ok {
		*bad = append(*bad, FieldError{Field: "zone", Reason: "unknown zone code"})
	}
	return z
}

// yearParam returns the query's required year parameter, adding to bad
// when it is missing, not YYYY, before 2000 or after latest (whose reason
// is tooLate).
func yearParam(c *gin.Context, bad *[]FieldError, latest int, tooLate string) int {
	y := c.Query("year")
	n, _ := strconv.Atoi(y)
	switch {
	case y == "":
		*bad = append(*bad, FieldError{Field: "year", Reason: "required"})
	case !yearPattern.MatchString(y):
		*bad = append(*bad, FieldError{Field: "year", Reason: "must be a year YYYY"})
	case n < firstExportYear:
		*bad = append(*bad, FieldError{Field: "year", Reason: fmt.Sprintf("must be %d or later", firstExportYear)})
	case n > latest:
		*bad = append(*bad, FieldError{Field: "year", Reason: tooLate})
	}
	return n
}

func errValidation(fields ...FieldError) *httpError {
	e := newError(http.StatusUnprocessableEntity, "validation", "Invalid input", "one or more fields are invalid")
	e.fields = fields
	return e
}

func errForbidden(detail string) *httpError {
	return newError(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

// errorCodes maps the errors of the domains to problems: the one table of
// the API. An error that matches none is a 500 whose text stays in the log.
var errorCodes = []struct {
	err     error
	status  int
	slug    string
	title   string
	message string
}{
	{authn.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", "Unauthenticated", "a valid bearer token is required"},
	{linkage.ErrNotFound, http.StatusNotFound, "not-found", "Not found", "no minor matches"},
	{registry.ErrNotFound, http.StatusNotFound, "not-found", "Not found", "no such facility"},
}

// toProblem converts err to the problem sent to the client, and reports
// whether it is an internal error whose cause must be logged.
func toProblem(err error) (p Problem, hdr map[string]string, internal bool) {
	var he *httpError
	if errors.As(err, &he) {
		return Problem{Type: problemTypeBase + he.slug, Title: he.title, Status: he.status, Detail: he.detail, Errors: he.fields,
			Line: he.line, Column: he.column}, he.header, false
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Problem{Type: problemTypeBase + "too-large", Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the request body exceeds %d bytes", mbe.Limit)}, nil, false
	}
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return Problem{Type: problemTypeBase + c.slug, Title: c.title, Status: c.status, Detail: c.message}, nil, false
		}
	}
	return Problem{Type: problemTypeBase + "internal", Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "internal error"}, nil, true
}

// writeProblem renders p as application/problem+json and aborts the chain.
func writeProblem(c *gin.Context, p Problem, hdr map[string]string) {
	p.RequestID = requestID(c)
	for k, v := range hdr {
		c.Header(k, v)
	}
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="sirm"`)
	}
	c.Header("Content-Type", "application/problem+json")
	c.Abort()
	c.JSON(p.Status, p) // gin keeps the Content-Type set above
}

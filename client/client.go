// Package client is a Go client of sirm's token API: it turns identities of
// minors into the caller's pseudonymous tokens, one at a time or in batches
// of up to MaxBatch, retrying what is worth retrying.
//
// The client never puts identity fields into its errors: a *Problem comes
// from the server, which never repeats submitted values, and every other
// error names only the request.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBatch is the largest number of identities TokenizeBatch sends in one
// request, the server's limit.
const MaxBatch = 1000

// Statuses of a resolved identity.
const (
	StatusNew      = "new"      // a minor not seen before: the token is new
	StatusExisting = "existing" // the token of a minor already known
	StatusLinked   = "linked"   // a known minor, matched through a variant of the identity
)

// Defaults of the retry policy.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 15 * time.Second
	// maxRetryAfter caps a server's Retry-After, so that one misconfigured
	// proxy cannot park a client for hours.
	maxRetryAfter = 2 * time.Minute
	// maxResponseBytes bounds the body read: a full batch answer is well
	// under 1 MiB.
	maxResponseBytes = 16 << 20
)

// Client calls one sirm server. Its fields must not change while requests
// are in flight; a Client is then safe for concurrent use.
type Client struct {
	// BaseURL is the server's address, e.g. https://sirm.example; the
	// paths /v1/… are appended to it.
	BaseURL string
	// Token is the bearer JWT sent with every request.
	Token string
	// HTTP sends the requests; nil means a client with connect, TLS,
	// response-header and overall timeouts (DefaultHTTPClient).
	HTTP *http.Client
	// UserAgent is sent as User-Agent; empty means "sirm-client".
	UserAgent string

	// MaxAttempts is how many times a request is sent before giving up
	// on 429, 502, 503, 504 and network errors; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the exponential backoff between
	// attempts (with jitter); 0 means DefaultBaseDelay, DefaultMaxDelay.
	// A 429's Retry-After takes precedence over the backoff.
	BaseDelay, MaxDelay time.Duration
}

// DefaultHTTPClient is the HTTP client of a Client whose HTTP field is nil:
// 10 s to connect and to finish the TLS handshake, 2 min for the server's
// answer to start and for the whole exchange (a batch of 1000 identities
// takes a few seconds on a healthy server).
var DefaultHTTPClient = &http.Client{
	Timeout: 2 * time.Minute,
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	},
}

// Identity is an identity as the API takes it. CodiceFiscale, BirthPlace
// and Citizenship are optional.
type Identity struct {
	CodiceFiscale string `json:"codice_fiscale,omitempty"`
	Surname       string `json:"surname"`
	GivenNames    string `json:"given_names"`
	BirthDate     string `json:"birth_date"` // YYYY-MM-DD
	Sex           string `json:"sex"`        // M, F or X
	BirthPlace    string `json:"birth_place,omitempty"`
	Citizenship   string `json:"citizenship,omitempty"`
}

// Result is the outcome for one identity: a Token and its Status
// (StatusNew, StatusExisting or StatusLinked), or an Error saying why this
// identity was refused (a 422 listing the bad fields).
type Result struct {
	Index  int // position of the identity in the request
	Token  string
	Status string
	Error  *Problem
}

// Problem is an RFC 9457 problem document of the server. As an error it is
// returned for a whole request the server refused; in a Result it is the
// refusal of one identity.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// RetryAfter is the wait a 429 or 503 asked for, zero if none.
	RetryAfter time.Duration `json:"-"`
}

// FieldError names one bad field and why it is bad; it never holds the
// field's value.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(p.Status))
	if p.Title != "" {
		b.WriteString(" " + p.Title)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for i, f := range p.Errors {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Reason)
		if i == len(p.Errors)-1 {
			b.WriteString(")")
		}
	}
	if p.RequestID != "" {
		b.WriteString(" [request " + p.RequestID + "]")
	}
	return b.String()
}

// IsNotFound reports whether err is the server's 404, as Lookup returns for
// an identity that matches no known minor.
func IsNotFound(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusNotFound
}

type identityBody struct {
	Identity Identity `json:"identity"`
}

type batchBody struct {
	Identities []Identity `json:"identities"`
}

type tokenAnswer struct {
	Token  string `json:"token"`
	Status string `json:"status"`
}

type batchAnswer struct {
	Results []struct {
		Index  int      `json:"index"`
		Token  string   `json:"token"`
		Status string   `json:"status"`
		Error  *Problem `json:"error"`
	} `json:"results"`
}

// TokenizeBatch resolves 1 to MaxBatch identities in one request and
// returns one Result per identity, in the order of ids. A refused identity
// has its Result.Error set; the call itself fails with a *Problem when the
// server refuses the whole request (401, 403, 413, 415, 422, or 429 and 5xx
// still failing after the retries), or with the network error.
//
// Retrying resolves an identity again, which is harmless: the same minor
// gets the same token, though its Status may then read "existing".
func (c *Client) TokenizeBatch(ctx context.Context, ids []Identity) ([]Result, error) {
	if len(ids) == 0 || len(ids) > MaxBatch {
		return nil, fmt.Errorf("tokenize batch: %d identities; a batch holds 1 to %d", len(ids), MaxBatch)
	}
	var ans batchAnswer
	if err := c.do(ctx, "/v1/tokens/batch", batchBody{Identities: ids}, &ans); err != nil {
		return nil, fmt.Errorf("tokenize batch: %w", err)
	}
	if len(ans.Results) != len(ids) {
		return nil, fmt.Errorf("tokenize batch: the server answered %d results for %d identities", len(ans.Results), len(ids))
	}
	out := make([]Result, len(ids))
	seen := make([]bool, len(ids))
	for _, r := range ans.Results {
		if r.Index < 0 || r.Index >= len(ids) || seen[r.Index] {
			return nil, fmt.Errorf("tokenize batch: the server answered an unexpected index %d", r.Index)
		}
		if r.Error == nil && r.Token == "" {
			return nil, fmt.Errorf("tokenize batch: the server answered neither token nor error for index %d", r.Index)
		}
		seen[r.Index] = true
		out[r.Index] = Result{Index: r.Index, Token: r.Token, Status: r.Status, Error: r.Error}
	}
	return out, nil
}

// Tokenize resolves one identity to its token, creating the minor if the
// server knows no match. A refused identity fails with a *Problem (422 with
// the bad fields), as do the refusals TokenizeBatch lists.
func (c *Client) Tokenize(ctx context.Context, id Identity) (Result, error) {
	var ans tokenAnswer
	if err := c.do(ctx, "/v1/tokens", identityBody{Identity: id}, &ans); err != nil {
		return Result{}, fmt.Errorf("tokenize: %w", err)
	}
	return Result{Token: ans.Token, Status: ans.Status}, nil
}

// Lookup returns the token of a minor already known, creating nothing. An
// identity that matches no minor fails with a *Problem whose Status is 404
// (see IsNotFound).
func (c *Client) Lookup(ctx context.Context, id Identity) (Result, error) {
	var ans tokenAnswer
	if err := c.do(ctx, "/v1/tokens/lookup", identityBody{Identity: id}, &ans); err != nil {
		return Result{}, fmt.Errorf("lookup: %w", err)
	}
	return Result{Token: ans.Token, Status: ans.Status}, nil
}

// quotaProblem is the problem type of an exhausted daily quota (blind
// mode): retrying before its Retry-After, hours away, is pointless.
const quotaProblem = "urn:sirm:problem:quota-exceeded"

// do POSTs body as JSON to path and decodes a 200's body into out, retrying
// 429, 502, 503, 504 and network errors.
func (c *Client) do(ctx context.Context, path string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		p, err := c.once(ctx, path, payload, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(p, err) {
			return err
		}
		if attempt >= attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := c.backoff(attempt)
		if p != nil && p.RetryAfter > 0 {
			wait = min(p.RetryAfter, maxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// once POSTs one request. A refusal is returned both as p and as err.
func (c *Client) once(ctx context.Context, path string, payload []byte, out any) (p *Problem, err error) {
	return c.send(ctx, http.MethodPost, path, bytes.NewReader(payload), out)
}

// send sends one request with body (nil for none) and decodes a 200's body
// into out; a refusal is returned both as p and as err.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, out any) (p *Problem, err error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "sirm-client"
	}
	req.Header.Set("User-Agent", ua)
	hc := c.HTTP
	if hc == nil {
		hc = DefaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &transportError{err} // a *url.Error naming the method and URL, never the body
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &transportError{fmt.Errorf("read response: %w", err)}
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("decode response (status 200): %w", err)
		}
		return nil, nil
	}
	p = problemOf(resp, data)
	return p, p
}

// problemOf reads a refusal. A body that is not a problem document (a
// proxy's HTML page) is not quoted: the status speaks for it.
func problemOf(resp *http.Response, data []byte) *Problem {
	p := &Problem{}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" || mt == "application/json" {
		if json.Unmarshal(data, p) != nil {
			p = &Problem{}
		}
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	if p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	if p.RequestID == "" {
		p.RequestID = resp.Header.Get("X-Request-Id")
	}
	p.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return p
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// transportError is a failure to exchange a request and its answer: no
// connection, a reset, a timeout.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// retryable reports whether a failed attempt may succeed if repeated: the
// server asked to slow down or a gateway could not reach it, or the
// exchange itself failed. Other refusals would fail the same way again.
func retryable(p *Problem, err error) bool {
	if p != nil {
		if p.Type == quotaProblem {
			return false
		}
		switch p.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var te *transportError
	return errors.As(err, &te)
}

// backoff is the wait after the attempt-th failure: BaseDelay doubling up
// to MaxDelay, half of it random so that clients spread out.
func (c *Client) backoff(attempt int) time.Duration {
	base, maxd := c.BaseDelay, c.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if maxd <= 0 {
		maxd = DefaultMaxDelay
	}
	d := base
	for i := 1; i < attempt && d < maxd; i++ {
		d *= 2
	}
	d = min(d, maxd)
	half := d / 2
	return half + rand.N(half+1)
}

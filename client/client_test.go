package client

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeServer speaks the token API's contract. before, when set, may answer
// a request itself (returning true) to simulate a failure.
type fakeServer struct {
	requests atomic.Int64
	before   func(w http.ResponseWriter, r *http.Request, n int64) bool
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if f.before != nil && f.before(w, r, n) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer good-jwt" {
		writeProblem(w, Problem{Type: "urn:sirm:problem:unauthorized", Title: "Unauthorized", Status: 401, Detail: "missing or invalid bearer token"})
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		writeProblem(w, Problem{Title: "Unsupported media type", Status: 415})
		return
	}
	switch r.URL.Path {
	case "/v1/tokens/batch":
		var req struct{ Identities []Identity }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeProblem(w, Problem{Title: "Bad request", Status: 400})
			return
		}
		if len(req.Identities) == 0 {
			writeProblem(w, Problem{Type: "urn:sirm:problem:validation", Title: "Invalid input", Status: 422, Detail: "one or more fields are invalid",
				Errors: []FieldError{{Field: "identities", Reason: "must hold 1 to 1000 identities"}}})
			return
		}
		type item struct {
			Index  int      `json:"index"`
			Token  string   `json:"token,omitempty"`
			Status string   `json:"status,omitempty"`
			Error  *Problem `json:"error,omitempty"`
		}
		out := struct {
			Results []item `json:"results"`
		}{Results: make([]item, 0, len(req.Identities))}
		for i, id := range req.Identities {
			if p := validate(id); p != nil {
				out.Results = append(out.Results, item{Index: i, Error: p})
				continue
			}
			out.Results = append(out.Results, item{Index: i, Token: fakeToken(id), Status: StatusNew})
		}
		writeJSON(w, 200, out)
	case "/v1/tokens", "/v1/tokens/lookup":
		var req struct{ Identity Identity }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeProblem(w, Problem{Title: "Bad request", Status: 400})
			return
		}
		if p := validate(req.Identity); p != nil {
			writeProblem(w, *p)
			return
		}
		if r.URL.Path == "/v1/tokens/lookup" && req.Identity.Surname == "UNKNOWN" {
			writeProblem(w, Problem{Type: "urn:sirm:problem:not-found", Title: "Not found", Status: 404, Detail: "no minor matches"})
			return
		}
		writeJSON(w, 200, map[string]string{"token": fakeToken(req.Identity), "status": StatusExisting})
	default:
		http.NotFound(w, r)
	}
}

func validate(id Identity) *Problem {
	var fe []FieldError
	if id.Surname == "" {
		fe = append(fe, FieldError{Field: "surname", Reason: "required"})
	}
	if id.BirthDate == "" {
		fe = append(fe, FieldError{Field: "birth_date", Reason: "required"})
	}
	if fe == nil {
		return nil
	}
	return &Problem{Type: "urn:sirm:problem:validation", Title: "Invalid input", Status: 422, Detail: "one or more fields are invalid", Errors: fe}
}

func fakeToken(id Identity) string {
	h := sha256.Sum256([]byte(id.Surname + "|" + id.GivenNames + "|" + id.BirthDate))
	return base32.StdEncoding.EncodeToString(h[:])[:20]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Request-Id", "req-1")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func newClient(t *testing.T, f *fakeServer) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL + "/", Token: "good-jwt", HTTP: srv.Client(), BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

func identities(n int) []Identity {
	ids := make([]Identity, n)
	for i := range ids {
		ids[i] = Identity{Surname: "ROSSI" + strings.Repeat("I", i%7), GivenNames: "MARIO", BirthDate: "2015-01-02", Sex: "M"}
	}
	return ids
}

func TestTokenizeBatch(t *testing.T) {
	f := &fakeServer{}
	c := newClient(t, f)
	ids := identities(MaxBatch)
	ids[3].Surname = "" // refused by the server, alone
	rs, err := c.TokenizeBatch(context.Background(), ids)
	require.NoError(t, err)
	require.Len(t, rs, MaxBatch)
	for i, r := range rs {
		assert.Equal(t, i, r.Index)
		if i == 3 {
			require.NotNil(t, r.Error)
			assert.Equal(t, 422, r.Error.Status)
			assert.Equal(t, []FieldError{{Field: "surname", Reason: "required"}}, r.Error.Errors)
			assert.Empty(t, r.Token)
			continue
		}
		assert.Nil(t, r.Error)
		assert.Equal(t, fakeToken(ids[i]), r.Token)
		assert.Equal(t, StatusNew, r.Status)
	}
	assert.EqualValues(t, 1, f.requests.Load(), "one request per batch")

	_, err = c.TokenizeBatch(context.Background(), identities(MaxBatch+1))
	require.Error(t, err, "more than MaxBatch is refused before sending")
	_, err = c.TokenizeBatch(context.Background(), nil)
	require.Error(t, err)
	assert.EqualValues(t, 1, f.requests.Load())
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		fail     func(w http.ResponseWriter)
		failures int64 // requests that fail before the server answers
		attempts int   // client's MaxAttempts
		wantErr  int   // status of the *Problem expected, 0 for success
		wantReqs int64
	}{
		{"retry503ThenSuccess", func(w http.ResponseWriter) { writeProblem(w, Problem{Title: "Service unavailable", Status: 503}) }, 2, 5, 0, 3},
		{"retry502", func(w http.ResponseWriter) { w.WriteHeader(502) }, 1, 5, 0, 2},
		{"retry429", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			writeProblem(w, Problem{Title: "Too many requests", Status: 429})
		}, 3, 5, 0, 4},
		{"503BeyondRetries", func(w http.ResponseWriter) {
			writeProblem(w, Problem{Title: "Service unavailable", Status: 503, Detail: "key source down"})
		}, 100, 3, 503, 3},
		{"500NotRetried", func(w http.ResponseWriter) { writeProblem(w, Problem{Title: "Internal error", Status: 500}) }, 100, 5, 500, 1},
		{"403NotRetried", func(w http.ResponseWriter) { writeProblem(w, Problem{Title: "Forbidden", Status: 403}) }, 100, 5, 403, 1},
		{"413NotRetried", func(w http.ResponseWriter) { writeProblem(w, Problem{Title: "Batch too large", Status: 413}) }, 100, 5, 413, 1},
		{"htmlErrorPage", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(504)
			_, _ = w.Write([]byte("<html>gateway timeout</html>"))
		}, 100, 2, 504, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{before: func(w http.ResponseWriter, r *http.Request, n int64) bool {
				if n <= tt.failures {
					tt.fail(w)
					return true
				}
				return false
			}}
			c := newClient(t, f)
			c.MaxAttempts = tt.attempts
			rs, err := c.TokenizeBatch(context.Background(), identities(10))
			assert.Equal(t, tt.wantReqs, f.requests.Load())
			if tt.wantErr == 0 {
				require.NoError(t, err)
				assert.Len(t, rs, 10)
				return
			}
			var p *Problem
			require.ErrorAs(t, err, &p)
			assert.Equal(t, tt.wantErr, p.Status)
			assert.NotEmpty(t, p.Title)
			assert.NotContains(t, err.Error(), "html", "a non-problem body is not quoted")
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	var first time.Time
	var gap time.Duration
	f := &fakeServer{before: func(w http.ResponseWriter, r *http.Request, n int64) bool {
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			writeProblem(w, Problem{Title: "Too many requests", Status: 429})
			return true
		}
		gap = time.Since(first)
		return false
	}}
	c := newClient(t, f)
	_, err := c.TokenizeBatch(context.Background(), identities(2))
	require.NoError(t, err)
	assert.EqualValues(t, 2, f.requests.Load())
	assert.GreaterOrEqual(t, gap, 900*time.Millisecond, "waited as Retry-After asked, not the 1 ms backoff")
}

func TestWholeRequestProblem(t *testing.T) {
	f := &fakeServer{before: func(w http.ResponseWriter, r *http.Request, n int64) bool {
		writeProblem(w, Problem{Type: "urn:sirm:problem:validation", Title: "Invalid input", Status: 422, Detail: "one or more fields are invalid",
			Errors: []FieldError{{Field: "identities", Reason: "must hold 1 to 1000 identities"}}})
		return true
	}}
	c := newClient(t, f)
	_, err := c.TokenizeBatch(context.Background(), identities(1))
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, 422, p.Status)
	assert.Equal(t, "urn:sirm:problem:validation", p.Type)
	assert.Equal(t, "req-1", p.RequestID)
	assert.Equal(t, []FieldError{{Field: "identities", Reason: "must hold 1 to 1000 identities"}}, p.Errors)
	assert.EqualValues(t, 1, f.requests.Load(), "422 is not retried")
	assert.NotContains(t, err.Error(), "ROSSI", "no identity in errors")
}

func TestUnauthorized(t *testing.T) {
	c := newClient(t, &fakeServer{})
	c.Token = "expired"
	_, err := c.TokenizeBatch(context.Background(), identities(1))
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, 401, p.Status)
	assert.Contains(t, err.Error(), "missing or invalid bearer token")
}

func TestTimeouts(t *testing.T) {
	// hang answers nothing until the client gives up; the test's cleanup
	// releases what is left. The body is read first: net/http notices a
	// closed connection only after that.
	hang := func(t *testing.T) (*fakeServer, *Client) {
		release := make(chan struct{})
		f := &fakeServer{before: func(w http.ResponseWriter, r *http.Request, n int64) bool {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}}
		c := newClient(t, f)
		t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
		return f, c
	}
	t.Run("httpTimeoutRetriedThenReported", func(t *testing.T) {
		f, c := hang(t)
		c.HTTP.Timeout = 50 * time.Millisecond
		c.MaxAttempts = 2
		_, err := c.TokenizeBatch(context.Background(), identities(1))
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
		assert.EqualValues(t, 2, f.requests.Load())
	})
	t.Run("contextDeadlineNotRetried", func(t *testing.T) {
		f, c := hang(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Tokenize(ctx, identities(1)[0])
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.EqualValues(t, 1, f.requests.Load())
	})
}

func TestTokenizeAndLookup(t *testing.T) {
	c := newClient(t, &fakeServer{})
	id := identities(1)[0]
	r, err := c.Tokenize(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, fakeToken(id), r.Token)
	assert.Equal(t, StatusExisting, r.Status)

	r, err = c.Lookup(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, fakeToken(id), r.Token)

	id.Surname = "UNKNOWN"
	_, err = c.Lookup(context.Background(), id)
	assert.True(t, IsNotFound(err), "%v", err)

	id.Surname = ""
	_, err = c.Tokenize(context.Background(), id)
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, 422, p.Status)
	assert.False(t, IsNotFound(err))
	assert.False(t, IsNotFound(errors.New("other")))
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, 7*time.Second, retryAfter("7", now))
	assert.Equal(t, 30*time.Second, retryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, retryAfter("", now))
	assert.Zero(t, retryAfter("-3", now))
	assert.Zero(t, retryAfter("soon", now))
}

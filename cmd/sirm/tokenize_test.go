package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/client"
	"github.com/toscana/sirm/internal/demo"
)

// fakeTokenAPI speaks POST /v1/tokens/batch of the token API's contract.
// fail, when set, may answer the n-th batch request (from 1) itself.
type fakeTokenAPI struct {
	mu    sync.Mutex
	sizes []int // identities per batch request, in arrival order
	fail  func(w http.ResponseWriter, n int) bool
}

func (f *fakeTokenAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/tokens/batch" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		problem(w, client.Problem{Title: "Unauthorized", Status: 401, Detail: "missing bearer token"})
		return
	}
	var req struct{ Identities []client.Identity }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		problem(w, client.Problem{Title: "Bad request", Status: 400})
		return
	}
	f.mu.Lock()
	f.sizes = append(f.sizes, len(req.Identities))
	n := len(f.sizes)
	f.mu.Unlock()
	if f.fail != nil && f.fail(w, n) {
		return
	}
	type item struct {
		Index  int             `json:"index"`
		Token  string          `json:"token,omitempty"`
		Status string          `json:"status,omitempty"`
		Error  *client.Problem `json:"error,omitempty"`
	}
	var out struct {
		Results []item `json:"results"`
	}
	for i, id := range req.Identities {
		var fe []client.FieldError
		if id.Surname == "" {
			fe = append(fe, client.FieldError{Field: "surname", Reason: "required"})
		}
		if id.Sex == "" {
			fe = append(fe, client.FieldError{Field: "sex", Reason: "must be M, F or X"})
		}
		if fe != nil {
			out.Results = append(out.Results, item{Index: i, Error: &client.Problem{Title: "Invalid input", Status: 422, Errors: fe}})
			continue
		}
		out.Results = append(out.Results, item{Index: i, Token: testToken(id), Status: client.StatusNew})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeTokenAPI) batches() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sizes...)
}

func (f *fakeTokenAPI) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sizes, f.fail = nil, nil
}

// testToken is lowercase hex, so that no uppercase name can be found in it
// by chance.
func testToken(id client.Identity) string {
	h := sha256.Sum256([]byte(id.Surname + "|" + id.GivenNames + "|" + id.BirthDate + "|" + id.CodiceFiscale))
	return "t" + hex.EncodeToString(h[:])[:19]
}

func problem(w http.ResponseWriter, p client.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// testJWT is an unsigned token whose org claim is org: the fake does not
// verify it, the command reads the org.
func testJWT(org string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"EdDSA"}`)) + "." + enc.EncodeToString([]byte(`{"org":"`+org+`"}`)) + ".sig"
}

type tokenizeEnv struct {
	fake     *fakeTokenAPI
	url      string
	dir      string
	in, out  string
	minors   []demo.Minor
	invalid  map[int]string // 1-based row → field the server refuses
	baseArgs []string
}

func newTokenizeEnv(t *testing.T, rows int) *tokenizeEnv {
	t.Helper()
	old := tuneTokenizeClient
	tuneTokenizeClient = func(c *client.Client) { c.MaxAttempts, c.BaseDelay, c.MaxDelay = 2, time.Millisecond, time.Millisecond }
	t.Cleanup(func() { tuneTokenizeClient = old })

	f := &fakeTokenAPI{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e := &tokenizeEnv{fake: f, url: srv.URL, dir: t.TempDir(), invalid: map[int]string{5: "surname", 1800: "sex", 2500: "surname; sex"}}
	e.in, e.out = filepath.Join(e.dir, "minors.csv"), filepath.Join(e.dir, "tokens.csv")
	e.minors = demo.Identities(demo.Options{N: rows, Seed: 11, Now: time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), DuplicateRate: 0.2})
	for row, fields := range e.invalid {
		if row > rows {
			continue
		}
		if strings.Contains(fields, "surname") {
			e.minors[row-1].Identity.Surname = ""
		}
		if strings.Contains(fields, "sex") {
			e.minors[row-1].Identity.Sex = ""
		}
	}
	e.writeInput(t, e.minors)
	e.baseArgs = []string{"tokenize", "--in", e.in, "--out", e.out, "--url", e.url, "--token", testJWT("Z0101")}
	return e
}

func (e *tokenizeEnv) writeInput(t *testing.T, ms []demo.Minor) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, demo.WriteCSV(&buf, ms, true)) // person_id: an extra column, ignored
	require.NoError(t, os.WriteFile(e.in, buf.Bytes(), 0o600))
}

func (e *tokenizeEnv) run(ctx context.Context, t *testing.T, extra ...string) (stderr string, err error) {
	t.Helper()
	var so, se bytes.Buffer
	err = run(ctx, append(append([]string(nil), e.baseArgs...), extra...), &so, &se)
	assert.Empty(t, so.String(), "tokenize writes nothing on stdout")
	return se.String(), err
}

// checkOutput compares the output with what the fake answers for every row.
func (e *tokenizeEnv) checkOutput(t *testing.T) {
	t.Helper()
	f, err := os.Open(e.out)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(e.minors)+1)
	assert.Equal(t, outputHeader, recs[0])
	for i, rec := range recs[1:] {
		row := i + 1
		want := []string{strconv.Itoa(row), testToken(toClientIdentity(e.minors[i])), client.StatusNew, "", ""}
		if fields, bad := e.invalid[row]; bad {
			reasons := map[string]string{"surname": "required", "sex": "must be M, F or X", "surname; sex": "required; must be M, F or X"}
			want = []string{strconv.Itoa(row), "", "error", fields, reasons[fields]}
		}
		if !assert.Equal(t, want, rec, "row %d", row) {
			return
		}
	}
}

// checkNoIdentity scans the output for every name and code of the input.
func (e *tokenizeEnv) checkNoIdentity(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(e.out)
	require.NoError(t, err)
	out := string(data)
	for i, m := range e.minors {
		for _, v := range []string{m.Identity.Surname, m.Identity.GivenNames, m.Identity.CodiceFiscale} {
			if v != "" && strings.Contains(out, v) {
				t.Fatalf("the output contains an identity field of row %d", i+1)
			}
		}
	}
}

func toClientIdentity(m demo.Minor) client.Identity {
	id := m.Identity
	return client.Identity{CodiceFiscale: id.CodiceFiscale, Surname: id.Surname, GivenNames: id.GivenNames,
		BirthDate: id.BirthDate, Sex: id.Sex, BirthPlace: id.BirthPlace, Citizenship: id.Citizenship}
}

func TestTokenizeEndToEnd(t *testing.T) {
	e := newTokenizeEnv(t, 2500)
	stderr, err := e.run(context.Background(), t)
	require.NoError(t, err, stderr)
	assert.Equal(t, []int{1000, 1000, 500}, e.fake.batches())
	e.checkOutput(t)
	e.checkNoIdentity(t)
	assert.NoFileExists(t, e.out+".state", "removed on success")
	assert.Contains(t, stderr, "batch 1/3: 1000/2500 rows")
	assert.Contains(t, stderr, "batch 3/3: 2500/2500 rows (100%)")
	assert.Contains(t, stderr, "tokenized 2500 rows in 3 batches: 2497 new, 0 existing, 0 linked, 3 refused")

	t.Run("existingOutputRefused", func(t *testing.T) {
		e.fake.reset()
		_, err := e.run(context.Background(), t)
		require.ErrorContains(t, err, "exists and no state file")
		assert.Empty(t, e.fake.batches())
		_, err = e.run(context.Background(), t, "--restart", "--batch", "700")
		require.NoError(t, err)
		assert.Equal(t, []int{700, 700, 700, 400}, e.fake.batches())
		e.checkOutput(t)
	})
}

func TestTokenizeResume(t *testing.T) {
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc) func(w http.ResponseWriter, n int) bool
		want string // in the error of the first run
		code int
	}{
		{"interruptedAfterBatch1", func(cancel context.CancelFunc) func(w http.ResponseWriter, n int) bool {
			return func(w http.ResponseWriter, n int) bool {
				cancel() // Ctrl-C while batch 1 is in flight: it completes, batch 2 is not sent
				return false
			}
		}, "interrupted after 1 of 3 batches; run the same command again to resume", 130},
		{"503BeyondRetriesOnBatch2", func(context.CancelFunc) func(w http.ResponseWriter, n int) bool {
			return func(w http.ResponseWriter, n int) bool {
				if n == 1 {
					return false
				}
				problem(w, client.Problem{Title: "Service unavailable", Status: 503, Detail: "key source unreachable"})
				return true
			}
		}, "batch 2 of 3 (rows 1001–2000) failed, 1 batches done are kept", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTokenizeEnv(t, 2500)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e.fake.fail = tt.stop(cancel)
			_, err := e.run(ctx, t)
			require.ErrorContains(t, err, tt.want)
			var ee *exitError
			if tt.code != 1 {
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, tt.code, ee.code)
			} else {
				assert.False(t, errors.As(err, &ee), "exit code 1")
			}
			require.FileExists(t, e.out+".state")
			if tt.code == 1 {
				assert.Contains(t, err.Error(), "503 Service unavailable: key source unreachable")
			}

			// A crash while writing batch 2 leaves part of it behind.
			f, err := os.OpenFile(e.out, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString("1001,tpartial,new,,\n1002,t")
			require.NoError(t, err)
			require.NoError(t, f.Close())

			e.fake.reset()
			stderr, err := e.run(context.Background(), t)
			require.NoError(t, err, stderr)
			assert.Equal(t, []int{1000, 500}, e.fake.batches(), "only batches 2 and 3 are sent")
			assert.Contains(t, stderr, "resuming: 1 of 3 batches already done")
			assert.Contains(t, stderr, "discarding a partial batch")
			e.checkOutput(t)
			e.checkNoIdentity(t)
			assert.NoFileExists(t, e.out+".state")
		})
	}
}

func TestTokenizeResumeRefused(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, e *tokenizeEnv) []string // extra args of the rerun
		want   string
	}{
		{"inputChanged", func(t *testing.T, e *tokenizeEnv) []string {
			ms := append([]demo.Minor(nil), e.minors...)
			ms[0].Identity.GivenNames += "X"
			e.minors = ms
			e.writeInput(t, ms)
			return nil
		}, "the input changed"},
		{"batchSizeChanged", func(t *testing.T, e *tokenizeEnv) []string { return []string{"--batch", "500"} }, "--batch 1000"},
		{"otherOrganisation", func(t *testing.T, e *tokenizeEnv) []string { return []string{"--token", testJWT("Z0202")} }, `organisation "Z0101", not "Z0202"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTokenizeEnv(t, 2500)
			e.fake.fail = func(w http.ResponseWriter, n int) bool {
				if n == 2 {
					problem(w, client.Problem{Title: "Forbidden", Status: 403, Detail: "role may not tokenise"})
					return true
				}
				return false
			}
			_, err := e.run(context.Background(), t)
			require.ErrorContains(t, err, "batch 2 of 3")
			assert.ErrorContains(t, err, "403 Forbidden: role may not tokenise")

			e.fake.reset()
			extra := tt.change(t, e)
			_, err = e.run(context.Background(), t, extra...)
			require.ErrorContains(t, err, tt.want)
			assert.ErrorContains(t, err, "--restart")
			assert.Empty(t, e.fake.batches(), "nothing sent")

			stderr, err := e.run(context.Background(), t, append(extra, "--restart")...)
			require.NoError(t, err, stderr)
			sent := 0
			for _, n := range e.fake.batches() {
				sent += n
			}
			assert.Equal(t, 2500, sent, "--restart sends every row again")
			e.checkOutput(t)
		})
	}
}

func TestTokenizeInput(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
		want    []string // output lines after the header
	}{
		{"semicolonBOMReordered", "\ufeffSex;Surname;Given_Names;note;Birth_Date\nM;ROSSI;MARIO;x;2015-01-02\n;BIANCHI;ANNA;y;2016-02-03\nF;;LUCIA;z;2017-03-04\n", "",
			[]string{"1,t,new,,", "2,,error,sex,\"must be M, F or X\"", "3,,error,surname,required"}},
		{"quotedCommas", "surname,given_names,birth_date,sex,codice_fiscale\n\"D'ANGELO, JR\",LUCA,2015-01-02,M,\n", "", []string{"1,t,new,,"}},
		{"missingRequired", "surname,given_names,sex\nROSSI,MARIO,M\n", `lacks the required column "birth_date"`, nil},
		{"duplicateColumn", "surname,surname,given_names,birth_date,sex\n", `column "surname" twice`, nil},
		{"raggedRow", "surname,given_names,birth_date,sex\nROSSI,MARIO,2015-01-02\n", "wrong number of fields", nil},
		{"empty", "", "empty file", nil},
		{"headerOnly", "surname,given_names,birth_date,sex\n", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTokenizeEnv(t, 0)
			require.NoError(t, os.WriteFile(e.in, []byte(tt.input), 0o600))
			stderr, err := e.run(context.Background(), t, "--batch", "2")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Empty(t, e.fake.batches())
				assert.NotContains(t, err.Error(), "ROSSI", "no identity in errors")
				return
			}
			require.NoError(t, err, stderr)
			data, err := os.ReadFile(e.out)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			require.Len(t, lines, len(tt.want)+1)
			for i, w := range tt.want {
				got := lines[i+1]
				if strings.HasPrefix(w, strconv.Itoa(i+1)+",t,") { // a token: check its shape only
					assert.Regexp(t, `^\d+,t[0-9a-f]{19},new,,$`, got)
					continue
				}
				assert.Equal(t, w, got)
			}
		})
	}
}

func TestTokenizeWholeBatchRefused(t *testing.T) {
	e := newTokenizeEnv(t, 30)
	e.fake.fail = func(w http.ResponseWriter, n int) bool {
		problem(w, client.Problem{Title: "Unauthorized", Status: 401, Detail: "token expired"})
		return true
	}
	_, err := e.run(context.Background(), t)
	require.ErrorContains(t, err, "batch 1 of 1 (rows 1–30) failed, 0 batches done are kept")
	assert.ErrorContains(t, err, "401 Unauthorized: token expired")
	assert.Equal(t, []int{30}, e.fake.batches(), "401 is not retried")
}

func TestTokenizeFlags(t *testing.T) {
	t.Setenv("SIRM_TOKEN", "secret-jwt-value")
	t.Setenv("SIRM_URL", "http://sirm.test:9000")
	var so, se bytes.Buffer
	err := run(context.Background(), []string{"tokenize", "--help"}, &so, &se)
	require.ErrorIs(t, err, flag.ErrHelp)
	help := se.String()
	for _, s := range []string{"--in", "--out", "--url", "SIRM_URL", "--token", "SIRM_TOKEN", "--batch", "--state", "--restart", "(secret, not shown)"} {
		assert.Contains(t, help, s)
	}
	assert.NotContains(t, help, "secret-jwt-value")

	for _, args := range [][]string{
		{"tokenize", "--out", "x.csv"},
		{"tokenize", "--in", "x.csv", "--out", "y.csv", "--batch", "1001"},
		{"tokenize", "--in", "x.csv", "--out", "y.csv", "--url", "ftp://x"},
	} {
		err := run(context.Background(), args, &so, &se)
		var ee *exitError
		require.ErrorAs(t, err, &ee, "%v", args)
		assert.Equal(t, 2, ee.code)
	}
}

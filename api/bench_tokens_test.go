package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
)

func identityRequests(ms []demo.Minor) []identityRequest {
	out := make([]identityRequest, len(ms))
	for i, m := range ms {
		id := m.Identity
		out[i] = identityRequest{CodiceFiscale: id.CodiceFiscale, Surname: id.Surname, GivenNames: id.GivenNames,
			BirthDate: id.BirthDate, Sex: id.Sex, BirthPlace: id.BirthPlace, Citizenship: id.Citizenship}
	}
	return out
}

// prfOnly evaluates the match keys of ids as the service would, without
// the database: validation, key values and the PRF, in batches of 1000.
func prfOnly(b *testing.B, prf linkage.PRF, ids []demo.Minor) (keys int) {
	for start := 0; start < len(ids); start += MaxBatch {
		var inputs [][]byte
		for _, m := range ids[start:min(start+MaxBatch, len(ids))] {
			n, err := linkage.Normalize(m.Identity, linkage.Policy{MaxAgeYears: 21})
			if err != nil {
				b.Fatalf("demo identity invalid: %v", err)
			}
			for _, kv := range n.KeyValues() {
				inputs = append(inputs, linkage.PRFInput(kv))
			}
		}
		if _, err := prf.Eval(context.Background(), inputs); err != nil {
			b.Fatal(err)
		}
		keys += len(inputs)
	}
	return keys
}

// BenchmarkTokensBatchVsPRF resolves 10 000 new identities through POST
// /v1/tokens/batch over loopback HTTP against the real PostgreSQL, and
// evaluates the same identities' match-key PRFs alone in the same process;
// it reports both rates and their ratio, for each backend.
func BenchmarkTokensBatchVsPRF(b *testing.B) {
	for _, backend := range []string{linkage.BackendOPRF, linkage.BackendHMAC} {
		b.Run(backend, func(b *testing.B) {
			testPRF = backend
			defer func() { testPRF = linkage.BackendHMAC }()
			const n = 10000
			var apiTime, prfTime time.Duration
			keys := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				env := newTestEnv(b)
				srv := httptest.NewServer(env.srv.Handler())
				tok := env.token(b, authn.RoleServiceOperator, "FIORENTINA")
				ids := demo.Identities(demo.Options{N: n, Seed: int64(i + 1)})
				reqs := identityRequests(ids)
				b.StartTimer()

				t0 := time.Now()
				keys = prfOnly(b, env.prf, ids)
				prfTime += time.Since(t0)

				t0 = time.Now()
				postBatches(b, srv.URL, tok, reqs)
				apiTime += time.Since(t0)
				b.StopTimer()
				srv.Close()
				b.StartTimer()
			}
			apiRate := float64(n*b.N) / apiTime.Seconds()
			prfRate := float64(n*b.N) / prfTime.Seconds()
			b.ReportMetric(apiRate, "api-ids/s")
			b.ReportMetric(prfRate, "prf-only-ids/s")
			b.ReportMetric(apiRate/prfRate*100, "ratio-%")
			b.ReportMetric(float64(keys)/n, "keys/id")
		})
	}
}

// BenchmarkTokensBatchFuzzyVsExact resolves the same 10 000 new
// identities through POST /v1/tokens/batch (batches of 1000, loopback
// HTTP, real PostgreSQL) on a server with exact matching only and on one
// with fuzzy matching on, in one run, alternating which goes first, and
// reports both rates and the share fuzzy matching keeps.
func BenchmarkTokensBatchFuzzyVsExact(b *testing.B) {
	for _, backend := range []string{linkage.BackendOPRF, linkage.BackendHMAC} {
		b.Run(backend, func(b *testing.B) {
			testPRF = backend
			defer func() { testPRF = linkage.BackendHMAC }()
			const n = 10000
			var times [2]time.Duration // exact, fuzzy
			for i := 0; i < b.N; i++ {
				ids := identityRequests(demo.Identities(demo.Options{N: n, Seed: int64(i + 1)}))
				for k := range 2 {
					fuzzy := (i+k)%2 == 1
					b.StopTimer()
					if fuzzy {
						testBloomKey = bytes.Repeat([]byte{0x3c}, 32)
					}
					env := newTestEnv(b)
					testBloomKey = nil
					srv := httptest.NewServer(env.srv.Handler())
					tok := env.token(b, authn.RoleServiceOperator, "FIORENTINA")
					b.StartTimer()
					t0 := time.Now()
					postBatches(b, srv.URL, tok, ids)
					if fuzzy {
						times[1] += time.Since(t0)
					} else {
						times[0] += time.Since(t0)
					}
					b.StopTimer()
					srv.Close()
					b.StartTimer()
				}
			}
			exact := float64(n*b.N) / times[0].Seconds()
			fuzzy := float64(n*b.N) / times[1].Seconds()
			b.ReportMetric(exact, "exact-ids/s")
			b.ReportMetric(fuzzy, "fuzzy-ids/s")
			b.ReportMetric(fuzzy/exact*100, "fuzzy/exact-%")
		})
	}
}

// postBatches posts ids to POST /v1/tokens/batch in batches of MaxBatch
// and fails on any error.
func postBatches(b *testing.B, url, tok string, ids []identityRequest) {
	for start := 0; start < len(ids); start += MaxBatch {
		body, _ := json.Marshal(batchRequest{Identities: ids[start:min(start+MaxBatch, len(ids))]})
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/tokens/batch", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out batchResponse
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		for _, r := range out.Results {
			if r.Error != nil {
				b.Fatalf("identity %d rejected: %+v", r.Index, r.Error)
			}
		}
	}
}

// BenchmarkTokenKnownMinor measures POST /v1/tokens for minors already
// known, from 32 concurrent clients over loopback HTTP, for each backend,
// and reports p50 and p99.
func BenchmarkTokenKnownMinor(b *testing.B) {
	for _, backend := range []string{linkage.BackendOPRF, linkage.BackendHMAC} {
		b.Run(backend, func(b *testing.B) {
			testPRF = backend
			defer func() { testPRF = linkage.BackendHMAC }()
			benchmarkTokenKnownMinor(b)
		})
	}
}

func benchmarkTokenKnownMinor(b *testing.B) {
	env := newTestEnv(b, func(o *Options) { o.RatePerSecond = 0 })
	srv := httptest.NewServer(env.srv.Handler())
	defer srv.Close()
	tok := env.token(b, authn.RoleFacilityOperator, "ASSO-000001")
	ids := identityRequests(demo.Identities(demo.Options{N: 500, Seed: 7}))
	seed, _ := json.Marshal(batchRequest{Identities: ids})
	post := func(client *http.Client, path string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(http.DefaultClient, "/v1/tokens/batch", seed); code != http.StatusOK {
		b.Fatalf("seeding: %d", code)
	}
	bodies := make([][]byte, len(ids))
	for i, id := range ids {
		bodies[i], _ = json.Marshal(tokenRequest{Identity: &id})
	}
	const clients = 32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
		next = make(chan int)
	)
	b.ResetTimer()
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			var local []time.Duration
			for i := range next {
				t0 := time.Now()
				if code := post(client, "/v1/tokens", bodies[i%len(bodies)]); code != http.StatusOK {
					b.Errorf("status %d", code)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
}

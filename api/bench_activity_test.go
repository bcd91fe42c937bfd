package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// tokensOf resolves n demo identities in domain, through the service (not
// HTTP), and returns their tokens and persons.
func tokensOf(b *testing.B, env *testEnv, domain string, n int, seed int64) ([]string, []linkage.PersonID) {
	b.Helper()
	ms := demo.Identities(demo.Options{N: n, Seed: seed})
	var (
		toks    []string
		persons []linkage.PersonID
	)
	for start := 0; start < len(ms); start += MaxBatch {
		var ids []linkage.Identity
		for _, m := range ms[start:min(start+MaxBatch, len(ms))] {
			ids = append(ids, m.Identity)
		}
		rs, err := env.srv.linkage.Resolve(context.Background(), domain, ids, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			toks, persons = append(toks, r.Token.String()), append(persons, r.Person)
		}
	}
	return toks, persons
}

// vmHWM returns the process's peak resident set (VmHWM) in MiB, or 0 where
// /proc is not available.
func vmHWM() float64 { return procStatus("VmHWM:") }

// vmRSS returns the process's resident set (VmRSS) in MiB.
func vmRSS() float64 { return procStatus("VmRSS:") }

func procStatus(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// resetHWM resets VmHWM to the current RSS (Linux ≥ 4.0).
func resetHWM() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkSinbaFlow10k posts a 10 000-record SINBA flow (XML, tokens of
// the sender's domain, all new case files) to POST /v1/sinba/flows over
// loopback HTTP against the real PostgreSQL. The body is generated while
// it is sent (a pipe), so neither side holds the flow. It reports records
// per second, the flow's size, and the peak RSS of the process (client,
// server and the 10 000 records generated in advance, together) while it
// is processed, measured from a reset of VmHWM, beside the RSS before.
func BenchmarkSinbaFlow10k(b *testing.B) {
	const n = 10000
	var (
		elapsed time.Duration
		peak    float64
		base    float64
		size    int64
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env := newTestEnv(b)
		srv := httptest.NewServer(env.srv.Handler())
		tok := env.token(b, authn.RoleServiceOperator, "FIORENTINA")
		toks, _ := tokensOf(b, env, "FIORENTINA", n, int64(i+1))
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		now := time.Now()
		recs := make([]sinba.Record, n)
		for j := range recs {
			recs[j] = sinbatest.Record(rng, toks[j], now)
		}
		runtime.GC()
		resetHWM()
		base = max(base, vmRSS())
		b.StartTimer()

		pr, pw := io.Pipe()
		counter := &countingWriter{w: pw}
		go func() {
			wr, err := sinba.NewWriter(counter, sinbatest.Header("BENCH-"+strconv.Itoa(i)))
			if err == nil {
				for j := range recs {
					if err = wr.Write(&recs[j]); err != nil {
						break
					}
				}
				if err == nil {
					err = wr.Close()
				}
			}
			pw.CloseWithError(err)
		}()
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/sinba/flows", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var fr flowResponse
		err = json.NewDecoder(resp.Body).Decode(&fr)
		resp.Body.Close()
		elapsed += time.Since(t0)
		b.StopTimer()
		if err != nil || resp.StatusCode != http.StatusOK || len(fr.Results) != n {
			b.Fatalf("status %d, %d results, %v", resp.StatusCode, len(fr.Results), err)
		}
		if fr.Summary["error"] > 0 {
			b.Fatalf("%d records failed", fr.Summary["error"])
		}
		peak = max(peak, vmHWM())
		size = counter.n
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(base, "RSS-before-MiB")
	b.ReportMetric(float64(size)/(1<<20), "flow-MiB")
}

// activityFacilityForBench registers and approves a facility with 200
// places through the registry service and returns its regional code.
func activityFacilityForBench(b *testing.B, env *testEnv) string {
	b.Helper()
	raw, _ := json.Marshal(facilityDoc(func(m map[string]any) { m["authorised_places"] = 200 }))
	var body facilityBody
	if err := json.Unmarshal(raw, &body); err != nil {
		b.Fatal(err)
	}
	d, err := body.toData()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	admin := registry.Actor{Subject: "bench", Role: string(authn.RoleAdmin), Org: "REGIONE", Region: true}
	f, err := env.srv.registry.Create(ctx, admin, d, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []registry.Change{registry.ChangeSubmit, registry.ChangeApprove} {
		if f, err = env.srv.registry.Transition(ctx, admin, f.Ref(), c, f.Version, "", nil); err != nil {
			b.Fatal(err)
		}
	}
	return string(f.Code)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkMinorGET32 measures GET /v1/minors/{token} as a service (its
// case file, the minor's stays with activities; audited) with 32
// concurrent clients over loopback HTTP, over 500 minors, and reports p50
// and p99.
func BenchmarkMinorGET32(b *testing.B) {
	const minors = 500
	env := newTestEnv(b)
	srv := httptest.NewServer(env.srv.Handler())
	defer srv.Close()
	ctx := context.Background()
	fac := activityFacilityForBench(b, env)
	toks, persons := tokensOf(b, env, "FIORENTINA", minors, 42)
	svcActor := activity.Actor{Subject: "bench", Role: string(authn.RoleServiceOperator), Org: "FIORENTINA"}
	facActor := activity.Actor{Subject: "bench", Role: string(authn.RoleFacilityOperator), Org: fac}
	rng := rand.New(rand.NewPCG(42, 42))
	day := activity.Day(time.Now()).AddDate(0, 0, -30)
	for i, p := range persons {
		rec := sinbatest.Record(rng, "", time.Now())
		rec.IDBeneficiario, rec.MotivazioneChiusuraCarico, rec.SituazioneChiusuraCarico = "", nil, nil
		if _, err := env.srv.activity.OpenCase(ctx, svcActor, p, day, rec, nil); err != nil {
			b.Fatalf("minor %d: %v", i, err)
		}
		st, _, err := env.srv.activity.Admit(ctx, facActor, p, activity.Admission{Date: day, SendingZone: "FIORENTINA", Form: activity.FormJudicial}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.srv.activity.AddActivity(ctx, facActor, st.ID, activity.StayActivity{Kind: activity.ActivitySchool, Date: day,
			Fields: map[string]string{"school": "5"}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	tok := env.token(b, authn.RoleServiceOperator, "FIORENTINA")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		mu   sync.Mutex
		lats []time.Duration
		next int64
	)
	b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			mu.Lock()
			next++
			i := next
			mu.Unlock()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/minors/"+toks[int(i)%minors], nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			local = append(local, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(((32+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))*runtime.GOMAXPROCS(0)), "clients")
	}
}

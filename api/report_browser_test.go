package api

import (
	"bufio"
	"bytes"
	"context"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/authn"
)

// chromiumConsole opens url in headless Chromium, saves a screenshot to
// png and returns the console messages and uncaught errors it logged.
func chromiumConsole(t *testing.T, bin, url, shot string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--screenshot="+shot, "--window-size=1280,2000", url)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())
	// The page has no script: any console message (a refused style, a
	// failed load) is an error, whatever level Chromium prints it at.
	var msgs []string
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			msgs = append(msgs, l)
		}
	}
	return msgs
}

// TestReportPageInChromium fetches the HTML census as an analyst through
// the API, with the API's own headers (its Content-Security-Policy above
// all), and opens it in headless Chromium: the page must render without a
// console message, and the screenshot must show the tables and charts.
func TestReportPageInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed: scripts/test.sh installs it when run as root (apt-get install chromium)")
	}
	env := newTestEnv(t)
	seedDemoRegistry(t, env)
	seedDemoActivity(t, env, 300)
	analyst := env.token(t, authn.RoleRegionAnalyst, "REGIONE")

	// Chromium sends no bearer token: this local server adds the
	// analyst's to the one request it forwards (/NAME.html is report NAME
	// as a page), and answers with the API's response, headers included.
	// strict makes the last run swap the CSP; atomic, as Chromium may
	// still be fetching when it is set.
	var strict atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".html")
		if !ok {
			http.NotFound(w, r)
			return
		}
		query := "?format=html"
		if name == "facility-census" {
			query += "&date=" + demoDay
		}
		req := httptest.NewRequest(http.MethodGet, "/v1/reports/"+name+query, nil)
		req.Header.Set("Authorization", "Bearer "+analyst)
		rec := httptest.NewRecorder()
		env.srv.Handler().ServeHTTP(rec, req)
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		if strict.Load() {
			w.Header().Set("Content-Security-Policy", "default-src 'none'")
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer proxy.Close()

	for _, d := range env.srv.reports.All() {
		t.Run(d.Name, func(t *testing.T) {
			shot := filepath.Join(t.TempDir(), d.Name+".png")
			msgs := chromiumConsole(t, bin, proxy.URL+"/"+d.Name+".html", shot)
			assert.Empty(t, msgs, "console messages")

			f, err := os.Open(shot)
			require.NoError(t, err, "no screenshot")
			defer f.Close()
			img, err := png.Decode(f)
			require.NoError(t, err)
			b := img.Bounds()
			assert.GreaterOrEqual(t, b.Dx(), 1000)
			assert.GreaterOrEqual(t, b.Dy(), 1000)
			colours := map[color.RGBA]int{}
			for y := b.Min.Y; y < b.Max.Y; y += 2 {
				for x := b.Min.X; x < b.Max.X; x += 2 {
					r, g, bl, _ := img.At(x, y).RGBA()
					colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}]++
				}
			}
			assert.Greater(t, len(colours), 10, "the screenshot is (nearly) one colour")
			bars := colours[color.RGBA{0x2f, 0x6f, 0x9f, 255}]
			assert.Greater(t, bars, 50, "the bar charts' colour (#2f6f9f) is missing: the SVG or its CSS did not render")
			t.Logf("%s: screenshot %dx%d, %d colours, %d bar pixels sampled", d.Name, b.Dx(), b.Dy(), len(colours), bars)
		})
	}

	// The check catches what it is for: under the API's default policy
	// (no inline style) Chromium refuses the page's CSS and says so.
	strict.Store(true)
	msgs := chromiumConsole(t, bin, proxy.URL+"/facility-census.html", filepath.Join(t.TempDir(), "refused.png"))
	assert.NotEmpty(t, msgs, "a refused inline style is not detected")
}

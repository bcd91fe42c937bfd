// Package tests holds sirm's black-box end-to-end tests: they build the
// sirm binary, run it as a separate process against a real PostgreSQL and
// talk to it over HTTP and its command line, as an operator would.
package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgtest"
)

var sirmBin string

// captured holds every server log of the run, scanned by TestMain at the end.
var captured struct {
	mu         sync.Mutex
	logs       map[string][]byte // by test name
	keyrings   [][]byte
	tokens     []string
	identities []string // upper case
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sirm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sirmBin = filepath.Join(dir, "sirm")
	build := exec.Command("go", "build", "-o", sirmBin, "../cmd/sirm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sirm:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if problems := scanLogs(); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "log scan failed:\n  "+strings.Join(problems, "\n  "))
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var logNoise = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T[0-9:.]+Z|"ORG":"[^"]*"|\b[0-9A-F]{32}\b`)

var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`)

// scanLogs looks through every captured server log for a JWT, a token the
// tests used, or any key of any keyring the servers used.
func scanLogs() []string {
	captured.mu.Lock()
	defer captured.mu.Unlock()
	var secrets [][]byte
	for _, raw := range captured.keyrings {
		var kr struct {
			Secrets map[string][]struct {
				Material []byte `json:"material"`
			} `json:"secrets"`
		}
		if err := json.Unmarshal(raw, &kr); err != nil {
			return []string{fmt.Sprintf("parse keyring: %v", err)}
		}
		for _, versions := range kr.Secrets {
			for _, v := range versions {
				secrets = append(secrets, v.Material)
			}
		}
	}
	if len(secrets) == 0 || len(captured.logs) == 0 {
		return []string{"nothing was captured: the scan would prove nothing"}
	}
	var problems []string
	lines := 0
	for name, logs := range captured.logs {
		lines += bytes.Count(logs, []byte("\n"))
		if m := jwtPattern.Find(logs); m != nil {
			problems = append(problems, fmt.Sprintf("the log of %s holds a JWT (%s…)", name, m[:16]))
		}
		// Log times and the test's own organisation codes are not identities
		// (FIORENTINA holds the surname FIORE): masked before the scan.
		upper := logNoise.ReplaceAll(bytes.ToUpper(logs), []byte("#"))
		for _, id := range captured.identities {
			if bytes.Contains(upper, []byte(id)) {
				problems = append(problems, "the log of "+name+" holds an identity value")
				break
			}
		}
		for _, tok := range captured.tokens {
			if i := strings.LastIndexByte(tok, '.'); i > 0 && bytes.Contains(logs, []byte(tok[i+1:])) {
				problems = append(problems, "the log of "+name+" holds a token signature")
			}
		}
		for _, s := range secrets {
			for _, enc := range []string{base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s), hex.EncodeToString(s)} {
				if bytes.Contains(logs, []byte(enc)) {
					problems = append(problems, "the log of "+name+" holds key material")
				}
			}
		}
	}
	if lines == 0 {
		problems = append(problems, "the server logs are empty: the scan would prove nothing")
	}
	return problems
}

// instance is one sirm deployment: a database, a keyring, and maybe a
// running server.
type instance struct {
	t       *testing.T
	dir     string
	dbURL   string
	keyring string
	addr    string
	cmd     *exec.Cmd
	logPath string
	exited  chan error
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{t: t, dir: dir, dbURL: pgtest.URL(t), keyring: filepath.Join(dir, "keyring.json")}
	// Registered after TempDir, so it runs before the directory goes (and
	// after the server is stopped, which start registers later).
	t.Cleanup(in.capture)
	in.sirm("keys", "init")
	return in
}

// capture keeps the keyring and the server log for the scan of TestMain.
func (in *instance) capture() {
	captured.mu.Lock()
	defer captured.mu.Unlock()
	if kr, err := os.ReadFile(in.keyring); err == nil {
		captured.keyrings = append(captured.keyrings, kr)
	}
	if in.logPath != "" {
		if logs, err := os.ReadFile(in.logPath); err == nil {
			if captured.logs == nil {
				captured.logs = map[string][]byte{}
			}
			captured.logs[in.t.Name()] = logs
		}
	}
}

func (in *instance) env(extra ...string) []string {
	env := append(os.Environ(),
		"SIRM_DATABASE_URL="+in.dbURL,
		"SIRM_KEYRING="+in.keyring,
		"SIRM_KEYS=file",
		"SIRM_ENV=development",
	)
	return append(env, extra...)
}

// run runs the sirm command line and returns stdout, stderr and the exit code.
func (in *instance) run(env []string, args ...string) (string, string, int) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sirmBin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(in.t, ok, "run sirm %v: %v", args, err)
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// sirm runs a command that must succeed and returns its stdout.
func (in *instance) sirm(args ...string) string {
	in.t.Helper()
	out, errOut, code := in.run(in.env(), args...)
	require.Equal(in.t, 0, code, "sirm %v: %s", args, errOut)
	return out
}

func (in *instance) devToken(role, org string) string {
	in.t.Helper()
	tok := strings.TrimSpace(in.sirm("dev-token", "--role", role, "--org", org))
	captured.mu.Lock()
	captured.tokens = append(captured.tokens, tok)
	captured.mu.Unlock()
	return tok
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// start runs `sirm migrate` and `sirm serve` and waits until /status
// answers 200; it returns how long that took after serve started.
func (in *instance) start() time.Duration {
	t := in.t
	t.Helper()
	in.sirm("migrate")
	in.addr = freeAddr(t)
	in.logPath = filepath.Join(in.dir, "server.log")
	logf, err := os.Create(in.logPath)
	require.NoError(t, err)
	in.cmd = exec.Command(sirmBin, "serve", "--listen", in.addr)
	in.cmd.Env = in.env()
	in.cmd.Stdout, in.cmd.Stderr = logf, logf
	begin := time.Now()
	require.NoError(t, in.cmd.Start())
	in.exited = make(chan error, 1)
	go func() { in.exited <- in.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if in.cmd.ProcessState == nil {
			_ = in.cmd.Process.Kill()
			<-in.exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(in.url("/status"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(begin)
			}
		}
		select {
		case err := <-in.exited:
			logs, _ := os.ReadFile(in.logPath)
			t.Fatalf("sirm serve exited early (%v): %s", err, logs)
		default:
		}
		require.True(t, time.Now().Before(deadline), "sirm serve did not answer /status within 30s")
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit error of the server.
func (in *instance) stop() error {
	in.t.Helper()
	require.NoError(in.t, in.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-in.exited:
		return err
	case <-time.After(30 * time.Second):
		in.t.Fatal("sirm serve did not stop within 30s of SIGTERM")
		return nil
	}
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (in *instance) get(path, token string) response {
	in.t.Helper()
	return in.do(http.MethodGet, path, token, "", nil)
}

func (in *instance) do(method, path, token, ctype string, body io.Reader) response {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url(path), body)
	require.NoError(in.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(in.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

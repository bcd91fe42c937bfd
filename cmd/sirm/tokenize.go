package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/toscana/sirm/client"
	"github.com/toscana/sirm/linkage"
)

const tokenizeSummary = `Tokenize the identities of a CSV file through the token API, in batches,
writing one line per input row: row,token,status,error_field,error_reason.
The output holds row numbers and tokens only, never the identities.

The input has a header naming its columns, in any order (others are ignored):
surname, given_names, birth_date, sex (required), codice_fiscale, birth_place,
citizenship (optional). UTF-8, with or without BOM; ',' or ';' delimited.

The output is written batch by batch and synced; a state file records the
batches done, so that running the same command again after a failure or
Ctrl-C resumes where it stopped. It is removed on success.

With --blind the identities never leave this machine: the match keys are
computed here, evaluated blindly by the server's OPRF (its proof checked
against the server's public key, pinned with --oprf-fingerprint), and only
their digests with sex, birth year and month and citizenship group are sent.
The tokens are the same. Blind mode counts against the organisation's daily
quota of OPRF evaluations (about 12 per identity).`

// tokenizeInterruptGrace is how long the batch in flight may still take
// after Ctrl-C, so that its tokens are kept; past it the batch is dropped.
var tokenizeInterruptGrace = 30 * time.Second

// tuneTokenizeClient lets tests shorten the client's retry delays.
var tuneTokenizeClient = func(*client.Client) {}

type tokenizeOptions struct {
	in, out, state string
	url, token     string
	batch          int64
	restart        bool
	blind          bool
	fingerprint    string
	maxAge         int64
}

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o tokenizeOptions
	s := newSettings("tokenize", tokenizeSummary)
	s.fs.SetOutput(stderr)
	s.str(&o.in, "in", "", "", "input CSV of identities (required)", false)
	s.str(&o.out, "out", "", "", "output CSV of tokens (required)", false)
	s.str(&o.url, "url", "SIRM_URL", "http://127.0.0.1:8080", "base URL of the sirm server", false)
	s.str(&o.token, "token", "SIRM_TOKEN", "", "bearer JWT of the caller (required)", true)
	s.int64(&o.batch, "batch", "", client.MaxBatch, "identities per request, 1 to 1000")
	s.str(&o.state, "state", "", "", "state file for resuming", false)
	s.docs[len(s.docs)-1].def = "OUT.state"
	s.boolean(&o.restart, "restart", "", false, "discard the state and the output of an earlier run and start over")
	s.boolean(&o.blind, "blind", "SIRM_BLIND", false, "blind mode: send match-key digests computed through the server's OPRF, never the identities")
	s.str(&o.fingerprint, "oprf-fingerprint", "SIRM_OPRF_FINGERPRINT", "", "blind mode: the server's OPRF key fingerprint (oprf:sha256:…) to pin; empty trusts the key the server presents", false)
	s.int64(&o.maxAge, "max-age", "SIRM_MAX_AGE", 21, "blind mode: refuse identities older than this many years, as the server does (0: no limit)")
	if err := s.parse(args); err != nil {
		return err
	}
	switch {
	case o.in == "" || o.out == "":
		return &exitError{code: 2, msg: "tokenize needs --in and --out (see --help)"}
	case o.token == "":
		return &exitError{code: 2, msg: "tokenize needs --token or SIRM_TOKEN (see --help)"}
	case o.batch < 1 || o.batch > client.MaxBatch:
		return &exitError{code: 2, msg: fmt.Sprintf("--batch %d: use 1 to %d", o.batch, client.MaxBatch)}
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &exitError{code: 2, msg: fmt.Sprintf("--url %q: not an http(s) URL", o.url)}
	}
	if o.state == "" {
		o.state = o.out + ".state"
	}
	c := &client.Client{BaseURL: o.url, Token: o.token, UserAgent: "sirm-tokenize"}
	tuneTokenizeClient(c)
	return tokenize(ctx, o, c, stderr)
}

// batcher resolves one batch of identities: the client itself, or its
// blind mode.
type batcher interface {
	TokenizeBatch(ctx context.Context, ids []client.Identity) ([]client.Result, error)
}

// tokenizeState is the state file: what identifies the run, and how far it
// got. OutputSize is the length of the output after the last complete
// batch; anything past it is a partial batch to discard.
type tokenizeState struct {
	Version     int              `json:"version"`
	Input       inputFingerprint `json:"input"`
	URL         string           `json:"url"`
	Org         string           `json:"org,omitempty"`
	BatchSize   int              `json:"batch_size"`
	Rows        int64            `json:"rows"`
	BatchesDone int              `json:"batches_done"`
	OutputSize  int64            `json:"output_size"`
	Counts      map[string]int64 `json:"counts"`
}

// inputFingerprint tells whether the input changed since the state was
// written. Head is a hash of the first 64 KiB (the header and the first
// rows): of many rows at once, so that it fingerprints no single minor.
type inputFingerprint struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	Head    string    `json:"head_sha256"`
}

func (a inputFingerprint) same(b inputFingerprint) bool {
	return a.Size == b.Size && a.ModTime.Equal(b.ModTime) && a.Head == b.Head
}

const tokenizeStateVersion = 1

var outputHeader = []string{"row", "token", "status", "error_field", "error_reason"}

func tokenize(ctx context.Context, o tokenizeOptions, c *client.Client, stderr io.Writer) error {
	fp, err := fingerprint(o.in)
	if err != nil {
		return err
	}
	total, err := countRows(o.in)
	if err != nil {
		return err
	}
	batch := int(o.batch)
	batches := int((total + o.batch - 1) / o.batch)
	want := tokenizeState{
		Version: tokenizeStateVersion, Input: fp, URL: o.url, Org: jwtOrg(o.token),
		BatchSize: batch, Rows: total, Counts: map[string]int64{},
	}

	st, out, err := openRun(o, want, stderr)
	if err != nil {
		return err
	}
	defer out.Close()

	in, err := openInput(o.in)
	if err != nil {
		return err
	}
	defer in.Close()
	skip := int64(st.BatchesDone) * o.batch
	for i := int64(0); i < skip; i++ {
		if _, err := in.next(); err != nil {
			return fmt.Errorf("input: skip the %d rows done: %w", skip, err)
		}
	}

	// Ctrl-C lets the batch in flight finish, within a grace period, so
	// that its tokens are kept; then the loop stops.
	reqCtx, cancelReq := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReq()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(tokenizeInterruptGrace, cancelReq) })
	defer stopGrace()

	var bt batcher = c
	if o.blind {
		bt = &client.Blind{Client: c, Fingerprint: o.fingerprint, Policy: linkage.Policy{MaxAgeYears: int(o.maxAge)}}
	}
	prog := newProgress(stderr, total, skip, batches)
	ids := make([]client.Identity, 0, batch)
	var buf bytes.Buffer
	for b := st.BatchesDone; b < batches; b++ {
		if ctx.Err() != nil {
			prog.abort()
			return interrupted(st.BatchesDone, batches)
		}
		ids = ids[:0]
		first := int64(b)*o.batch + 1
		for len(ids) < batch {
			id, err := in.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("input: %w", err)
			}
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return fmt.Errorf("input: ended at row %d, before the %d rows counted; did it change during the run?", first-1, total)
		}
		rs, err := bt.TokenizeBatch(reqCtx, ids)
		if err != nil {
			prog.abort()
			if ctx.Err() != nil {
				return interrupted(st.BatchesDone, batches)
			}
			return fmt.Errorf("batch %d of %d (rows %d–%d) failed, %d batches done are kept; fix the cause and run the same command again to resume: %w",
				b+1, batches, first, first+int64(len(ids))-1, st.BatchesDone, err)
		}
		buf.Reset()
		if err := writeResults(&buf, first, rs, st.Counts); err != nil {
			return err
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		if err := out.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", o.out, err)
		}
		st.BatchesDone++
		st.OutputSize += int64(buf.Len())
		if err := saveState(o.state, st); err != nil {
			return err
		}
		prog.batchDone(st.BatchesDone, int64(len(ids)))
	}
	prog.finish()
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", o.out, err)
	}
	if err := os.Remove(o.state); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the state file: %w", err)
	}
	n := st.Counts
	fmt.Fprintf(stderr, "tokenized %d rows in %d batches: %d new, %d existing, %d linked, %d refused (see error_field, error_reason); wrote %s\n",
		total, batches, n[client.StatusNew], n[client.StatusExisting], n[client.StatusLinked], n["error"], o.out)
	return nil
}

func interrupted(done, batches int) error {
	return &exitError{code: 130, msg: fmt.Sprintf("interrupted after %d of %d batches; run the same command again to resume", done, batches)}
}

// openRun starts a run or resumes the one its state file describes, and
// returns the output positioned after the last complete batch.
func openRun(o tokenizeOptions, want tokenizeState, stderr io.Writer) (*tokenizeState, *os.File, error) {
	st, err := loadState(o.state)
	if err != nil && !o.restart {
		return nil, nil, err
	}
	if st != nil && !o.restart {
		if err := st.resumable(want); err != nil {
			return nil, nil, fmt.Errorf("%s: %w; run with --restart to start over (the output will be overwritten)", o.state, err)
		}
		out, err := os.OpenFile(o.out, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("resume: %w; run with --restart to start over", err)
		}
		fi, err := out.Stat()
		if err != nil {
			out.Close()
			return nil, nil, err
		}
		switch {
		case fi.Size() < st.OutputSize:
			out.Close()
			return nil, nil, fmt.Errorf("resume: %s is shorter than the %d complete batches the state records; run with --restart to start over", o.out, st.BatchesDone)
		case fi.Size() > st.OutputSize:
			fmt.Fprintf(stderr, "discarding a partial batch at the end of %s\n", o.out)
			if err := out.Truncate(st.OutputSize); err != nil {
				out.Close()
				return nil, nil, fmt.Errorf("truncate %s: %w", o.out, err)
			}
		}
		if _, err := out.Seek(st.OutputSize, io.SeekStart); err != nil {
			out.Close()
			return nil, nil, err
		}
		fmt.Fprintf(stderr, "resuming: %d of %d batches already done\n", st.BatchesDone, (want.Rows+int64(want.BatchSize)-1)/int64(want.BatchSize))
		return st, out, nil
	}

	if !o.restart {
		if _, err := os.Stat(o.out); err == nil {
			return nil, nil, fmt.Errorf("%s exists and no state file says it is unfinished; remove it or run with --restart to overwrite it", o.out)
		}
	}
	out, err := os.OpenFile(o.out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("create output: %w", err)
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(outputHeader)
	cw.Flush()
	if _, err := out.Write(buf.Bytes()); err != nil {
		out.Close()
		return nil, nil, fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return nil, nil, fmt.Errorf("sync %s: %w", o.out, err)
	}
	st = &want
	st.OutputSize = int64(buf.Len())
	if err := saveState(o.state, st); err != nil {
		out.Close()
		return nil, nil, err
	}
	return st, out, nil
}

// resumable says why a run described by want cannot continue st, if so.
func (st *tokenizeState) resumable(want tokenizeState) error {
	switch {
	case st.Version != want.Version:
		return fmt.Errorf("state written by another version (%d)", st.Version)
	case !st.Input.same(want.Input) || st.Rows != want.Rows:
		return errors.New("the input changed since the state was written (size, modification time or first rows)")
	case st.BatchSize != want.BatchSize:
		return fmt.Errorf("the state was written with --batch %d", st.BatchSize)
	case st.URL != want.URL:
		return fmt.Errorf("the state was written against %s", st.URL)
	case st.Org != want.Org:
		return fmt.Errorf("the state was written with a token of organisation %q, not %q: tokens of one file must share their domain", st.Org, want.Org)
	case st.BatchesDone < 0 || int64(st.BatchesDone)*int64(st.BatchSize) > st.Rows+int64(st.BatchSize) || st.OutputSize <= 0:
		return errors.New("the state is damaged")
	}
	if st.Counts == nil {
		st.Counts = map[string]int64{}
	}
	return nil
}

// loadState reads the state file; nil, nil when there is none.
func loadState(path string) (*tokenizeState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the state file: %w", err)
	}
	var st tokenizeState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state file %s is damaged (%v); run with --restart to start over", path, err)
	}
	return &st, nil
}

// saveState replaces the state file atomically and durably: a crash leaves
// the old state or the new one.
func saveState(path string, st *tokenizeState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write the state file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync the state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the rename durable; not every file system can
		d.Close()
	}
	return nil
}

// writeResults writes the output lines of one batch whose first row is
// first, counting the statuses.
func writeResults(w io.Writer, first int64, rs []client.Result, counts map[string]int64) error {
	cw := csv.NewWriter(w)
	for i, r := range rs {
		row := strconv.FormatInt(first+int64(i), 10)
		var rec []string
		if r.Error != nil {
			fields, reasons := make([]string, 0, len(r.Error.Errors)), make([]string, 0, len(r.Error.Errors))
			for _, f := range r.Error.Errors {
				fields = append(fields, f.Field)
				reasons = append(reasons, f.Reason)
			}
			if len(reasons) == 0 {
				reasons = append(reasons, cmp.Or(r.Error.Detail, r.Error.Title, "refused"))
			}
			rec = []string{row, "", "error", strings.Join(fields, "; "), strings.Join(reasons, "; ")}
			counts["error"]++
		} else {
			rec = []string{row, r.Token, r.Status, "", ""}
			counts[r.Status]++
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// jwtOrg returns the org claim of a JWT, read without verifying it (the
// server verifies): a resumed run must produce tokens of the same domain.
// Empty when the token is not a readable JWT.
func jwtOrg(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Org string `json:"org"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Org
}

// fingerprint identifies the input file as it is now.
func fingerprint(path string) (inputFingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return inputFingerprint{}, fmt.Errorf("input: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return inputFingerprint{}, fmt.Errorf("input: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, 64<<10)); err != nil {
		return inputFingerprint{}, fmt.Errorf("input: %w", err)
	}
	return inputFingerprint{Size: fi.Size(), ModTime: fi.ModTime().UTC(), Head: hex.EncodeToString(h.Sum(nil))}, nil
}

// Columns of the input, in the order of inputColumns.
const (
	colCF = iota
	colSurname
	colGiven
	colBirthDate
	colSex
	colBirthPlace
	colCitizenship
	nColumns
)

var inputColumns = [nColumns]struct {
	name     string
	required bool
}{
	{"codice_fiscale", false}, {"surname", true}, {"given_names", true}, {"birth_date", true},
	{"sex", true}, {"birth_place", false}, {"citizenship", false},
}

// csvInput reads identities from the input CSV.
type csvInput struct {
	f   *os.File
	r   *csv.Reader
	col [nColumns]int // index of each column in a record, -1 if absent
}

// openInput opens the input and reads its header: a UTF-8 BOM is skipped,
// the delimiter is ';' if the header line has more of them than commas.
func openInput(path string) (*csvInput, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	head, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	r := csv.NewReader(br)
	r.ReuseRecord = true
	if bytes.Count(head, []byte{';'}) > bytes.Count(head, []byte{','}) {
		r.Comma = ';'
	}
	in := &csvInput{f: f, r: r}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		f.Close()
		return nil, errors.New("input: empty file, no header")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("input: header: %w", err)
	}
	for i := range in.col {
		in.col[i] = -1
	}
	var names []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		names = append(names, h)
		for c, ic := range inputColumns {
			if h != ic.name {
				continue
			}
			if in.col[c] >= 0 {
				f.Close()
				return nil, fmt.Errorf("input: header names column %q twice", h)
			}
			in.col[c] = i
		}
	}
	for c, ic := range inputColumns {
		if ic.required && in.col[c] < 0 {
			f.Close()
			return nil, fmt.Errorf("input: the header lacks the required column %q (it has: %s)", ic.name, strings.Join(names, ", "))
		}
	}
	return in, nil
}

// next returns the identity of the next data row, io.EOF after the last.
func (in *csvInput) next() (client.Identity, error) {
	rec, err := in.r.Read()
	if err != nil {
		return client.Identity{}, err // a *csv.ParseError names the line, not its content
	}
	get := func(c int) string {
		if in.col[c] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[in.col[c]])
	}
	return client.Identity{
		CodiceFiscale: get(colCF), Surname: get(colSurname), GivenNames: get(colGiven),
		BirthDate: get(colBirthDate), Sex: get(colSex), BirthPlace: get(colBirthPlace), Citizenship: get(colCitizenship),
	}, nil
}

func (in *csvInput) Close() error { return in.f.Close() }

// countRows reads the whole input once, so that a malformed row stops the
// run before anything is sent, and the progress knows its total.
func countRows(path string) (int64, error) {
	in, err := openInput(path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	var n int64
	for {
		_, err := in.r.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("input: %w", err)
		}
		n++
	}
}

// progress shows a bar on a terminal, else one line per batch.
type progress struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	total   int64
	done    int64 // rows done, earlier runs included
	batches int
	start   time.Time
	startAt int64 // rows done when this run started
}

func newProgress(w io.Writer, total, done int64, batches int) *progress {
	p := &progress{w: w, total: total, done: done, batches: batches, start: time.Now(), startAt: done}
	if isTerminal(w) && total > done {
		desc := "tokenize"
		if done > 0 {
			desc = fmt.Sprintf("tokenize (resumed after %d rows)", done)
		}
		p.bar = progressbar.NewOptions64(total-done,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	return p
}

func (p *progress) batchDone(batch int, rows int64) {
	p.done += rows
	if p.bar != nil {
		_ = p.bar.Add64(rows)
		return
	}
	elapsed := time.Since(p.start).Seconds()
	rate := float64(p.done-p.startAt) / max(elapsed, 1e-3)
	eta := time.Duration(float64(p.total-p.done) / max(rate, 1e-9) * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(p.w, "batch %d/%d: %d/%d rows (%.0f%%), %.0f rows/s, ETA %s\n",
		batch, p.batches, p.done, p.total, 100*float64(p.done)/float64(max(p.total, 1)), rate, eta)
}

func (p *progress) abort() {
	if p.bar != nil {
		_ = p.bar.Exit()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

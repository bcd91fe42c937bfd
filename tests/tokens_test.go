package tests

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const giulia = `{"identity":{"surname":"Bianchi","given_names":"Giulia","birth_date":"2015-07-15","sex":"F","birth_place":"D612","citizenship":"380"}}`

type tokenResp struct {
	Token  string `json:"token"`
	Status string `json:"status"`
}

type tokenInfo struct {
	Token      string `json:"token"`
	Domain     string `json:"domain"`
	KeyVersion int    `json:"key_version"`
	Status     string `json:"status"`
}

func (in *instance) tokenize(t *testing.T, jwt, body string) tokenResp {
	t.Helper()
	r := in.do(http.MethodPost, "/v1/tokens", jwt, "application/json", strings.NewReader(body))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var tr tokenResp
	r.json(t, &tr)
	return tr
}

// TestBackendPinned: a deployment keeps the PRF backend it started with.
func TestBackendPinned(t *testing.T) {
	in := newInstance(t)
	in.start()
	require.NoError(t, in.stop())
	_, errOut, code := in.run(in.env("SIRM_LINKAGE_BACKEND=hmac", "SIRM_LISTEN="+freeAddr(t)), "serve")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `linkage backend "oprf"`)
	assert.Contains(t, errOut, `backend "hmac"`)
}

// TestTokenKeyRotation: rotating a domain's key gives new tokens while old
// ones resolve; retiring stops the old ones.
func TestTokenKeyRotation(t *testing.T) {
	in := newInstance(t)
	in.start()
	service := in.devToken("service_operator", "FIORENTINA")
	old := in.tokenize(t, service, giulia)
	assert.Equal(t, "new", old.Status)

	out := in.sirm("keys", "rotate-token-key", "FIORENTINA")
	assert.Contains(t, out, "version 2")
	fresh := in.tokenize(t, service, giulia)
	assert.Equal(t, "existing", fresh.Status)
	assert.NotEqual(t, old.Token, fresh.Token)

	info := func(tok string) tokenInfo {
		r := in.get("/v1/tokens/"+tok, service)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var ti tokenInfo
		require.NoError(t, json.Unmarshal(r.body, &ti))
		return ti
	}
	assert.Equal(t, tokenInfo{Token: old.Token, Domain: "FIORENTINA", KeyVersion: 1, Status: "active"}, info(old.Token))
	assert.Equal(t, tokenInfo{Token: fresh.Token, Domain: "FIORENTINA", KeyVersion: 2, Status: "active"}, info(fresh.Token))

	assert.Contains(t, in.sirm("keys", "retire-token-key", "FIORENTINA"), "retired 1")
	assert.Equal(t, "retired", info(old.Token).Status)
	assert.Equal(t, "active", info(fresh.Token).Status)

	// Another domain never saw a rotation.
	facility := in.devToken("facility_operator", "ASSO-000001")
	fac := in.tokenize(t, facility, giulia)
	assert.Equal(t, 1, func() int {
		r := in.get("/v1/tokens/"+fac.Token, facility)
		var ti tokenInfo
		require.NoError(t, json.Unmarshal(r.body, &ti))
		return ti.KeyVersion
	}())

	_, errOut, code := in.run(in.env(), "keys", "rotate-token-key")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "DOMAIN")
	require.NoError(t, in.stop())
}

// TestTokenizeCommandNothingStored: a zone's export of 1000 generated
// minors goes through `sirm tokenize` to the real server; the tokens come
// back in order, and afterwards no table of the database nor the server log
// holds a name, a codice fiscale or a full birth date of them.
func TestTokenizeCommandNothingStored(t *testing.T) {
	in := newInstance(t)
	in.start()
	csvPath := in.dir + "/minors.csv"
	outPath := in.dir + "/tokens.csv"
	in.sirm("demo", "identities", "-n", "1000", "--seed", "11", "--duplicates", "0.1", "--date", "2026-06-30", "--out", csvPath)
	service := in.devToken("service_operator", "FIORENTINA")
	_, errOut, code := in.run(in.env(), "tokenize", "--in", csvPath, "--out", outPath, "--url", in.url(""), "--token", service)
	require.Equal(t, 0, code, errOut)

	rows := readCSV(t, outPath)
	require.Len(t, rows, 1001)
	assert.Equal(t, []string{"row", "token", "status", "error_field", "error_reason"}, rows[0])
	statuses := map[string]int{}
	for i, r := range rows[1:] {
		assert.Equal(t, strconv.Itoa(i+1), r[0], "rows in input order")
		assert.NotEmpty(t, r[1], "row %d has no token: %v", i+1, r)
		assert.LessOrEqual(t, len(r[1]), 20)
		statuses[r[2]]++
	}
	t.Logf("statuses: %v", statuses)
	assert.Positive(t, statuses["new"])

	identities := identityValues(t, csvPath)
	captured.mu.Lock()
	captured.identities = append(captured.identities, identities...)
	captured.mu.Unlock()
	dump := dumpDatabase(t, in.dbURL)
	require.Contains(t, dump, "FIORENTINA", "the dump misses the tokens table")
	// The zone's own name holds the surname FIORE: mask what the test itself put there.
	dump = strings.ReplaceAll(dump, "FIORENTINA", "#")
	out, err := os.ReadFile(outPath)
	require.NoError(t, err)
	for _, v := range identities {
		// Not assert.NotContains: it would print the whole dump.
		if strings.Contains(dump, v) {
			t.Errorf("the database holds an identity value (%d characters)", len(v))
		}
		if strings.Contains(strings.ToUpper(string(out)), v) {
			t.Errorf("tokens.csv holds an identity value (%d characters)", len(v))
		}
	}
	require.NoError(t, in.stop())
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}

// identityValues are the values of an identity CSV that must never be
// stored: surnames and given names (words of 5 letters or more, upper
// case, so that a chance match in hex or base32 is unlikely), codici
// fiscali and birth dates in the forms they could be written.
func identityValues(t *testing.T, path string) []string {
	t.Helper()
	rows := readCSV(t, path)
	head := map[string]int{}
	for i, h := range rows[0] {
		head[h] = i
	}
	seen := map[string]bool{}
	var vs []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	for _, r := range rows[1:] {
		for _, col := range []string{"surname", "given_names"} {
			for _, w := range strings.Fields(strings.ToUpper(r[head[col]])) {
				if len(w) >= 5 && strings.Trim(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" {
					add(w)
				}
			}
		}
		add(strings.ToUpper(r[head["codice_fiscale"]]))
		d := r[head["birth_date"]]
		add(d)
		if len(d) == 10 {
			add(d[8:10] + d[5:7] + d[0:4])
			add(d[0:4] + d[5:7] + d[8:10])
		}
	}
	return vs
}

// randomLooking are the random values of a dump — digests, UUIDs, tokens,
// timestamps — masked so that a short name or an eight-digit date cannot
// appear in them by chance.
var randomLooking = regexp.MustCompile(`\\\\X[0-9A-F]+|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}|\b[0-9A-Z]{20}\b|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}|\b[0-9A-F]{64}\b`)

// dumpDatabase returns every row of every table of every non-system
// schema, as text, upper-cased, with random-looking values masked.
func dumpDatabase(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var schema, name string
		require.NoError(t, rows.Scan(&schema, &name))
		tables = append(tables, pgx.Identifier{schema, name}.Sanitize())
	}
	require.NoError(t, rows.Err())
	require.Contains(t, tables, `"linkage"."persons"`)
	var b strings.Builder
	for _, tbl := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+tbl+" t")
		require.NoError(t, err)
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			b.WriteString(randomLooking.ReplaceAllString(strings.ToUpper(line), "#"))
			b.WriteByte('\n')
		}
		require.NoError(t, rows.Err())
	}
	return b.String()
}

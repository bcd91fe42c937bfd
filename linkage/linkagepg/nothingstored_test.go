package linkagepg_test

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
)

// TestNothingIdentifyingStored resolves 1000 generated identities (with
// duplicates and variants), then dumps every row of every table of every
// schema and looks for any name, code, birth place or full birth date of
// them.
func TestNothingIdentifyingStored(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	require.NoError(t, svc.PinBackend(ctx))
	minors := demo.Identities(demo.Options{N: 1000, Seed: 3, Now: refNow, DuplicateRate: 0.2})
	ids := make([]linkage.Identity, len(minors))
	for i, m := range minors {
		ids[i] = m.Identity
	}
	// Domains are chosen not to contain a generated name ("FIORENTINA"
	// contains the surname FIORE): the dump holds them in clear.
	for start, domain := range map[int]string{0: "SDS-09", 400: "ASSO-000001", 700: "inps"} {
		rs, err := svc.Resolve(ctx, domain, ids[start:start+300], nil)
		require.NoError(t, err)
		for _, r := range rs {
			require.NoError(t, r.Err)
		}
	}
	rs, err := svc.Resolve(ctx, "SDS-09", ids, nil)
	require.NoError(t, err)
	for _, r := range rs {
		require.NoError(t, r.Err)
	}
	_, err = svc.RotateTokenKey(ctx, "inps")
	require.NoError(t, err)
	_, err = svc.Resolve(ctx, "inps", ids[:100], nil)
	require.NoError(t, err)
	_, err = svc.RetireTokenKeys(ctx, "inps")
	require.NoError(t, err)
	_, err = svc.Lookup(ctx, linkage.AuditDomain, ids[0], nil)
	require.NoError(t, err)

	needles := identifyingStrings(t, ids)
	require.Greater(t, len(needles), 2000, "the needles cover the identities")

	dump := dumpDatabase(t, db)
	require.NotEmpty(t, dump)
	for _, table := range linkageTables {
		assert.Contains(t, dump, "\n"+table+":", "%s has rows in the dump", table)
	}
	assert.Empty(t, findLeaks(dump, needles), "identifying values stored")

	// The scanner finds a value of the identities when one is stored:
	// inside other text, in each of its forms.
	n, err := linkage.Normalize(ids[0], testPolicy)
	require.NoError(t, err)
	planted := []string{
		"x" + n.Surname + "y",
		"<" + n.BirthDate.Format("02012006") + ">",
		n.BirthDate.Format("20060102"),
		"(" + n.BirthDate.Format(time.DateOnly) + ")",
		ids[0].CodiceFiscale,
	}
	_, err = db.Pool.Exec(ctx, `CREATE SCHEMA leaktest; CREATE TABLE leaktest.t (id int, v text)`)
	require.NoError(t, err)
	for i, v := range planted {
		_, err = db.Pool.Exec(ctx, `INSERT INTO leaktest.t VALUES ($1, $2)`, i, v)
		require.NoError(t, err)
	}
	leaks := findLeaks(dumpDatabase(t, db), needles)
	for _, v := range planted {
		found := false
		for _, l := range leaks {
			found = found || strings.Contains(v, l)
		}
		assert.True(t, found, "the scanner misses a planted value")
	}
	_, err = db.Pool.Exec(ctx, `DROP SCHEMA leaktest CASCADE`)
	require.NoError(t, err)
	assert.Empty(t, findLeaks(dumpDatabase(t, db), needles))
}

// identifyingStrings returns what must never be stored of ids: every name
// word of 4 letters or more (as submitted and normalised), codici fiscali
// (as submitted and canonical), provisional codes, birth places, and birth
// dates as YYYY-MM-DD, DDMMYYYY and YYYYMMDD.
func identifyingStrings(t *testing.T, ids []linkage.Identity) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	add := func(s string) {
		if len(s) >= 4 {
			out[s] = true
		}
	}
	for _, id := range ids {
		n, err := linkage.Normalize(id, testPolicy)
		require.NoError(t, err)
		for _, w := range strings.FieldsFunc(id.Surname+" "+id.GivenNames, func(r rune) bool { return !isWordRune(r) }) {
			add(w)
		}
		for _, w := range append(strings.Fields(n.Surname), n.GivenNames...) {
			add(w)
		}
		add(id.CodiceFiscale)
		add(n.CF)
		add(n.Provisional)
		add(n.BirthPlace)
		for _, layout := range []string{time.DateOnly, "02012006", "20060102"} {
			add(n.BirthDate.Format(layout))
		}
	}
	return out
}

func isWordRune(r rune) bool {
	return r == '-' || (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || r > 0x7f
}

// dumpDatabase returns every row of every table outside the system schemas
// as "\nschema.table: row-as-text".
func dumpDatabase(t *testing.T, db *pgdb.DB) string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `
SELECT table_schema, table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\_%'
ORDER BY 1, 2`)
	require.NoError(t, err)
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		return tb, r.Scan(&tb.schema, &tb.name)
	})
	require.NoError(t, err)
	var b strings.Builder
	for _, tb := range tables {
		name := pgx.Identifier{tb.schema, tb.name}.Sanitize()
		rows, err := db.Pool.Query(ctx, "SELECT t::text FROM "+name+" t")
		require.NoError(t, err)
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, v := range vals {
			b.WriteString("\n" + tb.schema + "." + tb.name + ": " + v)
		}
	}
	return b.String()
}

var (
	// The pseudonymous encodings the store writes, masked before the scan:
	// being random, they would now and then spell a short name or a date
	// by chance. None can hold a value of an identity: a token is 20
	// Crockford characters with a valid check character, a digest or hash
	// 32 bytes in hex, a person id a UUID.
	hexRun     = regexp.MustCompile(`[0-9a-f]{32,}`)
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tokenLike  = regexp.MustCompile(`[0-9A-Z]{20}`)
	scanRunsRE = regexp.MustCompile(`[\p{L}\p{N}-]+`)
)

// findLeaks returns the needles found in dump, sorted.
func findLeaks(dump string, needles map[string]bool) []string {
	dump = uuidRE.ReplaceAllString(dump, "#")
	dump = hexRun.ReplaceAllString(dump, "#")
	dump = tokenLike.ReplaceAllStringFunc(dump, func(s string) string {
		if _, err := linkage.ParseToken(s); err == nil {
			return "#"
		}
		return s
	})
	lengths := map[int]bool{}
	for n := range needles {
		lengths[len(n)] = true
	}
	found := map[string]bool{}
	for _, run := range scanRunsRE.FindAllString(dump, -1) {
		for l := range lengths {
			for i := 0; i+l <= len(run); i++ {
				if s := run[i : i+l]; needles[s] {
					found[s] = true
				}
			}
		}
	}
	out := make([]string, 0, len(found))
	for s := range found {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

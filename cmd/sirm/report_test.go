package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
)

func runCmd(args ...string) (stdout, stderr string, err error) {
	var so, se bytes.Buffer
	err = run(context.Background(), args, &so, &se)
	return so.String(), se.String(), err
}

// TestReportCommand: sirm report facility-census on the demo registry
// writes the census a SELECT of the current active facilities agrees with
// (the demo registry has no change after its reference day).
func TestReportCommand(t *testing.T) {
	url := pgtest.URL(t)
	_, _, err := runDemoCmd(t, "facilities", "--database-url", url)
	require.NoError(t, err)
	db, err := pgdb.Open(context.Background(), url)
	require.NoError(t, err)
	defer db.Close()
	var active, places int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`SELECT count(*), sum(authorised_places) FROM registry.facilities WHERE status = 'active'`).Scan(&active, &places))

	dir := t.TempDir()
	out := filepath.Join(dir, "census.csv")
	_, se, err := runCmd("report", "facility-census", "--database-url", url, "--date", "2025-06-30", "--format", "csv", "--out", out,
		"--table", "facilities_by_zone_typology")
	require.NoError(t, err, se)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 30)
	last := recs[29]
	assert.Equal(t, strconv.Itoa(active), last[len(last)-1])

	so, se, err := runCmd("report", "facility-census", "--database-url", url, "--date", "2025-06-30", "--table", "authorised_places_by_zone_typology")
	require.NoError(t, err, se)
	var doc struct {
		Tables []struct {
			GrandTotal float64 `json:"grand_total"`
		} `json:"tables"`
	}
	require.NoError(t, json.Unmarshal([]byte(so), &doc))
	require.Len(t, doc.Tables, 1)
	assert.Equal(t, float64(places), doc.Tables[0].GrandTotal)

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--date", "2025-02-30"}, "--date"},
		{[]string{"--zone", "ATLANTIDE"}, "--zone"},
		{[]string{"--format", "pdf"}, "--format"},
		{[]string{"--format", "xlsx"}, "--out"},
		{[]string{"--format", "csv"}, "--table"},
		{[]string{"--report-threshold", "2"}, "SIRM_REPORT_THRESHOLD"},
	} {
		_, _, err := runCmd(append([]string{"report", "facility-census", "--database-url", url}, tc.args...)...)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.msg)
	}
	_, se, err = runCmd("report", "nope")
	require.Error(t, err)
	assert.True(t, strings.Contains(se, "facility-census"), se)
	assert.True(t, strings.Contains(se, "minors-out-of-family"), se)

	// The surveys of minors take their own parameters: a period for the
	// flows, a date for the others.
	so, se, err = runCmd("report", "flows", "--database-url", url, "--from", "2025-01-01", "--to", "2025-06-30", "--format", "csv",
		"--table", "discharges_by_zone_outcome")
	require.NoError(t, err, se)
	recs, err = csv.NewReader(strings.NewReader(so)).ReadAll()
	require.NoError(t, err)
	assert.Len(t, recs, 30, "header, 28 zones, totals")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"flows", "--from", "2025-06-01", "--to", "2025-05-01"}, "--to"},
		{[]string{"flows", "--date", "2025-06-01"}, "date"},
		{[]string{"minors-in-family", "--from", "2025-06-01"}, "from"},
	} {
		_, _, err := runCmd(append(append([]string{"report"}, tc.args...), "--database-url", url)...)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.msg)
	}
}

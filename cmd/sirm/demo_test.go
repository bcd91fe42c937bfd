package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runDemoCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var so, se bytes.Buffer
	err = run(context.Background(), append([]string{"demo"}, args...), &so, &se)
	return so.String(), se.String(), err
}

func TestDemoIdentities(t *testing.T) {
	a, _, err := runDemoCmd(t, "identities", "-n", "200", "--seed", "42", "--date", "2026-03-15", "--duplicates", "0.3")
	require.NoError(t, err)
	b, _, err := runDemoCmd(t, "identities", "-n", "200", "--seed", "42", "--date", "2026-03-15", "--duplicates", "0.3")
	require.NoError(t, err)
	assert.Equal(t, a, b, "deterministic for a seed and date")
	c, _, err := runDemoCmd(t, "identities", "-n", "200", "--seed", "43", "--date", "2026-03-15", "--duplicates", "0.3")
	require.NoError(t, err)
	assert.NotEqual(t, a, c, "another seed, other records")

	recs, err := csv.NewReader(strings.NewReader(a)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 201)
	assert.Equal(t, []string{"codice_fiscale", "surname", "given_names", "birth_date", "sex", "birth_place", "citizenship"}, recs[0])

	t.Run("truthToFile", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "minors.csv")
		so, se, err := runDemoCmd(t, "identities", "-n", "200", "--seed", "42", "--date", "2026-03-15", "--duplicates", "0.3", "--truth", "--out", out)
		require.NoError(t, err)
		assert.Empty(t, so)
		assert.Contains(t, se, "wrote 200 identities")
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 201)
		assert.Equal(t, "person_id", recs[0][7])
		plain := mustCSV(t, a)
		for i, rec := range recs {
			assert.Equal(t, plain[i], rec[:7], "same identities, with the truth column")
		}
	})
}

func mustCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	require.NoError(t, err)
	return recs
}

func TestDemoUsage(t *testing.T) {
	so, se, err := runDemoCmd(t)
	require.NoError(t, err)
	assert.Empty(t, so)
	assert.Contains(t, se, "Usage: sirm demo <kind>")
	assert.Contains(t, se, "identities")

	_, _, err = runDemoCmd(t, "nonsense")
	var ee *exitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.code)

	for _, args := range [][]string{
		{"identities", "--date", "15/03/2026"},
		{"identities", "--duplicates", "1.5"},
		{"identities", "-n", "-1"},
	} {
		_, _, err := runDemoCmd(t, args...)
		require.ErrorAs(t, err, &ee, "%v", args)
		assert.Equal(t, 2, ee.code)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgtest"
)

func runBenchCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var so, se bytes.Buffer
	err = run(context.Background(), append([]string{"bench"}, args...), &so, &se)
	return so.String(), se.String(), err
}

func TestBenchLinkageSynthetic(t *testing.T) {
	out := t.TempDir()
	so, se, err := runBenchCmd(t, "linkage", "--dataset", "synthetic", "--n", "300",
		"--database-url", pgtest.AdminURL(), "--out", out)
	require.NoError(t, err, se)
	assert.Contains(t, so, "| synthetic | 300 |")
	assert.Contains(t, se, "synthetic: resolved 300/300")

	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	var res benchOutput
	require.NoError(t, json.Unmarshal(raw, &res))
	require.Len(t, res.Runs, 1)
	assert.Equal(t, 300, res.Runs[0].Records)
	assert.NoFileExists(t, filepath.Join(out, "sweep.svg"), "no sweep asked")
}

func TestBenchLinkageBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"linkage", "--dataset", "febrl3"},
		{"linkage", "--backend", "transit"},
		{"linkage", "--auto-threshold", "1.5"},
		{"linkage", "--n", "0"},
		{"nothing"},
	} {
		_, _, err := runBenchCmd(t, args...)
		var ee *exitError
		require.ErrorAs(t, err, &ee, "%v", args)
		assert.Equal(t, 2, ee.code, "%v", args)
	}
}

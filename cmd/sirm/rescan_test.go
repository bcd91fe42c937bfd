package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/vaultcfg"
)

// TestLinkageRescan: two records of one minor, kept apart under strict
// thresholds, meet in one review after `sirm linkage rescan` under the
// defaults; a second rescan opens nothing.
func TestLinkageRescan(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	keyring := filepath.Join(t.TempDir(), "keyring.json")
	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"keys", "init", "--keyring", keyring}, &out, &errOut), errOut.String())

	keys, err := vaultcfg.Open(ctx, vaultcfg.Config{Kind: "file", KeyringPath: keyring})
	require.NoError(t, err)
	defer keys.Close()
	db, err := pgdb.Open(ctx, url)
	require.NoError(t, err)
	defer db.Close()
	strict, err := newLinkage(ctx, LinkageConfig{Backend: linkage.BackendHMAC, Fuzzy: true, AutoThreshold: 0.99, ReviewThreshold: 0.99}, keys, db)
	require.NoError(t, err)
	id := linkage.Identity{Surname: "Rossi", GivenNames: "Giulia", BirthDate: "2014-03-12", Sex: "F", BirthPlace: "D612"}
	typo := id
	typo.Surname = "Rosi"
	rs, err := strict.Resolve(ctx, "Z1", []linkage.Identity{id, typo}, nil)
	require.NoError(t, err)
	require.NotEqual(t, rs[0].Person, rs[1].Person)

	rescan := func() map[string]float64 {
		t.Helper()
		out.Reset()
		errOut.Reset()
		require.NoError(t, run(ctx, []string{"linkage", "rescan", "--database-url", url, "--keyring", keyring, "--linkage-backend", "hmac", "--json"}, &out, &errOut), errOut.String())
		var got map[string]float64
		require.NoError(t, json.Unmarshal(out.Bytes(), &got), out.String())
		return got
	}
	got := rescan()
	assert.Equal(t, 2.0, got["persons"])
	assert.Equal(t, 1.0, got["reviews_opened"])
	assert.Contains(t, errOut.String(), "rescan: 2/2 persons (100%)", "progress is shown")
	assert.Equal(t, 0.0, rescan()["reviews_opened"], "a second rescan opens nothing")

	err = run(ctx, []string{"linkage", "rescan", "--database-url", url, "--keyring", keyring, "--linkage-fuzzy=false"}, &out, &errOut)
	assert.ErrorContains(t, err, "needs fuzzy matching")
	err = run(ctx, []string{"linkage", "frobnicate"}, &out, &errOut)
	var ee *exitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.code)
	errOut.Reset()
	require.ErrorIs(t, run(ctx, []string{"linkage", "rescan", "--help"}, &out, &errOut), flag.ErrHelp)
	assert.Contains(t, errOut.String(), "SIRM_LINKAGE_REVIEW_THRESHOLD", "help lists the settings")
}

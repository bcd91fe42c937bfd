package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
)

func TestDemoFacilities(t *testing.T) {
	a, _, err := runDemoCmd(t, "facilities", "--dry-run", "--seed", "7")
	require.NoError(t, err)
	b, _, err := runDemoCmd(t, "facilities", "--dry-run", "--seed", "7")
	require.NoError(t, err)
	assert.Equal(t, a, b, "deterministic for a seed")

	url := pgtest.URL(t)
	out, _, err := runDemoCmd(t, "facilities", "--database-url", url)
	require.NoError(t, err)
	assert.Contains(t, out, "loaded 183 demo facilities")

	db, err := pgdb.Open(context.Background(), url)
	require.NoError(t, err)
	defer db.Close()
	count := func(sql string) int {
		var n int
		require.NoError(t, db.Pool.QueryRow(context.Background(), sql).Scan(&n))
		return n
	}
	assert.Equal(t, 183, count(`SELECT count(*) FROM registry.facilities`))
	assert.Equal(t, 28, count(`SELECT count(DISTINCT zone) FROM registry.facility_versions WHERE valid_to IS NULL`), "every zone has facilities")
	assert.Greater(t, count(`SELECT count(*) FROM registry.facility_versions WHERE valid_to IS NULL AND status = 'active'`), 150)
	assert.Equal(t, 0, count(`SELECT count(*) FROM registry.facility_versions WHERE valid_to IS NULL AND status = 'active' AND code IS NULL`))
	assert.Equal(t, count(`SELECT count(*) FROM registry.facility_versions`),
		count(`SELECT count(*) FROM audit.events WHERE object_type = 'facility'`), "every version's write is audited")
	versions := count(`SELECT count(*) FROM registry.facility_versions`)

	out, _, err = runDemoCmd(t, "facilities", "--database-url", url)
	require.NoError(t, err)
	assert.Contains(t, out, "nothing loaded")
	assert.Equal(t, versions, count(`SELECT count(*) FROM registry.facility_versions`), "a second run changes nothing")
}

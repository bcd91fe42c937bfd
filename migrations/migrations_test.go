package migrations_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/migrations"
)

// latest is the number of the last migration file, counted from the files
// themselves so that adding one does not need this test changed.
var latest = func() int {
	files, err := filepath.Glob("[0-9][0-9][0-9]_*.sql")
	if err != nil || len(files) == 0 {
		panic("no migration files")
	}
	return len(files)
}()

func TestUpIdempotent(t *testing.T) {
	u := pgtest.EmptyURL(t)

	from, to, err := migrations.Up(t.Context(), u)
	require.NoError(t, err)
	assert.Equal(t, int32(0), from)
	assert.Equal(t, int32(latest), to)

	from, to, err = migrations.Up(t.Context(), u)
	require.NoError(t, err)
	assert.Equal(t, int32(latest), from)
	assert.Equal(t, int32(latest), to)

	conn, err := pgx.Connect(t.Context(), u)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var version int32
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT version FROM public.sirm_schema_version`).Scan(&version))
	assert.Equal(t, int32(latest), version)
	var headSeq int64
	var headHash []byte
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT seq, hash FROM audit.head WHERE id = 1`).Scan(&headSeq, &headHash))
	assert.Zero(t, headSeq)
	assert.Equal(t, make([]byte, 32), headHash)
}

func TestUpConcurrent(t *testing.T) {
	const n = 10
	u := pgtest.EmptyURL(t)

	type result struct {
		from, to int32
		err      error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &results[i]
			r.from, r.to, r.err = migrations.Up(t.Context(), u)
		})
	}
	wg.Wait()

	var applied int32
	for i, r := range results {
		require.NoError(t, r.err, "goroutine %d", i)
		assert.Equal(t, int32(latest), r.to, "goroutine %d", i)
		applied += r.to - r.from
	}
	assert.Equal(t, int32(latest), applied, "each migration applied exactly once")
}

func TestUpFailsWithoutDatabase(t *testing.T) {
	u := urlFor(t, "sirm_test_missing_"+randomHex(t))
	_, _, err := migrations.Up(t.Context(), u)
	assert.Error(t, err)
}

func TestEnsureDatabase(t *testing.T) {
	tests := []struct {
		name string
		db   string
	}{
		{"plain", "sirm_test_ensure_" + randomHex(t)},
		// Needs quoting: upper case, a quote, a hyphen, a space.
		{"quoted", `sirm_test_Ensure "x"-y z ` + randomHex(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := urlFor(t, tt.db)
			dropAtEnd(t, tt.db)

			created, err := migrations.EnsureDatabase(t.Context(), u)
			require.NoError(t, err)
			assert.True(t, created, "first call creates")

			created, err = migrations.EnsureDatabase(t.Context(), u)
			require.NoError(t, err)
			assert.False(t, created, "second call finds it")

			conn, err := pgx.Connect(t.Context(), u)
			require.NoError(t, err)
			defer conn.Close(context.Background())
			var name string
			require.NoError(t, conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name))
			assert.Equal(t, tt.db, name)
		})
	}
}

func TestEnsureDatabaseConcurrent(t *testing.T) {
	const n = 5
	name := "sirm_test_race_" + randomHex(t)
	u := urlFor(t, name)
	dropAtEnd(t, name)

	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { created[i], errs[i] = migrations.EnsureDatabase(t.Context(), u) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	var count int
	for _, c := range created {
		if c {
			count++
		}
	}
	assert.Equal(t, 1, count, "exactly one caller creates")
}

func urlFor(t *testing.T, db string) string {
	t.Helper()
	u, err := url.Parse(pgtest.AdminURL())
	require.NoError(t, err)
	u.Path = "/" + db
	u.RawPath = ""
	return u.String()
}

func dropAtEnd(t *testing.T, db string) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pgtest.AdminURL())
		if err != nil {
			t.Errorf("drop %s: %v", db, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", db, err)
		}
	})
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

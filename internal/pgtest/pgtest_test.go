package pgtest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgtest"
)

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgtest.AdminURL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var exists bool
	require.NoError(t, conn.QueryRow(t.Context(),
		`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	return exists
}

func TestDB(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		db := pgtest.DB(t)
		require.NoError(t, db.Pool.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name))
		assert.Regexp(t, `^sirm_test_[0-9a-f]{16}$`, name)

		var version int32
		require.NoError(t, db.Pool.QueryRow(t.Context(), `SELECT version FROM public.sirm_schema_version`).Scan(&version))
		assert.Positive(t, version, "migrated")
		var tables int
		require.NoError(t, db.Pool.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_tables WHERE schemaname = 'audit'`).Scan(&tables))
		assert.Equal(t, 2, tables)
		assert.True(t, databaseExists(t, name))
	})
	require.NotEmpty(t, name)
	assert.False(t, databaseExists(t, name), "dropped when the test ends")
}

func TestEmptyURL(t *testing.T) {
	u := pgtest.EmptyURL(t)
	conn, err := pgx.Connect(t.Context(), u)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var tables int
	require.NoError(t, conn.QueryRow(t.Context(),
		`SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&tables))
	assert.Zero(t, tables)
}

func TestURLsDiffer(t *testing.T) {
	assert.NotEqual(t, pgtest.EmptyURL(t), pgtest.EmptyURL(t))
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func TestURLServerDown(t *testing.T) {
	t.Setenv(pgtest.AdminURLEnv, "postgres://postgres:secret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pgtest.URL(rec)
		t.Error("URL returned although the server does not answer")
	}()
	<-done
	assert.Contains(t, rec.msg, "make test")
	assert.Contains(t, rec.msg, pgtest.AdminURLEnv)
	assert.NotContains(t, rec.msg, "secret", "password redacted")
}

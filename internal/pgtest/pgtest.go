// Package pgtest gives tests a PostgreSQL database of their own: every call
// creates a fresh database on the test server, migrates it and drops it when
// the test ends, so store and end-to-end tests run against the real thing
// without seeing each other's rows.
//
// The server is the one at SIRM_TEST_DATABASE_URL (a superuser URL), by
// default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, which
// `make test` starts.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/migrations"
)

// AdminURLEnv is the environment variable that overrides DefaultAdminURL.
const AdminURLEnv = "SIRM_TEST_DATABASE_URL"

// DefaultAdminURL is the test server used when AdminURLEnv is not set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// setupTimeout bounds creating, migrating and dropping one test database.
const setupTimeout = time.Minute

// AdminURL returns the URL of a superuser on the test server: AdminURLEnv
// when set, DefaultAdminURL otherwise.
func AdminURL() string {
	if u := os.Getenv(AdminURLEnv); u != "" {
		return u
	}
	return DefaultAdminURL
}

// URL creates a fresh database, applies every migration to it, and returns
// its URL; the database is dropped when t ends. It calls t.Fatalf when the
// test server does not answer.
func URL(t testing.TB) string {
	t.Helper()
	u := EmptyURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, _, err := migrations.Up(ctx, u); err != nil {
		t.Fatalf("pgtest: migrate test database: %v", err)
	}
	return u
}

// EmptyURL is URL without the migrations, for tests of the migrations
// themselves.
func EmptyURL(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	base, err := url.Parse(admin)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL", AdminURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn := connectAdmin(ctx, t, admin)
	defer conn.Close(context.Background())

	name := "sirm_test_" + randomHex(t)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { drop(t, admin, name) })

	u := *base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// DB returns a pool on a fresh, migrated database (see URL). The pool is
// closed when t ends, before the database is dropped.
func DB(t testing.TB) *pgdb.DB {
	t.Helper()
	u := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := pgdb.Open(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func connectAdmin(ctx context.Context, t testing.TB, admin string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", AdminURLEnv, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: the test PostgreSQL at %s does not answer: %v\n"+
			"Run the tests with `make test`, which starts PostgreSQL for them, "+
			"or set %s to the URL of a PostgreSQL superuser.",
			redact(admin), err, AdminURLEnv)
	}
	return conn
}

func drop(t testing.TB, admin, name string) {
	t.Helper()
	// t.Context is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: random database name: %v", err)
	}
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

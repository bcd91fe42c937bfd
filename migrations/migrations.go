// Package migrations holds sirm's database schema as numbered SQL files
// (tern's format: 001_audit.sql, …, each optionally split by
// "---- create above / drop below ----"), embedded in the binary and applied
// by Up, which `sirm migrate` and the test helpers call. Nothing here runs on
// import.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed *.sql
var files embed.FS

// versionTable records the schema version; tern keeps one row in it.
const versionTable = "public.sirm_schema_version"

// Up applies the migrations the database at databaseURL has not had yet and
// returns the version it found and the version it left. It is idempotent,
// and safe to run from several processes at once: tern holds a PostgreSQL
// advisory lock while it migrates and runs each migration in its own
// transaction, so each migration is applied exactly once. from is the version
// before the first migration this call applied; when it applied none,
// from == to.
func Up(ctx context.Context, databaseURL string) (from, to int32, err error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return 0, 0, fmt.Errorf("connect to database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return 0, 0, fmt.Errorf("prepare %s: %w", versionTable, err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return 0, 0, fmt.Errorf("load migrations: %w", err)
	}
	// The version read before Migrate would be stale when another process
	// migrates first; OnStart runs under tern's lock, so it tells what this
	// call itself applied.
	from = -1
	m.OnStart = func(seq int32, _, _, _ string) {
		if from < 0 {
			from = seq - 1
		}
	}
	if err := m.Migrate(ctx); err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	to, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if from < 0 {
		from = to
	}
	return from, to, nil
}

// EnsureDatabase creates the database named in databaseURL when it does not
// exist, connecting for that to the same server's "postgres" database with
// the same credentials. created reports whether this call created it; when a
// concurrent caller creates it first, created is false and err is nil.
func EnsureDatabase(ctx context.Context, databaseURL string) (created bool, err error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return false, fmt.Errorf("parse database url: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return false, errors.New("database url names no database")
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connect to database postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	const existsSQL = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)`
	var exists bool
	if err := conn.QueryRow(ctx, existsSQL, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if lostCreateRace(err) {
			return false, nil
		}
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	return true, nil
}

// lostCreateRace reports whether CREATE DATABASE failed because another
// session created the database meanwhile: duplicate_database, or
// unique_violation on pg_database when both inserted at once.
func lostCreateRace(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505")
}

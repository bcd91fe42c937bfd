// Package pgdb holds the one PostgreSQL connection pool of sirm and carries a
// transaction in the context, so that the stores of different domains can take
// part in one transaction without importing each other: api opens the
// transaction, and every store asks Q(ctx) for whatever it should run on.
// That is how an audit event is written in the same transaction as the change
// it records.
package pgdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier is what a store runs SQL on: the pool, or the transaction the
// context carries. Both *pgxpool.Pool and pgx.Tx implement it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is the connection pool. It is safe for concurrent use.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return &DB{Pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

type txKey struct{}

// Q returns the transaction carried by ctx, or the pool when there is none.
func (db *DB) Q(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	return db.Pool
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(pgx.Tx)
	return ok
}

// WithTx runs fn in a transaction carried by the context it is given, and
// commits when fn returns nil. When ctx already carries a transaction, fn
// joins it (a savepoint is not taken: the outer caller owns the outcome).
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.withTx(ctx, pgx.TxOptions{}, fn)
}

// ReadSnapshot runs fn in a read-only transaction at REPEATABLE READ: every
// query of fn sees the same snapshot of the database, as the tables of one
// report must. When ctx already carries a transaction, fn joins it.
func (db *DB) ReadSnapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.withTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (db *DB) withTx(ctx context.Context, opts pgx.TxOptions, fn func(ctx context.Context) error) error {
	if InTx(ctx) {
		return fn(ctx)
	}
	tx, err := db.Pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		// Roll back even when ctx is cancelled, so the connection goes back clean.
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Package auditpg keeps the audit log in PostgreSQL, in the tables of
// migration 001: audit.events, which triggers make append-only, and
// audit.head, the one row holding the seq and hash of the last event.
//
// Append locks the head row, so concurrent appends form one unbroken chain,
// and runs in the transaction the context carries (see pgdb), so an event
// commits or rolls back with the change it records. The head lock is held
// until that transaction ends: keep audited transactions short.
package auditpg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/pgdb"
)

var _ audit.Store = (*Store)(nil)

// walkChunk is how many events Walk reads per query.
const walkChunk = 5000

// Store is the PostgreSQL audit.Store. It is safe for concurrent use.
type Store struct {
	db    *pgdb.DB
	chunk int
}

// New returns a Store on db, whose schema must be migrated.
func New(db *pgdb.DB) *Store { return &Store{db: db, chunk: walkChunk} }

// eventColumns lists the columns of audit.events in the order scanEvent reads
// them and insertEventSQL writes them.
const eventColumns = `seq, at, actor, role, org, action, object_type, object_id,
	person_ref, purpose, outcome, status, request_id, prev_hash, hash`

const (
	lockHeadSQL    = `SELECT seq, hash FROM audit.head WHERE id = 1 FOR UPDATE`
	insertEventSQL = `INSERT INTO audit.events (` + eventColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	advanceHeadSQL = `UPDATE audit.head SET seq = $1, hash = $2 WHERE id = 1`
)

// Append stores e as the event after the head, in the transaction ctx
// carries or in one of its own. It sets Time after taking the head lock, so
// times follow seq order (as far as the clock does). It is not written as
// AppendBatch of one event: the single-row insert sustains ~1,080 appends/s
// with 8 writers against ~740 for the array form (BenchmarkAppendParallel).
func (s *Store) Append(ctx context.Context, e audit.Event) (audit.Event, error) {
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		var (
			seq  int64
			prev []byte
		)
		if err := q.QueryRow(ctx, lockHeadSQL).Scan(&seq, &prev); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errors.New("lock audit head: the head row is missing")
			}
			return fmt.Errorf("lock audit head: %w", err)
		}
		e.Seq = seq + 1
		e.Time = time.Now().UTC().Truncate(time.Microsecond)
		e.PrevHash = prev
		e.Hash = audit.Hash(prev, e)
		if _, err := q.Exec(ctx, insertEventSQL,
			e.Seq, e.Time, e.Actor, e.Role, e.Org, e.Action, e.ObjectType, e.ObjectID,
			e.PersonRef, e.Purpose, string(e.Outcome), e.Status, e.RequestID, e.PrevHash, e.Hash,
		); err != nil {
			if pgdb.IsUniqueViolation(err) {
				return fmt.Errorf("insert audit event %d: an event with that seq exists although the head is behind it: %w", e.Seq, err)
			}
			return fmt.Errorf("insert audit event %d: %w", e.Seq, err)
		}
		if _, err := q.Exec(ctx, advanceHeadSQL, e.Seq, e.Hash); err != nil {
			return fmt.Errorf("advance audit head to %d: %w", e.Seq, err)
		}
		return nil
	})
	if err != nil {
		return audit.Event{}, err
	}
	return e, nil
}

const insertEventsSQL = `INSERT INTO audit.events (` + eventColumns + `)
	SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int[], $13::text[], $14::bytea[], $15::bytea[])`

// AppendBatch stores evs after the head, in order, with one insert and one
// lock of the head, in the transaction ctx carries or in one of its own.
func (s *Store) AppendBatch(ctx context.Context, evs []audit.Event) ([]audit.Event, error) {
	out := make([]audit.Event, len(evs))
	copy(out, evs)
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		var (
			seq  int64
			prev []byte
		)
		if err := q.QueryRow(ctx, lockHeadSQL).Scan(&seq, &prev); err != nil {
			return fmt.Errorf("lock audit head: %w", err)
		}
		n := len(out)
		var (
			seqs                                              = make([]int64, n)
			ats                                               = make([]time.Time, n)
			actors, roles, orgs, actions, otypes, oids, prefs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			purposes, outcomes, rids                          = make([]string, n), make([]string, n), make([]string, n)
			statuses                                          = make([]int32, n)
			prevs, hashes                                     = make([][]byte, n), make([][]byte, n)
		)
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i := range out {
			e := &out[i]
			e.Seq, e.Time, e.PrevHash = seq+int64(i)+1, now, prev
			e.Hash = audit.Hash(prev, *e)
			prev = e.Hash
			seqs[i], ats[i], actors[i], roles[i], orgs[i], actions[i] = e.Seq, e.Time, e.Actor, e.Role, e.Org, e.Action
			otypes[i], oids[i], prefs[i], purposes[i], outcomes[i] = e.ObjectType, e.ObjectID, e.PersonRef, e.Purpose, string(e.Outcome)
			statuses[i], rids[i], prevs[i], hashes[i] = int32(e.Status), e.RequestID, e.PrevHash, e.Hash
		}
		if _, err := q.Exec(ctx, insertEventsSQL, seqs, ats, actors, roles, orgs, actions, otypes, oids, prefs,
			purposes, outcomes, statuses, rids, prevs, hashes); err != nil {
			return fmt.Errorf("insert audit events %d to %d: %w", seq+1, seq+int64(n), err)
		}
		last := out[n-1]
		if _, err := q.Exec(ctx, advanceHeadSQL, last.Seq, last.Hash); err != nil {
			return fmt.Errorf("advance audit head to %d: %w", last.Seq, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const listEventsSQL = `SELECT ` + eventColumns + ` FROM audit.events`

// List returns the events matching f, newest first. A Limit of 0 or less
// means audit.MaxLimit.
func (s *Store) List(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	var (
		conds []string
		args  []any
	)
	where := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Actor != "" {
		where("actor = $%d", f.Actor)
	}
	if f.Org != "" {
		where("org = $%d", f.Org)
	}
	if f.Action != "" {
		where("action = $%d", f.Action)
	}
	if f.PersonRef != "" {
		where("person_ref = $%d", f.PersonRef)
	}
	if !f.From.IsZero() {
		where("at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		where("at < $%d", f.To)
	}
	if f.Before > 0 {
		where("seq < $%d", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = audit.MaxLimit
	}
	args = append(args, limit)

	var sql strings.Builder
	sql.WriteString(listEventsSQL)
	if len(conds) > 0 {
		sql.WriteString(" WHERE ")
		sql.WriteString(strings.Join(conds, " AND "))
	}
	fmt.Fprintf(&sql, " ORDER BY seq DESC LIMIT $%d", len(args))

	rows, err := s.db.Q(ctx).Query(ctx, sql.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query audit events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	return evs, nil
}

const walkEventsSQL = `SELECT ` + eventColumns + ` FROM audit.events
	WHERE seq > $1 ORDER BY seq LIMIT $2`

// Walk calls fn with every event in ascending seq order. It reads a chunk of
// events at a time by seq, so memory stays bounded and no connection is held
// while fn runs; events appended while Walk runs are included.
func (s *Store) Walk(ctx context.Context, fn func(audit.Event) error) error {
	var (
		after int64
		chunk []audit.Event
	)
	for {
		rows, err := s.db.Q(ctx).Query(ctx, walkEventsSQL, after, s.chunk)
		if err != nil {
			return fmt.Errorf("query audit events after %d: %w", after, err)
		}
		chunk, err = pgx.AppendRows(chunk[:0], rows, scanEvent)
		if err != nil {
			return fmt.Errorf("read audit events after %d: %w", after, err)
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(chunk) < s.chunk {
			return nil
		}
		after = chunk[len(chunk)-1].Seq
	}
}

const headSQL = `SELECT seq, hash FROM audit.head WHERE id = 1`

// Head returns the seq and hash of the last appended event, as Append
// recorded them.
func (s *Store) Head(ctx context.Context) (seq int64, hash []byte, err error) {
	if err := s.db.Q(ctx).QueryRow(ctx, headSQL).Scan(&seq, &hash); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, errors.New("read audit head: the head row is missing")
		}
		return 0, nil, fmt.Errorf("read audit head: %w", err)
	}
	return seq, hash, nil
}

func scanEvent(row pgx.CollectableRow) (audit.Event, error) {
	var (
		e       audit.Event
		outcome string
	)
	err := row.Scan(&e.Seq, &e.Time, &e.Actor, &e.Role, &e.Org, &e.Action, &e.ObjectType, &e.ObjectID,
		&e.PersonRef, &e.Purpose, &outcome, &e.Status, &e.RequestID, &e.PrevHash, &e.Hash)
	if err != nil {
		return audit.Event{}, err
	}
	e.Outcome = audit.Outcome(outcome)
	e.Time = e.Time.UTC()
	return e, nil
}

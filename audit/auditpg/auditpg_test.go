package auditpg_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/pgtest"
)

func event(actor, org, action string) audit.Event {
	return audit.Event{
		Actor: actor, Role: "operator", Org: org, Action: action,
		ObjectType: "person", ObjectID: "obj-1", PersonRef: "p-1", Purpose: "care",
		Outcome: audit.OutcomeAllowed, Status: 200, RequestID: "req-" + actor,
	}
}

// appendAll appends evs one after the other and returns them as stored.
func appendAll(t *testing.T, svc *audit.Service, evs ...audit.Event) []audit.Event {
	t.Helper()
	out := make([]audit.Event, 0, len(evs))
	for _, e := range evs {
		got, err := svc.Append(t.Context(), e)
		require.NoError(t, err)
		out = append(out, got)
	}
	return out
}

func seqs(evs []audit.Event) []int64 {
	out := make([]int64, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func requireVerified(t *testing.T, svc *audit.Service, events int64) {
	t.Helper()
	v, err := svc.Verify(t.Context())
	require.NoError(t, err)
	require.True(t, v.OK, "verify: %+v", v)
	require.Equal(t, events, v.Events)
}

func TestAppendList(t *testing.T) {
	db := pgtest.DB(t)
	store := auditpg.New(db)
	svc := audit.NewService(store)

	stored := appendAll(t, svc,
		event("alice", "zone-a", "person.read"),   // 1
		event("bob", "zone-a", "person.read"),     // 2
		event("alice", "zone-b", "facility.read"), // 3
		event("carol", "zone-b", "person.write"),  // 4
		event("alice", "zone-a", "person.write"),  // 5
		event("bob", "zone-b", "person.read"),     // 6
	)
	for i, e := range stored {
		require.Equal(t, int64(i+1), e.Seq)
		if i > 0 {
			require.True(t, e.Time.After(stored[i-1].Time), "times follow seq")
			require.Equal(t, stored[i-1].Hash, e.PrevHash)
		}
	}
	require.Equal(t, audit.GenesisHash, stored[0].PrevHash)

	t.Run("storedAsAppended", func(t *testing.T) {
		got, err := store.List(t.Context(), audit.Filter{})
		require.NoError(t, err)
		want := slices.Clone(stored)
		slices.Reverse(want)
		assert.Equal(t, want, got)
	})

	tests := []struct {
		name string
		f    audit.Filter
		want []int64
	}{
		{"all", audit.Filter{}, []int64{6, 5, 4, 3, 2, 1}},
		{"actor", audit.Filter{Actor: "alice"}, []int64{5, 3, 1}},
		{"org", audit.Filter{Org: "zone-b"}, []int64{6, 4, 3}},
		{"action", audit.Filter{Action: "person.read"}, []int64{6, 2, 1}},
		{"actorAndOrg", audit.Filter{Actor: "alice", Org: "zone-a"}, []int64{5, 1}},
		{"fromInclusive", audit.Filter{From: stored[3].Time}, []int64{6, 5, 4}},
		{"toExclusive", audit.Filter{To: stored[3].Time}, []int64{3, 2, 1}},
		{"fromTo", audit.Filter{From: stored[1].Time, To: stored[4].Time}, []int64{4, 3, 2}},
		{"fromToOtherZone", audit.Filter{From: stored[1].Time.In(time.FixedZone("CET", 3600)), To: stored[4].Time}, []int64{4, 3, 2}},
		{"before", audit.Filter{Before: 4}, []int64{3, 2, 1}},
		{"beforeAndActor", audit.Filter{Before: 5, Actor: "alice"}, []int64{3, 1}},
		{"limit", audit.Filter{Limit: 2}, []int64{6, 5}},
		{"limitAndAction", audit.Filter{Action: "person.write", Limit: 1}, []int64{5}},
		{"noMatch", audit.Filter{Actor: "mallory"}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.List(t.Context(), tt.f)
			require.NoError(t, err)
			assert.Equal(t, tt.want, seqs(got))
		})
	}

	t.Run("servicePages", func(t *testing.T) {
		var (
			pages   [][]int64
			cursors []int64
			f       = audit.Filter{Limit: 2}
		)
		for {
			evs, next, err := svc.List(t.Context(), f)
			require.NoError(t, err)
			pages = append(pages, seqs(evs))
			cursors = append(cursors, next)
			if next == 0 || len(pages) > 10 {
				break
			}
			f.Before = next
		}
		assert.Equal(t, [][]int64{{6, 5}, {4, 3}, {2, 1}}, pages)
		assert.Equal(t, []int64{5, 3, 0}, cursors)
	})

	t.Run("servicePagesFiltered", func(t *testing.T) {
		evs, next, err := svc.List(t.Context(), audit.Filter{Actor: "alice", Limit: 2})
		require.NoError(t, err)
		assert.Equal(t, []int64{5, 3}, seqs(evs))
		require.Equal(t, int64(3), next)
		evs, next, err = svc.List(t.Context(), audit.Filter{Actor: "alice", Limit: 2, Before: next})
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, seqs(evs))
		assert.Zero(t, next)
	})

	t.Run("head", func(t *testing.T) {
		seq, hash, err := store.Head(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(6), seq)
		assert.Equal(t, stored[5].Hash, hash)
	})
}

func TestAppendInvalid(t *testing.T) {
	db := pgtest.DB(t)
	svc := audit.NewService(auditpg.New(db))
	tests := []struct {
		name string
		e    audit.Event
	}{
		{"noAction", audit.Event{Actor: "alice", Outcome: audit.OutcomeAllowed}},
		{"noOutcome", audit.Event{Actor: "alice", Action: "person.read"}},
		{"badOutcome", audit.Event{Actor: "alice", Action: "person.read", Outcome: "maybe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Append(t.Context(), tt.e)
			assert.ErrorIs(t, err, audit.ErrInvalidEvent)
		})
	}
	requireVerified(t, svc, 0)
}

func TestVerifyIntact(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		chunk int
	}{
		{"empty", 0, 7},
		{"one", 1, 7},
		{"exactChunk", 7, 7},
		{"severalChunks", 50, 7},
		{"defaultChunk", 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.DB(t)
			store := auditpg.New(db)
			if tt.chunk > 0 {
				store = auditpg.NewChunked(db, tt.chunk)
			}
			svc := audit.NewService(store)
			for i := range tt.n {
				_, err := svc.Append(t.Context(), event(fmt.Sprintf("user-%d", i), "zone-a", "person.read"))
				require.NoError(t, err)
			}
			var walked []int64
			require.NoError(t, store.Walk(t.Context(), func(e audit.Event) error {
				walked = append(walked, e.Seq)
				return nil
			}))
			want := []int64{}
			for i := range tt.n {
				want = append(want, int64(i+1))
			}
			assert.Equal(t, want, append([]int64{}, walked...))
			requireVerified(t, svc, int64(tt.n))
		})
	}
}

func TestWalkStopsAtError(t *testing.T) {
	db := pgtest.DB(t)
	store := auditpg.NewChunked(db, 3)
	svc := audit.NewService(store)
	for range 10 {
		_, err := svc.Append(t.Context(), event("alice", "zone-a", "person.read"))
		require.NoError(t, err)
	}
	errStop := errors.New("stop")
	var walked []int64
	err := store.Walk(t.Context(), func(e audit.Event) error {
		walked = append(walked, e.Seq)
		if e.Seq == 5 {
			return errStop
		}
		return nil
	})
	assert.ErrorIs(t, err, errStop)
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, walked)
}

func TestAppendConcurrent(t *testing.T) {
	const n = 200
	db := pgtest.DB(t)
	store := auditpg.New(db)
	svc := audit.NewService(store)

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = svc.Append(t.Context(), event(fmt.Sprintf("user-%03d", i), "zone-a", "person.read"))
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	var (
		gotSeqs   []int64
		gotActors []string
	)
	require.NoError(t, store.Walk(t.Context(), func(e audit.Event) error {
		gotSeqs = append(gotSeqs, e.Seq)
		gotActors = append(gotActors, e.Actor)
		return nil
	}))
	wantSeqs := make([]int64, n)
	wantActors := make([]string, n)
	for i := range n {
		wantSeqs[i] = int64(i + 1)
		wantActors[i] = fmt.Sprintf("user-%03d", i)
	}
	assert.Equal(t, wantSeqs, gotSeqs)
	slices.Sort(gotActors)
	assert.Equal(t, wantActors, gotActors, "each goroutine's event stored once")
	requireVerified(t, svc, n)
}

// appendAfterWalk appends an event once Walk has read the chain and before
// Verify reads the head: an append committing between the two must not
// look like tampering.
type appendAfterWalk struct {
	*auditpg.Store
}

func (s appendAfterWalk) Walk(ctx context.Context, fn func(audit.Event) error) error {
	if err := s.Store.Walk(ctx, fn); err != nil {
		return err
	}
	_, err := s.Store.Append(ctx, event("late", "zone-a", "person.read"))
	return err
}

func TestVerifyWhileAppending(t *testing.T) {
	t.Run("appendBetweenWalkAndHead", func(t *testing.T) {
		db := pgtest.DB(t)
		store := auditpg.New(db)
		appendAll(t, audit.NewService(store), event("alice", "zone-a", "person.read"), event("bob", "zone-a", "person.read"))
		v, err := audit.NewService(appendAfterWalk{store}).Verify(t.Context())
		require.NoError(t, err)
		assert.True(t, v.OK, "verify: %+v", v)
		assert.Equal(t, int64(2), v.Events)
	})

	t.Run("live", func(t *testing.T) {
		db := pgtest.DB(t)
		store := auditpg.NewChunked(db, 5)
		svc := audit.NewService(store)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					_, err := svc.Append(ctx, event(fmt.Sprintf("w%d-%d", w, i), "zone-a", "person.read"))
					if err != nil && ctx.Err() == nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			})
		}
		for range 30 {
			v, err := svc.Verify(t.Context())
			require.NoError(t, err)
			assert.True(t, v.OK, "verify while appending: %+v", v)
		}
		cancel()
		wg.Wait()
		v, err := svc.Verify(t.Context())
		require.NoError(t, err)
		require.True(t, v.OK, "verify after appending: %+v", v)
		assert.Positive(t, v.Events)
	})
}

// errRollback makes WithTx roll back a case's transaction.
var errRollback = errors.New("rollback")

func TestAppendOnlyTriggers(t *testing.T) {
	db := pgtest.DB(t)
	svc := audit.NewService(auditpg.New(db))
	appendAll(t, svc, event("alice", "zone-a", "person.read"), event("bob", "zone-a", "person.read"))

	tests := []struct {
		name    string
		sql     string
		wantErr string
	}{
		{"updateEvent", `UPDATE audit.events SET actor = 'mallory' WHERE seq = 1`, "append-only"},
		{"updateAllEvents", `UPDATE audit.events SET purpose = ''`, "append-only"},
		{"deleteEvent", `DELETE FROM audit.events WHERE seq = 2`, "append-only"},
		{"truncateEvents", `TRUNCATE audit.events`, "append-only"},
		{"headBack", `UPDATE audit.head SET seq = seq - 1`, "only advances"},
		{"headSkip", `UPDATE audit.head SET seq = seq + 2`, "only advances"},
		// Append and AppendBatch move the head onto the event they inserted;
		// a head ahead of every event is refused.
		{"headAheadOfEvents", `UPDATE audit.head SET seq = seq + 1`, "only advances"},
		{"headHashOnly", `UPDATE audit.head SET hash = decode(repeat('00', 32), 'hex')`, "only advances"},
		{"deleteHead", `DELETE FROM audit.head`, "only advances"},
		{"truncateHead", `TRUNCATE audit.head`, "only advances"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.Pool.Exec(t.Context(), tt.sql)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	requireVerified(t, svc, 2)

}

func TestTamperDetected(t *testing.T) {
	const n = 10
	db := pgtest.DB(t)
	store := auditpg.New(db)
	svc := audit.NewService(store)
	stored := appendAll(t, svc, slices.Repeat([]audit.Event{event("alice", "zone-a", "person.read")}, n)...)

	// rehashed is event 5 with another actor and a hash that matches it:
	// only the next event's prev_hash betrays it.
	rehashed := stored[4]
	rehashed.Actor = "mallory"
	rehashed.Hash = audit.Hash(rehashed.PrevHash, rehashed)
	// forged is an event 11 chained correctly but never recorded in the head.
	forged := event("mallory", "zone-a", "person.read")
	forged.Seq, forged.Time, forged.PrevHash = n+1, stored[n-1].Time.Add(time.Second), stored[n-1].Hash
	forged.Hash = audit.Hash(forged.PrevHash, forged)

	tests := []struct {
		name       string
		sql        string
		args       []any
		wantBroken int64
		wantReason string
	}{
		{"actor", `UPDATE audit.events SET actor = 'mallory' WHERE seq = 5`, nil, 5, "contents"},
		{"role", `UPDATE audit.events SET role = 'admin' WHERE seq = 5`, nil, 5, "contents"},
		{"org", `UPDATE audit.events SET org = 'zone-z' WHERE seq = 5`, nil, 5, "contents"},
		{"action", `UPDATE audit.events SET action = 'person.write' WHERE seq = 5`, nil, 5, "contents"},
		{"objectType", `UPDATE audit.events SET object_type = 'facility' WHERE seq = 5`, nil, 5, "contents"},
		{"objectID", `UPDATE audit.events SET object_id = 'obj-2' WHERE seq = 5`, nil, 5, "contents"},
		{"personRef", `UPDATE audit.events SET person_ref = 'p-2' WHERE seq = 5`, nil, 5, "contents"},
		{"purpose", `UPDATE audit.events SET purpose = 'curiosity' WHERE seq = 5`, nil, 5, "contents"},
		{"outcome", `UPDATE audit.events SET outcome = 'denied' WHERE seq = 5`, nil, 5, "contents"},
		{"status", `UPDATE audit.events SET status = 403 WHERE seq = 5`, nil, 5, "contents"},
		{"requestID", `UPDATE audit.events SET request_id = 'req-x' WHERE seq = 5`, nil, 5, "contents"},
		{"time", `UPDATE audit.events SET at = at + interval '1 microsecond' WHERE seq = 5`, nil, 5, "contents"},
		{"hash", `UPDATE audit.events SET hash = decode(repeat('ab', 32), 'hex') WHERE seq = 5`, nil, 5, "contents"},
		{"prevHash", `UPDATE audit.events SET prev_hash = decode(repeat('ab', 32), 'hex') WHERE seq = 5`, nil, 5, "previous hash"},
		{"rehashed", `UPDATE audit.events SET actor = $1, hash = $2 WHERE seq = 5`, []any{rehashed.Actor, rehashed.Hash}, 6, "previous hash"},
		{"deleteFirst", `DELETE FROM audit.events WHERE seq = 1`, nil, 1, "missing"},
		{"deleteMiddle", `DELETE FROM audit.events WHERE seq = 5`, nil, 5, "missing"},
		{"deleteLast", `DELETE FROM audit.events WHERE seq = 10`, nil, 10, "head"},
		{"deleteAll", `DELETE FROM audit.events`, nil, 10, "head"},
		{"renumber", `UPDATE audit.events SET seq = seq + 100 WHERE seq = 10`, nil, 10, "missing"},
		{"appendUnrecorded", `INSERT INTO audit.events (seq, at, actor, role, org, action, object_type, object_id,
			person_ref, purpose, outcome, status, request_id, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			[]any{forged.Seq, forged.Time, forged.Actor, forged.Role, forged.Org, forged.Action, forged.ObjectType, forged.ObjectID,
				forged.PersonRef, forged.Purpose, string(forged.Outcome), forged.Status, forged.RequestID, forged.PrevHash, forged.Hash},
			10, "head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the table owner would: switch the triggers off, tamper,
			// switch them back on. Rolled back, so every case starts from
			// the intact chain.
			err := db.WithTx(t.Context(), func(ctx context.Context) error {
				q := db.Q(ctx)
				_, err := q.Exec(ctx, `ALTER TABLE audit.events DISABLE TRIGGER USER`)
				require.NoError(t, err)
				tag, err := q.Exec(ctx, tt.sql, tt.args...)
				require.NoError(t, err)
				require.Positive(t, tag.RowsAffected())
				_, err = q.Exec(ctx, `ALTER TABLE audit.events ENABLE TRIGGER USER`)
				require.NoError(t, err)

				v, err := svc.Verify(ctx)
				require.NoError(t, err)
				assert.False(t, v.OK, "verify: %+v", v)
				assert.Equal(t, tt.wantBroken, v.BrokenSeq, "broken seq (%s)", v.Reason)
				assert.Contains(t, v.Reason, tt.wantReason)
				return errRollback
			})
			require.ErrorIs(t, err, errRollback)
		})
	}
	requireVerified(t, svc, n)
}

func TestAppendInTransaction(t *testing.T) {
	errDomain := errors.New("domain write failed")
	tests := []struct {
		name      string
		fail      bool
		wantSeq   int64
		wantNotes int
	}{
		{"commit", false, 1, 1},
		{"rollback", true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.DB(t)
			_, err := db.Pool.Exec(t.Context(), `CREATE TABLE notes (body text NOT NULL)`)
			require.NoError(t, err)
			store := auditpg.New(db)
			svc := audit.NewService(store)

			err = db.WithTx(t.Context(), func(ctx context.Context) error {
				if _, err := db.Q(ctx).Exec(ctx, `INSERT INTO notes (body) VALUES ('x')`); err != nil {
					return err
				}
				if _, err := svc.Append(ctx, event("alice", "zone-a", "note.write")); err != nil {
					return err
				}
				// Inside, the head has moved; outside, not yet: the
				// append joined this transaction.
				inside, _, err := store.Head(ctx)
				require.NoError(t, err)
				assert.Equal(t, int64(1), inside)
				outside, _, err := store.Head(context.WithoutCancel(t.Context()))
				require.NoError(t, err)
				assert.Zero(t, outside)
				if tt.fail {
					return errDomain
				}
				return nil
			})
			if tt.fail {
				require.ErrorIs(t, err, errDomain)
			} else {
				require.NoError(t, err)
			}

			seq, hash, err := store.Head(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.wantSeq, seq)
			evs, err := store.List(t.Context(), audit.Filter{})
			require.NoError(t, err)
			assert.Equal(t, tt.wantSeq, int64(len(evs)))
			if tt.wantSeq == 0 {
				assert.Equal(t, audit.GenesisHash, hash)
			}
			var notes int
			require.NoError(t, db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notes`).Scan(&notes))
			assert.Equal(t, tt.wantNotes, notes)
			requireVerified(t, svc, tt.wantSeq)
		})
	}
}

// TestAppendBatch: batches and single appends from several goroutines
// interleave into one chain that verifies.
func TestAppendBatch(t *testing.T) {
	db := pgtest.DB(t)
	svc := audit.NewService(auditpg.New(db))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			batch := slices.Repeat([]audit.Event{event(fmt.Sprintf("batch-%d", g), "zone-a", "tokens.resolve")}, 50)
			out, err := svc.AppendBatch(t.Context(), batch)
			assert.NoError(t, err)
			for i := 1; i < len(out); i++ {
				assert.Equal(t, out[i-1].Seq+1, out[i].Seq, "a batch is one run of the chain")
				assert.Equal(t, out[i-1].Hash, out[i].PrevHash)
			}
			_, err = svc.Append(t.Context(), event("single", "zone-b", "audit.verify"))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	requireVerified(t, svc, 4*51)

	// A batch in a transaction that rolls back leaves nothing.
	err := db.WithTx(t.Context(), func(ctx context.Context) error {
		if _, err := svc.AppendBatch(ctx, []audit.Event{event("x", "z", "a"), event("y", "z", "a")}); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	requireVerified(t, svc, 4*51)

	_, err = svc.AppendBatch(t.Context(), []audit.Event{event("x", "z", "a"), {Actor: "no action", Outcome: audit.OutcomeAllowed}})
	assert.ErrorIs(t, err, audit.ErrInvalidEvent)
}

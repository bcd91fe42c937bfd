// Package audit is sirm's access log: an append-only list of events, each
// bound to the one before it by a SHA-256 hash chain, so that changing,
// inserting or removing an event after the fact is detected by Verify.
//
// An event records who did what to which kind of object and, when the object
// is person-level data, an internal person reference — never an identity.
// The PostgreSQL store (audit/auditpg) keeps the events in a table that a
// trigger makes append-only, and writes an event in the transaction the
// context carries, so the event of a write commits or rolls back with it.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Outcome says how a request ended for the access policy.
type Outcome string

// Outcomes.
const (
	// OutcomeAllowed: the policy allowed the action and the handler ran.
	OutcomeAllowed Outcome = "allowed"
	// OutcomeDenied: the policy denied the action (HTTP 403).
	OutcomeDenied Outcome = "denied"
	// OutcomeFailed: the action was allowed but did not complete (4xx/5xx).
	OutcomeFailed Outcome = "failed"
)

// Valid reports whether o is one of the defined outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeAllowed, OutcomeDenied, OutcomeFailed:
		return true
	}
	return false
}

// Event is one entry of the access log. Seq, Time, PrevHash and Hash are set
// by the store when the event is appended.
type Event struct {
	Seq        int64
	Time       time.Time
	Actor      string // the principal's subject
	Role       string
	Org        string
	Action     string // the policy action, e.g. "audit.events.list"
	ObjectType string // e.g. "audit_log", "person", "facility"
	ObjectID   string // an internal, non-identifying reference; may be empty
	PersonRef  string // internal person reference; empty when no person is involved
	Purpose    string
	Outcome    Outcome
	Status     int // HTTP status of the request; 0 when not an HTTP request
	RequestID  string
	PrevHash   []byte
	Hash       []byte
}

// HashSize is the size of PrevHash and Hash.
const HashSize = sha256.Size

// GenesisHash is the PrevHash of the first event.
var GenesisHash = make([]byte, HashSize)

// Hash computes the chain hash of e from prev and every field of e except
// PrevHash and Hash (prev stands for PrevHash; Verify checks they agree).
// The encoding is length-prefixed, so no two different events encode alike.
// Time is taken in UTC at microsecond precision, which is what PostgreSQL
// keeps.
func Hash(prev []byte, e Event) []byte {
	h := sha256.New()
	var buf [8]byte
	writeBytes := func(b []byte) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(b)))
		h.Write(buf[:])
		h.Write(b)
	}
	writeInt := func(v int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	h.Write([]byte("sirm-audit-v1\x00"))
	writeBytes(prev)
	writeInt(e.Seq)
	writeInt(e.Time.UTC().Truncate(time.Microsecond).UnixMicro())
	for _, s := range []string{e.Actor, e.Role, e.Org, e.Action, e.ObjectType, e.ObjectID, e.PersonRef, e.Purpose, string(e.Outcome), e.RequestID} {
		writeBytes([]byte(s))
	}
	writeInt(int64(e.Status))
	return h.Sum(nil)
}

// ErrInvalidEvent is returned by Append when the event lacks an action or an
// outcome; it wraps a message naming the missing field.
var ErrInvalidEvent = errors.New("invalid audit event")

// Filter selects events for List. Zero fields do not filter.
type Filter struct {
	Actor  string
	Org    string
	Action string
	// PersonRef selects the events about one person (its audit reference).
	PersonRef string
	From      time.Time // inclusive
	To        time.Time // exclusive
	// Before returns only events with Seq < Before (the cursor of the next
	// page, newest first); 0 starts from the newest event.
	Before int64
	Limit  int
}

// Store keeps the events. Implementations are safe for concurrent use.
type Store interface {
	// Append assigns Seq, Time, PrevHash and Hash and stores e, in the
	// transaction ctx carries when there is one. Concurrent appends are
	// serialised so that the chain stays unbroken.
	Append(ctx context.Context, e Event) (Event, error)
	// AppendBatch appends evs in order as Append would, in one statement
	// and under one lock of the head.
	AppendBatch(ctx context.Context, evs []Event) ([]Event, error)
	// List returns the events matching f, newest first, at most f.Limit.
	List(ctx context.Context, f Filter) ([]Event, error)
	// Walk calls fn with every event in ascending Seq order, and stops at
	// the first error fn returns (which Walk then returns).
	Walk(ctx context.Context, fn func(Event) error) error
	// Head returns the Seq and Hash of the last appended event (0 and
	// GenesisHash when the log is empty), as recorded by Append.
	Head(ctx context.Context) (seq int64, hash []byte, err error)
}

// Service appends, lists and verifies events.
type Service struct {
	store Store
}

// NewService returns a Service on store.
func NewService(store Store) *Service { return &Service{store: store} }

// MaxLimit is the largest page List returns.
const MaxLimit = 1000

// Append validates and stores e. It returns an error wrapping ErrInvalidEvent
// when Action or Outcome is missing.
func (s *Service) Append(ctx context.Context, e Event) (Event, error) {
	if e.Action == "" {
		return Event{}, fmt.Errorf("%w: action is empty", ErrInvalidEvent)
	}
	if !e.Outcome.Valid() {
		return Event{}, fmt.Errorf("%w: outcome %q", ErrInvalidEvent, e.Outcome)
	}
	ev, err := s.store.Append(ctx, e)
	if err != nil {
		return Event{}, fmt.Errorf("append audit event: %w", err)
	}
	return ev, nil
}

// AppendBatch validates and stores evs in order, as one step of the chain.
func (s *Service) AppendBatch(ctx context.Context, evs []Event) ([]Event, error) {
	for i, e := range evs {
		if e.Action == "" {
			return nil, fmt.Errorf("%w: event %d: action is empty", ErrInvalidEvent, i)
		}
		if !e.Outcome.Valid() {
			return nil, fmt.Errorf("%w: event %d: outcome %q", ErrInvalidEvent, i, e.Outcome)
		}
	}
	if len(evs) == 0 {
		return nil, nil
	}
	out, err := s.store.AppendBatch(ctx, evs)
	if err != nil {
		return nil, fmt.Errorf("append %d audit events: %w", len(evs), err)
	}
	return out, nil
}

// List returns a page of events, newest first, and the cursor of the next
// page (0 when there is none).
func (s *Service) List(ctx context.Context, f Filter) ([]Event, int64, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = 100
	}
	want := f.Limit
	f.Limit++ // one more tells whether a next page exists
	evs, err := s.store.List(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	var next int64
	if len(evs) > want {
		evs = evs[:want]
		next = evs[want-1].Seq
	}
	return evs, next, nil
}

// Verification is the result of Verify.
type Verification struct {
	OK     bool
	Events int64 // events checked
	// BrokenSeq is the sequence number of the first event whose stored
	// hash, previous hash or position disagrees with the chain; when the
	// chain is intact but the head record disagrees with the last event
	// (events removed at the end), it is the head's Seq.
	BrokenSeq int64
	Reason    string
}

// Verify recomputes the whole chain and reports the first break. It may run
// while events are being appended: it reads the head before and after
// walking the chain, so an append that commits meanwhile is not taken for
// tampering.
func (s *Service) Verify(ctx context.Context) (Verification, error) {
	// Append stores an event and advances the head in one transaction, so
	// every event up to the head read first has committed: the walk must
	// reach it and agree with it. Events the walk sees beyond it were appended
	// meanwhile; their head updates committed with them, so the head read
	// after the walk must not be behind the walk.
	startSeq, startHash, err := s.store.Head(ctx)
	if err != nil {
		return Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	var (
		v         = Verification{OK: true}
		prev      = GenesisHash
		atStart   = GenesisHash // hash of event startSeq
		wantSeq   = int64(1)
		errStop   = errors.New("stop")
		headBreak = "the chain head does not match the last event"
	)
	broken := func(seq int64, reason string) error {
		v.OK, v.BrokenSeq, v.Reason = false, seq, reason
		return errStop
	}
	err = s.store.Walk(ctx, func(e Event) error {
		v.Events++
		switch {
		case e.Seq != wantSeq:
			return broken(wantSeq, fmt.Sprintf("event %d is missing", wantSeq))
		case !equal(e.PrevHash, prev):
			return broken(e.Seq, "previous hash does not match the event before")
		case !equal(e.Hash, Hash(prev, e)):
			return broken(e.Seq, "hash does not match the event's contents")
		}
		if e.Seq == startSeq {
			atStart = e.Hash
		}
		prev = e.Hash
		wantSeq++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	if !v.OK {
		return v, nil
	}
	last := wantSeq - 1
	if last < startSeq || !equal(atStart, startHash) {
		v.OK, v.BrokenSeq, v.Reason = false, startSeq, headBreak
		return v, nil
	}
	endSeq, endHash, err := s.store.Head(ctx)
	if err != nil {
		return Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	if last > endSeq || (last == endSeq && !equal(prev, endHash)) {
		v.OK, v.BrokenSeq, v.Reason = false, endSeq, headBreak
	}
	return v, nil
}

func equal(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := range a {
		d |= a[i] ^ b[i]
	}
	return d == 0
}

package linkage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Merges. Two persons a steward (or a later codice fiscale) shows to be one
// minor become one by pointing the absorbed person at the survivor; nothing
// else moves. Every lookup (match keys, tokens) follows the pointers to the
// root, so after a merge every token and key of either person reaches the
// survivor, and undoing the merge — clearing the pointer — gives back every
// person, token and match key exactly as it was.

// ErrClosed is returned when the object of a decision is no longer open: a
// review already decided, a merge already undone, or two persons that are
// already one.
var ErrClosed = errors.New("already closed")

// MergeEventKind says what happened to a merge.
type MergeEventKind string

// Merge event kinds.
const (
	MergeEventMerge MergeEventKind = "merge"
	MergeEventUndo  MergeEventKind = "undo"
)

// MergeEvent tells subscribers that Absorbed now is (merge) or no longer is
// (undo) the same person as Survivor. Packages keyed by PersonID (activity)
// use it to re-key what they cache; what they store needs nothing, as
// CurrentPerson follows merges.
type MergeEvent struct {
	Kind     MergeEventKind
	Survivor PersonID
	Absorbed PersonID
	MergeID  int64
	// Seq orders the events of every node (MergeEventsAfter); At is when
	// the event was recorded.
	Seq int64
	At  time.Time
}

// MergeRecord is one merge as stored, undone or not.
type MergeRecord struct {
	ID        int64
	Survivor  PersonID
	Absorbed  PersonID
	ReviewID  int64 // 0 when no review led to it
	CreatedAt time.Time
	CreatedBy string
	UndoneAt  time.Time // zero while in force
	UndoneBy  string
	// Event is the merge event the operation recorded (the merge, or its
	// undo).
	Event MergeEvent
}

// ReviewDecision is a steward's verdict on a possible match.
type ReviewDecision string

// Review decisions.
const (
	DecisionSame      ReviewDecision = "same"
	DecisionDifferent ReviewDecision = "different"
)

// Valid reports whether d is one of the decisions.
func (d ReviewDecision) Valid() bool { return d == DecisionSame || d == DecisionDifferent }

// SexAgreement compares the sex of two persons (or records).
type SexAgreement string

// Sex agreements. Unknown: one side is X.
const (
	SexSame      SexAgreement = "same"
	SexDifferent SexAgreement = "different"
	SexUnknown   SexAgreement = "unknown"
)

// ReviewSide is what a steward may know of one person of a review: counts,
// never an attribute that identifies.
type ReviewSide struct {
	Tokens  int // tokens issued to the person (and the persons it absorbed)
	Domains int // distinct domains (organisations, exports) holding a token
}

// ReviewEvidence is the pseudonymous evidence of a possible match as a
// steward sees it: the Dice similarity of each field's encoding (by field
// name: surname, given_names, birth_date, birth_place, residence), the
// kinds of match keys the two persons share, and whether the names matched
// crosswise. It is read from what resolution recorded (Evidence), keeping
// only values that cannot identify anyone.
type ReviewEvidence struct {
	Similarity map[string]float64
	KeysAgree  []KeyKind
	Swapped    bool // surname and given names matched crosswise
}

// EvidenceFields are the field names a ReviewEvidence may hold; a store
// drops any other.
var EvidenceFields = []string{"surname", "given_names", "birth_date", "birth_place", "residence", "citizenship"}

// PendingReview is an open possible match as the steward's queue shows it.
// PersonA and PersonB stay inside the server.
type PendingReview struct {
	ID        int64
	Score     float64
	Evidence  ReviewEvidence
	Sex       SexAgreement
	A, B      ReviewSide
	CreatedAt time.Time
	PersonA   PersonID
	PersonB   PersonID
}

// DecidedReview is what deciding a review did.
type DecidedReview struct {
	ReviewID int64
	Decision ReviewDecision
	PersonA  PersonID
	PersonB  PersonID
	// Merge is the merge a "same" decision made; zero ID when the two were
	// already one person (merged through another review) or the decision
	// was "different".
	Merge MergeRecord
}

// MergeStore keeps merges and reviews. Implementations run in the
// transaction ctx carries and are safe for concurrent use.
type MergeStore interface {
	// Merge makes the current person of absorbed part of the current
	// person of survivor and records it; ErrNotFound when either person is
	// unknown, ErrClosed when they are already one person. Merges are
	// serialised, so concurrent merges never form a cycle.
	Merge(ctx context.Context, survivor, absorbed PersonID, reviewID int64, actor string) (MergeRecord, error)
	// UndoMerge undoes merge id; ErrNotFound when there is none, ErrClosed
	// when it is undone already. A review that led to it opens again.
	UndoMerge(ctx context.Context, id int64, actor string) (MergeRecord, error)
	// CurrentPerson returns the person p now is; ErrNotFound when p is
	// unknown.
	CurrentPerson(ctx context.Context, p PersonID) (PersonID, error)
	// OpenReviews returns up to limit open reviews with id > after, by id.
	OpenReviews(ctx context.Context, after int64, limit int) ([]PendingReview, error)
	// DecideReview locks review id and closes it with d; ErrNotFound when
	// there is none, ErrClosed when it is decided already.
	DecideReview(ctx context.Context, id int64, d ReviewDecision, actor string) (DecidedReview, error)
	// MergeEventsAfter returns up to limit merge events with Seq > after,
	// in Seq order.
	MergeEventsAfter(ctx context.Context, after int64, limit int) ([]MergeEvent, error)
}

// MergeHook runs inside the transaction of a merge, an undo or a decision,
// after its changes; an error rolls everything back. api writes its audit
// events with it.
type MergeHook func(ctx context.Context, m MergeRecord) error

// subscribers are the MergeEvent subscribers of a Service.
type subscribers struct {
	mu  sync.RWMutex
	fns []func(MergeEvent)
}

// Subscribe registers fn to be called, after commit, with every merge and
// undo this Service makes. Calls are synchronous, in the goroutine that
// made the change, in subscription order: fn must be quick. Delivery is
// in-process only: a merge made on another node is not seen here; what
// must see every merge reads MergeEventsAfter, the durable feed.
func (s *Service) Subscribe(fn func(MergeEvent)) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	s.subs.fns = append(s.subs.fns, fn)
}

func (s *Service) publish(e MergeEvent) {
	s.subs.mu.RLock()
	fns := s.subs.fns
	s.subs.mu.RUnlock()
	for _, fn := range fns {
		fn(e)
	}
}

func (s *Service) merges() (MergeStore, error) {
	ms, ok := s.store.(MergeStore)
	if !ok {
		return nil, errors.New("linkage: the store keeps no merges")
	}
	return ms, nil
}

func runHooks(ctx context.Context, m MergeRecord, hooks []MergeHook) error {
	for _, h := range hooks {
		if h != nil {
			if err := h(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// Merge makes absorbed (its current person) part of survivor (its current
// person) and returns the merge's id; hooks run in its transaction.
// ErrNotFound when either is unknown, ErrClosed when they are one already.
func (s *Service) Merge(ctx context.Context, survivor, absorbed PersonID, reviewID int64, actor string, hooks ...MergeHook) (int64, error) {
	ms, err := s.merges()
	if err != nil {
		return 0, err
	}
	var m MergeRecord
	err = s.tx.WithTx(ctx, func(ctx context.Context) error {
		if m, err = ms.Merge(ctx, survivor, absorbed, reviewID, actor); err != nil {
			return err
		}
		return runHooks(ctx, m, hooks)
	})
	if err != nil {
		return 0, fmt.Errorf("merge persons: %w", err)
	}
	s.publish(m.Event)
	return m.ID, nil
}

// Undo undoes merge mergeID: the absorbed person, and every key and token
// of it, is its own person again. ErrNotFound for an unknown merge,
// ErrClosed for one undone already.
func (s *Service) Undo(ctx context.Context, mergeID int64, actor string, hooks ...MergeHook) error {
	ms, err := s.merges()
	if err != nil {
		return err
	}
	var m MergeRecord
	err = s.tx.WithTx(ctx, func(ctx context.Context) error {
		if m, err = ms.UndoMerge(ctx, mergeID, actor); err != nil {
			return err
		}
		return runHooks(ctx, m, hooks)
	})
	if err != nil {
		return fmt.Errorf("undo merge %d: %w", mergeID, err)
	}
	s.publish(m.Event)
	return nil
}

// CurrentPerson returns the person p now is: p itself, or the survivor of
// the merges that absorbed it. ErrNotFound when p is unknown.
func (s *Service) CurrentPerson(ctx context.Context, p PersonID) (PersonID, error) {
	ms, err := s.merges()
	if err != nil {
		return PersonID{}, err
	}
	return ms.CurrentPerson(ctx, p)
}

// OpenReviews lists up to limit open possible matches with id > after.
func (s *Service) OpenReviews(ctx context.Context, after int64, limit int) ([]PendingReview, error) {
	ms, err := s.merges()
	if err != nil {
		return nil, err
	}
	rs, err := ms.OpenReviews(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	return rs, nil
}

// Decide closes review reviewID with d; "same" merges person B into person
// A (their current persons). hook runs in the transaction with the
// outcome. ErrNotFound for an unknown review, ErrClosed for one decided
// already (of two concurrent decisions exactly one wins), ErrMalformed for
// a bad decision.
func (s *Service) Decide(ctx context.Context, reviewID int64, d ReviewDecision, actor string, hook func(ctx context.Context, r DecidedReview) error) (DecidedReview, error) {
	if !d.Valid() {
		return DecidedReview{}, fmt.Errorf("%w: decision", ErrMalformed)
	}
	ms, err := s.merges()
	if err != nil {
		return DecidedReview{}, err
	}
	var r DecidedReview
	err = s.tx.WithTx(ctx, func(ctx context.Context) error {
		if r, err = ms.DecideReview(ctx, reviewID, d, actor); err != nil {
			return err
		}
		if d == DecisionSame {
			m, err := ms.Merge(ctx, r.PersonA, r.PersonB, reviewID, actor)
			switch {
			case errors.Is(err, ErrClosed):
				// Already one person, through another merge: the decision
				// stands, there is nothing to merge.
			case err != nil:
				return err
			default:
				r.Merge = m
			}
		}
		if hook != nil {
			return hook(ctx, r)
		}
		return nil
	})
	if err != nil {
		return DecidedReview{}, fmt.Errorf("decide review %d: %w", reviewID, err)
	}
	if r.Merge.ID != 0 {
		s.publish(r.Merge.Event)
	}
	return r, nil
}

// MergeEventsAfter returns up to limit merge and undo events with a Seq
// above after, in the order they were made, whichever node made them: a
// consumer keeps the last Seq it handled and asks again from there.
func (s *Service) MergeEventsAfter(ctx context.Context, after int64, limit int) ([]MergeEvent, error) {
	ms, err := s.merges()
	if err != nil {
		return nil, err
	}
	if limit <= 0 || after < 0 {
		return nil, fmt.Errorf("%w: want after ≥ 0 and limit > 0", ErrMalformed)
	}
	evs, err := ms.MergeEventsAfter(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("merge events: %w", err)
	}
	return evs, nil
}

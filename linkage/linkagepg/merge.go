package linkagepg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/internal/pgdb"

	"github.com/toscana/sirm/linkage"
)

var _ linkage.MergeStore = (*Store)(nil)

const (
	// Merges are rare (a steward's decisions) and serialised by one
	// advisory lock, so two concurrent merges cannot each absorb the other's
	// root and form a cycle.
	lockMergesSQL = `SELECT pg_advisory_xact_lock(hashtextextended('linkage.merges', 0))`
	lockRootsSQL  = `
SELECT id, linkage.current_person(id) FROM linkage.persons WHERE id = ANY($1::uuid[]) ORDER BY id`
	// FOR UPDATE (not NO KEY UPDATE) on the absorbed root waits for the
	// resolutions attaching keys or tokens to it (they hold KEY SHARE) to
	// commit first.
	lockPersonSQL  = `SELECT 1 FROM linkage.persons WHERE id = $1 FOR UPDATE`
	absorbSQL      = `UPDATE linkage.persons SET merged_into = $1 WHERE id = $2 AND merged_into IS NULL`
	insertMergeSQL = `
INSERT INTO linkage.merges (survivor, absorbed, review_id, created_by) VALUES ($1, $2, $3, $4)
RETURNING id, created_at`
)

// Merge absorbs the current person of absorbed into that of survivor.
func (s *Store) Merge(ctx context.Context, survivor, absorbed linkage.PersonID, reviewID int64, actor string) (linkage.MergeRecord, error) {
	var m linkage.MergeRecord
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		if _, err := q.Exec(ctx, lockMergesSQL); err != nil {
			return fmt.Errorf("lock merges: %w", err)
		}
		roots := map[linkage.PersonID]linkage.PersonID{}
		rows, err := q.Query(ctx, lockRootsSQL, [][16]byte{personUUID(survivor), personUUID(absorbed)})
		if err != nil {
			return fmt.Errorf("find current persons: %w", err)
		}
		for rows.Next() {
			var id, root [16]byte
			if err := rows.Scan(&id, &root); err != nil {
				rows.Close()
				return fmt.Errorf("find current persons: %w", err)
			}
			roots[parsePerson(id)] = parsePerson(root)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find current persons: %w", err)
		}
		sRoot, okS := roots[survivor]
		aRoot, okA := roots[absorbed]
		if !okS || !okA {
			return linkage.ErrNotFound
		}
		if sRoot == aRoot {
			return fmt.Errorf("%w: the persons are one already", linkage.ErrClosed)
		}
		if _, err := q.Exec(ctx, lockPersonSQL, personUUID(aRoot)); err != nil {
			return fmt.Errorf("lock person: %w", err)
		}
		tag, err := q.Exec(ctx, absorbSQL, personUUID(sRoot), personUUID(aRoot))
		if err != nil {
			return fmt.Errorf("merge person: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("merge person: %d rows", tag.RowsAffected()) // cannot happen under the lock
		}
		var review *int64
		if reviewID != 0 {
			review = &reviewID
		}
		m = linkage.MergeRecord{Survivor: sRoot, Absorbed: aRoot, ReviewID: reviewID, CreatedBy: actor}
		if err := q.QueryRow(ctx, insertMergeSQL, personUUID(sRoot), personUUID(aRoot), review, actor).Scan(&m.ID, &m.CreatedAt); err != nil {
			return fmt.Errorf("record merge: %w", err)
		}
		m.Event, err = recordEvent(ctx, q, linkage.MergeEventMerge, m)
		return err
	})
	return m, err
}

const (
	lockMergeSQL = `
SELECT survivor, absorbed, coalesce(review_id, 0), created_at, created_by, undone_at
FROM linkage.merges WHERE id = $1 FOR UPDATE`
	unabsorbSQL = `UPDATE linkage.persons SET merged_into = NULL WHERE id = $1 AND merged_into = $2`
	undoSQL     = `UPDATE linkage.merges SET undone_at = now(), undone_by = $2 WHERE id = $1 RETURNING undone_at`
	// The pair goes back to the steward's queue: the decision that led to
	// the merge was wrong, and the merges table keeps its history.
	reopenReviewSQL = `
UPDATE linkage.reviews SET status = 'open', decided_at = NULL, decided_by = NULL WHERE id = $1`
)

// UndoMerge undoes merge id.
func (s *Store) UndoMerge(ctx context.Context, id int64, actor string) (linkage.MergeRecord, error) {
	m := linkage.MergeRecord{ID: id}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		if _, err := q.Exec(ctx, lockMergesSQL); err != nil {
			return fmt.Errorf("lock merges: %w", err)
		}
		var (
			surv, abs [16]byte
			undone    *time.Time
		)
		err := q.QueryRow(ctx, lockMergeSQL, id).Scan(&surv, &abs, &m.ReviewID, &m.CreatedAt, &m.CreatedBy, &undone)
		if errors.Is(err, pgx.ErrNoRows) {
			return linkage.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("find merge: %w", err)
		}
		if undone != nil {
			return fmt.Errorf("%w: the merge is undone already", linkage.ErrClosed)
		}
		m.Survivor, m.Absorbed = parsePerson(surv), parsePerson(abs)
		tag, err := q.Exec(ctx, unabsorbSQL, abs, surv)
		if err != nil {
			return fmt.Errorf("split person: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("split person: %d rows", tag.RowsAffected()) // cannot happen: one merge in force per absorbed person
		}
		if err := q.QueryRow(ctx, undoSQL, id, actor).Scan(&m.UndoneAt); err != nil {
			return fmt.Errorf("record undo: %w", err)
		}
		m.UndoneBy = actor
		if m.ReviewID != 0 {
			if _, err := q.Exec(ctx, reopenReviewSQL, m.ReviewID); err != nil {
				return fmt.Errorf("reopen review: %w", err)
			}
		}
		m.Event, err = recordEvent(ctx, q, linkage.MergeEventUndo, m)
		return err
	})
	return m, err
}

const currentPersonSQL = `SELECT linkage.current_person(id) FROM linkage.persons WHERE id = $1`

// CurrentPerson returns the root of p's merges.
func (s *Store) CurrentPerson(ctx context.Context, p linkage.PersonID) (linkage.PersonID, error) {
	var root [16]byte
	err := s.db.Q(ctx).QueryRow(ctx, currentPersonSQL, personUUID(p)).Scan(&root)
	if errors.Is(err, pgx.ErrNoRows) {
		return linkage.PersonID{}, linkage.ErrNotFound
	}
	if err != nil {
		return linkage.PersonID{}, fmt.Errorf("find current person: %w", err)
	}
	return parsePerson(root), nil
}

// openReviewsSQL reads open reviews with, for each side's current person,
// its sex and how many tokens it and the persons it absorbed hold.
const openReviewsSQL = `
WITH RECURSIVE r AS (
    SELECT id, score, evidence, created_at, person_a, person_b,
           linkage.current_person(person_a) AS root_a, linkage.current_person(person_b) AS root_b
    FROM linkage.reviews WHERE status = 'open' AND id > $1 ORDER BY id LIMIT $2
), roots AS (
    SELECT root_a AS root FROM r UNION SELECT root_b FROM r
), members(root, id) AS (
    SELECT root, root FROM roots
    UNION ALL
    SELECT m.root, p.id FROM members m JOIN linkage.persons p ON p.merged_into = m.id
), counts AS (
    SELECT m.root, count(t.token) AS tokens, count(DISTINCT t.domain) AS domains
    FROM members m LEFT JOIN linkage.tokens t ON t.person_id = m.id GROUP BY m.root
)
SELECT r.id, r.score, r.evidence, r.created_at, r.person_a, r.person_b,
       pa.sex, pb.sex, ca.tokens, ca.domains, cb.tokens, cb.domains
FROM r
JOIN linkage.persons pa ON pa.id = r.root_a
JOIN linkage.persons pb ON pb.id = r.root_b
JOIN counts ca ON ca.root = r.root_a
JOIN counts cb ON cb.root = r.root_b
ORDER BY r.id`

// OpenReviews returns up to limit open reviews with id > after.
func (s *Store) OpenReviews(ctx context.Context, after int64, limit int) ([]linkage.PendingReview, error) {
	rows, err := s.db.Q(ctx).Query(ctx, openReviewsSQL, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	defer rows.Close()
	var out []linkage.PendingReview
	for rows.Next() {
		var (
			r          linkage.PendingReview
			score      float32
			evidence   []byte
			a, b       [16]byte
			sexA, sexB string
		)
		if err := rows.Scan(&r.ID, &score, &evidence, &r.CreatedAt, &a, &b, &sexA, &sexB,
			&r.A.Tokens, &r.A.Domains, &r.B.Tokens, &r.B.Domains); err != nil {
			return nil, fmt.Errorf("read reviews: %w", err)
		}
		r.Score = float64(score)
		r.PersonA, r.PersonB = parsePerson(a), parsePerson(b)
		r.Evidence = decodeEvidence(evidence)
		switch {
		case sexA == "X" || sexB == "X":
			r.Sex = linkage.SexUnknown
		case sexA == sexB:
			r.Sex = linkage.SexSame
		default:
			r.Sex = linkage.SexDifferent
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// evidenceJSON is ReviewEvidence as linkage.reviews.evidence holds it:
//
//	{"similarity": {"surname": 0.93, "birth_date": 1}, "keys_agree": ["SWAP", "PHON"], "swapped": false}
//
// "fields" is read as a synonym of "similarity".
type evidenceJSON struct {
	Similarity map[string]json.RawMessage `json:"similarity,omitempty"`
	Fields     map[string]json.RawMessage `json:"fields,omitempty"`
	KeysAgree  []json.RawMessage          `json:"keys_agree,omitempty"`
	Swapped    bool                       `json:"swapped,omitempty"`
}

// EncodeEvidence is the JSON stored in linkage.reviews.evidence for e.
func EncodeEvidence(e linkage.ReviewEvidence) ([]byte, error) {
	out := struct {
		Similarity map[string]float64 `json:"similarity"`
		KeysAgree  []string           `json:"keys_agree"`
		Swapped    bool               `json:"swapped"`
	}{Similarity: map[string]float64{}, KeysAgree: []string{}, Swapped: e.Swapped}
	for k, v := range e.Similarity {
		out.Similarity[k] = v
	}
	for _, k := range e.KeysAgree {
		out.KeysAgree = append(out.KeysAgree, string(k))
	}
	return json.Marshal(out)
}

// decodeEvidence reads what it can of raw and keeps only what is
// pseudonymous by construction: numbers in [0, 1] under a known field
// name, and known key kinds. Anything else a writer put there — by mistake,
// a value of the identity — is dropped, never shown to a steward.
func decodeEvidence(raw []byte) linkage.ReviewEvidence {
	e := linkage.ReviewEvidence{Similarity: map[string]float64{}}
	var j evidenceJSON
	if json.Unmarshal(raw, &j) != nil {
		return e
	}
	e.Swapped = j.Swapped
	for _, m := range []map[string]json.RawMessage{j.Fields, j.Similarity} {
		for k, v := range m {
			var f float64
			if !slices.Contains(linkage.EvidenceFields, k) || json.Unmarshal(v, &f) != nil || math.IsNaN(f) || f < 0 || f > 1 {
				continue
			}
			e.Similarity[k] = f
		}
	}
	for _, v := range j.KeysAgree {
		var k string
		if json.Unmarshal(v, &k) == nil && linkage.KeyKind(k).Valid() && !slices.Contains(e.KeysAgree, linkage.KeyKind(k)) {
			e.KeysAgree = append(e.KeysAgree, linkage.KeyKind(k))
		}
	}
	return e
}

const (
	lockReviewSQL   = `SELECT person_a, person_b, status FROM linkage.reviews WHERE id = $1 FOR UPDATE`
	decideReviewSQL = `UPDATE linkage.reviews SET status = $2, decided_at = now(), decided_by = $3 WHERE id = $1`
)

// DecideReview closes review id with d. The row lock makes the second of
// two concurrent decisions wait, then see the review closed.
func (s *Store) DecideReview(ctx context.Context, id int64, d linkage.ReviewDecision, actor string) (linkage.DecidedReview, error) {
	r := linkage.DecidedReview{ReviewID: id, Decision: d}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		var (
			a, b   [16]byte
			status string
		)
		err := q.QueryRow(ctx, lockReviewSQL, id).Scan(&a, &b, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return linkage.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("find review: %w", err)
		}
		if status != "open" {
			return fmt.Errorf("%w: the review is decided already", linkage.ErrClosed)
		}
		if _, err := q.Exec(ctx, decideReviewSQL, id, string(d), actor); err != nil {
			return fmt.Errorf("decide review: %w", err)
		}
		r.PersonA, r.PersonB = parsePerson(a), parsePerson(b)
		return nil
	})
	return r, err
}

const (
	insertMergeEventSQL = `
INSERT INTO linkage.merge_events (kind, merge_id, survivor, absorbed) VALUES ($1, $2, $3, $4) RETURNING seq, at`
	mergeEventsSQL = `
SELECT seq, kind, merge_id, survivor, absorbed, at FROM linkage.merge_events WHERE seq > $1 ORDER BY seq LIMIT $2`
)

// recordEvent appends the event of a merge or undo to the feed, under the
// merges lock the caller holds.
func recordEvent(ctx context.Context, q pgdb.Querier, kind linkage.MergeEventKind, m linkage.MergeRecord) (linkage.MergeEvent, error) {
	e := linkage.MergeEvent{Kind: kind, Survivor: m.Survivor, Absorbed: m.Absorbed, MergeID: m.ID}
	if err := q.QueryRow(ctx, insertMergeEventSQL, string(kind), m.ID, personUUID(m.Survivor), personUUID(m.Absorbed)).Scan(&e.Seq, &e.At); err != nil {
		return linkage.MergeEvent{}, fmt.Errorf("record merge event: %w", err)
	}
	return e, nil
}

// MergeEventsAfter returns up to limit merge events with seq > after.
func (s *Store) MergeEventsAfter(ctx context.Context, after int64, limit int) ([]linkage.MergeEvent, error) {
	rows, err := s.db.Q(ctx).Query(ctx, mergeEventsSQL, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read merge events: %w", err)
	}
	defer rows.Close()
	var out []linkage.MergeEvent
	for rows.Next() {
		var (
			e        linkage.MergeEvent
			kind     string
			surv, ab [16]byte
		)
		if err := rows.Scan(&e.Seq, &kind, &e.MergeID, &surv, &ab, &e.At); err != nil {
			return nil, fmt.Errorf("read merge events: %w", err)
		}
		e.Kind, e.Survivor, e.Absorbed = linkage.MergeEventKind(kind), parsePerson(surv), parsePerson(ab)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read merge events: %w", err)
	}
	return out, nil
}

package linkage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
)

// Rescan: after a change of thresholds or of the scoring, the persons
// already resolved are compared again within their blocks — each person
// with the persons that share one of its weak keys, by the same index
// lookups as resolution, so a rescan costs the number of persons times a
// bounded number of candidates, never all pairs — and every pair that now
// scores in the review band or above, and that no review has judged yet,
// is opened for a data steward. A rescan merges nothing: persons already
// hold tokens, and joining two of them is a steward's decision.

// ScannedPerson is a stored person as a rescan reads it: Root is the
// person it now is (itself unless merged), with its own weak keys, codes
// and variants.
type ScannedPerson struct {
	Person    PersonID
	Root      PersonID
	Sex       string
	Codes     []KeyKind
	Weak      []Digest
	Encodings []Encoding
}

// RescanStore is what a rescan needs of a store besides Store.
type RescanStore interface {
	// CountPersons returns how many persons are stored.
	CountPersons(ctx context.Context) (int, error)
	// ScanPersons returns up to limit persons with an id above after, in
	// id order (PersonID.Bytes).
	ScanPersons(ctx context.Context, after PersonID, limit int) ([]ScannedPerson, error)
	// AddReviews opens the reviews whose two persons no review holds yet,
	// in either order and whatever its status, and returns how many it
	// opened.
	AddReviews(ctx context.Context, rs []Review) (int, error)
}

// RescanProgress is reported after every page of a rescan.
type RescanProgress struct {
	Persons    int // persons scanned so far
	Total      int // persons stored when the rescan started
	Compared   int // candidate pairs scored
	AboveAuto  int // pairs scoring at least the automatic threshold
	InReview   int // pairs scoring in the review band or above
	Opened     int // reviews opened (pairs no review held)
	Conflicted int // of InReview, pairs whose persons both hold a code of one kind
}

// rescanPage is how many persons a rescan reads at a time.
const rescanPage = 500

// Rescan compares every stored person with its candidates and opens
// reviews for the pairs at or above the review threshold; progress, when
// not nil, is called after every page. It needs fuzzy matching on.
func (s *Service) Rescan(ctx context.Context, progress func(RescanProgress)) (RescanProgress, error) {
	var p RescanProgress
	if s.fuzzy == nil {
		return p, errors.New("linkage: rescan needs fuzzy matching (a Bloom key)")
	}
	rs, ok := s.store.(RescanStore)
	if !ok {
		return p, errors.New("linkage: the store cannot rescan")
	}
	total, err := rs.CountPersons(ctx)
	if err != nil {
		return p, fmt.Errorf("rescan: %w", err)
	}
	p.Total = total
	var after PersonID
	for {
		page, err := rs.ScanPersons(ctx, after, rescanPage)
		if err != nil {
			return p, fmt.Errorf("rescan: %w", err)
		}
		if len(page) == 0 {
			return p, nil
		}
		after = page[len(page)-1].Person
		reviews, err := s.rescanPage(ctx, page, &p)
		if err != nil {
			return p, fmt.Errorf("rescan: %w", err)
		}
		if len(reviews) > 0 {
			n, err := rs.AddReviews(ctx, reviews)
			if err != nil {
				return p, fmt.Errorf("rescan: %w", err)
			}
			p.Opened += n
		}
		p.Persons += len(page)
		if progress != nil {
			progress(p)
		}
	}
}

// rescanPage scores the persons of page against their candidates and
// returns the reviews to open. Each pair is scored from the side whose
// root sorts first, so it is counted once.
func (s *Service) rescanPage(ctx context.Context, page []ScannedPerson, p *RescanProgress) ([]Review, error) {
	queries := make([][]Digest, len(page))
	for i, sp := range page {
		queries[i] = sp.Weak
	}
	found, err := s.store.FindCandidates(ctx, queries, s.fuzzy.maxCandidates)
	if err != nil {
		return nil, err
	}
	var reviews []Review
	for i, sp := range page {
		var kinds []KeyKind
		for _, d := range sp.Weak {
			if !slices.Contains(kinds, d.Kind) {
				kinds = append(kinds, d.Kind)
			}
		}
		for _, c := range found[i] {
			if bytes.Compare(sp.Root.b[:], c.Person.b[:]) >= 0 {
				continue // the same person, or scored from the other side
			}
			best, ev := -1.0, Evidence{}
			for a := range sp.Encodings {
				for b := range c.Encodings {
					if sc, e := Score(&sp.Encodings[a], &c.Encodings[b], kinds, c.Kinds, sp.Sex, c.Sex); sc > best {
						best, ev = sc, e
					}
				}
			}
			if best < -0.5 {
				continue // no variant on one side: nothing to compare
			}
			p.Compared++
			if best < s.fuzzy.review {
				continue
			}
			p.InReview++
			if best >= s.fuzzy.auto {
				p.AboveAuto++
			}
			if slices.ContainsFunc(sp.Codes, func(k KeyKind) bool { return slices.Contains(c.Codes, k) }) {
				p.Conflicted++
			}
			reviews = append(reviews, Review{PersonA: c.Person, PersonB: sp.Root, Score: best, Evidence: ev})
		}
	}
	return reviews, nil
}

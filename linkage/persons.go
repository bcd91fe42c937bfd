package linkage

import (
	"context"
	"errors"
)

// PersonStore is the part of a Store that reads what other domains need to
// know of a person: its coarse attributes and the persons a merge made one
// with it. linkagepg implements it.
type PersonStore interface {
	// PersonAttributes returns the stored attributes of p (as resolved,
	// not followed through merges); ErrNotFound when p is unknown.
	PersonAttributes(ctx context.Context, p PersonID) (Attributes, error)
	// Members returns the person p now is (the root of its merges) and
	// every person merged, directly or not, into it, root first;
	// ErrNotFound when p is unknown.
	Members(ctx context.Context, p PersonID) ([]PersonID, error)
}

func (s *Service) persons() (PersonStore, error) {
	ps, ok := s.store.(PersonStore)
	if !ok {
		return nil, errors.New("linkage: the store reads no person attributes")
	}
	return ps, nil
}

// PersonAttributes returns the coarse attributes (sex, birth year and
// month, citizenship group) of the person p now is. ErrNotFound when p is
// unknown.
func (s *Service) PersonAttributes(ctx context.Context, p PersonID) (Attributes, error) {
	ps, err := s.persons()
	if err != nil {
		return Attributes{}, err
	}
	cur, err := s.CurrentPerson(ctx, p)
	if err != nil {
		return Attributes{}, err
	}
	return ps.PersonAttributes(ctx, cur)
}

// Members returns the person p now is (first) and every person merged
// into it: all the PersonIDs other domains may have stored for it.
// ErrNotFound when p is unknown.
func (s *Service) Members(ctx context.Context, p PersonID) ([]PersonID, error) {
	ps, err := s.persons()
	if err != nil {
		return nil, err
	}
	return ps.Members(ctx, p)
}

package linkagepg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/linkage"
)

var _ linkage.PersonStore = (*Store)(nil)

const personAttributesSQL = `
SELECT sex, birth_year, birth_month, citizenship_group FROM linkage.persons WHERE id = $1`

// PersonAttributes reads p's row.
func (s *Store) PersonAttributes(ctx context.Context, p linkage.PersonID) (linkage.Attributes, error) {
	var a linkage.Attributes
	err := s.db.Q(ctx).QueryRow(ctx, personAttributesSQL, personUUID(p)).Scan(&a.Sex, &a.BirthYear, &a.BirthMonth, &a.CitizenshipGroup)
	if errors.Is(err, pgx.ErrNoRows) {
		return linkage.Attributes{}, linkage.ErrNotFound
	}
	if err != nil {
		return linkage.Attributes{}, fmt.Errorf("read person attributes: %w", err)
	}
	return a, nil
}

// membersSQL finds the root of p's merges, then walks merged_into
// downwards from it: one round trip.
const membersSQL = `
WITH RECURSIVE m(id, depth) AS (
    SELECT id, 0 FROM linkage.persons WHERE id = linkage.current_person($1::uuid)
    UNION ALL
    SELECT p.id, m.depth + 1 FROM linkage.persons p JOIN m ON p.merged_into = m.id WHERE m.depth < 1000
)
SELECT id FROM m ORDER BY depth, id`

// Members lists the root of p's merges and the persons merged into it.
func (s *Store) Members(ctx context.Context, p linkage.PersonID) ([]linkage.PersonID, error) {
	rows, err := s.db.Q(ctx).Query(ctx, membersSQL, personUUID(p))
	if err != nil {
		return nil, fmt.Errorf("list merged persons: %w", err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (linkage.PersonID, error) {
		var u [16]byte
		err := r.Scan(&u)
		return parsePerson(u), err
	})
	if err != nil {
		return nil, fmt.Errorf("list merged persons: %w", err)
	}
	if len(ids) == 0 {
		return nil, linkage.ErrNotFound
	}
	return ids, nil
}

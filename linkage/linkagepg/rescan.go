package linkagepg

import (
	"context"
	"fmt"

	"github.com/toscana/sirm/linkage"
)

var _ linkage.RescanStore = (*Store)(nil)

const (
	countPersonsSQL = `SELECT count(*) FROM linkage.persons`
	scanPersonsSQL  = `
SELECT p.id, coalesce(linkage.current_person(p.merged_into), p.id), p.sex,
       ARRAY(SELECT m.kind FROM linkage.match_keys m WHERE m.person_id = p.id AND m.kind IN ('CF', 'PROV')),
       ARRAY(SELECT b.kind FROM linkage.blocking_keys b WHERE b.person_id = p.id ORDER BY b.kind, b.digest),
       ARRAY(SELECT b.digest FROM linkage.blocking_keys b WHERE b.person_id = p.id ORDER BY b.kind, b.digest)
FROM linkage.persons p WHERE p.id > $1 ORDER BY p.id LIMIT $2`
	scanEncodingsSQL = `
SELECT person_id, surname, given_names, birth_date, birth_place, residence
FROM linkage.encodings WHERE person_id = ANY($1::uuid[]) ORDER BY person_id, id`
	// A pair any review holds, in either order and whatever its status,
	// is not opened again: a steward's "different" stands.
	addReviewsSQL = `
INSERT INTO linkage.reviews (person_a, person_b, score, evidence)
SELECT a, b, s, e::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::real[], $4::text[]) AS q(a, b, s, e)
WHERE NOT EXISTS (SELECT 1 FROM linkage.reviews r
                  WHERE (r.person_a = q.a AND r.person_b = q.b) OR (r.person_a = q.b AND r.person_b = q.a))
ON CONFLICT (person_a, person_b) DO NOTHING`
)

// CountPersons returns how many persons are stored.
func (s *Store) CountPersons(ctx context.Context) (int, error) {
	var n int
	if err := s.db.Q(ctx).QueryRow(ctx, countPersonsSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	return n, nil
}

// ScanPersons returns up to limit persons with an id above after.
func (s *Store) ScanPersons(ctx context.Context, after linkage.PersonID, limit int) ([]linkage.ScannedPerson, error) {
	q := s.db.Q(ctx)
	rows, err := q.Query(ctx, scanPersonsSQL, personUUID(after), limit)
	if err != nil {
		return nil, fmt.Errorf("scan persons: %w", err)
	}
	var (
		out []linkage.ScannedPerson
		ids [][16]byte
		at  = map[[16]byte]int{}
	)
	for rows.Next() {
		var (
			id, root [16]byte
			sp       linkage.ScannedPerson
			codes    []string
			kinds    []string
			digests  [][]byte
		)
		if err := rows.Scan(&id, &root, &sp.Sex, &codes, &kinds, &digests); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan persons: %w", err)
		}
		sp.Person, sp.Root = parsePerson(id), parsePerson(root)
		for _, c := range codes {
			sp.Codes = append(sp.Codes, linkage.KeyKind(c))
		}
		for i := range kinds {
			sp.Weak = append(sp.Weak, linkage.Digest{Kind: linkage.KeyKind(kinds[i]), Digest: digests[i]})
		}
		at[id] = len(out)
		ids = append(ids, id)
		out = append(out, sp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan persons: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err = q.Query(ctx, scanEncodingsSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("scan encodings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      [16]byte
			filters [linkage.NumFields][]byte
		)
		if err := rows.Scan(&id, &filters[0], &filters[1], &filters[2], &filters[3], &filters[4]); err != nil {
			return nil, fmt.Errorf("scan encodings: %w", err)
		}
		e, err := parseEncoding(filters)
		if err != nil {
			return nil, fmt.Errorf("scan encodings: %w", err)
		}
		sp := &out[at[id]]
		sp.Encodings = append(sp.Encodings, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan encodings: %w", err)
	}
	return out, nil
}

// AddReviews opens the reviews of rs whose pair no review holds yet.
func (s *Store) AddReviews(ctx context.Context, rs []linkage.Review) (int, error) {
	as, bs, scores, evidence, err := reviewColumns(rs)
	if err != nil {
		return 0, err
	}
	tag, err := s.db.Q(ctx).Exec(ctx, addReviewsSQL, as, bs, scores, evidence)
	if err != nil {
		return 0, fmt.Errorf("add reviews: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

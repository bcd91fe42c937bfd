package linkagepg

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
)

// findCandidatesSQL finds, for every query identity (ident), the persons
// sharing one of its weak keys — through the primary key of
// blocking_keys, one probe per key: the LATERAL with its LIMIT (at most
// $4 persons per key) keeps the planner from hashing the whole table,
// which it does otherwise for a large batch — keeps the $4 sharing the
// most kinds, and reports each as its current person (merges followed, as
// FindStrong does: a candidate absorbed into another is that one, with the
// variants of both),
// and returns them with their sex, the codes they hold and every stored
// variant. The cost per identity depends on how many persons share its
// keys (capped), never on how many persons there are.
const findCandidatesSQL = `
WITH q AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::bytea[]) AS q(ident, kind, digest)
), hits AS (
    SELECT q.ident, b.person_id, array_agg(DISTINCT q.kind) AS kinds
    FROM q CROSS JOIN LATERAL (
        SELECT person_id FROM linkage.blocking_keys b
        WHERE b.kind = q.kind AND b.digest = q.digest LIMIT $4) b
    GROUP BY q.ident, b.person_id
), top AS (
    SELECT ident, person_id, kinds FROM (
        SELECT hits.*, row_number() OVER (PARTITION BY ident ORDER BY cardinality(kinds) DESC, person_id) AS rn
        FROM hits) r
    WHERE rn <= $4
)
SELECT t.ident, coalesce(linkage.current_person(p.merged_into), t.person_id) AS root, t.kinds, p.sex,
       ARRAY(SELECT m.kind FROM linkage.match_keys m
             WHERE m.person_id = t.person_id AND m.kind IN ('CF', 'PROV')),
       e.surname, e.given_names, e.birth_date, e.birth_place, e.residence
FROM top t
JOIN linkage.persons p ON p.id = t.person_id
LEFT JOIN linkage.encodings e ON e.person_id = t.person_id
ORDER BY t.ident, root, t.person_id, e.id`

// FindCandidates returns the candidates of each query (its weak keys), at
// most limit per query, in one round trip.
func (s *Store) FindCandidates(ctx context.Context, queries [][]linkage.Digest, limit int) ([][]linkage.Candidate, error) {
	out := make([][]linkage.Candidate, len(queries))
	var (
		idents  []int32
		kinds   []string
		digests [][]byte
	)
	for i, q := range queries {
		for _, d := range q {
			idents, kinds, digests = append(idents, int32(i)), append(kinds, string(d.Kind)), append(digests, d.Digest)
		}
	}
	if len(idents) == 0 || limit <= 0 {
		return out, nil
	}
	rows, err := s.db.Q(ctx).Query(ctx, findCandidatesSQL, idents, kinds, digests, limit)
	if err != nil {
		return nil, fmt.Errorf("find candidates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ident   int32
			person  [16]byte
			shared  []string
			sex     string
			codes   []string
			filters [linkage.NumFields][]byte
		)
		if err := rows.Scan(&ident, &person, &shared, &sex, &codes,
			&filters[0], &filters[1], &filters[2], &filters[3], &filters[4]); err != nil {
			return nil, fmt.Errorf("find candidates: %w", err)
		}
		if ident < 0 || int(ident) >= len(out) {
			return nil, fmt.Errorf("find candidates: query %d out of range", ident)
		}
		p := parsePerson(person)
		cs := out[ident]
		if len(cs) == 0 || cs[len(cs)-1].Person != p {
			cs = append(cs, linkage.Candidate{Person: p, Sex: sex})
		}
		c := &cs[len(cs)-1]
		for _, k := range shared {
			if !slices.Contains(c.Kinds, linkage.KeyKind(k)) {
				c.Kinds = append(c.Kinds, linkage.KeyKind(k))
			}
		}
		for _, k := range codes {
			if !slices.Contains(c.Codes, linkage.KeyKind(k)) {
				c.Codes = append(c.Codes, linkage.KeyKind(k))
			}
		}
		if filters[linkage.FieldSurname] != nil || filters[linkage.FieldBirthDate] != nil {
			e, err := parseEncoding(filters)
			if err != nil {
				return nil, fmt.Errorf("find candidates: %w", err)
			}
			cs[len(cs)-1].Encodings = append(cs[len(cs)-1].Encodings, e)
		}
		out[ident] = cs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find candidates: %w", err)
	}
	return out, nil
}

const (
	// A variant already stored for the person is not stored again.
	insertEncodingsSQL = `
INSERT INTO linkage.encodings (person_id, variant, surname, given_names, birth_date, birth_place, residence)
SELECT q.* FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[])
    AS q(person_id, variant, surname, given_names, birth_date, birth_place, residence)
WHERE NOT EXISTS (SELECT 1 FROM linkage.encodings e WHERE e.person_id = q.person_id AND e.variant = q.variant)`
	insertReviewsSQL = `
INSERT INTO linkage.reviews (person_a, person_b, score, evidence)
SELECT a, b, s, e::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::real[], $4::text[]) AS q(a, b, s, e)
ON CONFLICT (person_a, person_b) DO NOTHING`
)

// writeEncodings inserts c's encodings. Those of the persons c creates
// cannot exist yet (the Service dedupes within a batch) and go in by COPY,
// like their weak keys; those of existing persons go in by INSERT, unless
// the person has that variant already.
func (s *Store) writeEncodings(ctx context.Context, q pgdb.Querier, c linkage.Changes) error {
	if len(c.Encodings) == 0 {
		return nil
	}
	created := make(map[linkage.PersonID]bool, len(c.Persons))
	for _, p := range c.Persons {
		created[p.ID] = true
	}
	var fresh, existing []linkage.PersonEncoding
	cp, canCopy := q.(copier)
	for _, e := range c.Encodings {
		if created[e.Person] && canCopy {
			fresh = append(fresh, e)
		} else {
			existing = append(existing, e)
		}
	}
	filter := func(e linkage.PersonEncoding, f int) any {
		if !e.Encoding.Has(linkage.Field(f)) {
			return nil
		}
		return e.Encoding.Filters[f].Bytes()
	}
	if len(fresh) > 0 {
		rows := make([][]any, len(fresh))
		for i, e := range fresh {
			rows[i] = []any{personUUID(e.Person), e.Variant, filter(e, 0), filter(e, 1), filter(e, 2), filter(e, 3), filter(e, 4)}
		}
		if _, err := cp.CopyFrom(ctx, pgx.Identifier{"linkage", "encodings"}, encodingColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy encodings: %w", err)
		}
	}
	if n := len(existing); n > 0 {
		persons := make([][16]byte, n)
		variants := make([][]byte, n)
		var filters [linkage.NumFields][]any
		for f := range filters {
			filters[f] = make([]any, n)
		}
		for i, e := range existing {
			persons[i], variants[i] = personUUID(e.Person), e.Variant
			for f := range filters {
				filters[f][i] = filter(e, f)
			}
		}
		if _, err := q.Exec(ctx, insertEncodingsSQL, persons, variants,
			filters[0], filters[1], filters[2], filters[3], filters[4]); err != nil {
			return fmt.Errorf("insert encodings: %w", err)
		}
	}
	return nil
}

var encodingColumns = []string{"person_id", "variant", "surname", "given_names", "birth_date", "birth_place", "residence"}

// writeFuzzy writes c's encodings and reviews.
func (s *Store) writeFuzzy(ctx context.Context, q pgdb.Querier, c linkage.Changes) error {
	if err := s.writeEncodings(ctx, q, c); err != nil {
		return err
	}
	if len(c.Reviews) > 0 {
		as, bs, scores, evidence, err := reviewColumns(c.Reviews)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, insertReviewsSQL, as, bs, scores, evidence); err != nil {
			return fmt.Errorf("insert reviews: %w", err)
		}
	}
	return nil
}

// reviewColumns returns rs as the columns of an unnest insert.
func reviewColumns(rs []linkage.Review) (as, bs [][16]byte, scores []float32, evidence []string, err error) {
	n := len(rs)
	as, bs, scores, evidence = make([][16]byte, n), make([][16]byte, n), make([]float32, n), make([]string, n)
	for i, r := range rs {
		as[i], bs[i], scores[i] = personUUID(r.PersonA), personUUID(r.PersonB), float32(r.Score)
		ev, err := EncodeEvidence(r.Evidence.Review())
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("encode review evidence: %w", err)
		}
		evidence[i] = string(ev)
	}
	return as, bs, scores, evidence, nil
}

// parseEncoding parses the stored filters of one variant; a nil filter is
// a missing field.
func parseEncoding(filters [linkage.NumFields][]byte) (linkage.Encoding, error) {
	var e linkage.Encoding
	for f, b := range filters {
		if b == nil {
			continue
		}
		var err error
		if e.Filters[f], err = linkage.ParseBloomFilter(b); err != nil {
			return linkage.Encoding{}, err
		}
		e.Counts[f] = uint16(e.Filters[f].Count())
	}
	return e, nil
}

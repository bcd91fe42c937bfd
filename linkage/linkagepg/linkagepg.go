// Package linkagepg keeps linkage's persons, match keys and tokens in
// PostgreSQL (schema linkage, migration 002). Writes go in bulk — one
// statement per table per batch, from arrays, or COPY where no row can
// conflict — and run in the transaction the context carries.
package linkagepg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
)

var _ linkage.Store = (*Store)(nil)

// Store is the PostgreSQL linkage.Store. It is safe for concurrent use.
type Store struct {
	db *pgdb.DB
}

// New returns a Store on db.
func New(db *pgdb.DB) *Store { return &Store{db: db} }

func personUUID(p linkage.PersonID) [16]byte {
	var u [16]byte
	copy(u[:], p.Bytes())
	return u
}

func parsePerson(u [16]byte) linkage.PersonID {
	p, err := linkage.ParsePersonID(fmt.Sprintf("%x", u[:]))
	if err != nil {
		panic("linkagepg: 16 bytes do not parse as a person id") // cannot happen
	}
	return p
}

// findStrongSQL follows merges: a key of an absorbed person belongs to its
// current person. The join on merged persons only reads a partial index
// that holds just them (migration 004), so unmerged persons cost nothing.
const findStrongSQL = `
SELECT k.kind, k.digest, coalesce(linkage.current_person(m.merged_into), k.person_id)
FROM unnest($1::text[], $2::bytea[]) AS q(kind, digest)
JOIN linkage.match_keys k ON k.kind = q.kind AND k.digest = q.digest
LEFT JOIN linkage.persons m ON m.id = k.person_id AND m.merged_into IS NOT NULL`

// FindStrong returns the current owner of each existing key (merges
// followed to the surviving person), by Digest id.
func (s *Store) FindStrong(ctx context.Context, keys []linkage.Digest) (map[string]linkage.PersonID, error) {
	out := map[string]linkage.PersonID{}
	if len(keys) == 0 {
		return out, nil
	}
	kinds := make([]string, len(keys))
	digests := make([][]byte, len(keys))
	for i, k := range keys {
		kinds[i], digests[i] = string(k.Kind), k.Digest
	}
	rows, err := s.db.Q(ctx).Query(ctx, findStrongSQL, kinds, digests)
	if err != nil {
		return nil, fmt.Errorf("find match keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			kind   string
			digest []byte
			person [16]byte
		)
		if err := rows.Scan(&kind, &digest, &person); err != nil {
			return nil, fmt.Errorf("find match keys: %w", err)
		}
		out[kind+"\x00"+string(digest)] = parsePerson(person)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find match keys: %w", err)
	}
	return out, nil
}

// strongKindsSQL counts, for each person, the keys of the persons it
// absorbed too: a merged person holds the codes of all of them.
const strongKindsSQL = `
WITH RECURSIVE members(root, id) AS (
    SELECT r, r FROM unnest($1::uuid[]) AS r
    UNION
    SELECT m.root, p.id FROM members m JOIN linkage.persons p ON p.merged_into = m.id
)
SELECT m.root, array_agg(DISTINCT k.kind) FROM members m
JOIN linkage.match_keys k ON k.person_id = m.id GROUP BY m.root`

// StrongKinds returns the strong kinds each of persons holds, itself or
// through the persons it absorbed.
func (s *Store) StrongKinds(ctx context.Context, persons []linkage.PersonID) (map[linkage.PersonID][]linkage.KeyKind, error) {
	out := map[linkage.PersonID][]linkage.KeyKind{}
	if len(persons) == 0 {
		return out, nil
	}
	ids := make([][16]byte, len(persons))
	for i, p := range persons {
		ids[i] = personUUID(p)
	}
	rows, err := s.db.Q(ctx).Query(ctx, strongKindsSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("find kinds of persons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			person [16]byte
			kinds  []string
		)
		if err := rows.Scan(&person, &kinds); err != nil {
			return nil, fmt.Errorf("find kinds of persons: %w", err)
		}
		p := parsePerson(person)
		for _, k := range kinds {
			out[p] = append(out[p], linkage.KeyKind(k))
		}
	}
	return out, rows.Err()
}

const (
	insertPersonsSQL = `
INSERT INTO linkage.persons (id, sex, birth_year, birth_month, citizenship_group)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[], $5::text[])`
	// Rows go in in array order, which the Service sorted, so two
	// transactions inserting overlapping rows wait on each other in the same
	// order and never deadlock.
	insertStrongSQL = `
INSERT INTO linkage.match_keys (kind, digest, person_id)
SELECT * FROM unnest($1::text[], $2::bytea[], $3::uuid[])
ON CONFLICT (kind, digest) DO NOTHING`
	insertWeakSQL = `
INSERT INTO linkage.blocking_keys (kind, digest, person_id)
SELECT * FROM unnest($1::text[], $2::bytea[], $3::uuid[])
ON CONFLICT DO NOTHING`
	insertTokensSQL = `
INSERT INTO linkage.tokens (domain, token, person_id, key_version)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::int[])
ON CONFLICT DO NOTHING`
)

func keyArrays(ks []linkage.KeyOwner) ([]string, [][]byte, [][16]byte) {
	kinds := make([]string, len(ks))
	digests := make([][]byte, len(ks))
	persons := make([][16]byte, len(ks))
	for i, k := range ks {
		kinds[i], digests[i], persons[i] = string(k.Key.Kind), k.Key.Digest, personUUID(k.Person)
	}
	return kinds, digests, persons
}

const (
	// Locking the persons that receive a code serialises two resolutions
	// giving one person two codes of a kind; FOR NO KEY UPDATE does not
	// conflict with the key-share locks that inserts referencing the
	// person take. ORDER BY makes every writer lock in one order.
	lockPersonsSQL = `
SELECT id FROM linkage.persons WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`
	heldCodesSQL = `
SELECT count(*) FROM linkage.match_keys k
JOIN unnest($1::uuid[], $2::text[]) AS g(person_id, kind) ON k.person_id = g.person_id AND k.kind = g.kind`
	savepointSQL         = `SAVEPOINT linkagepg_write`
	rollbackSavepointSQL = `ROLLBACK TO SAVEPOINT linkagepg_write`
	releaseSavepointSQL  = `RELEASE SAVEPOINT linkagepg_write`
)

// WriteChanges writes c in the transaction ctx carries (or one of its own);
// linkage.ErrRace when a strong key exists already or a person has
// meanwhile received a code of the kind c gives it. After ErrRace nothing
// of c stays written: in a transaction of the caller's, c is written under
// a savepoint that ErrRace rolls back, so the caller can plan again.
func (s *Store) WriteChanges(ctx context.Context, c linkage.Changes) error {
	if !pgdb.InTx(ctx) {
		return s.db.WithTx(ctx, func(ctx context.Context) error { return s.writeChanges(ctx, c) })
	}
	if len(c.StrongKeys) == 0 {
		return s.writeChanges(ctx, c) // ErrRace is not possible
	}
	q := s.db.Q(ctx)
	if _, err := q.Exec(ctx, savepointSQL); err != nil {
		return fmt.Errorf("write linkage changes: %w", err)
	}
	err := s.writeChanges(ctx, c)
	if errors.Is(err, linkage.ErrRace) {
		if _, rbErr := q.Exec(ctx, rollbackSavepointSQL); rbErr != nil {
			return fmt.Errorf("write linkage changes: %w", rbErr)
		}
		return err
	}
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, releaseSavepointSQL); err != nil {
		return fmt.Errorf("write linkage changes: %w", err)
	}
	return nil
}

// codeGuard returns the persons, not created by c, to which c attaches a
// code, and the kind of each.
func codeGuard(c linkage.Changes) ([][16]byte, []string) {
	created := make(map[linkage.PersonID]bool, len(c.Persons))
	for _, p := range c.Persons {
		created[p.ID] = true
	}
	var (
		persons [][16]byte
		kinds   []string
	)
	for _, k := range c.StrongKeys {
		if (k.Key.Kind == linkage.KindCF || k.Key.Kind == linkage.KindPROV) && !created[k.Person] {
			persons = append(persons, personUUID(k.Person))
			kinds = append(kinds, string(k.Key.Kind))
		}
	}
	return persons, kinds
}

// copier is what COPY needs: pgx.Tx and *pgxpool.Pool have it.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// writeWeak inserts c's weak keys. Those of the persons c creates cannot
// exist yet, so they go in by COPY, several times faster than an INSERT
// checking conflicts; those of existing persons may, and go in by INSERT
// … ON CONFLICT DO NOTHING.
func (s *Store) writeWeak(ctx context.Context, q pgdb.Querier, c linkage.Changes) error {
	if len(c.WeakKeys) == 0 {
		return nil
	}
	created := make(map[linkage.PersonID]bool, len(c.Persons))
	for _, p := range c.Persons {
		created[p.ID] = true
	}
	var fresh, existing []linkage.KeyOwner
	for _, k := range c.WeakKeys {
		if created[k.Person] {
			fresh = append(fresh, k)
		} else {
			existing = append(existing, k)
		}
	}
	cp, ok := q.(copier)
	if !ok {
		existing = c.WeakKeys
		fresh = nil
	}
	if len(fresh) > 0 {
		rows := make([][]any, len(fresh))
		for i, k := range fresh {
			rows[i] = []any{string(k.Key.Kind), k.Key.Digest, personUUID(k.Person)}
		}
		if _, err := cp.CopyFrom(ctx, pgx.Identifier{"linkage", "blocking_keys"},
			[]string{"kind", "digest", "person_id"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy blocking keys: %w", err)
		}
	}
	if len(existing) > 0 {
		kinds, digests, persons := keyArrays(existing)
		if _, err := q.Exec(ctx, insertWeakSQL, kinds, digests, persons); err != nil {
			return fmt.Errorf("insert blocking keys: %w", err)
		}
	}
	return nil
}

func (s *Store) writeChanges(ctx context.Context, c linkage.Changes) error {
	q := s.db.Q(ctx)
	if persons, kinds := codeGuard(c); len(persons) > 0 {
		if _, err := q.Exec(ctx, lockPersonsSQL, persons); err != nil {
			return fmt.Errorf("lock persons: %w", err)
		}
		var held int
		if err := q.QueryRow(ctx, heldCodesSQL, persons, kinds).Scan(&held); err != nil {
			return fmt.Errorf("check codes of persons: %w", err)
		}
		if held > 0 {
			return linkage.ErrRace
		}
	}
	if n := len(c.Persons); n > 0 {
		ids := make([][16]byte, n)
		sex := make([]string, n)
		years := make([]int32, n)
		months := make([]int32, n)
		groups := make([]string, n)
		for i, p := range c.Persons {
			ids[i], sex[i], groups[i] = personUUID(p.ID), p.Attrs.Sex, p.Attrs.CitizenshipGroup
			years[i], months[i] = int32(p.Attrs.BirthYear), int32(p.Attrs.BirthMonth)
		}
		if _, err := q.Exec(ctx, insertPersonsSQL, ids, sex, years, months, groups); err != nil {
			return fmt.Errorf("insert persons: %w", err)
		}
	}
	if len(c.StrongKeys) > 0 {
		kinds, digests, persons := keyArrays(c.StrongKeys)
		tag, err := q.Exec(ctx, insertStrongSQL, kinds, digests, persons)
		if err != nil {
			return fmt.Errorf("insert match keys: %w", err)
		}
		if tag.RowsAffected() != int64(len(c.StrongKeys)) {
			return linkage.ErrRace
		}
	}
	if err := s.writeWeak(ctx, q, c); err != nil {
		return err
	}
	if err := s.writeFuzzy(ctx, q, c); err != nil {
		return err
	}
	if n := len(c.Tokens); n > 0 {
		domains := make([]string, n)
		toks := make([]string, n)
		persons := make([][16]byte, n)
		versions := make([]int32, n)
		for i, t := range c.Tokens {
			domains[i], toks[i], persons[i], versions[i] = t.Domain, t.Token.String(), personUUID(t.Person), int32(t.KeyVersion)
		}
		if _, err := q.Exec(ctx, insertTokensSQL, domains, toks, persons, versions); err != nil {
			return fmt.Errorf("insert tokens: %w", err)
		}
	}
	return nil
}

const (
	ensureTokenKeySQL = `
INSERT INTO linkage.token_keys (domain, version, master_version) VALUES ($1, 1, $2)
ON CONFLICT DO NOTHING`
	tokenKeysSQL = `
SELECT domain, version, master_version, retired, created_at FROM linkage.token_keys
WHERE domain = $1 ORDER BY version`
	rotateTokenKeySQL = `
INSERT INTO linkage.token_keys (domain, version, master_version)
SELECT $1, max(version) + 1, $2 FROM linkage.token_keys WHERE domain = $1
RETURNING domain, version, master_version, retired, created_at`
	retireTokenKeysSQL = `
UPDATE linkage.token_keys SET retired = true, retired_at = now()
WHERE domain = $1 AND NOT retired
  AND version < (SELECT max(version) FROM linkage.token_keys WHERE domain = $1)`
	lockDomainSQL = `SELECT pg_advisory_xact_lock(hashtextextended('linkage.token_keys:' || $1, 0))`
)

func scanTokenKey(row pgx.CollectableRow) (linkage.TokenKeyVersion, error) {
	var v linkage.TokenKeyVersion
	err := row.Scan(&v.Domain, &v.Version, &v.MasterVersion, &v.Retired, &v.CreatedAt)
	return v, err
}

// TokenKeys returns domain's token key versions, creating version 1 first
// when there is none.
func (s *Store) TokenKeys(ctx context.Context, domain string, masterVersion int) ([]linkage.TokenKeyVersion, error) {
	q := s.db.Q(ctx)
	rows, _ := q.Query(ctx, tokenKeysSQL, domain)
	vs, err := pgx.CollectRows(rows, scanTokenKey)
	if err != nil {
		return nil, fmt.Errorf("read token keys of %s: %w", domain, err)
	}
	if len(vs) > 0 {
		return vs, nil
	}
	if _, err := q.Exec(ctx, ensureTokenKeySQL, domain, masterVersion); err != nil {
		return nil, fmt.Errorf("create token key of %s: %w", domain, err)
	}
	rows, _ = q.Query(ctx, tokenKeysSQL, domain)
	vs, err = pgx.CollectRows(rows, scanTokenKey)
	if err != nil {
		return nil, fmt.Errorf("read token keys of %s: %w", domain, err)
	}
	return vs, nil
}

// RotateTokenKey adds the next version of domain's key.
func (s *Store) RotateTokenKey(ctx context.Context, domain string, masterVersion int) (linkage.TokenKeyVersion, error) {
	var v linkage.TokenKeyVersion
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		if _, err := q.Exec(ctx, lockDomainSQL, domain); err != nil {
			return fmt.Errorf("lock token keys of %s: %w", domain, err)
		}
		rows, _ := q.Query(ctx, rotateTokenKeySQL, domain, masterVersion)
		var err error
		v, err = pgx.CollectExactlyOneRow(rows, scanTokenKey)
		if err != nil {
			return fmt.Errorf("rotate token key of %s: %w", domain, err)
		}
		return nil
	})
	return v, err
}

// RetireTokenKeys retires every version of domain's key but the newest.
func (s *Store) RetireTokenKeys(ctx context.Context, domain string) (int, error) {
	tag, err := s.db.Q(ctx).Exec(ctx, retireTokenKeysSQL, domain)
	if err != nil {
		return 0, fmt.Errorf("retire token keys of %s: %w", domain, err)
	}
	return int(tag.RowsAffected()), nil
}

const findTokenSQL = `
SELECT t.domain, t.token, linkage.current_person(t.person_id), t.key_version, k.retired
FROM linkage.tokens t JOIN linkage.token_keys k ON k.domain = t.domain AND k.version = t.key_version
WHERE t.domain = $1 AND t.token = $2`

// FindToken returns a stored token, its person being the current one (a
// token of an absorbed person resolves to the survivor);
// linkage.ErrNotFound when none.
func (s *Store) FindToken(ctx context.Context, domain string, t linkage.Token) (linkage.TokenRecord, error) {
	var (
		rec    linkage.TokenRecord
		tok    string
		person [16]byte
	)
	err := s.db.Q(ctx).QueryRow(ctx, findTokenSQL, domain, t.String()).Scan(&rec.Domain, &tok, &person, &rec.KeyVersion, &rec.Retired)
	if errors.Is(err, pgx.ErrNoRows) {
		return linkage.TokenRecord{}, linkage.ErrNotFound
	}
	if err != nil {
		return linkage.TokenRecord{}, fmt.Errorf("find token: %w", err)
	}
	rec.Token, rec.Person = t, parsePerson(person)
	return rec, nil
}

const (
	pinSQL    = `INSERT INTO linkage.deployment (id, backend, fingerprint) VALUES (1, $1, $2) ON CONFLICT DO NOTHING`
	getPinSQL = `SELECT backend, fingerprint, created_at FROM linkage.deployment WHERE id = 1`
)

// Pin records p when there is no pin yet and returns the pin in force.
func (s *Store) Pin(ctx context.Context, p linkage.Pin) (linkage.Pin, error) {
	q := s.db.Q(ctx)
	if _, err := q.Exec(ctx, pinSQL, p.Backend, p.Fingerprint); err != nil {
		return linkage.Pin{}, fmt.Errorf("record linkage backend: %w", err)
	}
	var got linkage.Pin
	if err := q.QueryRow(ctx, getPinSQL).Scan(&got.Backend, &got.Fingerprint, &got.CreatedAt); err != nil {
		return linkage.Pin{}, fmt.Errorf("read linkage backend: %w", err)
	}
	return got, nil
}

// Package registrypg is the PostgreSQL store of the registry (schema
// registry, migrations/006_registry.sql).
package registrypg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/registry"
)

// Store implements registry.Store. It is safe for concurrent use.
type Store struct {
	db *pgdb.DB
}

var _ registry.Store = (*Store)(nil)

// New returns a Store on db.
func New(db *pgdb.DB) *Store { return &Store{db: db} }

// columns are the columns of facility_versions in the order of scan and
// insertValues.
const columns = `facility_id, version, code, status, name, typology, operator_name, operator_legal_nature,
	operator_tax_number, street, postcode, municipality, zone, authorisation_status, authorisation_date,
	authorisation_act, accredited, accreditation_date, accreditation_act, authorised_places, min_age, max_age,
	mothers_with_children, unaccompanied_foreign_minors, email, phone, valid_from, valid_to, change,
	changed_by, changed_role, note`

const placeholders = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32`

func date(d registry.Date) pgtype.Date {
	if d.IsZero() {
		return pgtype.Date{}
	}
	return pgtype.Date{Time: d.Time, Valid: true}
}

func nullTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

func nullCode(c registry.Code) pgtype.Text {
	return pgtype.Text{String: string(c), Valid: c != ""}
}

func values(f registry.Facility) []any {
	d := f.Data
	return []any{int64(f.ID), f.Version, nullCode(f.Code), string(f.Status), d.Name, d.Typology, d.Operator.Name,
		d.Operator.LegalNature, d.Operator.TaxNumber, d.Address.Street, d.Address.Postcode, d.Address.Municipality,
		d.Zone, string(d.Authorisation.Status), date(d.Authorisation.Date), d.Authorisation.Act,
		d.Accreditation.Accredited, date(d.Accreditation.Date), d.Accreditation.Act, d.AuthorisedPlaces,
		d.Target.MinAge, d.Target.MaxAge, d.Target.MothersWithChildren, d.Target.UnaccompaniedForeignMinors,
		d.Contacts.Email, d.Contacts.Phone, f.ValidFrom, nullTime(f.ValidTo), string(f.Change), f.ChangedBy,
		f.ChangedRole, f.Note}
}

func scan(row pgx.CollectableRow) (registry.Facility, error) {
	var (
		f                 registry.Facility
		id                int64
		code              pgtype.Text
		status, authSt    string
		change            string
		authDate, accDate pgtype.Date
		validTo           pgtype.Timestamptz
	)
	d := &f.Data
	err := row.Scan(&id, &f.Version, &code, &status, &d.Name, &d.Typology, &d.Operator.Name,
		&d.Operator.LegalNature, &d.Operator.TaxNumber, &d.Address.Street, &d.Address.Postcode,
		&d.Address.Municipality, &d.Zone, &authSt, &authDate, &d.Authorisation.Act,
		&d.Accreditation.Accredited, &accDate, &d.Accreditation.Act, &d.AuthorisedPlaces,
		&d.Target.MinAge, &d.Target.MaxAge, &d.Target.MothersWithChildren, &d.Target.UnaccompaniedForeignMinors,
		&d.Contacts.Email, &d.Contacts.Phone, &f.ValidFrom, &validTo, &change, &f.ChangedBy, &f.ChangedRole, &f.Note)
	if err != nil {
		return registry.Facility{}, err
	}
	f.ID, f.Code, f.Status, f.Change = registry.ID(id), registry.Code(code.String), registry.Status(status), registry.Change(change)
	d.Authorisation.Status = registry.AuthorisationStatus(authSt)
	if authDate.Valid {
		d.Authorisation.Date = registry.Date{Time: authDate.Time}
	}
	if accDate.Valid {
		d.Accreditation.Date = registry.Date{Time: accDate.Time}
	}
	if validTo.Valid {
		f.ValidTo = validTo.Time
	}
	return f, nil
}

// currentColumns are columns as read from facilities, which has no
// valid_to: its row is the current version.
var currentColumns = strings.Replace(prefixed("f"), "f.valid_to", "NULL::timestamptz", 1)

// Insert implements registry.Store.
func (s *Store) Insert(ctx context.Context, f registry.Facility) (registry.Facility, error) {
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		var id int64
		if err := q.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('registry.facilities', 'facility_id'))`).Scan(&id); err != nil {
			return fmt.Errorf("new facility id: %w", err)
		}
		f.ID = registry.ID(id)
		if _, err := q.Exec(ctx, `INSERT INTO registry.facilities (`+currentInsert+`) VALUES (`+currentPlaceholders+`)`, currentValues(f)...); err != nil {
			return fmt.Errorf("insert facility: %w", err)
		}
		if _, err := q.Exec(ctx, `INSERT INTO registry.facility_versions (`+columns+`) VALUES (`+placeholders+`)`, values(f)...); err != nil {
			return fmt.Errorf("insert facility version: %w", err)
		}
		return nil
	})
	if err != nil {
		return registry.Facility{}, err
	}
	return f, nil
}

// currentInsert, currentPlaceholders and currentValues are columns,
// placeholders and values without valid_to, for facilities.
var (
	currentInsert       = strings.Replace(columns, "valid_to,", "", 1)
	currentPlaceholders = placeholders[:strings.LastIndex(placeholders, ",")]
)

func currentValues(f registry.Facility) []any {
	v := values(f)
	i := validToIndex
	return append(append([]any{}, v[:i]...), v[i+1:]...)
}

// validToIndex is the position of valid_to in columns.
var validToIndex = func() int {
	for i, c := range strings.Split(columns, ",") {
		if strings.TrimSpace(c) == "valid_to" {
			return i
		}
	}
	panic("registrypg: no valid_to column")
}()

func refCondition(ref registry.Ref) (string, any) {
	if ref.Code != "" {
		return "f.code = $1", string(ref.Code)
	}
	return "f.facility_id = $1", int64(ref.ID)
}

// Current implements registry.Store. With lock, the facilities row stays
// locked until the transaction ends: concurrent writers of one facility
// queue there, and each reads the version its predecessor wrote.
func (s *Store) Current(ctx context.Context, ref registry.Ref, lock bool) (registry.Facility, error) {
	cond, arg := refCondition(ref)
	sql := `SELECT ` + currentColumns + ` FROM registry.facilities f WHERE ` + cond
	if lock {
		if !pgdb.InTx(ctx) {
			return registry.Facility{}, errors.New("lock a facility: no transaction in the context")
		}
		sql += ` FOR UPDATE`
	}
	rows, err := s.db.Q(ctx).Query(ctx, sql, arg)
	if err != nil {
		return registry.Facility{}, fmt.Errorf("read facility: %w", err)
	}
	f, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.Facility{}, registry.ErrNotFound
	}
	if err != nil {
		return registry.Facility{}, fmt.Errorf("read facility: %w", err)
	}
	return f, nil
}

// prefixed qualifies columns with a table alias.
func prefixed(alias string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// Append implements registry.Store.
func (s *Store) Append(ctx context.Context, prev, next registry.Facility) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.Q(ctx)
		const closeVersion = `UPDATE registry.facility_versions SET valid_to = $3
			WHERE facility_id = $1 AND version = $2 AND valid_to IS NULL`
		tag, err := q.Exec(ctx, closeVersion, int64(prev.ID), prev.Version, next.ValidFrom)
		if err != nil {
			return fmt.Errorf("close facility version: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return registry.ErrStale
		}
		if _, err := q.Exec(ctx, `INSERT INTO registry.facility_versions (`+columns+`) VALUES (`+placeholders+`)`, values(next)...); err != nil {
			if pgdb.IsUniqueViolation(err) {
				return registry.ErrStale
			}
			return fmt.Errorf("insert facility version: %w", err)
		}
		set := strings.Split(currentInsert, ",")
		for i, c := range set {
			set[i] = strings.TrimSpace(c) + " = $" + strconv.Itoa(i+1)
		}
		tag, err = q.Exec(ctx, `UPDATE registry.facilities SET `+strings.Join(set, ", ")+` WHERE facility_id = $1 AND version = `+
			strconv.Itoa(prev.Version), currentValues(next)...)
		if err != nil {
			if pgdb.IsUniqueViolation(err) {
				return fmt.Errorf("regional code %s is taken: %w", next.Code, err)
			}
			return fmt.Errorf("update facility: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return registry.ErrStale
		}
		return nil
	})
}

// NextCode implements registry.Store. Codes come from a sequence, so a
// rolled-back approval leaves a gap: codes are unique, not contiguous.
func (s *Store) NextCode(ctx context.Context) (registry.Code, error) {
	var n int64
	if err := s.db.Q(ctx).QueryRow(ctx, `SELECT nextval('registry.code_seq')`).Scan(&n); err != nil {
		return "", fmt.Errorf("next regional code: %w", err)
	}
	return registry.Code(fmt.Sprintf("ASSO-%06d", n)), nil
}

// History implements registry.Store.
func (s *Store) History(ctx context.Context, ref registry.Ref) ([]registry.Facility, error) {
	cond, arg := refCondition(ref)
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+prefixed("v")+` FROM registry.facilities f
		JOIN registry.facility_versions v ON v.facility_id = f.facility_id WHERE `+cond+` ORDER BY v.version`, arg)
	if err != nil {
		return nil, fmt.Errorf("read facility history: %w", err)
	}
	fs, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("read facility history: %w", err)
	}
	if len(fs) == 0 {
		return nil, registry.ErrNotFound
	}
	return fs, nil
}

// Search implements registry.Store. The current registry reads the current
// versions through the partial indexes; an "as of" read takes, for each
// facility, the version in force just before at.
func (s *Store) Search(ctx context.Context, q registry.Query, at time.Time) ([]registry.Facility, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// The current registry is the facilities table; the past is the
	// versions in force just before at. Versions of one facility follow
	// each other without overlap ([valid_from, valid_to] with each
	// valid_to the next valid_from), so at most one matches: even a
	// version that lasted no time (valid_from = valid_to) cannot, as it
	// would need valid_from < at <= valid_to.
	table, cols := "registry.facilities v", strings.Replace(prefixed("v"), "v.valid_to", "NULL::timestamptz", 1)
	if !at.IsZero() {
		table, cols = "registry.facility_versions v", prefixed("v")
		where = append(where, InForce("v", arg(at)))
	}
	if q.Zone != "" {
		where = append(where, "v.zone = "+arg(q.Zone))
	}
	if q.Typology != "" {
		where = append(where, "v.typology = "+arg(q.Typology))
	}
	if q.Municipality != "" {
		where = append(where, "v.municipality = "+arg(q.Municipality))
	}
	if q.Status != "" {
		where = append(where, "v.status = "+arg(string(q.Status)))
	}
	if q.Text != "" {
		where = append(where, "lower(v.name) LIKE "+arg("%"+escapeLike(strings.ToLower(q.Text))+"%"))
	}
	if q.After > 0 {
		where = append(where, "v.facility_id > "+arg(int64(q.After)))
	}
	if !q.Visibility.All {
		cond := "v.status = 'active'"
		if q.Visibility.Org != "" {
			if ref, err := registry.ParseRef(q.Visibility.Org); err == nil {
				if ref.Code != "" {
					cond += " OR v.code = " + arg(string(ref.Code))
				} else {
					cond += " OR v.facility_id = " + arg(int64(ref.ID))
				}
			}
		}
		where = append(where, "("+cond+")")
	}
	if len(where) == 0 {
		where = append(where, "true")
	}
	sql := `SELECT ` + cols + ` FROM ` + table + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY v.facility_id LIMIT ` + arg(q.Limit)
	rows, err := s.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("search facilities: %w", err)
	}
	fs, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("search facilities: %w", err)
	}
	return fs, nil
}

// ClaimKey implements registry.Store.
func (s *Store) ClaimKey(ctx context.Context, owner, key string, hash []byte, id registry.ID) error {
	const claim = `INSERT INTO registry.idempotency_keys (owner, key, request_hash, facility_id) VALUES ($1, $2, $3, $4)`
	if _, err := s.db.Q(ctx).Exec(ctx, claim, owner, key, hash, int64(id)); err != nil {
		if pgdb.IsUniqueViolation(err) {
			return registry.ErrKeyUsed
		}
		return fmt.Errorf("claim idempotency key: %w", err)
	}
	return nil
}

// KeyedFacility implements registry.Store.
func (s *Store) KeyedFacility(ctx context.Context, owner, key string) (registry.ID, []byte, error) {
	var (
		id   int64
		hash []byte
	)
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT facility_id, request_hash FROM registry.idempotency_keys WHERE owner = $1 AND key = $2`,
		owner, key).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, registry.ErrNotFound
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read idempotency key: %w", err)
	}
	return registry.ID(id), hash, nil
}

// InForce is the condition, on the facility_versions row aliased alias,
// that the version was the one in force just before the instant the
// placeholder param holds (see Search): the registry "as of" that instant.
// The surveys (report/reportpg) use it so that a census and a search agree
// on which version of a facility a day saw.
func InForce(alias, param string) string {
	return alias + ".valid_from < " + param + " AND (" + alias + ".valid_to IS NULL OR " + alias + ".valid_to >= " + param + ")"
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

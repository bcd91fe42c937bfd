// Package activitypg is the PostgreSQL store of package activity (schema
// activity, migration 008).
package activitypg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// Store implements activity.Store, and registry.Occupancy so that the
// registry's occupied places come live from open stays.
type Store struct {
	db *pgdb.DB
}

var (
	_ activity.Store     = (*Store)(nil)
	_ registry.Occupancy = (*Store)(nil)
)

// New returns a Store on db.
func New(db *pgdb.DB) *Store { return &Store{db: db} }

func uuid(p linkage.PersonID) [16]byte {
	var u [16]byte
	copy(u[:], p.Bytes())
	return u
}

func uuids(ps []linkage.PersonID) [][16]byte {
	out := make([][16]byte, len(ps))
	for i, p := range ps {
		out[i] = uuid(p)
	}
	return out
}

func person(u [16]byte) linkage.PersonID {
	p, err := linkage.ParsePersonID(fmt.Sprintf("%x", u[:]))
	if err != nil {
		panic("activitypg: 16 bytes do not parse as a person id") // cannot happen
	}
	return p
}

// interpret translates driver errors at the boundary.
func interpret(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return activity.ErrNotFound
	case pgdb.IsUniqueViolation(err):
		// The partial unique indexes on the stored person ids: the
		// service's own check under the person lock normally comes first.
		return fmt.Errorf("%s: %w", what, activity.ErrOpenStay)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func date(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func undate(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func text(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func untext(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Savepoint runs fn under a savepoint.
func (s *Store) Savepoint(ctx context.Context, fn func(ctx context.Context) error) error {
	if !pgdb.InTx(ctx) {
		return errors.New("activitypg: a savepoint needs a transaction")
	}
	q := s.db.Q(ctx)
	if _, err := q.Exec(ctx, `SAVEPOINT activity_record`); err != nil {
		return interpret(err, "savepoint")
	}
	if err := fn(ctx); err != nil {
		if _, rerr := q.Exec(context.WithoutCancel(ctx), `ROLLBACK TO SAVEPOINT activity_record`); rerr != nil {
			return errors.Join(err, interpret(rerr, "rollback to savepoint"))
		}
		return err
	}
	_, err := q.Exec(ctx, `RELEASE SAVEPOINT activity_record`)
	return interpret(err, "release savepoint")
}

// LockPerson takes an advisory lock for p until the transaction ends.
func (s *Store) LockPerson(ctx context.Context, p linkage.PersonID) error {
	_, err := s.db.Q(ctx).Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('activity.person:' || $1, 0))`, p.String())
	return interpret(err, "lock person")
}

// ---- case files ----

const caseColumns = `id, person_id, zone, opened_on, attributes, transfer_to, closed_on, closure_reason, closure_situation, updated_at`

func scanCase(row pgx.Row) (activity.CaseFile, error) {
	var (
		c                activity.CaseFile
		pid              [16]byte
		opened           time.Time
		attrs            []byte
		to, reason, situ *string
		closed           *time.Time
	)
	if err := row.Scan(&c.ID, &pid, &c.Zone, &opened, &attrs, &to, &closed, &reason, &situ, &c.UpdatedAt); err != nil {
		return activity.CaseFile{}, err
	}
	c.Person, c.Opened, c.TransferTo, c.Closed = person(pid), undate(&opened), untext(to), undate(closed)
	c.Closure = activity.Closure{Reason: sinba.MotivazioneChiusuraCarico(untext(reason)), Situation: sinba.SituazioneChiusuraCarico(untext(situ))}
	if err := json.Unmarshal(attrs, &c.Record); err != nil {
		return activity.CaseFile{}, fmt.Errorf("decode attributes of case file %d: %w", c.ID, err)
	}
	return c, nil
}

// CaseFiles returns the files of persons, newest first.
func (s *Store) CaseFiles(ctx context.Context, persons []linkage.PersonID, withEntries bool) ([]activity.CaseFile, error) {
	// id + 0: sorting by the primary key must not tempt the planner into
	// walking it backwards instead of using the person index.
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+caseColumns+` FROM activity.case_files WHERE person_id = ANY($1) ORDER BY id + 0 DESC`, uuids(persons))
	if err != nil {
		return nil, interpret(err, "list case files")
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.CaseFile, error) { return scanCase(r) })
	if err != nil {
		return nil, interpret(err, "list case files")
	}
	if withEntries {
		for i := range cs {
			if cs[i].Entries, err = s.entries(ctx, cs[i].ID); err != nil {
				return nil, err
			}
		}
	}
	return cs, nil
}

// ZoneCaseFiles lists a zone's files.
func (s *Store) ZoneCaseFiles(ctx context.Context, zone string, openOnly bool, before activity.CaseID, limit int) ([]activity.CaseFile, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+caseColumns+` FROM activity.case_files
WHERE (zone = $1 OR transfer_to = $1) AND id < $2 AND (NOT $3 OR closed_on IS NULL) ORDER BY id DESC LIMIT $4`, zone, before, openOnly, limit)
	if err != nil {
		return nil, interpret(err, "list case files")
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.CaseFile, error) { return scanCase(r) })
	return cs, interpret(err, "list case files")
}

// CaseFile returns one file with its entries.
func (s *Store) CaseFile(ctx context.Context, id activity.CaseID, forUpdate bool) (activity.CaseFile, error) {
	q := `SELECT ` + caseColumns + ` FROM activity.case_files WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	c, err := scanCase(s.db.Q(ctx).QueryRow(ctx, q, id))
	if err != nil {
		return activity.CaseFile{}, interpret(err, "read case file")
	}
	if c.Entries, err = s.entries(ctx, id); err != nil {
		return activity.CaseFile{}, err
	}
	return c, nil
}

func (s *Store) entries(ctx context.Context, id activity.CaseID) ([]activity.Entry, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id, kind, start_on, end_on, codes FROM activity.case_entries WHERE case_id = $1 ORDER BY start_on, id`, id)
	if err != nil {
		return nil, interpret(err, "list case entries")
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.Entry, error) {
		var (
			e     activity.Entry
			start time.Time
			end   *time.Time
			codes []byte
		)
		if err := r.Scan(&e.ID, &e.Kind, &start, &end, &codes); err != nil {
			return e, err
		}
		e.Start, e.End = undate(&start), undate(end)
		return e, json.Unmarshal(codes, &e.Codes)
	})
	return es, interpret(err, "list case entries")
}

// InsertCaseFile stores a new file.
func (s *Store) InsertCaseFile(ctx context.Context, c activity.CaseFile, actor string) (activity.CaseFile, error) {
	attrs, err := json.Marshal(c.Record)
	if err != nil {
		return activity.CaseFile{}, fmt.Errorf("encode attributes: %w", err)
	}
	const q = `
INSERT INTO activity.case_files (person_id, zone, opened_on, attributes, closed_on, closure_reason, closure_situation, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ` + caseColumns
	out, err := scanCase(s.db.Q(ctx).QueryRow(ctx, q, uuid(c.Person), c.Zone, c.Opened, attrs, date(c.Closed),
		text(string(c.Closure.Reason)), text(string(c.Closure.Situation)), actor))
	if pgdb.IsUniqueViolation(err) {
		return activity.CaseFile{}, activity.ErrOpenCase
	}
	return out, interpret(err, "insert case file")
}

// UpdateCaseFile writes c's record, zone, transfer and closure.
func (s *Store) UpdateCaseFile(ctx context.Context, c activity.CaseFile) (activity.CaseFile, error) {
	attrs, err := json.Marshal(c.Record)
	if err != nil {
		return activity.CaseFile{}, fmt.Errorf("encode attributes: %w", err)
	}
	const q = `
UPDATE activity.case_files SET attributes = $2, zone = $3, transfer_to = $4, closed_on = $5, closure_reason = $6,
    closure_situation = $7, updated_at = now()
WHERE id = $1 RETURNING ` + caseColumns
	out, err := scanCase(s.db.Q(ctx).QueryRow(ctx, q, c.ID, attrs, c.Zone, text(c.TransferTo), date(c.Closed),
		text(string(c.Closure.Reason)), text(string(c.Closure.Situation))))
	if pgdb.IsUniqueViolation(err) {
		return activity.CaseFile{}, activity.ErrOpenCase
	}
	if err != nil {
		return activity.CaseFile{}, interpret(err, "update case file")
	}
	out.Entries = c.Entries
	return out, nil
}

// ZonesOn is the CTE (named name) of the zone each transferred case file
// had at the end of the day in placeholder day: the zone it left in the
// first transfer accepted after that day. A transfer overwrites
// case_files.zone; its transfer_accepted events (migration 009 indexes
// them) are the file's zone history. A file not in the CTE had its present
// zone: COALESCE(name.zone, case_files.zone) with a LEFT JOIN on
// name.case_id. The surveys (report/reportpg) and the SINBA export use it.
func ZonesOn(name, day string) string {
	return name + ` AS (
    SELECT DISTINCT ON (case_id) case_id, detail->>'from_zone' AS zone
    FROM activity.events
    WHERE kind = 'transfer_accepted' AND on_date > ` + day + `
    ORDER BY case_id, on_date, seq)`
}

// yearCaseFilesSQL selects the files open at some time between $1 and $2
// (1 January and 31 December), each in the zone it had on $2, with the
// person each minor now is, and the closure only when it happened by $2.
var yearCaseFilesSQL = `
WITH ` + ZonesOn("cz", "$2") + `,
f AS (
    SELECT c.*, COALESCE(cz.zone, c.zone) AS zone_then
    FROM activity.case_files c LEFT JOIN cz ON cz.case_id = c.id
    WHERE c.opened_on <= $2 AND (c.closed_on IS NULL OR c.closed_on >= $1))
SELECT id, zone_then, linkage.current_person(person_id), attributes,
       CASE WHEN closed_on <= $2 THEN closure_reason END,
       CASE WHEN closed_on <= $2 THEN closure_situation END
FROM f
WHERE $3::text = '' OR zone_then = $3
ORDER BY zone_then, id`

// YearCaseFiles streams the files open in year.
func (s *Store) YearCaseFiles(ctx context.Context, year int, zone string, fn func(activity.YearFile) error) error {
	first := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC)
	rows, err := s.db.Q(ctx).Query(ctx, yearCaseFilesSQL, first, last, zone)
	if err != nil {
		return interpret(err, "list case files of the year")
	}
	defer rows.Close()
	var (
		pid          [16]byte
		attrs        []byte
		reason, situ *string
	)
	for rows.Next() {
		var f activity.YearFile
		if err := rows.Scan(&f.Case, &f.Zone, &pid, &attrs, &reason, &situ); err != nil {
			return interpret(err, "list case files of the year")
		}
		f.Person = person(pid)
		if err := json.Unmarshal(attrs, &f.Record); err != nil {
			return fmt.Errorf("decode attributes of case file %d: %w", f.Case, err)
		}
		// The stored record carries the closure once the file is closed;
		// the columns say whether it belongs to this year.
		f.Record.IDBeneficiario = ""
		f.Record.MotivazioneChiusuraCarico, f.Record.SituazioneChiusuraCarico = nil, nil
		if reason != nil {
			m := sinba.MotivazioneChiusuraCarico(*reason)
			f.Record.MotivazioneChiusuraCarico = &m
		}
		if situ != nil {
			v := sinba.SituazioneChiusuraCarico(*situ)
			f.Record.SituazioneChiusuraCarico = &v
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return interpret(rows.Err(), "list case files of the year")
}

// InsertEntry adds an entry to file id.
func (s *Store) InsertEntry(ctx context.Context, id activity.CaseID, e activity.Entry, actor string) (activity.Entry, error) {
	codes, err := json.Marshal(e.Codes)
	if err != nil {
		return activity.Entry{}, err
	}
	err = s.db.Q(ctx).QueryRow(ctx, `
INSERT INTO activity.case_entries (case_id, kind, start_on, end_on, codes, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		id, e.Kind, e.Start, date(e.End), codes, actor).Scan(&e.ID)
	return e, interpret(err, "insert case entry")
}

// ---- stays ----

const stayColumns = `id, person_id, facility_id, admitted_on, sending_zone, form, with_parent, msna, discharged_on, outcome`

func scanStay(row pgx.Row) (activity.Stay, error) {
	var (
		st       activity.Stay
		pid      [16]byte
		admitted time.Time
		disch    *time.Time
		outcome  *string
	)
	if err := row.Scan(&st.ID, &pid, &st.Facility, &admitted, &st.SendingZone, &st.Form, &st.WithParent, &st.MSNA, &disch, &outcome); err != nil {
		return activity.Stay{}, err
	}
	st.Person, st.Admitted, st.Discharged = person(pid), undate(&admitted), undate(disch)
	st.Outcome = sinba.EsitoInserimentoStruttura(untext(outcome))
	return st, nil
}

func (s *Store) stays(ctx context.Context, q string, args ...any) ([]activity.Stay, error) {
	rows, err := s.db.Q(ctx).Query(ctx, q, args...)
	if err != nil {
		return nil, interpret(err, "list stays")
	}
	sts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.Stay, error) { return scanStay(r) })
	if err != nil {
		return nil, interpret(err, "list stays")
	}
	for i := range sts {
		if sts[i].Activities, err = s.activities(ctx, sts[i].ID); err != nil {
			return nil, err
		}
	}
	return sts, nil
}

// Stays returns the stays of persons, newest first.
func (s *Store) Stays(ctx context.Context, persons []linkage.PersonID) ([]activity.Stay, error) {
	return s.stays(ctx, `SELECT `+stayColumns+` FROM activity.stays WHERE person_id = ANY($1) ORDER BY admitted_on DESC, id + 0 DESC`, uuids(persons))
}

// FacilityStays lists a facility's stays.
func (s *Store) FacilityStays(ctx context.Context, f registry.ID, openOnly bool, before activity.StayID, limit int) ([]activity.Stay, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return s.stays(ctx, `SELECT `+stayColumns+` FROM activity.stays
WHERE facility_id = $1 AND id < $2 AND (NOT $3 OR discharged_on IS NULL) ORDER BY id DESC LIMIT $4`, f, before, openOnly, limit)
}

// Stay returns one stay.
func (s *Store) Stay(ctx context.Context, id activity.StayID, forUpdate bool) (activity.Stay, error) {
	q := `SELECT ` + stayColumns + ` FROM activity.stays WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	st, err := scanStay(s.db.Q(ctx).QueryRow(ctx, q, id))
	if err != nil {
		return activity.Stay{}, interpret(err, "read stay")
	}
	st.Activities, err = s.activities(ctx, id)
	return st, err
}

func (s *Store) activities(ctx context.Context, id activity.StayID) ([]activity.StayActivity, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id, kind, on_date, end_on, fields FROM activity.stay_activities WHERE stay_id = $1 ORDER BY on_date, id`, id)
	if err != nil {
		return nil, interpret(err, "list activities")
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.StayActivity, error) {
		var (
			a      activity.StayActivity
			on     time.Time
			end    *time.Time
			fields []byte
		)
		if err := r.Scan(&a.ID, &a.Kind, &on, &end, &fields); err != nil {
			return a, err
		}
		a.Date, a.End = undate(&on), undate(end)
		return a, json.Unmarshal(fields, &a.Fields)
	})
	return as, interpret(err, "list activities")
}

// InsertStay stores an admission.
func (s *Store) InsertStay(ctx context.Context, st activity.Stay, actor string) (activity.Stay, error) {
	const q = `
INSERT INTO activity.stays (person_id, facility_id, admitted_on, sending_zone, form, with_parent, msna, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ` + stayColumns
	out, err := scanStay(s.db.Q(ctx).QueryRow(ctx, q, uuid(st.Person), st.Facility, st.Admitted, st.SendingZone, st.Form, st.WithParent, st.MSNA, actor))
	return out, interpret(err, "insert stay")
}

// Discharge ends a stay.
func (s *Store) Discharge(ctx context.Context, id activity.StayID, on time.Time, outcome sinba.EsitoInserimentoStruttura) error {
	_, err := s.db.Q(ctx).Exec(ctx, `UPDATE activity.stays SET discharged_on = $2, outcome = $3 WHERE id = $1`, id, on, string(outcome))
	return interpret(err, "discharge stay")
}

// InsertActivity adds an activity to a stay.
func (s *Store) InsertActivity(ctx context.Context, id activity.StayID, a activity.StayActivity, actor string) (activity.StayActivity, error) {
	fields, err := json.Marshal(a.Fields)
	if err != nil {
		return activity.StayActivity{}, err
	}
	err = s.db.Q(ctx).QueryRow(ctx, `
INSERT INTO activity.stay_activities (stay_id, kind, on_date, end_on, fields, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		id, a.Kind, a.Date, date(a.End), fields, actor).Scan(&a.ID)
	return a, interpret(err, "insert activity")
}

// OpenStays counts a facility's open stays.
func (s *Store) OpenStays(ctx context.Context, f registry.ID) (int, error) {
	var n int
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT count(*) FROM activity.stays WHERE facility_id = $1 AND discharged_on IS NULL`, f).Scan(&n)
	return n, interpret(err, "count open stays")
}

// Occupied counts, for each of ids, the stays open at the date of at.
func (s *Store) Occupied(ctx context.Context, ids []registry.ID, at time.Time) (map[registry.ID]int, error) {
	const q = `
SELECT facility_id, count(*) FROM activity.stays
WHERE facility_id = ANY($1) AND admitted_on <= $2 AND (discharged_on IS NULL OR discharged_on > $2)
GROUP BY facility_id`
	rows, err := s.db.Q(ctx).Query(ctx, q, ids, activity.Day(at))
	if err != nil {
		return nil, interpret(err, "count occupied places")
	}
	defer rows.Close()
	out := map[registry.ID]int{}
	for rows.Next() {
		var (
			id registry.ID
			n  int
		)
		if err := rows.Scan(&id, &n); err != nil {
			return nil, interpret(err, "count occupied places")
		}
		out[id] = n
	}
	return out, interpret(rows.Err(), "count occupied places")
}

// ---- events ----

// AppendEvents stores events. Sequence numbers are taken under a lock
// held until the transaction ends, so they commit in their order and a
// reader following the cursor never skips an event committed late.
func (s *Store) AppendEvents(ctx context.Context, evs []activity.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if _, err := s.db.Q(ctx).Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('activity.events', 0))`); err != nil {
		return interpret(err, "lock events")
	}
	for _, e := range evs {
		detail, err := json.Marshal(e.Detail)
		if err != nil {
			return err
		}
		if e.Detail == nil {
			detail = []byte("{}")
		}
		_, err = s.db.Q(ctx).Exec(ctx, `
INSERT INTO activity.events (zone, kind, case_id, stay_id, facility_id, on_date, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.Zone, e.Kind, nullInt(int64(e.Case)), nullInt(int64(e.Stay)), nullInt(int64(e.Facility)), date(e.Date), detail)
		if err != nil {
			return interpret(err, "append event")
		}
	}
	return nil
}

func nullInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

// Events lists a zone's events after a cursor.
func (s *Store) Events(ctx context.Context, zone string, after int64, limit int) ([]activity.Event, error) {
	const q = `
SELECT seq, zone, kind, coalesce(case_id, 0), coalesce(stay_id, 0), coalesce(facility_id, 0), on_date, detail, at
FROM activity.events
WHERE zone = $1 AND seq > $2
ORDER BY seq LIMIT $3`
	rows, err := s.db.Q(ctx).Query(ctx, q, zone, after, limit)
	if err != nil {
		return nil, interpret(err, "list events")
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.Event, error) {
		var (
			e      activity.Event
			on     *time.Time
			detail []byte
		)
		if err := r.Scan(&e.Seq, &e.Zone, &e.Kind, &e.Case, &e.Stay, &e.Facility, &on, &detail, &e.At); err != nil {
			return e, err
		}
		e.Date = undate(on)
		return e, json.Unmarshal(detail, &e.Detail)
	})
	return evs, interpret(err, "list events")
}

// ---- conflicts ----

// InsertConflict stores a conflict.
func (s *Store) InsertConflict(ctx context.Context, c activity.Conflict) error {
	cases := make([]int64, len(c.Cases))
	for i, id := range c.Cases {
		cases[i] = int64(id)
	}
	stays := make([]int64, len(c.Stays))
	for i, id := range c.Stays {
		stays[i] = int64(id)
	}
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO activity.conflicts (kind, merge_id, zone, case_ids, stay_ids) VALUES ($1, $2, $3, $4, $5)`,
		c.Kind, c.MergeID, text(c.Zone), cases, stays)
	return interpret(err, "insert conflict")
}

// ResolveConflicts closes the open conflicts of a merge.
func (s *Store) ResolveConflicts(ctx context.Context, mergeID int64, resolution string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `UPDATE activity.conflicts SET resolved_at = now(), resolution = $2 WHERE merge_id = $1 AND resolved_at IS NULL`,
		mergeID, resolution)
	return interpret(err, "resolve conflicts")
}

// Conflicts lists conflicts after a cursor.
func (s *Store) Conflicts(ctx context.Context, after int64, limit int) ([]activity.Conflict, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `
SELECT id, kind, merge_id, coalesce(zone, ''), case_ids, stay_ids, created_at, resolved_at, coalesce(resolution, '')
FROM activity.conflicts WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, interpret(err, "list conflicts")
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activity.Conflict, error) {
		var (
			c            activity.Conflict
			cases, stays []int64
			resolved     *time.Time
		)
		if err := r.Scan(&c.ID, &c.Kind, &c.MergeID, &c.Zone, &cases, &stays, &c.CreatedAt, &resolved, &c.Resolution); err != nil {
			return c, err
		}
		for _, id := range cases {
			c.Cases = append(c.Cases, activity.CaseID(id))
		}
		for _, id := range stays {
			c.Stays = append(c.Stays, activity.StayID(id))
		}
		if resolved != nil {
			c.ResolvedAt = *resolved
		}
		return c, nil
	})
	return cs, interpret(err, "list conflicts")
}

// ---- flows ----

type storedResult struct {
	Index   int                   `json:"index"`
	Outcome activity.Outcome      `json:"outcome"`
	Case    activity.CaseID       `json:"case_id,omitempty"`
	Errors  []activity.FieldError `json:"errors,omitempty"`
}

// ClaimFlow claims sender's flow nome, or returns its stored results.
func (s *Store) ClaimFlow(ctx context.Context, sender, nome string) ([]activity.RecordResult, bool, error) {
	// A claim left 'processing' longer than any flow may take (the server
	// stopped mid-flow) is taken over, so the sender can send it again.
	tag, err := s.db.Q(ctx).Exec(ctx, `
INSERT INTO activity.flows (sender, nome, state) VALUES ($1, $2, 'processing')
ON CONFLICT (sender, nome) DO UPDATE SET received_at = now()
WHERE activity.flows.state = 'processing' AND activity.flows.received_at < now() - interval '30 minutes'`, sender, nome)
	if err != nil {
		return nil, false, interpret(err, "claim flow")
	}
	if tag.RowsAffected() == 1 {
		return nil, true, nil
	}
	var (
		state string
		raw   []byte
	)
	err = s.db.Q(ctx).QueryRow(ctx, `SELECT state, results FROM activity.flows WHERE sender = $1 AND nome = $2`, sender, nome).Scan(&state, &raw)
	if err != nil {
		return nil, false, interpret(err, "read flow")
	}
	if state != "done" {
		return nil, false, activity.ErrFlowInProgress
	}
	var stored []storedResult
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, false, fmt.Errorf("decode flow results: %w", err)
	}
	out := make([]activity.RecordResult, len(stored))
	for i, r := range stored {
		out[i] = activity.RecordResult{Index: r.Index, Outcome: r.Outcome, Case: r.Case, Errors: r.Errors}
	}
	return out, false, nil
}

// FinishFlow stores a flow's results.
func (s *Store) FinishFlow(ctx context.Context, sender, nome string, results []activity.RecordResult) error {
	stored := make([]storedResult, len(results))
	for i, r := range results {
		stored[i] = storedResult{Index: r.Index, Outcome: r.Outcome, Case: r.Case, Errors: r.Errors}
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	_, err = s.db.Q(ctx).Exec(ctx, `UPDATE activity.flows SET state = 'done', results = $3 WHERE sender = $1 AND nome = $2`, sender, nome, raw)
	return interpret(err, "store flow results")
}

// ReleaseFlow forgets a claimed flow.
func (s *Store) ReleaseFlow(ctx context.Context, sender, nome string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `DELETE FROM activity.flows WHERE sender = $1 AND nome = $2 AND state = 'processing'`, sender, nome)
	return interpret(err, "release flow")
}

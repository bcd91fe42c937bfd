package activity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// Persons is what activity needs of linkage: linkage.Service implements
// it. Methods are safe for concurrent use.
type Persons interface {
	// Members returns the person p now is, first, and every person id
	// merged into it; linkage.ErrNotFound for an unknown p.
	Members(ctx context.Context, p linkage.PersonID) ([]linkage.PersonID, error)
}

// Facility is what activity needs of a registry facility.
type Facility struct {
	ID     registry.ID
	Active bool
	Places int
	Zone   string
}

// Facilities finds the facility a facility operator's org names (its
// regional code or draft reference). Implementations return ErrNotFound
// when there is none, and are safe for concurrent use.
type Facilities interface {
	Facility(ctx context.Context, org string) (Facility, error)
}

// TxRunner runs fn in a transaction carried by its context (pgdb.DB).
type TxRunner interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Hook runs in the transaction of a change, after it is written, with the
// person it is about as it now is (merges followed); its error undoes the
// change. api writes the audit event there.
type Hook func(ctx context.Context, p linkage.PersonID) error

// Config configures a Service.
type Config struct {
	Store      Store
	Tx         TxRunner
	Persons    Persons
	Facilities Facilities
	// Zone reports whether a zone code exists.
	Zone   func(code string) bool
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// Service is the activity domain. It is safe for concurrent use.
type Service struct {
	store      Store
	tx         TxRunner
	persons    Persons
	facilities Facilities
	zone       func(string) bool
	now        func() time.Time
	log        *slog.Logger
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil || c.Tx == nil || c.Persons == nil || c.Facilities == nil || c.Zone == nil {
		return nil, errors.New("activity: store, transaction runner, persons, facilities and zones are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: c.Store, tx: c.Tx, persons: c.Persons, facilities: c.Facilities, zone: c.Zone, now: c.Now, log: c.Logger}, nil
}

// Today is the current date in Rome.
func (s *Service) Today() time.Time { return Day(s.now()) }

func runHook(ctx context.Context, h Hook, p linkage.PersonID) error {
	if h == nil {
		return nil
	}
	return h(ctx, p)
}

// checkDate adds a problem when d is zero (and required) or in the future.
func (s *Service) checkDate(fe *fieldErrors, field string, d time.Time, required bool) {
	switch {
	case d.IsZero():
		if required {
			fe.add(field, "required")
		}
	case d.After(s.Today()):
		fe.add(field, "must not be in the future")
	}
}

// checkPeriod checks a period: a required start (named startField), an
// optional end_date, neither in the future, the end not before the start.
func (s *Service) checkPeriod(fe *fieldErrors, startField string, start, end time.Time) {
	s.checkDate(fe, startField, start, true)
	s.checkDate(fe, "end_date", end, false)
	if !end.IsZero() && !start.IsZero() && end.Before(start) {
		fe.add("end_date", "must not be before "+startField)
	}
}

// checkRecord validates a case file's SINBA record, naming fields by
// their JSON names under prefix.
func (s *Service) checkRecord(fe *fieldErrors, prefix string, rec *sinba.Record) {
	rec.IDBeneficiario = "-" // the file has no token: only the checks of the rest apply
	err := rec.Validate(s.now())
	rec.IDBeneficiario = ""
	if rec.MotivazioneChiusuraCarico != nil || rec.SituazioneChiusuraCarico != nil {
		fe.add(prefix+"motivazione_chiusura_carico", "set by closing the file, not among its attributes")
	}
	var ve *sinba.ValidationError
	if errors.As(err, &ve) {
		for _, v := range ve.Violations {
			fe.add(prefix+jsonPath(v.Field), v.Reason)
		}
	} else if err != nil {
		fe.add(prefix, err.Error())
	}
}

// jsonPath turns a schema path ("Prestazioni/CodicePrestazione[2]") into
// the JSON form's ("prestazioni[2]").
func jsonPath(field string) string {
	if field == "" {
		return ""
	}
	for _, w := range []struct{ xml, js string }{{"Prestazioni/CodicePrestazione", "prestazioni"}, {"Famiglia/ComposizioneFamiglia", "famiglia"}} {
		if len(field) >= len(w.xml) && field[:len(w.xml)] == w.xml {
			return w.js + field[len(w.xml):]
		}
	}
	if n := sinba.JSONName(field); n != "" {
		return n
	}
	return field
}

// members returns p's current person and all ids merged into it.
func (s *Service) members(ctx context.Context, p linkage.PersonID) ([]linkage.PersonID, error) {
	ms, err := s.persons.Members(ctx, p)
	if errors.Is(err, linkage.ErrNotFound) {
		return nil, fmt.Errorf("person: %w", ErrNotFound)
	}
	return ms, err
}

// ---- case files ----

// OpenCase opens a case file for p in a's zone. Errors: *ValidationError,
// ErrOpenCase.
func (s *Service) OpenCase(ctx context.Context, a Actor, p linkage.PersonID, opened time.Time, rec sinba.Record, hook Hook) (CaseFile, error) {
	var fe fieldErrors
	s.checkDate(&fe, "opened_on", opened, true)
	s.checkRecord(&fe, "attributes.", &rec)
	if err := fe.err(); err != nil {
		return CaseFile{}, err
	}
	var out CaseFile
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		ms, err := s.members(ctx, p)
		if err != nil {
			return err
		}
		if err := s.store.LockPerson(ctx, ms[0]); err != nil {
			return err
		}
		if _, ok, err := s.openCaseIn(ctx, ms, a.Org); err != nil {
			return err
		} else if ok {
			return ErrOpenCase
		}
		out, err = s.store.InsertCaseFile(ctx, CaseFile{Person: p, Zone: a.Org, Opened: opened, Record: rec}, a.Subject)
		if err != nil {
			return err
		}
		return runHook(ctx, hook, ms[0])
	})
	if err != nil {
		return CaseFile{}, fmt.Errorf("open case file: %w", err)
	}
	return out, nil
}

// openCaseIn returns the open file of persons in zone.
func (s *Service) openCaseIn(ctx context.Context, persons []linkage.PersonID, zone string) (CaseFile, bool, error) {
	cs, err := s.store.CaseFiles(ctx, persons, false)
	if err != nil {
		return CaseFile{}, false, err
	}
	for _, c := range cs {
		if c.Open() && c.Zone == zone {
			return c, true, nil
		}
	}
	return CaseFile{}, false, nil
}

// CaseFile returns file id if zone is its zone, or the zone it is being
// transferred to; ErrNotFound otherwise.
func (s *Service) CaseFile(ctx context.Context, zone string, id CaseID) (CaseFile, error) {
	c, err := s.store.CaseFile(ctx, id, false)
	if err != nil {
		return CaseFile{}, err
	}
	if c.Zone != zone && c.TransferTo != zone {
		return CaseFile{}, ErrNotFound
	}
	return c, nil
}

// ZoneCaseFiles lists zone's case files (and those being transferred to
// it), newest first, without entries.
func (s *Service) ZoneCaseFiles(ctx context.Context, zone string, openOnly bool, before CaseID, limit int) ([]CaseFile, error) {
	return s.store.ZoneCaseFiles(ctx, zone, openOnly, before, limit)
}

// YearCaseFiles calls fn with each case file of zone ("" for every zone)
// open at some time in year, ordered by zone and id, as Store.YearCaseFiles
// says: the rows of a year's SINBA flow.
func (s *Service) YearCaseFiles(ctx context.Context, year int, zone string, fn func(YearFile) error) error {
	return s.store.YearCaseFiles(ctx, year, zone, fn)
}

// changeCase runs change on file id of a's zone, locked, and writes the
// result. Errors: ErrNotFound, ErrClosed and change's.
func (s *Service) changeCase(ctx context.Context, a Actor, id CaseID, hook Hook, change func(ctx context.Context, c *CaseFile) error) (CaseFile, error) {
	var out CaseFile
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		c, err := s.store.CaseFile(ctx, id, true)
		if err != nil {
			return err
		}
		if c.Zone != a.Org {
			return ErrNotFound
		}
		if !c.Open() {
			return ErrClosed
		}
		if err := change(ctx, &c); err != nil {
			return err
		}
		if out, err = s.store.UpdateCaseFile(ctx, c); err != nil {
			return err
		}
		return runHook(ctx, hook, c.Person)
	})
	return out, err
}

// UpdateCase replaces the SINBA record of file id. Errors:
// *ValidationError, ErrNotFound, ErrClosed.
func (s *Service) UpdateCase(ctx context.Context, a Actor, id CaseID, rec sinba.Record, hook Hook) (CaseFile, error) {
	var fe fieldErrors
	s.checkRecord(&fe, "attributes.", &rec)
	if err := fe.err(); err != nil {
		return CaseFile{}, err
	}
	c, err := s.changeCase(ctx, a, id, hook, func(_ context.Context, c *CaseFile) error {
		c.Record = rec
		return nil
	})
	if err != nil {
		return CaseFile{}, fmt.Errorf("update case file %d: %w", id, err)
	}
	return c, nil
}

// AddEntry adds an intervention, a foster-care period or a court measure
// to file id. Errors: *ValidationError, ErrNotFound, ErrClosed.
func (s *Service) AddEntry(ctx context.Context, a Actor, id CaseID, e Entry, hook Hook) (Entry, error) {
	var fe fieldErrors
	specs, ok := EntryFields[e.Kind]
	if !ok {
		fe.add("kind", fmt.Sprintf("unknown kind %q", e.Kind))
	}
	s.checkPeriod(&fe, "start_date", e.Start, e.End)
	checkFields(&fe, "", specs, e.Codes)
	if e.Kind == EntryFosterCare && e.Codes["outcome"] != "" && e.End.IsZero() {
		fe.add("outcome", "only for a period that has ended (end_date)")
	}
	if err := fe.err(); err != nil {
		return Entry{}, err
	}
	var out Entry
	_, err := s.changeCase(ctx, a, id, hook, func(ctx context.Context, c *CaseFile) error {
		if e.Start.Before(c.Opened) && e.Kind == EntryIntervention {
			return &ValidationError{Fields: []FieldError{{"start_date", "must not be before the file was opened"}}}
		}
		var err error
		out, err = s.store.InsertEntry(ctx, id, e, a.Subject)
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("add %s to case file %d: %w", e.Kind, id, err)
	}
	return out, nil
}

// RequestTransfer asks zone to to take file id over. Errors:
// *ValidationError, ErrNotFound, ErrClosed.
func (s *Service) RequestTransfer(ctx context.Context, a Actor, id CaseID, to string, hook Hook) (CaseFile, error) {
	if !s.zone(to) || to == a.Org {
		return CaseFile{}, &ValidationError{Fields: []FieldError{{"to_zone", "must be another zone's code"}}}
	}
	c, err := s.changeCase(ctx, a, id, hook, func(ctx context.Context, c *CaseFile) error {
		c.TransferTo = to
		// Both zones hear of it: the receiving one has a file to accept.
		d := map[string]string{"from_zone": a.Org, "to_zone": to}
		return s.store.AppendEvents(ctx, []Event{
			{Zone: a.Org, Kind: EventTransferRequest, Case: c.ID, Date: s.Today(), Detail: d},
			{Zone: to, Kind: EventTransferRequest, Case: c.ID, Date: s.Today(), Detail: d},
		})
	})
	if err != nil {
		return CaseFile{}, fmt.Errorf("transfer case file %d: %w", id, err)
	}
	return c, nil
}

// AcceptTransfer makes a's zone the file's zone. Errors: ErrNotFound,
// ErrNoTransfer, ErrClosed, ErrOpenCase (the zone has an open file for the
// minor already: close one first).
func (s *Service) AcceptTransfer(ctx context.Context, a Actor, id CaseID, hook Hook) (CaseFile, error) {
	var out CaseFile
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		c, err := s.store.CaseFile(ctx, id, true)
		if err != nil {
			return err
		}
		if c.TransferTo != a.Org {
			if c.Zone == a.Org {
				return ErrNoTransfer
			}
			return ErrNotFound
		}
		if !c.Open() {
			return ErrClosed
		}
		ms, err := s.members(ctx, c.Person)
		if err != nil {
			return err
		}
		if err := s.store.LockPerson(ctx, ms[0]); err != nil {
			return err
		}
		if _, ok, err := s.openCaseIn(ctx, ms, a.Org); err != nil {
			return err
		} else if ok {
			return ErrOpenCase
		}
		from := c.Zone
		c.Zone, c.TransferTo = a.Org, ""
		if out, err = s.store.UpdateCaseFile(ctx, c); err != nil {
			return err
		}
		d := map[string]string{"from_zone": from, "to_zone": a.Org}
		if err := s.store.AppendEvents(ctx, []Event{
			{Zone: from, Kind: EventTransferAccepted, Case: c.ID, Date: s.Today(), Detail: d},
			{Zone: a.Org, Kind: EventTransferAccepted, Case: c.ID, Date: s.Today(), Detail: d},
		}); err != nil {
			return err
		}
		return runHook(ctx, hook, c.Person)
	})
	if err != nil {
		return CaseFile{}, fmt.Errorf("accept transfer of case file %d: %w", id, err)
	}
	return out, nil
}

// CloseCase closes file id. Errors: *ValidationError, ErrNotFound,
// ErrClosed.
func (s *Service) CloseCase(ctx context.Context, a Actor, id CaseID, on time.Time, cl Closure, hook Hook) (CaseFile, error) {
	var fe fieldErrors
	s.checkDate(&fe, "date", on, true)
	if !cl.Reason.Valid() {
		fe.add("reason", fmt.Sprintf("unknown MotivazioneChiusuraCarico code %q", cl.Reason))
	}
	if cl.Situation != "" && !cl.Situation.Valid() {
		fe.add("situation", fmt.Sprintf("unknown SituazioneChiusuraCarico code %q", cl.Situation))
	}
	if err := fe.err(); err != nil {
		return CaseFile{}, err
	}
	c, err := s.changeCase(ctx, a, id, hook, func(_ context.Context, c *CaseFile) error {
		if on.Before(c.Opened) {
			return &ValidationError{Fields: []FieldError{{"date", "must not be before the file was opened"}}}
		}
		c.Closed, c.Closure, c.TransferTo = on, cl, ""
		c.Record.MotivazioneChiusuraCarico = &cl.Reason
		c.Record.SituazioneChiusuraCarico = nil
		if cl.Situation != "" {
			c.Record.SituazioneChiusuraCarico = &cl.Situation
		}
		return nil
	})
	if err != nil {
		return CaseFile{}, fmt.Errorf("close case file %d: %w", id, err)
	}
	return c, nil
}

// ---- stays ----

// Admission is what a facility submits when a minor arrives.
type Admission struct {
	Date        time.Time
	SendingZone string
	Form        Form
	WithParent  bool
	MSNA        bool
}

// Warning is something an admission should know but that does not stop it.
type Warning string

// WarningFull: the facility hosts as many minors as its authorised places,
// or more. Admissions are not refused for it: placements are often
// ordered by a court or urgent, and refusing to record one would only
// hide it; the Region sees the over-occupancy instead.
const WarningFull Warning = "facility_full"

// Admit records p's admission to the facility of a's org. Errors:
// *ValidationError, ErrNotFound (no such facility), ErrFacilityInactive,
// ErrOpenStay.
func (s *Service) Admit(ctx context.Context, a Actor, p linkage.PersonID, ad Admission, hook Hook) (Stay, []Warning, error) {
	var fe fieldErrors
	s.checkDate(&fe, "admission_date", ad.Date, true)
	if !s.zone(ad.SendingZone) {
		fe.add("sending_zone", fmt.Sprintf("unknown zone %q", ad.SendingZone))
	}
	if ad.Form != FormConsensual && ad.Form != FormJudicial {
		fe.add("form", "must be consensual or judicial")
	}
	if err := fe.err(); err != nil {
		return Stay{}, nil, err
	}
	f, err := s.facilities.Facility(ctx, a.Org)
	if err != nil {
		return Stay{}, nil, fmt.Errorf("admit: facility: %w", err)
	}
	if !f.Active {
		return Stay{}, nil, fmt.Errorf("admit: %w", ErrFacilityInactive)
	}
	var (
		out  Stay
		warn []Warning
	)
	err = s.tx.WithTx(ctx, func(ctx context.Context) error {
		ms, err := s.members(ctx, p)
		if err != nil {
			return err
		}
		if err := s.store.LockPerson(ctx, ms[0]); err != nil {
			return err
		}
		stays, err := s.store.Stays(ctx, ms)
		if err != nil {
			return err
		}
		for _, st := range stays {
			if st.Open() {
				return ErrOpenStay
			}
		}
		n, err := s.store.OpenStays(ctx, f.ID)
		if err != nil {
			return err
		}
		if n >= f.Places {
			warn = append(warn, WarningFull)
		}
		out, err = s.store.InsertStay(ctx, Stay{Person: p, Facility: f.ID, Admitted: ad.Date, SendingZone: ad.SendingZone,
			Form: ad.Form, WithParent: ad.WithParent, MSNA: ad.MSNA}, a.Subject)
		if err != nil {
			return err
		}
		if err := s.notify(ctx, ms, Event{Kind: EventAdmission, Stay: out.ID, Facility: f.ID, Date: ad.Date,
			Detail: map[string]string{"form": string(ad.Form), "sending_zone": ad.SendingZone}}); err != nil {
			return err
		}
		return runHook(ctx, hook, p)
	})
	if err != nil {
		return Stay{}, nil, fmt.Errorf("admit: %w", err)
	}
	return out, warn, nil
}

// notify appends ev for each zone that has an open file of persons.
func (s *Service) notify(ctx context.Context, persons []linkage.PersonID, ev Event) error {
	cs, err := s.store.CaseFiles(ctx, persons, false)
	if err != nil {
		return err
	}
	var evs []Event
	for _, c := range cs {
		if c.Open() {
			e := ev
			e.Zone, e.Case = c.Zone, c.ID
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		return nil
	}
	return s.store.AppendEvents(ctx, evs)
}

// Stay returns stay id if it is in the facility of org; ErrNotFound
// otherwise.
func (s *Service) Stay(ctx context.Context, org string, id StayID) (Stay, error) {
	f, err := s.facilities.Facility(ctx, org)
	if err != nil {
		return Stay{}, err
	}
	st, err := s.store.Stay(ctx, id, false)
	if err != nil {
		return Stay{}, err
	}
	if st.Facility != f.ID {
		return Stay{}, ErrNotFound
	}
	return st, nil
}

// FacilityStays lists the stays of org's facility, newest first.
func (s *Service) FacilityStays(ctx context.Context, org string, openOnly bool, before StayID, limit int) ([]Stay, error) {
	f, err := s.facilities.Facility(ctx, org)
	if err != nil {
		return nil, err
	}
	return s.store.FacilityStays(ctx, f.ID, openOnly, before, limit)
}

// changeStay runs change on stay id of a's facility, locked.
func (s *Service) changeStay(ctx context.Context, a Actor, id StayID, hook Hook, change func(ctx context.Context, st Stay) error) error {
	f, err := s.facilities.Facility(ctx, a.Org)
	if err != nil {
		return err
	}
	return s.tx.WithTx(ctx, func(ctx context.Context) error {
		st, err := s.store.Stay(ctx, id, true)
		if err != nil {
			return err
		}
		if st.Facility != f.ID {
			return ErrNotFound
		}
		if !st.Open() {
			return ErrClosed
		}
		if err := change(ctx, st); err != nil {
			return err
		}
		return runHook(ctx, hook, st.Person)
	})
}

// Discharge ends stay id. Errors: *ValidationError, ErrNotFound,
// ErrClosed.
func (s *Service) Discharge(ctx context.Context, a Actor, id StayID, on time.Time, outcome sinba.EsitoInserimentoStruttura, hook Hook) (Stay, error) {
	var fe fieldErrors
	s.checkDate(&fe, "date", on, true)
	if !outcome.Valid() {
		fe.add("outcome", fmt.Sprintf("unknown EsitoInserimentoStruttura code %q", outcome))
	}
	if err := fe.err(); err != nil {
		return Stay{}, err
	}
	var out Stay
	err := s.changeStay(ctx, a, id, hook, func(ctx context.Context, st Stay) error {
		if on.Before(st.Admitted) {
			return &ValidationError{Fields: []FieldError{{"date", "must not be before the admission date"}}}
		}
		if err := s.store.Discharge(ctx, id, on, outcome); err != nil {
			return err
		}
		ms, err := s.members(ctx, st.Person)
		if err != nil {
			return err
		}
		if err := s.notify(ctx, ms, Event{Kind: EventDischarge, Stay: id, Facility: st.Facility, Date: on,
			Detail: map[string]string{"outcome": string(outcome)}}); err != nil {
			return err
		}
		st.Discharged, st.Outcome = on, outcome
		out = st
		return nil
	})
	if err != nil {
		return Stay{}, fmt.Errorf("discharge stay %d: %w", id, err)
	}
	return out, nil
}

// AddActivity records an activity of stay id. Errors: *ValidationError,
// ErrNotFound, ErrClosed.
func (s *Service) AddActivity(ctx context.Context, a Actor, id StayID, act StayActivity, hook Hook) (StayActivity, error) {
	var fe fieldErrors
	specs, ok := ActivityFields[act.Kind]
	if !ok {
		fe.add("kind", fmt.Sprintf("unknown kind %q", act.Kind))
	}
	s.checkPeriod(&fe, "date", act.Date, act.End)
	checkFields(&fe, "fields.", specs, act.Fields)
	if err := fe.err(); err != nil {
		return StayActivity{}, err
	}
	var out StayActivity
	err := s.changeStay(ctx, a, id, hook, func(ctx context.Context, st Stay) error {
		if act.Date.Before(st.Admitted) {
			return &ValidationError{Fields: []FieldError{{"date", "must not be before the admission date"}}}
		}
		var err error
		out, err = s.store.InsertActivity(ctx, id, act, a.Subject)
		return err
	})
	if err != nil {
		return StayActivity{}, fmt.Errorf("add activity to stay %d: %w", id, err)
	}
	return out, nil
}

// Minor returns every case file and stay of the person p now is, newest
// first; callers filter what each role sees.
func (s *Service) Minor(ctx context.Context, p linkage.PersonID) ([]CaseFile, []Stay, error) {
	ms, err := s.members(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	cs, err := s.store.CaseFiles(ctx, ms, true)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.store.Stays(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	return cs, st, nil
}

// OpenCaseFiles returns the open case files of the person p now is.
func (s *Service) OpenCaseFiles(ctx context.Context, p linkage.PersonID) ([]CaseFile, error) {
	ms, err := s.members(ctx, p)
	if err != nil {
		return nil, err
	}
	cs, err := s.store.CaseFiles(ctx, ms, false)
	if err != nil {
		return nil, err
	}
	open := cs[:0]
	for _, c := range cs {
		if c.Open() {
			open = append(open, c)
		}
	}
	return open, nil
}

// Occupied counts the open stays of facility f.
func (s *Service) Occupied(ctx context.Context, f registry.ID) (int, error) {
	return s.store.OpenStays(ctx, f)
}

// ---- events ----

// pollInterval is how often Events looks for new events while it waits.
const pollInterval = 200 * time.Millisecond

// Events returns up to limit events of zone after the cursor. When there
// are none it waits up to wait for one (long poll), or until ctx ends.
func (s *Service) Events(ctx context.Context, zone string, after int64, limit int, wait time.Duration) ([]Event, error) {
	deadline := time.Now().Add(wait)
	for {
		evs, err := s.store.Events(ctx, zone, after, limit)
		if err != nil || len(evs) > 0 || !time.Now().Before(deadline) {
			return evs, err
		}
		t := time.NewTimer(min(pollInterval, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
	}
}

// ---- merges ----

// HandleMerge follows a merge or its undo: the zones with an open file of
// the merged person are told, and open records the merge made one
// person's are reported as conflicts (an undo resolves them). Records
// themselves need nothing: reads follow linkage's current person.
func (s *Service) HandleMerge(ctx context.Context, m linkage.MergeEvent) error {
	return s.tx.WithTx(ctx, func(ctx context.Context) error {
		if m.Kind == linkage.MergeEventUndo {
			if err := s.store.ResolveConflicts(ctx, m.MergeID, "merge undone"); err != nil {
				return err
			}
			// Each side again has its own records: tell the zones of both.
			for _, p := range []linkage.PersonID{m.Survivor, m.Absorbed} {
				ms, err := s.members(ctx, p)
				if err != nil {
					return err
				}
				if err := s.notify(ctx, ms, Event{Kind: EventMergeUndone, Date: s.Today(), Detail: map[string]string{"merge_id": fmt.Sprint(m.MergeID)}}); err != nil {
					return err
				}
			}
			return nil
		}
		ms, err := s.members(ctx, m.Survivor)
		if err != nil {
			return err
		}
		if err := s.store.LockPerson(ctx, ms[0]); err != nil {
			return err
		}
		cs, err := s.store.CaseFiles(ctx, ms, false)
		if err != nil {
			return err
		}
		byZone := map[string][]CaseID{}
		var zones []string
		for _, c := range cs {
			if c.Open() {
				if byZone[c.Zone] == nil {
					zones = append(zones, c.Zone)
				}
				byZone[c.Zone] = append(byZone[c.Zone], c.ID)
			}
		}
		for _, z := range zones {
			if len(byZone[z]) > 1 {
				if err := s.store.InsertConflict(ctx, Conflict{Kind: ConflictOpenCaseFiles, MergeID: m.MergeID, Zone: z, Cases: byZone[z]}); err != nil {
					return err
				}
			}
		}
		stays, err := s.store.Stays(ctx, ms)
		if err != nil {
			return err
		}
		var open []StayID
		for _, st := range stays {
			if st.Open() {
				open = append(open, st.ID)
			}
		}
		if len(open) > 1 {
			if err := s.store.InsertConflict(ctx, Conflict{Kind: ConflictOpenStays, MergeID: m.MergeID, Stays: open}); err != nil {
				return err
			}
		}
		return s.notify(ctx, ms, Event{Kind: EventMerge, Date: s.Today(), Detail: map[string]string{"merge_id": fmt.Sprint(m.MergeID)}})
	})
}

// Conflicts lists the conflicts with ID > after, oldest first.
func (s *Service) Conflicts(ctx context.Context, after int64, limit int) ([]Conflict, error) {
	return s.store.Conflicts(ctx, after, limit)
}

// ---- SINBA flows ----

// TokenResolver turns a sender's token (IDBeneficiario) into a person;
// linkage.ErrNotFound (or any error wrapping it) for an unknown token.
type TokenResolver func(ctx context.Context, token string) (linkage.PersonID, error)

// RecordHook is the Hook of one record of a flow, with its 1-based index.
type RecordHook func(ctx context.Context, index int, p linkage.PersonID) error

// FlowSource yields the records of a flow one by one: the next record,
// io.EOF at the end, another error when the flow cannot be read further.
type FlowSource interface {
	Next() (sinba.Record, error)
}

// flowChunk is how many records of a flow share one transaction: each
// has its own savepoint, so a record that fails writes nothing while the
// commit (and its WAL flush) is paid once per chunk, not per record.
const flowChunk = 50

// IngestFlow applies sender's flow nome, read from src, record by record:
// each record is validated on its own and applied under its own savepoint
// (hook audits it there), so a failed record writes nothing and the others
// go on; records are committed in chunks of flowChunk. A flow already
// processed returns its stored results and reads nothing more (replayed
// true). When src fails before its end, the flow is forgotten (a corrected
// one may be sent again with the same name; the records already applied
// then come out unchanged) and the error is returned. Errors:
// ErrFlowInProgress, src's.
func (s *Service) IngestFlow(ctx context.Context, a Actor, nome string, src FlowSource, resolve TokenResolver, hook RecordHook) (results []RecordResult, replayed bool, err error) {
	stored, claimed, err := s.store.ClaimFlow(ctx, a.Org, nome)
	if err != nil {
		return nil, false, fmt.Errorf("flow %s: %w", nome, err)
	}
	if !claimed {
		return stored, true, nil
	}
	var batch []preparedRecord
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := s.tx.WithTx(ctx, func(ctx context.Context) error {
			for _, pr := range batch {
				var res RecordResult
				err := s.store.Savepoint(ctx, func(ctx context.Context) error {
					var err error
					res, err = s.applyRecord(ctx, a, pr, hook)
					return err
				})
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					s.log.Error("sinba flow: apply record", "record", pr.index, "err", err.Error())
					res = internalResult(pr.index)
				}
				results[pr.index-1] = res
			}
			return nil
		})
		if err != nil {
			s.log.Error("sinba flow: commit records", "from", batch[0].index, "to", batch[len(batch)-1].index, "err", err.Error())
			for _, pr := range batch {
				results[pr.index-1] = internalResult(pr.index)
			}
		}
		batch = batch[:0]
	}
	for i := 1; ; i++ {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if rerr := s.store.ReleaseFlow(context.WithoutCancel(ctx), a.Org, nome); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, false, err
		}
		pr, res := s.prepareRecord(ctx, i, rec, resolve)
		results = append(results, res)
		if res.Outcome == "" {
			batch = append(batch, pr)
			if len(batch) == flowChunk {
				flush()
			}
		}
	}
	flush()
	if err := s.store.FinishFlow(ctx, a.Org, nome, results); err != nil {
		return nil, false, fmt.Errorf("flow %s: %w", nome, err)
	}
	return results, false, nil
}

func internalResult(i int) RecordResult {
	return RecordResult{Index: i, Outcome: OutcomeError, Errors: []FieldError{{"", "internal error; the record was not applied"}}}
}

// preparedRecord is a valid record with its person, waiting to be applied.
type preparedRecord struct {
	index  int
	rec    sinba.Record
	person linkage.PersonID
}

// prepareRecord validates rec and resolves its token; a result with an
// Outcome is final (an error), an empty one means apply it.
func (s *Service) prepareRecord(ctx context.Context, i int, rec sinba.Record, resolve TokenResolver) (preparedRecord, RecordResult) {
	res := RecordResult{Index: i}
	fail := func(fs ...FieldError) RecordResult {
		res.Outcome, res.Errors = OutcomeError, fs
		return res
	}
	if err := rec.Validate(s.now()); err != nil {
		var ve *sinba.ValidationError
		if !errors.As(err, &ve) {
			return preparedRecord{}, fail(FieldError{"", "invalid record"})
		}
		fs := make([]FieldError, len(ve.Violations))
		for j, v := range ve.Violations {
			fs[j] = FieldError{v.Field, v.Reason}
		}
		return preparedRecord{}, fail(fs...)
	}
	p, err := resolve(ctx, rec.IDBeneficiario)
	if err != nil {
		if errors.Is(err, linkage.ErrNotFound) || errors.Is(err, linkage.ErrMalformed) {
			return preparedRecord{}, fail(FieldError{"IDBeneficiario", "not a token of the sender's domain"})
		}
		s.log.Error("sinba flow: resolve token", "record", i, "err", err.Error())
		return preparedRecord{}, internalResult(i)
	}
	rec.IDBeneficiario = ""
	return preparedRecord{index: i, rec: rec, person: p}, res
}

// applyRecord creates, updates or leaves the case file of one record, in
// the transaction ctx carries.
func (s *Service) applyRecord(ctx context.Context, a Actor, pr preparedRecord, hook RecordHook) (RecordResult, error) {
	res := RecordResult{Index: pr.index}
	rec, p := pr.rec, pr.person
	ms, err := s.members(ctx, p)
	if err != nil {
		return res, err
	}
	if err := s.store.LockPerson(ctx, ms[0]); err != nil {
		return res, err
	}
	cs, err := s.store.CaseFiles(ctx, ms, false) // newest first
	if err != nil {
		return res, err
	}
	var (
		cur, latest CaseFile
		ok          bool
	)
	for _, c := range cs {
		if c.Zone != a.Org {
			continue
		}
		if latest.ID == 0 {
			latest = c
		}
		if c.Open() {
			cur, ok = c, true
			break
		}
	}
	closing := rec.MotivazioneChiusuraCarico != nil
	today := s.Today()
	switch {
	case !ok && closing && latest.ID != 0 && sameRecord(latest.Record, rec):
		// The closing record of a file closed already, sent again in
		// another flow: not a new file.
		res.Case, res.Outcome = latest.ID, OutcomeUnchanged
		return res, nil
	case !ok:
		c := CaseFile{Person: p, Zone: a.Org, Opened: today, Record: rec}
		if t, ok := rec.DataPrimaSegnalazione.Time(); ok && !t.After(today) {
			c.Opened = t
		}
		if cur, err = s.store.InsertCaseFile(ctx, c, a.Subject); err != nil {
			return res, err
		}
		res.Outcome = OutcomeCreated
	case sameRecord(cur.Record, rec):
		res.Case, res.Outcome = cur.ID, OutcomeUnchanged
		return res, nil
	default:
		cur.Record = rec
		res.Outcome = OutcomeUpdated
	}
	if closing {
		cur.Closed, cur.Closure = today, Closure{Reason: *rec.MotivazioneChiusuraCarico}
		if rec.SituazioneChiusuraCarico != nil {
			cur.Closure.Situation = *rec.SituazioneChiusuraCarico
		}
	}
	if res.Outcome == OutcomeUpdated || closing {
		if cur, err = s.store.UpdateCaseFile(ctx, cur); err != nil {
			return res, err
		}
	}
	res.Case = cur.ID
	if hook == nil {
		return res, nil
	}
	return res, hook(ctx, pr.index, ms[0])
}

func sameRecord(a, b sinba.Record) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

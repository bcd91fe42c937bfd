// Package activity is the SINBA and ASMI domain: the case files social
// services keep on the minors in their charge (SINBA), and the stays of
// minors in residential facilities (ASMI), both keyed by linkage.PersonID
// and never by an identity.
//
// A person id is stored as it was given. Whatever reads or checks a
// person's records goes through Persons: the person the id now is and
// every id merged into it, so that records follow a merge and go back on
// undo without a row being rewritten. When a merge makes two open stays,
// or two open files in one zone, belong to one person, a Conflict is
// recorded for the data steward; nothing is dropped.
//
// The PostgreSQL store lives in activitypg.
package activity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// Sentinel errors.
var (
	// ErrNotFound is returned when no case file, stay or token matches, or
	// when the one that does is not the caller's to see.
	ErrNotFound = errors.New("not found")
	// ErrOpenCase is returned by OpenCase and AcceptTransfer when the
	// person already has an open case file in the zone.
	ErrOpenCase = errors.New("an open case file exists for this minor in this zone")
	// ErrOpenStay is returned by Admit when the person has an open stay,
	// in any facility. It says nothing more on purpose.
	ErrOpenStay = errors.New("an open stay exists for this minor")
	// ErrFacilityInactive is returned by Admit when the caller's facility
	// is not active in the registry (draft, submitted, suspended, closed).
	ErrFacilityInactive = errors.New("the facility is not active")
	// ErrClosed is returned when a change needs an open case file or stay
	// and the one named is closed (discharged).
	ErrClosed = errors.New("already closed")
	// ErrNoTransfer is returned by AcceptTransfer when the file is not
	// being transferred to the caller's zone.
	ErrNoTransfer = errors.New("no transfer pending to this zone")
	// ErrFlowInProgress is returned by IngestFlow when the same flow (same
	// sender and Nome) is being processed by another request.
	ErrFlowInProgress = errors.New("a flow with this name is being processed")
)

// FieldError names one bad field and why it is bad.
type FieldError struct {
	Field  string
	Reason string
}

// ValidationError lists every bad field of an input.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Reason
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// fieldErrors collects field errors; err returns nil when there are none.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, reason string) { *fe = append(*fe, FieldError{field, reason}) }

func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}

// Actor is who makes a change: the principal's subject, role and org (a
// zone for a service, a facility reference for a facility).
type Actor struct {
	Subject string
	Role    string
	Org     string
}

// CaseID identifies a case file.
type CaseID int64

// StayID identifies a stay.
type StayID int64

// CaseFile is a SINBA case file: one minor in the charge of one zone's
// social service.
type CaseFile struct {
	ID     CaseID
	Person linkage.PersonID
	Zone   string
	Opened time.Time // a date
	// Record holds the SINBA attributes of the file; its IDBeneficiario is
	// always empty (the token is the sender's, not the file's).
	Record sinba.Record
	// TransferTo is the zone a transfer was requested to, until it accepts.
	TransferTo string
	Closed     time.Time // zero while open
	Closure    Closure
	Entries    []Entry
	UpdatedAt  time.Time
}

// Open reports whether the file is open.
func (c CaseFile) Open() bool { return c.Closed.IsZero() }

// YearFile is a case file as a year's SINBA flow for INPS shows it.
type YearFile struct {
	Case CaseID
	Zone string
	// Person is the person the file's minor now is: merges followed.
	Person linkage.PersonID
	// Record is the file's SINBA record, IDBeneficiario empty. Its closure
	// (MotivazioneChiusuraCarico, SituazioneChiusuraCarico) is there only
	// when the file was closed by the end of the year: a file closed
	// later was still open that year.
	Record sinba.Record
}

// Closure is why and how a case file was closed.
type Closure struct {
	Reason    sinba.MotivazioneChiusuraCarico
	Situation sinba.SituazioneChiusuraCarico // optional
}

// EntryKind is what an Entry of a case file records.
type EntryKind string

// Entry kinds.
const (
	EntryIntervention EntryKind = "intervention"  // a SIUSS service, CodicePrestazione
	EntryFosterCare   EntryKind = "foster_care"   // an affido period
	EntryCourtMeasure EntryKind = "court_measure" // a provvedimento giudiziario
)

// Entry is a dated, coded fact of a case file.
type Entry struct {
	ID    int64
	Kind  EntryKind
	Start time.Time
	End   time.Time // zero when open-ended
	// Codes are the entry's coded fields, by name (see EntryFields).
	Codes map[string]string
}

// FieldSpec is one coded field of an entry or a stay activity.
type FieldSpec struct {
	Name     string
	List     CodeList
	Required bool
}

// CodeList checks and labels codes.
type CodeList interface {
	Valid(code string) bool
	Label(code string) string
}

// EntryFields are the coded fields of each entry kind, from SINBA.xsd.
var EntryFields = map[EntryKind][]FieldSpec{
	EntryIntervention: {{"code", sinba.CodicePrestazioneCodes, true}},
	EntryFosterCare: {
		{"form", sinba.FormaInterventoAffidoCodes, true},
		{"type", sinba.TipoInterventoAffidoCodes, true},
		{"duration", sinba.DurataAffidoCodes, false},
		{"character", sinba.CarattereAffidoCodes, false},
		{"outcome", sinba.EsitoAffidoCodes, false},
	},
	EntryCourtMeasure: {
		{"authority", sinba.AutoritaProvvedimentoCodes, true},
		{"type", sinba.TipoProvvedimentoGiudiziarioCodes, true},
		{"parental_authority", sinba.PotestaTutelaCodes, false},
	},
}

// Form is how a minor was placed in a facility.
type Form string

// Forms of admission.
const (
	FormConsensual Form = "consensual"
	FormJudicial   Form = "judicial"
)

// Stay is an ASMI stay: a minor's admission to a facility, its discharge
// and the activities in between.
type Stay struct {
	ID          StayID
	Person      linkage.PersonID
	Facility    registry.ID
	Admitted    time.Time // a date
	SendingZone string
	Form        Form
	WithParent  bool
	MSNA        bool      // unaccompanied foreign minor
	Discharged  time.Time // zero while open
	Outcome     sinba.EsitoInserimentoStruttura
	Activities  []StayActivity
}

// Open reports whether the stay is open.
func (s Stay) Open() bool { return s.Discharged.IsZero() }

// ActivityKind is a kind of activity during a stay.
type ActivityKind string

// Activity kinds.
const (
	ActivityIndividualPlan       ActivityKind = "individual_plan"
	ActivitySchool               ActivityKind = "school"
	ActivityVocationalTraining   ActivityKind = "vocational_training"
	ActivityHealthCheck          ActivityKind = "health_check"
	ActivityPsychologicalSupport ActivityKind = "psychological_support"
	ActivityFamilyContact        ActivityKind = "family_contact"
	ActivityCourtLegal           ActivityKind = "court_legal"
	ActivityLeisure              ActivityKind = "leisure"
	ActivityAutonomy             ActivityKind = "path_to_autonomy"
)

// StayActivity is one activity of a stay: a kind, a date (and an end for
// those that last) and coded fields; never free text about the minor.
type StayActivity struct {
	ID     int64
	Kind   ActivityKind
	Date   time.Time
	End    time.Time // zero when it is a single day or still going
	Fields map[string]string
}

// Codes is a small code list of activity's own.
type Codes []sinba.Code

// Valid reports whether code is in the list.
func (l Codes) Valid(code string) bool { return l.Label(code) != "" }

// Label returns the label of code, or "".
func (l Codes) Label(code string) string {
	for _, c := range l {
		if c.Value == code {
			return c.Label
		}
	}
	return ""
}

var (
	planStatus   = Codes{{Value: "drafted", Label: "redatto"}, {Value: "reviewed", Label: "verificato"}, {Value: "shared_with_family", Label: "condiviso con la famiglia"}}
	trainingStep = Codes{{Value: "enrolled", Label: "iscritto"}, {Value: "attending", Label: "frequenta"}, {Value: "completed", Label: "concluso"}, {Value: "dropped", Label: "interrotto"}}
	healthKind   = Codes{{Value: "general", Label: "visita generale"}, {Value: "specialist", Label: "visita specialistica"}, {Value: "dental", Label: "visita odontoiatrica"}, {Value: "vaccination", Label: "vaccinazione"}}
	contactMode  = Codes{{Value: "in_person", Label: "in presenza"}, {Value: "protected", Label: "incontro protetto"}, {Value: "phone", Label: "telefono"}, {Value: "video", Label: "videochiamata"}}
	leisureKind  = Codes{{Value: "sport", Label: "sport"}, {Value: "culture", Label: "cultura"}, {Value: "summer_camp", Label: "soggiorno estivo"}, {Value: "other", Label: "altro"}}
	autonomyStep = Codes{{Value: "housing", Label: "abitativo"}, {Value: "work", Label: "lavorativo"}, {Value: "documents", Label: "documenti"}, {Value: "money", Label: "gestione del denaro"}}
)

// ActivityKinds are the activity kinds with their labels, in order.
var ActivityKinds = Codes{
	{Value: string(ActivityIndividualPlan), Label: "progetto educativo individualizzato"},
	{Value: string(ActivitySchool), Label: "scuola"},
	{Value: string(ActivityVocationalTraining), Label: "formazione professionale"},
	{Value: string(ActivityHealthCheck), Label: "controllo sanitario"},
	{Value: string(ActivityPsychologicalSupport), Label: "sostegno psicologico"},
	{Value: string(ActivityFamilyContact), Label: "contatto con la famiglia"},
	{Value: string(ActivityCourtLegal), Label: "adempimenti giudiziari e legali"},
	{Value: string(ActivityLeisure), Label: "tempo libero"},
	{Value: string(ActivityAutonomy), Label: "percorso di autonomia"},
}

// ActivityFields are the coded fields of each activity kind.
var ActivityFields = map[ActivityKind][]FieldSpec{
	ActivityIndividualPlan:       {{"status", planStatus, true}},
	ActivitySchool:               {{"school", sinba.ScuolaFrequentataCodes, true}},
	ActivityVocationalTraining:   {{"step", trainingStep, true}},
	ActivityHealthCheck:          {{"kind", healthKind, true}},
	ActivityPsychologicalSupport: {{"provider", sinba.CollaborazioniInterventiCodes, true}},
	ActivityFamilyContact:        {{"with", sinba.ComposizioneFamigliaCodes, true}, {"mode", contactMode, true}},
	ActivityCourtLegal:           {{"authority", sinba.AutoritaProvvedimentoCodes, true}},
	ActivityLeisure:              {{"kind", leisureKind, false}},
	ActivityAutonomy:             {{"area", autonomyStep, true}},
}

// checkFields validates fields against specs; problems are named
// prefix+name.
func checkFields(fe *fieldErrors, prefix string, specs []FieldSpec, fields map[string]string) {
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Name] = true
		v, ok := fields[s.Name]
		switch {
		case !ok || v == "":
			if s.Required {
				fe.add(prefix+s.Name, "required")
			}
		case !s.List.Valid(v):
			fe.add(prefix+s.Name, fmt.Sprintf("unknown code %q", v))
		}
	}
	for name := range fields {
		if !known[name] {
			fe.add(prefix+name, "unknown field")
		}
	}
}

// EventKind is what an Event tells a service.
type EventKind string

// Event kinds.
const (
	EventAdmission        EventKind = "admission"
	EventDischarge        EventKind = "discharge"
	EventTransferRequest  EventKind = "transfer_requested"
	EventTransferAccepted EventKind = "transfer_accepted"
	EventMerge            EventKind = "merge"
	EventMergeUndone      EventKind = "merge_undone"
)

// Event tells the service of a zone something about a minor in its
// charge, named by the zone's case file.
type Event struct {
	Seq      int64
	Zone     string
	Kind     EventKind
	Case     CaseID
	Stay     StayID
	Facility registry.ID
	Date     time.Time // the date of the fact (admission, discharge), if any
	// Detail holds coded details: form, outcome, from/to zone.
	Detail map[string]string
	At     time.Time
}

// ConflictKind is what a merge made inconsistent.
type ConflictKind string

// Conflict kinds.
const (
	ConflictOpenStays     ConflictKind = "open_stays"
	ConflictOpenCaseFiles ConflictKind = "open_case_files"
)

// Conflict is two or more open records a merge made one person's, for
// the data steward.
type Conflict struct {
	ID         int64
	Kind       ConflictKind
	MergeID    int64
	Zone       string // for case files
	Cases      []CaseID
	Stays      []StayID
	CreatedAt  time.Time
	ResolvedAt time.Time
	Resolution string
}

// Outcome is the result of one record of a SINBA flow.
type Outcome string

// Record outcomes.
const (
	OutcomeCreated   Outcome = "created"
	OutcomeUpdated   Outcome = "updated"
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeError     Outcome = "error"
)

// RecordResult is the result of one record of a flow.
type RecordResult struct {
	Index   int // 1-based
	Outcome Outcome
	Case    CaseID
	Errors  []FieldError
}

// Rome is the Region's time zone: a date here is a day there.
var Rome = registry.Rome

// Day returns t's date in Rome, as midnight UTC.
func Day(t time.Time) time.Time {
	y, m, d := t.In(Rome).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (time.Time, error) {
	return time.Parse(time.DateOnly, s)
}

// Store keeps case files, stays, events, conflicts and flows. Methods run
// in the transaction ctx carries when there is one (pgdb), and are safe
// for concurrent use. Person ids are stored as given; callers pass every
// id a person now has (Persons.Members). Unless said otherwise, errors
// are the database's, wrapped.
type Store interface {
	// Savepoint runs fn under a savepoint of the transaction ctx carries:
	// when fn fails, what it wrote is rolled back and the transaction
	// goes on. It fails without a transaction.
	Savepoint(ctx context.Context, fn func(ctx context.Context) error) error
	// LockPerson takes a transaction-scoped lock on a (current) person, so
	// that checks of its open records and the writes that follow them are
	// serialised.
	LockPerson(ctx context.Context, p linkage.PersonID) error

	// CaseFiles returns the case files of persons, open or not, newest
	// first, with their entries when withEntries.
	CaseFiles(ctx context.Context, persons []linkage.PersonID, withEntries bool) ([]CaseFile, error)
	// CaseFile returns one file with its entries; ErrNotFound. forUpdate
	// locks its row until the transaction ends.
	CaseFile(ctx context.Context, id CaseID, forUpdate bool) (CaseFile, error)
	// InsertCaseFile stores a new file and returns it with its ID;
	// ErrOpenCase when the person id as stored has an open file in the
	// zone already.
	InsertCaseFile(ctx context.Context, c CaseFile, actor string) (CaseFile, error)
	// UpdateCaseFile writes the record, zone, transfer and closure of c;
	// ErrNotFound, ErrOpenCase (a transfer into a zone where the stored
	// person id has an open file).
	UpdateCaseFile(ctx context.Context, c CaseFile) (CaseFile, error)
	// ZoneCaseFiles lists the files of zone (and those being transferred
	// to it), open ones only when openOnly, newest first, with IDs below
	// before (0: from the newest); without entries.
	ZoneCaseFiles(ctx context.Context, zone string, openOnly bool, before CaseID, limit int) ([]CaseFile, error)
	// InsertEntry adds an entry to file id and returns it with its ID.
	InsertEntry(ctx context.Context, id CaseID, e Entry, actor string) (Entry, error)
	// YearCaseFiles calls fn with each case file of zone ("" for every
	// zone) open at some time in year — opened by 31 December, not closed
	// before 1 January — ordered by zone and id. The files come from one
	// query read as a stream, so memory does not grow with their number;
	// fn's error stops the stream and is returned as it is.
	YearCaseFiles(ctx context.Context, year int, zone string, fn func(YearFile) error) error

	// Stays returns the stays of persons, newest first, with activities.
	Stays(ctx context.Context, persons []linkage.PersonID) ([]Stay, error)
	// Stay returns one stay with its activities; ErrNotFound. forUpdate
	// locks its row until the transaction ends.
	Stay(ctx context.Context, id StayID, forUpdate bool) (Stay, error)
	// InsertStay stores an admission and returns it with its ID;
	// ErrOpenStay when the person id as stored has an open stay.
	InsertStay(ctx context.Context, s Stay, actor string) (Stay, error)
	// Discharge ends stay id on the date with the outcome.
	Discharge(ctx context.Context, id StayID, on time.Time, outcome sinba.EsitoInserimentoStruttura) error
	// InsertActivity adds an activity to stay id and returns it with its ID.
	InsertActivity(ctx context.Context, id StayID, a StayActivity, actor string) (StayActivity, error)
	// FacilityStays lists a facility's stays, open ones only when
	// openOnly, newest first, with IDs below before (0: from the newest).
	FacilityStays(ctx context.Context, f registry.ID, openOnly bool, before StayID, limit int) ([]Stay, error)
	// OpenStays counts the open stays of a facility.
	OpenStays(ctx context.Context, f registry.ID) (int, error)

	// AppendEvents stores events; their Seq numbers commit in order.
	AppendEvents(ctx context.Context, evs []Event) error
	// Events returns up to limit events of zone with Seq > after, in order.
	Events(ctx context.Context, zone string, after int64, limit int) ([]Event, error)

	// InsertConflict stores a conflict for the data steward.
	InsertConflict(ctx context.Context, c Conflict) error
	// ResolveConflicts marks the open conflicts of a merge resolved.
	ResolveConflicts(ctx context.Context, mergeID int64, resolution string) error
	// Conflicts lists conflicts with ID > after, oldest first.
	Conflicts(ctx context.Context, after int64, limit int) ([]Conflict, error)

	// ClaimFlow records that sender's flow nome is being processed and
	// returns (nil, true); when it was processed already it returns its
	// results and false; ErrFlowInProgress when it is being processed (a
	// claim older than 30 minutes is stale and taken over).
	ClaimFlow(ctx context.Context, sender, nome string) ([]RecordResult, bool, error)
	// FinishFlow stores the results of a claimed flow.
	FinishFlow(ctx context.Context, sender, nome string, results []RecordResult) error
	// ReleaseFlow forgets a claimed flow that could not be read to its end.
	ReleaseFlow(ctx context.Context, sender, nome string) error
}

// Package registry is ASSO, the regional registry of residential facilities
// for minors: what a facility is (typology, operator, address, zone,
// authorisation, places, target, contacts), the workflow by which a
// facility registers itself and the Region approves it, and the history of
// every version, so that the registry can answer as it was on any day.
//
// The PostgreSQL store lives in registry/registrypg. The package knows
// nothing of HTTP: api maps its errors to problems.
package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ID is a facility's internal identifier, assigned when its draft is
// created and never changed. Other domains (ASMI stays) refer to facilities
// by it.
type ID int64

// DraftRef is the reference of the facility before it has a regional code
// ("DRAFT-000045"); it stays valid afterwards. A facility operator whose
// facility is not approved yet is identified by it (its token's org).
func (id ID) DraftRef() string { return fmt.Sprintf("DRAFT-%06d", int64(id)) }

// Code is a facility's regional code ("ASSO-000123"), assigned on approval
// and stable thereafter.
type Code string

// Ref names a facility by its regional code or its draft reference.
type Ref struct {
	Code Code
	ID   ID
}

func (r Ref) String() string {
	if r.Code != "" {
		return string(r.Code)
	}
	return r.ID.DraftRef()
}

var refPattern = regexp.MustCompile(`^(ASSO|DRAFT)-([0-9]{6,9})$`)

// ParseRef reads "ASSO-000123" or "DRAFT-000045". It returns an error
// wrapping ErrNotFound for anything else: no facility has such a name.
func ParseRef(s string) (Ref, error) {
	m := refPattern.FindStringSubmatch(s)
	if m == nil {
		return Ref{}, fmt.Errorf("facility %q: %w", s, ErrNotFound)
	}
	if m[1] == "ASSO" {
		return Ref{Code: Code(s)}, nil
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || n <= 0 {
		return Ref{}, fmt.Errorf("facility %q: %w", s, ErrNotFound)
	}
	return Ref{ID: ID(n)}, nil
}

// Status is where a facility stands in the registration workflow.
type Status string

// Statuses.
const (
	StatusDraft     Status = "draft"
	StatusSubmitted Status = "submitted"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusClosed    Status = "closed"
)

// Statuses lists every status, in workflow order.
var Statuses = []Status{StatusDraft, StatusSubmitted, StatusActive, StatusSuspended, StatusClosed}

// Valid reports whether s is a status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Approved reports whether the Region has approved the facility (it has a
// regional code).
func (s Status) Approved() bool {
	return s == StatusActive || s == StatusSuspended || s == StatusClosed
}

// Operator is the facility's ente gestore.
type Operator struct {
	Name        string
	LegalNature string // a LegalNatures code
	// TaxNumber is the 11-digit partita IVA (or numeric codice fiscale of
	// an entity), or the 16-character codice fiscale of a person.
	TaxNumber string
}

// Address is where the facility is.
type Address struct {
	Street       string
	Postcode     string
	Municipality string // ISTAT code
}

// Date is a calendar date (no time, no zone), as in acts and surveys.
type Date struct{ time.Time }

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return Date{t}, nil
}

// End is the instant day d ends in the Region (midnight Europe/Rome of the
// next day): the registry "as of" d is the registry at that instant, for
// searches and surveys alike.
func (d Date) End() time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day+1, 0, 0, 0, 0, Rome)
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

// Authorisation is the facility's authorisation to operate.
type Authorisation struct {
	Status AuthorisationStatus
	Date   Date   // the act's date; zero while pending
	Act    string // the act's number, e.g. "SUAP 123/2024"
}

// Accreditation is the facility's institutional accreditation (L.R.
// 82/2009), when it has one.
type Accreditation struct {
	Accredited bool
	Date       Date
	Act        string
}

// Target is whom the facility hosts.
type Target struct {
	MinAge, MaxAge             int // in years, inclusive
	MothersWithChildren        bool
	UnaccompaniedForeignMinors bool
}

// Contacts are how to reach the facility.
type Contacts struct {
	Email string
	Phone string
}

// Data is what a facility's operator and the Region edit: everything but
// the identifiers, the status and the version.
type Data struct {
	Name             string
	Typology         string // a Typology code
	Operator         Operator
	Address          Address
	Zone             string // a Zone code; derived from the municipality when empty
	Authorisation    Authorisation
	Accreditation    Accreditation
	AuthorisedPlaces int
	Target           Target
	Contacts         Contacts
}

// Change says what a version changed.
type Change string

// Changes: the creation, an edit, or a workflow transition.
const (
	ChangeCreate  Change = "create"
	ChangeEdit    Change = "edit"
	ChangeSubmit  Change = "submit"
	ChangeReturn  Change = "return"
	ChangeApprove Change = "approve"
	ChangeSuspend Change = "suspend"
	ChangeReopen  Change = "reopen"
	ChangeClose   Change = "close"
)

// Facility is one version of a facility.
type Facility struct {
	ID      ID
	Code    Code // empty until approved
	Version int
	Status  Status
	Data    Data
	// ValidFrom and ValidTo bound the time this version was the current
	// one; ValidTo is zero for the current version.
	ValidFrom, ValidTo time.Time
	// Change, ChangedBy, ChangedRole and Note record who made this version
	// and why.
	Change      Change
	ChangedBy   string
	ChangedRole string
	Note        string
}

// Ref returns the facility's regional code, or its draft reference.
func (f Facility) Ref() Ref {
	if f.Code != "" {
		return Ref{Code: f.Code}
	}
	return Ref{ID: f.ID}
}

// OwnedBy reports whether org (a facility operator's organisation) is this
// facility: its regional code or its draft reference.
func (f Facility) OwnedBy(org string) bool {
	return org != "" && (org == string(f.Code) && f.Code != "" || org == f.ID.DraftRef())
}

// Occupancy counts the places of facilities taken by minors staying there
// at an instant. The registry does not keep this count: the ASMI stays of
// the activity domain are its source, and api supplies an implementation
// once they exist. The query it stands for is, in activity's schema:
//
//	SELECT facility_id, count(*) FROM activity.stays
//	WHERE facility_id = ANY($1) AND admitted_at <= $2
//	  AND (discharged_at IS NULL OR discharged_at > $2)
//	GROUP BY facility_id
//
// so that occupancy is always live and never a copied count.
type Occupancy interface {
	// Occupied returns the number of minors staying in each of ids at at;
	// a facility with nobody staying may be absent from the map. Safe for
	// concurrent use.
	Occupied(ctx context.Context, ids []ID, at time.Time) (map[ID]int, error)
}

// Errors of the service.
var (
	// ErrNotFound is returned when no facility has the reference, or when
	// the caller may not see it.
	ErrNotFound = errors.New("facility not found")
	// ErrStale is returned by Update and Transition when the caller's
	// version is not the current one: someone changed the facility since
	// the caller read it.
	ErrStale = errors.New("facility changed since it was read")
	// ErrNotOwner is returned when a facility operator acts on a facility
	// that is not its own.
	ErrNotOwner = errors.New("not this operator's facility")
	// ErrKeyUsed is returned by Store.ClaimKey when the caller has used
	// the idempotency key before.
	ErrKeyUsed = errors.New("idempotency key already used")
	// ErrKeyReused is returned by CreateOnce when the idempotency key was
	// used before for a different request.
	ErrKeyReused = errors.New("idempotency key used for another request")
)

// ValidationError lists every bad field of a facility; it is returned
// before anything is written.
type ValidationError struct {
	Fields []FieldError
}

// FieldError names one bad field, by its path in the API's JSON
// ("address.municipality"), and why it is bad.
type FieldError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Reason)
	}
	return "invalid facility: " + strings.Join(parts, "; ")
}

// TransitionError is returned when an action is not allowed in the
// facility's current state (or, for edits, when the state allows none).
type TransitionError struct {
	Action Change
	From   Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s a facility that is %s", e.Action, e.From)
}

// RestrictedError is returned when a facility operator changes fields of an
// approved facility that only the Region may change.
type RestrictedError struct {
	Fields []string
}

func (e *RestrictedError) Error() string {
	return "only the Region may change " + strings.Join(e.Fields, ", ") + " of an approved facility"
}

package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // the Region's day (Europe/Rome) must not depend on the host's zoneinfo
)

// Actor is who asks for a change.
type Actor struct {
	Subject string
	Role    string
	Org     string
	// Region marks the Region's staff (the admin role): it approves and
	// may change any facility; anyone else changes only the facility its
	// org names.
	Region bool
}

// Query selects facilities for Search. Zero fields do not filter.
type Query struct {
	Zone         string
	Typology     string
	Municipality string
	Status       Status
	// Text matches names containing it, case-insensitively.
	Text string
	// AsOf asks for the registry as it was at the end of that day
	// (Europe/Rome); zero asks for the current registry.
	AsOf Date
	// After is the cursor: only facilities with a greater ID.
	After ID
	Limit int
	// Visibility restricts what the caller may see.
	Visibility Visibility
}

// Visibility is what a caller may see of the registry: everything (the
// Region), or the active facilities plus, for a facility operator, its own.
type Visibility struct {
	All bool
	Org string
}

// Sees reports whether v allows seeing f.
func (v Visibility) Sees(f Facility) bool {
	return v.All || f.Status == StatusActive || f.OwnedBy(v.Org)
}

// Search page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Store keeps the facilities and their versions. Implementations are safe
// for concurrent use.
type Store interface {
	// Insert stores f, the first version of a new facility, assigns its ID
	// and returns it.
	Insert(ctx context.Context, f Facility) (Facility, error)
	// Current returns the current version of the facility ref names, or
	// ErrNotFound. With lock, the facility stays locked until the
	// transaction ctx carries ends (ctx must carry one).
	Current(ctx context.Context, ref Ref, lock bool) (Facility, error)
	// Append makes next the current version: prev (the current version,
	// locked) ends at next.ValidFrom. It returns ErrStale when prev is not
	// the current version any more.
	Append(ctx context.Context, prev, next Facility) error
	// NextCode returns a regional code never returned before.
	NextCode(ctx context.Context) (Code, error)
	// History returns every version of the facility, oldest first, or
	// ErrNotFound.
	History(ctx context.Context, ref Ref) ([]Facility, error)
	// Search returns the facilities q selects, by ascending ID, at most
	// q.Limit.
	Search(ctx context.Context, q Query, at time.Time) ([]Facility, error)
	// ClaimKey records that owner's idempotency key made facility id, in
	// the transaction ctx carries; it returns ErrKeyUsed when owner used
	// key before (after waiting for a concurrent claim of it to end).
	ClaimKey(ctx context.Context, owner, key string, hash []byte, id ID) error
	// KeyedFacility returns the facility and request hash owner's key was
	// claimed for, or ErrNotFound.
	KeyedFacility(ctx context.Context, owner, key string) (ID, []byte, error)
}

// TxRunner runs fn in a transaction carried by its context (pgdb.DB).
type TxRunner interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Hook runs in the transaction of a change, after the change is written,
// and its error undoes the change: api writes the audit event there.
type Hook func(ctx context.Context, f Facility) error

// Config configures a Service.
type Config struct {
	Store Store
	Tx    TxRunner
	Codes *Codes // default: the embedded lists
	// Occupancy counts occupied places; nil until the activity domain
	// exists, and then occupied places are unknown, not zero.
	Occupancy Occupancy
	Now       func() time.Time // default time.Now
}

// Service is the registry. It is safe for concurrent use.
type Service struct {
	store     Store
	tx        TxRunner
	codes     *Codes
	occupancy Occupancy
	now       func() time.Time
}

// Rome is the Region's time zone: a day of the registry is a day there.
var Rome = mustLocation("Europe/Rome")

func mustLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is embedded: cannot happen
	}
	return l
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil || c.Tx == nil {
		return nil, errors.New("registry: a store and a transaction runner are required")
	}
	if c.Codes == nil {
		codes, err := LoadCodes()
		if err != nil {
			return nil, err
		}
		c.Codes = codes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{store: c.Store, tx: c.Tx, codes: c.Codes, occupancy: c.Occupancy, now: c.Now}, nil
}

// Codes returns the code lists the service validates against.
func (s *Service) Codes() *Codes { return s.codes }

func (s *Service) today() time.Time {
	y, m, d := s.now().In(Rome).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Create validates d and stores it as the draft of a new facility (version
// 1). It returns a *ValidationError, and writes nothing, when d is invalid.
func (s *Service) Create(ctx context.Context, a Actor, d Data, note string, hook Hook) (Facility, error) {
	if err := s.codes.Validate(&d, s.today()); err != nil {
		return Facility{}, err
	}
	f := Facility{Version: 1, Status: StatusDraft, Data: d, ValidFrom: s.now(), Change: ChangeCreate,
		ChangedBy: a.Subject, ChangedRole: a.Role, Note: note}
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if f, err = s.store.Insert(ctx, f); err != nil {
			return err
		}
		if hook != nil {
			return hook(ctx, f)
		}
		return nil
	})
	if err != nil {
		return Facility{}, fmt.Errorf("create facility: %w", err)
	}
	return f, nil
}

// CreateOnce is Create under an idempotency key: the first request with
// owner's key creates the facility; a retry (same key, same hash of the
// request) creates nothing and returns the facility as first created, with
// replayed true, even when the two arrive together. The same key with
// another hash is ErrKeyReused.
func (s *Service) CreateOnce(ctx context.Context, a Actor, owner, key string, hash []byte, d Data, hook Hook) (f Facility, replayed bool, err error) {
	withKey := func(ctx context.Context, f Facility) error {
		if err := s.store.ClaimKey(ctx, owner, key, hash, f.ID); err != nil {
			return err
		}
		if hook != nil {
			return hook(ctx, f)
		}
		return nil
	}
	f, err = s.Create(ctx, a, d, "", withKey)
	if !errors.Is(err, ErrKeyUsed) {
		return f, false, err
	}
	id, h, err := s.store.KeyedFacility(ctx, owner, key)
	if err != nil {
		return Facility{}, false, fmt.Errorf("idempotency key: %w", err)
	}
	if !bytes.Equal(h, hash) {
		return Facility{}, false, ErrKeyReused
	}
	vs, err := s.store.History(ctx, Ref{ID: id})
	if err != nil {
		return Facility{}, false, fmt.Errorf("idempotency key: %w", err)
	}
	return vs[0], true, nil
}

// Get returns the current version of the facility ref names, if v sees it;
// ErrNotFound otherwise.
func (s *Service) Get(ctx context.Context, ref Ref, v Visibility) (Facility, error) {
	f, err := s.store.Current(ctx, ref, false)
	if err != nil {
		return Facility{}, fmt.Errorf("get facility %s: %w", ref, err)
	}
	if !v.Sees(f) {
		return Facility{}, fmt.Errorf("get facility %s: %w", ref, ErrNotFound)
	}
	return f, nil
}

// History returns every version of the facility, oldest first, if v sees
// its current version.
func (s *Service) History(ctx context.Context, ref Ref, v Visibility) ([]Facility, error) {
	if _, err := s.Get(ctx, ref, v); err != nil {
		return nil, err
	}
	fs, err := s.store.History(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("history of facility %s: %w", ref, err)
	}
	return fs, nil
}

// Search returns a page of the facilities q selects and the cursor of the
// next page (0 when there is none).
func (s *Service) Search(ctx context.Context, q Query) ([]Facility, ID, error) {
	if q.Limit <= 0 || q.Limit > MaxLimit {
		q.Limit = DefaultLimit
	}
	at := time.Time{}
	if !q.AsOf.IsZero() {
		at = q.AsOf.End()
	}
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	fs, err := s.store.Search(ctx, q, at)
	if err != nil {
		return nil, 0, fmt.Errorf("search facilities: %w", err)
	}
	var next ID
	if len(fs) > want {
		fs = fs[:want]
		next = fs[want-1].ID
	}
	return fs, next, nil
}

// Occupied returns the places occupied now in each of fs, and false when
// occupancy is not known (no activity source yet).
func (s *Service) Occupied(ctx context.Context, fs []Facility) (map[ID]int, bool, error) {
	if s.occupancy == nil {
		return nil, false, nil
	}
	ids := make([]ID, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	m, err := s.occupancy.Occupied(ctx, ids, s.now())
	if err != nil {
		return nil, false, fmt.Errorf("occupied places: %w", err)
	}
	return m, true, nil
}

// restricted are the fields of an approved facility that only the Region
// may change: they come from the authorisation act.
func restricted(old, new Data) []string {
	var fs []string
	if old.Typology != new.Typology {
		fs = append(fs, "typology")
	}
	if old.Address.Municipality != new.Address.Municipality {
		fs = append(fs, "address.municipality")
	}
	if old.Zone != new.Zone {
		fs = append(fs, "zone")
	}
	if old.Authorisation != new.Authorisation {
		fs = append(fs, "authorisation")
	}
	if old.Accreditation != new.Accreditation {
		fs = append(fs, "accreditation")
	}
	if old.AuthorisedPlaces != new.AuthorisedPlaces {
		fs = append(fs, "authorised_places")
	}
	return fs
}

// Update changes the facility: apply receives the current data, under a
// lock, and returns the new data, which is validated. version is the
// version the caller read: when it is not the current one, Update returns
// ErrStale and writes nothing. Errors: ErrNotFound, ErrNotOwner, ErrStale,
// *TransitionError (a closed facility, or a submitted one for its
// operator), *RestrictedError, *ValidationError, and apply's own.
func (s *Service) Update(ctx context.Context, a Actor, ref Ref, version int, apply func(Data) (Data, error), note string, hook Hook) (Facility, error) {
	var out Facility
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.Current(ctx, ref, true)
		if err != nil {
			return err
		}
		if !a.Region && !cur.OwnedBy(a.Org) {
			return ErrNotOwner
		}
		if cur.Version != version {
			return ErrStale
		}
		if cur.Status == StatusClosed || (cur.Status == StatusSubmitted && !a.Region) {
			return &TransitionError{Action: ChangeEdit, From: cur.Status}
		}
		d, err := apply(cur.Data)
		if err != nil {
			return err
		}
		if err := s.codes.Validate(&d, s.today()); err != nil {
			return err
		}
		if !a.Region && cur.Status.Approved() {
			if fs := restricted(cur.Data, d); len(fs) > 0 {
				return &RestrictedError{Fields: fs}
			}
		}
		next := cur
		next.Data = d
		if out, err = s.append(ctx, a, cur, next, ChangeEdit, note); err != nil {
			return err
		}
		if hook != nil {
			return hook(ctx, out)
		}
		return nil
	})
	if err != nil {
		return Facility{}, fmt.Errorf("update facility %s: %w", ref, err)
	}
	return out, nil
}

// transitions is the workflow: for each action, the states it leaves from
// and the state it leads to.
var transitions = map[Change]struct {
	from []Status
	to   Status
}{
	ChangeSubmit:  {[]Status{StatusDraft}, StatusSubmitted},
	ChangeReturn:  {[]Status{StatusSubmitted}, StatusDraft},
	ChangeApprove: {[]Status{StatusSubmitted}, StatusActive},
	ChangeSuspend: {[]Status{StatusActive}, StatusSuspended},
	ChangeReopen:  {[]Status{StatusSuspended}, StatusActive},
	ChangeClose:   {[]Status{StatusActive, StatusSuspended}, StatusClosed},
}

// Transitions lists the workflow actions.
var Transitions = []Change{ChangeSubmit, ChangeReturn, ChangeApprove, ChangeSuspend, ChangeReopen, ChangeClose}

// Transition moves the facility through the workflow. Only the Region
// approves, returns, suspends, reopens and closes; a facility operator
// submits its own draft. version, when not 0, must be the current version
// (else ErrStale). Approval assigns the regional code, once. Errors:
// ErrNotFound, ErrNotOwner, ErrStale, *TransitionError naming the current
// state.
func (s *Service) Transition(ctx context.Context, a Actor, ref Ref, action Change, version int, note string, hook Hook) (Facility, error) {
	t, ok := transitions[action]
	if !ok {
		return Facility{}, fmt.Errorf("unknown workflow action %q", action)
	}
	var out Facility
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		cur, err := s.store.Current(ctx, ref, true)
		if err != nil {
			return err
		}
		if !a.Region && (action != ChangeSubmit || !cur.OwnedBy(a.Org)) {
			return ErrNotOwner
		}
		if version != 0 && cur.Version != version {
			return ErrStale
		}
		allowed := false
		for _, from := range t.from {
			allowed = allowed || cur.Status == from
		}
		if !allowed {
			return &TransitionError{Action: action, From: cur.Status}
		}
		next := cur
		next.Status = t.to
		if action == ChangeApprove && next.Code == "" {
			if next.Code, err = s.store.NextCode(ctx); err != nil {
				return err
			}
		}
		if out, err = s.append(ctx, a, cur, next, action, note); err != nil {
			return err
		}
		if hook != nil {
			return hook(ctx, out)
		}
		return nil
	})
	if err != nil {
		return Facility{}, fmt.Errorf("%s facility %s: %w", action, ref, err)
	}
	return out, nil
}

func (s *Service) append(ctx context.Context, a Actor, cur, next Facility, c Change, note string) (Facility, error) {
	next.Version = cur.Version + 1
	next.ValidFrom = s.now()
	if next.ValidFrom.Before(cur.ValidFrom) {
		// Another node's clock ran ahead: versions never go back in time.
		next.ValidFrom = cur.ValidFrom
	}
	next.ValidTo = time.Time{}
	next.Change, next.ChangedBy, next.ChangedRole, next.Note = c, a.Subject, a.Role, note
	if err := s.store.Append(ctx, cur, next); err != nil {
		return Facility{}, err
	}
	return next, nil
}

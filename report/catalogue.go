package report

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Parameter names a request parameter a report takes. The api checks
// them all before Compute runs, so a definition sees only valid values.
type Parameter string

// The parameters a report may take.
const (
	// ParamDate is the reference day of a stock (minors out of family at
	// a date, the facility census); default today in Europe/Rome.
	ParamDate Parameter = "date"
	// ParamZone restricts the report to one zone; a service operator is
	// always restricted to its own.
	ParamZone Parameter = "zone"
	// ParamFrom and ParamTo bound the period of a flow (admissions,
	// discharges, length of stay), both days included.
	ParamFrom Parameter = "from"
	ParamTo   Parameter = "to"
)

// Params are the checked parameters of one report request.
type Params struct {
	// Date is the reference day (a calendar date at midnight UTC, as
	// time.Parse(time.DateOnly) gives); zero when the report takes none.
	Date time.Time
	// From and To are the period's first and last days; zero when the
	// report takes none.
	From, To time.Time
	// Zone is a zone code, or "" for the whole Region.
	Zone string
}

// Output is a computed report: the protected grids to publish, in order,
// and what could not be computed.
type Output struct {
	Title, Subtitle Label
	Grids           []Grid
	// Unavailable lists the tables the report has but could not compute
	// (the occupied places of the census before ASMI stays exist): they are
	// announced as missing, never published as zeros.
	Unavailable []Unavailable
}

// Unavailable is a table of a report that could not be computed, and why.
type Unavailable struct {
	ID            string
	Title, Reason Label
}

// Definition is one published report. The api serves every definition of
// its Catalogue at GET /v1/reports/{name}, in every format, with the same
// access rule (aggregate reads: the Region's analysts, a service for its own
// zone, the admin).
type Definition struct {
	// Name is the report's path segment, kebab-case ("facility-census").
	Name               string
	Title, Description Label
	// Params are the parameters the report takes; any other is refused.
	Params []Parameter
	// PersonData marks reports that count minors (as opposed to facilities
	// and places only): their tables of persons are protected with the
	// person policy.
	PersonData bool
	// Compute runs the report's SQL aggregates, fills the tables and
	// protects them. Errors other than the context's are internal. It must
	// be safe for concurrent use.
	Compute func(ctx context.Context, p Params) (*Output, error)
}

// Takes reports whether d takes parameter p.
func (d Definition) Takes(p Parameter) bool {
	for _, q := range d.Params {
		if q == p {
			return true
		}
	}
	return false
}

// Catalogue is the set of published reports, in listing order. It is
// immutable once built, hence safe for concurrent use.
type Catalogue struct {
	defs   []Definition
	byName map[string]int
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// NewCatalogue returns the catalogue of defs. It refuses a definition
// without a kebab-case name or a Compute function, and a name used twice.
func NewCatalogue(defs ...Definition) (*Catalogue, error) {
	c := &Catalogue{byName: map[string]int{}}
	var errs []error
	for _, d := range defs {
		switch {
		case !namePattern.MatchString(d.Name):
			errs = append(errs, fmt.Errorf("report %q: the name must be kebab-case", d.Name))
		case d.Compute == nil:
			errs = append(errs, fmt.Errorf("report %s: no Compute", d.Name))
		default:
			if _, dup := c.byName[d.Name]; dup {
				errs = append(errs, fmt.Errorf("report %s: defined twice", d.Name))
				continue
			}
			c.byName[d.Name] = len(c.defs)
			c.defs = append(c.defs, d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Lookup returns the definition called name and whether there is one.
func (c *Catalogue) Lookup(name string) (Definition, bool) {
	i, ok := c.byName[name]
	if !ok {
		return Definition{}, false
	}
	return c.defs[i], true
}

// All returns every definition in listing order (a copy).
func (c *Catalogue) All() []Definition {
	return append([]Definition(nil), c.defs...)
}

// Count is one row of a GROUP BY over two dimensions: the count of the cell
// whose row and column category codes are Row and Col.
type Count struct {
	Row, Col string
	N        int
}

// Occupancy counts the places taken in residential facilities at a date.
// The registry does not keep it: the ASMI stays of the activity domain are
// its source, so the census computes occupancy only when the api is given
// an Occupancy, and otherwise lists the occupied places and the occupancy
// rate as unavailable.
type Occupancy interface {
	// OccupiedPlaces returns the minors staying, at the end of day (Europe/
	// Rome), in the facilities in force and active that day, as one Count
	// per zone (Row) × typology (Col) of the facility's version in force
	// that day, for every zone. Cells with nobody may be absent.
	// reportpg.Store computes it from activity's stays with one GROUP BY.
	// Errors are internal. Safe for concurrent use.
	OccupiedPlaces(ctx context.Context, day time.Time) ([]Count, error)
}

// Package reportpg computes sirm's surveys in PostgreSQL: each table is
// one GROUP BY whose rows fill a report.Table cell by cell (never a Go loop
// over records), then report's disclosure control protects it.
//
// It holds the facility census, from the registry's versioned tables
// (migrations/006_registry.sql) and, for occupied places, activity's stays;
// and the surveys of minors (minors.go): out of family at a date, the flows
// of a period, and the minors in family with interventions, from
// activity's tables (migrations/008_activity.sql) and linkage's coarse
// person attributes.
package reportpg

import (
	"context"
	"fmt"
	"time"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
	"github.com/toscana/sirm/report"
)

// FacilityCensus is the name of the facility census report.
const FacilityCensus = "facility-census"

// Table identifiers of the facility census, stable across formats.
const (
	TableFacilities    = "facilities_by_zone_typology"
	TablePlaces        = "authorised_places_by_zone_typology"
	TableOccupied      = "occupied_places_by_zone_typology"
	TableOccupancyRate = "occupancy_rate_by_zone_typology"
)

// Options configure a Store.
type Options struct {
	// Codes are the zones and typologies the tables list, in order;
	// default: the lists embedded in the binary.
	Codes *registry.Codes
	// Policy protects every count of persons (occupied places are minors);
	// the zero value means report.DefaultPolicy. Counts of facilities and
	// authorised places are not about persons: report.NoSuppression.
	Policy report.Policy
	// Occupancy counts occupied places; nil means the Store's own
	// OccupiedPlaces, from activity's ASMI stays.
	Occupancy report.Occupancy
}

// Store computes the reports. It is safe for concurrent use.
type Store struct {
	db     *pgdb.DB
	codes  *registry.Codes
	policy report.Policy
	occ    report.Occupancy
}

// New returns a Store on db.
func New(db *pgdb.DB, o Options) *Store {
	if o.Codes == nil {
		o.Codes = registry.MustLoadCodes()
	}
	if o.Policy == (report.Policy{}) {
		o.Policy = report.DefaultPolicy
	}
	s := &Store{db: db, codes: o.Codes, policy: o.Policy, occ: o.Occupancy}
	if s.occ == nil {
		s.occ = s
	}
	return s
}

// Policy returns the policy that protects counts of persons.
func (s *Store) Policy() report.Policy { return s.policy }

// Definitions returns the reports this store computes, in listing order.
func (s *Store) Definitions() []report.Definition {
	return []report.Definition{{
		Name: FacilityCensus,
		Title: report.Label{IT: "Censimento delle strutture residenziali per minori",
			EN: "Census of residential facilities for minors"},
		Description: report.Label{
			IT: "Strutture attive e posti autorizzati per zona e tipologia alla data di riferimento, dal registro ASSO " +
				"come era quel giorno; posti occupati e tasso di occupazione dai soggiorni ASMI.",
			EN: "Active facilities and authorised places by zone and typology at the reference date, from the ASSO " +
				"registry as it was that day; occupied places and occupancy rate from the ASMI stays."},
		Params:     []report.Parameter{report.ParamDate, report.ParamZone},
		PersonData: true, // occupied places count minors
		Compute:    s.snapshot(s.FacilityCensus),
	}, {
		Name:  MinorsOutOfFamily,
		Title: report.Label{IT: "Minori fuori famiglia", EN: "Minors out of family"},
		Description: report.Label{
			IT: "Minori in strutture residenziali (soggiorni ASMI aperti) e in affidamento familiare (affidi aperti delle cartelle SINBA) " +
				"alla data di riferimento, per zona del servizio responsabile e tipologia di struttura, sesso, classe di età, cittadinanza " +
				"(italiana, straniera, minore straniero non accompagnato), collocamento consensuale o giudiziale, con i totali.",
			EN: "Minors in residential facilities (open ASMI stays) and in foster care (open affido of SINBA case files) at the " +
				"reference date, by zone of the responsible service and facility typology, sex, age class, citizenship (Italian, " +
				"foreign, unaccompanied foreign minor), consensual or judicial placement, with totals."},
		Params:     []report.Parameter{report.ParamDate, report.ParamZone},
		PersonData: true,
		Compute:    s.snapshot(s.OutOfFamily),
	}, {
		Name:  Flows,
		Title: report.Label{IT: "Ingressi e uscite dalle strutture residenziali", EN: "Admissions to and discharges from residential facilities"},
		Description: report.Label{
			IT: "Ammissioni del periodo per zona inviante e tipologia, collocamento e classe di età; dimissioni per esito; " +
				"durata della permanenza dei dimessi (mediana e quartili).",
			EN: "Admissions of the period by sending zone and typology, placement and age class; discharges by outcome; " +
				"length of stay of the minors discharged (median and quartiles)."},
		Params:     []report.Parameter{report.ParamFrom, report.ParamTo, report.ParamZone},
		PersonData: true,
		Compute:    s.snapshot(s.Flows),
	}, {
		Name:  MinorsInFamily,
		Title: report.Label{IT: "Minori in famiglia con interventi dei servizi", EN: "Minors in family with interventions"},
		Description: report.Label{
			IT: "Minori con cartella SINBA aperta che vivono in famiglia, con interventi in corso alla data, per zona e prestazione " +
				"(CodicePrestazione).",
			EN: "Minors with an open SINBA case file living in their family, with interventions running at the date, by zone and " +
				"intervention (CodicePrestazione)."},
		Params:     []report.Parameter{report.ParamDate, report.ParamZone},
		PersonData: true,
		Compute:    s.snapshot(s.InFamily),
	}}
}

// reportWorkMem is the memory a report's sorts and hashes may use before
// spilling to disk (PostgreSQL's default, 4MB, spills the de-duplication
// of 100 000 stays).
const reportWorkMem = "64MB"

// snapshot runs compute in one read-only REPEATABLE READ transaction, so
// that the tables of a report are counted on one state of the database
// (a stay admitted between two of its queries would make them disagree),
// with reportWorkMem.
func (s *Store) snapshot(compute func(context.Context, report.Params) (*report.Output, error)) func(context.Context, report.Params) (*report.Output, error) {
	return func(ctx context.Context, p report.Params) (out *report.Output, err error) {
		err = s.db.ReadSnapshot(ctx, func(ctx context.Context) error {
			if _, err := s.db.Q(ctx).Exec(ctx, "SET LOCAL work_mem = '"+reportWorkMem+"'"); err != nil {
				return err
			}
			out, err = compute(ctx, p)
			return err
		})
		return out, err
	}
}

// ZoneDimension is the dimension of zones, in the order of the code list.
// Reports are computed for every zone: a zone's is a restriction (forZone).
func (s *Store) ZoneDimension() report.Dimension {
	d := report.Dimension{Code: "zone", Label: report.Label{IT: "Zona distretto", EN: "Zone"}}
	for _, z := range s.codes.Zones {
		d.Categories = append(d.Categories, report.Category{Code: z.Code, Label: report.Label{IT: z.Name, EN: z.Name}})
	}
	return d
}

// TypologyDimension is the dimension of facility typologies, in the order
// of the regional list (labels are Italian only: they are the regulation's
// names).
func (s *Store) TypologyDimension() report.Dimension {
	d := report.Dimension{Code: "typology", Label: report.Label{IT: "Tipologia", EN: "Typology"}}
	for _, t := range s.codes.Typologies {
		d.Categories = append(d.Categories, report.Category{Code: t.Code, Label: report.Label{IT: t.Label}})
	}
	return d
}

// censusSQL counts the active facilities and their authorised places by
// zone and typology, each facility as its version in force at $1 had it.
var censusSQL = `
SELECT v.zone, v.typology, count(*)::int, sum(v.authorised_places)::int
FROM registry.facility_versions v
WHERE ` + registrypg.InForce("v", "$1") + `
  AND v.status = 'active'
GROUP BY v.zone, v.typology`

// CensusCounts returns the active facilities and their authorised places
// by zone (Row) × typology (Col) at the end of day (Europe/Rome).
func (s *Store) CensusCounts(ctx context.Context, day time.Time) (facilities, places []report.Count, err error) {
	rows, err := s.db.Q(ctx).Query(ctx, censusSQL, registry.Date{Time: day}.End())
	if err != nil {
		return nil, nil, fmt.Errorf("facility census: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			z, t  string
			n, pl int
		)
		if err := rows.Scan(&z, &t, &n, &pl); err != nil {
			return nil, nil, fmt.Errorf("facility census: %w", err)
		}
		facilities = append(facilities, report.Count{Row: z, Col: t, N: n})
		places = append(places, report.Count{Row: z, Col: t, N: pl})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("facility census: %w", err)
	}
	return facilities, places, nil
}

// fill adds counts to t; a code outside the lists (a zone or typology
// removed from them) is an error, never a silently dropped row.
func fill(t *report.Table, counts []report.Count) error {
	for _, c := range counts {
		if err := t.Add(c.Row, c.Col, c.N); err != nil {
			return fmt.Errorf("table %s, %s × %s: %w", t.ID, c.Row, c.Col, err)
		}
	}
	return nil
}

var censusNote = report.Label{
	IT: "Strutture approvate e attive alla data, ciascuna con la versione del registro in vigore a fine giornata " +
		"(ora di Roma); escluse bozze, domande in istruttoria, strutture sospese e chiuse.",
	EN: "Facilities approved and active at the date, each as the registry version in force at the end of the day " +
		"(Rome time); drafts, pending applications, suspended and closed facilities are excluded."}

// FacilityCensus computes the facility census of p.Date in p.Zone (empty
// for the Region): facilities and authorised places by zone × typology,
// occupied places (protected with the person policy) and the occupancy
// rate; a zone's is the Region's restricted to the zone (forZone).
func (s *Store) FacilityCensus(ctx context.Context, p report.Params) (*report.Output, error) {
	if p.Date.IsZero() {
		return nil, fmt.Errorf("facility census: no reference date")
	}
	zones, err := s.zonesOf("facility census", p.Zone)
	if err != nil {
		return nil, err
	}
	types := s.TypologyDimension()
	fc, pc, err := s.CensusCounts(ctx, p.Date)
	if err != nil {
		return nil, err
	}
	facilities := report.NewTable(TableFacilities,
		report.Label{IT: "Strutture attive per zona e tipologia", EN: "Active facilities by zone and typology"}, zones, types)
	facilities.Unit = report.Label{IT: "strutture", EN: "facilities"}
	facilities.Notes = []report.Label{censusNote}
	places := report.NewTable(TablePlaces,
		report.Label{IT: "Posti autorizzati per zona e tipologia", EN: "Authorised places by zone and typology"}, zones, types)
	places.Unit = report.Label{IT: "posti", EN: "places"}
	places.Notes = []report.Label{censusNote}
	for _, x := range []struct {
		t *report.Table
		c []report.Count
	}{{facilities, fc}, {places, pc}} {
		if err := fill(x.t, x.c); err != nil {
			return nil, fmt.Errorf("facility census: %w", err)
		}
		// Facilities and places are public registry data, not persons.
		if err := x.t.Protect(report.NoSuppression); err != nil {
			return nil, fmt.Errorf("facility census: %w", err)
		}
	}

	area := s.area(p)
	out := &report.Output{
		Title: report.Label{IT: "Censimento delle strutture residenziali per minori", EN: "Census of residential facilities for minors"},
		Subtitle: report.Label{IT: area.IT + " – situazione al " + p.Date.Format("02/01/2006"),
			EN: area.EN + " – as of " + p.Date.Format(time.DateOnly)},
		Grids: []report.Grid{facilities, places},
	}
	occTitle := report.Label{IT: "Posti occupati per zona e tipologia", EN: "Occupied places by zone and typology"}
	rateTitle := report.Label{IT: "Tasso di occupazione per zona e tipologia", EN: "Occupancy rate by zone and typology"}
	oc, err := s.occ.OccupiedPlaces(ctx, p.Date)
	if err != nil {
		return nil, fmt.Errorf("facility census: occupied places: %w", err)
	}
	occupied := report.NewTable(TableOccupied, occTitle, zones, types)
	occupied.Unit = report.Label{IT: "minori", EN: "minors"}
	occupied.Notes = []report.Label{censusNote}
	if err := fill(occupied, oc); err != nil {
		return nil, fmt.Errorf("facility census: %w", err)
	}
	if err := occupied.Protect(s.policy); err != nil {
		return nil, fmt.Errorf("facility census: %w", err)
	}
	rate, err := report.NewRatio(TableOccupancyRate, rateTitle, report.Label{IT: "%", EN: "%"}, occupied, places, 100, 1)
	if err != nil {
		return nil, fmt.Errorf("facility census: %w", err)
	}
	rate.Notes = []report.Label{{
		IT: "Posti occupati su posti autorizzati × 100; non pubblicato dove i posti occupati sono oscurati.",
		EN: "Occupied over authorised places × 100; not published where the occupied places are suppressed."}}
	out.Grids = append(out.Grids, occupied, rate)
	return s.forZone(out, p.Zone)
}

package reportpg

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/toscana/sirm/activity/activitypg"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
	"github.com/toscana/sirm/report"
)

// The surveys of minors, from activity's tables (migrations/008_activity.sql)
// and the coarse attributes linkage keeps of each person. Every minor is
// counted as the person it now is (merges followed), once per population:
// a minor whom a merge left with two open stays is counted in one of them.
// The zone of a minor is the zone of the responsible service (a stay's
// sending zone, a case file's zone), not the facility's: the survey asks
// who is in whose charge, and it is what a service may see of its own.

// Names of the surveys of minors.
const (
	MinorsOutOfFamily = "minors-out-of-family"
	Flows             = "flows"
	MinorsInFamily    = "minors-in-family"
)

// Table identifiers of the surveys of minors, stable across formats. A
// table of minors out of family is "<setting>_by_zone_<dimension>", the
// setting "residential" or "foster_care".
const (
	TableAdmissionsTypology  = "admissions_by_zone_typology"
	TableAdmissionsPlacement = "admissions_by_zone_placement"
	TableAdmissionsAge       = "admissions_by_zone_age_class"
	TableDischargesOutcome   = "discharges_by_zone_outcome"
	TableLengthOfStay        = "length_of_stay_by_zone"
	TableInterventions       = "interventions_by_zone_code"
)

// Settings of minors out of family.
const (
	SettingResidential = "residential"
	SettingFosterCare  = "foster_care"
)

// current is the SQL join and expression of the person the id in column
// col now is: a left join of the merged persons only (a tiny partial
// index), so that the great majority, never merged, cost nothing.
func current(col string) (join, expr string) {
	return ` LEFT JOIN linkage.persons m ON m.id = ` + col + ` AND m.merged_into IS NOT NULL`,
		`CASE WHEN m.id IS NULL THEN ` + col + ` ELSE linkage.current_person(m.id) END`
}

var (
	stayMerged, stayPerson = current("s.person_id")
	caseMerged, casePerson = current("c.person_id")
)

// ageAt is the SQL age in completed years at the date $1 of person p, by
// report.AgeAt's rule (the birthday counts as passed within the birth
// month): the microdata and the tables must agree.
func ageAt(p, date string) string {
	return `(date_part('year', ` + date + `)::int - ` + p + `.birth_year - CASE WHEN date_part('month', ` + date + `)::int < ` + p + `.birth_month THEN 1 ELSE 0 END)`
}

// withAge is a lateral join giving a.age, the age at date of person p,
// computed once per row (ageClass repeats its argument in every branch).
func withAge(p, date string) string {
	return ` CROSS JOIN LATERAL (SELECT ` + ageAt(p, date) + ` AS age) a`
}

// ageClass is the SQL code of report.AgeClass of age (NULL outside 0-21).
func ageClass(age string) string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, c := range report.AgeClasses {
		from, to := c.Bounds()
		fmt.Fprintf(&b, " WHEN %s BETWEEN %d AND %d THEN '%s'", age, from, to, c)
	}
	b.WriteString(" END")
	return b.String()
}

// citizenship is the SQL code of report.CitizenshipGroupOf for linkage's
// group (IT, EU, NON_EU or empty) and the MSNA flag msna: Italian wins,
// then the unaccompanied minor, then unknown, else foreign.
func citizenship(p, msna string) string {
	return `CASE WHEN ` + p + `.citizenship_group = 'IT' THEN '` + report.Italian.String() + `'` +
		` WHEN ` + msna + ` THEN '` + report.UnaccompaniedForeign.String() + `'` +
		` WHEN ` + p + `.citizenship_group = '' THEN '` + report.CitizenshipUnknown.String() + `'` +
		` ELSE '` + report.Foreign.String() + `' END`
}

// caseZones is the CTE "cz" of the zone a transferred case file had at the
// end of day $1 (activitypg.ZonesOn).
var caseZones = activitypg.ZonesOn("cz", "$1")

// typologies is the CTE "ft" of each facility's typology as of the instant
// param: its version in force then or, for a facility registered after it
// (records entered late), its first version.
func typologies(param string) string {
	return `ft AS (
    SELECT DISTINCT ON (v.facility_id) v.facility_id, v.typology
    FROM registry.facility_versions v
    ORDER BY v.facility_id, (` + registrypg.InForce("v", param) + `) DESC, v.version)`
}

// outOfFamilyPop is the CTE "pop" of the minors out of family at the end
// of day $1 ($2 that instant): residential (open stays, in the sending
// zone) and in foster care (open affido of a case file in charge, in the
// zone the file had that day), one line per minor and setting, with the
// person it now is (cp) and its coarse attributes.
var outOfFamilyPop = typologies("$2") + `,
` + caseZones + `,
res AS (
    SELECT DISTINCT ON (cp) cp, s.sending_zone AS zone, ft.typology, s.form AS placement, s.msna
    FROM (SELECT s.*, ` + stayPerson + ` AS cp
          FROM activity.stays s` + stayMerged + `
          WHERE s.admitted_on <= $1 AND (s.discharged_on IS NULL OR s.discharged_on > $1)) s
    JOIN ft ON ft.facility_id = s.facility_id
    ORDER BY cp, s.admitted_on DESC, s.id DESC),
fc AS (
    SELECT DISTINCT ON (cp) cp, c.zone_then AS zone, NULL::text AS typology,
           CASE e.codes->>'form' WHEN '1' THEN 'consensual' ELSE 'judicial' END AS placement,
           (c.attributes->>'minore_straniero_no_acc') = '1' AS msna
    FROM (SELECT c.*, COALESCE(cz.zone, c.zone) AS zone_then, ` + casePerson + ` AS cp
          FROM activity.case_files c LEFT JOIN cz ON cz.case_id = c.id` + caseMerged + `
          WHERE c.opened_on <= $1 AND (c.closed_on IS NULL OR c.closed_on > $1)) c
    JOIN activity.case_entries e ON e.case_id = c.id
    WHERE e.kind = 'foster_care' AND e.start_on <= $1 AND (e.end_on IS NULL OR e.end_on >= $1)
    ORDER BY cp, e.start_on DESC, e.id DESC),
pop AS MATERIALIZED (
    SELECT '` + SettingResidential + `' AS setting, x.cp, x.zone, x.typology, x.placement, p.sex,
           ` + ageClass("a.age") + ` AS age_class,
           ` + citizenship("p", "x.msna") + ` AS citizenship
    FROM res x JOIN linkage.persons p ON p.id = x.cp` + withAge("p", "$1::date") + `
    UNION ALL
    SELECT '` + SettingFosterCare + `', x.cp, x.zone, x.typology, x.placement, p.sex,
           ` + ageClass("a.age") + `,
           ` + citizenship("p", "x.msna") + `
    FROM fc x JOIN linkage.persons p ON p.id = x.cp` + withAge("p", "$1::date") + `)`

// outOfFamilyDims are the dimensions the minors out of family are
// tabulated by, in the order of outOfFamilySQL's columns.
var outOfFamilyDims = []string{"typology", "sex", "age_class", "citizenship", "placement"}

// outOfFamilySQL tabulates the minors out of family at the end of day $1
// ($2 that instant), each population by zone × one
// dimension at a time: one scan, one grouping set per dimension, the
// GROUPING bits telling which (0 for the dimension grouped by).
var outOfFamilySQL = `
WITH ` + outOfFamilyPop + `
SELECT setting, zone, GROUPING(typology, sex, age_class, citizenship, placement)::int,
       typology, sex, age_class, citizenship, placement, count(*)::int
FROM pop
WHERE age_class IS NOT NULL
GROUP BY GROUPING SETS ((setting, zone, typology), (setting, zone, sex), (setting, zone, age_class),
                        (setting, zone, citizenship), (setting, zone, placement))`

// outOfFamilyRecordsSQL lists the minors out of family at the end of day
// $1, one line per minor and setting, with coarse attributes only.
var outOfFamilyRecordsSQL = `
WITH ` + outOfFamilyPop + `
SELECT cp::text, setting, zone, sex, age_class, citizenship, placement
FROM pop
WHERE age_class IS NOT NULL
ORDER BY zone, setting, cp`

// OutOfFamilyRecords implements report.MicrodataSource: the population
// of the survey of minors out of family, the same lines its tables count.
func (s *Store) OutOfFamilyRecords(ctx context.Context, day time.Time) ([]report.MicroRecord, error) {
	rows, err := s.db.Q(ctx).Query(ctx, outOfFamilyRecordsSQL, day, registry.Date{Time: day}.End())
	if err != nil {
		return nil, fmt.Errorf("microdata: %w", err)
	}
	defer rows.Close()
	var out []report.MicroRecord
	for rows.Next() {
		var (
			r        report.MicroRecord
			age, cit string
		)
		if err := rows.Scan(&r.Person, &r.Setting, &r.Zone, &r.Sex, &age, &cit, &r.Placement); err != nil {
			return nil, fmt.Errorf("microdata: %w", err)
		}
		if r.AgeClass, err = report.ParseAgeClass(age); err != nil {
			return nil, fmt.Errorf("microdata: %w", err)
		}
		if r.Citizenship, err = report.ParseCitizenshipGroup(cit); err != nil {
			return nil, fmt.Errorf("microdata: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("microdata: %w", err)
	}
	return out, nil
}

var _ report.MicrodataSource = (*Store)(nil)

// dimCounts are the counts of one population by zone × dimension:
// [dimension code] → counts (Row zone, Col category).
type dimCounts map[string][]report.Count

// queryDims runs a query whose rows are (population, zone, dimension,
// category, count) and groups them.
func (s *Store) queryDims(ctx context.Context, what, sql string, args ...any) (map[string]dimCounts, error) {
	rows, err := s.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]dimCounts{}
	for rows.Next() {
		var (
			pop, zone, dim, code string
			n                    int
		)
		if err := rows.Scan(&pop, &zone, &dim, &code, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if out[pop] == nil {
			out[pop] = dimCounts{}
		}
		out[pop][dim] = append(out[pop][dim], report.Count{Row: zone, Col: code, N: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// OutOfFamilyCounts returns the minors out of family at the end of day:
// [setting][dimension] → counts by zone (Row) × category (Col). The
// dimensions are "typology" (residential only), "sex", "age_class",
// "citizenship" and "placement".
func (s *Store) OutOfFamilyCounts(ctx context.Context, day time.Time) (map[string]dimCounts, error) {
	rows, err := s.db.Q(ctx).Query(ctx, outOfFamilySQL, day, registry.Date{Time: day}.End())
	if err != nil {
		return nil, fmt.Errorf("minors out of family: %w", err)
	}
	defer rows.Close()
	out := map[string]dimCounts{}
	for rows.Next() {
		var (
			setting, z string
			g, n       int
			codes      = make([]*string, len(outOfFamilyDims))
		)
		dest := []any{&setting, &z, &g}
		for i := range codes {
			dest = append(dest, &codes[i])
		}
		if err := rows.Scan(append(dest, &n)...); err != nil {
			return nil, fmt.Errorf("minors out of family: %w", err)
		}
		for i, dim := range outOfFamilyDims {
			// The leftmost argument of GROUPING is its highest bit.
			if g&(1<<(len(outOfFamilyDims)-1-i)) != 0 || codes[i] == nil {
				continue // not this set's dimension, or foster care's typology
			}
			if out[setting] == nil {
				out[setting] = dimCounts{}
			}
			out[setting][dim] = append(out[setting][dim], report.Count{Row: z, Col: *codes[i], N: n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("minors out of family: %w", err)
	}
	return out, nil
}

// dimensionOf returns the report dimension with code.
func (s *Store) dimensionOf(code string) report.Dimension {
	switch code {
	case "typology":
		return s.TypologyDimension()
	case "sex":
		return report.SexDimension()
	case "age_class":
		return report.AgeClassDimension()
	case "citizenship":
		return report.CitizenshipDimension()
	case "placement":
		return report.PlacementDimension()
	case "outcome":
		return codeListDimension("outcome", report.Label{IT: "Esito", EN: "Outcome"}, sinba.EsitoInserimentoStrutturaCodes)
	case "intervention":
		return codeListDimension("intervention", report.Label{IT: "Prestazione", EN: "Intervention"}, sinba.CodicePrestazioneCodes)
	}
	panic("reportpg: no dimension " + code)
}

// codeListDimension is a dimension of a SINBA code list, its official
// codes and Italian labels.
func codeListDimension(code string, label report.Label, l *sinba.CodeList) report.Dimension {
	d := report.Dimension{Code: code, Label: label}
	for _, c := range l.Codes {
		d.Categories = append(d.Categories, report.Category{Code: c.Value, Label: report.Label{IT: c.Label}})
	}
	return d
}

// linkedTables builds one table per dimension of counts, rows zones, fills
// them and protects them together (they count one population, so their
// zone totals and grand totals are one quantity).
func (s *Store) linkedTables(zones report.Dimension, counts dimCounts, specs []tableSpec) ([]*report.Table, error) {
	tables := make([]*report.Table, 0, len(specs))
	for _, sp := range specs {
		t := report.NewTable(sp.id, sp.title, zones, s.dimensionOf(sp.dim))
		t.Unit, t.Notes = sp.unit, sp.notes
		if err := fill(t, counts[sp.dim]); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	if len(tables) == 1 {
		return tables, tables[0].Protect(s.policy)
	}
	return tables, report.ProtectLinked(s.policy, tables...)
}

type tableSpec struct {
	id, dim     string
	title, unit report.Label
	notes       []report.Label
}

var (
	unitMinors     = report.Label{IT: "minori", EN: "minors"}
	unitAdmissions = report.Label{IT: "ammissioni", EN: "admissions"}
	unitDischarges = report.Label{IT: "dimissioni", EN: "discharges"}
	byWhat         = map[string]report.Label{
		"typology":    {IT: "tipologia di struttura", EN: "facility typology"},
		"sex":         {IT: "sesso", EN: "sex"},
		"age_class":   {IT: "classe di età", EN: "age class"},
		"citizenship": {IT: "cittadinanza", EN: "citizenship"},
		"placement":   {IT: "tipo di collocamento", EN: "placement"},
	}
	settingLabel = map[string]report.Label{
		SettingResidential: {IT: "Minori in strutture residenziali", EN: "Minors in residential facilities"},
		SettingFosterCare:  {IT: "Minori in affidamento familiare", EN: "Minors in foster care"},
	}
	zoneNote = report.Label{
		IT: "Zona del servizio sociale responsabile (per le strutture, la zona inviante). Ogni minore è contato una volta, " +
			"come la persona che è oggi dopo gli abbinamenti; persone fino a 21 anni.",
		EN: "Zone of the responsible social service (for facilities, the sending zone). Each minor is counted once, " +
			"as the person it is after record linkage merges; persons up to 21 years of age."}
)

// area is the label of the report's area: the zone of p, or the Region.
func (s *Store) area(p report.Params) report.Label {
	if p.Zone != "" {
		if z, ok := s.codes.Zone(p.Zone); ok {
			return report.Label{IT: "Zona " + z.Name, EN: "Zone " + z.Name}
		}
	}
	return report.Label{IT: "Toscana", EN: "Tuscany"}
}

// zonesOf checks the zone a report is asked for and returns the dimension
// of every zone: the tables are always computed and protected for the
// whole Region, and forZone publishes the zone's row.
func (s *Store) zonesOf(what string, zone string) (report.Dimension, error) {
	if _, ok := s.codes.Zone(zone); zone != "" && !ok {
		return report.Dimension{}, fmt.Errorf("%s: unknown zone %q", what, zone)
	}
	return s.ZoneDimension(), nil
}

// forZone publishes out, computed and protected for the whole Region, for
// zone ("" for the Region): every grid restricted to the zone's row
// (report.RowOf), so that a zone's report and the Region's hide the same
// entries and together give nothing back.
func (s *Store) forZone(out *report.Output, zone string) (*report.Output, error) {
	if zone == "" {
		return out, nil
	}
	for i, g := range out.Grids {
		r, err := report.RowOf(g, zone)
		if err != nil {
			return nil, err
		}
		out.Grids[i] = r
	}
	return out, nil
}

// OutOfFamily computes the minors out of family at p.Date in p.Zone: for
// each setting, one table by zone × facility typology (residential only),
// sex, age class, citizenship and placement, protected together.
func (s *Store) OutOfFamily(ctx context.Context, p report.Params) (*report.Output, error) {
	if p.Date.IsZero() {
		return nil, fmt.Errorf("minors out of family: no reference date")
	}
	zones, err := s.zonesOf("minors out of family", p.Zone)
	if err != nil {
		return nil, err
	}
	counts, err := s.OutOfFamilyCounts(ctx, p.Date)
	if err != nil {
		return nil, err
	}
	title := report.Label{IT: "Minori fuori famiglia", EN: "Minors out of family"}
	area := s.area(p)
	out := &report.Output{Title: title, Subtitle: report.Label{
		IT: area.IT + " – situazione al " + p.Date.Format("02/01/2006"),
		EN: area.EN + " – as of " + p.Date.Format(time.DateOnly)}}
	for _, setting := range []string{SettingResidential, SettingFosterCare} {
		dims := []string{"typology", "sex", "age_class", "citizenship", "placement"}
		if setting == SettingFosterCare {
			dims = dims[1:]
		}
		var specs []tableSpec
		for _, d := range dims {
			specs = append(specs, tableSpec{id: setting + "_by_zone_" + d, dim: d,
				title: report.Label{IT: settingLabel[setting].IT + " per zona e " + byWhat[d].IT,
					EN: settingLabel[setting].EN + " by zone and " + byWhat[d].EN},
				unit: unitMinors, notes: []report.Label{zoneNote}})
		}
		tables, err := s.linkedTables(zones, counts[setting], specs)
		if err != nil {
			return nil, fmt.Errorf("minors out of family, %s: %w", setting, err)
		}
		for _, t := range tables {
			out.Grids = append(out.Grids, t)
		}
	}
	return s.forZone(out, p.Zone)
}

// flowsSQL counts the admissions of the period [$1, $2] by zone ×
// typology (the facility's version in force at the end of the admission
// day, or its first for a facility registered later), placement and age
// class at admission, and the discharges by zone × outcome.
var flowsSQL = `
WITH first AS (
    SELECT DISTINCT ON (facility_id) facility_id, typology
    FROM registry.facility_versions ORDER BY facility_id, version),
adm AS MATERIALIZED (
    SELECT s.sending_zone AS zone, COALESCE(v.typology, first.typology) AS typology, s.form AS placement,
           ` + ageClass("a.age") + ` AS age_class
    FROM activity.stays s
    ` + stayMerged + `
    JOIN linkage.persons p ON p.id = ` + stayPerson + `
    JOIN first ON first.facility_id = s.facility_id
    LEFT JOIN registry.facility_versions v ON v.facility_id = s.facility_id
         AND ` + registrypg.InForce("v", "((s.admitted_on + 1)::timestamp AT TIME ZONE 'Europe/Rome')") + `
   ` + withAge("p", "s.admitted_on") + `
    WHERE s.admitted_on BETWEEN $1 AND $2)
SELECT 'admissions', zone, d.dim, d.code, count(*)::int
FROM adm CROSS JOIN LATERAL (VALUES ('typology', typology), ('placement', placement), ('age_class', age_class)) d(dim, code)
WHERE age_class IS NOT NULL
GROUP BY zone, d.dim, d.code
UNION ALL
SELECT 'discharges', s.sending_zone, 'outcome', s.outcome, count(*)::int
FROM activity.stays s
WHERE s.discharged_on BETWEEN $1 AND $2
GROUP BY s.sending_zone, s.outcome`

// lengthOfStaySQL gives the quartiles of the length of stay in days of
// the stays discharged in [$1, $2], by zone and for all: zone is NULL on
// the line of all.
const lengthOfStaySQL = `
SELECT s.sending_zone, count(*)::int,
       percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY (s.discharged_on - s.admitted_on))
FROM activity.stays s
WHERE s.discharged_on BETWEEN $1 AND $2
GROUP BY GROUPING SETS ((s.sending_zone), ())`

// Flows computes the flows of the period [p.From, p.To] in p.Zone:
// admissions (by typology, placement and age class, protected together),
// discharges by outcome, and the quartiles of the length of the stays
// discharged.
func (s *Store) Flows(ctx context.Context, p report.Params) (*report.Output, error) {
	if p.From.IsZero() || p.To.IsZero() || p.To.Before(p.From) {
		return nil, fmt.Errorf("flows: no period")
	}
	zones, err := s.zonesOf("flows", p.Zone)
	if err != nil {
		return nil, err
	}
	counts, err := s.queryDims(ctx, "flows", flowsSQL, p.From, p.To)
	if err != nil {
		return nil, err
	}
	area := s.area(p)
	period := report.Label{
		IT: area.IT + " – dal " + p.From.Format("02/01/2006") + " al " + p.To.Format("02/01/2006"),
		EN: area.EN + " – " + p.From.Format(time.DateOnly) + " to " + p.To.Format(time.DateOnly)}
	out := &report.Output{Title: report.Label{IT: "Ingressi e uscite dalle strutture residenziali",
		EN: "Admissions to and discharges from residential facilities"}, Subtitle: period}
	flowNote := report.Label{
		IT: "Eventi del periodo, estremi inclusi: un minore ammesso due volte conta due ammissioni. Zona inviante.",
		EN: "Events of the period, both ends included: a minor admitted twice counts two admissions. Sending zone."}
	var specs []tableSpec
	for _, x := range []struct{ id, dim string }{
		{TableAdmissionsTypology, "typology"}, {TableAdmissionsPlacement, "placement"}, {TableAdmissionsAge, "age_class"},
	} {
		specs = append(specs, tableSpec{id: x.id, dim: x.dim,
			title: report.Label{IT: "Ammissioni per zona e " + byWhat[x.dim].IT, EN: "Admissions by zone and " + byWhat[x.dim].EN},
			unit:  unitAdmissions, notes: []report.Label{flowNote}})
	}
	adm, err := s.linkedTables(zones, counts["admissions"], specs)
	if err != nil {
		return nil, fmt.Errorf("flows, admissions: %w", err)
	}
	dis, err := s.linkedTables(zones, counts["discharges"], []tableSpec{{id: TableDischargesOutcome, dim: "outcome",
		title: report.Label{IT: "Dimissioni per zona ed esito", EN: "Discharges by zone and outcome"},
		unit:  unitDischarges, notes: []report.Label{flowNote}}})
	if err != nil {
		return nil, fmt.Errorf("flows, discharges: %w", err)
	}
	for _, t := range append(adm, dis...) {
		out.Grids = append(out.Grids, t)
	}
	los, err := s.lengthOfStay(ctx, p, zones)
	if err != nil {
		return nil, err
	}
	// A zone's quartiles appear only beside its published count of
	// discharges, whose size they would otherwise bound.
	if err := los.PublishOnlyWith(dis[0]); err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	out.Grids = append(out.Grids, los)
	return s.forZone(out, p.Zone)
}

func (s *Store) lengthOfStay(ctx context.Context, p report.Params, zones report.Dimension) (*report.Quantiles, error) {
	q := report.NewQuantiles(TableLengthOfStay, report.Label{
		IT: "Durata della permanenza dei minori dimessi nel periodo, per zona",
		EN: "Length of stay of the minors discharged in the period, by zone"}, zones, report.QuartileDimension(), s.policy, 0)
	q.Unit = report.Label{IT: "giorni", EN: "days"}
	q.Decimals = 1
	q.Notes = []report.Label{{
		IT: fmt.Sprintf("Giorni dall'ammissione alla dimissione; quartili calcolati solo per gruppi di almeno %d dimissioni. "+
			"La riga del totale riguarda tutte le zone del prospetto.", q.MinGroup),
		EN: fmt.Sprintf("Days from admission to discharge; quartiles computed only for groups of at least %d discharges. "+
			"The totals row covers every zone of the table.", q.MinGroup)}}
	rows, err := s.db.Q(ctx).Query(ctx, lengthOfStaySQL, p.From, p.To)
	if err != nil {
		return nil, fmt.Errorf("length of stay: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			zone  *string
			n     int
			stats []float64
		)
		if err := rows.Scan(&zone, &n, &stats); err != nil {
			return nil, fmt.Errorf("length of stay: %w", err)
		}
		if n == 0 {
			continue // the line of all, when nothing was discharged
		}
		code := ""
		if zone != nil {
			code = *zone
		}
		if err := q.Set(code, n, stats); err != nil {
			return nil, fmt.Errorf("length of stay: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("length of stay: %w", err)
	}
	return q, nil
}

// inFamilySQL counts the minors in family with interventions at the end
// of day $1: minors with an intervention running that day in a case file
// in charge, neither in a facility nor in foster care (of a file in
// charge) that day; each counted once, in the zone (that day) of its most
// recently opened such file, by intervention code (a minor counts once
// per code, whatever the files).
var inFamilySQL = `
WITH ` + caseZones + `,
cf AS (
    SELECT c.id, c.opened_on, COALESCE(cz.zone, c.zone) AS zone, ` + casePerson + ` AS cp
    FROM activity.case_files c LEFT JOIN cz ON cz.case_id = c.id` + caseMerged + `
    WHERE c.opened_on <= $1 AND (c.closed_on IS NULL OR c.closed_on > $1)),
away AS (
    SELECT ` + stayPerson + ` AS cp
    FROM activity.stays s` + stayMerged + `
    WHERE s.admitted_on <= $1 AND (s.discharged_on IS NULL OR s.discharged_on > $1)
    UNION
    SELECT cf.cp
    FROM cf JOIN activity.case_entries e ON e.case_id = cf.id
    WHERE e.kind = 'foster_care' AND e.start_on <= $1 AND (e.end_on IS NULL OR e.end_on >= $1)),
running AS MATERIALIZED (
    SELECT cf.cp, cf.zone, cf.opened_on, cf.id, e.codes->>'code' AS code
    FROM cf JOIN activity.case_entries e ON e.case_id = cf.id
    WHERE e.kind = 'intervention' AND e.start_on <= $1 AND (e.end_on IS NULL OR e.end_on >= $1)
      AND NOT EXISTS (SELECT 1 FROM away WHERE away.cp = cf.cp)),
minors AS MATERIALIZED (
    SELECT DISTINCT ON (r.cp) r.cp, r.zone
    FROM running r JOIN linkage.persons p ON p.id = r.cp` + withAge("p", "$1::date") + `
    WHERE ` + ageClass("a.age") + ` IS NOT NULL
    ORDER BY r.cp, r.opened_on DESC, r.id DESC)
SELECT 'interventions', m.zone, 'intervention', x.code, count(*)::int
FROM minors m JOIN (SELECT DISTINCT cp, code FROM running) x ON x.cp = m.cp
GROUP BY m.zone, x.code`

// InFamily computes the minors in family with interventions at p.Date in
// p.Zone, by zone × intervention code. (One table only: a second, of
// minors by zone × age class, would be linked to it by inequalities —
// a zone's pairs are at least its minors — that the auditor of
// separately protected tables does not see.)
func (s *Store) InFamily(ctx context.Context, p report.Params) (*report.Output, error) {
	if p.Date.IsZero() {
		return nil, fmt.Errorf("minors in family: no reference date")
	}
	zones, err := s.zonesOf("minors in family", p.Zone)
	if err != nil {
		return nil, err
	}
	counts, err := s.queryDims(ctx, "minors in family", inFamilySQL, p.Date)
	if err != nil {
		return nil, err
	}
	area := s.area(p)
	out := &report.Output{
		Title: report.Label{IT: "Minori in famiglia con interventi dei servizi", EN: "Minors in family with interventions"},
		Subtitle: report.Label{IT: area.IT + " – situazione al " + p.Date.Format("02/01/2006"),
			EN: area.EN + " – as of " + p.Date.Format(time.DateOnly)}}
	inFamilyNote := report.Label{
		IT: "Minori con cartella SINBA aperta, non in struttura né in affidamento alla data, con almeno un intervento in corso; " +
			"ciascuno nella zona della cartella aperta più di recente.",
		EN: "Minors with an open SINBA case file, neither in a facility nor in foster care at the date, with at least one intervention " +
			"running; each in the zone of its most recently opened file."}
	iv, err := s.linkedTables(zones, counts["interventions"], []tableSpec{{id: TableInterventions, dim: "intervention",
		title: report.Label{IT: "Minori in famiglia per zona e prestazione", EN: "Minors in family by zone and intervention"},
		unit:  report.Label{IT: "minori per prestazione", EN: "minors per intervention"},
		notes: []report.Label{inFamilyNote, {
			IT: "Un minore con più prestazioni è contato in ciascuna: i totali contano le coppie minore–prestazione.",
			EN: "A minor with several interventions is counted in each: the totals count minor–intervention pairs."}}}})
	if err != nil {
		return nil, fmt.Errorf("minors in family: %w", err)
	}
	out.Grids = append(out.Grids, iv[0])
	return s.forZone(out, p.Zone)
}

// occupiedSQL is report.Occupancy's query: minors staying at the end of
// day $2 in the facilities active then, by the facility's zone × typology
// of its version in force ($1 the end of the day).
var occupiedSQL = `
SELECT v.zone, v.typology, count(*)::int
FROM activity.stays s JOIN registry.facility_versions v
  ON v.facility_id = s.facility_id AND ` + registrypg.InForce("v", "$1") + `
WHERE v.status = 'active' AND s.admitted_on <= $2
  AND (s.discharged_on IS NULL OR s.discharged_on > $2)
GROUP BY v.zone, v.typology`

// OccupiedPlaces implements report.Occupancy from activity's stays: the
// census's occupied places.
func (s *Store) OccupiedPlaces(ctx context.Context, day time.Time) ([]report.Count, error) {
	rows, err := s.db.Q(ctx).Query(ctx, occupiedSQL, registry.Date{Time: day}.End(), day)
	if err != nil {
		return nil, fmt.Errorf("occupied places: %w", err)
	}
	defer rows.Close()
	var out []report.Count
	for rows.Next() {
		var c report.Count
		if err := rows.Scan(&c.Row, &c.Col, &c.N); err != nil {
			return nil, fmt.Errorf("occupied places: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

var _ report.Occupancy = (*Store)(nil)

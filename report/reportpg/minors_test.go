package reportpg

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/activitypg"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
	"github.com/toscana/sirm/report"
)

// activityFixture is a database holding the demo registry and the demo
// activity (sirm demo activity's own generator, through linkage and
// activity as the API uses them).
type activityFixture struct {
	db    *pgdb.DB
	lk    *linkage.Service
	act   *activity.Service
	today time.Time
	sum   demo.ActivitySummary
}

func seededActivity(t *testing.T, n int) *activityFixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.DB(t)
	c := &clock{}
	acts := activitypg.New(db)
	reg, err := registry.NewService(registry.Config{Store: registrypg.New(db), Tx: db, Now: c.now, Occupancy: acts})
	require.NoError(t, err)
	fs := demo.Facilities(demo.FacilityOptions{N: 183, Seed: 1, Now: demoDate}, registry.MustLoadCodes())
	require.NoError(t, demo.LoadFacilities(ctx, reg, c.set, fs, nil))
	prf, err := linkage.NewHMAC(bytes.Repeat([]byte{0x42}, linkage.MinHMACKeySize))
	require.NoError(t, err)
	lk, err := linkage.NewService(linkage.Config{Store: linkagepg.New(db), Tx: db, PRF: prf,
		TokenMasters: map[int][]byte{1: bytes.Repeat([]byte{0x17}, linkage.MinTokenMasterSize)},
		Policy:       linkage.Policy{MaxAgeYears: 21}})
	require.NoError(t, err)
	act, err := activity.NewService(activity.Config{Store: acts, Tx: db, Persons: lk,
		Facilities: activity.RegistryFacilities(reg), Zone: activity.RegistryZones(reg)})
	require.NoError(t, err)
	today := activity.Day(time.Now())
	sum, err := demo.LoadActivity(ctx, demo.ActivityEnv{Linkage: lk, Activity: act, Registry: reg, Actor: "test",
		Audit: func(context.Context, demo.Step, string, string, linkage.PersonID) error { return nil }},
		demo.ActivityOptions{N: n, Seed: 3, Today: today})
	require.NoError(t, err)
	require.Positive(t, sum.Stays)
	require.Positive(t, sum.FosterCare)
	require.Positive(t, sum.Discharged)
	require.Positive(t, sum.Closed)
	f := &activityFixture{db: db, lk: lk, act: act, today: today, sum: sum}
	f.addEdgeCases(t)
	return f
}

// addEdgeCases adds what the demo generator does not make and the surveys
// must get right: a transfer between zones of a file in foster care (a
// past day counts it in the zone it had then), a file closed while its
// foster care runs on (no longer out of family), and minors with open
// files in two zones (counted once, in the newest file's zone).
func (f *activityFixture) addEdgeCases(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	noHook := func(context.Context, linkage.PersonID) error { return nil }
	svc := func(zone string) activity.Actor {
		return activity.Actor{Subject: "test", Role: "service_operator", Org: zone}
	}
	fostered := func() (activity.CaseID, string, linkage.PersonID) {
		var (
			id         int64
			zone, pers string
		)
		require.NoError(t, f.db.Pool.QueryRow(ctx, `SELECT c.id, c.zone, c.person_id::text FROM activity.case_files c
WHERE c.closed_on IS NULL AND c.transfer_to IS NULL AND EXISTS (SELECT 1 FROM activity.case_entries e
  WHERE e.case_id = c.id AND e.kind = 'foster_care' AND e.end_on IS NULL AND e.start_on < current_date - 130)
  AND NOT EXISTS (SELECT 1 FROM activity.events v WHERE v.case_id = c.id AND v.kind = 'transfer_accepted')
ORDER BY c.id LIMIT 1`).Scan(&id, &zone, &pers))
		p, err := linkage.ParsePersonID(pers)
		require.NoError(t, err)
		return activity.CaseID(id), zone, p
	}
	other := func(not ...string) string {
		for _, z := range []string{"FIORENTINA", "PISANA", "APUANE", "LIVORNESE"} {
			if !slices.Contains(not, z) {
				return z
			}
		}
		panic("no zone")
	}
	secondFile := func(p linkage.PersonID, from activity.CaseID, zoneFrom, zone string) {
		c, err := f.act.CaseFile(ctx, zoneFrom, from)
		require.NoError(t, err)
		rec := c.Record
		rec.MotivazioneChiusuraCarico, rec.SituazioneChiusuraCarico = nil, nil
		nc, err := f.act.OpenCase(ctx, svc(zone), p, f.today.AddDate(0, 0, -60), rec, noHook)
		require.NoError(t, err)
		_, err = f.act.AddEntry(ctx, svc(zone), nc.ID, activity.Entry{Kind: activity.EntryIntervention, Start: f.today.AddDate(0, 0, -50),
			Codes: map[string]string{"code": "A1.01"}}, noHook)
		require.NoError(t, err)
	}

	// A transfer, accepted today.
	id, from, _ := fostered()
	to := other(from)
	_, err := f.act.RequestTransfer(ctx, svc(from), id, to, noHook)
	require.NoError(t, err)
	_, err = f.act.AcceptTransfer(ctx, svc(to), id, noHook)
	require.NoError(t, err)

	// A file closed with its foster care still open; the minor then has
	// a file with an intervention in another zone.
	id, zone, p := fostered()
	_, err = f.act.CloseCase(ctx, svc(zone), id, f.today.AddDate(0, 0, -5), activity.Closure{Reason: "1"}, noHook)
	require.NoError(t, err)
	secondFile(p, id, zone, other(zone))

	// Minors in family in two zones: a second open file, in another zone.
	rows, err := f.db.Pool.Query(ctx, `SELECT c.id, c.zone, c.person_id::text FROM activity.case_files c
WHERE c.closed_on IS NULL AND c.transfer_to IS NULL
  AND NOT EXISTS (SELECT 1 FROM activity.stays s WHERE s.person_id = c.person_id)
  AND NOT EXISTS (SELECT 1 FROM activity.case_entries e WHERE e.case_id = c.id AND e.kind = 'foster_care')
  AND EXISTS (SELECT 1 FROM activity.case_entries e WHERE e.case_id = c.id AND e.kind = 'intervention' AND e.end_on IS NULL)
ORDER BY c.id LIMIT 3`)
	require.NoError(t, err)
	type file struct {
		id         int64
		zone, pers string
	}
	files, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (file, error) {
		var x file
		return x, r.Scan(&x.id, &x.zone, &x.pers)
	})
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, x := range files {
		p, err := linkage.ParsePersonID(x.pers)
		require.NoError(t, err)
		secondFile(p, activity.CaseID(x.id), x.zone, other(x.zone))
	}
}

// raw holds the rows of the tables the surveys read, as the test reads
// them, and counts from them in Go: the independent computation every
// report must agree with.
type raw struct {
	persons  map[string]rawPerson
	stays    []rawStay
	cases    map[int64]rawCase
	entries  []rawEntry
	versions []rawVersion
	// transfers are the accepted transfers of each case file, in order.
	transfers map[int64][]rawTransfer
}

type rawTransfer struct {
	on   time.Time
	from string
}

type rawPerson struct {
	merged        *string
	sex, group    string
	year, month   int
	currentCached string
}

type rawStay struct {
	id, facility       int64
	person, zone, form string
	msna               bool
	admitted           time.Time
	discharged         *time.Time
	outcome            *string
}

type rawCase struct {
	id           int64
	person, zone string
	opened       time.Time
	closed       *time.Time
	msna         string
}

type rawEntry struct {
	id, caseID int64
	kind       string
	start      time.Time
	end        *time.Time
	codes      map[string]string
}

func readRaw(t *testing.T, db *pgdb.DB) *raw {
	t.Helper()
	ctx := context.Background()
	q := func(sql string) pgx.Rows {
		rows, err := db.Pool.Query(ctx, sql)
		require.NoError(t, err)
		return rows
	}
	r := &raw{persons: map[string]rawPerson{}, cases: map[int64]rawCase{}, transfers: map[int64][]rawTransfer{}}
	rows := q(`SELECT id::text, merged_into::text, sex, citizenship_group, birth_year, birth_month FROM linkage.persons`)
	for rows.Next() {
		var (
			id string
			p  rawPerson
		)
		require.NoError(t, rows.Scan(&id, &p.merged, &p.sex, &p.group, &p.year, &p.month))
		r.persons[id] = p
	}
	require.NoError(t, rows.Err())
	rows = q(`SELECT id, facility_id, person_id::text, sending_zone, form, msna, admitted_on, discharged_on, outcome FROM activity.stays`)
	for rows.Next() {
		var s rawStay
		require.NoError(t, rows.Scan(&s.id, &s.facility, &s.person, &s.zone, &s.form, &s.msna, &s.admitted, &s.discharged, &s.outcome))
		r.stays = append(r.stays, s)
	}
	require.NoError(t, rows.Err())
	rows = q(`SELECT id, person_id::text, zone, opened_on, closed_on, attributes->>'minore_straniero_no_acc' FROM activity.case_files`)
	for rows.Next() {
		var c rawCase
		require.NoError(t, rows.Scan(&c.id, &c.person, &c.zone, &c.opened, &c.closed, &c.msna))
		r.cases[c.id] = c
	}
	require.NoError(t, rows.Err())
	rows = q(`SELECT id, case_id, kind, start_on, end_on, codes FROM activity.case_entries`)
	for rows.Next() {
		var e rawEntry
		require.NoError(t, rows.Scan(&e.id, &e.caseID, &e.kind, &e.start, &e.end, &e.codes))
		r.entries = append(r.entries, e)
	}
	require.NoError(t, rows.Err())
	rows = q(`SELECT DISTINCT case_id, on_date, seq, detail->>'from_zone' FROM activity.events WHERE kind = 'transfer_accepted' ORDER BY case_id, on_date, seq`)
	for rows.Next() {
		var (
			id  int64
			seq int64
			tr  rawTransfer
		)
		require.NoError(t, rows.Scan(&id, &tr.on, &seq, &tr.from))
		r.transfers[id] = append(r.transfers[id], tr)
	}
	require.NoError(t, rows.Err())
	rows = q(`SELECT facility_id, status, zone, typology, authorised_places, valid_from, valid_to FROM registry.facility_versions ORDER BY facility_id, version`)
	for rows.Next() {
		var v rawVersion
		require.NoError(t, rows.Scan(&v.id, &v.status, &v.zone, &v.typology, &v.places, &v.validFrom, &v.validTo))
		r.versions = append(r.versions, v)
	}
	require.NoError(t, rows.Err())
	return r
}

// current follows the merges of person id to the person it now is.
func (r *raw) current(id string) string {
	for range 1000 {
		p := r.persons[id]
		if p.merged == nil {
			return id
		}
		id = *p.merged
	}
	panic("merge cycle")
}

// zoneAt is the zone case file id had at the end of day d: the zone it
// left in its first transfer accepted after d, or its zone now.
func (r *raw) zoneAt(id int64, d time.Time) string {
	for _, tr := range r.transfers[id] {
		if tr.on.After(d) {
			return tr.from
		}
	}
	return r.cases[id].zone
}

// endOf is the end of day d in Rome, as the registry's "as of" reads it.
func endOf(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, registry.Rome)
}

// version returns facility f's version in force at the end of day d, and
// whether there is one.
func (r *raw) version(f int64, d time.Time) (rawVersion, bool) {
	end := endOf(d)
	for _, v := range r.versions {
		if v.id == f && v.validFrom.Before(end) && (v.validTo == nil || !v.validTo.Before(end)) {
			return v, true
		}
	}
	return rawVersion{}, false
}

// typology is facility f's typology at the end of d: its version in force
// then, or its first one (versions are read in order).
func (r *raw) typology(f int64, d time.Time) string {
	if v, ok := r.version(f, d); ok {
		return v.typology
	}
	for _, v := range r.versions {
		if v.id == f {
			return v.typology
		}
	}
	panic("no version")
}

// classes are a person's age class and citizenship group codes at d; ok
// is false outside 0-21.
func (r *raw) classes(person string, d time.Time, msna bool) (age, cit string, ok bool) {
	p := r.persons[person]
	ac, err := report.AgeClassOf(report.AgeAt(p.year, p.month, d))
	if err != nil {
		return "", "", false
	}
	iso := map[string]int{"IT": report.ItalyCode, "EU": 250, "NON_EU": 504, "": 0}[p.group]
	return ac.String(), report.CitizenshipGroupOf(iso, msna).String(), true
}

func on(d time.Time, from time.Time, to *time.Time, toExclusive bool) bool {
	if from.After(d) {
		return false
	}
	if to == nil {
		return true
	}
	if toExclusive {
		return to.After(d)
	}
	return !to.Before(d)
}

// counts are expected tables: table id → "row|col" → count.
type counts map[string]map[string]int

func (c counts) add(table, row, col string) {
	if c[table] == nil {
		c[table] = map[string]int{}
	}
	c[table][row+"|"+col]++
}

// outOfFamily counts the minors out of family at d.
func (r *raw) outOfFamily(d time.Time, zone string) counts {
	out := counts{}
	type pick struct {
		s   rawStay
		key [2]int64
	}
	res := map[string]rawStay{}
	for _, s := range r.stays {
		if !on(d, s.admitted, s.discharged, true) {
			continue
		}
		p := r.current(s.person)
		if old, ok := res[p]; !ok || s.admitted.After(old.admitted) || (s.admitted.Equal(old.admitted) && s.id > old.id) {
			res[p] = s
		}
	}
	for p, s := range res {
		age, cit, ok := r.classes(p, d, s.msna)
		if !ok || (zone != "" && s.zone != zone) {
			continue
		}
		pre := SettingResidential + "_by_zone_"
		out.add(pre+"typology", s.zone, r.typology(s.facility, d))
		out.add(pre+"sex", s.zone, r.persons[p].sex)
		out.add(pre+"age_class", s.zone, age)
		out.add(pre+"citizenship", s.zone, cit)
		out.add(pre+"placement", s.zone, s.form)
	}
	fc := map[string]rawEntry{}
	for _, e := range r.entries {
		c := r.cases[e.caseID]
		if e.kind != "foster_care" || !on(d, e.start, e.end, false) || !on(d, c.opened, c.closed, true) {
			continue
		}
		p := r.current(c.person)
		if old, ok := fc[p]; !ok || e.start.After(old.start) || (e.start.Equal(old.start) && e.id > old.id) {
			fc[p] = e
		}
	}
	for p, e := range fc {
		c := r.cases[e.caseID]
		cz := r.zoneAt(c.id, d)
		age, cit, ok := r.classes(p, d, c.msna == "1")
		if !ok || (zone != "" && cz != zone) {
			continue
		}
		placement := map[string]string{"1": "consensual", "2": "judicial"}[e.codes["form"]]
		pre := SettingFosterCare + "_by_zone_"
		out.add(pre+"sex", cz, r.persons[p].sex)
		out.add(pre+"age_class", cz, age)
		out.add(pre+"citizenship", cz, cit)
		out.add(pre+"placement", cz, placement)
	}
	return out
}

// flows counts the admissions and discharges of [from, to], and returns
// the lengths of the stays discharged by zone.
func (r *raw) flows(from, to time.Time, zone string) (counts, map[string][]float64) {
	out, los := counts{}, map[string][]float64{}
	for _, s := range r.stays {
		if zone != "" && s.zone != zone {
			continue
		}
		if !s.admitted.Before(from) && !s.admitted.After(to) {
			p := r.current(s.person)
			if age, _, ok := r.classes(p, s.admitted, s.msna); ok {
				out.add(TableAdmissionsTypology, s.zone, r.typology(s.facility, s.admitted))
				out.add(TableAdmissionsPlacement, s.zone, s.form)
				out.add(TableAdmissionsAge, s.zone, age)
			}
		}
		if s.discharged != nil && !s.discharged.Before(from) && !s.discharged.After(to) {
			out.add(TableDischargesOutcome, s.zone, *s.outcome)
			days := s.discharged.Sub(s.admitted).Hours() / 24
			los[s.zone] = append(los[s.zone], days)
			los[""] = append(los[""], days)
		}
	}
	return out, los
}

// inFamily counts the minors in family with interventions at d: each
// once, in the zone (at d) of its most recently opened file with an
// intervention running, by code.
func (r *raw) inFamily(d time.Time, zone string) counts {
	away := map[string]bool{}
	for _, s := range r.stays {
		if on(d, s.admitted, s.discharged, true) {
			away[r.current(s.person)] = true
		}
	}
	for _, e := range r.entries {
		c := r.cases[e.caseID]
		if e.kind == "foster_care" && on(d, e.start, e.end, false) && on(d, c.opened, c.closed, true) {
			away[r.current(c.person)] = true
		}
	}
	codes, newest := map[string]map[string]bool{}, map[string]rawCase{}
	for _, e := range r.entries {
		c := r.cases[e.caseID]
		p := r.current(c.person)
		if e.kind != "intervention" || !on(d, e.start, e.end, false) || !on(d, c.opened, c.closed, true) || away[p] {
			continue
		}
		if _, _, ok := r.classes(p, d, false); !ok {
			continue
		}
		if codes[p] == nil {
			codes[p] = map[string]bool{}
		}
		codes[p][e.codes["code"]] = true
		if n, ok := newest[p]; !ok || c.opened.After(n.opened) || (c.opened.Equal(n.opened) && c.id > n.id) {
			newest[p] = c
		}
	}
	out := counts{}
	for p, cs := range codes {
		z := r.zoneAt(newest[p].id, d)
		if zone != "" && z != zone {
			continue
		}
		for code := range cs {
			out.add(TableInterventions, z, code)
		}
	}
	return out
}

// occupied counts the census's occupied places at d.
func (r *raw) occupied(d time.Time) map[string]int {
	out := map[string]int{}
	for _, s := range r.stays {
		if !on(d, s.admitted, s.discharged, true) {
			continue
		}
		if v, ok := r.version(s.facility, d); ok && v.status == "active" {
			out[v.zone+"|"+v.typology]++
		}
	}
	return out
}

// requireCounts checks every true cell value of the tables of out (the
// values before suppression) against want, and that nothing is counted
// outside the tables.
func requireCounts(t *testing.T, out *report.Output, want counts, ids ...string) {
	t.Helper()
	for _, id := range ids {
		i := slices.IndexFunc(out.Grids, func(g report.Grid) bool { return g.Header().ID == id })
		require.GreaterOrEqual(t, i, 0, "table %s", id)
		tab := report.Unwrap(out.Grids[i]).(*report.Table)
		sum := 0
		for r, rc := range tab.Rows.Categories {
			for c, cc := range tab.Cols.Categories {
				w := want[id][rc.Code+"|"+cc.Code]
				require.Equal(t, w, tab.Value(r, c), "%s: %s × %s", id, rc.Code, cc.Code)
				sum += w
			}
		}
		all := 0
		for _, n := range want[id] {
			all += n
		}
		require.Equal(t, all, sum, "%s: counts outside the table's categories", id)
		require.Equal(t, all, tab.Value(report.Total, report.Total), id)
	}
}

// requireProtected checks the rule on every count table of out: no
// published entry between 0 and the threshold, and, per set of tables
// protected together (their ids share the prefix up to "_by_"), no
// suppressed entry an attacker could recompute from everything published
// in the set. It returns the number of suppressed entries.
func requireProtected(t *testing.T, out *report.Output, threshold int) int {
	t.Helper()
	sets := map[string][]report.View{}
	suppressed := 0
	for _, g := range out.Grids {
		tab, ok := report.Unwrap(g).(*report.Table)
		if !ok {
			continue
		}
		require.True(t, tab.Protected(), tab.ID)
		for r := report.Total; r < tab.NumRows(); r++ {
			for c := report.Total; c < tab.NumCols(); c++ {
				v, ok := tab.Published(r, c)
				if ok {
					require.False(t, v > 0 && v < threshold, "%s: %d published at %d,%d", tab.ID, v, r, c)
				} else {
					suppressed++
				}
			}
		}
		set, _, _ := strings.Cut(tab.ID, "_by_")
		sets[set] = append(sets[set], tab.View())
	}
	for set, views := range sets {
		ivs, err := report.AuditLinked(views, report.AuditOptions{Lower: 1, Margin: 1})
		require.NoError(t, err, set)
		for k, tv := range ivs {
			for _, iv := range tv {
				require.False(t, iv.Disclosed, "%s, table %d: suppressed entry %d,%d lies in [%d, %d]", set, k, iv.Row, iv.Col, iv.Min, iv.Max)
			}
		}
	}
	return suppressed
}

// requireRowOf checks that a zone's report publishes exactly the row of
// the Region's protected tables (the same entries hidden), and the
// Region's report the tables themselves.
func requireRowOf(t *testing.T, out *report.Output, zone string) {
	t.Helper()
	for _, g := range out.Grids {
		whole := report.Unwrap(g)
		if zone == "" {
			require.Equal(t, whole, g, "the Region's report publishes the whole table")
			continue
		}
		h, wh := g.Header(), whole.Header()
		require.Len(t, h.Rows.Categories, 1, h.ID)
		require.Equal(t, zone, h.Rows.Categories[0].Code, h.ID)
		row := wh.Rows.Index(zone)
		for c := report.Total; c < len(h.Cols.Categories); c++ {
			if c == report.Total && h.NoRowTotals {
				continue
			}
			want, wantOK := whole.Entry(row, c)
			for _, r := range []int{0, report.Total} {
				got, ok := g.Entry(r, c)
				require.Equal(t, wantOK, ok, "%s %s, column %d", h.ID, zone, c)
				require.Equal(t, want, got, "%s %s, column %d", h.ID, zone, c)
			}
		}
	}
}

// percentile is PostgreSQL's percentile_cont: linear interpolation
// between the closest ranks.
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := p * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

// TestSurveysMatchRawRows computes every survey of minors on the demo
// data, for the Region and for zones, at several dates and periods, and
// compares every count with counts made here from the raw rows; then it
// merges persons and does it again. Each protected result is also
// audited.
func TestSurveysMatchRawRows(t *testing.T) {
	f := seededActivity(t, 600)
	ctx := context.Background()
	s := New(f.db, Options{})
	var suppressed int

	check := func(t *testing.T) {
		r := readRaw(t, f.db)
		zones := []string{"", "FIORENTINA", "PISANA", "ALTA_VAL_ELSA"}
		for _, zone := range zones {
			for _, back := range []int{0, 120, 400} {
				d := f.today.AddDate(0, 0, -back)
				name := zone + "@" + d.Format(time.DateOnly)
				p := report.Params{Date: d, Zone: zone}

				out, err := s.OutOfFamily(ctx, p)
				require.NoError(t, err, name)
				var ids []string
				for _, g := range out.Grids {
					ids = append(ids, g.Header().ID)
				}
				require.Len(t, ids, 9, name)
				requireCounts(t, out, r.outOfFamily(d, ""), ids...)
				requireRowOf(t, out, zone)
				suppressed += requireProtected(t, out, 3)

				if zone == "" {
					// The microdata are the same population, line by line
					// (always the Region's).
					recs, err := s.OutOfFamilyRecords(ctx, d)
					require.NoError(t, err, name)
					fromRecs := counts{}
					for _, rec := range recs {
						require.Nil(t, r.persons[rec.Person].merged, "a record names an absorbed person")
						pre := rec.Setting + "_by_zone_"
						fromRecs.add(pre+"sex", rec.Zone, rec.Sex)
						fromRecs.add(pre+"age_class", rec.Zone, rec.AgeClass.String())
						fromRecs.add(pre+"citizenship", rec.Zone, rec.Citizenship.String())
						fromRecs.add(pre+"placement", rec.Zone, rec.Placement)
					}
					want := r.outOfFamily(d, "")
					for id := range want {
						if !strings.HasSuffix(id, "_typology") {
							require.Equal(t, want[id], fromRecs[id], "microdata, %s %s", name, id)
						}
					}
					for id := range fromRecs {
						require.Contains(t, want, id, "microdata, %s: records the survey does not count", name)
					}
				}

				out, err = s.InFamily(ctx, p)
				require.NoError(t, err, name)
				requireCounts(t, out, r.inFamily(d, ""), TableInterventions)
				requireRowOf(t, out, zone)
				suppressed += requireProtected(t, out, 3)

				out, err = s.FacilityCensus(ctx, report.Params{Date: d, Zone: zone})
				require.NoError(t, err, name)
				requireRowOf(t, out, zone)
				occ := report.Unwrap(out.Grids[2]).(*report.Table)
				occWant := r.occupied(d)
				total := 0
				for i, rc := range occ.Rows.Categories {
					for j, cc := range occ.Cols.Categories {
						require.Equal(t, occWant[rc.Code+"|"+cc.Code], occ.Value(i, j), "occupied %s × %s", rc.Code, cc.Code)
						total += occWant[rc.Code+"|"+cc.Code]
					}
				}
				require.Equal(t, total, occ.Value(report.Total, report.Total))
				if back == 0 {
					require.Positive(t, total, "the demo stays occupy places today")
				}
			}
			for _, period := range [][2]int{{365, 0}, {900, 400}, {30, 30}} {
				from, to := f.today.AddDate(0, 0, -period[0]), f.today.AddDate(0, 0, -period[1])
				out, err := s.Flows(ctx, report.Params{From: from, To: to, Zone: zone})
				require.NoError(t, err)
				want, los := r.flows(from, to, "")
				requireCounts(t, out, want, TableAdmissionsTypology, TableAdmissionsPlacement, TableAdmissionsAge, TableDischargesOutcome)
				suppressed += requireProtected(t, out, 3)
				requireRowOf(t, out, zone)
				q := report.Unwrap(out.Grids[len(out.Grids)-1]).(*report.Quantiles)
				for i := report.Total; i < len(q.Rows.Categories); i++ {
					key := ""
					if i != report.Total {
						key = q.Rows.Categories[i].Code
					}
					require.Equal(t, len(los[key]), q.Size(i), "length of stay, %q", key)
					dis := report.Unwrap(out.Grids[len(out.Grids)-2]).(*report.Table)
					_, disPublished := dis.Published(i, report.Total)
					for c, p := range []float64{0.25, 0.5, 0.75} {
						v, ok := q.Entry(i, c)
						if len(los[key]) < report.MinQuantileGroup || !disPublished {
							require.False(t, ok, "quantile of %d stays published (discharges published: %v)", len(los[key]), disPublished)
							continue
						}
						require.True(t, ok)
						assert.InDelta(t, percentile(los[key], p), v.Value, 1e-9, "%q q%.2f", key, p)
					}
				}
			}
		}
	}
	t.Run("asLoaded", check)

	// Merge pairs of persons, some with stays open today: the surveys
	// count each as the person it now is.
	rows, err := f.db.Pool.Query(ctx, `SELECT DISTINCT person_id::text FROM activity.stays WHERE discharged_on IS NULL ORDER BY 1 LIMIT 6`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	rows, err = f.db.Pool.Query(ctx, `SELECT DISTINCT person_id::text FROM activity.case_entries e JOIN activity.case_files c ON c.id = e.case_id
WHERE e.kind = 'foster_care' ORDER BY 1 LIMIT 3`)
	require.NoError(t, err)
	more, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	ids = append(ids, more...)
	for i := 0; i+1 < len(ids); i += 2 {
		a, err := linkage.ParsePersonID(ids[i])
		require.NoError(t, err)
		b, err := linkage.ParsePersonID(ids[i+1])
		require.NoError(t, err)
		_, err = f.lk.Merge(ctx, a, b, 0, "test")
		require.NoError(t, err)
	}
	var merged int
	require.NoError(t, f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM linkage.persons WHERE merged_into IS NOT NULL`).Scan(&merged))
	require.GreaterOrEqual(t, merged, 4)
	t.Run("afterMerges", check)
	assert.Positive(t, suppressed, "the demo data has small cells: suppression ran")
}

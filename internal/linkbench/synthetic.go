package linkbench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/toscana/sirm/internal/demo"
)

// SyntheticOptions are the settings of the synthetic data set.
type SyntheticOptions struct {
	N             int     // records
	Seed          int64   // the same seed gives the same records
	DuplicateRate float64 // share of records that are variants of an earlier minor
	TwinRate      float64 // share of new minors that are a twin or sibling of an earlier one
}

// DefaultSynthetic is the synthetic set of the benchmark: a third of the
// records are variants, and one new minor in twenty has a twin or a
// sibling born the same day.
var DefaultSynthetic = SyntheticOptions{N: 10000, Seed: 1, DuplicateRate: 0.3, TwinRate: 0.05}

// syntheticNow is the fixed reference date of the synthetic set, so that
// the same seed gives the same records on every day.
var syntheticNow = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

// Synthetic generates the Italian minors of internal/demo with their
// error model (typos, swapped names, a second given name dropped,
// omocodia, day and month swapped, a missing codice fiscale,
// transliterations) and twins and siblings, who are distinct persons.
func Synthetic(o SyntheticOptions) Dataset {
	do := demo.Options{N: o.N, Seed: o.Seed, Now: syntheticNow, DuplicateRate: o.DuplicateRate, TwinRate: o.TwinRate}
	ms := demo.Identities(do)
	ds := Dataset{Name: "synthetic", Policy: demo.Policy(do)}
	twins := 0
	for _, m := range ms {
		ds.Records = append(ds.Records, Record{Truth: strconv.Itoa(m.PersonID), Identity: m.Identity})
		if m.TwinOf != 0 {
			twins++
			ds.Distinct = append(ds.Distinct, [2]string{strconv.Itoa(m.TwinOf), strconv.Itoa(m.PersonID)})
		}
	}
	ds.Notes = []string{
		fmt.Sprintf("%d records, seed %d, duplicate rate %g, twin rate %g", o.N, o.Seed, o.DuplicateRate, o.TwinRate),
		fmt.Sprintf("%d twin or sibling pairs (same surname, birth date and place, another given name): distinct persons", twins),
	}
	return ds
}

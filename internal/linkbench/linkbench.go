// Package linkbench measures how well linkage links: it loads labelled
// data sets (FEBRL 4, the synthetic Italian minors of internal/demo),
// resolves them through a real linkage.Service on a database of its own,
// and scores the persons it got against the ground truth — precision,
// recall and F1 of the automatic links, recall once the steward's review
// queue is counted, and how often two persons known to be distinct (twins,
// siblings) were merged. `sirm bench linkage` and the floors test run it.
package linkbench

import (
	"github.com/toscana/sirm/linkage"
)

// Record is one labelled identity.
type Record struct {
	// Truth is the ground-truth entity: records with the same Truth are
	// the same person.
	Truth    string
	Source   string // the file or batch it came from ("A", "B"), for reports
	Identity linkage.Identity
}

// Dataset is a labelled data set, resolved in the order of its records.
type Dataset struct {
	Name    string
	Records []Record
	// Policy is the validation policy its identities are resolved with.
	Policy linkage.Policy
	// Distinct are pairs of Truth values known to be different persons that
	// look alike (twins and siblings); none of them may be auto-linked.
	Distinct [][2]string
	// Notes say how the loader handled the records it could not map
	// cleanly (a missing birth date, a postcode of another form).
	Notes []string
}

// WithoutResidence returns a copy of d whose identities carry no
// residence: the figures "with names and birth date alone".
func (d Dataset) WithoutResidence() Dataset {
	out := d
	out.Name = d.Name + " (no residence)"
	out.Records = make([]Record, len(d.Records))
	for i, r := range d.Records {
		r.Identity.Residence = linkage.Residence{}
		out.Records[i] = r
	}
	return out
}

// Metrics are the figures of one run. Pairs are unordered pairs of
// records; a predicted pair is two records that ended in the same person.
type Metrics struct {
	Records int
	// Invalid records were refused by validation (a missing surname or
	// birth date): they reach no person, so every true pair they belong to
	// counts as not found.
	Invalid   int
	Persons   int // distinct persons the valid records reached
	TruePairs int // pairs of records of the same Truth
	// ValidPairs are the true pairs whose two records both passed
	// validation: the most any linkage can find, since an invalid record
	// is refused before matching.
	ValidPairs     int
	PredictedPairs int // pairs of records linked to the same person
	// Found are the true pairs linked automatically (true positives).
	Found     int
	Precision float64 // Found / PredictedPairs; 1 when nothing was linked
	Recall    float64 // Found / TruePairs; 1 when there is no true pair
	F1        float64
	// FoundWithReview are the true pairs linked automatically or whose two
	// persons face each other in an open review item.
	FoundWithReview  int
	RecallWithReview float64
	// RecallValid and RecallWithReviewValid are Recall and
	// RecallWithReview over ValidPairs: what the matching itself achieves
	// on the records it was given.
	RecallValid           float64
	RecallWithReviewValid float64
	// OpenReviews is the number of open review items found.
	OpenReviews int
	// DistinctLinked is how many pairs of Dataset.Distinct were merged into
	// one person (by any of their records).
	DistinctLinked int
}

// PersonPair is an unordered pair of persons, as an open review item
// relates them; use MakePersonPair.
type PersonPair struct{ a, b string }

// MakePersonPair returns the pair of p and q in a canonical order.
func MakePersonPair(p, q linkage.PersonID) PersonPair {
	a, b := p.String(), q.String()
	if a > b {
		a, b = b, a
	}
	return PersonPair{a, b}
}

// Score computes the metrics of a run: persons[i] is the person record i
// of truth[i] reached (zero for an invalid record), reviews the person
// pairs of the open review items, distinct the pairs of truths that must
// stay apart.
func Score(truth []string, persons []linkage.PersonID, reviews map[PersonPair]bool, distinct [][2]string) Metrics {
	m := Metrics{Records: len(truth), OpenReviews: len(reviews)}
	type cell struct {
		truth  string
		person linkage.PersonID
	}
	byTruth := map[string][]int{}
	byPerson := map[linkage.PersonID]int{}
	byCell := map[cell]int{}
	for i, t := range truth {
		byTruth[t] = append(byTruth[t], i)
		p := persons[i]
		if p.IsZero() {
			m.Invalid++
			continue
		}
		byPerson[p]++
		byCell[cell{t, p}]++
	}
	m.Persons = len(byPerson)
	for _, idx := range byTruth {
		m.TruePairs += pairs(len(idx))
		valid := 0
		for _, i := range idx {
			if !persons[i].IsZero() {
				valid++
			}
		}
		m.ValidPairs += pairs(valid)
		// Pairs of this truth split across two persons: found through
		// review when those persons face each other in an open item.
		for x := 0; x < len(idx); x++ {
			for y := x + 1; y < len(idx); y++ {
				p, q := persons[idx[x]], persons[idx[y]]
				if !p.IsZero() && !q.IsZero() && p != q && reviews[MakePersonPair(p, q)] {
					m.FoundWithReview++
				}
			}
		}
	}
	for _, n := range byPerson {
		m.PredictedPairs += pairs(n)
	}
	for _, n := range byCell {
		m.Found += pairs(n)
	}
	m.FoundWithReview += m.Found
	m.Precision = ratio(m.Found, m.PredictedPairs)
	m.Recall = ratio(m.Found, m.TruePairs)
	m.RecallWithReview = ratio(m.FoundWithReview, m.TruePairs)
	m.RecallValid = ratio(m.Found, m.ValidPairs)
	m.RecallWithReviewValid = ratio(m.FoundWithReview, m.ValidPairs)
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}

	personsOf := map[string]map[linkage.PersonID]bool{}
	for i, t := range truth {
		if persons[i].IsZero() {
			continue
		}
		if personsOf[t] == nil {
			personsOf[t] = map[linkage.PersonID]bool{}
		}
		personsOf[t][persons[i]] = true
	}
	for _, d := range distinct {
		for p := range personsOf[d[0]] {
			if personsOf[d[1]][p] {
				m.DistinctLinked++
				break
			}
		}
	}
	return m
}

func pairs(n int) int { return n * (n - 1) / 2 }

// ratio is n/d, and 1 for 0/0: no prediction is never a wrong one, and
// nothing to find is all found.
func ratio(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

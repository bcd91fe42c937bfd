package linkbench

import (
	"fmt"
	"strings"
)

// Ceiling counts, among the true pairs of a data set, those that any
// linkage keeping relatives apart could link: pairs whose records agree
// (bigram Dice ≥ CeilingSimilarity on the plain strings) on at least two
// of given name, surname and birth date. A pair agreeing on one of them at
// most (and on the residence) looks exactly like two members of one
// household — a brother with another name and birth date, a mother and
// daughter — and linking it would merge such people wherever they exist.
// Computed on the plain values, which only the benchmark has.
type Ceiling struct {
	Pairs      int // true pairs (records of one Truth, two by two)
	TwoOfThree int // of Pairs, those agreeing on at least two core fields
	ByAgreeing [4]int
	// TwinLike are the pairs of TwoOfThree whose surname and birth date
	// agree (bigram Dice ≥ 0.9) and whose given names do not (< 0.75):
	// what twins look like, which must stay apart.
	TwinLike int
}

// CeilingSimilarity is the bigram Dice from which two values agree.
const CeilingSimilarity = 0.6

// Recall is the share of pairs at least two core fields support.
func (c Ceiling) Recall() float64 { return ratio(c.TwoOfThree, c.Pairs) }

// String describes c in one line.
func (c Ceiling) String() string {
	return fmt.Sprintf("ceiling: %d of %d true pairs (%.4f) agree on at least two of given name, surname and birth date (bigram Dice ≥ %.1f); "+
		"agreeing on 0/1/2/3 of them: %d/%d/%d/%d; of those agreeing on two, %d look like twins (surname and birth date agree, given name not)",
		c.TwoOfThree, c.Pairs, c.Recall(), CeilingSimilarity, c.ByAgreeing[0], c.ByAgreeing[1], c.ByAgreeing[2], c.ByAgreeing[3], c.TwinLike)
}

// ComputeCeiling returns the ceiling of ds.
func ComputeCeiling(ds Dataset) Ceiling {
	byTruth := map[string][]int{}
	for i, r := range ds.Records {
		byTruth[r.Truth] = append(byTruth[r.Truth], i)
	}
	var c Ceiling
	for _, idx := range byTruth {
		for i := range idx {
			for j := i + 1; j < len(idx); j++ {
				a, b := ds.Records[idx[i]].Identity, ds.Records[idx[j]].Identity
				n := 0
				for _, f := range [][2]string{{a.GivenNames, b.GivenNames}, {a.Surname, b.Surname}, {a.BirthDate, b.BirthDate}} {
					if bigramDice(f[0], f[1]) >= CeilingSimilarity {
						n++
					}
				}
				c.Pairs++
				c.ByAgreeing[n]++
				if n >= 2 {
					c.TwoOfThree++
				}
				if bigramDice(a.Surname, b.Surname) >= 0.9 && bigramDice(a.BirthDate, b.BirthDate) >= 0.9 && bigramDice(a.GivenNames, b.GivenNames) < 0.75 {
					c.TwinLike++
				}
			}
		}
	}
	return c
}

// bigramDice is the Dice coefficient of the bigram multisets of a and b,
// lower-cased; 0 when either is empty.
func bigramDice(a, b string) float64 {
	a, b = strings.ToLower(strings.TrimSpace(a)), strings.ToLower(strings.TrimSpace(b))
	if a == "" || b == "" {
		return 0
	}
	grams := func(s string) map[string]int {
		r := []rune(s)
		m := map[string]int{}
		if len(r) == 1 {
			m[s]++
			return m
		}
		for i := 0; i+1 < len(r); i++ {
			m[string(r[i:i+2])]++
		}
		return m
	}
	ga, gb := grams(a), grams(b)
	na, nb, common := 0, 0, 0
	for g, k := range ga {
		na += k
		common += min(k, gb[g])
	}
	for _, k := range gb {
		nb += k
	}
	return 2 * float64(common) / float64(na+nb)
}

package linkage

import (
	"bytes"
	"context"
	"errors"
	"slices"
)

// Fuzzy matching: step 2 of DESIGN.md's Resolution. An identity whose
// strong keys reach nobody is compared with the persons that share one of
// its weak keys (found by one index lookup for the whole batch, at most
// MaxCandidates per identity, so the cost does not grow with the number
// of persons): every stored variant of each candidate is scored (Score),
// and the best score decides — link, review, or a new person.

// Default thresholds, chosen with TestScoreSweepFEBRL and
// TestScoreSweepDemo (in-memory sweeps) and TestFEBRL4 (through the
// store):
//   - FEBRL 4: no wrong best candidate scores above 0.63, so every
//     automatic threshold from 0.65 up has precision 1.000; 0.75 keeps it
//     with a margin;
//   - demo generator: a record with a wrong birth day or month and
//     everything else equal scores 0.70–0.73 whether it is the same minor
//     or a namesake born in the same town the same month (the generator
//     makes both, and so does Tuscany): at 0.70 precision is 0.995, at
//     0.75 0.998. Those go to review, not to an automatic link;
//   - typos, swapped names, day and month swapped, a dropped second given
//     name score 0.80–0.87; siblings and twins (same surname, date and
//     place, another given name) 0.55–0.70: review at most;
//   - 0.55 as the review floor: nearly every blocked true pair scores
//     above it (recall including review flat below 0.55 on both sets).
const (
	DefaultAutoThreshold   = 0.75
	DefaultReviewThreshold = 0.55
	DefaultMaxCandidates   = 100
)

// maxReviewsPerIdentity bounds the possible matches one identity opens.
const maxReviewsPerIdentity = 3

// Candidate is a person that shares weak keys with a submitted identity.
type Candidate struct {
	Person PersonID
	// Kinds are the weak key kinds shared with the identity.
	Kinds []KeyKind
	// Sex is the person's stored sex (M, F or X).
	Sex string
	// Codes are the code kinds (CF, PROV) the person holds.
	Codes []KeyKind
	// Encodings are the person's stored variants.
	Encodings []Encoding
}

// PersonEncoding is the encoding of one variant of a person, as stored.
type PersonEncoding struct {
	Person   PersonID
	Variant  []byte // Encoding.Variant
	Encoding Encoding
}

// Review is a possible match for a data steward: PersonA the existing
// candidate, PersonB the tentative new person.
type Review struct {
	PersonA, PersonB PersonID
	Score            float64
	Evidence         Evidence
}

type fuzzyConfig struct {
	bloom         *BloomEncoder
	auto, review  float64
	maxCandidates int
}

func newFuzzyConfig(cfg Config) (*fuzzyConfig, error) {
	b, err := NewBloomEncoder(cfg.BloomKey)
	if err != nil {
		return nil, err
	}
	f := &fuzzyConfig{bloom: b, auto: cfg.AutoThreshold, review: cfg.ReviewThreshold, maxCandidates: cfg.MaxCandidates}
	if f.auto == 0 {
		f.auto = DefaultAutoThreshold
	}
	if f.review == 0 {
		f.review = DefaultReviewThreshold
	}
	if f.maxCandidates == 0 {
		f.maxCandidates = DefaultMaxCandidates
	}
	if f.review > f.auto || f.review <= 0 || f.auto > 1 || f.maxCandidates < 0 {
		return nil, errors.New("linkage: want 0 < review threshold ≤ automatic threshold ≤ 1 and candidates ≥ 0")
	}
	return f, nil
}

// batchIndex holds the persons created or reached earlier in a batch,
// which the store does not know yet, so that two variants of one new
// person in one batch meet.
type batchIndex struct {
	byKey map[string][]PersonID
	encs  map[PersonID][]*Encoding
	sex   map[PersonID]string
}

func newBatchIndex() *batchIndex {
	return &batchIndex{byKey: map[string][]PersonID{}, encs: map[PersonID][]*Encoding{}, sex: map[PersonID]string{}}
}

func (b *batchIndex) add(p *prepared, person PersonID) {
	if p.enc == nil {
		return
	}
	for _, d := range p.weak {
		if !slices.Contains(b.byKey[d.id()], person) {
			b.byKey[d.id()] = append(b.byKey[d.id()], person)
		}
	}
	b.encs[person] = append(b.encs[person], p.enc)
	if _, ok := b.sex[person]; !ok {
		b.sex[person] = p.attrs.Sex
	}
}

// candidates finds, in one store call, the candidates of every prepared
// identity that no strong key resolves; by index into preps.
func (s *Service) candidates(ctx context.Context, preps []prepared, owners map[string]PersonID, holds func(PersonID, KeyKind) bool) (map[int][]Candidate, error) {
	var (
		need []*prepared
		at   []int
	)
	for i := range preps {
		p := &preps[i]
		if p.norm == nil {
			continue
		}
		if person, _ := choose(*p, owners, holds); person.IsZero() {
			need = append(need, p)
			at = append(at, i)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	if err := s.weakDigests(ctx, need); err != nil {
		return nil, err
	}
	queries := make([][]Digest, len(need))
	for j, p := range need {
		queries[j] = p.weak
	}
	found, err := s.store.FindCandidates(ctx, queries, s.fuzzy.maxCandidates)
	if err != nil {
		return nil, err
	}
	out := make(map[int][]Candidate, len(need))
	for j, cs := range found {
		out[at[j]] = cs
	}
	return out, nil
}

// scored is a candidate's best score over its variants.
type scored struct {
	person   PersonID
	score    float64
	evidence Evidence
	conflict bool // holds a code of the kind the identity brings
}

// match decides the person of p among its candidates (from the store and
// from the batch): a person to link (zero when none) and the reviews to
// open against the new person otherwise. codes reports the code kinds a
// person holds, including those it received earlier in the batch.
func (f *fuzzyConfig) match(p *prepared, stored []Candidate, batch *batchIndex, codes func(PersonID, KeyKind) bool) (PersonID, []Review) {
	if p.enc == nil {
		return PersonID{}, nil
	}
	type cand struct {
		kinds []KeyKind
		sex   string
		encs  []*Encoding
	}
	all := map[PersonID]*cand{}
	var order []PersonID
	get := func(id PersonID) *cand {
		c, ok := all[id]
		if !ok {
			c = &cand{}
			all[id] = c
			order = append(order, id)
		}
		return c
	}
	for i := range stored {
		sc := &stored[i]
		c := get(sc.Person)
		c.kinds, c.sex = append(c.kinds, sc.Kinds...), sc.Sex
		for j := range sc.Encodings {
			c.encs = append(c.encs, &sc.Encodings[j])
		}
	}
	for _, d := range p.weak {
		for _, id := range batch.byKey[d.id()] {
			c := get(id)
			if !slices.Contains(c.kinds, d.Kind) {
				c.kinds = append(c.kinds, d.Kind)
			}
		}
	}
	for _, id := range order {
		if encs, ok := batch.encs[id]; ok {
			c := all[id]
			c.encs = append(c.encs, encs...)
			if c.sex == "" {
				c.sex = batch.sex[id]
			}
		}
	}
	var kinds []KeyKind
	for _, d := range p.weak {
		if !slices.Contains(kinds, d.Kind) {
			kinds = append(kinds, d.Kind)
		}
	}
	code, hasCode := p.code()
	var results []scored
	for _, id := range order {
		c := all[id]
		best := scored{person: id, score: -1}
		for _, e := range c.encs {
			if sc, ev := Score(p.enc, e, kinds, c.kinds, p.attrs.Sex, c.sex); sc > best.score {
				best.score, best.evidence = sc, ev
			}
		}
		if best.score < f.review {
			continue
		}
		best.conflict = hasCode && codes(id, code.Kind)
		results = append(results, best)
	}
	// Best first; ties by person, so the outcome does not depend on map
	// or row order.
	slices.SortFunc(results, func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.person.b[:], b.person.b[:])
	})
	if len(results) > 0 && results[0].score >= f.auto && !results[0].conflict {
		return results[0].person, nil
	}
	var reviews []Review
	for _, r := range results[:min(len(results), maxReviewsPerIdentity)] {
		reviews = append(reviews, Review{PersonA: r.person, Score: r.score, Evidence: r.evidence})
	}
	return PersonID{}, reviews
}

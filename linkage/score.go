package linkage

import (
	"math"
	"slices"
)

// Evidence is what a score was made of: pseudonymous only (similarities,
// key kinds, sex agreement), so that a steward can judge a possible match
// without seeing a name or a date.
type Evidence struct {
	// Fields holds the Dice similarity of each field both sides have;
	// Present says which those are.
	Fields  [NumFields]float64
	Present [NumFields]bool
	// Swapped is true when surname and given names matched crosswise.
	Swapped bool
	// Keys are the weak key kinds the two share, in KeyKinds order.
	Keys []KeyKind
	Sex  SexAgreement
}

// Review returns the evidence as a review holds it: the similarity of
// each present field, rounded to two decimals, and the shared kinds.
func (e Evidence) Review() ReviewEvidence {
	r := ReviewEvidence{Similarity: map[string]float64{}, KeysAgree: slices.Clone(e.Keys)}
	for f := range Field(NumFields) {
		if e.Present[f] {
			r.Similarity[f.String()] = math.Round(e.Fields[f]*100) / 100
		}
	}
	return r
}

// Score weights. The score of a candidate is
//
//	0.85 · F + 0.15 · K − 0.10 · [sexes differ]
//
// where F is the weighted mean of the per-field similarities over the
// fields both sides have (missing fields are left out and the weights of
// the others re-normalised), each name similarity squared, and K the share
// of the identity's weak key kinds the candidate shares, counting only
// the kinds that hold both names and the date (not PND, PCN, PCD).
//
// Why: birth date and names carry nearly all the evidence (weights 0.3,
// 0.25, 0.25), birth place and residence confirm (0.1 each: residence
// changes, birth place is often missing). Squaring the name similarities
// separates the partial similarity of two different given names of
// siblings and twins (MARCO / MARIO: Dice 0.5, counted 0.25) from a typo
// (ROSSI / ROSI: 0.91, counted 0.83). A birth date with one component
// wrong keeps 3 or 4 of its 8 tokens (Dice 0.38–0.5) and is not boosted:
// namesakes born in the same town in the same month are common enough
// (the demo generator's homonyms scored up to 0.87 when it was) that such
// a difference goes to review, unless other fields confirm. The shared weak keys add the
// evidence of which errors explain the difference, and a sex coded M on
// one side and F on the other lowers the score without vetoing it (a
// miscoded sex is a common error). Names are compared crosswise as well
// (surname against given names), and the better pairing is used, so that
// swapped names still score high.
var fieldWeights = [NumFields]float64{
	FieldSurname: 0.25, FieldGivenNames: 0.25, FieldBirthDate: 0.30, FieldBirthPlace: 0.10, FieldResidence: 0.10,
}

const (
	fieldShare = 0.85
	keyShare   = 0.15
	sexPenalty = 0.10
	// swappedDateSim is what a birth date with day and month swapped
	// counts for.
	swappedDateSim = 0.9
)

// Score compares the encoding of a submitted identity with one of a
// candidate's. kinds are the distinct weak key kinds the identity has,
// shared those the candidate has too; sexA and sexB are M, F or X.
// It returns a score in [−0.1, 1] and its evidence.
func Score(a, b *Encoding, kinds, shared []KeyKind, sexA, sexB string) (float64, Evidence) {
	var ev Evidence
	for f := range Field(NumFields) {
		ev.Fields[f], ev.Present[f] = a.Sim(b, f)
	}
	// Crosswise names: only when both sides have both.
	if ev.Present[FieldSurname] && ev.Present[FieldGivenNames] {
		sg := DiceCounts(&a.Filters[FieldSurname], &b.Filters[FieldGivenNames], int(a.Counts[FieldSurname]), int(b.Counts[FieldGivenNames]))
		gs := DiceCounts(&a.Filters[FieldGivenNames], &b.Filters[FieldSurname], int(a.Counts[FieldGivenNames]), int(b.Counts[FieldSurname]))
		if sg+gs > ev.Fields[FieldSurname]+ev.Fields[FieldGivenNames] {
			ev.Fields[FieldSurname], ev.Fields[FieldGivenNames], ev.Swapped = sg, gs, true
		}
	}
	// A shared DMS key means equal names and year and the same day and
	// month, swapped: an error far likelier than a namesake born on the
	// swapped date, so the date counts as nearly equal.
	swappedDate := slices.Contains(shared, KindDMS)
	var sum, weights float64
	for f := range Field(NumFields) {
		if !ev.Present[f] {
			continue
		}
		s := ev.Fields[f]
		switch f {
		case FieldSurname, FieldGivenNames:
			s *= s
		case FieldBirthDate:
			if swappedDate {
				s = max(s, swappedDateSim)
			}
		}
		sum += fieldWeights[f] * s
		weights += fieldWeights[f]
	}
	var fields float64
	if weights > 0 {
		fields = sum / weights
	}
	for _, k := range KeyKinds {
		if slices.Contains(shared, k) {
			ev.Keys = append(ev.Keys, k)
		}
	}
	// Only the kinds that hold both names and the date count: the broad
	// kinds (PND, PCN, PCD) hold one name or none, so twins and siblings
	// born together (and living together) share them; they propose
	// candidates and are reported as evidence, but do not raise the score.
	var keys float64
	if n := countScored(kinds); n > 0 {
		keys = float64(countScored(ev.Keys)) / float64(n)
	}
	score := fieldShare*fields + keyShare*keys
	switch {
	case sexA == "X" || sexB == "X" || sexA == "" || sexB == "":
		ev.Sex = SexUnknown
	case sexA == sexB:
		ev.Sex = SexSame
	default:
		ev.Sex = SexDifferent
		score -= sexPenalty
	}
	return score, ev
}

// scoredKind reports whether a shared key of kind k counts in the key part
// of the score: the broad kinds, which hold one name or none, do not.
func scoredKind(k KeyKind) bool {
	return k != KindPND && k != KindPCN && k != KindPCD
}

// countScored counts the distinct kinds of ks that count in the score.
func countScored(ks []KeyKind) int {
	n := 0
	for i, k := range ks {
		if scoredKind(k) && !slices.Contains(ks[:i], k) {
			n++
		}
	}
	return n
}

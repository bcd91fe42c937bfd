package linkage

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// scoreKinds returns the distinct weak kinds of a and those b shares.
func scoreKinds(a, b Normalized) (kinds, shared []KeyKind) {
	bv := b.KeyValues()
	for _, kv := range a.KeyValues() {
		if kv.Kind.Strong() {
			continue
		}
		if !slices.Contains(kinds, kv.Kind) {
			kinds = append(kinds, kv.Kind)
		}
		if slices.Contains(bv, kv) && !slices.Contains(shared, kv.Kind) {
			shared = append(shared, kv.Kind)
		}
	}
	return kinds, shared
}

// TestScoreBroadKindsNotCounted: twins living together share the broad
// kinds (PND on the surname, PCN, PCD); they are reported as evidence but
// do not raise the score, which stays below the automatic threshold.
func TestScoreBroadKindsNotCounted(t *testing.T) {
	e := testEncoder(t)
	res := Residence{Postcode: "50100"}
	mario := normalized(t, Identity{Surname: "Rossi", GivenNames: "Mario", BirthDate: "2014-03-12", Sex: "M", BirthPlace: "D612", Residence: res})
	marco := normalized(t, Identity{Surname: "Rossi", GivenNames: "Marco", BirthDate: "2014-03-12", Sex: "M", BirthPlace: "D612", Residence: res})
	a, b := e.Encode(marco), e.Encode(mario)
	kinds, shared := scoreKinds(marco, mario)
	for _, k := range []KeyKind{KindPND, KindPCN, KindPCD} {
		assert.Contains(t, shared, k)
	}
	s, ev := Score(&a, &b, kinds, shared, "M", "M")
	assert.Less(t, s, DefaultAutoThreshold)
	assert.Contains(t, ev.Keys, KindPND)

	narrow := func(ks []KeyKind) []KeyKind {
		return slices.DeleteFunc(slices.Clone(ks), func(k KeyKind) bool { return k == KindPND || k == KindPCN || k == KindPCD })
	}
	s2, _ := Score(&a, &b, narrow(kinds), narrow(shared), "M", "M")
	assert.InDelta(t, s2, s, 1e-12)
}

// TestScorePatterns: the name rules of Score on pairs of one minor and
// pairs of two.
func TestScorePatterns(t *testing.T) {
	e := testEncoder(t)
	res := Residence{Postcode: "50127", Locality: "Firenze"}
	base := Identity{Surname: "Bastiani", GivenNames: "Giulia", BirthDate: "2014-03-12", Sex: "X", BirthPlace: "D612", Residence: res}
	with := func(f func(*Identity)) Identity {
		id := base
		f(&id)
		return id
	}
	score := func(a, b Identity) float64 {
		na, nb := normalized(t, a), normalized(t, b)
		ea, eb := e.Encode(na), e.Encode(nb)
		kinds, shared := scoreKinds(na, nb)
		s, _ := Score(&ea, &eb, kinds, shared, na.Sex, nb.Sex)
		return s
	}
	same := []struct {
		name string
		id   Identity
	}{
		{"typos in both names", with(func(id *Identity) { id.Surname, id.GivenNames = "Bastiano", "Giullia" })},
		{"surname changed, residence agrees", with(func(id *Identity) { id.Surname = "Morelli" })},
	}
	for _, c := range same {
		assert.GreaterOrEqual(t, score(base, c.id), DefaultAutoThreshold, c.name)
	}
	apart := []struct {
		name string
		a, b Identity
	}{
		{"twins Giulia and Giulio", with(func(id *Identity) { id.Sex = "F" }), with(func(id *Identity) { id.GivenNames, id.Sex = "Giulio", "M" })},
		{"twins Chiara and Clara", with(func(id *Identity) { id.GivenNames = "Chiara" }), with(func(id *Identity) { id.GivenNames = "Clara" })},
		{"another surname, no residence", with(func(id *Identity) { id.Residence = Residence{} }),
			with(func(id *Identity) { id.Surname, id.Residence = "Morelli", Residence{} })},
		{"another surname, another residence", base, with(func(id *Identity) {
			id.Surname, id.Residence = "Morelli", Residence{Postcode: "56121", Locality: "Pisa"}
		})},
		{"names crosswise, one differs", base, with(func(id *Identity) { id.Surname, id.GivenNames = "Giulia", "Morelli" })},
	}
	for _, c := range apart {
		assert.Less(t, score(c.a, c.b), DefaultAutoThreshold, c.name)
	}
}

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

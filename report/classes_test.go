package report

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAgeClassOf(t *testing.T) {
	cases := []struct {
		age  int
		want string
	}{
		{0, "0-2"}, {2, "0-2"}, {3, "3-5"}, {5, "3-5"}, {6, "6-10"}, {10, "6-10"},
		{11, "11-13"}, {13, "11-13"}, {14, "14-17"}, {17, "14-17"}, {18, "18-21"}, {21, "18-21"},
	}
	for _, c := range cases {
		got, err := AgeClassOf(c.age)
		require.NoError(t, err)
		assert.Equal(t, c.want, got.String(), "age %d", c.age)
	}
	for _, age := range []int{-1, 22, 40} {
		_, err := AgeClassOf(age)
		assert.ErrorIs(t, err, ErrAgeOutOfRange)
	}
	assert.Equal(t, "?", AgeClass(0).String())
	d := AgeClassDimension()
	require.Len(t, d.Categories, 6)
	assert.Equal(t, "14-17", d.Categories[4].Code)
}

func TestAgeAt(t *testing.T) {
	ref := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, 10, AgeAt(2016, 5, ref))
	assert.Equal(t, 10, AgeAt(2016, 6, ref), "birth month: birthday counted as passed")
	assert.Equal(t, 9, AgeAt(2016, 7, ref))
	assert.Equal(t, 0, AgeAt(2026, 1, ref))
}

func TestCitizenshipGroupOf(t *testing.T) {
	cases := []struct {
		name          string
		iso           int
		unaccompanied bool
		want          CitizenshipGroup
	}{
		{"italian", 380, false, Italian},
		{"italianNeverMSNA", 380, true, Italian},
		{"foreign", 8, false, Foreign},
		{"msna", 8, true, UnaccompaniedForeign},
		{"msnaUnknownCountry", 0, true, UnaccompaniedForeign},
		{"unknown", 0, false, CitizenshipUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, CitizenshipGroupOf(c.iso, c.unaccompanied))
		})
	}
	d := CitizenshipDimension()
	assert.Equal(t, []string{"italian", "foreign", "unaccompanied_foreign", "unknown"},
		[]string{d.Categories[0].Code, d.Categories[1].Code, d.Categories[2].Code, d.Categories[3].Code})
}

func TestCross(t *testing.T) {
	d := Cross(SexDimension(), PlacementDimension())
	require.Len(t, d.Categories, 6)
	assert.Equal(t, "F|judicial", d.Categories[3].Code)
	assert.Equal(t, "Femmine – Giudiziale", d.Categories[3].Label.IT)
	assert.Equal(t, 3, d.Index("F|judicial"))
	assert.Equal(t, -1, d.Index("nope"))
}

func TestCheckKAnonymity(t *testing.T) {
	a := QuasiIdentifiers{Zone: "Z01", Sex: "F", AgeClass: Age14to17, Citizenship: Italian}
	b := QuasiIdentifiers{Zone: "Z01", Sex: "M", AgeClass: Age14to17, Citizenship: UnaccompaniedForeign}
	c := QuasiIdentifiers{Zone: "Z02", Sex: "M", AgeClass: Age0to2, Citizenship: Foreign}
	rep := func(q QuasiIdentifiers, n int) []QuasiIdentifiers {
		out := make([]QuasiIdentifiers, n)
		for i := range out {
			out[i] = q
		}
		return out
	}
	t.Run("empty", func(t *testing.T) { assert.NoError(t, CheckKAnonymity(nil, 3)) })
	t.Run("allAtLeastK", func(t *testing.T) {
		assert.NoError(t, CheckKAnonymity(append(rep(a, 3), rep(b, 5)...), 3))
	})
	t.Run("refused", func(t *testing.T) {
		recs := append(append(rep(a, 3), rep(b, 2)...), rep(c, 1)...)
		err := CheckKAnonymity(recs, 0) // default k = 3
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNotKAnonymous)
		var ke *KAnonymityError
		require.True(t, errors.As(err, &ke))
		assert.Equal(t, KAnonymityError{K: 3, Combinations: 2, Records: 3}, *ke)
		assert.NotContains(t, err.Error(), "Z02", "the message names no combination")
	})
	t.Run("largerK", func(t *testing.T) {
		err := CheckKAnonymity(append(rep(a, 3), rep(b, 5)...), 5)
		var ke *KAnonymityError
		require.ErrorAs(t, err, &ke)
		assert.Equal(t, 1, ke.Combinations)
	})
}

func TestGeneralise(t *testing.T) {
	ref := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	q, err := Generalise("Z07", "F", 2011, 3, ref, 8, true)
	require.NoError(t, err)
	assert.Equal(t, QuasiIdentifiers{Zone: "Z07", Sex: "F", AgeClass: Age14to17, Citizenship: UnaccompaniedForeign}, q)
	_, err = Generalise("Z07", "M", 2000, 1, ref, 380, false)
	assert.ErrorIs(t, err, ErrAgeOutOfRange)
}

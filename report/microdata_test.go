package report

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckMicrodata(t *testing.T) {
	rec := func(person, zone string) MicroRecord {
		return MicroRecord{Person: person, Setting: "residential", Zone: zone, Sex: "F", AgeClass: Age14to17, Citizenship: Foreign}
	}
	three := []MicroRecord{rec("a", "PISANA"), rec("b", "PISANA"), rec("c", "PISANA")}
	assert.NoError(t, CheckMicrodata(three, 3))

	// A minor in two settings is one minor of the combination, not two.
	twice := []MicroRecord{rec("a", "PISANA"), rec("b", "PISANA"), rec("b", "PISANA")}
	twice[2].Setting = "foster_care"
	err := CheckMicrodata(twice, 3)
	var ke *KAnonymityError
	require.True(t, errors.As(err, &ke), "%v", err)
	assert.Equal(t, 1, ke.Combinations)
	assert.Equal(t, 2, ke.Records)
	assert.NotContains(t, err.Error(), "PISANA", "the error does not say which combination")

	// Two zones of two minors each fail; the Region has four.
	four := []MicroRecord{rec("a", "PISANA"), rec("b", "PISANA"), rec("c", "APUANE"), rec("d", "APUANE")}
	require.ErrorIs(t, CheckMicrodata(four, 3), ErrNotKAnonymous)
	GeneraliseToRegion(four)
	assert.NoError(t, CheckMicrodata(four, 3))
	assert.Equal(t, RegionZone, four[3].Zone)
	assert.NoError(t, CheckMicrodata(nil, 3))
}

func TestParseClasses(t *testing.T) {
	for _, c := range AgeClasses {
		got, err := ParseAgeClass(c.String())
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	for _, g := range CitizenshipGroups {
		got, err := ParseCitizenshipGroup(g.String())
		require.NoError(t, err)
		assert.Equal(t, g, got)
	}
	_, err := ParseAgeClass("22-30")
	assert.Error(t, err)
	_, err = ParseCitizenshipGroup("martian")
	assert.Error(t, err)
}

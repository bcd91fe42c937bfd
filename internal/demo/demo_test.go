package demo

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/linkage"
)

var refDate = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

func TestIdentitiesDeterministic(t *testing.T) {
	o := Options{N: 500, Seed: 7, Now: refDate, DuplicateRate: 0.3}
	a, b := Identities(o), Identities(o)
	require.Len(t, a, 500)
	assert.Equal(t, a, b)

	o.Seed = 8
	assert.NotEqual(t, a, Identities(o), "another seed, other records")
	assert.Nil(t, Identities(Options{N: 0, Seed: 7, Now: refDate}))
}

func TestIdentitiesValid(t *testing.T) {
	o := Options{N: 5000, Seed: 1, Now: refDate, DuplicateRate: 0.3}
	policy := linkage.Policy{MaxAgeYears: 21, Now: func() time.Time { return o.Now }}
	seen := map[int]bool{}
	for i, m := range Identities(o) {
		firstRecord := !seen[m.PersonID]
		seen[m.PersonID] = true
		n, err := linkage.Normalize(m.Identity, policy)
		if !assert.NoError(t, err, "record %d (%s)", i, m.Profile) {
			continue
		}
		age := refDate.Year() - n.BirthDate.Year()
		if refDate.YearDay() < n.BirthDate.YearDay() {
			age--
		}
		assert.LessOrEqual(t, age, 21, "record %d", i)
		if m.Profile == ProfileItalian {
			assert.Equal(t, "380", n.Citizenship)
			if firstRecord { // a duplicate may have lost its code
				assert.NotEmpty(t, n.CF)
			}
		}
		if m.Profile == ProfileMSNA && n.BirthPlace != "" {
			assert.Equal(t, byte('Z'), n.BirthPlace[0], "MSNA born abroad")
		}
	}
}

// TestIdentitiesShares checks the distinct minors (no duplicates) against
// the designed shares, with tolerances far above the sampling error of
// 20 000 records.
func TestIdentitiesShares(t *testing.T) {
	o := Options{N: 20000, Seed: 3, Now: refDate}
	ms := Identities(o)
	policy := Policy(o)

	profiles := map[string]int{}
	codes := map[string]map[string]int{}
	var males, sexes, msnaMales, msnaAll, cfs, omocodia, minors int
	for _, m := range ms {
		profiles[m.Profile]++
		n, err := linkage.Normalize(m.Identity, policy)
		require.NoError(t, err)
		kind := codeNone
		switch {
		case n.CF != "":
			kind = codeCF
			cfs++
			if n.CF != m.Identity.CodiceFiscale {
				omocodia++
			}
		case n.Provisional != "":
			kind = codeProv
		}
		if codes[m.Profile] == nil {
			codes[m.Profile] = map[string]int{}
		}
		codes[m.Profile][kind]++
		if n.Sex != "X" {
			sexes++
			if n.Sex == "M" {
				males++
			}
		}
		if m.Profile == ProfileMSNA {
			msnaAll++
			if n.Sex == "M" {
				msnaMales++
			}
		}
		if n.BirthDate.After(refDate.AddDate(-18, 0, 0)) {
			minors++
		}
	}

	share := func(part, whole int) float64 { return float64(part) / float64(whole) }
	for _, p := range profileShares {
		assert.InDelta(t, p.w, share(profiles[p.v], len(ms)), 0.02, "profile %s", p.v)
	}
	for profile, want := range codeShares {
		for _, c := range []string{codeCF, codeProv, codeNone} {
			expected := 0.0
			for _, it := range want {
				if it.v == c {
					expected = it.w
				}
			}
			assert.InDelta(t, expected, share(codes[profile][c], profiles[profile]), 0.04, "%s %s", profile, c)
		}
	}
	assert.InDelta(t, 0.52, share(males, sexes), 0.02, "male share overall")
	assert.InDelta(t, 0.90, share(msnaMales, msnaAll), 0.04, "male share among MSNA")
	assert.InDelta(t, omocodiaShare, share(omocodia, cfs), 0.01, "omocodia share")
	assert.Greater(t, share(minors, len(ms)), 0.9, "mostly minors")
}

func TestIdentitiesDuplicates(t *testing.T) {
	o := Options{N: 4000, Seed: 5, Now: refDate, DuplicateRate: 0.3}
	ms := Identities(o)
	policy := Policy(o)

	first := map[int]Minor{}
	next := 1
	var dups, linked int
	for _, m := range ms {
		f, seen := first[m.PersonID]
		if !seen {
			require.Equal(t, next, m.PersonID, "person ids are assigned in order")
			next++
			first[m.PersonID] = m
			continue
		}
		dups++
		assert.Equal(t, f.Profile, m.Profile)
		assert.NotEqual(t, f.Identity, m.Identity, "a duplicate is a variant, not a copy")
		if shareKey(t, policy, f.Identity, m.Identity) {
			linked++
		}
	}
	assert.InDelta(t, 0.3, float64(dups)/float64(len(ms)), 0.03, "duplicate share")
	// The match keys are designed to survive one error each: nearly every
	// variant must still share a key with its first record.
	assert.Greater(t, float64(linked)/float64(dups), 0.99, "variants sharing a match key")
}

func shareKey(t *testing.T, p linkage.Policy, a, b linkage.Identity) bool {
	t.Helper()
	na, err := linkage.Normalize(a, p)
	require.NoError(t, err)
	nb, err := linkage.Normalize(b, p)
	require.NoError(t, err)
	keys := map[linkage.KeyValue]bool{}
	for _, kv := range na.KeyValues() {
		keys[kv] = true
	}
	for _, kv := range nb.KeyValues() {
		if keys[kv] {
			return true
		}
	}
	return false
}

func TestWriteCSV(t *testing.T) {
	ms := Identities(Options{N: 50, Seed: 9, Now: refDate, DuplicateRate: 0.2})
	for _, withTruth := range []bool{false, true} {
		t.Run("withTruth"+strconv.FormatBool(withTruth), func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteCSV(&buf, ms, withTruth))
			recs, err := csv.NewReader(&buf).ReadAll()
			require.NoError(t, err)
			require.Len(t, recs, len(ms)+1)
			header := "codice_fiscale,surname,given_names,birth_date,sex,birth_place,citizenship"
			if withTruth {
				header += ",person_id"
			}
			assert.Equal(t, header, strings.Join(recs[0], ","))
			for i, m := range ms {
				r := recs[i+1]
				id := m.Identity
				want := []string{id.CodiceFiscale, id.Surname, id.GivenNames, id.BirthDate, id.Sex, id.BirthPlace, id.Citizenship}
				if withTruth {
					want = append(want, strconv.Itoa(m.PersonID))
				}
				assert.Equal(t, want, r)
			}
		})
	}
	assert.Len(t, csvHeader, 7, "WriteCSV must not grow the shared header")
}

func TestProvisionalCheckDigit(t *testing.T) {
	// 00743110157 and 01234567897 are valid (checked by hand in linkage's
	// tests); the generator's own copy of the algorithm must agree.
	assert.Equal(t, byte('7'), provisionalCheckDigit("0074311015"))
	assert.Equal(t, byte('7'), provisionalCheckDigit("0123456789"))
}

func TestToTitle(t *testing.T) {
	assert.Equal(t, "D'Angelo", toTitle("D'ANGELO"))
	assert.Equal(t, "De Luca", toTitle("DE LUCA"))
	assert.Equal(t, "Niccolò", toTitle("NICCOLÒ"))
	assert.Equal(t, "Ben-Ali", toTitle("BEN-ALI"))
}

func TestIdentitiesTwins(t *testing.T) {
	o := Options{N: 4000, Seed: 11, Now: refDate, DuplicateRate: 0.2, TwinRate: 0.1}
	ms := Identities(o)
	policy := Policy(o)
	first := map[int]Minor{}
	twins := 0
	for _, m := range ms {
		_, err := linkage.Normalize(m.Identity, policy)
		require.NoError(t, err)
		if _, seen := first[m.PersonID]; seen {
			continue
		}
		first[m.PersonID] = m
		if m.TwinOf == 0 {
			continue
		}
		twins++
		base, ok := first[m.TwinOf]
		require.True(t, ok, "a twin's sibling comes first")
		assert.Zero(t, base.TwinOf, "no twin of a twin")
		assert.NotEqual(t, base.PersonID, m.PersonID)
		assert.True(t, strings.EqualFold(base.Identity.Surname, m.Identity.Surname), "same surname")
		assert.Equal(t, base.Identity.BirthDate, m.Identity.BirthDate, "same birth date")
		assert.Equal(t, base.Identity.BirthPlace, m.Identity.BirthPlace, "same birth place")
		assert.False(t, strings.EqualFold(base.Identity.GivenNames, m.Identity.GivenNames), "another given name")
		if base.Identity.CodiceFiscale != "" {
			assert.NotEqual(t, base.Identity.CodiceFiscale, m.Identity.CodiceFiscale, "another code")
		}
	}
	// About 10% of the ~3200 distinct minors.
	assert.InDelta(t, 320, twins, 80, "twins")
}

func TestIdentitiesTransliterations(t *testing.T) {
	o := Options{N: 20000, Seed: 3, Now: refDate, DuplicateRate: 0.4}
	first := map[int]Minor{}
	respelled := 0
	for _, m := range Identities(o) {
		f, seen := first[m.PersonID]
		if !seen {
			first[m.PersonID] = m
			continue
		}
		if strings.EqualFold(f.Identity.GivenNames, m.Identity.GivenNames) {
			continue
		}
		for _, group := range transliterations {
			if slices.ContainsFunc(group, func(s string) bool { return strings.EqualFold(s, f.Identity.GivenNames) }) &&
				slices.ContainsFunc(group, func(s string) bool { return strings.EqualFold(s, m.Identity.GivenNames) }) {
				respelled++
			}
		}
	}
	assert.Greater(t, respelled, 10, "variants respelling MOHAMED as MUHAMMAD and the like")
}

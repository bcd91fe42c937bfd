package linkage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedNow is the reference day of the identity tests.
func fixedNow() time.Time { return time.Date(2026, 3, 15, 10, 0, 0, 0, time.FixedZone("CET", 3600)) }

var minorsPolicy = Policy{MaxAgeYears: 21, Now: fixedNow}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name, in, want, reason string
	}{
		{"apostrophe", "D'Angelo", "D ANGELO", ""},
		{"typographicApostrophe", "D’Angelo", "D ANGELO", ""},
		{"graveAccent", "Niccolò", "NICCOLO", ""},
		{"decomposedAccent", "Nicc" + "o\u0300" + "lo", "NICCOLO", ""},
		{"spacesFolded", "  de   luca ", "DE LUCA", ""},
		{"umlautsAndHyphen", "Müller-Lüdenscheidt", "MULLER LUDENSCHEIDT", ""},
		{"dots", "St. John", "ST JOHN", ""},
		{"romanianCommaBelow", "Ștefan Răzvan", "STEFAN RAZVAN", ""},
		{"sharpS", "Weiß", "WEISS", ""},
		{"slashedO", "Søren", "SOREN", ""},
		{"polishL", "Łukasz", "LUKASZ", ""},
		{"spanishN", "Núñez", "NUNEZ", ""},
		{"fullWidth", "ＲＯＳＳＩ", "ROSSI", ""},
		{"tabsAndNewlines", "Maria\tChiara\n", "MARIA CHIARA", ""},
		{"digits", "Rossi2", "", "must not contain digits"},
		{"symbol", "Rossi@", "", "must contain only letters, spaces, apostrophes, hyphens and dots"},
		{"cyrillic", "Шевченко", "", "must contain only letters, spaces, apostrophes, hyphens and dots"},
		{"empty", "", "", "is required"},
		{"blank", "   ", "", "is required"},
		{"onlyPunctuation", "'-.", "", "must contain letters"},
		{"tooLong", strings.Repeat("A", 101), "", "is longer than 100 characters"},
		{"longestAccepted", strings.Repeat("A", 100), strings.Repeat("A", 100), ""},
		{"tooLongRaw", strings.Repeat("a ", 300), "", "is longer than 100 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := normalizeName(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.reason, reason)
		})
	}
}

func TestNormalize(t *testing.T) {
	id := Identity{
		CodiceFiscale: "dngncl12e20g999f",
		Surname:       " d'Angelo ",
		GivenNames:    "Niccolò  Maria",
		BirthDate:     "2012-05-20",
		Sex:           "m",
		BirthPlace:    "g999",
		Citizenship:   "380",
		Residence:     Residence{Municipality: "048017", Postcode: "50121", Locality: "Firenze – Centro"},
	}
	n, err := Normalize(id, minorsPolicy)
	require.NoError(t, err)
	assert.Equal(t, Normalized{
		CF:          cfDAngelo,
		Surname:     "D ANGELO",
		GivenNames:  []string{"NICCOLO", "MARIA"},
		BirthDate:   time.Date(2012, 5, 20, 0, 0, 0, 0, time.UTC),
		Sex:         "M",
		BirthPlace:  "G999",
		Citizenship: "380",
		Residence:   Residence{Municipality: "048017", Postcode: "50121", Locality: "FIRENZE CENTRO"},
	}, n)
}

func TestNormalizeBirthDate(t *testing.T) {
	base := Identity{Surname: "Rossi", GivenNames: "Luca", Sex: "M"}
	tests := []struct {
		name   string
		date   string
		policy Policy
		reason string // "" = accepted
	}{
		{"today", "2026-03-15", minorsPolicy, ""},
		{"tomorrow", "2026-03-16", minorsPolicy, "must not be in the future"},
		{"twentyOneToday", "2005-03-15", minorsPolicy, ""},                                        // 21 full years: accepted
		{"twentyTwoToday", "2004-03-15", minorsPolicy, "is older than the age limit of 21 years"}, // 22: rejected
		{"twentyTwoTomorrow", "2004-03-16", minorsPolicy, ""},                                     // still 21
		{"noLimit", "1950-06-01", Policy{Now: fixedNow}, ""},                                      // FEBRL: adults
		{"before1900", "1899-12-31", Policy{Now: fixedNow}, "must not be before 1900"},            // no limit, still
		{"notADate", "2012-02-30", minorsPolicy, "must be a real date in the form YYYY-MM-DD"},    // 30 February
		{"wrongFormat", "15/03/2012", minorsPolicy, "must be a real date in the form YYYY-MM-DD"}, //
		{"noZeroPadding", "2012-3-5", minorsPolicy, "must be a real date in the form YYYY-MM-DD"}, //
		{"leapDay", "2012-02-29", minorsPolicy, ""},                                               //
		{"missing", "", minorsPolicy, "is required"},                                              //
		{"defaultNow", "2012-02-29", Policy{MaxAgeYears: 21}, ""},                                 // time.Now
		{"defaultNowFuture", "2999-01-01", Policy{}, "must not be in the future"},                 //
		{"timezoneOfNow", "2026-03-15", Policy{Now: func() time.Time { return fixedNow().Add(-11 * time.Hour) }}, "must not be in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := base
			id.BirthDate = tt.date
			_, err := Normalize(id, tt.policy)
			if tt.reason == "" {
				assert.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, []FieldError{{fieldBirthDate, tt.reason}}, ve.Fields)
		})
	}
}

func TestNormalizeOptionalFields(t *testing.T) {
	base := Identity{Surname: "Rossi", GivenNames: "Luca", BirthDate: "2012-01-01", Sex: "M"}
	tests := []struct {
		name  string
		edit  func(*Identity)
		field string // "" = accepted
	}{
		{"sexLowerCase", func(i *Identity) { i.Sex = "f" }, ""},
		{"sexUnknown", func(i *Identity) { i.Sex = "X" }, ""},
		{"sexWord", func(i *Identity) { i.Sex = "male" }, fieldSex},
		{"sexMissing", func(i *Identity) { i.Sex = "" }, fieldSex},
		{"birthPlaceForeign", func(i *Identity) { i.BirthPlace = "z330" }, ""},
		{"birthPlaceShort", func(i *Identity) { i.BirthPlace = "H50" }, fieldBirthPlace},
		{"birthPlaceDigitFirst", func(i *Identity) { i.BirthPlace = "1501" }, fieldBirthPlace},
		{"citizenship", func(i *Identity) { i.Citizenship = "504" }, ""},
		{"citizenshipAlpha", func(i *Identity) { i.Citizenship = "ITA" }, fieldCitizenship},
		{"citizenshipFourDigits", func(i *Identity) { i.Citizenship = "0380" }, fieldCitizenship},
		{"municipality", func(i *Identity) { i.Residence.Municipality = "100005" }, ""},
		{"municipalityShort", func(i *Identity) { i.Residence.Municipality = "48017" }, fieldMunicipality},
		{"postcode", func(i *Identity) { i.Residence.Postcode = "59100" }, ""},
		{"postcodeLetters", func(i *Identity) { i.Residence.Postcode = "5910A" }, fieldPostcode},
		{"localityDigits", func(i *Identity) { i.Residence.Locality = "Zona 3" }, fieldLocality},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := base
			tt.edit(&id)
			_, err := Normalize(id, minorsPolicy)
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Fields, 1)
			assert.Equal(t, tt.field, ve.Fields[0].Field)
		})
	}
}

// TestNormalizeListsEveryField submits an identity bad in every field and
// checks that each is named, in field order, with a reason that does not
// repeat what was submitted.
func TestNormalizeListsEveryField(t *testing.T) {
	id := Identity{
		CodiceFiscale: "RSSMRA80A01H501X",
		Surname:       "Ross1",
		GivenNames:    "Mar#o",
		BirthDate:     "2031-02-30",
		Sex:           "Q",
		BirthPlace:    "H5O1",
		Citizenship:   "IT",
		Residence:     Residence{Municipality: "ABCDEF", Postcode: "5O121", Locality: "Via 7"},
	}
	_, err := Normalize(id, minorsPolicy)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)

	fields := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		fields[i] = f.Field
		for _, v := range []string{id.CodiceFiscale, id.Surname, id.GivenNames, id.BirthDate, id.BirthPlace,
			id.Residence.Municipality, id.Residence.Postcode, id.Residence.Locality, "RSSMRA", "ROSS", "MAR"} {
			assert.NotContains(t, strings.ToUpper(f.Reason), strings.ToUpper(v), "reason of %s", f.Field)
		}
	}
	assert.Equal(t, fieldOrder, fields)
	assert.Equal(t, "invalid identity: "+strings.Join(fieldOrder, ", "), err.Error())
}

func TestNormalizeFailureReturnsZero(t *testing.T) {
	n, err := Normalize(Identity{Surname: "Rossi", GivenNames: "Luca", BirthDate: "2012-01-01", Sex: "?"}, minorsPolicy)
	require.Error(t, err)
	assert.True(t, errors.As(err, new(*ValidationError)))
	assert.Equal(t, "", n.Surname)
}

// TestIdentityNotPrinted checks that no fmt verb nor slog prints a value of
// an Identity or a Normalized, alone or nested.
func TestIdentityNotPrinted(t *testing.T) {
	id := Identity{CodiceFiscale: cfRossi, Surname: "Rossi", GivenNames: "Mario", BirthDate: "1980-01-01",
		Sex: "M", BirthPlace: "H501", Citizenship: "380", Residence: Residence{Locality: "Trastevere"}}
	n, err := Normalize(id, Policy{Now: fixedNow})
	require.NoError(t, err)

	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("x", "identity", id, "normalized", n)
	logger.Info("x", slog.Any("identity", id), slog.Any("normalized", n))

	outputs := []string{
		fmt.Sprintf("%v %+v %#v %s %q %x %d", n, n, n, n, n, n, n),
		fmt.Sprintf("%v %+v %#v %s %q %x %d", id, id, id, id, id, id, id),
		fmt.Sprintf("%v %+v %#v", []Normalized{n}, struct{ N Normalized }{n}, map[string]Identity{"a": id}),
		fmt.Sprintf("%v %+v", &n, &id),
		logged.String(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"ROSSI", "Rossi", "MARIO", "Mario", cfRossi, "1980", "H501", "TRASTEVERE", "Trastevere"} {
			assert.NotContains(t, out, secret)
		}
	}
	assert.Contains(t, outputs[0], "linkage.Normalized{…}")
	assert.Contains(t, outputs[1], "linkage.Identity{…}")
}

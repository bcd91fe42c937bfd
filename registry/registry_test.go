package registry

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/linkage"
)

func TestValidPartitaIVA(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"01307110484", true},  // Comune di Firenze
		{"06363391001", true},  // Agenzia delle Entrate
		{"00743110157", true},  // a Milan company, published
		{"01307110485", false}, // check digit off by one
		{"01307110448", false}, // two digits swapped
		{"00000000000", false}, // all zeros
		{"0130711048", false},  // 10 digits
		{"0130711048A", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) { assert.Equal(t, tc.want, ValidPartitaIVA(tc.in)) })
	}
}

func TestValidCodiceFiscale(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"RSSMRA85T10A562S", true},
		{"RSSMRA85T10A562T", false}, // wrong check character
		{"RSSMRA85X10A562S", false}, // no month X
		{"RSSMRA85T10A562", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) { assert.Equal(t, tc.want, ValidCodiceFiscale(tc.in)) })
	}
	// linkage computes codes (and their omocodia variants) by its own
	// implementation of the algorithm: every one of them must pass.
	birth := time.Date(2011, 2, 28, 0, 0, 0, 0, time.UTC)
	for i, name := range []string{"Rossi", "Bianchi", "D'Angelo", "Xu", "Esposito"} {
		cf := linkage.ComputeCF(name, "Maria Grazia", birth.AddDate(0, 0, i*37), []string{"M", "F"}[i%2], "D612")
		for level := 0; level <= 7; level++ {
			assert.True(t, ValidCodiceFiscale(linkage.Omocodia(cf, level)), "%s level %d", cf, level)
		}
	}
}

func TestCodes(t *testing.T) {
	c, err := LoadCodes()
	require.NoError(t, err)
	assert.Len(t, c.Zones, 28)
	assert.Len(t, c.Municipalities, 273)
	assert.GreaterOrEqual(t, len(c.Typologies), 10)
	perZone := map[string]int{}
	for _, m := range c.Municipalities {
		z, ok := c.Zone(m.Zone)
		require.True(t, ok, m.Code)
		assert.Contains(t, z.Provinces, m.Province, "municipality %s %s", m.Code, m.Name)
		perZone[m.Zone]++
	}
	assert.Len(t, perZone, 28, "every zone has municipalities")
	f, ok := c.Municipality("048017")
	require.True(t, ok)
	assert.Equal(t, "Firenze", f.Name)
	assert.Equal(t, "FIORENTINA", f.Zone)
	multi, ok := c.Typology("STRUTTURA_MULTIUTENZA")
	require.True(t, ok)
	assert.Equal(t, 8, multi.MaxPlaces)
}

func TestParseRef(t *testing.T) {
	r, err := ParseRef("ASSO-000123")
	require.NoError(t, err)
	assert.Equal(t, Ref{Code: "ASSO-000123"}, r)
	r, err = ParseRef("DRAFT-000045")
	require.NoError(t, err)
	assert.Equal(t, Ref{ID: 45}, r)
	assert.Equal(t, "DRAFT-000045", r.String())
	for _, bad := range []string{"", "x", "ASSO-12", "DRAFT-000000", "asso-000123", "ASSO-000123 "} {
		_, err := ParseRef(bad)
		assert.ErrorIs(t, err, ErrNotFound, bad)
	}
}

// ValidData is a valid facility for tests.
func validData() Data {
	return Data{
		Name: "Comunità Il Girasole", Typology: "COMUNITA_DIMENSIONE_FAMILIARE",
		Operator: Operator{Name: "Cooperativa Sociale Il Ponte", LegalNature: "COOPERATIVA_SOCIALE", TaxNumber: "01307110484"},
		Address:  Address{Street: "Via dei Pilastri 12", Postcode: "50121", Municipality: "048017"},
		Authorisation: Authorisation{Status: AuthorisationGranted, Date: Date{time.Date(2020, 5, 4, 0, 0, 0, 0, time.UTC)},
			Act: "SUAP 123/2020"},
		AuthorisedPlaces: 8,
		Target:           Target{MinAge: 6, MaxAge: 17},
		Contacts:         Contacts{Email: "girasole@example.it", Phone: "+39 055 123456"},
	}
}

func TestValidate(t *testing.T) {
	c := MustLoadCodes()
	today := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	d := validData()
	require.NoError(t, c.Validate(&d, today))
	assert.Equal(t, "FIORENTINA", d.Zone, "the zone is filled from the municipality")

	tests := []struct {
		name   string
		mod    func(*Data)
		fields []string
	}{
		{"unknownTypology", func(d *Data) { d.Typology = "CASERMA" }, []string{"typology"}},
		{"unknownZone", func(d *Data) { d.Zone = "ATLANTIDE" }, []string{"zone"}},
		{"zoneOtherProvince", func(d *Data) { d.Zone = "ELBA" }, []string{"zone"}},
		{"unknownMunicipality", func(d *Data) { d.Address.Municipality = "058091" }, []string{"address.municipality", "zone"}},
		{"badMunicipality", func(d *Data) { d.Address.Municipality = "48017" }, []string{"address.municipality", "zone"}},
		{"zeroPlaces", func(d *Data) { d.AuthorisedPlaces = 0 }, []string{"authorised_places"}},
		{"negativePlaces", func(d *Data) { d.AuthorisedPlaces = -2 }, []string{"authorised_places"}},
		{"overTypologyLimit", func(d *Data) { d.Typology = "STRUTTURA_MULTIUTENZA"; d.AuthorisedPlaces = 9 }, []string{"authorised_places"}},
		{"badPartitaIVA", func(d *Data) { d.Operator.TaxNumber = "01307110485" }, []string{"operator.tax_number"}},
		{"badTaxLength", func(d *Data) { d.Operator.TaxNumber = "123" }, []string{"operator.tax_number"}},
		{"badEmail", func(d *Data) { d.Contacts.Email = "girasole@" }, []string{"contacts.email"}},
		{"badPhone", func(d *Data) { d.Contacts.Phone = "call me" }, []string{"contacts.phone"}},
		{"grantedWithoutAct", func(d *Data) { d.Authorisation.Act = "" }, []string{"authorisation.act"}},
		{"futureAuthorisation", func(d *Data) { d.Authorisation.Date = Date{today.AddDate(0, 0, 1)} }, []string{"authorisation.date"}},
		{"ages", func(d *Data) { d.Target.MinAge = 12; d.Target.MaxAge = 10 }, []string{"target.max_age"}},
		{"accreditationWithoutFlag", func(d *Data) { d.Accreditation.Act = "DD 1/2021" }, []string{"accreditation.accredited"}},
		{"legalNature", func(d *Data) { d.Operator.LegalNature = "SPA" }, []string{"operator.legal_nature"}},
		{"postcode", func(d *Data) { d.Address.Postcode = "00100" }, []string{"address.postcode"}},
		{"empty", func(d *Data) { *d = Data{} }, []string{"name", "typology", "operator.name", "operator.legal_nature",
			"operator.tax_number", "address.street", "address.postcode", "address.municipality", "zone",
			"authorisation.status", "authorised_places", "contacts.email", "contacts.phone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validData()
			tc.mod(&d)
			err := c.Validate(&d, today)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
				assert.NotEmpty(t, f.Reason)
			}
			slices.Sort(got)
			want := slices.Clone(tc.fields)
			slices.Sort(want)
			assert.Equal(t, want, got)
		})
	}
}

func TestVisibility(t *testing.T) {
	draft := Facility{ID: 7, Status: StatusDraft}
	active := Facility{ID: 8, Code: "ASSO-000001", Status: StatusActive}
	suspended := Facility{ID: 9, Code: "ASSO-000002", Status: StatusSuspended}
	assert.True(t, Visibility{All: true}.Sees(draft))
	assert.False(t, Visibility{}.Sees(draft))
	assert.True(t, Visibility{}.Sees(active))
	assert.False(t, Visibility{}.Sees(suspended))
	assert.True(t, Visibility{Org: "DRAFT-000007"}.Sees(draft))
	assert.True(t, Visibility{Org: "ASSO-000002"}.Sees(suspended))
	assert.True(t, Visibility{Org: "DRAFT-000009"}.Sees(suspended), "the draft reference stays valid")
	assert.False(t, Visibility{Org: "ASSO-000001"}.Sees(draft))
	assert.False(t, Facility{ID: 7}.OwnedBy(""))
}

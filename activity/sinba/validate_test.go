package sinba_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
)

func ptr[T any](v T) *T { return &v }

// validRecord is the fixture's fully given record.
func validRecord(t *testing.T) sinba.Record {
	t.Helper()
	_, recs := readAll(t, sinba.NewReader(openFixture(t, "flow.xml")))
	require.NoError(t, recs[0].Validate(now))
	return recs[0]
}

// TestValidate: each kind of violation, named by field, with the bad value.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *sinba.Record)
		want   []sinba.Violation
	}{
		{"missingRequired", func(r *sinba.Record) { r.LuogoVita = "" },
			[]sinba.Violation{{"LuogoVita", "required"}}},
		{"unknownCode", func(r *sinba.Record) { r.LuogoVita = "9" },
			[]sinba.Violation{{"LuogoVita", `"9": not a code of LuogoVitaType`}}},
		{"codeWithSpace", func(r *sinba.Record) { r.FonteSegnalazione = " 1" },
			[]sinba.Violation{{"FonteSegnalazione", `" 1": not a code of FonteSegnalazioneType`}}},
		{"unknownOptionalCode", func(r *sinba.Record) { r.EsitoAffido = ptr(sinba.EsitoAffido("0")) },
			[]sinba.Violation{{"EsitoAffido", `"0": not a code of EsitoAffidoType`}}},
		{"optionalPresentButEmpty", func(r *sinba.Record) { r.TitoloStudioMadre = ptr(sinba.TitoloStudio("")) },
			[]sinba.Violation{{"TitoloStudioMadre", `"": not a code of TitoloStudioType`}}},
		{"patternCitizenship", func(r *sinba.Record) { r.CodiceCittadinanzaMadre = ptr("23") },
			[]sinba.Violation{{"CodiceCittadinanzaMadre", `"23": does not match ([0-9]{3})`}}},
		{"patternRegion", func(r *sinba.Record) { r.CodiceRegioneResidenza = ptr("9a") },
			[]sinba.Violation{{"CodiceRegioneResidenza", `"9a": does not match ([0-9]{2})`}}},
		{"patternBirthYear", func(r *sinba.Record) { r.AnnoNascita = "16" },
			[]sinba.Violation{{"AnnoNascita", `"16": does not match ([0-9]{4})`}}},
		{"tokenTooLong", func(r *sinba.Record) { r.IDBeneficiario = strings.Repeat("x", 21) },
			[]sinba.Violation{{"IDBeneficiario", "length 21, must be at most 20"}}},
		{"tokenMissing", func(r *sinba.Record) { r.IDBeneficiario = "" },
			[]sinba.Violation{{"IDBeneficiario", "required"}}},
		{"intNotInteger", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("quattro") },
			[]sinba.Violation{{"NumeroComponentiISEE", `"quattro": not an integer (xs:int)`}}},
		{"intTooLarge", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("10") },
			[]sinba.Violation{{"NumeroComponentiISEE", `"10": greater than 9`}}},
		{"intZero", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("0") },
			[]sinba.Violation{{"NumeroComponentiISEE", `"0": less than 1 (the minor is a member)`}}},
		{"intWithSpaces", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr(" 3 ") },
			[]sinba.Violation{{"NumeroComponentiISEE", `" 3 ": not an integer (xs:int)`}}},
		{"intWithSign", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("+03") }, nil},
		{"dateMonth13", func(r *sinba.Record) { r.DataPrimaSegnalazione = "13/2021" },
			[]sinba.Violation{{"DataPrimaSegnalazione", `"13/2021": does not match DataMeseAnnoType (((0[1-9])|(1[0-2]))[/](19|20)[0-9]{2})`}}},
		{"dateISO", func(r *sinba.Record) { r.DataSegnalazione = ptr(sinba.DataMeseAnno("2021-05-01")) },
			[]sinba.Violation{{"DataSegnalazione", `"2021-05-01": does not match DataMeseAnnoType (((0[1-9])|(1[0-2]))[/](19|20)[0-9]{2})`}}},
		{"dateInFuture", func(r *sinba.Record) { r.DataPrimaSegnalazione = "12/2026" },
			[]sinba.Violation{{"DataPrimaSegnalazione", `"12/2026": in the future`}}},
		{"dateThisMonth", func(r *sinba.Record) { r.DataPrimaSegnalazione = "11/2026" }, nil},
		{"birthYearInFuture", func(r *sinba.Record) { r.AnnoNascita = "2027" },
			[]sinba.Violation{
				{"AnnoNascita", `"2027": after the current year 2026`},
				{"DataProvvedimentoGiudiziario", `"09/2021": before the year of birth 2027`},
			}},
		{"measureBeforeBirth", func(r *sinba.Record) { r.DataProvvedimentoGiudiziario = ptr(sinba.DataMeseAnno("12/2015")) },
			[]sinba.Violation{{"DataProvvedimentoGiudiziario", `"12/2015": before the year of birth 2016`}}},
		{"referralDateWithoutReferral", func(r *sinba.Record) { r.SegnalazioneAutoritaGiudiziaria = "2" },
			[]sinba.Violation{{"DataSegnalazione", "given while SegnalazioneAutoritaGiudiziaria is 2 (NO)"}}},
		{"measureDetailsWithoutMeasure", func(r *sinba.Record) { r.ProvvedimentoGiudiziario = "2"; r.PotestaTutela = nil },
			[]sinba.Violation{
				{"DataProvvedimentoGiudiziario", "given while ProvvedimentoGiudiziario is 2 (NO)"},
				{"AutoritaProvvedimento", "given while ProvvedimentoGiudiziario is 2 (NO)"},
				{"TipoProvvedimentoGiudiziario", "given while ProvvedimentoGiudiziario is 2 (NO)"},
			}},
		{"noServices", func(r *sinba.Record) { r.Prestazioni = nil },
			[]sinba.Violation{{"Prestazioni/CodicePrestazione", "required: at least 1"}}},
		{"unknownService", func(r *sinba.Record) { r.Prestazioni = append(r.Prestazioni, "A9.99") },
			[]sinba.Violation{{"Prestazioni/CodicePrestazione[3]", `"A9.99": not a code of CodicePrestazione`}}},
		{"serviceTooShort", func(r *sinba.Record) { r.Prestazioni[0] = "A1" },
			[]sinba.Violation{{"Prestazioni/CodicePrestazione[1]", `"A1": not a code of CodicePrestazione`}}},
		{"noFamily", func(r *sinba.Record) { r.Famiglia = []sinba.ComposizioneFamiglia{} },
			[]sinba.Violation{{"Famiglia/ComposizioneFamiglia", "required: at least 1"}}},
		{"unknownFamilyMember", func(r *sinba.Record) { r.Famiglia[1] = "7" },
			[]sinba.Violation{{"Famiglia/ComposizioneFamiglia[2]", `"7": not a code of ComposizioneFamigliaType`}}},
		{"everyViolationListed", func(r *sinba.Record) {
			r.CondizioneMinore = "0"
			r.Disabilita = ""
			r.AnnoNascita = "2030"
			r.Famiglia[0] = "x"
		}, []sinba.Violation{
			{"CondizioneMinore", `"0": not a code of CondizioneMinoreType`},
			{"Disabilita", "required"},
			{"Famiglia/ComposizioneFamiglia[1]", `"x": not a code of ComposizioneFamigliaType`},
			{"AnnoNascita", `"2030": after the current year 2026`},
			{"DataProvvedimentoGiudiziario", `"09/2021": before the year of birth 2030`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRecord(t)
			tt.change(&r)
			err := r.Validate(now)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			var ve *sinba.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.want, ve.Violations)
			assert.Contains(t, err.Error(), tt.want[0].Field)
		})
	}
}

// TestValidateNeverEchoesToken: reasons about the token or the operator's
// tax code do not repeat them.
func TestValidateNeverEchoesToken(t *testing.T) {
	r := validRecord(t)
	r.IDBeneficiario = "SECRET-TOKEN-0123456789"
	err := r.Validate(now)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRET")

	h := sinbatest.Header("F")
	h.Ente.CFOperatore = "RSSMRA80A01D612"
	err = h.Validate()
	assert.Equal(t, []sinba.Violation{{"IdentificazioneFlusso/Ente/CFOperatore",
		`does not match ([A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z][A-Za-z0-9]{3}[A-Za-z])|(\d{11} {0,5})`}}, violations(err))
	assert.NotContains(t, err.Error(), "RSSMRA")
}

func TestValidateHeader(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *sinba.Header)
		want   []sinba.Violation
	}{
		{"valid", func(h *sinba.Header) {}, nil},
		{"vatNumberOperator", func(h *sinba.Header) { h.Ente.CFOperatore = "01234567890  " }, nil},
		{"noDenominazione", func(h *sinba.Header) { h.Ente.Denominazione = nil }, nil},
		{"noName", func(h *sinba.Header) { h.Nome = "" },
			[]sinba.Violation{{"IdentificazioneFlusso/Nome", "required"}}},
		{"nameTooLong", func(h *sinba.Header) { h.Nome = strings.Repeat("n", 51) },
			[]sinba.Violation{{"IdentificazioneFlusso/Nome", "length 51, must be at most 50"}}},
		{"emptyDenominazione", func(h *sinba.Header) { h.Ente.Denominazione = ptr("") },
			[]sinba.Violation{{"IdentificazioneFlusso/Ente/Denominazione", "length 0, must be at least 1"}}},
		{"municipalityCode", func(h *sinba.Header) { h.Ente.Indirizzo = "D61" },
			[]sinba.Violation{{"IdentificazioneFlusso/Ente/Indirizzo", `"D61": length 3, must be 4`}}},
		{"noEnte", func(h *sinba.Header) { h.Ente = sinba.Ente{} },
			[]sinba.Violation{
				{"IdentificazioneFlusso/Ente/Codice", "required"},
				{"IdentificazioneFlusso/Ente/Indirizzo", "required"},
				{"IdentificazioneFlusso/Ente/CFOperatore", "required"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sinbatest.Header("F-1")
			tt.change(&h)
			assert.Equal(t, tt.want, violations(h.Validate()))
		})
	}
}

// TestBadRecordAlone: in a flow, a bad record is rejected on its own and
// the others pass.
func TestBadRecordAlone(t *testing.T) {
	in, err := readFile("testdata/flow.xml")
	require.NoError(t, err)
	in = strings.Replace(in, `LuogoVita="4"`, `LuogoVita="44"`, 1) // the second record
	_, recs := readAll(t, sinba.NewReader(strings.NewReader(in)))
	require.Len(t, recs, 3)
	var results []string
	for i := range recs {
		if err := recs[i].Validate(now); err != nil {
			results = append(results, err.Error())
		} else {
			results = append(results, "ok")
		}
	}
	assert.Equal(t, []string{"ok", `invalid SINBA LuogoVita: "44": not a code of LuogoVitaType`, "ok"}, results)
}

func TestCodeLists(t *testing.T) {
	assert.Len(t, sinba.CodeLists, 34) // 33 enumerations in SINBA.xsd and the SIUSS services
	assert.Len(t, sinba.CodicePrestazioneCodes.Codes, 36)
	assert.Equal(t, "Strutture residenziali", sinba.CodicePrestazione("A3.02").Label())
	assert.Equal(t, "A3", sinba.CodicePrestazioneAreas["A3.02"])
	assert.True(t, sinba.EsitoInserimentoStruttura("6").Valid())
	assert.Equal(t, "reso autonomo", sinba.EsitoInserimentoStruttura("6").Label())
	assert.False(t, sinba.EsitoInserimentoStruttura("10").Valid())
	assert.Equal(t, "", sinba.EsitoInserimentoStruttura("10").Label())
	assert.Equal(t, "comunitario-funzione integrazione socio-sanitaria medio-alta", sinba.CarattereInserimentoResidenziale("10").Label())
	assert.Equal(t, "irreperibilità", sinba.MotivazioneChiusuraCarico("7").Label())

	l := sinba.CodeListByName("MotivazioneChiusuraCaricoType")
	require.NotNil(t, l)
	assert.Same(t, sinba.MotivazioneChiusuraCaricoCodes, l)
	assert.Len(t, l.Codes, 9)
	assert.Equal(t, sinba.Code{Value: "1", Label: "passaggio a servizio territoriale altro ambito/distretto della stessa regione"}, l.Codes[0])
	assert.Nil(t, sinba.CodeListByName("NoSuchType"))
	for _, l := range sinba.CodeLists {
		for _, c := range l.Codes {
			assert.NotEmpty(t, c.Label, "%s %s has no label", l.Name, c.Value)
		}
	}

	assert.Equal(t, "fascia_isee_beneficiario", sinba.JSONName("FasciaISEEBeneficiario"))
	assert.Equal(t, "id_beneficiario", sinba.JSONName("IDBeneficiario"))
	assert.Equal(t, "cf_operatore", sinba.JSONName("CFOperatore"))
	assert.Equal(t, "", sinba.JSONName("Nothing"))
}

func TestDataMeseAnno(t *testing.T) {
	d := sinba.NewDataMeseAnno(now)
	assert.Equal(t, sinba.DataMeseAnno("11/2026"), d)
	tm, ok := d.Time()
	require.True(t, ok)
	assert.Equal(t, "2026-11-01", tm.Format("2006-01-02"))
	_, ok = sinba.DataMeseAnno("00/2026").Time()
	assert.False(t, ok)
}

func TestViolationJSONField(t *testing.T) {
	for field, want := range map[string]string{
		"LuogoVita":                              "luogo_vita",
		"FasciaISEEBeneficiario":                 "fascia_isee_beneficiario",
		"Prestazioni/CodicePrestazione[2]":       "prestazioni[1]",
		"Prestazioni/CodicePrestazione":          "prestazioni",
		"Famiglia/ComposizioneFamiglia[1]":       "famiglia[0]",
		"IdentificazioneFlusso/Ente/CFOperatore": "identificazione_flusso.ente.cf_operatore",
		"IdentificazioneFlusso/Nome":             "identificazione_flusso.nome",
		"colore":                                 "colore",
		"":                                       "",
	} {
		assert.Equal(t, want, sinba.Violation{Field: field}.JSONField(), field)
	}
}

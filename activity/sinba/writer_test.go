package sinba_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
)

func TestWriterRoundTrip(t *testing.T) {
	h, want := readAll(t, sinba.NewReader(openFixture(t, "flow.xml")))
	var buf bytes.Buffer
	w, err := sinba.NewWriter(&buf, h)
	require.NoError(t, err)
	for i := range want {
		require.NoError(t, w.Write(&want[i]))
	}
	require.NoError(t, w.Close())
	assert.True(t, strings.HasPrefix(buf.String(), `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Flusso xmlns="http://inps.it/Casellario">`), buf.String()[:100])

	h2, got := readAll(t, sinba.NewReader(&buf))
	assert.Equal(t, h, h2)
	assert.Equal(t, want, got)
}

func TestWriterNoRecords(t *testing.T) {
	var buf bytes.Buffer
	w, err := sinba.NewWriter(&buf, sinbatest.Header("F"))
	require.NoError(t, err)
	assert.ErrorIs(t, w.Close(), sinba.ErrNoRecords)
	assert.True(t, strings.HasSuffix(buf.String(), "</Flusso>"))
}

// xmllint returns the path of xmllint, or skips the test (see
// sinbatest.Xmllint).
func xmllint(t *testing.T) string {
	t.Helper()
	return sinbatest.Xmllint(t)
}

// schemaValid runs xmllint --schema on flow and returns its verdict and output.
func schemaValid(t *testing.T, flow []byte) (bool, string) {
	t.Helper()
	bin := xmllint(t)
	f := filepath.Join(t.TempDir(), "flow.xml")
	require.NoError(t, os.WriteFile(f, flow, 0o600))
	out, err := exec.Command(bin, "--noout", "--schema", "schema/SINBA.xsd", f).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return false, string(out)
	}
	require.NoError(t, err, string(out))
	return true, string(out)
}

func writeFlow(t *testing.T, recs ...sinba.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := sinba.NewWriter(&buf, sinbatest.Header("XMLLINT-1"))
	require.NoError(t, err)
	for i := range recs {
		require.NoError(t, w.Write(&recs[i]))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestWriterOutputValidatesWithXmllint: what the writer writes from valid
// records satisfies SINBA.xsd according to libxml2, an independent
// validator.
func TestWriterOutputValidatesWithXmllint(t *testing.T) {
	_, fixture := readAll(t, sinba.NewReader(openFixture(t, "flow.xml")))
	recs := append(fixture, sinbatest.Records(11, 500, now)...)
	ok, out := schemaValid(t, writeFlow(t, recs...))
	assert.True(t, ok, out)
}

// TestValidatorAgreesWithXmllint: a record that breaks the schema is
// rejected both by Validate and by xmllint; a record that breaks only
// sirm's own rules passes xmllint.
func TestValidatorAgreesWithXmllint(t *testing.T) {
	xmllint(t)
	tests := []struct {
		name      string
		change    func(r *sinba.Record)
		schemaBad bool // false: only sirm's rules reject it
	}{
		{"valid", func(r *sinba.Record) {}, false},
		{"missingRequired", func(r *sinba.Record) { r.LuogoVita = "" }, true},
		{"unknownCode", func(r *sinba.Record) { r.LuogoVita = "9" }, true},
		{"codeWithSpace", func(r *sinba.Record) { r.FonteSegnalazione = " 1" }, true},
		{"optionalPresentButEmpty", func(r *sinba.Record) { r.TitoloStudioMadre = ptr(sinba.TitoloStudio("")) }, true},
		{"pattern", func(r *sinba.Record) { r.CodiceCittadinanzaMadre = ptr("23") }, true},
		{"tokenTooLong", func(r *sinba.Record) { r.IDBeneficiario = strings.Repeat("x", 21) }, true},
		{"tokenNonASCII", func(r *sinba.Record) { r.IDBeneficiario = strings.Repeat("è", 20) }, false},
		{"intNotInteger", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("4.0") }, true},
		{"intTooLarge", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("10") }, true},
		{"intSpaces", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr(" 3 ") }, true},
		{"intSign", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("+03") }, false},
		{"dateMonth13", func(r *sinba.Record) { r.DataPrimaSegnalazione = "13/2021" }, true},
		{"date18xx", func(r *sinba.Record) { r.DataPrimaSegnalazione = "01/1899" }, true},
		{"noFamily", func(r *sinba.Record) { r.Famiglia = nil }, true},
		{"serviceTooLong", func(r *sinba.Record) { r.Prestazioni[0] = "A1.01.02.03" }, true},
		// sirm's rules only.
		{"unknownServiceOfRightLength", func(r *sinba.Record) { r.Prestazioni[0] = "A9.99" }, false},
		{"dateInFuture", func(r *sinba.Record) { r.DataPrimaSegnalazione = "12/2099" }, false},
		{"referralDateWithoutReferral", func(r *sinba.Record) { r.SegnalazioneAutoritaGiudiziaria = "2" }, false},
		{"zeroMembers", func(r *sinba.Record) { r.NumeroComponentiISEE = ptr("0") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRecord(t)
			tt.change(&r)
			ours := r.Validate(now)
			theirs, out := schemaValid(t, writeFlow(t, r))
			assert.Equal(t, !tt.schemaBad, theirs, "xmllint: %s", out)
			if tt.name == "valid" || tt.name == "intSign" || tt.name == "tokenNonASCII" {
				assert.NoError(t, ours)
			} else {
				assert.Error(t, ours)
			}
		})
	}
}

// TestXMLStructureAgreesWithXmllint: what a SINBA element contains beyond
// its attributes — wrappers, their order, items, text — is checked like
// xmllint checks it, and reported as problems of that record only.
func TestXMLStructureAgreesWithXmllint(t *testing.T) {
	const (
		attrs = `IDBeneficiario="t1" MinoreStranieroNoAcc="2" CondizioneMinore="1" LuogoVita="1" ScuolaFrequentata="5" ` +
			`CondizioneLavoro="1" Disabilita="2" DataPrimaSegnalazione="03/2021" FonteSegnalazione="13" ValutazioneMinore="1" ` +
			`ValutazioneFamigliaMinore="1" SegnalazioneAutoritaGiudiziaria="2" ProvvedimentoGiudiziario="2" ` +
			`FasciaEtaBeneficiario="4" AnnoNascita="2016" CodiceNazioneResidenza="100"`
		prest = `<Prestazioni><CodicePrestazione>A1.01</CodicePrestazione></Prestazioni>`
		fam   = `<Famiglia><ComposizioneFamiglia>1</ComposizioneFamiglia></Famiglia>`
	)
	tests := []struct {
		name string
		rec  string
		want []sinba.Violation
	}{
		{"valid", `<SINBA ` + attrs + `>` + prest + fam + `</SINBA>`, nil},
		{"validWithComments", `<SINBA ` + attrs + `><!-- c -->` + prest + "\n" + `<Famiglia><ComposizioneFamiglia>1<!-- c --></ComposizioneFamiglia></Famiglia></SINBA>`, nil},
		{"outOfOrder", `<SINBA ` + attrs + `>` + fam + prest + `</SINBA>`,
			[]sinba.Violation{{"Prestazioni", "repeated or out of order: SinbaType has Prestazioni then Famiglia, once each"}}},
		{"repeated", `<SINBA ` + attrs + `>` + prest + prest + fam + `</SINBA>`,
			[]sinba.Violation{{"Prestazioni", "repeated or out of order: SinbaType has Prestazioni then Famiglia, once each"}}},
		{"noFamily", `<SINBA ` + attrs + `>` + prest + `</SINBA>`,
			[]sinba.Violation{{"Famiglia/ComposizioneFamiglia", "required: at least 1"}}},
		{"emptyFamily", `<SINBA ` + attrs + `>` + prest + `<Famiglia/></SINBA>`,
			[]sinba.Violation{{"Famiglia/ComposizioneFamiglia", "required: at least 1"}}},
		{"text", `<SINBA ` + attrs + `>testo` + prest + fam + `</SINBA>`,
			[]sinba.Violation{{"", "text not allowed in SINBA"}}},
		{"unknownItem", `<SINBA ` + attrs + `><Prestazioni><CodicePrestazione>A1.01</CodicePrestazione><Nota>x</Nota></Prestazioni>` + fam + `</SINBA>`,
			[]sinba.Violation{{"Prestazioni/Nota", "element not allowed by SinbaType"}}},
		{"elementInItem", `<SINBA ` + attrs + `><Prestazioni><CodicePrestazione>A1.01<b/></CodicePrestazione></Prestazioni>` + fam + `</SINBA>`,
			[]sinba.Violation{{"Prestazioni/CodicePrestazione/b", "element not allowed by SinbaType"}}},
		{"qualifiedAttribute", `<SINBA xmlns:c="http://inps.it/Casellario" c:Colore="1" ` + attrs + `>` + prest + fam + `</SINBA>`,
			[]sinba.Violation{{"Colore", "attribute not allowed by SinbaType"}}},
		{"itemInOtherNamespace", `<SINBA ` + attrs + `><Prestazioni><CodicePrestazione xmlns="urn:x">A1.01</CodicePrestazione></Prestazioni>` + fam + `</SINBA>`,
			[]sinba.Violation{{"Prestazioni/CodicePrestazione", "element not allowed by SinbaType"}, {"Prestazioni/CodicePrestazione", "required: at least 1"}}},
		{"itemWithSpaces", `<SINBA ` + attrs + `><Prestazioni><CodicePrestazione> A1.01 </CodicePrestazione></Prestazioni>` + fam + `</SINBA>`,
			[]sinba.Violation{{"Prestazioni/CodicePrestazione[1]", `" A1.01 ": not a code of CodicePrestazione`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flow := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Flusso xmlns="http://inps.it/Casellario">` +
				`<IdentificazioneFlusso Nome="F"><Ente Codice="C" Indirizzo="D612" CFOperatore="RSSMRA80A01D612X"/></IdentificazioneFlusso>` +
				tt.rec + "\n" + `<SINBA ` + attrs + `>` + prest + fam + `</SINBA></Flusso>`
			_, recs := readAll(t, sinba.NewReader(strings.NewReader(flow)))
			require.Len(t, recs, 2)
			assert.Equal(t, tt.want, violations(recs[0].Validate(now)))
			assert.NoError(t, recs[1].Validate(now), "the next record is not affected")
			if tt.name == "itemWithSpaces" {
				return // the schema allows it: the SIUSS list does not
			}
			ok, out := schemaValid(t, []byte(flow))
			assert.Equal(t, tt.want == nil, ok, "xmllint: %s", out)
		})
	}
}

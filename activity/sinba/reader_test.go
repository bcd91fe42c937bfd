package sinba_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
)

// now is the reference time of the tests: the fixtures' dates are before it.
var now = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// readAll reads a whole flow; it fails the test on a fatal error.
func readAll(t *testing.T, rd *sinba.Reader) (sinba.Header, []sinba.Record) {
	t.Helper()
	h, err := rd.Header()
	require.NoError(t, err)
	var recs []sinba.Record
	for rec, err := range rd.Records() {
		require.NoError(t, err)
		recs = append(recs, rec)
	}
	return h, recs
}

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadXMLFixture(t *testing.T) {
	rd := sinba.NewReader(openFixture(t, "flow.xml"))
	h, recs := readAll(t, rd)
	require.NoError(t, h.Validate())
	assert.Equal(t, "SDSFI-2026-11-0001", h.Nome)
	assert.Equal(t, "SDS-FI", h.Ente.Codice)
	require.NotNil(t, h.Ente.Denominazione)
	assert.Equal(t, "Società della Salute Firenze", *h.Ente.Denominazione)
	require.Len(t, recs, 3)
	assert.Equal(t, 3, rd.Index())
	for i := range recs {
		assert.NoError(t, recs[i].Validate(now), "record %d", i+1)
	}

	full := recs[0]
	assert.Equal(t, "tok-7Q2K9M4XW1ZP", full.IDBeneficiario)
	assert.Equal(t, sinba.LuogoVita("3"), full.LuogoVita)
	assert.Equal(t, "in famiglia affidataria", full.LuogoVita.Label())
	require.NotNil(t, full.TipoDisabilita)
	assert.Equal(t, sinba.TipoDisabilita("3"), *full.TipoDisabilita)
	require.NotNil(t, full.DataProvvedimentoGiudiziario)
	assert.Equal(t, sinba.DataMeseAnno("09/2021"), *full.DataProvvedimentoGiudiziario)
	assert.Equal(t, []sinba.CodicePrestazione{"A1.04", "A2.12"}, full.Prestazioni)
	assert.Equal(t, []sinba.ComposizioneFamiglia{"1", "2", "3"}, full.Famiglia)

	minimal := recs[1]
	assert.Nil(t, minimal.TipoDisabilita)
	assert.Nil(t, minimal.DataSegnalazione)
	assert.Nil(t, minimal.NumeroComponentiISEE)
	assert.Equal(t, sinba.MinoreStranieroNoAcc("1"), minimal.MinoreStranieroNoAcc)
}

// TestJSONEqualsXML: the same records in XML and JSON decode to equal structs.
func TestJSONEqualsXML(t *testing.T) {
	t.Run("fixture", func(t *testing.T) {
		hx, rx := readAll(t, sinba.NewReader(openFixture(t, "flow.xml")))
		hj, rj := readAll(t, sinba.NewJSONReader(openFixture(t, "flow.json")))
		assert.Equal(t, hx, hj)
		assert.Equal(t, rx, rj)
	})
	t.Run("random", func(t *testing.T) {
		var x, j bytes.Buffer
		require.NoError(t, sinbatest.WriteXML(&x, "R-1", 300, 7, now))
		require.NoError(t, sinbatest.WriteJSON(&j, "R-1", 300, 7, now))
		hx, rx := readAll(t, sinba.NewReader(&x))
		hj, rj := readAll(t, sinba.NewJSONReader(&j))
		assert.Equal(t, hx, hj)
		assert.Equal(t, sinbatest.Header("R-1"), hx)
		assert.Equal(t, sinbatest.Records(7, 300, now), rx)
		assert.Equal(t, rx, rj)
		for i := range rx {
			require.NoError(t, rx[i].Validate(now), "record %d", i+1)
		}
	})
}

// TestReadMalformedXML: a flow that is not well-formed, or not a Flusso,
// stops reading with a *SyntaxError that says where.
func TestReadMalformedXML(t *testing.T) {
	const (
		head = `<?xml version="1.0"?>` + "\n" + `<Flusso xmlns="http://inps.it/Casellario">` + "\n" +
			`<IdentificazioneFlusso Nome="F"><Ente Codice="C" Indirizzo="D612" CFOperatore="RSSMRA80A01D612X"/></IdentificazioneFlusso>` + "\n"
		rec = `<SINBA IDBeneficiario="t"><Prestazioni><CodicePrestazione>A1.01</CodicePrestazione></Prestazioni></SINBA>` + "\n"
	)
	tests := []struct {
		name       string
		in         string
		records    int // read before the error
		line, col  int // where the decoder stopped; col 0: not checked
		msg        string
		headerFail bool
	}{
		{"unclosedRecord", head + rec + `<SINBA IDBeneficiario="x"><Prestazioni></SINBA>` + "\n</Flusso>", 1, 5, 48, "element <Prestazioni> closed by </SINBA>", false},
		{"badAttribute", head + rec + rec + `<SINBA IDBeneficiario=x/>`, 2, 6, 24, "unquoted or missing attribute value", false},
		{"truncated", head + rec + `<SINBA IDBeneficiario="t"><Prest`, 1, 5, 33, "unexpected EOF", false},
		{"noEndOfRoot", head + rec, 1, 5, 0, "unexpected EOF", false},
		{"textBetweenRecords", head + rec + "oops\n" + rec + "</Flusso>", 1, 6, 1, `unexpected text "oops"`, false},
		{"otherElement", head + rec + "<Altro/>\n</Flusso>", 1, 5, 9, "unexpected element", false},
		{"contentAfterRoot", head + rec + "</Flusso>\n<Flusso/>", 1, 6, 10, "content after the end of Flusso", false},
		{"wrongNamespace", `<Flusso xmlns="urn:other"><IdentificazioneFlusso Nome="F"/></Flusso>`, 0, 1, 27, "root element is {urn:other}Flusso", true},
		{"noNamespace", `<Flusso/>`, 0, 1, 10, "want Flusso in namespace http://inps.it/Casellario", true},
		{"noHeader", `<Flusso xmlns="http://inps.it/Casellario">` + rec + `</Flusso>`, 0, 1, 69, "Flusso must begin with IdentificazioneFlusso", true},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]><Flusso/>`, 0, 1, 31, "DOCTYPE", true},
		{"empty", ``, 0, 1, 1, "unexpected end of input", true},
		{"mismatchedHeader", `<Flusso xmlns="http://inps.it/Casellario"><IdentificazioneFlusso Nome="F"></Flusso>`, 0, 1, 84, "closed by </Flusso>", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := sinba.NewReader(strings.NewReader(tt.in))
			_, herr := rd.Header()
			var n int
			var err error
			if herr != nil {
				err = herr
			} else {
				for _, e := range rd.Records() {
					if e != nil {
						err = e
						break
					}
					n++
				}
			}
			assert.Equal(t, tt.headerFail, herr != nil, "header error: %v", herr)
			assert.Equal(t, tt.records, n, "records before the error")
			var se *sinba.SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.line, se.Line, "line")
			if tt.col > 0 {
				assert.Equal(t, tt.col, se.Column, "column")
			}
			assert.Contains(t, se.Msg, tt.msg)
			assert.Contains(t, se.Error(), "line ")
			// The error is sticky.
			_, again := rd.Next()
			assert.Equal(t, err, again)
		})
	}
}

func TestReadNoRecords(t *testing.T) {
	in := `<Flusso xmlns="http://inps.it/Casellario"><IdentificazioneFlusso Nome="F"><Ente Codice="C" Indirizzo="D612" CFOperatore="RSSMRA80A01D612X"/></IdentificazioneFlusso></Flusso>`
	rd := sinba.NewReader(strings.NewReader(in))
	_, err := rd.Next()
	assert.ErrorIs(t, err, sinba.ErrNoRecords)

	rd = sinba.NewJSONReader(strings.NewReader(`{"identificazione_flusso":{"nome":"F"},"sinba":[]}`))
	_, err = rd.Next()
	assert.ErrorIs(t, err, sinba.ErrNoRecords)
}

func TestReadMalformedJSON(t *testing.T) {
	const head = `{"identificazione_flusso":{"nome":"F","ente":{"codice":"C","indirizzo":"D612","cf_operatore":"RSSMRA80A01D612X"}},"sinba":[`
	tests := []struct {
		name    string
		in      string
		records int
		msg     string
	}{
		{"badSyntax", head + `{"id_beneficiario":"a"},{"id_beneficiario" "b"}]}`, 1, "invalid character"},
		{"truncated", head + `{"id_beneficiario":"a"},{"id_benef`, 1, "unexpected end of input"},
		{"recordsFirst", `{"sinba":[],"identificazione_flusso":{}}`, 0, `must begin with "identificazione_flusso"`},
		{"notAnObject", `[1,2]`, 0, `want "{"`},
		{"unknownHeaderField", `{"identificazione_flusso":{"nome":"F","colore":"blu"},"sinba":[{}]}`, 0, `unknown field "colore"`},
		{"trailingKey", head + `{}],"altro":1}`, 1, `nothing may follow "sinba"`},
		{"trailingContent", head + `{}]} {}`, 1, "content after the end of the flow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := sinba.NewJSONReader(strings.NewReader(tt.in))
			var n int
			var err error
			for _, e := range rd.Records() {
				if e != nil {
					err = e
					break
				}
				n++
			}
			assert.Equal(t, tt.records, n)
			var se *sinba.SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Contains(t, se.Msg, tt.msg)
			assert.Positive(t, se.Offset)
		})
	}
}

// TestRecordDecodingProblems: what the schema does not allow inside one
// record becomes a violation of that record, and reading goes on.
func TestRecordDecodingProblems(t *testing.T) {
	valid := sinbatest.Records(3, 3, now)
	t.Run("xmlUnknownAttributeAndElement", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, sinbatest.WriteXML(&buf, "F", 3, 3, now))
		in := strings.Replace(buf.String(), `<SINBA IDBeneficiario="T0003000000000000001"`,
			`<SINBA Colore="blu" xmlns:x="urn:x" IDBeneficiario="T0003000000000000001"`, 1)
		in = strings.Replace(in, "<Prestazioni>", "<Note>testo</Note><Prestazioni>", 2)
		require.NotEqual(t, buf.String(), in)
		_, recs := readAll(t, sinba.NewReader(strings.NewReader(in)))
		require.Len(t, recs, 3)
		assert.Equal(t, []sinba.Violation{{Field: "Note", Reason: "element not allowed by SinbaType"}}, violations(recs[0].Validate(now)))
		assert.Equal(t, []sinba.Violation{
			{Field: "Colore", Reason: "attribute not allowed by SinbaType"},
			{Field: "Note", Reason: "element not allowed by SinbaType"},
		}, violations(recs[1].Validate(now)))
		assert.NoError(t, recs[2].Validate(now))
		assert.Equal(t, valid[2], recs[2])
	})
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, sinbatest.WriteJSON(&buf, "F", 3, 3, now))
		lines := strings.Split(buf.String(), "\n")
		require.Len(t, lines, 5) // header, three records, end
		lines[1] = strings.Replace(lines[1], `"luogo_vita":"`, `"colore":"blu","luogo_vita":"`, 1)
		lines[2] = strings.Replace(lines[2], `"anno_nascita":"`+valid[1].AnnoNascita+`"`, `"anno_nascita":`+valid[1].AnnoNascita, 1)
		_, recs := readAll(t, sinba.NewJSONReader(strings.NewReader(strings.Join(lines, "\n"))))
		require.Len(t, recs, 3)
		assert.Equal(t, []sinba.Violation{{Field: "colore", Reason: "field not allowed by SinbaType"}}, violations(recs[0].Validate(now)))
		v := violations(recs[1].Validate(now))
		require.NotEmpty(t, v)
		assert.Equal(t, sinba.Violation{Field: "AnnoNascita", Reason: "must be a JSON string, not number"}, v[0])
		assert.NoError(t, recs[2].Validate(now))
	})
	t.Run("jsonNotAnObject", func(t *testing.T) {
		in := `{"identificazione_flusso":{"nome":"F"},"sinba":["x",{}]}`
		_, recs := readAll(t, sinba.NewJSONReader(strings.NewReader(in)))
		require.Len(t, recs, 2)
		v := violations(recs[0].Validate(now))
		require.NotEmpty(t, v)
		assert.Equal(t, sinba.Violation{Reason: "a record must be a JSON object, not string"}, v[0])
	})
}

// TestReadLatin1: a flow declared ISO-8859-1 is read as such.
func TestReadLatin1(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sinbatest.WriteXML(&buf, "F", 2, 1, now))
	utf8Flow := strings.Replace(buf.String(), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
	latin1, err := charmap.ISO8859_1.NewEncoder().String(utf8Flow)
	require.NoError(t, err)
	require.NotEqual(t, utf8Flow, latin1)
	h, recs := readAll(t, sinba.NewReader(strings.NewReader(latin1)))
	assert.Equal(t, "Società della Salute Firenze", *h.Ente.Denominazione)
	assert.Len(t, recs, 2)

	_, err = sinba.NewReader(strings.NewReader(`<?xml version="1.0" encoding="EBCDIC"?><Flusso/>`)).Header()
	var se *sinba.SyntaxError
	require.ErrorAs(t, err, &se, "bad input, not an I/O error")
	assert.Equal(t, `encoding "EBCDIC" not supported`, se.Msg)
	assert.Equal(t, 1, se.Line)
}

// TestReadPosition: the reader says where each record is, for messages.
func TestReadPosition(t *testing.T) {
	rd := sinba.NewReader(openFixture(t, "flow.xml"))
	var lines []int
	for _, err := range rd.Records() {
		require.NoError(t, err)
		line, col, off := rd.Position()
		assert.Positive(t, col)
		assert.Positive(t, off)
		lines = append(lines, line)
	}
	// Where each start tag ends.
	assert.Equal(t, []int{21, 37, 47}, lines)
}

// errReader fails after its data, as a body cut by a size limit would.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

// TestReadPassesReaderErrors: an error of the underlying reader comes back
// as itself, so that callers can tell a size limit from bad input.
func TestReadPassesReaderErrors(t *testing.T) {
	limit := errors.New("too large")
	var buf bytes.Buffer
	require.NoError(t, sinbatest.WriteXML(&buf, "F", 5, 1, now))
	for name, rd := range map[string]*sinba.Reader{
		"xml": sinba.NewReader(&errReader{strings.NewReader(buf.String()[:3000]), limit}),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			for _, e := range rd.Records() {
				err = e
			}
			assert.ErrorIs(t, err, limit)
		})
	}
	buf.Reset()
	require.NoError(t, sinbatest.WriteJSON(&buf, "F", 5, 1, now))
	rd := sinba.NewJSONReader(&errReader{strings.NewReader(buf.String()[:3000]), limit})
	var err error
	for _, e := range rd.Records() {
		err = e
	}
	assert.ErrorIs(t, err, limit)
}

func violations(err error) []sinba.Violation {
	var ve *sinba.ValidationError
	if errors.As(err, &ve) {
		return ve.Violations
	}
	return nil
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}

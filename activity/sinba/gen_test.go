package sinba_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity/sinba/internal/gen"
)

// TestGeneratedCodeMatchesSchema fails when codes_gen.go is not what
// schema/SINBA.xsd and schema/prestazioni-siuss.csv give: run go generate.
func TestGeneratedCodeMatchesSchema(t *testing.T) {
	xsd, err := os.ReadFile("schema/SINBA.xsd")
	require.NoError(t, err)
	csv, err := os.ReadFile("schema/prestazioni-siuss.csv")
	require.NoError(t, err)
	want, err := gen.Generate(xsd, csv)
	require.NoError(t, err)
	got, err := os.ReadFile("codes_gen.go")
	require.NoError(t, err)
	if string(got) != string(want) {
		t.Fatal("codes_gen.go differs from what the schema gives: run go generate ./activity/sinba")
	}
}

// TestGeneratorFailsOnUnknownShape: a schema construct the generator does
// not know is an error, not a silent omission.
func TestGeneratorFailsOnUnknownShape(t *testing.T) {
	xsd, err := os.ReadFile("schema/SINBA.xsd")
	require.NoError(t, err)
	csv, err := os.ReadFile("schema/prestazioni-siuss.csv")
	require.NoError(t, err)
	for name, edits := range map[string][]string{
		"newComplexType": {`<xs:complexType name="EnteType">`, `<xs:complexType name="AltroType"/><xs:complexType name="EnteType">`},
		"newFacet":       {`<xs:maxLength value="50"/>`, `<xs:maxLength value="50"/><xs:whiteSpace value="collapse"/>`},
		"allNotSequence": {`<xs:sequence>`, `<xs:all>`, `</xs:sequence>`, `</xs:all>`},
		"optionalRecord": {`maxOccurs="unbounded"/>`, `minOccurs="0" maxOccurs="unbounded"/>`},
	} {
		t.Run(name, func(t *testing.T) {
			changed := string(xsd)
			for i := 0; i < len(edits); i += 2 {
				changed = strings.Replace(changed, edits[i], edits[i+1], 1)
			}
			require.NotEqual(t, string(xsd), changed)
			_, err := gen.Generate([]byte(changed), csv)
			assert.Error(t, err)
		})
	}
}

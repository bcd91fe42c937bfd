package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/api"
)

func TestSINBAEnteSettings(t *testing.T) {
	def := api.DefaultSINBAEnte()
	ok := SINBAConfig{EnteCode: def.Codice, EnteName: *def.Denominazione, EnteMunicipality: def.Indirizzo, EnteCF: def.CFOperatore}
	e, err := ok.ente()
	require.NoError(t, err)
	assert.Equal(t, def, e, "the defaults are Regione Toscana's")

	for _, tc := range []struct {
		name   string
		change func(c *SINBAConfig)
		want   []string
	}{
		{"noCode", func(c *SINBAConfig) { c.EnteCode = "" }, []string{"SIRM_SINBA_ENTE_CODE"}},
		{"longCode", func(c *SINBAConfig) { c.EnteCode = strings.Repeat("9", 33) }, []string{"SIRM_SINBA_ENTE_CODE"}},
		{"longName", func(c *SINBAConfig) { c.EnteName = strings.Repeat("n", 101) }, []string{"SIRM_SINBA_ENTE_NAME"}},
		{"istatNotBelfiore", func(c *SINBAConfig) { c.EnteMunicipality = "048017" }, []string{"SIRM_SINBA_ENTE_MUNICIPALITY"}},
		{"fourDigits", func(c *SINBAConfig) { c.EnteMunicipality = "4801" }, []string{"SIRM_SINBA_ENTE_MUNICIPALITY"}},
		{"badCF", func(c *SINBAConfig) { c.EnteCF = "0138603048" }, []string{"SIRM_SINBA_ENTE_CF"}},
		{"twoBad", func(c *SINBAConfig) { c.EnteCode, c.EnteCF = "", "X" }, []string{"SIRM_SINBA_ENTE_CODE", "SIRM_SINBA_ENTE_CF"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			_, err := c.ente()
			require.Error(t, err)
			for _, v := range tc.want {
				assert.Contains(t, err.Error(), v)
			}
		})
	}
	t.Run("noName", func(t *testing.T) {
		c := ok
		c.EnteName = ""
		e, err := c.ente()
		require.NoError(t, err)
		assert.Nil(t, e.Denominazione, "Denominazione is optional")
	})
}

// TestServeRefusesBadSINBAEnte: serve stops at start, naming the setting.
func TestServeRefusesBadSINBAEnte(t *testing.T) {
	t.Setenv("SIRM_SINBA_ENTE_MUNICIPALITY", "048017")
	_, _, err := runCmd("serve", "--database-url", "postgres://nobody@127.0.0.1:1/none")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SIRM_SINBA_ENTE_MUNICIPALITY")
}

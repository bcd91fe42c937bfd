package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/api"
)

// SINBAConfig is the sender (Ente) of the SINBA flows exported for INPS.
type SINBAConfig struct {
	EnteCode         string
	EnteName         string
	EnteMunicipality string
	EnteCF           string
}

// sinbaEnteVars names the setting behind each attribute of the Ente.
var sinbaEnteVars = map[string]string{
	"Codice":        "SIRM_SINBA_ENTE_CODE",
	"Denominazione": "SIRM_SINBA_ENTE_NAME",
	"Indirizzo":     "SIRM_SINBA_ENTE_MUNICIPALITY",
	"CFOperatore":   "SIRM_SINBA_ENTE_CF",
}

func (s *settings) sinba(c *Config) {
	def := api.DefaultSINBAEnte()
	s.str(&c.SINBA.EnteCode, "sinba-ente-code", sinbaEnteVars["Codice"], def.Codice,
		"code of the sender of the SINBA flows exported for INPS (Ente Codice, 1-32 characters)", false)
	s.str(&c.SINBA.EnteName, "sinba-ente-name", sinbaEnteVars["Denominazione"], *def.Denominazione,
		"name of the sender (Ente Denominazione, up to 100 characters; empty: none)", false)
	s.str(&c.SINBA.EnteMunicipality, "sinba-ente-municipality", sinbaEnteVars["Indirizzo"], def.Indirizzo,
		"Belfiore code of the sender's municipality (Ente Indirizzo, a letter and 3 digits)", false)
	s.str(&c.SINBA.EnteCF, "sinba-ente-cf", sinbaEnteVars["CFOperatore"], def.CFOperatore,
		"tax code of the sender (Ente CFOperatore: 11 digits, or a personal codice fiscale)", false)
}

var belfiore = regexp.MustCompile(`^[A-Z][0-9]{3}$`)

// ente returns the configured Ente, checked against SINBA.xsd, or an
// error naming each setting that breaks it.
func (c SINBAConfig) ente() (sinba.Ente, error) {
	e := sinba.Ente{Codice: c.EnteCode, Indirizzo: c.EnteMunicipality, CFOperatore: c.EnteCF}
	if c.EnteName != "" {
		e.Denominazione = &c.EnteName
	}
	var bad []string
	h := sinba.Header{Nome: "check", Ente: e}
	var ve *sinba.ValidationError
	if err := h.Validate(); errors.As(err, &ve) {
		for _, v := range ve.Violations {
			attr := v.Field[strings.LastIndex(v.Field, "/")+1:]
			name := sinbaEnteVars[attr]
			if name == "" {
				name = v.Field
			}
			bad = append(bad, name+": "+v.Reason)
		}
	} else if err != nil {
		return sinba.Ente{}, err
	}
	// The schema asks for 4 characters; the value is meant to be a Belfiore code.
	if len(c.EnteMunicipality) == 4 && !belfiore.MatchString(c.EnteMunicipality) {
		bad = append(bad, fmt.Sprintf("%s=%q: not a Belfiore code (a letter and 3 digits, e.g. D612 for Firenze)", sinbaEnteVars["Indirizzo"], c.EnteMunicipality))
	}
	if len(bad) > 0 {
		return sinba.Ente{}, fmt.Errorf("the sender of the SINBA flows breaks SINBA.xsd: %s", strings.Join(bad, "; "))
	}
	return e, nil
}

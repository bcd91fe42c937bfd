// Package sinbatest makes valid SINBA flows for tests and benchmarks:
// random records that pass Record.Validate, and whole flows in XML or in
// the JSON form.
package sinbatest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/toscana/sirm/activity/sinba"
)

// Header returns a valid header for a flow named nome.
func Header(nome string) sinba.Header {
	den := "Società della Salute Firenze"
	return sinba.Header{
		Nome: nome,
		Ente: sinba.Ente{Codice: "SDS-FI", Denominazione: &den, Indirizzo: "D612", CFOperatore: "RSSMRA80A01D612X"},
	}
}

func pick[T ~string](rng *rand.Rand, l *sinba.CodeList) T {
	return T(l.Codes[rng.IntN(len(l.Codes))].Value)
}

func maybe[T ~string](rng *rand.Rand, l *sinba.CodeList) *T {
	if rng.IntN(2) == 0 {
		return nil
	}
	v := pick[T](rng, l)
	return &v
}

func ptr[T any](v T) *T { return &v }

// month returns a random MM/YYYY between January of year from and now.
func month(rng *rand.Rand, from int, now time.Time) sinba.DataMeseAnno {
	start := time.Date(from, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	months := (end.Year()-start.Year())*12 + int(end.Month()) - int(start.Month())
	return sinba.NewDataMeseAnno(start.AddDate(0, rng.IntN(months+1), 0))
}

// Record returns a random record that is valid at now, with token as its
// IDBeneficiario (at most 20 characters). About half of the optional
// attributes are present.
func Record(rng *rand.Rand, token string, now time.Time) sinba.Record {
	age := rng.IntN(18)
	birth := now.Year() - age
	band := sinba.FasciaEtaBeneficiario(strconv.Itoa(min(age/3+1, 6)))
	r := sinba.Record{
		IDBeneficiario:                  token,
		MinoreStranieroNoAcc:            pick[sinba.MinoreStranieroNoAcc](rng, sinba.MinoreStranieroNoAccCodes),
		CondizioneMinore:                pick[sinba.CondizioneMinore](rng, sinba.CondizioneMinoreCodes),
		LuogoVita:                       pick[sinba.LuogoVita](rng, sinba.LuogoVitaCodes),
		ScuolaFrequentata:               pick[sinba.ScuolaFrequentata](rng, sinba.ScuolaFrequentataCodes),
		CondizioneLavoro:                pick[sinba.CondizioneLavoro](rng, sinba.CondizioneLavoroCodes),
		Disabilita:                      "2",
		TitoloStudioPadre:               maybe[sinba.TitoloStudio](rng, sinba.TitoloStudioCodes),
		TitoloStudioMadre:               maybe[sinba.TitoloStudio](rng, sinba.TitoloStudioCodes),
		OccupazionePadre:                maybe[sinba.Occupazione](rng, sinba.OccupazioneCodes),
		OccupazioneMadre:                maybe[sinba.Occupazione](rng, sinba.OccupazioneCodes),
		DataPrimaSegnalazione:           month(rng, birth, now),
		FonteSegnalazione:               pick[sinba.FonteSegnalazione](rng, sinba.FonteSegnalazioneCodes),
		ValutazioneMinore:               pick[sinba.ValutazioneMinore](rng, sinba.ValutazioneMinoreCodes),
		ValutazioneFamigliaMinore:       pick[sinba.ValutazioneFamigliaMinore](rng, sinba.ValutazioneFamigliaMinoreCodes),
		SegnalazioneAutoritaGiudiziaria: "2",
		ProvvedimentoGiudiziario:        "2",
		FormaInterventoAffido:           maybe[sinba.FormaInterventoAffido](rng, sinba.FormaInterventoAffidoCodes),
		TipoInterventoAffido:            maybe[sinba.TipoInterventoAffido](rng, sinba.TipoInterventoAffidoCodes),
		DurataAffido:                    maybe[sinba.DurataAffido](rng, sinba.DurataAffidoCodes),
		CarattereAffido:                 maybe[sinba.CarattereAffido](rng, sinba.CarattereAffidoCodes),
		CarattereInserimentoResidenziale: maybe[sinba.CarattereInserimentoResidenziale](rng,
			sinba.CarattereInserimentoResidenzialeCodes),
		FormaInserimentoResidenziale: maybe[sinba.FormaInserimentoResidenziale](rng, sinba.FormaInserimentoResidenzialeCodes),
		TipoInserimentoResidenziale:  maybe[sinba.TipoInserimentoResidenziale](rng, sinba.TipoInserimentoResidenzialeCodes),
		CollaborazioniInterventi:     maybe[sinba.CollaborazioniInterventi](rng, sinba.CollaborazioniInterventiCodes),
		FasciaEtaBeneficiario:        band,
		FasciaISEEBeneficiario:       maybe[sinba.FasciaISEEBeneficiario](rng, sinba.FasciaISEEBeneficiarioCodes),
		AnnoNascita:                  strconv.Itoa(birth),
		CodiceRegioneResidenza:       ptr("09"),
		CodiceNazioneResidenza:       "100",
	}
	if rng.IntN(4) == 0 {
		r.Disabilita = "1"
		r.TipoDisabilita = ptr(pick[sinba.TipoDisabilita](rng, sinba.TipoDisabilitaCodes))
		r.InvCivCertificazioni = maybe[sinba.InvCivCertificazioni](rng, sinba.InvCivCertificazioniCodes)
	}
	if rng.IntN(2) == 0 {
		r.CodiceCittadinanzaPadre, r.CodiceCittadinanzaMadre = ptr("100"), ptr(fmt.Sprintf("%03d", 200+rng.IntN(300)))
		r.CodiceRegioneResidenzaPadre, r.CodiceRegioneResidenzaMadre = ptr("09"), ptr(fmt.Sprintf("%02d", 1+rng.IntN(20)))
		r.NumeroComponentiISEE = ptr(strconv.Itoa(1 + rng.IntN(9)))
	}
	if rng.IntN(3) == 0 {
		r.SegnalazioneAutoritaGiudiziaria = "1"
		r.DataSegnalazione = ptr(month(rng, birth, now))
	}
	if rng.IntN(3) == 0 {
		r.ProvvedimentoGiudiziario = "1"
		r.DataProvvedimentoGiudiziario = ptr(month(rng, birth, now))
		r.AutoritaProvvedimento = ptr(pick[sinba.AutoritaProvvedimento](rng, sinba.AutoritaProvvedimentoCodes))
		r.PotestaTutela = maybe[sinba.PotestaTutela](rng, sinba.PotestaTutelaCodes)
		r.TipoProvvedimentoGiudiziario = maybe[sinba.TipoProvvedimentoGiudiziario](rng, sinba.TipoProvvedimentoGiudiziarioCodes)
	}
	if rng.IntN(5) == 0 {
		r.EsitoAffido = maybe[sinba.EsitoAffido](rng, sinba.EsitoAffidoCodes)
		r.EsitoInserimentoStruttura = maybe[sinba.EsitoInserimentoStruttura](rng, sinba.EsitoInserimentoStrutturaCodes)
		r.MotivazioneChiusuraCarico = ptr(pick[sinba.MotivazioneChiusuraCarico](rng, sinba.MotivazioneChiusuraCaricoCodes))
		r.SituazioneChiusuraCarico = maybe[sinba.SituazioneChiusuraCarico](rng, sinba.SituazioneChiusuraCaricoCodes)
	}
	for range 1 + rng.IntN(4) {
		r.Prestazioni = append(r.Prestazioni, pick[sinba.CodicePrestazione](rng, sinba.CodicePrestazioneCodes))
	}
	for range 1 + rng.IntN(4) {
		r.Famiglia = append(r.Famiglia, pick[sinba.ComposizioneFamiglia](rng, sinba.ComposizioneFamigliaCodes))
	}
	return r
}

// Token returns the i-th token of a flow: 20 characters, like the
// pseudonyms senders use.
func Token(seed uint64, i int) string {
	return fmt.Sprintf("T%04x%015d", seed&0xffff, i)
}

// Records returns n random valid records, the same for the same seed.
func Records(seed uint64, n int, now time.Time) []sinba.Record {
	rng := rand.New(rand.NewPCG(seed, 0x5b1ba))
	out := make([]sinba.Record, n)
	for i := range out {
		out[i] = Record(rng, Token(seed, i), now)
	}
	return out
}

// WriteXML writes a flow named nome of n random valid records to w,
// generating them one at a time, so n can be large; the same seed gives
// the same flow.
func WriteXML(w io.Writer, nome string, n int, seed uint64, now time.Time) error {
	sw, err := sinba.NewWriter(w, Header(nome))
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5b1ba))
	for i := range n {
		r := Record(rng, Token(seed, i), now)
		if err := sw.Write(&r); err != nil {
			return err
		}
	}
	return sw.Close()
}

// WriteJSON writes the flow WriteXML writes for the same arguments in the
// JSON form.
func WriteJSON(w io.Writer, nome string, n int, seed uint64, now time.Time) error {
	h, err := json.Marshal(Header(nome))
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "{\"identificazione_flusso\":%s,\n\"sinba\":[", h); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5b1ba))
	for i := range n {
		r := Record(rng, Token(seed, i), now)
		b, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, ",\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "]}\n")
	return err
}

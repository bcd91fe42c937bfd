package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/toscana/sirm/registry"
)

// Facility is one generated facility: its data, the status it should end
// in and the dates of its life (created on Created, approved on Approved,
// then suspended or closed on Ended when Status says so).
type Facility struct {
	Data     registry.Data
	Status   registry.Status
	Created  time.Time
	Approved time.Time
	Ended    time.Time
}

// FacilityOptions control Facilities.
type FacilityOptions struct {
	N    int   // number of facilities; Tuscany had 183 at 31/12/2024
	Seed int64 // the same Seed and Now give the same registry
	// Now is the reference day: every date is before it. Zero means a
	// fixed day (2025-06-30), so that the output does not depend on when
	// it runs.
	Now time.Time
}

// typologyWeights follow the ASSO-ASMI Report 2025 counts at 31/12/2024
// (73 appartamenti per l'autonomia, 56 comunità a dimensione familiare, 27
// case di accoglienza e gruppi appartamento, fewer than 10 of each other
// type); the places are typical ranges, bounded by the typology's limit.
var typologyWeights = []struct {
	code       string
	weight     int
	minP, maxP int
	minA, maxA int
	prefix     []string
}{
	{"APPARTAMENTO_AUTONOMIA", 73, 3, 7, 16, 21, []string{"Appartamento per l'autonomia", "Casa per l'autonomia", "Appartamento"}},
	{"COMUNITA_DIMENSIONE_FAMILIARE", 56, 7, 12, 6, 17, []string{"Comunità", "Comunità a dimensione familiare", "Casa"}},
	{"CASA_ACCOGLIENZA_GRUPPO_APP", 27, 8, 14, 11, 17, []string{"Casa di accoglienza", "Gruppo appartamento", "Casa"}},
	{"CENTRO_PRONTA_ACCOGLIENZA", 7, 8, 12, 13, 17, []string{"Centro di pronta accoglienza", "Pronta accoglienza"}},
	{"CASA_GESTANTE_MADRE_FIGLIO", 6, 6, 12, 0, 17, []string{"Casa della gestante e della madre", "Casa mamma-bambino"}},
	{"COMUNITA_FAMILIARE", 5, 4, 6, 0, 17, []string{"Comunità familiare", "Casa famiglia"}},
	{"GRUPPO_APP_ADOLESCENTI_GIOVANI", 5, 4, 8, 15, 21, []string{"Gruppo appartamento", "Gruppo per adolescenti"}},
	{"COMUNITA_EDUCATIVA", 4, 8, 12, 11, 17, []string{"Comunità educativa"}},
	{"CASA_FAMIGLIA_MULTIUTENZA_COMPL", 3, 6, 10, 0, 17, []string{"Casa famiglia multiutenza"}},
	{"STRUTTURA_MULTIUTENZA", 2, 4, 8, 0, 17, []string{"Struttura multiutenza"}},
}

// zoneWeights are rough populations of the zones, in thousands, and the
// municipality where most of each zone's facilities are (its main town).
var zoneWeights = []struct {
	zone, main string
	weight     int
}{
	{"FIORENTINA", "048017", 360}, {"FIORENTINA_NO", "048043", 210}, {"FIORENTINA_SE", "048001", 180},
	{"MUGELLO", "048004", 65}, {"EMPOLESE_VV", "048014", 240}, {"PRATESE", "100005", 260},
	{"PISTOIESE", "047014", 170}, {"VALDINIEVOLE", "047011", 120}, {"LUNIGIANA", "045001", 50},
	{"APUANE", "045010", 140}, {"VALLE_SERCHIO", "046009", 55}, {"PIANA_LUCCA", "046017", 170},
	{"VERSILIA", "046033", 165}, {"PISANA", "050026", 200}, {"AVC_VALDERA", "050029", 135},
	{"LIVORNESE", "049009", 175}, {"VALLI_ETRUSCHE", "049012", 140}, {"ELBA", "049014", 32},
	{"ALTA_VAL_ELSA", "052022", 65}, {"SENESE", "052032", 125}, {"AMIATA_SI_VDO_VDC", "052015", 90},
	{"ARETINA", "051002", 130}, {"CASENTINO", "051004", 35}, {"VALTIBERINA", "051034", 30},
	{"VALDARNO", "051026", 95}, {"VALDICHIANA_AR", "051017", 50}, {"AMIATA_GR_CM_GR", "053011", 170},
	{"COLLINE_ALBEGNA", "053018", 50},
}

// provinceContacts are the postcode prefix and telephone prefix of each
// province.
var provinceContacts = map[string]struct{ cap, phone string }{
	"FI": {"50", "055"}, "PO": {"59", "0574"}, "PT": {"51", "0573"}, "LU": {"55", "0583"}, "MS": {"54", "0585"},
	"PI": {"56", "050"}, "LI": {"57", "0586"}, "AR": {"52", "0575"}, "SI": {"53", "0577"}, "GR": {"58", "0564"},
}

var facilityNames = []string{
	"Il Girasole", "Arcobaleno", "Il Melograno", "La Casa sull'Albero", "Il Gabbiano", "La Tartaruga", "Il Pettirosso",
	"San Francesco", "Don Bosco", "La Rondine", "Il Faro", "La Bussola", "Il Ponte", "L'Aquilone", "Il Mandorlo",
	"La Quercia", "Il Glicine", "La Lanterna", "Il Sentiero", "La Zattera", "Il Cammino", "Villa Serena", "Casa Betania",
	"Il Delfino", "La Ginestra", "Il Pozzo di Giacobbe", "La Nuova Primavera", "L'Approdo", "Il Nido", "La Sorgente",
	"Il Timone", "Santa Maria", "Il Colibrì", "La Mongolfiera", "Il Biancospino", "La Fenice",
}

var operatorNames = []struct {
	legal  string
	weight int
	forms  []string
}{
	{"COOPERATIVA_SOCIALE", 55, []string{"Cooperativa Sociale %s", "%s Società Cooperativa Sociale Onlus", "Cooperativa Sociale %s a r.l."}},
	{"ASSOCIAZIONE", 14, []string{"Associazione %s APS", "Associazione %s ODV"}},
	{"ENTE_ECCLESIASTICO", 10, []string{"Istituto delle Suore di %s", "Opera diocesana %s"}},
	{"FONDAZIONE", 8, []string{"Fondazione %s"}},
	{"ASP", 4, []string{"ASP %s"}},
	{"ENTE_PUBBLICO", 4, []string{"Società della Salute %s", "Unione dei Comuni %s"}},
	{"IMPRESA_SOCIALE", 5, []string{"%s Impresa Sociale srl"}},
}

var operatorWords = []string{
	"Il Cerchio", "Arca", "Nuovo Futuro", "Insieme", "Oltre", "Il Samaritano", "Giovani e Comunità", "CO&SO",
	"Metropolis", "Il Germoglio", "La Rete", "Sant'Anna", "San Vincenzo", "Casa del Sole", "Pane e Rose", "Ponti",
}

// Facilities returns o.N facilities spread over the 28 zones (by
// population, at least one each when N allows) and the typologies (as in
// the 2025 report), nearly all active, a few suspended, closed, submitted
// or still drafts. Every one passes the registry's validation.
func Facilities(o FacilityOptions, codes *registry.Codes) []Facility {
	now := o.Now
	if now.IsZero() {
		now = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed_a550))
	zones := zoneShares(o.N)
	byZone := map[string][]registry.Municipality{}
	for _, m := range codes.Municipalities {
		byZone[m.Zone] = append(byZone[m.Zone], m)
	}
	used := map[string]int{}
	out := make([]Facility, 0, o.N)
	for zi, n := range zones {
		zw := zoneWeights[zi]
		for range n {
			mun, _ := codes.Municipality(zw.main)
			if r.IntN(100) >= 55 {
				ms := byZone[zw.zone]
				mun = ms[r.IntN(len(ms))]
			}
			out = append(out, facility(r, codes, now, mun, used))
		}
	}
	// Shuffle so that IDs do not follow zones, as real registrations do not.
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// zoneShares splits n over the zones by weight, largest remainders first,
// giving each zone one facility first when n allows.
func zoneShares(n int) []int {
	shares := make([]int, len(zoneWeights))
	if n <= 0 {
		return shares
	}
	rest := n
	if n >= len(zoneWeights) {
		for i := range shares {
			shares[i] = 1
		}
		rest -= len(zoneWeights)
	}
	total := 0
	for _, z := range zoneWeights {
		total += z.weight
	}
	type rem struct{ i, r int }
	rems := make([]rem, len(zoneWeights))
	given := 0
	for i, z := range zoneWeights {
		q := rest * z.weight
		shares[i] += q / total
		given += q / total
		rems[i] = rem{i, q % total}
	}
	for k := 0; given < rest; k++ {
		best := 0
		for j := range rems {
			if rems[j].r > rems[best].r {
				best = j
			}
		}
		shares[rems[best].i]++
		rems[best].r = -1
		given++
	}
	return shares
}

func pickWeighted[T any](r *rand.Rand, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	x := r.IntN(total)
	for _, it := range items {
		if x < weight(it) {
			return it
		}
		x -= weight(it)
	}
	return items[len(items)-1]
}

func facility(r *rand.Rand, codes *registry.Codes, now time.Time, mun registry.Municipality, used map[string]int) Facility {
	typ := pickWeighted(r, typologyWeights, func(t struct {
		code       string
		weight     int
		minP, maxP int
		minA, maxA int
		prefix     []string
	}) int {
		return t.weight
	})
	name := typ.prefix[r.IntN(len(typ.prefix))] + " " + facilityNames[r.IntN(len(facilityNames))]
	if used[name]++; used[name] > 1 {
		name += " – " + mun.Name
		if used[name]++; used[name] > 1 {
			name += fmt.Sprintf(" %d", used[name])
		}
	}
	op := pickWeighted(r, operatorNames, func(o struct {
		legal  string
		weight int
		forms  []string
	}) int {
		return o.weight
	})
	opName := fmt.Sprintf(op.forms[r.IntN(len(op.forms))], operatorWords[r.IntN(len(operatorWords))])
	pc := provinceContacts[mun.Province]

	places := typ.minP + r.IntN(typ.maxP-typ.minP+1)
	if t, ok := codes.Typology(typ.code); ok && t.MaxPlaces > 0 {
		places = min(places, t.MaxPlaces)
	}
	// Authorised between 2005 and a month before now; registered in the
	// registry after the authorisation, approved within two months.
	span := int(now.Sub(time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)).Hours()/24) - 120
	authorised := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(span))
	created := authorised.AddDate(0, 0, 1+r.IntN(30)).Add(time.Duration(8+r.IntN(9)) * time.Hour)
	if created.Before(time.Date(2019, 1, 2, 0, 0, 0, 0, time.UTC)) {
		// The registry started in 2019: older facilities were loaded then.
		created = time.Date(2019, 1, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(60*24)) * time.Minute)
	}
	approved := created.AddDate(0, 0, 5+r.IntN(55))
	auth := registry.Authorisation{Status: registry.AuthorisationGranted, Date: registry.Date{Time: authorised},
		Act: fmt.Sprintf("Atto SUAP n. %d/%d", 1+r.IntN(400), authorised.Year())}
	if typ.code == "APPARTAMENTO_AUTONOMIA" {
		auth.Status = registry.AuthorisationCommunicated
		auth.Act = fmt.Sprintf("Comunicazione di avvio prot. %d/%d", 1000+r.IntN(9000), authorised.Year())
	}
	var acc registry.Accreditation
	if r.IntN(100) < 40 {
		d := authorised.AddDate(0, 0, 30+r.IntN(365))
		if d.Before(created) {
			acc = registry.Accreditation{Accredited: true, Date: registry.Date{Time: d}, Act: fmt.Sprintf("Decreto dirigenziale n. %d/%d", 1+r.IntN(999), d.Year())}
		}
	}
	slug := strings.ToLower(strings.NewReplacer(" ", "", "'", "", "–", "", "à", "a", "è", "e", "ì", "i", "ò", "o", "ù", "u").Replace(name))
	if len(slug) > 40 {
		slug = slug[:40]
	}
	f := Facility{
		Data: registry.Data{
			Name: name, Typology: typ.code,
			Operator: registry.Operator{Name: opName, LegalNature: op.legal, TaxNumber: partitaIVA(r)},
			Address: registry.Address{Street: streets[r.IntN(len(streets))] + fmt.Sprintf(" %d", 1+r.IntN(120)),
				Postcode: fmt.Sprintf("%s%03d", pc.cap, r.IntN(100)), Municipality: mun.Code},
			Zone:             mun.Zone,
			Authorisation:    auth,
			Accreditation:    acc,
			AuthorisedPlaces: places,
			Target: registry.Target{MinAge: typ.minA, MaxAge: typ.maxA,
				MothersWithChildren:        typ.code == "CASA_GESTANTE_MADRE_FIGLIO",
				UnaccompaniedForeignMinors: typ.code == "APPARTAMENTO_AUTONOMIA" || typ.code == "CENTRO_PRONTA_ACCOGLIENZA" || r.IntN(100) < 20},
			Contacts: registry.Contacts{Email: "info@" + slug + ".example.it",
				Phone: fmt.Sprintf("%s %06d", pc.phone, r.IntN(1000000))},
		},
		Status: registry.StatusActive, Created: created, Approved: approved,
	}
	switch x := r.IntN(100); {
	case x < 2:
		f.Status, f.Approved = registry.StatusDraft, time.Time{}
		f.Created = now.AddDate(0, 0, -1-r.IntN(20))
	case x < 4:
		f.Status, f.Approved = registry.StatusSubmitted, time.Time{}
		f.Created = now.AddDate(0, 0, -10-r.IntN(20))
	case x < 7:
		f.Status, f.Ended = registry.StatusSuspended, approved.Add(time.Duration(r.Int64N(int64(now.Sub(approved)))))
	case x < 9:
		f.Status, f.Ended = registry.StatusClosed, approved.Add(time.Duration(r.Int64N(int64(now.Sub(approved)))))
	}
	if f.Approved.After(now) {
		f.Approved = now.AddDate(0, 0, -1)
	}
	return f
}

var streets = []string{
	"Via Roma", "Via Garibaldi", "Via Mazzini", "Via della Repubblica", "Via dei Mille", "Via Dante Alighieri",
	"Via Cavour", "Viale Europa", "Via San Francesco", "Via del Poggio", "Via della Chiesa", "Via Fiorentina",
	"Via Aurelia", "Via Pisana", "Via Senese", "Via Aretina", "Via Vittorio Veneto", "Piazza della Libertà",
}

// partitaIVA returns a random number with a valid check digit; the first
// seven digits are the company number, the next three an office code in
// Tuscany's range (Agenzia delle Entrate offices 045–053, 100).
func partitaIVA(r *rand.Rand) string {
	offices := []int{45, 46, 47, 48, 49, 50, 51, 52, 53, 100}
	b := []byte(fmt.Sprintf("%07d%03d", 1+r.IntN(9999998), offices[r.IntN(len(offices))]))
	sum := 0
	for i, c := range b {
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return string(b) + string(rune('0'+(10-sum%10)%10))
}

// Actor is the subject that the demo registry's versions name.
const Actor = "sirm-demo"

// LoadFacilities loads fs into the registry through its own workflow:
// create, submit, approve, then suspend or close, each step dated as the
// facility says. svc must read its clock through setNow's variable: setNow
// sets the instant the next step happens. hook, when not nil, returns the
// hook each change runs in its transaction (the audit event).
func LoadFacilities(ctx context.Context, svc *registry.Service, setNow func(time.Time), fs []Facility,
	hook func(registry.Change) registry.Hook) error {
	actor := registry.Actor{Subject: Actor, Role: "admin", Org: "REGIONE", Region: true}
	h := func(c registry.Change) registry.Hook {
		if hook == nil {
			return nil
		}
		return hook(c)
	}
	step := func(f registry.Facility, at time.Time, c registry.Change) (registry.Facility, error) {
		setNow(at)
		return svc.Transition(ctx, actor, f.Ref(), c, f.Version, "", h(c))
	}
	for i, g := range fs {
		setNow(g.Created)
		f, err := svc.Create(ctx, actor, g.Data, "demo", h(registry.ChangeCreate))
		if err != nil {
			return fmt.Errorf("facility %d: %w", i+1, err)
		}
		if g.Status != registry.StatusDraft {
			if f, err = step(f, g.Created.Add(time.Hour), registry.ChangeSubmit); err != nil {
				return fmt.Errorf("facility %d: %w", i+1, err)
			}
		}
		if g.Status.Approved() {
			if f, err = step(f, g.Approved, registry.ChangeApprove); err != nil {
				return fmt.Errorf("facility %d: %w", i+1, err)
			}
		}
		switch g.Status {
		case registry.StatusSuspended:
			_, err = step(f, g.Ended, registry.ChangeSuspend)
		case registry.StatusClosed:
			_, err = step(f, g.Ended, registry.ChangeClose)
		}
		if err != nil {
			return fmt.Errorf("facility %d: %w", i+1, err)
		}
	}
	return nil
}

package registry

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The code lists are shipped with the binary (seed/*.csv, where
// seed/SOURCES.md says where each comes from and what is uncertain), so that
// validation never depends on a file next to the executable.
//
//go:embed seed/*.csv
var seedFiles embed.FS

// Zone is a zona-distretto, the territorial unit of social services.
type Zone struct {
	Code       string
	Name       string
	AziendaUSL string
	// Provinces are the two-letter codes of the provinces the zone's
	// municipalities belong to.
	Provinces []string
}

// Typology is a type of residential facility for minors from the regional
// list; MaxPlaces is 0 when the regulations read set no limit.
type Typology struct {
	Code      string
	Label     string // Italian, as in the regional list
	Kind      string // "residential" or "semi-residential"
	MaxPlaces int
}

// Municipality is a Tuscan comune: its 6-digit ISTAT code, name, province
// and the zone it is believed to belong to (see seed/SOURCES.md).
type Municipality struct {
	Code     string
	Name     string
	Province string
	Zone     string
}

// LegalNature is the legal form of a facility's operator (ente gestore).
type LegalNature struct {
	Code  string
	Label string
}

// LegalNatures is sirm's list of operators' legal natures.
var LegalNatures = []LegalNature{
	{"ENTE_PUBBLICO", "Ente pubblico (Comune, Unione di comuni, Società della Salute, Azienda USL)"},
	{"ASP", "Azienda pubblica di servizi alla persona"},
	{"COOPERATIVA_SOCIALE", "Cooperativa sociale"},
	{"IMPRESA_SOCIALE", "Impresa sociale"},
	{"ASSOCIAZIONE", "Associazione (APS, ODV o altra)"},
	{"FONDAZIONE", "Fondazione"},
	{"ENTE_ECCLESIASTICO", "Ente ecclesiastico o religioso"},
	{"IMPRESA", "Impresa privata"},
	{"PERSONA_FISICA", "Persona fisica o famiglia (comunità familiare)"},
	{"ALTRO", "Altro"},
}

// AuthorisationStatus is where a facility stands with its authorisation to
// operate (autorizzazione al funzionamento, L.R. 41/2005 art. 21).
type AuthorisationStatus string

// Authorisation statuses.
const (
	AuthorisationPending AuthorisationStatus = "pending"
	AuthorisationGranted AuthorisationStatus = "granted"
	// AuthorisationCommunicated: structures subject to a communication of
	// start of activity rather than an authorisation (D.P.G.R. 2/R/2018,
	// Allegato B), such as the appartamenti per l'autonomia.
	AuthorisationCommunicated AuthorisationStatus = "communicated"
	AuthorisationRevoked      AuthorisationStatus = "revoked"
)

// AuthorisationStatuses lists the valid authorisation statuses.
var AuthorisationStatuses = []AuthorisationStatus{AuthorisationPending, AuthorisationGranted, AuthorisationCommunicated, AuthorisationRevoked}

// Codes holds the code lists, indexed.
type Codes struct {
	Zones          []Zone
	Typologies     []Typology
	Municipalities []Municipality

	zones          map[string]Zone
	typologies     map[string]Typology
	municipalities map[string]Municipality
	legalNatures   map[string]LegalNature
}

// Zone returns the zone with code and whether there is one.
func (c *Codes) Zone(code string) (Zone, bool) { z, ok := c.zones[code]; return z, ok }

// Typology returns the typology with code and whether there is one.
func (c *Codes) Typology(code string) (Typology, bool) { t, ok := c.typologies[code]; return t, ok }

// Municipality returns the municipality with the ISTAT code and whether
// there is one.
func (c *Codes) Municipality(code string) (Municipality, bool) {
	m, ok := c.municipalities[code]
	return m, ok
}

// LegalNature returns the legal nature with code and whether there is one.
func (c *Codes) LegalNature(code string) (LegalNature, bool) {
	l, ok := c.legalNatures[code]
	return l, ok
}

// LoadCodes reads the code lists shipped with the binary.
func LoadCodes() (*Codes, error) {
	c := &Codes{zones: map[string]Zone{}, typologies: map[string]Typology{}, municipalities: map[string]Municipality{}, legalNatures: map[string]LegalNature{}}
	err := readSeed("seed/zones.csv", []string{"code", "name", "azienda_usl", "province", "sds"}, func(r []string) error {
		z := Zone{Code: r[0], Name: r[1], AziendaUSL: r[2], Provinces: strings.Split(r[3], ";")}
		c.Zones = append(c.Zones, z)
		c.zones[z.Code] = z
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readSeed("seed/typologies.csv", []string{"code", "label", "kind", "max_places", "notes"}, func(r []string) error {
		t := Typology{Code: r[0], Label: r[1], Kind: r[2]}
		if r[3] != "" {
			n, err := strconv.Atoi(r[3])
			if err != nil {
				return fmt.Errorf("max_places %q", r[3])
			}
			t.MaxPlaces = n
		}
		c.Typologies = append(c.Typologies, t)
		c.typologies[t.Code] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readSeed("seed/municipalities.csv", []string{"istat_code", "name", "province", "zone"}, func(r []string) error {
		m := Municipality{Code: r[0], Name: r[1], Province: r[2], Zone: r[3]}
		if !validISTAT(m.Code) {
			return fmt.Errorf("ISTAT code %q", m.Code)
		}
		if _, ok := c.zones[m.Zone]; !ok {
			return fmt.Errorf("municipality %s: unknown zone %q", m.Code, m.Zone)
		}
		c.Municipalities = append(c.Municipalities, m)
		c.municipalities[m.Code] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, l := range LegalNatures {
		c.legalNatures[l.Code] = l
	}
	sort.Slice(c.Municipalities, func(i, j int) bool { return c.Municipalities[i].Code < c.Municipalities[j].Code })
	return c, nil
}

// MustLoadCodes is LoadCodes for the lists embedded in the binary, which a
// test checks: it panics only on a broken build.
func MustLoadCodes() *Codes {
	c, err := LoadCodes()
	if err != nil {
		panic(err)
	}
	return c
}

func readSeed(name string, header []string, fn func([]string) error) error {
	b, err := seedFiles.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(header)
	got, err := r.Read()
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if strings.Join(got, ",") != strings.Join(header, ",") {
		return fmt.Errorf("read %s: header %v, want %v", name, got, header)
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := fn(rec); err != nil {
			return fmt.Errorf("read %s line %d: %w", name, line, err)
		}
	}
}

func validISTAT(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

package report

import (
	"context"
	"fmt"
	"time"
)

// MicroRecord is one record of research microdata: a minor out of family
// at a date, with coarse attributes only. The quasi-identifiers are the
// zone, sex, age class and citizenship group (QuasiIdentifiers); setting
// and placement are the variables of study.
type MicroRecord struct {
	// Person is the linkage person id the record is about, for the
	// exporter to replace with a token of the release's domain; it is
	// never published.
	Person      string
	Setting     string // residential or foster_care
	Zone        string
	Sex         string // M, F, X
	AgeClass    AgeClass
	Citizenship CitizenshipGroup
	Placement   string // consensual or judicial
}

// QuasiIdentifiers returns the record's quasi-identifiers.
func (r MicroRecord) QuasiIdentifiers() QuasiIdentifiers {
	return QuasiIdentifiers{Zone: r.Zone, Sex: r.Sex, AgeClass: r.AgeClass, Citizenship: r.Citizenship}
}

// MicrodataSource lists the minors out of family in the Region at the end
// of a day: the population of the survey, one record per minor and
// setting. Errors are internal. Safe for concurrent use.
type MicrodataSource interface {
	OutOfFamilyRecords(ctx context.Context, day time.Time) ([]MicroRecord, error)
}

// RegionZone is the zone of microdata generalised to the Region.
const RegionZone = "REGIONE"

// GeneraliseToRegion replaces every record's zone with RegionZone, the
// coarser geography a release falls back to when zones are too small.
func GeneraliseToRegion(records []MicroRecord) {
	for i := range records {
		records[i].Zone = RegionZone
	}
}

// CheckMicrodata returns nil when every combination of quasi-identifiers
// of records is shared by at least k distinct minors (a minor with two
// records in one combination counts once), and a *KAnonymityError
// otherwise.
func CheckMicrodata(records []MicroRecord, k int) error {
	type key struct {
		qi     QuasiIdentifiers
		person string
	}
	seen := make(map[key]bool, len(records))
	qis := make([]QuasiIdentifiers, 0, len(records))
	for _, r := range records {
		k := key{r.QuasiIdentifiers(), r.Person}
		if !seen[k] {
			seen[k] = true
			qis = append(qis, k.qi)
		}
	}
	return CheckKAnonymity(qis, k)
}

// ParseAgeClass returns the class whose code (String) is s.
func ParseAgeClass(s string) (AgeClass, error) {
	for _, c := range AgeClasses {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("report: %q is not an age class", s)
}

// ParseCitizenshipGroup returns the group whose code (String) is s.
func ParseCitizenshipGroup(s string) (CitizenshipGroup, error) {
	for _, g := range CitizenshipGroups {
		if g.String() == s {
			return g, nil
		}
	}
	return 0, fmt.Errorf("report: %q is not a citizenship group", s)
}

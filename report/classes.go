package report

import (
	"errors"
	"fmt"
	"time"
)

// AgeClass is the age class of the surveys on minors out of family:
// 0-2, 3-5, 6-10, 11-13, 14-17 and 18-21 (young adults kept in care).
type AgeClass uint8

// The age classes, in order. The zero value is not a class.
const (
	Age0to2 AgeClass = iota + 1
	Age3to5
	Age6to10
	Age11to13
	Age14to17
	Age18to21
)

// AgeClasses lists the classes in order.
var AgeClasses = []AgeClass{Age0to2, Age3to5, Age6to10, Age11to13, Age14to17, Age18to21}

var ageBounds = [...][2]int{{}, {0, 2}, {3, 5}, {6, 10}, {11, 13}, {14, 17}, {18, 21}}

// ErrAgeOutOfRange is returned by AgeClassOf for an age below 0 or above 21,
// which the system does not serve.
var ErrAgeOutOfRange = errors.New("report: age outside 0-21")

// AgeClassOf returns the class of an age in completed years.
func AgeClassOf(age int) (AgeClass, error) {
	for _, c := range AgeClasses {
		if b := ageBounds[c]; age >= b[0] && age <= b[1] {
			return c, nil
		}
	}
	return 0, fmt.Errorf("age %d: %w", age, ErrAgeOutOfRange)
}

// Bounds returns the first and last age of the class.
func (c AgeClass) Bounds() (from, to int) {
	if c < Age0to2 || c > Age18to21 {
		return 0, -1
	}
	return ageBounds[c][0], ageBounds[c][1]
}

// String is the class code, "0-2" … "18-21" (also its label in both
// languages); "?" for the zero value.
func (c AgeClass) String() string {
	from, to := c.Bounds()
	if to < 0 {
		return "?"
	}
	return fmt.Sprintf("%d-%d", from, to)
}

// AgeAt returns the age in completed years at date ref of a person born in
// birthYear and birthMonth (1-12): the system keeps no birth day. Within the
// birth month the birthday counts as passed (born on the 1st), so that a
// person is never counted younger than they may be; SQL code computing ages
// must follow the same rule to agree with the microdata.
func AgeAt(birthYear, birthMonth int, ref time.Time) int {
	age := ref.Year() - birthYear
	if int(ref.Month()) < birthMonth {
		age--
	}
	return age
}

// AgeClassDimension is the dimension of age classes, for tables.
func AgeClassDimension() Dimension {
	d := Dimension{Code: "age_class", Label: Label{IT: "Classe di età", EN: "Age class"}}
	for _, c := range AgeClasses {
		d.Categories = append(d.Categories, Category{Code: c.String(), Label: Label{IT: c.String() + " anni", EN: c.String() + " years"}})
	}
	return d
}

// CitizenshipGroup is the coarse citizenship the system keeps and the
// surveys publish.
type CitizenshipGroup uint8

// The citizenship groups. An unaccompanied foreign minor (minore straniero
// non accompagnato, MSNA) is counted in its own group, not among the
// foreigners, as the surveys do.
const (
	CitizenshipUnknown CitizenshipGroup = iota
	Italian
	Foreign
	UnaccompaniedForeign
)

// CitizenshipGroups lists the groups in publication order.
var CitizenshipGroups = []CitizenshipGroup{Italian, Foreign, UnaccompaniedForeign, CitizenshipUnknown}

// ItalyCode is Italy's ISO 3166-1 numeric code, as INPS flows use.
const ItalyCode = 380

// CitizenshipGroupOf classifies an ISO 3166-1 numeric citizenship (0 when
// unknown) and the unaccompanied-foreign-minor flag. The flag wins over an
// unknown or foreign citizenship; an Italian citizen is never an MSNA.
func CitizenshipGroupOf(iso3166 int, unaccompanied bool) CitizenshipGroup {
	switch {
	case iso3166 == ItalyCode:
		return Italian
	case unaccompanied:
		return UnaccompaniedForeign
	case iso3166 == 0:
		return CitizenshipUnknown
	}
	return Foreign
}

var citizenshipCodes = [...]string{"unknown", "italian", "foreign", "unaccompanied_foreign"}

var citizenshipLabels = [...]Label{
	{IT: "Non indicata", EN: "Not stated"},
	{IT: "Italiana", EN: "Italian"},
	{IT: "Straniera", EN: "Foreign"},
	{IT: "Straniera, minore non accompagnato", EN: "Foreign, unaccompanied minor"},
}

// String is the group's code: "italian", "foreign", "unaccompanied_foreign"
// or "unknown".
func (g CitizenshipGroup) String() string {
	if int(g) < len(citizenshipCodes) {
		return citizenshipCodes[g]
	}
	return "?"
}

// Label is the group's label.
func (g CitizenshipGroup) Label() Label {
	if int(g) < len(citizenshipLabels) {
		return citizenshipLabels[g]
	}
	return Label{IT: "?", EN: "?"}
}

// CitizenshipDimension is the dimension of citizenship groups, for tables.
func CitizenshipDimension() Dimension {
	d := Dimension{Code: "citizenship", Label: Label{IT: "Cittadinanza", EN: "Citizenship"}}
	for _, g := range CitizenshipGroups {
		d.Categories = append(d.Categories, Category{Code: g.String(), Label: g.Label()})
	}
	return d
}

// SexDimension is the dimension of sex as the system records it: M, F, and X
// when unknown.
func SexDimension() Dimension {
	return Dimension{Code: "sex", Label: Label{IT: "Sesso", EN: "Sex"}, Categories: []Category{
		{Code: "M", Label: Label{IT: "Maschi", EN: "Males"}},
		{Code: "F", Label: Label{IT: "Femmine", EN: "Females"}},
		{Code: "X", Label: Label{IT: "Non indicato", EN: "Not stated"}},
	}}
}

// PlacementDimension is consensual versus judicial placement.
func PlacementDimension() Dimension {
	return Dimension{Code: "placement", Label: Label{IT: "Tipo di collocamento", EN: "Placement"}, Categories: []Category{
		{Code: "consensual", Label: Label{IT: "Consensuale", EN: "Consensual"}},
		{Code: "judicial", Label: Label{IT: "Giudiziale", EN: "Judicial"}},
	}}
}

// Cross is the product of two dimensions, for a three-way tabulation whose
// rows are pairs (zone × facility typology, say) in one table: one table
// protected as a whole, where separate layers would each be protected on
// their own. Codes join with "|", labels with " – ".
func Cross(a, b Dimension) Dimension {
	d := Dimension{
		Code:  a.Code + "|" + b.Code,
		Label: Label{IT: a.Label.IT + " – " + b.Label.IT, EN: a.Label.In("en") + " – " + b.Label.In("en")},
	}
	for _, x := range a.Categories {
		for _, y := range b.Categories {
			d.Categories = append(d.Categories, Category{
				Code:  x.Code + "|" + y.Code,
				Label: Label{IT: x.Label.IT + " – " + y.Label.IT, EN: x.Label.In("en") + " – " + y.Label.In("en")},
			})
		}
	}
	return d
}

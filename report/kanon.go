package report

import (
	"errors"
	"fmt"
	"time"
)

// QuasiIdentifiers are the attributes of a research microdata record that,
// combined, could single a minor out: they are published only generalised
// (age class, citizenship group), and only when every combination is shared
// by at least k records.
type QuasiIdentifiers struct {
	Zone        string
	Sex         string // M, F, X
	AgeClass    AgeClass
	Citizenship CitizenshipGroup
}

// Generalise returns the quasi-identifiers of a record from the coarse
// attributes the system keeps: the age at ref becomes its class, the
// citizenship (ISO 3166-1 numeric, 0 when unknown) and the unaccompanied
// flag become the group. It returns ErrAgeOutOfRange for an age outside
// 0-21.
func Generalise(zone, sex string, birthYear, birthMonth int, ref time.Time, citizenship int, unaccompanied bool) (QuasiIdentifiers, error) {
	ac, err := AgeClassOf(AgeAt(birthYear, birthMonth, ref))
	if err != nil {
		return QuasiIdentifiers{}, err
	}
	return QuasiIdentifiers{Zone: zone, Sex: sex, AgeClass: ac, Citizenship: CitizenshipGroupOf(citizenship, unaccompanied)}, nil
}

// DefaultK is the least number of records every combination of
// quasi-identifiers must have in released microdata.
const DefaultK = 3

// ErrNotKAnonymous is wrapped by *KAnonymityError.
var ErrNotKAnonymous = errors.New("report: microdata not k-anonymous")

// KAnonymityError is returned by CheckKAnonymity when some combinations are
// too rare. It tells how many, never which: the combinations themselves
// would describe the minors the check protects.
type KAnonymityError struct {
	K            int
	Combinations int // combinations with fewer than K records
	Records      int // records in those combinations
}

// Error says how many combinations and records fall short, not which.
func (e *KAnonymityError) Error() string {
	return fmt.Sprintf("microdata refused: %d combinations of quasi-identifiers (%d records) have fewer than %d records",
		e.Combinations, e.Records, e.K)
}

// Unwrap makes errors.Is(err, ErrNotKAnonymous) true.
func (e *KAnonymityError) Unwrap() error { return ErrNotKAnonymous }

// CheckKAnonymity returns nil when every combination of quasi-identifiers
// in records occurs at least k times (k < 1 means DefaultK), and a
// *KAnonymityError otherwise. An empty set is k-anonymous.
func CheckKAnonymity(records []QuasiIdentifiers, k int) error {
	if k < 1 {
		k = DefaultK
	}
	counts := make(map[QuasiIdentifiers]int)
	for _, r := range records {
		counts[r]++
	}
	e := &KAnonymityError{K: k}
	for _, n := range counts {
		if n < k {
			e.Combinations++
			e.Records += n
		}
	}
	if e.Combinations > 0 {
		return e
	}
	return nil
}

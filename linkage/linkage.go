// Package linkage turns identities into persons and tokens. It is the only
// package that ever sees an identity: it validates and normalises it,
// derives keyed match keys from it (PRF digests of normalised variants), and
// resolves them to an internal PersonID. Callers outside the server only
// ever see Tokens, which are per-domain keyed pseudonyms of a PersonID.
//
// Nothing identifying is stored: only match-key digests and coarse
// attributes (sex, birth year and month, citizenship group).
package linkage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// PersonID is the internal identifier of a person: 16 random bytes. It
// never leaves the server. Only this package creates one (NewPersonID,
// ParsePersonID for stores reading their own columns).
type PersonID struct{ b [16]byte }

// NewPersonID returns a fresh random PersonID.
func NewPersonID() PersonID {
	var p PersonID
	if _, err := rand.Read(p.b[:]); err != nil {
		panic("linkage: crypto/rand failed: " + err.Error())
	}
	return p
}

// ParsePersonID parses the String form of a PersonID (32 hex characters, or
// the 36-character UUID form PostgreSQL prints).
func ParsePersonID(s string) (PersonID, error) {
	var p PersonID
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != len(p.b) {
		return PersonID{}, fmt.Errorf("%w: person id", ErrMalformed)
	}
	copy(p.b[:], raw)
	return p, nil
}

// String is the 32-hex-character form.
func (p PersonID) String() string { return hex.EncodeToString(p.b[:]) }

// Bytes returns the 16 bytes of p.
func (p PersonID) Bytes() []byte { return append([]byte(nil), p.b[:]...) }

// IsZero reports whether p is the zero PersonID (no person).
func (p PersonID) IsZero() bool { return p == PersonID{} }

// Sentinel errors.
var (
	// ErrMalformed is returned when a token, person id, digest or domain
	// does not have the right form.
	ErrMalformed = errors.New("malformed")
	// ErrNotFound is returned by lookups when no person or token matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when an identity carries strong keys that
	// belong to two different persons (e.g. a codice fiscale known for one
	// person and name+birth date known for another): it is never linked
	// automatically.
	ErrConflict = errors.New("conflicting identity")
)

// FieldError names one bad field of an identity.
type FieldError struct {
	Field  string // the JSON name: codice_fiscale, surname, given_names, birth_date, sex, birth_place, citizenship, residence.*
	Reason string // never repeats the submitted value
}

// ValidationError lists every bad field of an identity. Normalize returns
// it (as *ValidationError).
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	names := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		names[i] = f.Field
	}
	return "invalid identity: " + strings.Join(names, ", ")
}

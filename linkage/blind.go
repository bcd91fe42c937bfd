package linkage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudflare/circl/oprf"
)

// Blind mode: a client that must not reveal identities computes the match
// keys itself (Normalize, KeyValues, PRFInput), has the server evaluate
// them blinded (EvaluateBlinded), unblinds and verifies, and submits only
// the digests with the coarse attributes (ResolveKeys). The server never
// sees a name; the price is that blind identities carry no Bloom-filter
// encodings, so they link through the deterministic keys only.

// ErrBlindUnavailable is returned by BlindKey and EvaluateBlinded when the
// PRF backend is not oprf: only the OPRF can be evaluated blindly.
var ErrBlindUnavailable = errors.New("blind mode needs the oprf backend")

// QuotaError is returned by EvaluateBlinded when the evaluation would take
// the organisation past its daily limit of elements. Nothing was counted.
type QuotaError struct {
	Limit int64     // elements allowed per UTC day
	Used  int64     // elements already evaluated today
	Reset time.Time // next UTC midnight, when the count starts again
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("daily limit of %d blind evaluations reached (%d used)", e.Limit, e.Used)
}

// BlindQuota counts the blinded elements each organisation has had
// evaluated per UTC day. The linkage Store implements it when it can (the
// PostgreSQL one does); EvaluateBlinded refuses to run without it.
type BlindQuota interface {
	// ChargeOPRF adds n to org's count for day (a UTC date) and returns the
	// new count with ok true, unless the count would pass limit: then it
	// adds nothing and returns the count as it stands with ok false. Safe
	// for concurrent use; runs in the transaction ctx carries.
	ChargeOPRF(ctx context.Context, org string, day time.Time, n, limit int64) (used int64, ok bool, err error)
}

// BlindKey returns the OPRF blind-mode clients evaluate against, or
// ErrBlindUnavailable when the backend is not oprf.
func (s *Service) BlindKey() (*OPRF, error) {
	o, ok := s.prf.(*OPRF)
	if !ok {
		return nil, ErrBlindUnavailable
	}
	return o, nil
}

// EvaluateBlinded charges the elements of req to org's quota for the UTC
// day of now (at most limit a day) and evaluates them with a proof, in one
// transaction with hook (which api uses to audit the call): a refused or
// failed call counts nothing. It returns ErrBlindUnavailable without the
// oprf backend, a *QuotaError past the limit, and an error wrapping
// ErrMalformed for a bad element (see OPRF.EvaluateBlinded).
func (s *Service) EvaluateBlinded(ctx context.Context, org string, req *oprf.EvaluationRequest, limit int64, now time.Time, hook func(ctx context.Context) error) (*oprf.Evaluation, error) {
	o, err := s.BlindKey()
	if err != nil {
		return nil, err
	}
	quota, ok := s.store.(BlindQuota)
	if !ok {
		return nil, errors.New("linkage: the store keeps no blind-mode quota")
	}
	if req == nil || len(req.Elements) == 0 {
		return nil, fmt.Errorf("%w: oprf evaluation request: no elements", ErrMalformed)
	}
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var ev *oprf.Evaluation
	err = s.tx.WithTx(ctx, func(ctx context.Context) error {
		used, ok, err := quota.ChargeOPRF(ctx, org, day, int64(len(req.Elements)), limit)
		if err != nil {
			return fmt.Errorf("charge blind-mode quota: %w", err)
		}
		if !ok {
			return &QuotaError{Limit: limit, Used: used, Reset: day.AddDate(0, 0, 1)}
		}
		// Evaluated under the quota row's lock: an organisation's
		// concurrent calls queue, which is the point of a quota.
		if ev, err = o.EvaluateBlinded(req); err != nil {
			return err
		}
		if hook != nil {
			return hook(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// KeySet is one identity as a blind-mode client submits it: the digests of
// its match keys, which the client computed through EvaluateBlinded, and
// its coarse attributes.
type KeySet struct {
	Keys  []Digest
	Attrs Attributes
}

// maxKeysPerSet bounds the keys of one KeySet: KeyValues gives at most 16.
const maxKeysPerSet = 32

// ResolveKeys resolves key sets exactly as Resolve resolves identities
// (the same persons, tokens, keys written and audit hook), for clients in
// blind mode. A bad set gets its own Err, a *ValidationError whose fields
// read "match_keys[2].kind", "attributes.sex" and so on, and does not stop
// the others. A set needs one NDS key, at most one code (CF or PROV), and
// digests of DigestSize bytes.
func (s *Service) ResolveKeys(ctx context.Context, domain string, sets []KeySet, hook Hook) ([]Result, error) {
	if !ValidDomain(domain) {
		return nil, fmt.Errorf("%w: domain", ErrMalformed)
	}
	results := make([]Result, len(sets))
	var preps []prepared
	for i, set := range sets {
		results[i].Index = i
		p, err := s.prepareKeys(i, set)
		if err != nil {
			results[i].Err = err
			continue
		}
		preps = append(preps, p)
	}
	return s.resolvePrepared(ctx, domain, preps, results, hook)
}

// prepareKeys checks one key set and turns it into a prepared identity
// whose weak digests are given (weakKV stays empty: there is nothing to
// evaluate).
func (s *Service) prepareKeys(index int, set KeySet) (prepared, error) {
	var fields []FieldError
	bad := func(field, reason string) { fields = append(fields, FieldError{Field: field, Reason: reason}) }
	p := prepared{index: index, attrs: set.Attrs, weak: []Digest{}}
	switch n := len(set.Keys); {
	case n == 0:
		bad("match_keys", "required: at least the NDS key")
	case n > maxKeysPerSet:
		bad("match_keys", "at most "+strconv.Itoa(maxKeysPerSet)+" keys")
	}
	seen := map[string]bool{}
	strongSeen := map[KeyKind]bool{}
	for j, k := range set.Keys {
		at := "match_keys[" + strconv.Itoa(j) + "]"
		ok := true
		if !k.Kind.Valid() {
			bad(at+".kind", "unknown match-key kind")
			ok = false
		}
		if len(k.Digest) != DigestSize {
			bad(at+".digest", "must be "+strconv.Itoa(DigestSize)+" bytes")
			ok = false
		}
		if !ok {
			continue
		}
		if seen[k.id()] {
			bad(at, "repeats an earlier key")
			continue
		}
		seen[k.id()] = true
		d := Digest{Kind: k.Kind, Digest: append([]byte(nil), k.Digest...)}
		if !k.Kind.Strong() {
			p.weak = append(p.weak, d)
			continue
		}
		if strongSeen[k.Kind] {
			bad(at+".kind", "only one key of this kind")
			continue
		}
		if (k.Kind == KindCF && strongSeen[KindPROV]) || (k.Kind == KindPROV && strongSeen[KindCF]) {
			bad(at+".kind", "an identity has one code: CF or PROV, not both")
			continue
		}
		strongSeen[k.Kind] = true
		p.strong = append(p.strong, d)
	}
	if len(set.Keys) > 0 && !strongSeen[KindNDS] {
		bad("match_keys", "the NDS key is required")
	}
	fields = append(fields, s.checkAttributes(set.Attrs)...)
	if len(fields) > 0 {
		return prepared{}, &ValidationError{Fields: fields}
	}
	return p, nil
}

// checkAttributes checks the coarse attributes of a key set, applying the
// age policy as far as a birth year and month allow: a minor is refused
// only when certainly too old.
func (s *Service) checkAttributes(a Attributes) []FieldError {
	var fields []FieldError
	bad := func(field, reason string) { fields = append(fields, FieldError{Field: field, Reason: reason}) }
	if a.Sex != "M" && a.Sex != "F" && a.Sex != "X" {
		bad("attributes.sex", "must be M, F or X")
	}
	now := time.Now
	if s.policy.Now != nil {
		now = s.policy.Now
	}
	today := now().UTC()
	yearOK := a.BirthYear >= 1900 && a.BirthYear <= today.Year()
	monthOK := a.BirthMonth >= 1 && a.BirthMonth <= 12
	if !yearOK {
		bad("attributes.birth_year", "must be a year from 1900 to this one")
	}
	if !monthOK {
		bad("attributes.birth_month", "must be 1 to 12")
	}
	if yearOK && monthOK {
		// The youngest someone born in that month can be: born on its last day.
		last := time.Date(a.BirthYear, time.Month(a.BirthMonth)+1, 0, 0, 0, 0, 0, time.UTC)
		switch {
		case a.BirthYear == today.Year() && a.BirthMonth > int(today.Month()):
			bad("attributes.birth_month", "must not be in the future")
		case s.policy.MaxAgeYears > 0 && !last.AddDate(s.policy.MaxAgeYears+1, 0, 0).After(today):
			bad("attributes.birth_year", "is older than the age limit of "+strconv.Itoa(s.policy.MaxAgeYears)+" years")
		}
	}
	switch a.CitizenshipGroup {
	case "", "IT", "EU", "NON_EU":
	default:
		bad("attributes.citizenship_group", "must be IT, EU, NON_EU or empty")
	}
	return fields
}

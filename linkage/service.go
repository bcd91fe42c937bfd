package linkage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Status says how a submitted identity was resolved.
type Status string

// Statuses of a resolution.
const (
	// StatusExisting: a known person, and the identity brought no new key.
	StatusExisting Status = "existing"
	// StatusLinked: a known person, reached through some of the identity's
	// keys; its other keys (a variant: a codice fiscale arriving later, a
	// second spelling) were attached to the person.
	StatusLinked Status = "linked"
	// StatusNew: a new person.
	StatusNew Status = "new"
)

// Digest is one match key as stored: a kind and a PRF digest.
type Digest struct {
	Kind   KeyKind
	Digest []byte
}

func (d Digest) id() string { return string(d.Kind) + "\x00" + string(d.Digest) }

func compareDigests(a, b Digest) int {
	if c := bytes.Compare([]byte(a.Kind), []byte(b.Kind)); c != 0 {
		return c
	}
	return bytes.Compare(a.Digest, b.Digest)
}

// NewPerson is a person to create, with its coarse attributes.
type NewPerson struct {
	ID    PersonID
	Attrs Attributes
}

// KeyOwner attaches a key to a person.
type KeyOwner struct {
	Key    Digest
	Person PersonID
}

// TokenRecord is a stored token.
type TokenRecord struct {
	Domain     string
	Token      Token
	Person     PersonID
	KeyVersion int
	Retired    bool
}

// TokenKeyVersion is one version of a domain's token key, as stored.
type TokenKeyVersion struct {
	Domain        string
	Version       int
	MasterVersion int
	Retired       bool
	CreatedAt     time.Time
}

// Changes are what one resolution writes. Strong keys are inserted only
// where absent; when one exists already (a concurrent resolution got there
// first), WriteChanges returns ErrRace and writes nothing. Likewise when a
// code (CF or PROV) is attached to a person that is not in Persons and a
// concurrent resolution has meanwhile given that person a code of the same
// kind: the plan that allowed the link no longer holds.
//
// Every slice is sorted (keys by kind, digest and person; tokens by
// token), so concurrent writers take their row locks in one order.
type Changes struct {
	Persons    []NewPerson
	StrongKeys []KeyOwner
	WeakKeys   []KeyOwner
	Tokens     []TokenRecord
	// Encodings are the Bloom-filter encodings of new variants, stored
	// once per (person, Encoding.Variant).
	Encodings []PersonEncoding
	// Reviews are the possible matches to open for a data steward.
	Reviews []Review
	// Merges are the persons to merge because an identity showed them to
	// be one minor (see codeMerge); they are made after the writes above,
	// in the same transaction.
	Merges []AutoMerge
}

// AutoMerge is a merge a resolution makes on its own: Absorbed, first
// registered without a code, is the minor whose code Survivor holds.
type AutoMerge struct {
	Survivor, Absorbed PersonID
}

// ActorCodeMerge is the actor recorded for the merges a resolution makes
// when a codice fiscale (or provisional code) arrives for a minor first
// registered without one.
const ActorCodeMerge = "sirm:code-merge"

// ErrRace is returned by Store.WriteChanges when a strong key it was to
// insert has been inserted by a concurrent transaction; the Service then
// resolves the batch again.
var ErrRace = errors.New("concurrent resolution of the same key")

// Pin is the backend and key fingerprint a deployment was set up with.
type Pin struct {
	Backend     string
	Fingerprint string
	CreatedAt   time.Time
}

// Store keeps persons, match keys and tokens. Implementations are safe for
// concurrent use, and run in the transaction ctx carries.
type Store interface {
	// FindStrong returns the owner of each of keys that exists, by Digest id.
	FindStrong(ctx context.Context, keys []Digest) (map[string]PersonID, error)
	// StrongKinds returns, for each of persons, the strong kinds it holds.
	StrongKinds(ctx context.Context, persons []PersonID) (map[PersonID][]KeyKind, error)
	// WriteChanges writes c, or nothing: ErrRace when a strong key it
	// inserts already exists, or when a person not in c.Persons already
	// holds a code of the kind c attaches to it (see Changes). Nothing of c
	// stays written after an error, even in a transaction ctx carries.
	WriteChanges(ctx context.Context, c Changes) error
	// TokenKeys returns the versions of domain's token key, oldest first,
	// creating version 1 (of masterVersion) when the domain has none.
	TokenKeys(ctx context.Context, domain string, masterVersion int) ([]TokenKeyVersion, error)
	// RotateTokenKey adds the next version of domain's token key.
	RotateTokenKey(ctx context.Context, domain string, masterVersion int) (TokenKeyVersion, error)
	// RetireTokenKeys retires every version of domain's key but the newest
	// and returns how many it retired.
	RetireTokenKeys(ctx context.Context, domain string) (int, error)
	// FindToken returns the stored token; ErrNotFound when there is none.
	FindToken(ctx context.Context, domain string, t Token) (TokenRecord, error)
	// Pin records p when the deployment has no pin yet and returns the pin
	// in force.
	Pin(ctx context.Context, p Pin) (Pin, error)
	// FindCandidates returns, for each query, the persons sharing at least
	// one of its weak keys — at most limit of them, those sharing the most
	// kinds first — with the kinds they share, their stored encodings and
	// codes, in one round trip whatever the number of queries; the
	// result's i-th slice answers queries[i].
	FindCandidates(ctx context.Context, queries [][]Digest, limit int) ([][]Candidate, error)
}

// TxRunner runs fn in a transaction carried by its context (pgdb.DB).
type TxRunner interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// AuditDomain is the domain of the person references written to the audit
// log: auditors see a stable pseudonym, never a PersonID.
const AuditDomain = "audit"

// Config configures a Service.
type Config struct {
	Store Store
	Tx    TxRunner
	PRF   PRF
	// TokenMasters are the versions of the token master secret, by version;
	// new token keys derive from the newest.
	TokenMasters map[int][]byte
	Policy       Policy
	// BloomKey keys the Bloom-filter encodings (vaultcfg.SecretBloom).
	// Without it, fuzzy matching is off: resolution uses exact keys only
	// and no encoding is stored.
	BloomKey []byte
	// AutoThreshold and ReviewThreshold bound the review band of fuzzy
	// matching (see Score): a candidate scoring at least AutoThreshold is
	// linked, one scoring at least ReviewThreshold is opened for review.
	// Zero means the defaults, DefaultAutoThreshold and
	// DefaultReviewThreshold.
	AutoThreshold   float64
	ReviewThreshold float64
	// MaxCandidates caps the candidates scored per identity; zero means
	// DefaultMaxCandidates.
	MaxCandidates int
}

// Service resolves identities to persons and tokens. It is safe for
// concurrent use.
type Service struct {
	store   Store
	tx      TxRunner
	prf     PRF
	masters map[int][]byte
	master  int // newest master version
	policy  Policy
	audit   TokenKey
	subs    subscribers  // of merge events (merge.go)
	fuzzy   *fuzzyConfig // nil: exact keys only
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Tx == nil || cfg.PRF == nil {
		return nil, errors.New("linkage: store, transaction runner and PRF are required")
	}
	s := &Service{store: cfg.Store, tx: cfg.Tx, prf: cfg.PRF, masters: cfg.TokenMasters, policy: cfg.Policy}
	for v := range cfg.TokenMasters {
		s.master = max(s.master, v)
	}
	if s.master == 0 {
		return nil, errors.New("linkage: no token master secret")
	}
	k, err := DeriveTokenKey(s.masters[1], AuditDomain, 1)
	if err != nil {
		return nil, fmt.Errorf("linkage: audit token key: %w", err)
	}
	s.audit = k
	if cfg.BloomKey != nil {
		if s.fuzzy, err = newFuzzyConfig(cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// PinBackend records the PRF backend and key fingerprint at first start and
// refuses (with an error naming both) a deployment that now runs another.
func (s *Service) PinBackend(ctx context.Context) error {
	want := Pin{Backend: s.prf.Backend(), Fingerprint: s.prf.Fingerprint()}
	got, err := s.store.Pin(ctx, want)
	if err != nil {
		return fmt.Errorf("pin linkage backend: %w", err)
	}
	if got.Backend != want.Backend || got.Fingerprint != want.Fingerprint {
		return fmt.Errorf("this deployment was set up on %s with linkage backend %q and key %s; refusing to start with backend %q and key %s: every existing link would break",
			got.CreatedAt.UTC().Format(time.DateOnly), got.Backend, got.Fingerprint, want.Backend, want.Fingerprint)
	}
	return nil
}

// AuditRef is the reference to p written to the audit log.
func (s *Service) AuditRef(p PersonID) string { return s.audit.Token(p).String() }

// Result is the outcome of one identity of a batch. Err is a
// *ValidationError for a bad identity; then the other fields are zero.
type Result struct {
	Index  int
	Person PersonID
	Token  Token
	Status Status
	Err    error
}

// Hook runs inside the transaction of a resolution, after its changes are
// written; an error rolls everything back. api uses it to write the audit
// events in the same transaction.
type Hook func(ctx context.Context, results []Result) error

// maxRaceRetries bounds how often a batch is resolved again after losing
// a race for a strong key; every retry follows a commit of the winner.
const maxRaceRetries = 8

// prepared is a valid identity with its digests. Weak digests are
// evaluated only when needed (see weakDigests): for a known minor, most of
// the PRF work would be spent on keys the person has already.
type prepared struct {
	index  int
	attrs  Attributes
	strong []Digest
	weakKV []KeyValue
	weak   []Digest // nil until evaluated
	// norm is the normalised identity when fuzzy matching is on (nil in
	// blind mode: no identity, no encoding); enc its encoding, computed
	// with the weak digests.
	norm *Normalized
	enc  *Encoding
}

// prepare validates ids and computes the strong digests of the valid ones
// with one PRF call.
func (s *Service) prepare(ctx context.Context, ids []Identity) ([]prepared, []Result, error) {
	results := make([]Result, len(ids))
	var (
		preps  []prepared
		inputs [][]byte
		kinds  [][]KeyKind
	)
	for i, id := range ids {
		results[i].Index = i
		n, err := Normalize(id, s.policy)
		if err != nil {
			results[i].Err = err
			continue
		}
		p := prepared{index: i, attrs: n.Attributes()}
		if s.fuzzy != nil {
			p.norm = &n
		}
		var ks []KeyKind
		for _, kv := range n.KeyValues() {
			if kv.Kind.Strong() {
				ks = append(ks, kv.Kind)
				inputs = append(inputs, PRFInput(kv))
			} else {
				p.weakKV = append(p.weakKV, kv)
			}
		}
		kinds = append(kinds, ks)
		preps = append(preps, p)
	}
	if len(inputs) == 0 {
		return preps, results, nil
	}
	digests, err := s.eval(ctx, inputs)
	if err != nil {
		return nil, nil, err
	}
	at := 0
	for i := range preps {
		for _, k := range kinds[i] {
			preps[i].strong = append(preps[i].strong, Digest{Kind: k, Digest: digests[at]})
			at++
		}
	}
	return preps, results, nil
}

func (s *Service) eval(ctx context.Context, inputs [][]byte) ([][]byte, error) {
	digests, err := s.prf.Eval(ctx, inputs)
	if err != nil {
		return nil, fmt.Errorf("evaluate match keys: %w", err)
	}
	if len(digests) != len(inputs) {
		return nil, fmt.Errorf("evaluate match keys: %d digests for %d inputs", len(digests), len(inputs))
	}
	return digests, nil
}

// weakDigests evaluates, in one PRF call, the weak keys of the prepared
// identities that need them and do not have them yet.
func (s *Service) weakDigests(ctx context.Context, preps []*prepared) error {
	var inputs [][]byte
	for _, p := range preps {
		if s.fuzzy != nil && p.norm != nil && p.enc == nil {
			e := s.fuzzy.bloom.Encode(*p.norm)
			p.enc = &e
		}
		if p.weak == nil {
			for _, kv := range p.weakKV {
				inputs = append(inputs, PRFInput(kv))
			}
		}
	}
	if len(inputs) == 0 {
		return nil
	}
	digests, err := s.eval(ctx, inputs)
	if err != nil {
		return err
	}
	at := 0
	for _, p := range preps {
		if p.weak == nil {
			p.weak = make([]Digest, len(p.weakKV))
			for j, kv := range p.weakKV {
				p.weak[j] = Digest{Kind: kv.Kind, Digest: digests[at]}
				at++
			}
		}
	}
	return nil
}

// prefetchWeak evaluates the weak keys of the identities whose NDS no
// person owns yet — the new minors and new variants, the only ones that
// will write weak keys — before the transaction, so that it stays short.
func (s *Service) prefetchWeak(ctx context.Context, preps []prepared) error {
	var ndss []Digest
	for _, p := range preps {
		if nds, ok := p.nds(); ok {
			ndss = append(ndss, nds)
		}
	}
	owned, err := s.store.FindStrong(ctx, ndss)
	if err != nil {
		return err
	}
	var need []*prepared
	for i := range preps {
		if nds, ok := preps[i].nds(); !ok || owned[nds.id()].IsZero() {
			need = append(need, &preps[i])
		}
	}
	return s.weakDigests(ctx, need)
}

// Resolve resolves every identity of ids in domain to a person and a
// token, creating persons and attaching keys as needed, all in one
// transaction with hook. Bad identities get their own Err and do not stop
// the others. Two concurrent resolutions of the same new identity give one
// person.
func (s *Service) Resolve(ctx context.Context, domain string, ids []Identity, hook Hook) ([]Result, error) {
	if !ValidDomain(domain) {
		return nil, fmt.Errorf("%w: domain", ErrMalformed)
	}
	preps, results, err := s.prepare(ctx, ids)
	if err != nil {
		return nil, err
	}
	return s.resolvePrepared(ctx, domain, preps, results, hook)
}

// resolvePrepared resolves prepared identities (from Resolve, or from
// match-key digests a client computed in blind mode) in one transaction,
// resolving the batch again after losing a race.
func (s *Service) resolvePrepared(ctx context.Context, domain string, preps []prepared, results []Result, hook Hook) ([]Result, error) {
	if len(preps) == 0 && hook == nil {
		return results, nil // nothing valid: nothing to read or write
	}
	if err := s.prefetchWeak(ctx, preps); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		out := slices.Clone(results)
		var merged []MergeEvent
		err := s.tx.WithTx(ctx, func(ctx context.Context) error {
			ch, err := s.plan(ctx, preps, out)
			if err != nil {
				return err
			}
			return s.commit(ctx, domain, out, ch, hook, &merged)
		})
		if errors.Is(err, ErrRace) && attempt < maxRaceRetries {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolve identities: %w", err)
		}
		for _, e := range merged {
			s.publish(e)
		}
		return out, nil
	}
}

// commit issues the tokens of the resolved identities in out, writes ch
// with them, and runs hook, all in the transaction ctx carries.
// The merges it makes are appended to merged, to be published once the
// transaction has committed.
func (s *Service) commit(ctx context.Context, domain string, out []Result, ch Changes, hook Hook, merged *[]MergeEvent) error {
	if err := s.issueTokens(ctx, domain, out, &ch); err != nil {
		return err
	}
	if err := s.store.WriteChanges(ctx, ch); err != nil {
		return err
	}
	if len(ch.Merges) > 0 {
		ms, err := s.merges()
		if err != nil {
			return err
		}
		for _, m := range ch.Merges {
			rec, err := ms.Merge(ctx, m.Survivor, m.Absorbed, 0, ActorCodeMerge)
			if errors.Is(err, ErrClosed) {
				continue // one person already, through an earlier merge
			}
			if err != nil {
				return err
			}
			*merged = append(*merged, rec.Event)
		}
	}
	if hook != nil {
		return hook(ctx, out)
	}
	return nil
}

// plan decides the person of every prepared identity against the store and
// the identities before it in the batch, and collects what to write.
func (s *Service) plan(ctx context.Context, preps []prepared, out []Result) (Changes, error) {
	var all []Digest
	for _, p := range preps {
		all = append(all, p.strong...)
	}
	owners, err := s.store.FindStrong(ctx, all)
	if err != nil {
		return Changes{}, err
	}
	// stored are the owners as the database has them, before this batch:
	// an identity whose NDS a person owned already brings that person no
	// weak key it lacks (see below).
	stored := maps.Clone(owners)
	// Which codes (CF, PROV) the known persons hold: a person holding a
	// code of one kind is not linked by name and date to an identity
	// bringing another code of that kind.
	// Only the owners of an NDS that an identity with an unknown code would
	// reach matter; a known minor resolved by its code needs no query.
	var ask []PersonID
	for _, p := range preps {
		code, hasCode := p.code()
		nds, hasNDS := p.nds()
		if !hasCode || !hasNDS {
			continue
		}
		owner, ok := owners[nds.id()]
		if !ok || slices.Contains(ask, owner) {
			continue
		}
		// A known code whose owner is another person than the NDS's: the
		// NDS's owner may be the same minor registered without a code
		// (codeMerge), if it holds no code of that kind.
		if codeOwner, known := owners[code.id()]; !known || codeOwner != owner {
			ask = append(ask, owner)
		}
	}
	kinds := map[PersonID][]KeyKind{}
	if len(ask) > 0 {
		if kinds, err = s.store.StrongKinds(ctx, ask); err != nil {
			return Changes{}, err
		}
	}
	holds := func(p PersonID, k KeyKind) bool { return slices.Contains(kinds[p], k) }

	// Fuzzy matching: the candidates of every identity no strong key
	// resolves, in one store call; and the persons of this batch, which
	// the store does not know yet.
	var (
		cands map[int][]Candidate
		batch *batchIndex
	)
	if s.fuzzy != nil {
		if cands, err = s.candidates(ctx, preps, owners, holds); err != nil {
			return Changes{}, err
		}
		batch = newBatchIndex()
	}
	// codes reports the codes a candidate holds: those stored, and those
	// this batch gave it.
	storedCodes := map[PersonID][]KeyKind{}
	for _, cs := range cands {
		for _, c := range cs {
			storedCodes[c.Person] = c.Codes
		}
	}
	codes := func(p PersonID, k KeyKind) bool { return holds(p, k) || slices.Contains(storedCodes[p], k) }

	var ch Changes
	weakSeen := map[string]bool{}
	encSeen := map[string]bool{}
	for i := range preps {
		p := &preps[i]
		person, status := choose(*p, owners, holds)
		if m, ok := codeMerge(*p, stored, holds); ok && !slices.Contains(ch.Merges, m) {
			ch.Merges = append(ch.Merges, m)
		}
		var reviews []Review
		if person.IsZero() && s.fuzzy != nil {
			if person, reviews = s.fuzzy.match(p, cands[i], batch, codes); !person.IsZero() {
				status = StatusLinked
			}
		}
		if person.IsZero() {
			person, status = NewPersonID(), StatusNew
			ch.Persons = append(ch.Persons, NewPerson{ID: person, Attrs: p.attrs})
			// A person created earlier in this batch holds no code yet.
			kinds[person] = nil
			for _, r := range reviews {
				r.PersonB = person
				ch.Reviews = append(ch.Reviews, r)
			}
		}
		for _, d := range p.strong {
			if _, ok := owners[d.id()]; ok {
				continue // owned (by this person, or by another that keeps it)
			}
			owners[d.id()] = person
			kinds[person] = append(kinds[person], d.Kind)
			ch.StrongKeys = append(ch.StrongKeys, KeyOwner{Key: d, Person: person})
			if status == StatusExisting {
				status = StatusLinked
			}
		}
		out[p.index].Person, out[p.index].Status = person, status
		// Every weak key is a function of the names and the birth date,
		// which NDS holds, and is written with it: a person that owned this
		// NDS before the batch has these weak keys already.
		if nds, ok := p.nds(); ok && stored[nds.id()] == person {
			continue
		}
		// Rarely not prefetched: the NDS belonged to another person.
		if err := s.weakDigests(ctx, []*prepared{p}); err != nil {
			return Changes{}, err
		}
		for _, d := range p.weak {
			id := d.id() + string(person.b[:])
			if !weakSeen[id] {
				weakSeen[id] = true
				ch.WeakKeys = append(ch.WeakKeys, KeyOwner{Key: d, Person: person})
			}
		}
		// A new variant of the person: its encoding is stored with its
		// weak keys, once per distinct encoding.
		if p.enc != nil {
			v := p.enc.Variant()
			if id := string(v) + string(person.b[:]); !encSeen[id] {
				encSeen[id] = true
				ch.Encodings = append(ch.Encodings, PersonEncoding{Person: person, Variant: v, Encoding: *p.enc})
			}
			batch.add(p, person)
		}
	}
	// Every writer inserts in one global order (key, then person), so two
	// transactions inserting overlapping rows wait on each other and never
	// deadlock.
	slices.SortFunc(ch.StrongKeys, compareKeyOwners)
	slices.SortFunc(ch.WeakKeys, compareKeyOwners)
	return ch, nil
}

func compareKeyOwners(a, b KeyOwner) int {
	if c := compareDigests(a.Key, b.Key); c != 0 {
		return c
	}
	return bytes.Compare(a.Person.b[:], b.Person.b[:])
}

// distinctOwners returns the persons of owners, each once, in a fixed order.
func distinctOwners(owners map[string]PersonID) []PersonID {
	var ps []PersonID
	seen := map[PersonID]bool{}
	for _, p := range owners {
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b PersonID) int { return bytes.Compare(a.b[:], b.b[:]) })
	return ps
}

// nds returns the NDS key of p; every valid identity has one.
func (p prepared) nds() (Digest, bool) {
	for _, d := range p.strong {
		if d.Kind == KindNDS {
			return d, true
		}
	}
	return Digest{}, false
}

// code returns the code (CF or PROV) p brings, if any: an identity has one
// code field, so at most one.
func (p prepared) code() (Digest, bool) {
	for _, d := range p.strong {
		if d.Kind == KindCF || d.Kind == KindPROV {
			return d, true
		}
	}
	return Digest{}, false
}

// codeMerge reports the merge an identity asks for when its code (CF or
// PROV) belongs to one person and its name, birth date, sex and birth
// place (NDS) to another that holds no code of that kind: the minor was
// first registered without the code, then — with a spelling that did not
// meet the first record, or before the two were linked — with it. Every
// field of the identity agrees with the NDS's owner and its code with the
// code's owner, so the two are one minor; the code's owner survives. Only
// persons known before the batch are merged.
func codeMerge(p prepared, stored map[string]PersonID, holds func(PersonID, KeyKind) bool) (AutoMerge, bool) {
	code, hasCode := p.code()
	nds, hasNDS := p.nds()
	if !hasCode || !hasNDS {
		return AutoMerge{}, false
	}
	codeOwner, ok := stored[code.id()]
	if !ok {
		return AutoMerge{}, false
	}
	ndsOwner, ok := stored[nds.id()]
	if !ok || ndsOwner == codeOwner || holds(ndsOwner, code.Kind) {
		return AutoMerge{}, false
	}
	return AutoMerge{Survivor: codeOwner, Absorbed: ndsOwner}, true
}

// choose picks the known person an identity resolves to, if any:
//   - the owner of its code (codice fiscale or provisional code) when known:
//     codes are authoritative;
//   - else the owner of its name, birth date and sex (NDS), unless that
//     person holds another code of the same kind as the identity's: two
//     different codici fiscali (or two provisional codes) are two minors,
//     never linked automatically. A code of the other kind does not block:
//     a foreign minor first registered with a provisional code and later
//     with the definitive codice fiscale is one minor when NDS agrees.
func choose(p prepared, owners map[string]PersonID, holds func(PersonID, KeyKind) bool) (PersonID, Status) {
	code, hasCode := p.code()
	if hasCode {
		if owner, ok := owners[code.id()]; ok {
			return owner, StatusExisting
		}
	}
	nds, ok := p.nds()
	if !ok {
		return PersonID{}, ""
	}
	owner, ok := owners[nds.id()]
	if !ok {
		return PersonID{}, ""
	}
	if hasCode && holds(owner, code.Kind) {
		return PersonID{}, ""
	}
	return owner, StatusExisting
}

// tokenKeys returns the current key of domain and every unretired one.
func (s *Service) tokenKeys(ctx context.Context, domain string) (current TokenKey, byVersion map[int]TokenKeyVersion, err error) {
	vs, err := s.store.TokenKeys(ctx, domain, s.master)
	if err != nil {
		return TokenKey{}, nil, err
	}
	if len(vs) == 0 {
		return TokenKey{}, nil, fmt.Errorf("domain %s has no token key", domain)
	}
	byVersion = make(map[int]TokenKeyVersion, len(vs))
	for _, v := range vs {
		byVersion[v.Version] = v
	}
	cur := vs[len(vs)-1]
	k, err := s.deriveKey(cur)
	return k, byVersion, err
}

func (s *Service) deriveKey(v TokenKeyVersion) (TokenKey, error) {
	master, ok := s.masters[v.MasterVersion]
	if !ok {
		return TokenKey{}, fmt.Errorf("token key %s v%d needs token master v%d, which the key source does not have", v.Domain, v.Version, v.MasterVersion)
	}
	return DeriveTokenKey(master, v.Domain, v.Version)
}

// issueTokens sets the token of every resolved identity and records it,
// in person order like the keys, so concurrent writers never deadlock. A
// batch with nothing resolved touches no token key.
func (s *Service) issueTokens(ctx context.Context, domain string, out []Result, ch *Changes) error {
	if !slices.ContainsFunc(out, func(r Result) bool { return r.Err == nil && !r.Person.IsZero() }) {
		return nil
	}
	key, _, err := s.tokenKeys(ctx, domain)
	if err != nil {
		return err
	}
	seen := map[PersonID]bool{}
	for i := range out {
		if out[i].Err != nil || out[i].Person.IsZero() {
			continue
		}
		out[i].Token = key.Token(out[i].Person)
		if !seen[out[i].Person] {
			seen[out[i].Person] = true
			ch.Tokens = append(ch.Tokens, TokenRecord{Domain: domain, Token: out[i].Token, Person: out[i].Person, KeyVersion: key.Version})
		}
	}
	slices.SortFunc(ch.Tokens, func(a, b TokenRecord) int { return strings.Compare(a.Token.s, b.Token.s) })
	return nil
}

// TokensFor returns the token of each of persons in domain, in input
// order, for exports that hand persons already known to someone outside
// (IDBeneficiario = the token in "inps", research microdata in
// "stat-2026"). Each token is derived with the domain's current key,
// version 1 being created when the domain has none, and recorded, all in
// one transaction, so that it resolves later (PersonOf, GET
// /v1/tokens/{token}); a token recorded already is left as it is. Tokens
// are written in token order, as Resolve writes them, so concurrent calls
// never deadlock. Persons are taken as given: pass the person each now is
// (merges followed) for one token per minor. An empty persons touches no
// key. Errors: ErrMalformed for an invalid domain or a zero PersonID, and
// the store's (a person the store does not hold cannot get a token). It
// is safe for concurrent use.
func (s *Service) TokensFor(ctx context.Context, domain string, persons []PersonID) ([]Token, error) {
	if !ValidDomain(domain) {
		return nil, fmt.Errorf("%w: domain %q", ErrMalformed, domain)
	}
	if slices.ContainsFunc(persons, PersonID.IsZero) {
		return nil, fmt.Errorf("%w: zero person id", ErrMalformed)
	}
	if len(persons) == 0 {
		return []Token{}, nil
	}
	out := make([]Token, len(persons))
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		key, _, err := s.tokenKeys(ctx, domain)
		if err != nil {
			return err
		}
		var ch Changes
		seen := make(map[PersonID]bool, len(persons))
		for i, p := range persons {
			out[i] = key.Token(p)
			if !seen[p] {
				seen[p] = true
				ch.Tokens = append(ch.Tokens, TokenRecord{Domain: domain, Token: out[i], Person: p, KeyVersion: key.Version})
			}
		}
		slices.SortFunc(ch.Tokens, func(a, b TokenRecord) int { return strings.Compare(a.Token.s, b.Token.s) })
		return s.store.WriteChanges(ctx, ch)
	})
	if err != nil {
		return nil, fmt.Errorf("tokens in %s: %w", domain, err)
	}
	return out, nil
}

// Lookup resolves id in domain without creating a person or a key: the
// person its codice fiscale, provisional code or name and birth date reach.
// It returns ErrNotFound when there is none, or a *ValidationError.
func (s *Service) Lookup(ctx context.Context, domain string, id Identity, hook Hook) (Result, error) {
	if !ValidDomain(domain) {
		return Result{}, fmt.Errorf("%w: domain", ErrMalformed)
	}
	preps, results, err := s.prepare(ctx, []Identity{id})
	if err != nil {
		return Result{}, err
	}
	if results[0].Err != nil {
		return Result{}, results[0].Err
	}
	out := results
	err = s.tx.WithTx(ctx, func(ctx context.Context) error {
		owners, err := s.store.FindStrong(ctx, preps[0].strong)
		if err != nil {
			return err
		}
		kinds, err := s.store.StrongKinds(ctx, distinctOwners(owners))
		if err != nil {
			return err
		}
		person, _ := choose(preps[0], owners, func(p PersonID, k KeyKind) bool {
			return slices.Contains(kinds[p], k)
		})
		if person.IsZero() {
			return ErrNotFound
		}
		out[0].Person, out[0].Status = person, StatusExisting
		// The token is derived, not invented: recording it lets it resolve
		// through GET /v1/tokens/{token} like any other.
		return s.commit(ctx, domain, out, Changes{}, hook, nil)
	})
	if err != nil {
		return Result{}, err
	}
	return out[0], nil
}

// TokenInfo is what GET /v1/tokens/{token} shows.
type TokenInfo struct {
	Token      Token
	Domain     string
	KeyVersion int
	Retired    bool
	Person     PersonID
}

// FindToken returns the token t of domain. A token of another domain is
// ErrNotFound, exactly like an unknown one.
func (s *Service) FindToken(ctx context.Context, domain string, t Token) (TokenInfo, error) {
	rec, err := s.store.FindToken(ctx, domain, t)
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{Token: rec.Token, Domain: rec.Domain, KeyVersion: rec.KeyVersion, Retired: rec.Retired, Person: rec.Person}, nil
}

// PersonOf resolves a token of domain to its person; a retired token is
// ErrNotFound.
func (s *Service) PersonOf(ctx context.Context, domain string, t Token) (PersonID, error) {
	info, err := s.FindToken(ctx, domain, t)
	if err != nil {
		return PersonID{}, err
	}
	if info.Retired {
		return PersonID{}, ErrNotFound
	}
	return info.Person, nil
}

// RotateTokenKey starts a new version of domain's token key: new requests
// get new tokens, old tokens keep resolving until RetireTokenKeys.
func (s *Service) RotateTokenKey(ctx context.Context, domain string) (TokenKeyVersion, error) {
	if !ValidDomain(domain) {
		return TokenKeyVersion{}, fmt.Errorf("%w: domain %q", ErrMalformed, domain)
	}
	var v TokenKeyVersion
	err := s.tx.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.TokenKeys(ctx, domain, s.master); err != nil {
			return err
		}
		var err error
		v, err = s.store.RotateTokenKey(ctx, domain, s.master)
		return err
	})
	return v, err
}

// RetireTokenKeys retires every version of domain's token key but the
// newest: the tokens they issued stop resolving.
func (s *Service) RetireTokenKeys(ctx context.Context, domain string) (int, error) {
	if !ValidDomain(domain) {
		return 0, fmt.Errorf("%w: domain %q", ErrMalformed, domain)
	}
	return s.store.RetireTokenKeys(ctx, domain)
}

// TokenKeyVersions lists domain's token key versions.
func (s *Service) TokenKeyVersions(ctx context.Context, domain string) ([]TokenKeyVersion, error) {
	if !ValidDomain(domain) {
		return nil, fmt.Errorf("%w: domain %q", ErrMalformed, domain)
	}
	return s.store.TokenKeys(ctx, domain, s.master)
}

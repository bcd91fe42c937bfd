package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"

	"github.com/toscana/sirm/linkage"
)

// MaxBlinded is the largest number of blinded elements the server
// evaluates in one request; Blind sends larger batches in chunks.
const MaxBlinded = 1000

// ErrKeyMismatch is returned by Blind's methods when the server's OPRF
// public key does not have the pinned fingerprint: the client refuses to
// use it.
var ErrKeyMismatch = errors.New("the server's OPRF key does not match the pinned fingerprint")

// ErrBadProof is returned when the server's evaluation does not verify
// against its public key (a wrong key, or a tampered answer): the client
// refuses the digests.
var ErrBadProof = errors.New("the server's OPRF evaluation does not verify")

// Blind tokenizes in blind mode: it computes the match keys of each
// identity locally, has the server evaluate them blinded (verifiable OPRF,
// RFC 9497, ristretto255-SHA512), checks the server's proof, and submits
// only the resulting digests and coarse attributes (sex, birth year and
// month, citizenship group). No identity field leaves the process. The
// tokens are the ones the server would issue for the identities
// themselves.
//
// A Blind is safe for concurrent use once its fields are set.
type Blind struct {
	Client *Client
	// Fingerprint pins the server's OPRF key ("oprf:sha256:…", as the
	// server prints it at start and GET /v1/oprf/public-key shows it). The
	// client computes the fingerprint of the key it fetches and refuses a
	// different one. Empty trusts the key the server presents (still
	// verifying every proof against it).
	Fingerprint string
	// Policy validates identities locally, as the server would; it should
	// be the server's (MaxAgeYears 21 by default there).
	Policy linkage.Policy

	mu  sync.Mutex
	key *oprf.PublicKey
}

type oprfKeyAnswer struct {
	Suite     string `json:"suite"`
	Mode      string `json:"mode"`
	PublicKey string `json:"public_key"`
}

// KeyFingerprint returns the fingerprint of an OPRF public key as the server
// computes it: "oprf:sha256:" and 16 hex characters.
func KeyFingerprint(publicKey []byte) string {
	sum := sha256.Sum256(publicKey)
	return linkage.BackendOPRF + ":sha256:" + hex.EncodeToString(sum[:])[:16]
}

// publicKey fetches the server's key once, checking the suite, mode and
// pinned fingerprint.
func (b *Blind) publicKey(ctx context.Context) (*oprf.PublicKey, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.key != nil {
		return b.key, nil
	}
	var ans oprfKeyAnswer
	if err := b.Client.get(ctx, "/v1/oprf/public-key", &ans); err != nil {
		return nil, fmt.Errorf("oprf public key: %w", err)
	}
	if ans.Suite != "ristretto255-SHA512" || ans.Mode != "verifiable" {
		return nil, fmt.Errorf("oprf public key: the server offers suite %q in mode %q, not ristretto255-SHA512 verifiable", ans.Suite, ans.Mode)
	}
	raw, err := base64.StdEncoding.DecodeString(ans.PublicKey)
	if err != nil {
		return nil, errors.New("oprf public key: not base64")
	}
	if b.Fingerprint != "" && KeyFingerprint(raw) != b.Fingerprint {
		return nil, fmt.Errorf("oprf public key: %w (pinned %s, got %s)", ErrKeyMismatch, b.Fingerprint, KeyFingerprint(raw))
	}
	key := new(oprf.PublicKey)
	if err := key.UnmarshalBinary(oprf.SuiteRistretto255, raw); err != nil {
		return nil, fmt.Errorf("oprf public key: %w", err)
	}
	b.key = key
	return key, nil
}

// MatchKey is one match key as blind mode submits it.
type MatchKey struct {
	Kind   string `json:"kind"`
	Digest string `json:"digest"` // base64 of linkage.DigestSize bytes
}

// Attributes are the coarse attributes submitted with the match keys.
type Attributes struct {
	Sex              string `json:"sex"`
	BirthYear        int    `json:"birth_year"`
	BirthMonth       int    `json:"birth_month"`
	CitizenshipGroup string `json:"citizenship_group"`
}

// KeySet is what blind mode sends for one identity.
type KeySet struct {
	MatchKeys  []MatchKey  `json:"match_keys"`
	Attributes *Attributes `json:"attributes"`
}

// MatchKeys computes the key sets of ids through the server's OPRF,
// without sending the identities: a nil set and a *Problem (422, with the
// bad fields, made locally) for an identity that does not validate.
func (b *Blind) MatchKeys(ctx context.Context, ids []Identity) ([]*KeySet, []*Problem, error) {
	key, err := b.publicKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	sets := make([]*KeySet, len(ids))
	refused := make([]*Problem, len(ids))
	var (
		inputs [][]byte
		owner  []int // identity of each input
		kinds  []linkage.KeyKind
	)
	for i, id := range ids {
		n, err := linkage.Normalize(linkage.Identity{
			CodiceFiscale: id.CodiceFiscale, Surname: id.Surname, GivenNames: id.GivenNames,
			BirthDate: id.BirthDate, Sex: id.Sex, BirthPlace: id.BirthPlace, Citizenship: id.Citizenship,
		}, b.Policy)
		if err != nil {
			refused[i] = localProblem(err)
			continue
		}
		a := n.Attributes()
		sets[i] = &KeySet{Attributes: &Attributes{Sex: a.Sex, BirthYear: a.BirthYear, BirthMonth: a.BirthMonth, CitizenshipGroup: a.CitizenshipGroup}}
		for _, kv := range n.KeyValues() {
			inputs = append(inputs, linkage.PRFInput(kv))
			owner = append(owner, i)
			kinds = append(kinds, kv.Kind)
		}
	}
	vc := oprf.NewVerifiableClient(oprf.SuiteRistretto255, key)
	for start := 0; start < len(inputs); start += MaxBlinded {
		end := min(start+MaxBlinded, len(inputs))
		outs, err := b.evaluate(ctx, vc, inputs[start:end])
		if err != nil {
			return nil, nil, err
		}
		for j, out := range outs {
			i := start + j
			// The first DigestSize bytes of the 64-byte output, as the
			// server's own evaluation (linkage.OPRF.Eval) keeps.
			sets[owner[i]].MatchKeys = append(sets[owner[i]].MatchKeys, MatchKey{
				Kind: string(kinds[i]), Digest: base64.StdEncoding.EncodeToString(out[:linkage.DigestSize]),
			})
		}
	}
	return sets, refused, nil
}

type evaluateBody struct {
	Blinded []string `json:"blinded"`
}

type evaluateAnswer struct {
	Evaluated []string `json:"evaluated"`
	Proof     string   `json:"proof"`
}

// evaluate blinds inputs, has the server evaluate them, and unblinds the
// answer after verifying its proof.
func (b *Blind) evaluate(ctx context.Context, vc oprf.VerifiableClient, inputs [][]byte) ([][]byte, error) {
	fin, req, err := vc.Blind(inputs)
	if err != nil {
		return nil, fmt.Errorf("blind: %w", err)
	}
	body := evaluateBody{Blinded: make([]string, len(req.Elements))}
	for i, e := range req.Elements {
		raw, err := e.MarshalBinaryCompress()
		if err != nil {
			return nil, fmt.Errorf("blind: %w", err)
		}
		body.Blinded[i] = base64.StdEncoding.EncodeToString(raw)
	}
	var ans evaluateAnswer
	if err := b.Client.do(ctx, "/v1/oprf/evaluate", body, &ans); err != nil {
		return nil, fmt.Errorf("oprf evaluate: %w", err)
	}
	if len(ans.Evaluated) != len(inputs) {
		return nil, fmt.Errorf("oprf evaluate: %w: %d elements for %d", ErrBadProof, len(ans.Evaluated), len(inputs))
	}
	ev := &oprf.Evaluation{Elements: make([]oprf.Evaluated, len(ans.Evaluated)), Proof: new(dleq.Proof)}
	for i, s := range ans.Evaluated {
		raw, err := base64.StdEncoding.DecodeString(s)
		e := group.Ristretto255.NewElement()
		if err != nil || e.UnmarshalBinary(raw) != nil {
			return nil, fmt.Errorf("oprf evaluate: %w: element %d is malformed", ErrBadProof, i)
		}
		ev.Elements[i] = e
	}
	raw, err := base64.StdEncoding.DecodeString(ans.Proof)
	if err != nil || ev.Proof.UnmarshalBinary(group.Ristretto255, raw) != nil {
		return nil, fmt.Errorf("oprf evaluate: %w: malformed proof", ErrBadProof)
	}
	outs, err := vc.Finalize(fin, ev)
	if err != nil {
		return nil, fmt.Errorf("oprf evaluate: %w (%v)", ErrBadProof, err)
	}
	return outs, nil
}

type blindBatchBody struct {
	Identities []*KeySet `json:"identities"`
}

// TokenizeBatch resolves 1 to MaxBatch identities in blind mode and
// returns one Result per identity, in the order of ids, like
// Client.TokenizeBatch. An identity that does not validate is refused
// locally (its Result.Error lists the bad fields) and nothing of it is
// sent. It fails with ErrKeyMismatch or ErrBadProof when the server's key
// or evaluation cannot be trusted, and with a *Problem when the server
// refuses the request (429 type urn:sirm:problem:quota-exceeded once the
// organisation's daily evaluations are spent).
func (b *Blind) TokenizeBatch(ctx context.Context, ids []Identity) ([]Result, error) {
	if len(ids) == 0 || len(ids) > MaxBatch {
		return nil, fmt.Errorf("tokenize batch: %d identities; a batch holds 1 to %d", len(ids), MaxBatch)
	}
	sets, refused, err := b.MatchKeys(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("tokenize batch: %w", err)
	}
	out := make([]Result, len(ids))
	var (
		send []*KeySet
		at   []int
	)
	for i := range ids {
		out[i].Index = i
		if refused[i] != nil {
			out[i].Error = refused[i]
			continue
		}
		send = append(send, sets[i])
		at = append(at, i)
	}
	if len(send) == 0 {
		return out, nil
	}
	var ans batchAnswer
	if err := b.Client.do(ctx, "/v1/tokens/batch", blindBatchBody{Identities: send}, &ans); err != nil {
		return nil, fmt.Errorf("tokenize batch: %w", err)
	}
	if len(ans.Results) != len(send) {
		return nil, fmt.Errorf("tokenize batch: the server answered %d results for %d identities", len(ans.Results), len(send))
	}
	seen := make([]bool, len(send))
	for _, r := range ans.Results {
		if r.Index < 0 || r.Index >= len(send) || seen[r.Index] {
			return nil, fmt.Errorf("tokenize batch: the server answered an unexpected index %d", r.Index)
		}
		if r.Error == nil && r.Token == "" {
			return nil, fmt.Errorf("tokenize batch: the server answered neither token nor error for index %d", r.Index)
		}
		seen[r.Index] = true
		i := at[r.Index]
		out[i] = Result{Index: i, Token: r.Token, Status: r.Status, Error: r.Error}
	}
	return out, nil
}

// Tokenize resolves one identity in blind mode; a refused identity fails
// with a *Problem.
func (b *Blind) Tokenize(ctx context.Context, id Identity) (Result, error) {
	rs, err := b.TokenizeBatch(ctx, []Identity{id})
	if err != nil {
		return Result{}, err
	}
	if rs[0].Error != nil {
		return Result{}, fmt.Errorf("tokenize: %w", rs[0].Error)
	}
	return rs[0], nil
}

// localProblem turns a local validation failure into the 422 the server
// would have answered, naming the fields, never their values.
func localProblem(err error) *Problem {
	p := &Problem{Type: "urn:sirm:problem:validation", Title: "Invalid input", Status: http.StatusUnprocessableEntity,
		Detail: "one or more fields are invalid (checked locally, nothing was sent)"}
	var ve *linkage.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, FieldError{Field: f.Field, Reason: f.Reason})
		}
	}
	return p
}

// get sends one GET to path and decodes a 200's body into out.
func (c *Client) get(ctx context.Context, path string, out any) error {
	_, err := c.send(ctx, http.MethodGet, path, nil, out)
	return err
}

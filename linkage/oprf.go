package linkage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
)

// OPRFSeedSize is the size of the seed NewOPRF derives its key from.
const OPRFSeedSize = 32

// oprfKeyInfo is the RFC 9497 DeriveKeyPair info string: it binds the key to
// this use, so the same seed used elsewhere gives another key.
var oprfKeyInfo = []byte("sirm-linkage-v1")

// oprfSuite is RFC 9497's ristretto255-SHA512, whose FullEvaluate outputs
// 64 bytes.
var oprfSuite = oprf.SuiteRistretto255

// OPRF is the "oprf" PRF backend: the RFC 9497 OPRF over ristretto255-SHA512
// in verifiable mode (VOPRF). The server evaluates its own inputs directly
// (Eval); a blind-mode client evaluates through EvaluateBlinded without
// revealing its inputs, checks the proof against PublicKey, and truncates
// each 64-byte Finalize output to its first DigestSize bytes, as Eval does,
// so both paths give the same digests.
//
// An OPRF is safe for concurrent use.
type OPRF struct {
	server oprf.VerifiableServer
	pub    []byte // compressed public key
	fp     string
}

var _ PRF = (*OPRF)(nil)

// NewOPRF derives the OPRF key from a secret seed of OPRFSeedSize bytes
// (RFC 9497 DeriveKeyPair in verifiable mode, info "sirm-linkage-v1").
func NewOPRF(seed []byte) (*OPRF, error) {
	return newOPRF(seed, oprfKeyInfo)
}

// newOPRF derives the key with any info string, so that tests can use the
// RFC's.
func newOPRF(seed, info []byte) (*OPRF, error) {
	if len(seed) != OPRFSeedSize {
		return nil, fmt.Errorf("oprf: seed of %d bytes, need %d", len(seed), OPRFSeedSize)
	}
	sk, err := oprf.DeriveKey(oprfSuite, oprf.VerifiableMode, seed, info)
	if err != nil {
		return nil, fmt.Errorf("oprf: derive key: %w", err)
	}
	server := oprf.NewVerifiableServer(oprfSuite, sk)
	// PrivateKey.Public caches the public key on first call without a lock:
	// make that first call here, before the OPRF is shared.
	pub, err := server.PublicKey().MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("oprf: encode public key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return &OPRF{
		server: server,
		pub:    pub,
		fp:     BackendOPRF + ":sha256:" + hex.EncodeToString(sum[:])[:16],
	}, nil
}

// Backend returns BackendOPRF.
func (o *OPRF) Backend() string { return BackendOPRF }

// Fingerprint is "oprf:sha256:" and the first 16 hex characters of the
// SHA-256 of the public key: anyone holding PublicKey can check it.
func (o *OPRF) Fingerprint() string { return o.fp }

// PublicKey returns the compressed encoding of the server's public key (32
// bytes), which blind-mode clients need to verify evaluation proofs.
func (o *OPRF) PublicKey() []byte { return append([]byte(nil), o.pub...) }

// oprfChunk is how many inputs one worker evaluates before it looks for
// more work and at the context: about 10 ms of scalar multiplications.
const oprfChunk = 128

// Eval computes the OPRF of every input (RFC 9497 VOPRF FullEvaluate: the
// server needs no blinding for its own inputs) truncated to DigestSize
// bytes. The work is CPU-bound, so a batch is split into chunks evaluated by
// up to GOMAXPROCS goroutines; ctx is checked before each chunk.
func (o *OPRF) Eval(ctx context.Context, inputs [][]byte) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, _ := newDigests(len(inputs))
	chunks := (len(inputs) + oprfChunk - 1) / oprfChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for start := 0; start < len(inputs); start += oprfChunk {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := o.evalRange(inputs, out, start, min(start+oprfChunk, len(inputs))); err != nil {
				return nil, err
			}
		}
		return out, nil
	}

	var (
		next     atomic.Int64 // index of the next chunk to take
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				start := c * oprfChunk
				if err := o.evalRange(inputs, out, start, min(start+oprfChunk, len(inputs))); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// evalRange evaluates inputs[start:end] into out[start:end].
func (o *OPRF) evalRange(inputs, out [][]byte, start, end int) error {
	for i := start; i < end; i++ {
		full, err := o.server.FullEvaluate(inputs[i])
		if err != nil {
			return fmt.Errorf("oprf: evaluate input %d: %w", i, err)
		}
		copy(out[i], full[:DigestSize])
	}
	return nil
}

// EvaluateBlinded evaluates a blind-mode client's blinded elements and
// proves, with a batched DLEQ proof against PublicKey, that it used the
// key. It returns an error wrapping ErrMalformed when the request is empty
// or holds a missing, identity or foreign-group element. Decoding the
// elements from the wire (and bounding the batch) is the caller's job.
func (o *OPRF) EvaluateBlinded(req *oprf.EvaluationRequest) (*oprf.Evaluation, error) {
	if req == nil || len(req.Elements) == 0 {
		return nil, fmt.Errorf("%w: oprf evaluation request: no elements", ErrMalformed)
	}
	want := *group.Ristretto255.Params()
	for i, e := range req.Elements {
		if e == nil || *e.Group().Params() != want || e.IsIdentity() {
			return nil, fmt.Errorf("%w: oprf evaluation request: element %d", ErrMalformed, i)
		}
	}
	ev, err := o.server.Evaluate(req)
	if err != nil {
		return nil, fmt.Errorf("oprf: evaluate blinded elements: %w", err)
	}
	if ev == nil || len(ev.Elements) != len(req.Elements) {
		return nil, errors.New("oprf: evaluate blinded elements: wrong number of evaluations")
	}
	return ev, nil
}

// String names the backend and fingerprint, never the key.
func (o *OPRF) String() string { return "linkage.OPRF{" + o.fp + "}" }

// GoString is String, so %#v does not print the key either.
func (o *OPRF) GoString() string { return o.String() }

// Format prints String whatever the verb, so no verb prints the key.
func (o *OPRF) Format(f fmt.State, _ rune) { fmt.Fprint(f, o.String()) }

// LogValue logs String, never the key.
func (o *OPRF) LogValue() slog.Value { return slog.StringValue(o.String()) }

package linkage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// DigestSize is the size in bytes of every match-key digest, whatever the
// backend: the OPRF output is truncated to it, HMAC-SHA256 has it.
const DigestSize = 32

// Backend names, as PRF.Backend returns them and a deployment records them.
const (
	BackendOPRF    = "oprf"
	BackendHMAC    = "hmac"
	BackendTransit = "transit"
)

// MinHMACKeySize is the smallest key NewHMAC accepts: the output size of
// SHA-256, below which the key, not the hash, bounds the PRF's strength.
const MinHMACKeySize = 32

// PRF computes keyed digests of match-key inputs (kind ‖ 0x00 ‖ value).
// The same key and input always give the same digest, so a change of key
// silently breaks every link: a deployment pins Backend and Fingerprint at
// first start and refuses to start with others.
//
// Implementations are safe for concurrent use.
type PRF interface {
	// Backend names the implementation: BackendOPRF, BackendHMAC or
	// BackendTransit.
	Backend() string
	// Fingerprint identifies the backend and its key without revealing the
	// key, e.g. "oprf:sha256:0123456789abcdef".
	Fingerprint() string
	// Eval returns one DigestSize digest per input, in input order. It
	// returns ctx.Err() (possibly wrapped) when ctx ends before it is done,
	// and for a remote backend an error when the service fails or answers
	// malformed digests. No partial result is returned with an error.
	Eval(ctx context.Context, inputs [][]byte) ([][]byte, error)
}

// hmacPRF is the "hmac" backend: HMAC-SHA256 with a key held in memory.
type hmacPRF struct {
	key *[]byte // behind a pointer so that fmt, printing an enclosing value, shows an address
	fp  string
}

var _ PRF = (*hmacPRF)(nil)

// NewHMAC returns the "hmac" PRF backend: HMAC-SHA256 keyed with key, which
// must be at least MinHMACKeySize bytes. The key is copied. It is much
// faster than the OPRF but offers no blind mode.
func NewHMAC(key []byte) (PRF, error) {
	if len(key) < MinHMACKeySize {
		return nil, fmt.Errorf("hmac prf: key of %d bytes, need at least %d", len(key), MinHMACKeySize)
	}
	k := append([]byte(nil), key...)
	return &hmacPRF{key: &k, fp: hmacFingerprint(k)}, nil
}

// hmacFingerprint hashes the key under a label of its own, so the
// fingerprint is not the hash of the raw key that another system may use.
func hmacFingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("sirm-prf-fingerprint\x00"))
	h.Write(key)
	return BackendHMAC + ":sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

func (p *hmacPRF) Backend() string     { return BackendHMAC }
func (p *hmacPRF) Fingerprint() string { return p.fp }

// hmacCtxEvery is how many inputs hmacPRF.Eval digests between two looks at
// its context: a few hundred microseconds of work.
const hmacCtxEvery = 1024

func (p *hmacPRF) Eval(ctx context.Context, inputs [][]byte) ([][]byte, error) {
	out, buf := newDigests(len(inputs))
	mac := hmac.New(sha256.New, *p.key)
	for i, in := range inputs {
		if i%hmacCtxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		mac.Reset()
		mac.Write(in)
		out[i] = mac.Sum(buf[i*DigestSize : i*DigestSize : (i+1)*DigestSize])
	}
	return out, nil
}

// String, GoString, Format and LogValue name the backend and fingerprint,
// never the key.
func (p *hmacPRF) String() string             { return "linkage.PRF{" + p.fp + "}" }
func (p *hmacPRF) GoString() string           { return p.String() }
func (p *hmacPRF) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }
func (p *hmacPRF) LogValue() slog.Value       { return slog.StringValue(p.String()) }

// newDigests returns n zeroed DigestSize-byte slices backed by one
// allocation (and buf, that allocation), each capped at DigestSize so that
// a caller's append cannot spill into its neighbour.
func newDigests(n int) (out [][]byte, buf []byte) {
	out = make([][]byte, n)
	buf = make([]byte, n*DigestSize)
	for i := range out {
		out[i] = buf[i*DigestSize : (i+1)*DigestSize : (i+1)*DigestSize]
	}
	return out, buf
}

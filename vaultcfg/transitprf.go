package vaultcfg

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
)

// TransitBatchSize is the most inputs TransitPRF sends to Vault in one
// request, which keeps request bodies well under Vault's default size limit.
const TransitBatchSize = 1000

// TransitPRF evaluates the linkage PRF with Vault's transit hmac
// (HMAC-SHA256), the key never leaving Vault. It has the method set of
// linkage.PRF (this package does not import linkage) and is safe for
// concurrent use. Its key version is pinned: rotating the transit key in
// Vault does not change its digests.
type TransitPRF struct {
	t       *Transit
	version int
	fp      string
}

// NewTransitPRF returns the "transit" PRF backend computing HMACs with
// version keyVersion (at least 1) of t's transit key.
func NewTransitPRF(t *Transit, keyVersion int) (*TransitPRF, error) {
	if t == nil {
		return nil, fmt.Errorf("transit prf: no transit key")
	}
	if keyVersion < 1 {
		return nil, fmt.Errorf("transit prf with key %s: key version %d: pin a version >= 1", t.key, keyVersion)
	}
	return &TransitPRF{
		t:       t,
		version: keyVersion,
		fp:      "transit:" + t.mount + "/" + t.key + ":v" + strconv.Itoa(keyVersion),
	}, nil
}

// Backend returns "transit".
func (p *TransitPRF) Backend() string { return "transit" }

// Fingerprint is "transit:<mount>/<key>:v<version>". Vault does not reveal
// transit keys, so the pin is the key's name and version rather than a hash
// of it.
func (p *TransitPRF) Fingerprint() string { return p.fp }

// Eval returns HMAC-SHA256 of every input with the pinned key version, in
// input order, sending at most TransitBatchSize inputs per request. It
// returns ctx's error when ctx ends between requests, and an error wrapping
// ErrUnavailable when Vault cannot be reached or refuses; a failed item or
// a MAC that is not sha256.Size bytes fails the whole call.
func (p *TransitPRF) Eval(ctx context.Context, inputs [][]byte) ([][]byte, error) {
	out := make([][]byte, 0, len(inputs))
	for start := 0; start < len(inputs); start += TransitBatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+TransitBatchSize, len(inputs))
		macs, err := p.t.HMAC(ctx, p.version, inputs[start:end])
		if err != nil {
			return nil, fmt.Errorf("transit prf: inputs %d to %d: %w", start, end-1, err)
		}
		for i, m := range macs {
			if len(m) != sha256.Size {
				return nil, fmt.Errorf("transit prf: input %d: MAC of %d bytes, want %d", start+i, len(m), sha256.Size)
			}
		}
		out = append(out, macs...)
	}
	return out, nil
}

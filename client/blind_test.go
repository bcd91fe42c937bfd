package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/client"
	"github.com/toscana/sirm/linkage"
)

// oprfServer serves /v1/oprf/public-key with the key of published and
// /v1/oprf/evaluate with the key of evaluator, and counts the identity
// submissions it receives.
func oprfServer(t *testing.T, published, evaluator *linkage.OPRF, submitted *int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/oprf/public-key", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"suite": "ristretto255-SHA512", "mode": "verifiable",
			"public_key": base64.StdEncoding.EncodeToString(published.PublicKey())})
	})
	mux.HandleFunc("POST /v1/oprf/evaluate", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Blinded []string }
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		er := &oprf.EvaluationRequest{}
		for _, b := range req.Blinded {
			raw, err := base64.StdEncoding.DecodeString(b)
			require.NoError(t, err)
			e := group.Ristretto255.NewElement()
			require.NoError(t, e.UnmarshalBinary(raw))
			er.Elements = append(er.Elements, e)
		}
		ev, err := evaluator.EvaluateBlinded(er)
		require.NoError(t, err)
		var out struct {
			Evaluated []string `json:"evaluated"`
			Proof     string   `json:"proof"`
		}
		for _, e := range ev.Elements {
			raw, _ := e.MarshalBinaryCompress()
			out.Evaluated = append(out.Evaluated, base64.StdEncoding.EncodeToString(raw))
		}
		raw, _ := ev.Proof.MarshalBinary()
		out.Proof = base64.StdEncoding.EncodeToString(raw)
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /v1/tokens/batch", func(w http.ResponseWriter, r *http.Request) {
		*submitted++
		http.Error(w, "not in this test", http.StatusTeapot)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

func newOPRF(t *testing.T, b byte) *linkage.OPRF {
	t.Helper()
	o, err := linkage.NewOPRF(bytes.Repeat([]byte{b}, linkage.OPRFSeedSize))
	require.NoError(t, err)
	return o
}

var girl = client.Identity{Surname: "Bianchi", GivenNames: "Giulia", BirthDate: "2015-07-15", Sex: "F"}

// TestBlindDigestsMatchServer: the digests the client computes blindly are
// the server's own (linkage.OPRF.Eval) for the same keys.
func TestBlindDigestsMatchServer(t *testing.T) {
	key := newOPRF(t, 7)
	var submitted int
	hs := oprfServer(t, key, key, &submitted)
	b := &client.Blind{Client: &client.Client{BaseURL: hs.URL}, Fingerprint: key.Fingerprint()}
	sets, refused, err := b.MatchKeys(context.Background(), []client.Identity{girl})
	require.NoError(t, err)
	require.Nil(t, refused[0])
	n, err := linkage.Normalize(linkage.Identity{Surname: girl.Surname, GivenNames: girl.GivenNames, BirthDate: girl.BirthDate, Sex: girl.Sex}, linkage.Policy{})
	require.NoError(t, err)
	kvs := n.KeyValues()
	require.Len(t, sets[0].MatchKeys, len(kvs))
	for i, kv := range kvs {
		want, err := key.Eval(context.Background(), [][]byte{linkage.PRFInput(kv)})
		require.NoError(t, err)
		assert.Equal(t, string(kv.Kind), sets[0].MatchKeys[i].Kind)
		assert.Equal(t, base64.StdEncoding.EncodeToString(want[0]), sets[0].MatchKeys[i].Digest, kv.Kind)
	}
	assert.Equal(t, &client.Attributes{Sex: "F", BirthYear: 2015, BirthMonth: 7}, sets[0].Attributes)
}

// TestBlindRefusesWrongKey: a server whose public key is not the pinned
// one, or whose evaluations do not match the key it publishes, is refused
// before anything is submitted.
func TestBlindRefusesWrongKey(t *testing.T) {
	right, wrong := newOPRF(t, 7), newOPRF(t, 8)
	tests := []struct {
		name                 string
		published, evaluator *linkage.OPRF
		pin                  string
		want                 error
	}{
		{"pinMismatch", wrong, wrong, right.Fingerprint(), client.ErrKeyMismatch},
		{"evaluatedWithAnotherKey", right, wrong, right.Fingerprint(), client.ErrBadProof},
		{"evaluatedWithAnotherKeyUnpinned", right, wrong, "", client.ErrBadProof},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var submitted int
			hs := oprfServer(t, tc.published, tc.evaluator, &submitted)
			b := &client.Blind{Client: &client.Client{BaseURL: hs.URL}, Fingerprint: tc.pin}
			_, err := b.TokenizeBatch(context.Background(), []client.Identity{girl})
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "%v", err)
			assert.Zero(t, submitted, "nothing may be submitted")
			assert.NotContains(t, err.Error(), "BIANCHI")
			assert.NotContains(t, err.Error(), "Bianchi")
		})
	}
}

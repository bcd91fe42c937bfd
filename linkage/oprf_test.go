package linkage

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 9497 Appendix A.1.2: ristretto255-SHA512, VOPRF mode.
const (
	rfcSeed    = "a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3"
	rfcKeyInfo = "74657374206b6579" // "test key"
	rfcSkSm    = "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909"
	rfcPkSm    = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
)

// rfcVector is one test vector; the batch vector lists one value per input.
type rfcVector struct {
	name              string
	inputs            []string
	blinds            []string
	blindedElements   []string
	evaluationElement []string
	proof             string
	proofRandomScalar string
	outputs           []string
}

var rfcVectors = []rfcVector{
	{
		name:              "A.1.2.1",
		inputs:            []string{"00"},
		blinds:            []string{"64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"},
		blindedElements:   []string{"863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"},
		evaluationElement: []string{"aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"},
		proof:             "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
		proofRandomScalar: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
		outputs:           []string{"b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"},
	},
	{
		name:              "A.1.2.2",
		inputs:            []string{"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"},
		blinds:            []string{"64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"},
		blindedElements:   []string{"cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"},
		evaluationElement: []string{"60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"},
		proof:             "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
		proofRandomScalar: "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
		outputs:           []string{"8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"},
	},
	{
		name:   "A.1.2.3-batch2",
		inputs: []string{"00", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"},
		blinds: []string{
			"64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
			"222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
		},
		blindedElements: []string{
			"863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
			"90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
		},
		evaluationElement: []string{
			"aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
			"cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
		},
		proof:             "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
		proofRandomScalar: "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c",
		outputs: []string{
			"b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
			"8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
		},
	},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "hex %q", s)
	return b
}

func unhexAll(t testing.TB, ss []string) [][]byte {
	t.Helper()
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = unhex(t, s)
	}
	return out
}

func scalar(t testing.TB, s string) group.Scalar {
	t.Helper()
	k := group.Ristretto255.NewScalar()
	require.NoError(t, k.UnmarshalBinary(unhex(t, s)))
	return k
}

func element(t testing.TB, s string) group.Element {
	t.Helper()
	e := group.Ristretto255.NewElement()
	require.NoError(t, e.UnmarshalBinary(unhex(t, s)))
	return e
}

func elementsHex(t testing.TB, es []group.Element) []string {
	t.Helper()
	out := make([]string, len(es))
	for i, e := range es {
		b, err := e.MarshalBinaryCompress()
		require.NoError(t, err)
		out[i] = hex.EncodeToString(b)
	}
	return out
}

func hexAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

func truncatedHex(t testing.TB, outputs []string) []string {
	t.Helper()
	out := make([]string, len(outputs))
	for i, o := range outputs {
		require.Len(t, o, 128, "RFC output is 64 bytes")
		out[i] = o[:2*DigestSize]
	}
	return out
}

func TestOPRFRFC9497Key(t *testing.T) {
	seed, info := unhex(t, rfcSeed), unhex(t, rfcKeyInfo)
	sk, err := oprf.DeriveKey(oprf.SuiteRistretto255, oprf.VerifiableMode, seed, info)
	require.NoError(t, err)
	skBytes, err := sk.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, rfcSkSm, hex.EncodeToString(skBytes), "skSm")
	pkBytes, err := sk.Public().MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, rfcPkSm, hex.EncodeToString(pkBytes), "pkSm")

	o, err := newOPRF(seed, info)
	require.NoError(t, err)
	assert.Equal(t, rfcPkSm, hex.EncodeToString(o.PublicKey()), "OPRF.PublicKey")
	sum := sha256.Sum256(unhex(t, rfcPkSm))
	assert.Equal(t, "oprf:sha256:"+hex.EncodeToString(sum[:8]), o.Fingerprint())
	assert.Equal(t, BackendOPRF, o.Backend())
}

func TestOPRFRFC9497Vectors(t *testing.T) {
	ctx := context.Background()
	seed, info := unhex(t, rfcSeed), unhex(t, rfcKeyInfo)
	o, err := newOPRF(seed, info)
	require.NoError(t, err)
	pk := new(oprf.PublicKey)
	require.NoError(t, pk.UnmarshalBinary(oprf.SuiteRistretto255, unhex(t, rfcPkSm)))

	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			inputs := unhexAll(t, v.inputs)
			blinds := make([]oprf.Blind, len(v.blinds))
			for i, b := range v.blinds {
				blinds[i] = scalar(t, b)
			}
			client := oprf.NewVerifiableClient(oprf.SuiteRistretto255, pk)
			fin, req, err := client.DeterministicBlind(inputs, blinds)
			require.NoError(t, err)
			assert.Equal(t, v.blindedElements, elementsHex(t, req.Elements), "BlindedElement")

			// The server's evaluation: elements are deterministic, the proof
			// uses fresh randomness, so it is checked by the client.
			ev, err := o.EvaluateBlinded(req)
			require.NoError(t, err)
			assert.Equal(t, v.evaluationElement, elementsHex(t, ev.Elements), "EvaluationElement")
			outputs, err := client.Finalize(fin, ev)
			require.NoError(t, err, "the client verifies our proof")
			assert.Equal(t, v.outputs, hexAll(outputs), "Output via the server's evaluation")

			// The RFC's own proof verifies, and with its randomness the
			// RFC 9497 DLEQ transcript reproduces it byte for byte.
			proof := new(dleq.Proof)
			require.NoError(t, proof.UnmarshalBinary(group.Ristretto255, unhex(t, v.proof)))
			rfcEval := &oprf.Evaluation{Proof: proof}
			for _, e := range v.evaluationElement {
				rfcEval.Elements = append(rfcEval.Elements, element(t, e))
			}
			outputs, err = client.Finalize(fin, rfcEval)
			require.NoError(t, err, "the RFC's proof verifies")
			assert.Equal(t, v.outputs, hexAll(outputs), "Output via the RFC's evaluation")

			prover := dleq.Prover{Params: dleq.Params{
				G:   group.Ristretto255,
				H:   crypto.SHA512,
				DST: []byte("OPRFV1-\x01-ristretto255-SHA512"),
			}}
			again, err := prover.ProveBatchWithRandomnessRFC9497(
				scalar(t, rfcSkSm), element(t, rfcPkSm), req.Elements, rfcEval.Elements, scalar(t, v.proofRandomScalar))
			require.NoError(t, err)
			againBytes, err := again.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, v.proof, hex.EncodeToString(againBytes), "Proof")

			// Server-side evaluation agrees with blind mode: the full 64
			// bytes from FullEvaluate, the first DigestSize from Eval.
			for i, in := range inputs {
				full, err := o.server.FullEvaluate(in)
				require.NoError(t, err)
				assert.Equal(t, v.outputs[i], hex.EncodeToString(full), "FullEvaluate input %d", i)
			}
			digests, err := o.Eval(ctx, inputs)
			require.NoError(t, err)
			assert.Equal(t, truncatedHex(t, v.outputs), hexAll(digests), "Eval")
		})
	}
}

func TestOPRFWrongPublicKey(t *testing.T) {
	o, err := newOPRF(unhex(t, rfcSeed), unhex(t, rfcKeyInfo))
	require.NoError(t, err)
	other, err := NewOPRF(bytes.Repeat([]byte{7}, OPRFSeedSize))
	require.NoError(t, err)
	wrong := new(oprf.PublicKey)
	require.NoError(t, wrong.UnmarshalBinary(oprf.SuiteRistretto255, other.PublicKey()))

	client := oprf.NewVerifiableClient(oprf.SuiteRistretto255, wrong)
	fin, req, err := client.Blind([][]byte{{0}, []byte("NDS\x00ROSSI|MARIO|2010-01-01|M")})
	require.NoError(t, err)
	ev, err := o.EvaluateBlinded(req)
	require.NoError(t, err)
	outputs, err := client.Finalize(fin, ev)
	assert.ErrorIs(t, err, oprf.ErrInvalidProof)
	assert.Nil(t, outputs)
}

// TestOPRFBlindModeAgrees runs blind mode with a production-style key and
// random blinds: the truncated client outputs are Eval's digests.
func TestOPRFBlindModeAgrees(t *testing.T) {
	o, err := NewOPRF(bytes.Repeat([]byte{0x5c}, OPRFSeedSize))
	require.NoError(t, err)
	pk := new(oprf.PublicKey)
	require.NoError(t, pk.UnmarshalBinary(oprf.SuiteRistretto255, o.PublicKey()))
	inputs := [][]byte{[]byte("CF\x00RSSMRA10A01H501Z"), []byte("NDS\x00ROSSI|MARIO|2010-01-01|M"), {}}

	client := oprf.NewVerifiableClient(oprf.SuiteRistretto255, pk)
	fin, req, err := client.Blind(inputs)
	require.NoError(t, err)
	ev, err := o.EvaluateBlinded(req)
	require.NoError(t, err)
	outputs, err := client.Finalize(fin, ev)
	require.NoError(t, err)

	digests, err := o.Eval(context.Background(), inputs)
	require.NoError(t, err)
	require.Len(t, digests, len(inputs))
	for i := range inputs {
		assert.Equal(t, outputs[i][:DigestSize], digests[i], "input %d", i)
	}
}

func TestNewOPRF(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewOPRF(make([]byte, n))
		assert.Error(t, err, "seed of %d bytes", n)
	}
	seed := bytes.Repeat([]byte{1}, OPRFSeedSize)
	a, err := NewOPRF(seed)
	require.NoError(t, err)
	b, err := NewOPRF(seed)
	require.NoError(t, err)
	assert.Equal(t, a.PublicKey(), b.PublicKey(), "the key is derived from the seed")
	assert.Equal(t, a.Fingerprint(), b.Fingerprint())
	assert.Regexp(t, `^oprf:sha256:[0-9a-f]{16}$`, a.Fingerprint())

	rfc, err := newOPRF(seed, unhex(t, rfcKeyInfo))
	require.NoError(t, err)
	assert.NotEqual(t, a.PublicKey(), rfc.PublicKey(), "the key info binds the key to sirm")

	pk := a.PublicKey()
	pk[0] ^= 1
	assert.NotEqual(t, pk, a.PublicKey(), "PublicKey returns a copy")
}

func TestOPRFEvalBatch(t *testing.T) {
	ctx := context.Background()
	o, err := NewOPRF(bytes.Repeat([]byte{2}, OPRFSeedSize))
	require.NoError(t, err)

	// Enough inputs for several chunks and a ragged last one, so every
	// worker runs; each digest must be the one evaluated alone.
	n := 5*oprfChunk + 17
	inputs := make([][]byte, n)
	for i := range inputs {
		inputs[i] = fmt.Appendf(nil, "NDS\x00PERSON%d|2010-01-01|F", i)
	}
	digests, err := o.Eval(ctx, inputs)
	require.NoError(t, err)
	require.Len(t, digests, n)
	seen := map[string]bool{}
	for i, d := range digests {
		require.Len(t, d, DigestSize)
		assert.Equal(t, DigestSize, cap(d), "digest %d is capped", i)
		full, err := o.server.FullEvaluate(inputs[i])
		require.NoError(t, err)
		assert.Equal(t, full[:DigestSize], d, "digest %d", i)
		seen[string(d)] = true
	}
	assert.Len(t, seen, n, "distinct inputs, distinct digests")

	empty, err := o.Eval(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, empty)

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				got, err := o.Eval(ctx, inputs[g*oprfChunk:(g+1)*oprfChunk+3])
				if assert.NoError(t, err) {
					assert.Equal(t, digests[g*oprfChunk:(g+1)*oprfChunk+3], got)
				}
			})
		}
		wg.Wait()
	})
}

func TestOPRFEvalCancelled(t *testing.T) {
	o, err := NewOPRF(bytes.Repeat([]byte{3}, OPRFSeedSize))
	require.NoError(t, err)
	inputs := make([][]byte, 4*oprfChunk)
	for i := range inputs {
		inputs[i] = []byte{byte(i), byte(i >> 8)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := o.Eval(ctx, inputs)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, out)

	// Cancelled while running: the workers stop between chunks.
	many := make([][]byte, 200*oprfChunk)
	for i := range many {
		many[i] = []byte{byte(i), byte(i >> 8), byte(i >> 16)}
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := o.Eval(ctx, many); done <- err }()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestOPRFEvaluateBlindedMalformed(t *testing.T) {
	o, err := NewOPRF(bytes.Repeat([]byte{4}, OPRFSeedSize))
	require.NoError(t, err)
	tests := []struct {
		name string
		req  *oprf.EvaluationRequest
	}{
		{"nil", nil},
		{"empty", &oprf.EvaluationRequest{}},
		{"nil-element", &oprf.EvaluationRequest{Elements: []oprf.Blinded{group.Ristretto255.RandomElement(nil), nil}}},
		{"identity", &oprf.EvaluationRequest{Elements: []oprf.Blinded{group.Ristretto255.Identity()}}},
		{"other-group", &oprf.EvaluationRequest{Elements: []oprf.Blinded{group.P256.Generator()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := o.EvaluateBlinded(tt.req)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Nil(t, ev)
		})
	}
}

func TestOPRFDoesNotPrintKey(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, OPRFSeedSize)
	o, err := NewOPRF(seed)
	require.NoError(t, err)
	sk, err := oprf.DeriveKey(oprf.SuiteRistretto255, oprf.VerifiableMode, seed, oprfKeyInfo)
	require.NoError(t, err)
	skBytes, err := sk.MarshalBinary()
	require.NoError(t, err)

	want := "linkage.OPRF{" + o.Fingerprint() + "}"
	var p PRF = o
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		assert.Equal(t, want, fmt.Sprintf(verb, p), verb)
		nested := fmt.Sprintf(verb, struct{ o *OPRF }{o})
		assert.NotContains(t, nested, hex.EncodeToString(skBytes), verb)
		assert.NotContains(t, nested, "linkage.OPRF{", "%s: a nested unexported pointer prints as an address", verb)
	}
}

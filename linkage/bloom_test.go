package linkage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testBloomKey = bytes.Repeat([]byte{0x5b}, 32)

func testEncoder(t testing.TB) *BloomEncoder {
	t.Helper()
	e, err := NewBloomEncoder(testBloomKey)
	require.NoError(t, err)
	return e
}

func normalized(t testing.TB, id Identity) Normalized {
	t.Helper()
	n, err := Normalize(id, Policy{})
	require.NoError(t, err)
	return n
}

func TestNewBloomEncoderShortKey(t *testing.T) {
	_, err := NewBloomEncoder(make([]byte, 15))
	assert.Error(t, err)
}

// TestBloomEncodeVector rebuilds the surname filter of one identity with
// crypto/hmac directly (the documented construction: HMAC-SHA256 of
// "name" 0x00 bigram, positions h1 + i·h2 mod 1024) and pins the
// popcounts of every field: a change of q-grams, hashing or k changes
// every stored filter and must be deliberate.
func TestBloomEncodeVector(t *testing.T) {
	e := testEncoder(t)
	enc := e.Encode(normalized(t, Identity{Surname: "Rossi", GivenNames: "Giulia", BirthDate: "2014-03-12", Sex: "F", BirthPlace: "D612"}))
	var want BloomFilter
	for _, bigram := range []string{"_R", "RO", "OS", "SS", "SI", "I_"} {
		m := hmac.New(sha256.New, testBloomKey)
		m.Write([]byte("name\x00" + bigram))
		sum := m.Sum(nil)
		h1, h2 := binary.LittleEndian.Uint64(sum), binary.LittleEndian.Uint64(sum[8:])|1
		for i := range uint64(15) {
			p := (h1 + i*h2) % 1024
			want[p/64] |= 1 << (p % 64)
		}
	}
	assert.Equal(t, want, enc.Filters[FieldSurname])
	assert.Equal(t, [NumFields]uint16{86, 100, 109, 74, 0}, enc.Counts)
	for f := range Field(NumFields) {
		assert.Equal(t, int(enc.Counts[f]), enc.Filters[f].Count())
	}
	assert.False(t, enc.Has(FieldResidence))
}

func TestBloomDice(t *testing.T) {
	e := testEncoder(t)
	base := Identity{Surname: "Rossi", GivenNames: "Giulia Maria", BirthDate: "2014-03-12", Sex: "F", BirthPlace: "D612",
		Residence: Residence{Postcode: "50100", Locality: "Firenze"}}
	a := e.Encode(normalized(t, base))
	sim := func(id Identity, f Field) float64 {
		b := e.Encode(normalized(t, id))
		s, ok := a.Sim(&b, f)
		require.True(t, ok)
		return s
	}
	assert.Equal(t, 1.0, sim(base, FieldSurname))
	typo := base
	typo.Surname = "Rosi"
	assert.InDelta(t, 0.9, sim(typo, FieldSurname), 0.1)
	other := base
	other.Surname = "Bianchi"
	assert.Less(t, sim(other, FieldSurname), 0.3)
	dropped := base
	dropped.GivenNames = "Giulia"
	assert.Greater(t, sim(dropped, FieldGivenNames), 0.7)
	day := base
	day.BirthDate = "2014-03-19"
	assert.InDelta(t, 0.4, sim(day, FieldBirthDate), 0.15)
	far := base
	far.BirthDate = "2009-08-27"
	assert.Less(t, sim(far, FieldBirthDate), 0.2)
	pc := base
	pc.Residence.Postcode = "50136"
	assert.Greater(t, sim(pc, FieldResidence), 0.6)
}

func TestDiceMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var a, b BloomFilter
		for i := range a {
			a[i], b[i] = r.Uint64()&r.Uint64(), r.Uint64()&r.Uint64()
		}
		inter := 0
		for i := range BloomBits {
			if a[i/64]>>(i%64)&1 == 1 && b[i/64]>>(i%64)&1 == 1 {
				inter++
			}
		}
		want := 2 * float64(inter) / float64(a.Count()+b.Count())
		assert.InDelta(t, want, Dice(&a, &b), 1e-12)
	}
	var z BloomFilter
	assert.Equal(t, 0.0, Dice(&z, &z))
}

func TestBloomFilterBytes(t *testing.T) {
	var f BloomFilter
	f[0], f[15] = 0x0102030405060708, 1<<63
	b := f.Bytes()
	require.Len(t, b, 128)
	g, err := ParseBloomFilter(b)
	require.NoError(t, err)
	assert.Equal(t, f, g)
	_, err = ParseBloomFilter(b[:127])
	assert.Error(t, err)
}

// TestScoreNoLeak checks that Evidence.Review holds only field names and
// numbers.
func TestScoreSwappedNames(t *testing.T) {
	e := testEncoder(t)
	a := e.Encode(normalized(t, Identity{Surname: "Rossi", GivenNames: "Giulia", BirthDate: "2014-03-12", Sex: "F"}))
	b := e.Encode(normalized(t, Identity{Surname: "Giulia", GivenNames: "Rossi", BirthDate: "2014-03-12", Sex: "F"}))
	s, ev := Score(&a, &b, []KeyKind{KindSWAP, KindNFG}, []KeyKind{KindSWAP}, "F", "F")
	assert.True(t, ev.Swapped)
	assert.Greater(t, s, DefaultAutoThreshold)
	assert.Equal(t, SexSame, ev.Sex)
	_, ev = Score(&a, &b, nil, nil, "F", "M")
	assert.Equal(t, SexDifferent, ev.Sex)
}

// BenchmarkDice compares one 1024-bit filter with a block of others, as
// scoring does, and reports comparisons per second on one core.
func BenchmarkDice(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 256 // 32 KiB of filters: in cache, like the variants of a batch's candidates
	fs := make([]BloomFilter, n)
	cs := make([]int, n)
	for i := range fs {
		for j := range fs[i] {
			fs[i][j] = r.Uint64() & r.Uint64()
		}
		cs[i] = fs[i].Count()
	}
	q, qc := &fs[0], cs[0]
	var sink float64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		k := i & (n - 1)
		sink += DiceCounts(q, &fs[k], qc, cs[k])
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds()/1e6, "Mcmp/s")
	_ = sink
	_ = bits.OnesCount64
}

// BenchmarkEncode encodes an identity, as resolution does for every new
// one.
func BenchmarkEncode(b *testing.B) {
	e := testEncoder(b)
	n := normalized(b, Identity{Surname: "Rossi", GivenNames: "Giulia Maria", BirthDate: "2014-03-12", Sex: "F", BirthPlace: "D612",
		Residence: Residence{Postcode: "50100", Locality: "Firenze"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = e.Encode(n)
	}
}

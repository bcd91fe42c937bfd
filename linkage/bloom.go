package linkage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// Field-level Bloom-filter encodings (Schnell, Bachteler and Reiher's
// "cryptographic long-term keys" kept per field, as in Vatsalan et al.'s
// surveys of privacy-preserving record linkage): every field of a
// normalised identity becomes a 1024-bit filter in which the field's
// q-grams set BloomHashes(field) bits each. Two filters are compared by
// their Dice coefficient, which tolerates typos, dropped letters and
// transpositions that exact match keys miss.
//
// The bit positions of a q-gram are keyed: HMAC-SHA256 under the bloom
// secret (vaultcfg.SecretBloom) gives two 64-bit values h1, h2 and the
// positions h1 + i·h2 mod 1024, i < k (Kirsch–Mitzenmacher double
// hashing). Without the key, nobody can build the filter of a guessed
// name; with it, only the server can, like the match keys.
//
// Parameters: 1024 bits per field and k = 15 bits per q-gram for every
// field (a 10-letter name has 11 padded bigrams: ≈ 160 of 1024 bits set,
// few collisions, so the Dice of two unrelated names stays low). k was
// chosen with the in-memory sweeps (go test -run ScoreSweep -v ./linkage/):
// at the automatic threshold 0.75, k = 10, 15, 20, 30 gave FEBRL 4 fuzzy
// recall 0.538, 0.549, 0.557, 0.582 and demo-data recall 0.641, 0.647,
// 0.656, 0.698 at the same precision (1.000 and 0.998) — but only because
// a larger k raises every similarity: the highest wrong FEBRL candidate
// went 0.625, 0.629, 0.643, 0.662 and the demo's namesakes and twins
// crept towards the threshold (0.775 → 0.782), so the margin that keeps
// twins apart shrinks. 15 keeps it. anonlink's CLK uses 1024 bits for all
// fields together; one filter per field costs 5× the storage (640 bytes a
// variant) but lets the score weigh fields and the review show which field
// disagrees.

// BloomBits is the size of one field filter.
const BloomBits = 1024

// BloomFilter is one field's 1024-bit Bloom filter.
type BloomFilter [BloomBits / 64]uint64

// Count returns the number of bits set.
func (f *BloomFilter) Count() int {
	n := 0
	for _, w := range f {
		n += bits.OnesCount64(w)
	}
	return n
}

// Bytes returns f as 128 bytes, little-endian words: the stored form.
func (f *BloomFilter) Bytes() []byte {
	b := make([]byte, 0, BloomBits/8)
	for _, w := range f {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

// ParseBloomFilter parses the stored form of a filter.
func ParseBloomFilter(b []byte) (BloomFilter, error) {
	var f BloomFilter
	if len(b) != BloomBits/8 {
		return f, errors.New("bloom filter: want 128 bytes")
	}
	for i := range f {
		f[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return f, nil
}

// Dice returns the Dice coefficient 2|a∧b| / (|a|+|b|) of two filters, 0
// when both are empty.
func Dice(a, b *BloomFilter) float64 {
	return DiceCounts(a, b, a.Count(), b.Count())
}

// DiceCounts is Dice with the popcounts of a and b given (Encoding keeps
// them): one AND and one popcount per word, four independent sums, and a
// table of 2/(ca+cb) instead of a division; no allocation.
func DiceCounts(a, b *BloomFilter, ca, cb int) float64 {
	s0 := bits.OnesCount64(a[0]&b[0]) + bits.OnesCount64(a[4]&b[4]) + bits.OnesCount64(a[8]&b[8]) + bits.OnesCount64(a[12]&b[12])
	s1 := bits.OnesCount64(a[1]&b[1]) + bits.OnesCount64(a[5]&b[5]) + bits.OnesCount64(a[9]&b[9]) + bits.OnesCount64(a[13]&b[13])
	s2 := bits.OnesCount64(a[2]&b[2]) + bits.OnesCount64(a[6]&b[6]) + bits.OnesCount64(a[10]&b[10]) + bits.OnesCount64(a[14]&b[14])
	s3 := bits.OnesCount64(a[3]&b[3]) + bits.OnesCount64(a[7]&b[7]) + bits.OnesCount64(a[11]&b[11]) + bits.OnesCount64(a[15]&b[15])
	return float64(s0+s1+s2+s3) * twoOver[(ca+cb)&(len(twoOver)-1)]
}

// twoOver[n] is 2/n (0 for n = 0): Dice multiplies by it. Its length, a
// power of two above 2·BloomBits, lets the index be masked instead of
// bounds-checked.
var twoOver = func() (t [4 * BloomBits]float64) {
	for n := 1; n < len(t); n++ {
		t[n] = 2 / float64(n)
	}
	return t
}()

// Field is a field of an identity that has its own Bloom filter.
type Field int

// The encoded fields, in the order of Encoding.Filters.
const (
	FieldSurname Field = iota
	FieldGivenNames
	FieldBirthDate
	FieldBirthPlace
	FieldResidence
	NumFields = iota
)

var fieldNames = [NumFields]string{"surname", "given_names", "birth_date", "birth_place", "residence"}

// String returns the field's JSON name, as evidence and storage use it.
func (f Field) String() string {
	if f < 0 || f >= NumFields {
		return "field(" + strconv.Itoa(int(f)) + ")"
	}
	return fieldNames[f]
}

// Encoding is the set of field filters of one variant of a person, with
// their popcounts; a field missing from the identity has an empty filter
// (count 0) and is left out of comparisons.
type Encoding struct {
	Filters [NumFields]BloomFilter
	Counts  [NumFields]uint16
}

// Has reports whether the field was present in the encoded identity.
func (e *Encoding) Has(f Field) bool { return e.Counts[f] > 0 }

// Sim returns the Dice similarity of field f of a and b, and false when
// either lacks the field.
func (e *Encoding) Sim(o *Encoding, f Field) (float64, bool) {
	if e.Counts[f] == 0 || o.Counts[f] == 0 {
		return 0, false
	}
	return DiceCounts(&e.Filters[f], &o.Filters[f], int(e.Counts[f]), int(o.Counts[f])), true
}

// Variant returns a SHA-256 digest of the filters: two submissions that
// encode alike are one variant, stored once per person.
func (e *Encoding) Variant() []byte {
	h := sha256.New()
	var buf [8]byte
	for f := range e.Filters {
		for _, w := range e.Filters[f] {
			binary.LittleEndian.PutUint64(buf[:], w)
			h.Write(buf[:])
		}
	}
	return h.Sum(nil)
}

// MinBloomKeySize is the shortest bloom key NewBloomEncoder accepts.
const MinBloomKeySize = 16

// hashDomain separates the q-grams of the fields in the HMAC input.
// Surname and given names share one, so that swapped names can be
// compared crosswise (see Score).
var hashDomain = [NumFields]string{"name", "name", "birth_date", "birth_place", "residence"}

// bloomHashes is k, the bits set per q-gram, by field.
var bloomHashes = [NumFields]int{
	FieldSurname: 15, FieldGivenNames: 15, FieldBirthDate: 15, FieldBirthPlace: 15, FieldResidence: 15,
}

// maxBloomCache bounds the cache of q-gram hashes: bigrams over A–Z and a
// space are at most 27² per field, date tokens a few thousand, so the cache
// stays far below it; past it, hashes are computed and not kept.
const maxBloomCache = 1 << 17

// BloomEncoder encodes normalised identities into Bloom filters. It is
// safe for concurrent use.
type BloomEncoder struct {
	pool  sync.Pool // of hash.Hash (HMAC-SHA256 under the key)
	mu    sync.RWMutex
	cache map[string][2]uint64
}

// NewBloomEncoder returns an encoder keyed with key (the bloom secret).
func NewBloomEncoder(key []byte) (*BloomEncoder, error) {
	if len(key) < MinBloomKeySize {
		return nil, errors.New("linkage: bloom key shorter than 16 bytes")
	}
	k := append([]byte(nil), key...)
	e := &BloomEncoder{cache: map[string][2]uint64{}}
	e.pool.New = func() any { return hmac.New(sha256.New, k) }
	return e, nil
}

// hashes returns h1, h2 of token in field f, h2 odd so that the k
// positions differ.
func (e *BloomEncoder) hashes(f Field, token string) [2]uint64 {
	id := hashDomain[f] + "\x00" + token
	e.mu.RLock()
	h, ok := e.cache[id]
	e.mu.RUnlock()
	if ok {
		return h
	}
	m := e.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(hashDomain[f]))
	m.Write([]byte{0})
	m.Write([]byte(token))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	e.pool.Put(m)
	h = [2]uint64{binary.LittleEndian.Uint64(sum[0:]), binary.LittleEndian.Uint64(sum[8:]) | 1}
	e.mu.Lock()
	if len(e.cache) < maxBloomCache {
		e.cache[id] = h
	}
	e.mu.Unlock()
	return h
}

func (e *BloomEncoder) add(enc *Encoding, f Field, token string) {
	h := e.hashes(f, token)
	for i := range uint64(bloomHashes[f]) {
		p := (h[0] + i*h[1]) % BloomBits
		enc.Filters[f][p/64] |= 1 << (p % 64)
	}
}

// addBigrams adds the padded bigrams of every word of s (prefix tags
// a sub-field: "P" for postcodes inside residence), each once.
func (e *BloomEncoder) addBigrams(enc *Encoding, f Field, prefix, s string) {
	for _, w := range strings.Fields(s) {
		w = "_" + w + "_"
		for i := 0; i+2 <= len(w); i++ {
			e.add(enc, f, prefix+w[i:i+2])
		}
	}
}

// Encode returns the filters of n:
//   - surname, given names: padded bigrams of each word (a dropped or
//     added second given name keeps the first one's bigrams; the order of
//     words does not matter);
//   - birth date: year, month, day, year-month, month-day, year-day, and
//     the unordered day-month pair with and without the year, so that a
//     wrong day, month or year, or day and month swapped, keep 3 or 4 of
//     the 8 tokens (Dice ≈ 0.4–0.5) and an unrelated date next to none;
//   - birth place: padded bigrams of the Belfiore code;
//   - residence: municipality code, padded bigrams of the postcode (a
//     digit typo keeps most) and of the locality's words.
func (e *BloomEncoder) Encode(n Normalized) Encoding {
	var enc Encoding
	e.addBigrams(&enc, FieldSurname, "", n.Surname)
	e.addBigrams(&enc, FieldGivenNames, "", strings.Join(n.GivenNames, " "))
	if !n.BirthDate.IsZero() {
		d := n.BirthDate.Format("2006-01-02")
		y, m, dd := d[:4], d[5:7], d[8:]
		lo, hi := min(m, dd), max(m, dd)
		for _, t := range []string{"Y" + y, "M" + m, "D" + dd, "YM" + y + m, "MD" + m + dd, "YD" + y + dd, "P" + lo + hi, "YP" + y + lo + hi} {
			e.add(&enc, FieldBirthDate, t)
		}
	}
	if n.BirthPlace != "" {
		e.addBigrams(&enc, FieldBirthPlace, "", n.BirthPlace)
	}
	if r := n.Residence; r.Municipality != "" || r.Postcode != "" || r.Locality != "" {
		if r.Municipality != "" {
			e.add(&enc, FieldResidence, "M"+r.Municipality)
		}
		e.addBigrams(&enc, FieldResidence, "P", r.Postcode)
		e.addBigrams(&enc, FieldResidence, "L", r.Locality)
	}
	for f := range enc.Filters {
		enc.Counts[f] = uint16(enc.Filters[f].Count())
	}
	return enc
}

package linkage_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/linkage"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// tokenMaster is the fixed master secret of the token vectors: bytes 0..31.
func tokenMaster() []byte {
	m := make([]byte, 32)
	for i := range m {
		m[i] = byte(i)
	}
	return m
}

const (
	person1 = "00112233445566778899aabbccddeeff"
	person2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// Expected tokens computed independently in Python from the specification:
//
//	k = hmac(master, b"sirm-token-key\0" + domain + b"\0" + str(version))
//	m = hmac(k, b"sirm-token\0" + person bytes)
//	19 base32 digits of int(m) >> 161, most significant first, then the
//	Luhn mod 32 check digit (factor 2 on the rightmost payload digit).
var tokenVectors = []struct {
	domain  string
	version int
	person  string
	want    string
}{
	{"inps", 1, person1, "93MBCYP1TCMVX7VW4GW8"},
	{"inps", 2, person1, "5GZP412ZFV75W2628S8Q"},
	{"FIORENTINA", 1, person1, "9KF552AKEFJ8D1151G7B"},
	{"ASSO-000123", 1, person1, "QDWBTPSR3Q03WXHYHA5W"},
	{"inps", 1, person2, "D4E01QMBFJFWK39SB8V5"},
	{"stat-2026", 7, person2, "EKXM128XEQT8KH0509HR"},
}

func mustPerson(t testing.TB, s string) linkage.PersonID {
	t.Helper()
	p, err := linkage.ParsePersonID(s)
	require.NoError(t, err)
	return p
}

func mustKey(t testing.TB, domain string, version int) linkage.TokenKey {
	t.Helper()
	k, err := linkage.DeriveTokenKey(tokenMaster(), domain, version)
	require.NoError(t, err)
	return k
}

func TestTokenVectors(t *testing.T) {
	for _, v := range tokenVectors {
		t.Run(fmt.Sprintf("%s-v%d-%s", v.domain, v.version, v.person[:4]), func(t *testing.T) {
			k := mustKey(t, v.domain, v.version)
			assert.Equal(t, v.domain, k.Domain)
			assert.Equal(t, v.version, k.Version)
			tok := k.Token(mustPerson(t, v.person))
			assert.Equal(t, v.want, tok.String())
			assert.False(t, tok.IsZero())

			parsed, err := linkage.ParseToken(v.want)
			require.NoError(t, err)
			assert.Equal(t, tok, parsed)
		})
	}
}

func TestTokenProperties(t *testing.T) {
	p := mustPerson(t, person1)
	inps1, inps2, zone := mustKey(t, "inps", 1), mustKey(t, "inps", 2), mustKey(t, "FIORENTINA", 1)
	assert.NotEqual(t, inps1.Token(p), zone.Token(p), "domains differ")
	assert.NotEqual(t, inps1.Token(p), inps2.Token(p), "versions differ")
	assert.Equal(t, inps1.Token(p), mustKey(t, "inps", 1).Token(p), "deterministic")
	assert.NotEqual(t, mustKey(t, "inps", 1).Token(p), mustKey(t, "INPS", 1).Token(p), "domains are case sensitive")

	other, err := linkage.DeriveTokenKey(bytes.Repeat([]byte{0xee}, 32), "inps", 1)
	require.NoError(t, err)
	assert.NotEqual(t, inps1.Token(p), other.Token(p), "master secrets differ")

	seen := map[linkage.Token]bool{}
	for range 2000 {
		tok := inps1.Token(linkage.NewPersonID())
		require.Len(t, tok.String(), linkage.TokenSize)
		require.LessOrEqual(t, len(tok.String()), 20, "fits IDBeneficiario")
		for _, c := range tok.String() {
			require.Contains(t, alphabet, string(c))
		}
		back, err := linkage.ParseToken(tok.String())
		require.NoError(t, err)
		require.Equal(t, tok, back)
		seen[tok] = true
	}
	assert.Len(t, seen, 2000)

	assert.True(t, inps1.Token(linkage.PersonID{}).IsZero(), "no person, no token")
	assert.True(t, linkage.Token{}.IsZero())
	assert.Equal(t, "", linkage.Token{}.String())
	assert.Panics(t, func() { linkage.TokenKey{Domain: "inps", Version: 1}.Token(p) }, "a TokenKey without a key")
}

func TestDeriveTokenKeyIndependently(t *testing.T) {
	// The key derivation, recomputed from the specification, gives the
	// vectors' tokens.
	master := tokenMaster()
	for _, v := range tokenVectors {
		kmac := hmac.New(sha256.New, master)
		fmt.Fprintf(kmac, "sirm-token-key\x00%s\x00%d", v.domain, v.version)
		pmac := hmac.New(sha256.New, kmac.Sum(nil))
		raw, _ := hex.DecodeString(v.person)
		pmac.Write(append([]byte("sirm-token\x00"), raw...))
		sum := pmac.Sum(nil)
		var b strings.Builder
		for i := range 19 {
			bit := 5 * i
			w := int(sum[bit/8])<<8 | int(sum[bit/8+1])
			b.WriteByte(alphabet[(w>>(11-bit%8))&31])
		}
		assert.Equal(t, v.want[:19], b.String(), "%s v%d", v.domain, v.version)
	}
}

func TestDeriveTokenKeyErrors(t *testing.T) {
	tests := []struct {
		name      string
		master    []byte
		domain    string
		version   int
		malformed bool
	}{
		{"short-master", make([]byte, 31), "inps", 1, false},
		{"no-master", nil, "inps", 1, false},
		{"empty-domain", tokenMaster(), "", 1, true},
		{"bad-domain", tokenMaster(), "in ps", 1, true},
		{"version-0", tokenMaster(), "inps", 0, false},
		{"version-negative", tokenMaster(), "inps", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := linkage.DeriveTokenKey(tt.master, tt.domain, tt.version)
			require.Error(t, err)
			assert.Equal(t, tt.malformed, errors.Is(err, linkage.ErrMalformed))
			assert.Equal(t, linkage.TokenKey{}, k)
		})
	}
}

func TestValidDomain(t *testing.T) {
	valid := []string{"FIORENTINA", "ASSO-000123", "inps", "stat-2026", "audit", "a", "9", "a_b.c-d", strings.Repeat("x", 64)}
	invalid := []string{"", "-inps", ".inps", "_inps", "in ps", "inps/2026", "inps\x00", "zoné", strings.Repeat("x", 65), "inps\n"}
	for _, d := range valid {
		assert.True(t, linkage.ValidDomain(d), "%q", d)
	}
	for _, d := range invalid {
		assert.False(t, linkage.ValidDomain(d), "%q", d)
	}
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" for malformed
	}{
		{"canonical", "9KF552AKEFJ8D1151G7B", "9KF552AKEFJ8D1151G7B"},
		{"lower-case", "9kf552akefj8d1151g7b", "9KF552AKEFJ8D1151G7B"},
		{"i-and-l-are-1", "9KF552AKEFJ8DIl5LG7B", "9KF552AKEFJ8D1151G7B"},
		{"o-is-0", "QDWBTPSR3QO3WXHYHA5W", "QDWBTPSR3Q03WXHYHA5W"},
		{"o-lower-is-0", "QDWBTPSR3Qo3WXHYHA5W", "QDWBTPSR3Q03WXHYHA5W"},
		{"empty", "", ""},
		{"short", "9KF552AKEFJ8D1151G7", ""},
		{"long", "9KF552AKEFJ8D1151G7B0", ""},
		{"u-not-in-alphabet", "9KF552AKEFJ8D1151G7U", ""},
		{"hyphen", "9KF552AKEF-8D1151G7B", ""},
		{"space", " KF552AKEFJ8D1151G7B", ""},
		{"non-ascii", "9KF552AKEFJ8D1151Gé", ""},
		{"bad-check", "9KF552AKEFJ8D1151G7C", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := linkage.ParseToken(tt.in)
			if tt.want == "" {
				assert.ErrorIs(t, err, linkage.ErrMalformed)
				assert.True(t, tok.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, tok.String())
		})
	}
}

// TestTokenCheckCharacter: the Luhn mod 32 check character catches every
// single substitution and every adjacent transposition except swapping
// '0' and 'Z' (values 0 and 31, for which doubling-and-folding adds the same
// to the sum as not doubling: 2·31 = 62 → 1+30 = 31).
func TestTokenCheckCharacter(t *testing.T) {
	k := mustKey(t, "inps", 1)
	tokens := []string{}
	for _, v := range tokenVectors {
		tokens = append(tokens, v.want)
	}
	for range 500 {
		tokens = append(tokens, k.Token(linkage.NewPersonID()).String())
	}
	// Make sure the one undetectable swap occurs.
	tokens = append(tokens, tokenWithAdjacent(t, k, '0', 'Z'))

	var subs, transposed, missed int
	for _, tok := range tokens {
		for i := range len(tok) {
			for _, c := range []byte(alphabet) {
				if c == tok[i] {
					continue
				}
				s := tok[:i] + string(c) + tok[i+1:]
				subs++
				_, err := linkage.ParseToken(s)
				assert.ErrorIs(t, err, linkage.ErrMalformed, "substitution %s → %s", tok, s)
			}
		}
		for i := 0; i+1 < len(tok); i++ {
			if tok[i] == tok[i+1] {
				continue
			}
			s := tok[:i] + string(tok[i+1]) + string(tok[i]) + tok[i+2:]
			transposed++
			_, err := linkage.ParseToken(s)
			pair := string(tok[i]) + string(tok[i+1])
			if pair == "0Z" || pair == "Z0" {
				assert.NoError(t, err, "swapping 0 and Z is the blind spot of Luhn mod 32: %s → %s", tok, s)
				missed++
				continue
			}
			assert.ErrorIs(t, err, linkage.ErrMalformed, "transposition %s → %s", tok, s)
		}
	}
	assert.Positive(t, missed)
	t.Logf("%d tokens: %d single substitutions all caught; %d adjacent transpositions, %d (0↔Z) missed (%.3f%%)",
		len(tokens), subs, transposed, missed, 100*float64(missed)/float64(transposed))
}

// tokenWithAdjacent finds a person whose token has a and b adjacent.
func tokenWithAdjacent(t *testing.T, k linkage.TokenKey, a, b byte) string {
	t.Helper()
	for range 100000 {
		s := k.Token(linkage.NewPersonID()).String()
		if strings.Contains(s, string(a)+string(b)) || strings.Contains(s, string(b)+string(a)) {
			return s
		}
	}
	t.Fatalf("no token with %c and %c adjacent", a, b)
	return ""
}

func TestTokenKeyDoesNotPrintKey(t *testing.T) {
	k := mustKey(t, "inps", 3)
	kmac := hmac.New(sha256.New, tokenMaster())
	kmac.Write([]byte("sirm-token-key\x00inps\x003"))
	raw := kmac.Sum(nil)
	secrets := []string{hex.EncodeToString(raw), strings.Trim(fmt.Sprint(raw), "[]"), fmt.Sprintf("%q", raw)}

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for name, out := range map[string]string{
			"value":    fmt.Sprintf(verb, k),
			"pointer":  fmt.Sprintf(verb, &k),
			"exported": fmt.Sprintf(verb, struct{ K linkage.TokenKey }{k}),
			"hidden":   fmt.Sprintf(verb, struct{ k linkage.TokenKey }{k}),
			"slice":    fmt.Sprintf(verb, []linkage.TokenKey{k}),
		} {
			for _, s := range secrets {
				assert.NotContains(t, out, s, "%s %s: %s", name, verb, out)
			}
		}
	}
	assert.Equal(t, "TokenKey{Domain:inps Version:3}", k.String())
	assert.Equal(t, `linkage.TokenKey{Domain:"inps", Version:3}`, fmt.Sprintf("%#v", k))
	assert.Equal(t, `"TokenKey{Domain:inps Version:3}"`, fmt.Sprintf("%q", k))

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("key", "key", k)
	assert.Contains(t, buf.String(), `"key":{"domain":"inps","version":3}`)
	for _, s := range secrets {
		assert.NotContains(t, buf.String(), s)
	}
}

func BenchmarkToken(b *testing.B) {
	k, err := linkage.DeriveTokenKey(tokenMaster(), "inps", 1)
	require.NoError(b, err)
	persons := make([]linkage.PersonID, 1024)
	for i := range persons {
		persons[i] = linkage.NewPersonID()
	}
	i := 0
	for b.Loop() {
		_ = k.Token(persons[i%len(persons)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkParseToken(b *testing.B) {
	s := "9kf552akefj8dil51g7b"
	for b.Loop() {
		if _, err := linkage.ParseToken(s); err != nil {
			b.Fatal(err)
		}
	}
}

package linkage

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
)

// TokenSize is the length of every token: 19 base32 characters carrying 95
// bits of HMAC and a check character.
const TokenSize = 20

// tokenDataSize is the number of base32 characters before the check one.
const tokenDataSize = TokenSize - 1

// MinTokenMasterSize is the smallest token master secret DeriveTokenKey
// accepts.
const MinTokenMasterSize = 32

// crockford is Crockford's base32 alphabet: digits and upper-case letters
// without I, L, O and U, so tokens read aloud or retyped survive.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// crockfordValue maps an accepted character to its value, or -1. Lower case
// and the look-alikes I, L (1) and O (0) are accepted as Crockford decodes
// them.
var crockfordValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for v, c := range []byte(crockford) {
		t[c] = int8(v)
		if c >= 'A' && c <= 'Z' {
			t[c+'a'-'A'] = int8(v)
		}
	}
	for _, c := range []byte("IiLl") {
		t[c] = 1
	}
	for _, c := range []byte("Oo") {
		t[c] = 0
	}
	return t
}()

// Token is the caller-visible pseudonym of a person in one domain: TokenSize
// characters of Crockford base32, the last a Luhn mod 32 check character,
// so it fits SINBA's IDBeneficiario (at most 20 characters). Only this
// package creates one (TokenKey.Token, ParseToken). The zero Token is no
// token.
type Token struct{ s string }

// ParseToken parses a token as a caller typed it: lower case is read as upper
// case, and I and L as 1, O as 0, as Crockford base32 does. It returns an
// error wrapping ErrMalformed when s does not have TokenSize characters of
// the alphabet or its check character does not match, which catches every
// single mistyped character and most swaps of two adjacent ones.
func ParseToken(s string) (Token, error) {
	if len(s) != TokenSize {
		return Token{}, fmt.Errorf("%w: token: want %d characters", ErrMalformed, TokenSize)
	}
	var digits [TokenSize]byte
	var canon [TokenSize]byte
	for i := range len(s) {
		v := crockfordValue[s[i]]
		if v < 0 {
			return Token{}, fmt.Errorf("%w: token: character %d is not base32", ErrMalformed, i+1)
		}
		digits[i] = byte(v)
		canon[i] = crockford[v]
	}
	if luhn32Sum(digits[:], false) != 0 {
		return Token{}, fmt.Errorf("%w: token: check character does not match", ErrMalformed)
	}
	return Token{s: string(canon[:])}, nil
}

// String returns the canonical form: TokenSize upper-case characters, or ""
// for the zero Token.
func (t Token) String() string { return t.s }

// IsZero reports whether t is the zero Token (no token).
func (t Token) IsZero() bool { return t.s == "" }

// domainRE is the form of a domain name; see ValidDomain.
var domainRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidDomain reports whether d can name a token domain: an organisation (a
// zone code such as "FIORENTINA", a facility such as "ASSO-000123") or an
// export ("inps", "stat-2026", "audit"). A domain is 1 to 64 letters,
// digits, '_', '.' or '-', starting with a letter or digit. Domains are case
// sensitive: "inps" and "INPS" have different keys.
func ValidDomain(d string) bool { return domainRE.MatchString(d) }

// TokenKey is the key of one version of one token domain. Datasets tokenised
// with different domain keys cannot be joined without the system, and a new
// version issues new tokens while the old ones still resolve until retired.
// Its key is never printed (String, GoString, Format, LogValue). The zero
// TokenKey has no key; only DeriveTokenKey makes one.
type TokenKey struct {
	Domain  string
	Version int
	key     *tokenSecret
}

// tokenSecret holds a token key's bytes two pointers away from TokenKey.
// fmt cannot call TokenKey's methods when it sits in an unexported field, so
// it prints it by reflection, which dereferences at most one pointer (even
// for a bad verb): the bytes print as an address.
type tokenSecret struct{ b *[sha256.Size]byte }

// DeriveTokenKey derives the key of (domain, version) from the token master
// secret: HMAC-SHA256(master, "sirm-token-key" 0x00 domain 0x00 version in
// decimal). The master secret must be at least MinTokenMasterSize bytes and
// version at least 1; an invalid domain gives an error wrapping
// ErrMalformed.
func DeriveTokenKey(master []byte, domain string, version int) (TokenKey, error) {
	if len(master) < MinTokenMasterSize {
		return TokenKey{}, fmt.Errorf("token key: master secret of %d bytes, need at least %d", len(master), MinTokenMasterSize)
	}
	if !ValidDomain(domain) {
		return TokenKey{}, fmt.Errorf("%w: token key: domain", ErrMalformed)
	}
	if version < 1 {
		return TokenKey{}, fmt.Errorf("token key for domain %s: version %d, need at least 1", domain, version)
	}
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte("sirm-token-key\x00" + domain + "\x00" + strconv.Itoa(version)))
	var k [sha256.Size]byte
	mac.Sum(k[:0])
	return TokenKey{Domain: domain, Version: version, key: &tokenSecret{b: &k}}, nil
}

// Token returns the token of person p in k's domain and version: the first
// 95 bits of HMAC-SHA256(key, "sirm-token" 0x00 p.Bytes()) as 19 Crockford
// base32 characters, most significant first, then the Luhn mod 32 check
// character. The zero PersonID has the zero Token. Token panics on a
// TokenKey not made by DeriveTokenKey, a programming error that would
// otherwise issue tokens under an empty key.
func (k TokenKey) Token(p PersonID) Token {
	if k.key == nil {
		panic("linkage: TokenKey.Token on a TokenKey not made by DeriveTokenKey")
	}
	if p.IsZero() {
		return Token{}
	}
	mac := hmac.New(sha256.New, k.key.b[:])
	mac.Write([]byte("sirm-token\x00"))
	mac.Write(p.b[:])
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])

	var digits [TokenSize]byte
	for i := range tokenDataSize {
		// Character i holds bits 5i..5i+4 of the MAC, bit 0 being the most
		// significant bit of byte 0; two bytes always cover them.
		bit := 5 * i
		w := uint16(sum[bit/8])<<8 | uint16(sum[bit/8+1])
		digits[i] = byte(w>>(11-bit%8)) & 31
	}
	digits[tokenDataSize] = byte((32 - luhn32Sum(digits[:tokenDataSize], true)) % 32)

	var out [TokenSize]byte
	for i, d := range digits {
		out[i] = crockford[d]
	}
	return Token{s: string(out[:])}
}

// luhn32Sum is the Luhn mod N sum (N = 32) of digits: walking from the
// rightmost digit, every other digit is doubled and its base-32 digits
// added, starting with the rightmost when it is not a check digit
// (forCheck). A full token sums to 0; for a payload the check digit is
// (32 - sum) mod 32.
func luhn32Sum(digits []byte, forCheck bool) int {
	double := forCheck
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		a := int(digits[i])
		if double {
			a *= 2
			a = a/32 + a%32
		}
		sum += a
		double = !double
	}
	return sum % 32
}

// String names the domain and version, never the key.
func (k TokenKey) String() string {
	return "TokenKey{Domain:" + k.Domain + " Version:" + strconv.Itoa(k.Version) + "}"
}

// GoString is the Go-syntax form without the key:
// linkage.TokenKey{Domain:"inps", Version:1}.
func (k TokenKey) GoString() string {
	return "linkage.TokenKey{Domain:" + strconv.Quote(k.Domain) + ", Version:" + strconv.Itoa(k.Version) + "}"
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %x,
// %q...) prints String or GoString and never the key.
func (k TokenKey) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, k.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(k.String()))
	default:
		io.WriteString(f, k.String())
	}
}

// LogValue logs the domain and version, never the key.
func (k TokenKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("domain", k.Domain), slog.Int("version", k.Version))
}

// Package authn turns a bearer JWT into a Principal. Development tokens are
// EdDSA-signed with the keyring's signing key (sirm dev-token mints them);
// production verifies the tokens of the Region's OIDC issuer against its JWKS.
// Both go through the same go-oidc verifier, so exp, nbf, iss and aud are
// checked the same way.
package authn

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Role is a principal's role; the access policy is written in roles.
type Role string

// The roles of DESIGN.md.
const (
	RoleServiceOperator  Role = "service_operator"
	RoleFacilityOperator Role = "facility_operator"
	RoleRegionAnalyst    Role = "region_analyst"
	RoleDataSteward      Role = "data_steward"
	RoleAuditor          Role = "auditor"
	RoleAdmin            Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleServiceOperator, RoleFacilityOperator, RoleRegionAnalyst, RoleDataSteward, RoleAuditor, RoleAdmin}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Principal is the authenticated caller.
type Principal struct {
	Subject string
	Role    Role
	Org     string // zone code for services, facility code for facilities
	Purpose string // optional
}

// Validate reports the first problem with p's claims.
func (p Principal) Validate() error {
	switch {
	case p.Subject == "":
		return errors.New("claim sub is missing")
	case !p.Role.Valid():
		return fmt.Errorf("claim role %q is not a known role", p.Role)
	case p.Org == "":
		return errors.New("claim org is missing")
	}
	return nil
}

// ErrUnauthenticated is returned by Verify for any token that is missing,
// malformed, badly signed, expired, not yet valid, for another audience or
// issuer, or whose claims are incomplete. It wraps the reason, which is safe
// to log but not meant for the client.
var ErrUnauthenticated = errors.New("unauthenticated")

// Verifier checks a raw bearer token. Implementations are safe for
// concurrent use.
type Verifier interface {
	// Verify returns the principal of raw, or an error wrapping ErrUnauthenticated.
	Verify(ctx context.Context, raw string) (Principal, error)
}

// Development token parameters.
const (
	DevIssuer   = "sirm-dev"
	DevAudience = "sirm"
)

type claims struct {
	Role    string `json:"role"`
	Org     string `json:"org"`
	Purpose string `json:"purpose,omitempty"`
}

type oidcVerifier struct {
	v *oidc.IDTokenVerifier
}

// NewDevVerifier verifies development tokens signed by pub.
func NewDevVerifier(pub ed25519.PublicKey) Verifier {
	ks := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{pub}}
	return oidcVerifier{oidc.NewVerifier(DevIssuer, ks, &oidc.Config{
		ClientID:             DevAudience,
		SupportedSigningAlgs: []string{oidc.EdDSA},
	})}
}

// NewOIDCVerifier discovers issuer's configuration and verifies its tokens
// for audience; the JWKS is fetched and cached by go-oidc, and refetched when
// a token names an unknown key.
func NewOIDCVerifier(ctx context.Context, issuer, audience string) (Verifier, error) {
	if audience == "" {
		return nil, errors.New("oidc audience is empty")
	}
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("discover oidc issuer %s: %w", issuer, err)
	}
	// context.WithoutCancel: the key set outlives ctx, which only bounds start-up.
	return oidcVerifier{p.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: audience})}, nil
}

func (o oidcVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	}
	tok, err := o.v.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return Principal{}, fmt.Errorf("%w: claims: %w", ErrUnauthenticated, err)
	}
	p := Principal{Subject: tok.Subject, Role: Role(c.Role), Org: c.Org, Purpose: c.Purpose}
	if err := p.Validate(); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return p, nil
}

// MintOptions are the claims and lifetime of a development token.
type MintOptions struct {
	Principal Principal
	TTL       time.Duration // default 8h
	Now       time.Time     // default time.Now()
}

// Mint signs a development token for opts.Principal with key.
func Mint(key ed25519.PrivateKey, opts MintOptions) (string, error) {
	if err := opts.Principal.Validate(); err != nil {
		return "", err
	}
	if opts.TTL <= 0 {
		opts.TTL = 8 * time.Hour
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	std := jwt.Claims{
		Issuer:    DevIssuer,
		Subject:   opts.Principal.Subject,
		Audience:  jwt.Audience{DevAudience},
		IssuedAt:  jwt.NewNumericDate(opts.Now),
		NotBefore: jwt.NewNumericDate(opts.Now.Add(-30 * time.Second)),
		Expiry:    jwt.NewNumericDate(opts.Now.Add(opts.TTL)),
	}
	c := claims{Role: string(opts.Principal.Role), Org: opts.Principal.Org, Purpose: opts.Principal.Purpose}
	return jwt.Signed(signer).Claims(std).Claims(c).Serialize()
}

// BearerToken extracts the token of an Authorization header value; it
// returns "" when the header is not a bearer credential.
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

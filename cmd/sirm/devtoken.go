package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/vaultcfg"
)

func runDevToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c       Config
		p       authn.Principal
		role    string
		ttl     time.Duration
		summary = "Print a development JWT, alone on stdout, signed with the key source's jwt-signing key.\nRoles: service_operator (org = zone), facility_operator (org = facility), region_analyst, data_steward, auditor, admin."
	)
	s := newSettings("dev-token", summary)
	s.fs.SetOutput(stderr)
	s.fs.StringVar(&role, "role", "", "role of the principal (required)")
	s.fs.StringVar(&p.Org, "org", "", "organisation: a zone code, a facility code, or REGIONE (required)")
	s.fs.StringVar(&p.Subject, "sub", "", "subject (default dev-<role>)")
	s.fs.StringVar(&p.Purpose, "purpose", "", "purpose of the access (optional)")
	s.fs.DurationVar(&ttl, "ttl", 8*time.Hour, "lifetime of the token")
	s.docs = append(s.docs,
		settingDoc{flag: "role", usage: "role of the principal (required)"},
		settingDoc{flag: "org", usage: "zone code, facility code or REGIONE (required)"},
		settingDoc{flag: "sub", usage: "subject", def: "dev-<role>"},
		settingDoc{flag: "purpose", usage: "purpose of the access (optional)"},
		settingDoc{flag: "ttl", usage: "lifetime of the token", def: "8h0m0s"})
	s.environment(&c)
	s.keys(&c)
	if err := s.parse(args); err != nil {
		return err
	}
	if c.production() {
		return errors.New("dev-token is for development: production accepts only the OIDC issuer's tokens")
	}
	p.Role = authn.Role(role)
	if p.Subject == "" {
		p.Subject = "dev-" + role
	}
	if err := p.Validate(); err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%v (see --help)", err)}
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	c.Keys.Env, c.Keys.Logger = c.Env, log
	src, err := vaultcfg.Open(ctx, c.Keys)
	if err != nil {
		return err
	}
	defer src.Close()
	sk, err := src.Secret(ctx, vaultcfg.SecretJWTSigning)
	if err != nil {
		return err
	}
	tok, err := authn.Mint(ed25519.NewKeyFromSeed(sk.Material), authn.MintOptions{Principal: p, TTL: ttl})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/toscana/sirm/api"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/vaultcfg"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c Config
	s := newSettings("serve", "Serve the HTTP API until SIGTERM or Ctrl-C; in-flight requests finish first.")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.environment(&c)
	s.server(&c)
	s.keys(&c)
	s.linkage(&c)
	s.reports(&c)
	s.sinba(&c)
	if err := s.parse(args); err != nil {
		return err
	}
	ente, err := c.SINBA.ente()
	if err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	c.Keys.Env = c.Env
	c.Keys.Logger = log
	if c.production() && c.OIDCIssuer == "" {
		return errors.New("production needs SIRM_OIDC_ISSUER: development tokens are not accepted there")
	}
	if !c.production() && c.Keys.Kind == "file" {
		// The development keyring is made on first start, so `make run` needs no extra step.
		created, err := vaultcfg.Init(ctx, c.Keys)
		if err != nil {
			return err
		}
		if len(created) > 0 {
			log.Info("created development keyring", "path", c.Keys.KeyringPath, "secrets", created)
		}
	}
	env, err := openLinkage(ctx, &c)
	if err != nil {
		return err
	}
	defer env.Close()
	keys, db, lk := env.keys, env.db, env.lk
	reg, act, err := env.newDomains(log)
	if err != nil {
		return err
	}

	reportStore, reportCat, err := reports(db, c.Report)
	if err != nil {
		return err
	}

	var verifier authn.Verifier
	if c.OIDCIssuer != "" {
		if verifier, err = authn.NewOIDCVerifier(ctx, c.OIDCIssuer, c.OIDCAudience); err != nil {
			return err
		}
	} else {
		sk, err := keys.Secret(ctx, vaultcfg.SecretJWTSigning)
		if err != nil {
			return err
		}
		verifier = authn.NewDevVerifier(ed25519.NewKeyFromSeed(sk.Material).Public().(ed25519.PublicKey))
	}

	srv := api.New(api.Options{
		Logger:   log,
		Audit:    audit.NewService(auditpg.New(db)),
		Linkage:  lk,
		Registry: reg,
		Activity: act,
		Reports:  reportCat,
		Verifier: verifier,
		Checks: map[string]api.Checker{
			"database": api.CheckFunc(db.Ping),
			"keys":     keys,
		},
		MaxBodyBytes:   c.MaxBodyBytes,
		RatePerSecond:  c.RatePerSecond,
		RateBurst:      int(c.RateBurst),
		OPRFDailyLimit: c.OPRFDailyLimit,
		SINBAEnte:      ente,
		Microdata:      reportStore,
		MicrodataK:     int(c.Report.Threshold),
	})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	log.Info("serving", "addr", ln.Addr().String(), "env", c.Env, "keys", keys.Kind(),
		"database", redactURL(c.DatabaseURL), "auth", authMode(c), "linkage", c.Linkage.Backend)
	if err := srv.Serve(ctx, ln, c.ShutdownGrace); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func authMode(c Config) string {
	if c.OIDCIssuer != "" {
		return "oidc " + c.OIDCIssuer
	}
	return "development tokens"
}

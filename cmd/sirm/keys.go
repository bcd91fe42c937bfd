package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/toscana/sirm/vaultcfg"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	var c Config
	var summary string
	switch sub {
	case "init":
		summary = "Create every missing key in the key source (the file keyring, mode 0600, or Vault's KV). Existing keys are never changed."
	case "show":
		summary = "List the keys of the key source with their versions and fingerprints (never the key material)."
	case "rotate-token-key", "retire-token-key":
		return runTokenKey(ctx, sub, args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "Usage: sirm keys init|show|rotate-token-key|retire-token-key [flags]\n\n"+
			"  init              create every missing key\n"+
			"  show              list keys, versions and fingerprints\n"+
			"  rotate-token-key  DOMAIN: new tokens for new requests; old ones resolve until retired\n"+
			"  retire-token-key  DOMAIN: old tokens of DOMAIN stop resolving\n")
		if sub == "" || sub == "help" || sub == "--help" || sub == "-h" {
			return nil
		}
		return &exitError{code: 2, msg: fmt.Sprintf("unknown keys command %q", sub)}
	}
	s := newSettings("keys "+sub, summary)
	s.fs.SetOutput(stderr)
	s.environment(&c)
	s.keys(&c)
	if err := s.parse(args); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	c.Keys.Env, c.Keys.Logger = c.Env, log
	if sub == "init" {
		created, err := vaultcfg.Init(ctx, c.Keys)
		if err != nil {
			return err
		}
		if len(created) == 0 {
			fmt.Fprintln(stdout, "every key exists already; nothing created")
		}
		for _, name := range created {
			fmt.Fprintf(stdout, "created %s\n", name)
		}
	}
	src, err := vaultcfg.Open(ctx, c.Keys)
	if err != nil {
		return err
	}
	defer src.Close()
	{
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "KEY\tVERSION\tFINGERPRINT\tCREATED\n")
		for _, name := range vaultcfg.StandardSecrets {
			versions, err := src.Versions(ctx, name)
			if err != nil {
				return err
			}
			for _, v := range versions {
				sec, err := src.SecretVersion(ctx, name, v)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\n", name, v, sec.Fingerprint(), sec.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))
			}
		}
		tw.Flush()
	}
	return nil
}

// runTokenKey rotates or retires the token key of one domain.
func runTokenKey(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	summary := map[string]string{
		"rotate-token-key": "Start a new version of DOMAIN's token key: new requests get new tokens, old tokens keep resolving until retire-token-key.",
		"retire-token-key": "Retire every version of DOMAIN's token key but the newest: the tokens they issued stop resolving.",
	}[sub]
	var c Config
	s := newSettings("keys "+sub+" DOMAIN", summary)
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.environment(&c)
	s.keys(&c)
	s.linkage(&c)
	domain := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		domain, args = args[0], args[1:]
	}
	if err := s.parse(args); err != nil {
		return err
	}
	if domain == "" {
		s.fs.Usage()
		return &exitError{code: 2, msg: "name the DOMAIN (an organisation code such as FIORENTINA or ASSO-000123, or an export such as inps)"}
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	c.Keys.Env, c.Keys.Logger = c.Env, log
	env, err := openLinkage(ctx, &c)
	if err != nil {
		return err
	}
	defer env.Close()
	lk := env.lk
	if sub == "rotate-token-key" {
		v, err := lk.RotateTokenKey(ctx, domain)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token key of %s is now version %d; older versions resolve until `sirm keys retire-token-key %s`\n", domain, v.Version, domain)
		return nil
	}
	n, err := lk.RetireTokenKeys(ctx, domain)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "retired %d older version(s) of the token key of %s\n", n, domain)
	return nil
}

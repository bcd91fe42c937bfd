package main

import (
	"context"
	"fmt"
	"io"
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
	default:
		fmt.Fprintf(stderr, "Usage: sirm keys init|show [flags]\n\n  init  create every missing key\n  show  list keys, versions and fingerprints\n")
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

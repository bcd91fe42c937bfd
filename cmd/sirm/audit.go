package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/pgdb"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintf(stderr, "Usage: sirm audit verify [flags]\n\n  verify  recompute the hash chain of the access log; exit 1 when it is broken\n")
		if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
			return nil
		}
		return &exitError{code: 2, msg: fmt.Sprintf("unknown audit command %q", args[0])}
	}
	var (
		c      Config
		asJSON bool
	)
	s := newSettings("audit verify", "Recompute the hash chain of the access log and name the first event that breaks it. Exit status 0: intact; 1: broken.")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.fs.BoolVar(&asJSON, "json", false, "print the result as JSON, as GET /v1/audit/verify does")
	s.docs = append(s.docs, settingDoc{flag: "json", def: "false", usage: "print the result as JSON"})
	if err := s.parse(args[1:]); err != nil {
		return err
	}
	db, err := pgdb.Open(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := audit.NewService(auditpg.New(db)).Verify(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		out := map[string]any{"ok": v.OK, "events": v.Events}
		if !v.OK {
			out["broken_seq"], out["reason"] = v.BrokenSeq, v.Reason
		}
		if err := json.NewEncoder(stdout).Encode(out); err != nil {
			return err
		}
	} else if v.OK {
		fmt.Fprintf(stdout, "audit chain intact: %d events\n", v.Events)
	} else {
		fmt.Fprintf(stdout, "audit chain BROKEN at event %d: %s (%d events read)\n", v.BrokenSeq, v.Reason, v.Events)
	}
	if !v.OK {
		return &exitError{code: 1, msg: ""}
	}
	return nil
}

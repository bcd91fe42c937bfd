// Command sirm is the one binary of the regional information system on
// minors in care: the server, its migrations, its keys and its tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "Serve the HTTP API.", runServe},
		{"migrate", "Create the database if missing and apply the pending migrations.", runMigrate},
		{"keys", "Manage the keys: keys init | show | rotate-token-key | retire-token-key.", runKeys},
		{"dev-token", "Print a development JWT signed with the keyring's key.", runDevToken},
		{"audit", "Work on the access log: audit verify.", runAudit},
		{"linkage", "Work on the linked persons: linkage rescan (re-score within blocks, open reviews).", runLinkage},
		{"tokenize", "Tokenize a CSV of identities through the token API, resumably.", runTokenize},
		{"demo", "Generate fictitious data: demo identities | facilities | activity.", runDemo},
		{"report", "Compute a report from the database: report facility-census.", runReport},
		{"bench", "Measure on labelled data: bench linkage (precision, recall, threshold sweep).", runBench},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "sirm — Sistema Informativo Regionale Minori\n\nUsage: sirm <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'sirm <command> --help' for the settings of a command.\n")
}

// exitError carries a process exit code other than 1.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if err.Error() != "" {
			fmt.Fprintf(os.Stderr, "sirm: %v\n", err)
		}
		os.Exit(code)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return &exitError{code: 2, msg: ""}
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q", args[0])}
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/toscana/sirm/internal/demo"
)

const demoUsage = `Usage: sirm demo <kind> [flags]

Generate fictitious data for trials, tests and benchmarks.

  identities  identities of minors as CSV, the input of 'sirm tokenize'
  facilities  a registry of residential facilities, loaded into the database
  activity    SINBA case files and ASMI stays for the demo registry (after facilities)

Run 'sirm demo <kind> --help' for its settings.
`

// demoCommands are the kinds of data `sirm demo` generates.
var demoCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"identities": runDemoIdentities,
	"facilities": runDemoFacilities,
	"activity":   runDemoActivity,
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, demoUsage)
		return nil
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, demoUsage)
		return nil
	}
	run, ok := demoCommands[args[0]]
	if !ok {
		fmt.Fprint(stderr, demoUsage)
		return &exitError{code: 2, msg: fmt.Sprintf("unknown demo kind %q", args[0])}
	}
	return run(ctx, args[1:], stdout, stderr)
}

func runDemoIdentities(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		n          int64
		seed       int64
		out, date  string
		truth      bool
		duplicates float64
	)
	s := newSettings("demo identities", "Write generated, fictitious identities of minors as CSV: codice_fiscale, surname,\ngiven_names, birth_date, sex, birth_place, citizenship (and person_id with --truth).\nThe same --seed and --date give the same file.")
	s.fs.SetOutput(stderr)
	s.int64(&n, "n", "", 1000, "number of records")
	s.int64(&seed, "seed", "", 1, "seed of the generator")
	s.str(&out, "out", "", "-", "output file, - for stdout", false)
	s.boolean(&truth, "truth", "", false, "add person_id, the ground truth: records of one minor share it")
	s.float(&duplicates, "duplicates", "", 0, "share of records, 0 to 1, that are variants of an earlier minor (typos, missing code…)")
	s.str(&date, "date", "", "", "reference date YYYY-MM-DD on which the minors have their ages", false)
	s.docs[len(s.docs)-1].def = "today"
	if err := s.parse(args); err != nil {
		return err
	}
	if n < 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("-n %d: not a number of records", n)}
	}
	if duplicates < 0 || duplicates > 1 {
		return &exitError{code: 2, msg: fmt.Sprintf("--duplicates %g: use 0 to 1", duplicates)}
	}
	var now time.Time
	if date != "" {
		d, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("--date %q: use YYYY-MM-DD", date)}
		}
		now = d
	}
	ms := demo.Identities(demo.Options{N: int(n), Seed: seed, Now: now, DuplicateRate: duplicates})
	if out == "-" || out == "" {
		return demo.WriteCSV(stdout, ms, truth)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := demo.WriteCSV(w, ms, truth); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(stderr, "wrote %d identities to %s\n", len(ms), out)
	return nil
}

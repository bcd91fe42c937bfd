package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/toscana/sirm/api"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/migrations"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
)

// demoActor is who the demo registry's versions and audit events name.
const demoActor = demo.Actor

func runDemoFacilities(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c            Config
		n, seed      int64
		date         string
		dryRun, more bool
	)
	s := newSettings("demo facilities", "Load a generated, fictitious registry of residential facilities for minors into the\n"+
		"database, through the registry's own workflow (create, submit, approve, and for a few\n"+
		"suspend or close), each step dated in the past and written to the access log. About 180\n"+
		"facilities, as Tuscany has, spread over the 28 zones by population and over the\n"+
		"typologies as in the ASSO-ASMI Report 2025. The same --seed and --date give the same\n"+
		"registry. It does nothing when the registry already holds facilities, so running it\n"+
		"again is safe; --add loads another batch anyway.")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.int64(&n, "n", "", 183, "number of facilities")
	s.int64(&seed, "seed", "", 1, "seed of the generator")
	s.str(&date, "date", "", "2025-06-30", "reference day YYYY-MM-DD: every date of the registry is before it", false)
	s.boolean(&dryRun, "dry-run", "", false, "print what would be loaded (counts by zone and typology) and touch no database")
	s.boolean(&more, "add", "", false, "load even when the registry already holds facilities")
	if err := s.parse(args); err != nil {
		return err
	}
	if n < 1 || n > 100_000 {
		return &exitError{code: 2, msg: fmt.Sprintf("-n %d: use 1 to 100000", n)}
	}
	ref, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("--date %q: use YYYY-MM-DD", date)}
	}
	codes, err := registry.LoadCodes()
	if err != nil {
		return err
	}
	fs := demo.Facilities(demo.FacilityOptions{N: int(n), Seed: seed, Now: ref}, codes)
	if dryRun {
		return summarise(stdout, fs)
	}

	if _, err := migrations.EnsureDatabase(ctx, c.DatabaseURL); err != nil {
		return err
	}
	if _, _, err := migrations.Up(ctx, c.DatabaseURL); err != nil {
		return err
	}
	db, err := pgdb.Open(ctx, c.DatabaseURL)
	if err != nil {
		return fmt.Errorf("%w (is PostgreSQL running? `make run` starts one)", err)
	}
	defer db.Close()
	clock := time.Now()
	svc, err := registry.NewService(registry.Config{Store: registrypg.New(db), Tx: db, Codes: codes, Now: func() time.Time { return clock }})
	if err != nil {
		return err
	}
	if !more {
		existing, _, err := svc.Search(ctx, registry.Query{Limit: 1, Visibility: registry.Visibility{All: true}})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			fmt.Fprintln(stdout, "the registry already holds facilities: nothing loaded (--add loads more)")
			return nil
		}
	}
	log := audit.NewService(auditpg.New(db))
	actions := map[registry.Change]api.Action{
		registry.ChangeCreate: api.ActionFacilitiesCreate, registry.ChangeSubmit: api.ActionFacilitiesSubmit,
		registry.ChangeApprove: api.ActionFacilitiesApprove, registry.ChangeSuspend: api.ActionFacilitiesSuspend,
		registry.ChangeClose: api.ActionFacilitiesClose,
	}
	hook := func(c registry.Change) registry.Hook {
		return func(ctx context.Context, f registry.Facility) error {
			id := f.ID.DraftRef()
			if f.Code != "" {
				id = string(f.Code)
			}
			_, err := log.Append(ctx, audit.Event{Actor: demoActor, Role: "admin", Org: "REGIONE", Action: string(actions[c]),
				ObjectType: "facility", ObjectID: id, Outcome: audit.OutcomeAllowed})
			return err
		}
	}
	if err := demo.LoadFacilities(ctx, svc, func(t time.Time) { clock = t }, fs, hook); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d demo facilities into %s\n", len(fs), redactURL(c.DatabaseURL))
	return summarise(stdout, fs)
}

// summarise prints the facilities and places by status, zone and typology.
func summarise(w io.Writer, fs []demo.Facility) error {
	type count struct{ facilities, places int }
	by := func(key func(demo.Facility) string) ([]string, map[string]count) {
		m := map[string]count{}
		for _, f := range fs {
			c := m[key(f)]
			c.facilities++
			c.places += f.Data.AuthorisedPlaces
			m[key(f)] = c
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, m
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, dim := range []struct {
		name string
		key  func(demo.Facility) string
	}{
		{"status", func(f demo.Facility) string { return string(f.Status) }},
		{"zone", func(f demo.Facility) string { return f.Data.Zone }},
		{"typology", func(f demo.Facility) string { return f.Data.Typology }},
	} {
		keys, m := by(dim.key)
		fmt.Fprintf(tw, "%s\tfacilities\tauthorised places\n", dim.name)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", k, m[k].facilities, m[k].places)
		}
	}
	return tw.Flush()
}

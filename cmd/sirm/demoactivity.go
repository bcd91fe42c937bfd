package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/api"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/migrations"
)

// runDemoActivity seeds case files and stays consistent with the demo
// registry: each generated minor is resolved by the service of a zone (its
// case file) and, for most, by the facility hosting it (its stay), through
// linkage and activity as the API would, audited.
func runDemoActivity(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c       Config
		n, seed int64
		more    bool
	)
	s := newSettings("demo activity", "Load generated, fictitious SINBA case files and ASMI stays for the demo registry: each\n"+
		"minor (the same generator as 'sirm demo identities') is tokenised by the service of a\n"+
		"zone, which opens its case file with interventions; most are then tokenised by an active\n"+
		"facility (mostly of the same zone, never beyond its authorised places), admitted, given\n"+
		"activities, and some discharged. Dates are in the past, relative to today. Everything\n"+
		"goes through linkage and activity and is written to the access log. Run 'sirm demo\n"+
		"facilities' first. It does nothing when case files exist, so running it again is safe;\n"+
		"--add loads another batch anyway.")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.environment(&c)
	s.keys(&c)
	s.linkage(&c)
	s.int64(&n, "n", "", 300, "number of minors")
	s.int64(&seed, "seed", "", 1, "seed of the generator")
	s.boolean(&more, "add", "", false, "load even when case files exist")
	if err := s.parse(args); err != nil {
		return err
	}
	if n < 1 || n > 100_000 {
		return &exitError{code: 2, msg: fmt.Sprintf("-n %d: use 1 to 100000", n)}
	}
	if _, err := migrations.EnsureDatabase(ctx, c.DatabaseURL); err != nil {
		return err
	}
	if _, _, err := migrations.Up(ctx, c.DatabaseURL); err != nil {
		return err
	}
	c.Keys.Env = c.Env
	env, err := openLinkage(ctx, &c)
	if err != nil {
		return err
	}
	defer env.Close()
	db, lk := env.db, env.lk
	if !more {
		var exists bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM activity.case_files)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			fmt.Fprintln(stdout, "activity already holds case files: nothing loaded (--add loads more)")
			return nil
		}
	}
	reg, act, err := env.newDomains(nil)
	if err != nil {
		return err
	}
	log := audit.NewService(auditpg.New(db))
	actions := map[demo.Step]struct {
		action     api.Action
		objectType string
	}{
		demo.StepResolve:   {api.ActionTokensResolve, "person"},
		demo.StepOpenCase:  {api.ActionCasesCreate, "case_file"},
		demo.StepCaseEntry: {api.ActionCasesUpdate, "case_file"},
		demo.StepCloseCase: {api.ActionCasesClose, "case_file"},
		demo.StepAdmit:     {api.ActionAdmissionsCreate, "stay"},
		demo.StepActivity:  {api.ActionAdmissionsActivity, "stay"},
		demo.StepDischarge: {api.ActionAdmissionsDischarge, "stay"},
	}
	sum, err := demo.LoadActivity(ctx, demo.ActivityEnv{Linkage: lk, Activity: act, Registry: reg, Actor: demoActor,
		Audit: func(ctx context.Context, step demo.Step, role, org string, p linkage.PersonID) error {
			a, ok := actions[step]
			if !ok {
				return fmt.Errorf("demo step %q has no action", step)
			}
			_, err := log.Append(ctx, audit.Event{Actor: demoActor, Role: role, Org: org, Action: string(a.action),
				ObjectType: a.objectType, PersonRef: lk.AuditRef(p), Outcome: audit.OutcomeAllowed})
			return err
		}}, demo.ActivityOptions{N: int(n), Seed: seed, Today: activity.Day(time.Now())})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d demo case files (%d closed, %d in foster care) and %d stays (%d discharged) into %s\n",
		sum.CaseFiles, sum.Closed, sum.FosterCare, sum.Stays, sum.Discharged, redactURL(c.DatabaseURL))
	if sum.Skipped > 0 {
		fmt.Fprintf(stdout, "%d generated identities were refused by the age policy and left out\n", sum.Skipped)
	}
	return nil
}

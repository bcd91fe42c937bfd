package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
	"github.com/toscana/sirm/api"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/audit/auditpg"
	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/migrations"
	"github.com/toscana/sirm/registry"
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
	var facilities []registry.Facility
	for after := registry.ID(0); ; {
		page, next, err := reg.Search(ctx, registry.Query{Status: registry.StatusActive, After: after, Limit: registry.MaxLimit,
			Visibility: registry.Visibility{All: true}})
		if err != nil {
			return err
		}
		facilities = append(facilities, page...)
		if next == 0 {
			break
		}
		after = next
	}
	if len(facilities) == 0 {
		return fmt.Errorf("the registry has no active facility: run 'sirm demo facilities' first")
	}
	occupied, _, err := reg.Occupied(ctx, facilities)
	if err != nil {
		return err
	}

	log := audit.NewService(auditpg.New(db))
	hookOf := func(role, org string, action api.Action, objectType string) activity.Hook {
		return func(ctx context.Context, p linkage.PersonID) error {
			_, err := log.Append(ctx, audit.Event{Actor: demoActor, Role: role, Org: org, Action: string(action),
				ObjectType: objectType, PersonRef: lk.AuditRef(p), Outcome: audit.OutcomeAllowed})
			return err
		}
	}
	resolve := func(domain, role string, id linkage.Identity) (linkage.PersonID, error) {
		rs, err := lk.Resolve(ctx, domain, []linkage.Identity{id}, func(ctx context.Context, rs []linkage.Result) error {
			for _, r := range rs {
				if r.Err == nil {
					if _, err := log.Append(ctx, audit.Event{Actor: demoActor, Role: role, Org: domain, Action: string(api.ActionTokensResolve),
						ObjectType: "person", PersonRef: lk.AuditRef(r.Person), Outcome: audit.OutcomeAllowed}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return linkage.PersonID{}, err
		}
		return rs[0].Person, rs[0].Err
	}

	today := activity.Day(time.Now())
	ms := demo.Identities(demo.Options{N: int(n), Seed: seed, Now: today})
	rng := rand.New(rand.NewPCG(uint64(seed), 6))
	zones := reg.Codes().Zones
	var files, stays, discharged, skipped int
	for i, m := range ms {
		f := facilities[rng.IntN(len(facilities))]
		// The first minors stay in the first active facility (ASSO-000001
		// in the demo registry, whose operator make run gives a token), so
		// that it has guests to show.
		first := i < 3
		if first {
			f = facilities[0]
		}
		zone := f.Data.Zone
		if rng.IntN(4) == 0 { // placed outside its own zone
			zone = zones[rng.IntN(len(zones))].Code
		}
		p, err := resolve(zone, "service_operator", m.Identity)
		if err != nil {
			skipped++ // an identity the policy refuses (too old): the demo moves on
			continue
		}
		rec := demoRecord(rng, m, today)
		opened := today.AddDate(0, 0, -30-rng.IntN(900))
		svc := activity.Actor{Subject: demoActor, Role: "service_operator", Org: zone}
		cf, err := act.OpenCase(ctx, svc, p, opened, rec, hookOf("service_operator", zone, api.ActionCasesCreate, "case_file"))
		if err != nil {
			return fmt.Errorf("minor %d: open case file: %w", i+1, err)
		}
		files++
		for range 1 + rng.IntN(3) {
			start := opened.AddDate(0, 0, rng.IntN(int(today.Sub(opened).Hours()/24)+1))
			e := activity.Entry{Kind: activity.EntryIntervention, Start: start,
				Codes: map[string]string{"code": sinba.CodicePrestazioneCodes.Codes[rng.IntN(len(sinba.CodicePrestazioneCodes.Codes))].Value}}
			if _, err := act.AddEntry(ctx, svc, cf.ID, e, hookOf("service_operator", zone, api.ActionCasesUpdate, "case_file")); err != nil {
				return fmt.Errorf("minor %d: intervention: %w", i+1, err)
			}
		}
		if (rng.IntN(100) >= 60 && !first) || occupied[f.ID] >= f.Data.AuthorisedPlaces {
			continue
		}
		org := string(f.Code)
		fp, err := resolve(org, "facility_operator", m.Identity)
		if err != nil {
			return fmt.Errorf("minor %d: facility token: %w", i+1, err)
		}
		fac := activity.Actor{Subject: demoActor, Role: "facility_operator", Org: org}
		admitted := opened.AddDate(0, 0, rng.IntN(int(today.Sub(opened).Hours()/24)+1))
		form := activity.FormConsensual
		if rng.IntN(3) > 0 {
			form = activity.FormJudicial
		}
		st, _, err := act.Admit(ctx, fac, fp, activity.Admission{Date: admitted, SendingZone: zone, Form: form,
			WithParent: rng.IntN(10) == 0, MSNA: m.Profile == demo.ProfileMSNA}, hookOf("facility_operator", org, api.ActionAdmissionsCreate, "stay"))
		if err != nil {
			return fmt.Errorf("minor %d: admission: %w", i+1, err)
		}
		stays++
		occupied[f.ID]++
		days := int(today.Sub(admitted).Hours() / 24)
		for range rng.IntN(4) {
			kind := activity.ActivityKinds[rng.IntN(len(activity.ActivityKinds))].Value
			a := activity.StayActivity{Kind: activity.ActivityKind(kind), Date: admitted.AddDate(0, 0, rng.IntN(days+1)), Fields: map[string]string{}}
			for _, spec := range activity.ActivityFields[a.Kind] {
				a.Fields[spec.Name] = demoCode(rng, spec.List)
			}
			if _, err := act.AddActivity(ctx, fac, st.ID, a, hookOf("facility_operator", org, api.ActionAdmissionsActivity, "stay")); err != nil {
				return fmt.Errorf("minor %d: activity: %w", i+1, err)
			}
		}
		if days > 30 && rng.IntN(3) == 0 && !first {
			on := admitted.AddDate(0, 0, 30+rng.IntN(days-29))
			outcome := sinba.EsitoInserimentoStruttura(strconv.Itoa(1 + rng.IntN(9)))
			if _, err := act.Discharge(ctx, fac, st.ID, on, outcome, hookOf("facility_operator", org, api.ActionAdmissionsDischarge, "stay")); err != nil {
				return fmt.Errorf("minor %d: discharge: %w", i+1, err)
			}
			discharged++
			occupied[f.ID]--
		}
	}
	fmt.Fprintf(stdout, "loaded %d demo case files and %d stays (%d discharged) into %s\n", files, stays, discharged, redactURL(c.DatabaseURL))
	if skipped > 0 {
		fmt.Fprintf(stdout, "%d generated identities were refused by the age policy and left out\n", skipped)
	}
	return nil
}

// demoCode picks a code of a list whose codes are not exported as a
// slice: the SINBA lists are, activity's own Codes too.
func demoCode(rng *rand.Rand, l activity.CodeList) string {
	switch l := l.(type) {
	case *sinba.CodeList:
		return l.Codes[rng.IntN(len(l.Codes))].Value
	case activity.Codes:
		return l[rng.IntN(len(l))].Value
	}
	return ""
}

// demoRecord is a valid SINBA record for minor m: its birth year, the
// unaccompanied-minor flag of its profile, no closure.
func demoRecord(rng *rand.Rand, m demo.Minor, today time.Time) sinba.Record {
	rec := sinbatest.Record(rng, "x", today)
	rec.MotivazioneChiusuraCarico, rec.SituazioneChiusuraCarico = nil, nil
	rec.MinoreStranieroNoAcc = "2"
	if m.Profile == demo.ProfileMSNA {
		rec.MinoreStranieroNoAcc = "1"
	}
	if b, err := time.Parse(time.DateOnly, m.Identity.BirthDate); err == nil {
		try := rec
		try.AnnoNascita = strconv.Itoa(b.Year())
		age := today.Year() - b.Year()
		try.FasciaEtaBeneficiario = sinba.FasciaEtaBeneficiario(strconv.Itoa(min(age/3+1, 6)))
		if try.Validate(today) == nil {
			rec = try
		}
	}
	rec.IDBeneficiario = ""
	return rec
}

package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// Step names what LoadActivity is doing when it calls ActivityEnv.Audit, so
// that the caller can log it under its own action names.
type Step string

// The steps of LoadActivity.
const (
	StepResolve   Step = "resolve"    // a service or facility tokenises the minor
	StepOpenCase  Step = "open_case"  // a service opens the case file
	StepCaseEntry Step = "case_entry" // an intervention or a foster-care period
	StepCloseCase Step = "close_case"
	StepAdmit     Step = "admit"
	StepActivity  Step = "activity" // an activity during a stay
	StepDischarge Step = "discharge"
)

// ActivityEnv is what LoadActivity works through: linkage and activity as
// the API uses them, the registry's active facilities, and the access log.
type ActivityEnv struct {
	Linkage  *linkage.Service
	Activity *activity.Service
	Registry *registry.Service
	// Actor is the subject the changes are recorded as.
	Actor string
	// Audit logs one step about person p by role in org. Required.
	Audit func(ctx context.Context, step Step, role, org string, p linkage.PersonID) error
}

// ActivityOptions size the generated activity.
type ActivityOptions struct {
	N     int   // minors
	Seed  int64 // of the generator
	Today time.Time
}

// ActivitySummary counts what LoadActivity wrote.
type ActivitySummary struct {
	CaseFiles, Closed, FosterCare, Stays, Discharged int
	// Skipped are generated identities the linkage policy refused (over
	// its age limit).
	Skipped int
}

// LoadActivity generates n minors (the generator of Identities) and, for
// each, as the services and facilities would through the API: a zone's
// service tokenises it and opens its case file with one to three
// interventions; about 40 % are then tokenised by an active facility
// (never beyond its authorised places: mostly of the same zone, a quarter
// sent from another zone), admitted, given activities, and about a third
// of those who stayed over a month discharged. Of the minors not admitted,
// about a third are in foster care (some periods ended) and about one in
// six files is closed. Dates are within the 930 days before Today. The
// first three minors stay in the first active facility (ASSO-000001 of the
// demo registry), so that it has guests to show.
func LoadActivity(ctx context.Context, env ActivityEnv, o ActivityOptions) (ActivitySummary, error) {
	var sum ActivitySummary
	var facilities []registry.Facility
	for after := registry.ID(0); ; {
		page, next, err := env.Registry.Search(ctx, registry.Query{Status: registry.StatusActive, After: after, Limit: registry.MaxLimit,
			Visibility: registry.Visibility{All: true}})
		if err != nil {
			return sum, err
		}
		facilities = append(facilities, page...)
		if next == 0 {
			break
		}
		after = next
	}
	if len(facilities) == 0 {
		return sum, fmt.Errorf("the registry has no active facility: load the demo facilities first")
	}
	occupied, _, err := env.Registry.Occupied(ctx, facilities)
	if err != nil {
		return sum, err
	}
	hook := func(step Step, role, org string) activity.Hook {
		return func(ctx context.Context, p linkage.PersonID) error { return env.Audit(ctx, step, role, org, p) }
	}
	resolve := func(domain, role string, id linkage.Identity) (linkage.PersonID, error) {
		rs, err := env.Linkage.Resolve(ctx, domain, []linkage.Identity{id}, func(ctx context.Context, rs []linkage.Result) error {
			for _, r := range rs {
				if r.Err == nil {
					if err := env.Audit(ctx, StepResolve, role, domain, r.Person); err != nil {
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
	days := func(from time.Time) int { return int(o.Today.Sub(from).Hours() / 24) }

	ms := Identities(Options{N: o.N, Seed: o.Seed, Now: o.Today})
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 6))
	zones := env.Registry.Codes().Zones
	for i, m := range ms {
		f := facilities[rng.IntN(len(facilities))]
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
			sum.Skipped++ // an identity the policy refuses (too old): the demo moves on
			continue
		}
		rec := record(rng, m, o.Today)
		opened := o.Today.AddDate(0, 0, -30-rng.IntN(900))
		svc := activity.Actor{Subject: env.Actor, Role: "service_operator", Org: zone}
		cf, err := env.Activity.OpenCase(ctx, svc, p, opened, rec, hook(StepOpenCase, "service_operator", zone))
		if err != nil {
			return sum, fmt.Errorf("minor %d: open case file: %w", i+1, err)
		}
		sum.CaseFiles++
		for range 1 + rng.IntN(3) {
			e := activity.Entry{Kind: activity.EntryIntervention, Start: opened.AddDate(0, 0, rng.IntN(days(opened)+1)),
				Codes: map[string]string{"code": sinba.CodicePrestazioneCodes.Codes[rng.IntN(len(sinba.CodicePrestazioneCodes.Codes))].Value}}
			if rng.IntN(4) == 0 {
				e.End = e.Start.AddDate(0, 0, rng.IntN(days(e.Start)+1))
			}
			if _, err := env.Activity.AddEntry(ctx, svc, cf.ID, e, hook(StepCaseEntry, "service_operator", zone)); err != nil {
				return sum, fmt.Errorf("minor %d: intervention: %w", i+1, err)
			}
		}
		if (rng.IntN(100) >= 60 && !first) || occupied[f.ID] >= f.Data.AuthorisedPlaces {
			if err := familyOrFosterCare(ctx, env, rng, svc, cf, o.Today, &sum, hook); err != nil {
				return sum, fmt.Errorf("minor %d: %w", i+1, err)
			}
			continue
		}
		org := string(f.Code)
		fp, err := resolve(org, "facility_operator", m.Identity)
		if err != nil {
			return sum, fmt.Errorf("minor %d: facility token: %w", i+1, err)
		}
		fac := activity.Actor{Subject: env.Actor, Role: "facility_operator", Org: org}
		admitted := opened.AddDate(0, 0, rng.IntN(days(opened)+1))
		form := activity.FormConsensual
		if rng.IntN(3) > 0 {
			form = activity.FormJudicial
		}
		st, _, err := env.Activity.Admit(ctx, fac, fp, activity.Admission{Date: admitted, SendingZone: zone, Form: form,
			WithParent: rng.IntN(10) == 0, MSNA: m.Profile == ProfileMSNA}, hook(StepAdmit, "facility_operator", org))
		if err != nil {
			return sum, fmt.Errorf("minor %d: admission: %w", i+1, err)
		}
		sum.Stays++
		occupied[f.ID]++
		stayed := days(admitted)
		for range rng.IntN(4) {
			kind := activity.ActivityKinds[rng.IntN(len(activity.ActivityKinds))].Value
			a := activity.StayActivity{Kind: activity.ActivityKind(kind), Date: admitted.AddDate(0, 0, rng.IntN(stayed+1)), Fields: map[string]string{}}
			for _, spec := range activity.ActivityFields[a.Kind] {
				a.Fields[spec.Name] = code(rng, spec.List)
			}
			if _, err := env.Activity.AddActivity(ctx, fac, st.ID, a, hook(StepActivity, "facility_operator", org)); err != nil {
				return sum, fmt.Errorf("minor %d: activity: %w", i+1, err)
			}
		}
		if stayed > 30 && rng.IntN(3) == 0 && !first {
			on := admitted.AddDate(0, 0, 30+rng.IntN(stayed-29))
			outcome := sinba.EsitoInserimentoStruttura(strconv.Itoa(1 + rng.IntN(9)))
			if _, err := env.Activity.Discharge(ctx, fac, st.ID, on, outcome, hook(StepDischarge, "facility_operator", org)); err != nil {
				return sum, fmt.Errorf("minor %d: discharge: %w", i+1, err)
			}
			sum.Discharged++
			occupied[f.ID]--
		}
	}
	return sum, nil
}

// familyOrFosterCare gives a minor not admitted to a facility a foster-care
// period (a third of them; a quarter of the periods ended), or closes the
// file of one in six.
func familyOrFosterCare(ctx context.Context, env ActivityEnv, rng *rand.Rand, svc activity.Actor, cf activity.CaseFile, today time.Time,
	sum *ActivitySummary, hook func(Step, string, string) activity.Hook) error {
	span := int(today.Sub(cf.Opened).Hours() / 24)
	switch k := rng.IntN(6); {
	case k < 2:
		e := activity.Entry{Kind: activity.EntryFosterCare, Start: cf.Opened.AddDate(0, 0, rng.IntN(span+1)),
			Codes: map[string]string{"form": strconv.Itoa(1 + rng.IntN(2)), "type": strconv.Itoa(1 + rng.IntN(2))}}
		if rng.IntN(4) == 0 {
			e.End = e.Start.AddDate(0, 0, rng.IntN(int(today.Sub(e.Start).Hours()/24)+1))
		}
		if _, err := env.Activity.AddEntry(ctx, svc, cf.ID, e, hook(StepCaseEntry, "service_operator", svc.Org)); err != nil {
			return fmt.Errorf("foster care: %w", err)
		}
		sum.FosterCare++
	case k == 2:
		// Recently, so that the file's entries fall before its closure.
		on := today.AddDate(0, 0, -rng.IntN(min(span, 60)+1))
		reason := sinba.MotivazioneChiusuraCaricoCodes.Codes[rng.IntN(len(sinba.MotivazioneChiusuraCaricoCodes.Codes))].Value
		if _, err := env.Activity.CloseCase(ctx, svc, cf.ID, on, activity.Closure{Reason: sinba.MotivazioneChiusuraCarico(reason)},
			hook(StepCloseCase, "service_operator", svc.Org)); err != nil {
			return fmt.Errorf("close case file: %w", err)
		}
		sum.Closed++
	}
	return nil
}

// code picks a code of a list.
func code(rng *rand.Rand, l activity.CodeList) string {
	switch l := l.(type) {
	case *sinba.CodeList:
		return l.Codes[rng.IntN(len(l.Codes))].Value
	case activity.Codes:
		return l[rng.IntN(len(l))].Value
	}
	return ""
}

// record is a valid SINBA record for minor m: its birth year, the
// unaccompanied-minor flag of its profile, no closure.
func record(rng *rand.Rand, m Minor, today time.Time) sinba.Record {
	rec := sinbatest.Record(rng, "x", today)
	rec.MotivazioneChiusuraCarico, rec.SituazioneChiusuraCarico = nil, nil
	rec.MinoreStranieroNoAcc = "2"
	if m.Profile == ProfileMSNA {
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

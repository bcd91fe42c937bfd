package linkagepg_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/linkage"
)

// Identities of the scenarios.
var (
	rossi = minor("Rossi", "Giulia", "2014-03-12", "F", "D612", "380") // born in Firenze
	// rossiRoma shares rossi's names, birth date and sex but was born in
	// Roma: another minor, with another valid codice fiscale.
	rossiRoma = minor("Rossi", "Giulia", "2014-03-12", "F", "H501", "380")
	// amrani is a foreign minor: first registered with a provisional code,
	// later with the definitive codice fiscale.
	amrani     = minor("El Amrani", "Youssef", "2010-04-05", "M", "Z330", "504")
	amraniProv = withCode(amrani, provisional("1234567012"))
	amraniPro2 = withCode(amrani, provisional("7654321012"))
)

func noCode(id linkage.Identity) linkage.Identity { return withCode(id, "") }

func typoSurname(id linkage.Identity, s string) linkage.Identity {
	id.Surname = s
	return id
}

// TestResolveScenarios resolves sequences of identities, each in a fresh
// database, and checks the status of each step and which earlier step's
// person it reached (same = -1: a person none of the earlier steps got).
func TestResolveScenarios(t *testing.T) {
	type step struct {
		id     linkage.Identity
		status linkage.Status
		same   int
	}
	const fresh = -1
	cases := []struct {
		name  string
		steps []step
	}{
		{"newIdentity", []step{
			{rossi, linkage.StatusNew, fresh},
		}},
		{"sameIdentityAgain", []step{
			{rossi, linkage.StatusNew, fresh},
			{rossi, linkage.StatusExisting, 0},
		}},
		{"omocodiaFormOfTheCF", []step{
			{rossi, linkage.StatusNew, fresh},
			{withCode(rossi, linkage.Omocodia(rossi.CodiceFiscale, 2)), linkage.StatusExisting, 0},
		}},
		{"cfArrivesLater", []step{
			{noCode(rossi), linkage.StatusNew, fresh},
			{rossi, linkage.StatusLinked, 0},
			// Only the codice fiscale reaches the person now: the typo'd
			// name is attached to it,
			{typoSurname(rossi, "Rosi"), linkage.StatusLinked, 0},
			// so that the same typo without the code reaches it too.
			{noCode(typoSurname(rossi, "Rosi")), linkage.StatusExisting, 0},
		}},
		{"twoCFsSameNamesAndDate", []step{
			{rossi, linkage.StatusNew, fresh},
			{rossiRoma, linkage.StatusNew, fresh},
			{rossi, linkage.StatusExisting, 0},
			{rossiRoma, linkage.StatusExisting, 1},
		}},
		{"twoCFsAfterNoCode", []step{
			{noCode(rossi), linkage.StatusNew, fresh},
			{rossi, linkage.StatusLinked, 0},
			{rossiRoma, linkage.StatusNew, fresh},
		}},
		{"provisionalThenCF", []step{
			{amraniProv, linkage.StatusNew, fresh},
			{amrani, linkage.StatusLinked, 0},
			{amraniProv, linkage.StatusExisting, 0},
			{amrani, linkage.StatusExisting, 0},
		}},
		{"cfThenProvisional", []step{
			{amrani, linkage.StatusNew, fresh},
			{amraniProv, linkage.StatusLinked, 0},
		}},
		{"twoProvisionalCodesSameNamesAndDate", []step{
			{amraniProv, linkage.StatusNew, fresh},
			{amraniPro2, linkage.StatusNew, fresh},
		}},
		{"provisionalThenCFThenOtherProvisional", []step{
			{amraniProv, linkage.StatusNew, fresh},
			{amrani, linkage.StatusLinked, 0},
			{amraniPro2, linkage.StatusNew, fresh},
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					svc, db := newService(t, be.prf(t))
					var got []linkage.Result
					for i, st := range tc.steps {
						r := resolveOne(t, svc, "FIORENTINA", st.id)
						assert.Equal(t, st.status, r.Status, "step %d", i)
						if st.same == fresh {
							for j, prev := range got {
								assert.NotEqual(t, prev.Person, r.Person, "step %d reached the person of step %d", i, j)
							}
						} else {
							assert.Equal(t, got[st.same].Person, r.Person, "step %d", i)
							assert.Equal(t, got[st.same].Token, r.Token, "step %d: same person, same token", i)
						}
						got = append(got, r)
					}
					persons := map[linkage.PersonID]bool{}
					for _, r := range got {
						persons[r.Person] = true
					}
					assert.Equal(t, len(persons), count(t, db, "linkage.persons"))
				})
			}
		})
	}
}

func TestResolveDomains(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	zone := resolveOne(t, svc, "FIORENTINA", rossi)
	facility := resolveOne(t, svc, "ASSO-000001", rossi)

	assert.Equal(t, linkage.StatusNew, zone.Status)
	assert.Equal(t, linkage.StatusExisting, facility.Status)
	assert.Equal(t, zone.Person, facility.Person, "one minor, one person")
	assert.NotEqual(t, zone.Token, facility.Token, "each domain its own token")
	assert.Equal(t, 1, count(t, db, "linkage.persons"))
	for _, tok := range []linkage.Token{zone.Token, facility.Token} {
		assert.LessOrEqual(t, len(tok.String()), 20)
		_, err := linkage.ParseToken(tok.String())
		assert.NoError(t, err)
	}

	for _, tc := range []struct {
		domain string
		own    linkage.Token
		other  linkage.Token
	}{
		{"FIORENTINA", zone.Token, facility.Token},
		{"ASSO-000001", facility.Token, zone.Token},
	} {
		p, err := svc.PersonOf(ctx, tc.domain, tc.own)
		require.NoError(t, err, tc.domain)
		assert.Equal(t, zone.Person, p)
		_, err = svc.FindToken(ctx, tc.domain, tc.other)
		assert.ErrorIs(t, err, linkage.ErrNotFound, "%s resolves the token of the other domain", tc.domain)
		_, err = svc.PersonOf(ctx, tc.domain, tc.other)
		assert.ErrorIs(t, err, linkage.ErrNotFound)
	}
}

func TestResolveBatch(t *testing.T) {
	svc, db := newService(t, newHMAC(t))
	badDate := rossi
	badDate.BirthDate = "2014-02-30"
	badCF := rossi
	badCF.CodiceFiscale = rossi.CodiceFiscale[:15] + "Z"
	if badCF.CodiceFiscale == rossi.CodiceFiscale {
		badCF.CodiceFiscale = rossi.CodiceFiscale[:15] + "Y"
	}
	batch := []linkage.Identity{
		rossi,         // 0
		badDate,       // 1
		amrani,        // 2
		rossi,         // 3: duplicate of 0
		badCF,         // 4
		noCode(rossi), // 5: same minor, without the code
	}
	rs, err := svc.Resolve(context.Background(), "FIORENTINA", batch, nil)
	require.NoError(t, err)
	require.Len(t, rs, len(batch))
	for i, r := range rs {
		assert.Equal(t, i, r.Index)
	}
	for _, tc := range []struct {
		i     int
		field string
	}{{1, "birth_date"}, {4, "codice_fiscale"}} {
		var ve *linkage.ValidationError
		if assert.ErrorAs(t, rs[tc.i].Err, &ve, "item %d", tc.i) {
			require.Len(t, ve.Fields, 1)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
		}
		assert.True(t, rs[tc.i].Person.IsZero())
		assert.True(t, rs[tc.i].Token.IsZero())
	}
	for _, i := range []int{0, 2, 3, 5} {
		assert.NoError(t, rs[i].Err, "item %d", i)
		assert.False(t, rs[i].Token.IsZero(), "item %d", i)
	}
	assert.Equal(t, linkage.StatusNew, rs[0].Status)
	assert.Equal(t, linkage.StatusNew, rs[2].Status)
	assert.NotEqual(t, rs[0].Person, rs[2].Person)
	for _, i := range []int{3, 5} {
		assert.Equal(t, rs[0].Person, rs[i].Person, "item %d", i)
		assert.Equal(t, rs[0].Token, rs[i].Token, "item %d", i)
	}
	assert.Equal(t, 2, count(t, db, "linkage.persons"))
	assert.Equal(t, 2, count(t, db, "linkage.tokens"))
}

// TestResolveInvalidWritesNothing: a batch of invalid identities leaves
// every linkage table as it was, with or without a hook, in a domain that
// has no token key yet.
func TestResolveInvalidWritesNothing(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	resolveOne(t, svc, "FIORENTINA", rossi)
	require.NoError(t, svc.PinBackend(ctx))

	noSex := rossi
	noSex.Sex = ""
	future := amrani
	future.BirthDate = "2030-01-01"
	disagrees := rossi
	disagrees.BirthDate = "2014-03-13"
	bad := []linkage.Identity{noSex, future, disagrees, {}}

	before := counts(t, db)
	for _, hook := range []struct {
		name string
		fn   linkage.Hook
	}{
		{"noHook", nil},
		{"hook", func(context.Context, []linkage.Result) error { return nil }},
	} {
		t.Run(hook.name, func(t *testing.T) {
			rs, err := svc.Resolve(ctx, "ASSO-000042", bad, hook.fn)
			require.NoError(t, err)
			for i, r := range rs {
				var ve *linkage.ValidationError
				assert.ErrorAs(t, r.Err, &ve, "item %d", i)
			}
			assert.Equal(t, before, counts(t, db))
		})
	}
}

// TestResolveHookError: a failing hook rolls the whole resolution back.
func TestResolveHookError(t *testing.T) {
	svc, db := newService(t, newHMAC(t))
	boom := errors.New("audit failed")
	before := counts(t, db)
	_, err := svc.Resolve(context.Background(), "FIORENTINA", []linkage.Identity{rossi, amrani},
		func(context.Context, []linkage.Result) error { return boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, before, counts(t, db))
}

func TestTokenKeyRotation(t *testing.T) {
	ctx := context.Background()
	const domain = "FIORENTINA"
	svc, _ := newService(t, newHMAC(t))
	old := resolveOne(t, svc, domain, rossi)
	other := resolveOne(t, svc, "ASSO-000001", rossi)

	v, err := svc.RotateTokenKey(ctx, domain)
	require.NoError(t, err)
	assert.Equal(t, 2, v.Version)

	cur := resolveOne(t, svc, domain, rossi)
	assert.Equal(t, old.Person, cur.Person)
	assert.NotEqual(t, old.Token, cur.Token, "a new key version issues a new token")

	info, err := svc.FindToken(ctx, domain, old.Token)
	require.NoError(t, err)
	assert.Equal(t, 1, info.KeyVersion)
	assert.False(t, info.Retired)
	p, err := svc.PersonOf(ctx, domain, old.Token)
	require.NoError(t, err, "an old token resolves until retired")
	assert.Equal(t, old.Person, p)
	info, err = svc.FindToken(ctx, domain, cur.Token)
	require.NoError(t, err)
	assert.Equal(t, 2, info.KeyVersion)

	n, err := svc.RetireTokenKeys(ctx, domain)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	info, err = svc.FindToken(ctx, domain, old.Token)
	require.NoError(t, err)
	assert.True(t, info.Retired)
	_, err = svc.PersonOf(ctx, domain, old.Token)
	assert.ErrorIs(t, err, linkage.ErrNotFound, "a retired token does not resolve")
	p, err = svc.PersonOf(ctx, domain, cur.Token)
	require.NoError(t, err)
	assert.Equal(t, old.Person, p)
	assert.Equal(t, cur.Token, resolveOne(t, svc, domain, rossi).Token)

	// Another domain's key is untouched.
	p, err = svc.PersonOf(ctx, "ASSO-000001", other.Token)
	require.NoError(t, err)
	assert.Equal(t, old.Person, p)

	vs, err := svc.TokenKeyVersions(ctx, domain)
	require.NoError(t, err)
	require.Len(t, vs, 2)
	assert.True(t, vs[0].Retired)
	assert.False(t, vs[1].Retired)
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	known := resolveOne(t, svc, "FIORENTINA", rossi)

	before := counts(t, db)
	for _, tc := range []struct {
		name string
		id   linkage.Identity
	}{
		{"byCF", rossi},
		{"byNameAndDate", noCode(rossi)},
		{"byCFWithATypo", typoSurname(rossi, "Rosi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := svc.Lookup(ctx, "FIORENTINA", tc.id, nil)
			require.NoError(t, err)
			assert.Equal(t, known.Person, r.Person)
			assert.Equal(t, known.Token, r.Token)
			assert.Equal(t, linkage.StatusExisting, r.Status)
		})
	}
	for _, tc := range []struct {
		name string
		id   linkage.Identity
	}{
		{"unknownMinor", amrani},
		{"unknownWithoutCode", noCode(amrani)},
		{"otherCFSameNamesAndDate", rossiRoma},
		{"typoWithoutCode", noCode(typoSurname(rossi, "Rosi"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Lookup(ctx, "FIORENTINA", tc.id, nil)
			assert.ErrorIs(t, err, linkage.ErrNotFound)
		})
	}
	assert.Equal(t, before, counts(t, db), "Lookup creates nothing")

	bad := rossi
	bad.Sex = "Q"
	_, err := svc.Lookup(ctx, "FIORENTINA", bad, nil)
	var ve *linkage.ValidationError
	assert.ErrorAs(t, err, &ve)

	// In a domain the person has no token in yet, Lookup records the
	// derived token (so that it resolves) but still no person or key.
	r, err := svc.Lookup(ctx, "ASSO-000001", rossi, nil)
	require.NoError(t, err)
	p, err := svc.PersonOf(ctx, "ASSO-000001", r.Token)
	require.NoError(t, err)
	assert.Equal(t, known.Person, p)
	after := counts(t, db)
	for _, table := range []string{"linkage.persons", "linkage.match_keys", "linkage.blocking_keys"} {
		assert.Equal(t, before[table], after[table], table)
	}
}

func TestPinBackend(t *testing.T) {
	ctx := context.Background()
	first := newHMAC(t)
	svc, db := newService(t, first)
	require.NoError(t, svc.PinBackend(ctx), "first start records")
	require.NoError(t, svc.PinBackend(ctx), "same backend again")
	require.NoError(t, serviceOn(t, db, newHMAC(t)).PinBackend(ctx), "same key, another instance")

	otherKey, err := linkage.NewHMAC(hmacKey2)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		prf  linkage.PRF
	}{
		{"otherKey", otherKey},
		{"otherBackend", newOPRF(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := serviceOn(t, db, tc.prf).PinBackend(ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), first.Fingerprint())
			assert.Contains(t, err.Error(), tc.prf.Fingerprint())
			assert.Contains(t, err.Error(), `"`+first.Backend()+`"`)
			assert.Contains(t, err.Error(), `"`+tc.prf.Backend()+`"`)
		})
	}
	assert.Equal(t, 1, count(t, db, "linkage.deployment"))
	require.NoError(t, svc.PinBackend(ctx), "the pin did not change")
}

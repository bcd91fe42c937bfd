package linkagepg_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
)

// Fixed keys: tests and benchmarks are reproducible, and a digest that
// appears in a dump is the same on every run.
var (
	hmacKey    = bytes.Repeat([]byte{0x42}, linkage.MinHMACKeySize)
	hmacKey2   = bytes.Repeat([]byte{0x43}, linkage.MinHMACKeySize)
	oprfSeed   = bytes.Repeat([]byte{0x07}, linkage.OPRFSeedSize)
	tokenSeed  = bytes.Repeat([]byte{0x17}, linkage.MinTokenMasterSize)
	masters    = map[int][]byte{1: tokenSeed}
	refNow     = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC) // before any test run: no birth date equals a created_at date
	testPolicy = linkage.Policy{MaxAgeYears: 21, Now: func() time.Time { return refNow }}
)

// linkageTables are every table of migration 002.
var linkageTables = []string{
	"linkage.deployment", "linkage.persons", "linkage.match_keys",
	"linkage.blocking_keys", "linkage.token_keys", "linkage.tokens",
}

func newHMAC(t testing.TB) linkage.PRF {
	t.Helper()
	p, err := linkage.NewHMAC(hmacKey)
	require.NoError(t, err)
	return p
}

func newOPRF(t testing.TB) linkage.PRF {
	t.Helper()
	p, err := linkage.NewOPRF(oprfSeed)
	require.NoError(t, err)
	return p
}

// backends are the PRFs the key scenarios run with.
var backends = []struct {
	name string
	prf  func(testing.TB) linkage.PRF
}{
	{linkage.BackendHMAC, newHMAC},
	{linkage.BackendOPRF, newOPRF},
}

// newService returns a Service on a fresh, migrated database.
func newService(t testing.TB, prf linkage.PRF) (*linkage.Service, *pgdb.DB) {
	t.Helper()
	db := pgtest.DB(t)
	return serviceOn(t, db, prf), db
}

func serviceOn(t testing.TB, db *pgdb.DB, prf linkage.PRF) *linkage.Service {
	t.Helper()
	svc, err := linkage.NewService(linkage.Config{
		Store: linkagepg.New(db), Tx: db, PRF: prf,
		TokenMasters: masters, Policy: testPolicy,
	})
	require.NoError(t, err)
	return svc
}

// resolveOne resolves one identity that must be valid.
func resolveOne(t testing.TB, svc *linkage.Service, domain string, id linkage.Identity) linkage.Result {
	t.Helper()
	rs, err := svc.Resolve(context.Background(), domain, []linkage.Identity{id}, nil)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.NoError(t, rs[0].Err)
	return rs[0]
}

func count(t testing.TB, db *pgdb.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// counts returns the row count of every linkage table.
func counts(t testing.TB, db *pgdb.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range linkageTables {
		out[table] = count(t, db, table)
	}
	return out
}

// minor is an identity with the codice fiscale its fields give (place must
// be a Belfiore code).
func minor(surname, given, date, sex, place, citizenship string) linkage.Identity {
	b, err := time.Parse(time.DateOnly, date)
	if err != nil {
		panic(err) // a typo in a test table
	}
	return linkage.Identity{
		CodiceFiscale: linkage.ComputeCF(surname, given, b, sex, place),
		Surname:       surname, GivenNames: given, BirthDate: date, Sex: sex,
		BirthPlace: place, Citizenship: citizenship,
	}
}

// provisional returns the 11-digit provisional code of 10 digits: the
// partita IVA check digit, computed here independently of linkage.
func provisional(d10 string) string {
	if len(d10) != 10 {
		panic("provisional: want 10 digits")
	}
	sum := 0
	for i := range 10 {
		v := int(d10[i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return fmt.Sprintf("%s%d", d10, (10-sum%10)%10)
}

func withCode(id linkage.Identity, code string) linkage.Identity {
	id.CodiceFiscale = code
	return id
}

package linkagepg_test

import (
	"context"
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/linkage"
)

// febrlRecords reads a FEBRL 4 file (rec-N-org in A pairs with
// rec-N-dup-0 in B) as identities: given name, surname, date of birth,
// postcode (left-padded to 5 digits) and suburb as residence, sex
// unknown. The truth of a record is its rec-N.
func febrlRecords(t testing.TB, name string) (truth []string, ids []linkage.Identity) {
	t.Helper()
	f, err := os.Open("../../../shared/data/febrl/" + name)
	if err != nil {
		t.Skipf("FEBRL 4 not available: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	require.NoError(t, err)
	for _, row := range rows[1:] {
		dob := row[9]
		if len(dob) == 8 {
			dob = dob[:4] + "-" + dob[4:6] + "-" + dob[6:]
		}
		pc := row[7]
		if pc != "" && len(pc) < 5 {
			pc = strings.Repeat("0", 5-len(pc)) + pc
		}
		truth = append(truth, strings.TrimSuffix(strings.TrimSuffix(row[0], "-org"), "-dup-0"))
		ids = append(ids, linkage.Identity{GivenNames: row[1], Surname: row[2], BirthDate: dob, Sex: "X",
			Residence: linkage.Residence{Postcode: pc, Locality: row[6]}})
	}
	return truth, ids
}

// TestFEBRL4 resolves FEBRL 4 A then B through the Service with fuzzy
// matching on and logs precision and recall of the automatic links and
// the recall including the review queue. It asserts no floor: the
// benchmark command does; this is the quick measurement behind the
// default thresholds.
func TestFEBRL4(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	ctx := context.Background()
	svc, db := newFuzzyService(t, linkage.Policy{})
	truthA, idsA := febrlRecords(t, "dataset4a.csv")
	truthB, idsB := febrlRecords(t, "dataset4b.csv")
	resolve := func(ids []linkage.Identity) ([]linkage.Result, int) {
		var out []linkage.Result
		invalid := 0
		for start := 0; start < len(ids); start += 1000 {
			rs, err := svc.Resolve(ctx, "FEBRL", ids[start:min(start+1000, len(ids))], nil)
			require.NoError(t, err)
			for _, r := range rs {
				if r.Err != nil {
					invalid++
				}
			}
			out = append(out, rs...)
		}
		return out, invalid
	}
	ra, badA := resolve(idsA)
	rb, badB := resolve(idsB)
	personOfA := map[string]linkage.PersonID{}
	truthOf := map[linkage.PersonID]string{}
	for i, r := range ra {
		if r.Err == nil {
			personOfA[truthA[i]] = r.Person
			truthOf[r.Person] = truthA[i]
		}
	}
	// Reviews by tentative person: the candidates it may be.
	reviews := map[[16]byte][][16]byte{}
	rows, err := db.Pool.Query(ctx, `SELECT person_b, person_a FROM linkage.reviews`)
	require.NoError(t, err)
	for rows.Next() {
		var a, b [16]byte
		require.NoError(t, rows.Scan(&b, &a))
		reviews[b] = append(reviews[b], a)
	}
	require.NoError(t, rows.Err())
	var tp, fp, inReview int
	for i, r := range rb {
		if r.Err != nil {
			continue
		}
		want, ok := personOfA[truthB[i]]
		switch {
		case r.Status != linkage.StatusNew && r.Person == want && ok:
			tp++
		case r.Status != linkage.StatusNew:
			fp++
		case ok:
			var p [16]byte
			copy(p[:], r.Person.Bytes())
			for _, a := range reviews[p] {
				var w [16]byte
				copy(w[:], want.Bytes())
				if a == w {
					inReview++
				}
			}
		}
	}
	const pairs = 5000
	t.Logf("FEBRL 4: invalid A %d, B %d (Normalize rejects them); reviews %d", badA, badB, count(t, db, "linkage.reviews"))
	t.Logf("automatic links: %d right, %d wrong: precision %.4f, recall %.4f of %d pairs",
		tp, fp, float64(tp)/float64(max(1, tp+fp)), float64(tp)/pairs, pairs)
	t.Logf("recall including review: %.4f", float64(tp+inReview)/pairs)
}

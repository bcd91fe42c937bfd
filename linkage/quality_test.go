package linkage_test

import (
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/linkage"
)

// febrlDir holds FEBRL 4 (dataset4a.csv, dataset4b.csv) when the shared
// data are present.
const febrlDir = "../../shared/data/febrl"

// labelled is an identity with its ground truth: records of one person
// share truth.
type labelled struct {
	truth string
	id    linkage.Identity
}

// readFEBRL reads a FEBRL 4 file as identities: given name, surname,
// date of birth, postcode (left-padded to the 5 digits of an Italian CAP)
// and suburb as residence, sex unknown. rec-N-org and rec-N-dup-0 share
// truth rec-N.
func readFEBRL(t testing.TB, name string) []labelled {
	t.Helper()
	f, err := os.Open(febrlDir + "/" + name)
	if err != nil {
		t.Skipf("FEBRL 4 not available: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	require.NoError(t, err)
	var out []labelled
	for _, row := range rows[1:] {
		id := strings.TrimSuffix(strings.TrimSuffix(row[0], "-org"), "-dup-0")
		dob := row[9]
		if len(dob) == 8 {
			dob = dob[:4] + "-" + dob[4:6] + "-" + dob[6:]
		}
		pc := row[7]
		if pc != "" && len(pc) < 5 {
			pc = strings.Repeat("0", 5-len(pc)) + pc
		}
		out = append(out, labelled{truth: id, id: linkage.Identity{
			GivenNames: row[1], Surname: row[2], BirthDate: dob, Sex: "X",
			Residence: linkage.Residence{Postcode: pc, Locality: row[6]},
		}})
	}
	return out
}

// sweep resolves recs in order in memory, as the Service does (exact NDS
// first, else the best-scoring earlier record sharing a weak key, never
// one with another code of the same kind), and logs precision and recall
// of the fuzzy links per threshold, and the highest scores of wrong
// candidates.
func sweep(t *testing.T, recs []labelled, policy linkage.Policy) {
	enc, err := linkage.NewBloomEncoder([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	type entry struct {
		truth string
		enc   linkage.Encoding
		sex   string
		cf    string
	}
	type event struct {
		score    float64
		right    bool
		hasTrue  bool
		conflict bool
		blocked  bool    // a true candidate shares a weak key
		trueBest float64 // best score of a true candidate
		rank     int     // how many wrong candidates score above trueBest
	}
	var (
		entries        []entry
		events         []event
		wrong          []float64
		invalid        int
		maxCands       int
		sumCands       int
		exact, exactOK int
		index          = map[string][]int{}
		seen           = map[string]bool{}
	)
	for _, r := range recs {
		n, err := linkage.Normalize(r.id, policy)
		if err != nil {
			invalid++
			continue
		}
		e := enc.Encode(n)
		kvs := n.KeyValues()
		var kinds []linkage.KeyKind
		shared := map[int][]linkage.KeyKind{}
		ndsHit := -1
		for _, kv := range kvs {
			k := string(kv.Kind) + "|" + kv.Value
			switch {
			case kv.Kind == linkage.KindNDS:
				if c := index[k]; len(c) > 0 {
					ndsHit = c[0]
				}
			case !kv.Kind.Strong():
				if !slices.Contains(kinds, kv.Kind) {
					kinds = append(kinds, kv.Kind)
				}
				for _, c := range index[k] {
					if !slices.Contains(shared[c], kv.Kind) {
						shared[c] = append(shared[c], kv.Kind)
					}
				}
			}
		}
		if ndsHit >= 0 && (n.CF == "" || entries[ndsHit].cf == "" || entries[ndsHit].cf == n.CF) {
			exact++
			if entries[ndsHit].truth == r.truth {
				exactOK++
			}
		} else {
			ev := event{score: -1, hasTrue: seen[r.truth], trueBest: -1}
			maxCands = max(maxCands, len(shared))
			sumCands += len(shared)
			var wrongHere []float64
			for c, ks := range shared {
				s, _ := linkage.Score(&e, &entries[c].enc, kinds, ks, n.Sex, entries[c].sex)
				conflict := n.CF != "" && entries[c].cf != "" && entries[c].cf != n.CF
				if entries[c].truth != r.truth {
					wrong = append(wrong, s)
					wrongHere = append(wrongHere, s)
				} else {
					ev.blocked = true
					ev.trueBest = max(ev.trueBest, s)
				}
				if s > ev.score {
					ev.score, ev.right, ev.conflict = s, entries[c].truth == r.truth, conflict
				}
			}
			for _, w := range wrongHere {
				if w > ev.trueBest {
					ev.rank++
				}
			}
			events = append(events, ev)
		}
		seen[r.truth] = true
		entries = append(entries, entry{truth: r.truth, enc: e, sex: n.Sex, cf: n.CF})
		for _, kv := range kvs {
			k := string(kv.Kind) + "|" + kv.Value
			index[k] = append(index[k], len(entries)-1)
		}
	}
	need, blocked, reviewed := 0, 0, 0
	for _, ev := range events {
		if ev.hasTrue {
			need++
		}
		if ev.blocked {
			blocked++
			// Reviews go to the best three candidates above the floor.
			if ev.trueBest >= linkage.DefaultReviewThreshold && ev.rank < 3 {
				reviewed++
			}
		}
	}
	for _, floor := range []float64{0.40, 0.45, 0.50, 0.55} {
		n := 0
		for _, ev := range events {
			if ev.blocked && ev.trueBest >= floor && ev.rank < 3 {
				n++
			}
		}
		t.Logf("review floor %.2f: recall incl. review %.4f", floor, float64(n)/float64(max(1, need)))
	}
	t.Logf("%d records, %d invalid, %d exact links (%d right), %d need fuzzy matching", len(recs), invalid, exact, exactOK, need)
	t.Logf("blocking recall %.4f, recall incl. review (auto %.2f, review %.2f) %.4f; candidates per fuzzy identity: mean %.1f, max %d",
		float64(blocked)/float64(max(1, need)), linkage.DefaultAutoThreshold, linkage.DefaultReviewThreshold,
		float64(reviewed)/float64(max(1, need)), float64(sumCands)/float64(max(1, len(events))), maxCands)
	for th := 0.50; th <= 0.9001; th += 0.025 {
		tp, fp := 0, 0
		for _, ev := range events {
			if ev.score >= th && !ev.conflict {
				if ev.right {
					tp++
				} else {
					fp++
				}
			}
		}
		t.Logf("threshold %.3f: fuzzy links %5d  precision %.4f  recall %.4f", th, tp+fp,
			float64(tp)/float64(max(1, tp+fp)), float64(tp)/float64(max(1, need)))
	}
	slices.Sort(wrong)
	slices.Reverse(wrong)
	t.Logf("highest scores of wrong candidates: %.3f", wrong[:min(len(wrong), 15)])
}

// TestScoreSweepFEBRL is the measurement behind the default thresholds on
// FEBRL 4: A then B.
func TestScoreSweepFEBRL(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	sweep(t, append(readFEBRL(t, "dataset4a.csv"), readFEBRL(t, "dataset4b.csv")...), linkage.Policy{})
}

// TestScoreSweepDemo is the same on the demo generator's minors, with
// variants, twins and siblings.
func TestScoreSweepDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	o := demo.Options{N: 20000, Seed: 11, Now: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), DuplicateRate: 0.3, TwinRate: 0.05}
	var recs []labelled
	for _, m := range demo.Identities(o) {
		recs = append(recs, labelled{truth: string(rune(m.PersonID)), id: m.Identity})
	}
	sweep(t, recs, demo.Policy(o))
}

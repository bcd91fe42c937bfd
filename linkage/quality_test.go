package linkage_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/demo"
	"github.com/toscana/sirm/internal/linkbench"
	"github.com/toscana/sirm/linkage"
)

// febrlDir holds FEBRL 4 (dataset4a.csv, dataset4b.csv).
const febrlDir = "../internal/linkbench/testdata/febrl"

// labelled is an identity with its ground truth: records of one person
// share truth.
type labelled struct {
	truth string
	id    linkage.Identity
}

// sweep resolves recs in order in memory, as the Service does (exact NDS
// first, else the best-scoring earlier record sharing a weak key, never
// one with another code of the same kind), logs precision and recall of
// the fuzzy links per threshold, and returns the precision of the fuzzy
// links at the default automatic threshold and the highest score of a
// wrong candidate.
func sweep(t *testing.T, recs []labelled, policy linkage.Policy) (precisionAtAuto, maxWrong float64) {
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
	precisionAt := func(th float64) (links int, precision, recall float64) {
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
		return tp + fp, float64(tp) / float64(max(1, tp+fp)), float64(tp) / float64(max(1, need))
	}
	for th := 0.50; th <= 0.9001; th += 0.025 {
		links, p, r := precisionAt(th)
		t.Logf("threshold %.3f: fuzzy links %5d  precision %.4f  recall %.4f", th, links, p, r)
	}
	slices.Sort(wrong)
	slices.Reverse(wrong)
	t.Logf("highest scores of wrong candidates: %.3f", wrong[:min(len(wrong), 15)])
	_, precisionAtAuto, _ = precisionAt(linkage.DefaultAutoThreshold)
	if len(wrong) > 0 {
		maxWrong = wrong[0]
	}
	return precisionAtAuto, maxWrong
}

// TestScoreSweepFEBRL is the measurement behind the default thresholds on
// FEBRL 4 (A then B), loaded as the benchmark command loads it.
func TestScoreSweepFEBRL(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	ds, err := linkbench.LoadFEBRL4(febrlDir+"/dataset4a.csv", febrlDir+"/dataset4b.csv")
	require.NoError(t, err)
	recs := make([]labelled, len(ds.Records))
	for i, r := range ds.Records {
		recs[i] = labelled{truth: r.Truth, id: r.Identity}
	}
	_, maxWrong := sweep(t, recs, ds.Policy)
	// On FEBRL no wrong candidate may come near an automatic link.
	assert.Less(t, maxWrong, linkage.DefaultAutoThreshold, "a wrong FEBRL candidate scores as high as an automatic link")
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
		recs = append(recs, labelled{truth: strconv.Itoa(m.PersonID), id: m.Identity})
	}
	precision, _ := sweep(t, recs, demo.Policy(o))
	// Namesakes, twins and siblings abound here: the automatic links must
	// still be right.
	assert.GreaterOrEqual(t, precision, 0.998, "precision of the fuzzy links at the automatic threshold")
}

package linkagepg_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
)

// Identities of the merge tests: three minors nothing links.
var (
	bianchi = minor("Bianchi", "Marco", "2012-07-01", "M", "G702", "380") // Pisa
	verdi   = minor("Verdi", "Anna", "2015-11-23", "F", "L219", "380")    // Torino
)

// dumpTables returns every row of every table of schema linkage but the
// merge history, each table ordered by its primary key (its whole row for
// a table without one), as text.
func dumpTables(t *testing.T, db *pgdb.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	const tablesSQL = `
SELECT c.relname,
       coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
                 FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid AND i.indisprimary), '1')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'linkage' AND c.relkind = 'r' AND c.relname NOT IN ('merges', 'merge_events') ORDER BY 1`
	rows, err := db.Pool.Query(ctx, tablesSQL)
	require.NoError(t, err)
	type table struct{ name, pk string }
	var tables []table
	for rows.Next() {
		var tb table
		require.NoError(t, rows.Scan(&tb.name, &tb.pk))
		tables = append(tables, tb)
	}
	require.NoError(t, rows.Err())
	out := map[string][]string{}
	for _, tb := range tables {
		q := "SELECT t::text FROM linkage." + tb.name + " t ORDER BY " + tb.pk + ", t::text"
		rows, err := db.Pool.Query(ctx, q)
		require.NoError(t, err, q)
		var lines []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			lines = append(lines, s)
		}
		require.NoError(t, rows.Err())
		out[tb.name] = lines
	}
	for _, must := range []string{"persons", "match_keys", "blocking_keys", "tokens", "token_keys"} {
		require.NotEmpty(t, out[must], "linkage.%s is empty: the dump would prove nothing", must)
	}
	return out
}

// insertReview opens a possible match of a and b, as resolution would.
func insertReview(t *testing.T, db *pgdb.DB, a, b linkage.PersonID, evidence string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`INSERT INTO linkage.reviews (person_a, person_b, score, evidence) VALUES ($1, $2, 0.8, $3) RETURNING id`,
		a.Bytes(), b.Bytes(), evidence).Scan(&id))
	return id
}

type eventLog struct {
	mu  sync.Mutex
	evs []linkage.MergeEvent
}

func (l *eventLog) add(e linkage.MergeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

func (l *eventLog) all() []linkage.MergeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]linkage.MergeEvent(nil), l.evs...)
}

// TestMergeThenUndoRestoresEverything merges two persons holding tokens in
// two domains, checks that everything of either reaches the survivor, then
// undoes the merge and compares full dumps of every table.
func TestMergeThenUndoRestoresEverything(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	var events eventLog
	svc.Subscribe(events.add)

	a1 := resolveOne(t, svc, "Z1", rossi)
	a2 := resolveOne(t, svc, "Z2", rossi)
	b1 := resolveOne(t, svc, "Z1", bianchi)
	b2 := resolveOne(t, svc, "Z2", bianchi)
	require.NotEqual(t, a1.Person, b1.Person)
	review := insertReview(t, db, a1.Person, b1.Person, `{"similarity":{"surname":0.5}}`)
	before := dumpTables(t, db)

	d, err := svc.Decide(ctx, review, linkage.DecisionSame, "steward-1", nil)
	require.NoError(t, err)
	require.NotZero(t, d.Merge.ID)
	assert.Equal(t, a1.Person, d.Merge.Survivor)
	assert.Equal(t, b1.Person, d.Merge.Absorbed)
	assert.NotEqual(t, before, dumpTables(t, db), "the merge changed nothing")

	for _, r := range []struct {
		domain string
		tok    linkage.Token
	}{{"Z1", a1.Token}, {"Z2", a2.Token}, {"Z1", b1.Token}, {"Z2", b2.Token}} {
		p, err := svc.PersonOf(ctx, r.domain, r.tok)
		require.NoError(t, err)
		assert.Equal(t, a1.Person, p, "a token of either person reaches the survivor")
	}
	cur, err := svc.CurrentPerson(ctx, b1.Person)
	require.NoError(t, err)
	assert.Equal(t, a1.Person, cur)

	require.NoError(t, svc.Undo(ctx, d.Merge.ID, "steward-2"))
	assert.Equal(t, before, dumpTables(t, db), "undo must restore every row exactly")
	p, err := svc.PersonOf(ctx, "Z1", b1.Token)
	require.NoError(t, err)
	assert.Equal(t, b1.Person, p)

	got := events.all()
	require.Len(t, got, 2)
	for i, want := range []linkage.MergeEventKind{linkage.MergeEventMerge, linkage.MergeEventUndo} {
		assert.Equal(t, want, got[i].Kind)
		assert.Equal(t, a1.Person, got[i].Survivor)
		assert.Equal(t, b1.Person, got[i].Absorbed)
		assert.Equal(t, d.Merge.ID, got[i].MergeID)
	}
	// The durable feed holds the same events, in order, for every node.
	feed, err := svc.MergeEventsAfter(ctx, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, got, feed)
	assert.Less(t, feed[0].Seq, feed[1].Seq)
	rest, err := svc.MergeEventsAfter(ctx, feed[0].Seq, 10)
	require.NoError(t, err)
	assert.Equal(t, feed[1:], rest, "a consumer resumes after the last seq it handled")
	_, err = svc.MergeEventsAfter(ctx, -1, 10)
	assert.ErrorIs(t, err, linkage.ErrMalformed)

	var undoneBy string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT undone_by FROM linkage.merges WHERE id = $1`, d.Merge.ID).Scan(&undoneBy))
	assert.Equal(t, "steward-2", undoneBy, "the history stays")
}

// TestResolveAfterMerge: the absorbed person's identity, and a variant of
// it bringing a new key, resolve to the survivor, and the absorbed person
// receives nothing.
func TestResolveAfterMerge(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	a := resolveOne(t, svc, "Z1", rossi)
	b := resolveOne(t, svc, "Z1", amrani)
	_, err := svc.Merge(ctx, a.Person, b.Person, 0, "steward")
	require.NoError(t, err)
	keysOfB := func() int {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx,
			`SELECT (SELECT count(*) FROM linkage.match_keys WHERE person_id = $1) + (SELECT count(*) FROM linkage.blocking_keys WHERE person_id = $1) + (SELECT count(*) FROM linkage.tokens WHERE person_id = $1)`,
			b.Person.Bytes()).Scan(&n))
		return n
	}
	nb := keysOfB()

	again := resolveOne(t, svc, "Z1", amrani)
	assert.Equal(t, a.Person, again.Person)
	assert.Equal(t, linkage.StatusExisting, again.Status)
	assert.Equal(t, a.Token, again.Token, "the survivor's token")

	other := resolveOne(t, svc, "Z2", amrani)
	assert.Equal(t, a.Person, other.Person)

	variant := resolveOne(t, svc, "Z1", amraniProv) // a new strong key (PROV)
	assert.Equal(t, a.Person, variant.Person)
	assert.Equal(t, linkage.StatusLinked, variant.Status)
	assert.Equal(t, nb, keysOfB(), "no key or token was given to the absorbed person")

	found, err := svc.Lookup(ctx, "Z1", amrani, nil)
	require.NoError(t, err)
	assert.Equal(t, a.Person, found.Person)
}

// TestMergeChains: B into C after A into B reaches C from A; undoing
// either merge splits exactly that one.
func TestMergeChains(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, newHMAC(t))
	a := resolveOne(t, svc, "Z1", rossi)
	b := resolveOne(t, svc, "Z1", bianchi)
	c := resolveOne(t, svc, "Z1", verdi)

	m1, err := svc.Merge(ctx, b.Person, a.Person, 0, "s") // A → B
	require.NoError(t, err)
	m2, err := svc.Merge(ctx, c.Person, b.Person, 0, "s") // B → C
	require.NoError(t, err)
	current := func(p linkage.PersonID) linkage.PersonID {
		t.Helper()
		cur, err := svc.CurrentPerson(ctx, p)
		require.NoError(t, err)
		return cur
	}
	for _, r := range []linkage.Result{a, b, c} {
		assert.Equal(t, c.Person, current(r.Person))
		p, err := svc.PersonOf(ctx, "Z1", r.Token)
		require.NoError(t, err)
		assert.Equal(t, c.Person, p)
	}
	assert.Equal(t, c.Person, resolveOne(t, svc, "Z1", rossi).Person)

	_, err = svc.Merge(ctx, a.Person, c.Person, 0, "s")
	assert.ErrorIs(t, err, linkage.ErrClosed, "A and C are one person already")

	require.NoError(t, svc.Undo(ctx, m1, "s"))
	assert.Equal(t, a.Person, current(a.Person))
	assert.Equal(t, c.Person, current(b.Person))
	require.NoError(t, svc.Undo(ctx, m2, "s"))
	assert.Equal(t, b.Person, current(b.Person))

	// Merging a person absorbed meanwhile merges its current person.
	m3, err := svc.Merge(ctx, b.Person, a.Person, 0, "s")
	require.NoError(t, err)
	_, err = svc.Merge(ctx, c.Person, a.Person, 0, "s") // a is b now
	require.NoError(t, err)
	assert.Equal(t, c.Person, current(a.Person))
	assert.Equal(t, c.Person, current(b.Person))
	require.NoError(t, svc.Undo(ctx, m3, "s"))
	assert.Equal(t, a.Person, current(a.Person))
}

func TestMergeErrors(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	a := resolveOne(t, svc, "Z1", rossi)
	b := resolveOne(t, svc, "Z1", bianchi)

	assert.ErrorIs(t, svc.Undo(ctx, 999, "s"), linkage.ErrNotFound, "undo of an unknown merge")
	_, err := svc.Merge(ctx, a.Person, linkage.NewPersonID(), 0, "s")
	assert.ErrorIs(t, err, linkage.ErrNotFound, "merge of an unknown person")
	_, err = svc.Merge(ctx, a.Person, a.Person, 0, "s")
	assert.ErrorIs(t, err, linkage.ErrClosed, "merge of a person with itself")
	_, err = svc.CurrentPerson(ctx, linkage.NewPersonID())
	assert.ErrorIs(t, err, linkage.ErrNotFound)

	m, err := svc.Merge(ctx, a.Person, b.Person, 0, "s")
	require.NoError(t, err)
	require.NoError(t, svc.Undo(ctx, m, "s"))
	assert.ErrorIs(t, svc.Undo(ctx, m, "s"), linkage.ErrClosed, "undo twice")

	review := insertReview(t, db, a.Person, b.Person, `{}`)
	_, err = svc.Decide(ctx, review, "maybe", "s", nil)
	assert.ErrorIs(t, err, linkage.ErrMalformed)
	_, err = svc.Decide(ctx, review+1, linkage.DecisionSame, "s", nil)
	assert.ErrorIs(t, err, linkage.ErrNotFound)
	d, err := svc.Decide(ctx, review, linkage.DecisionDifferent, "s", nil)
	require.NoError(t, err)
	assert.Zero(t, d.Merge.ID)
	_, err = svc.Decide(ctx, review, linkage.DecisionSame, "s", nil)
	assert.ErrorIs(t, err, linkage.ErrClosed, "a decision on a closed review")
	assert.Equal(t, 1, count(t, db, "linkage.merges"), "only the first merge")

	// A hook error rolls the decision and the merge back.
	review2 := insertReview(t, db, b.Person, a.Person, `{}`)
	_, err = svc.Decide(ctx, review2, linkage.DecisionSame, "s", func(context.Context, linkage.DecidedReview) error {
		return errors.New("audit down")
	})
	require.Error(t, err)
	assert.Equal(t, 1, count(t, db, "linkage.merges"))
	cur, err := svc.CurrentPerson(ctx, a.Person)
	require.NoError(t, err)
	assert.Equal(t, a.Person, cur)
}

// TestConcurrentDecisions: of many stewards deciding one review at once,
// exactly one wins and exactly one merge is made.
func TestConcurrentDecisions(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	a := resolveOne(t, svc, "Z1", rossi)
	b := resolveOne(t, svc, "Z1", bianchi)
	review := insertReview(t, db, a.Person, b.Person, `{}`)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := linkage.DecisionSame
			if i%2 == 1 {
				d = linkage.DecisionDifferent
			}
			_, errs[i] = svc.Decide(ctx, review, d, "steward", nil)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			assert.ErrorIs(t, err, linkage.ErrClosed)
		}
	}
	assert.Equal(t, 1, won)
	var status string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT status FROM linkage.reviews WHERE id = $1`, review).Scan(&status))
	merges := count(t, db, "linkage.merges")
	if status == "same" {
		assert.Equal(t, 1, merges)
	} else {
		assert.Equal(t, 0, merges)
	}
}

// TestOpenReviews: the queue shows open items only, with the evidence
// reduced to what cannot identify anyone, and counts of both sides.
func TestOpenReviews(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	a := resolveOne(t, svc, "Z1", rossi)
	resolveOne(t, svc, "Z2", rossi)
	b := resolveOne(t, svc, "Z1", bianchi)
	c := resolveOne(t, svc, "Z1", verdi)
	ev, err := linkagepg.EncodeEvidence(linkage.ReviewEvidence{
		Similarity: map[string]float64{"surname": 0.5, "birth_date": 1},
		KeysAgree:  []linkage.KeyKind{linkage.KindPHON},
	})
	require.NoError(t, err)
	r1 := insertReview(t, db, a.Person, b.Person, string(ev))
	// Values a careless writer might put in the evidence are dropped.
	r2 := insertReview(t, db, b.Person, c.Person, `{"fields":{"surname":"VERDI","birth_date":0.9,"nome":1},"keys_agree":["NDS","ROSSI"],"cf":"`+verdi.CodiceFiscale+`"}`)
	r3 := insertReview(t, db, a.Person, c.Person, `{}`)
	_, err = svc.Decide(ctx, r3, linkage.DecisionDifferent, "s", nil)
	require.NoError(t, err)

	rs, err := svc.OpenReviews(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.Equal(t, r1, rs[0].ID)
	assert.Equal(t, map[string]float64{"surname": 0.5, "birth_date": 1}, rs[0].Evidence.Similarity)
	assert.Equal(t, []linkage.KeyKind{linkage.KindPHON}, rs[0].Evidence.KeysAgree)
	assert.Equal(t, linkage.SexDifferent, rs[0].Sex)
	assert.Equal(t, linkage.ReviewSide{Tokens: 2, Domains: 2}, rs[0].A)
	assert.Equal(t, linkage.ReviewSide{Tokens: 1, Domains: 1}, rs[0].B)
	assert.Equal(t, r2, rs[1].ID)
	assert.Equal(t, map[string]float64{"birth_date": 0.9}, rs[1].Evidence.Similarity)
	assert.Equal(t, []linkage.KeyKind{linkage.KindNDS}, rs[1].Evidence.KeysAgree)

	page, err := svc.OpenReviews(ctx, r1, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, r2, page[0].ID)

	// After a merge, a side counts the tokens of the person it absorbed.
	_, err = svc.Merge(ctx, b.Person, c.Person, 0, "s")
	require.NoError(t, err)
	rs, err = svc.OpenReviews(ctx, 0, 1)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, linkage.ReviewSide{Tokens: 2, Domains: 1}, rs[0].B)
}

// TestCodeArrivingLaterMerges: a minor first registered without a codice
// fiscale (P1), then with it under a misspelt surname (P2: nothing links
// the two), is merged into P2 when an identity brings the codice fiscale
// with the fields P1 was registered with; two persons holding different
// codici fiscali are never merged that way; the merge can be undone.
func TestCodeArrivingLaterMerges(t *testing.T) {
	ctx := context.Background()
	svc, db := newService(t, newHMAC(t))
	var events eventLog
	svc.Subscribe(events.add)

	p1 := resolveOne(t, svc, "Z1", noCode(rossi))
	p2 := resolveOne(t, svc, "Z2", typoSurname(rossi, "Rosi"))
	require.NotEqual(t, p1.Person, p2.Person, "fuzzy matching is off: nothing links the two yet")

	r := resolveOne(t, svc, "Z3", rossi)
	assert.Equal(t, p2.Person, r.Person, "the code's owner survives")
	evs := events.all()
	require.Len(t, evs, 1, "one merge")
	assert.Equal(t, linkage.MergeEventMerge, evs[0].Kind)
	assert.Equal(t, p2.Person, evs[0].Survivor)
	assert.Equal(t, p1.Person, evs[0].Absorbed)
	for _, tok := range []struct {
		domain string
		tok    linkage.Token
	}{{"Z1", p1.Token}, {"Z2", p2.Token}} {
		p, err := svc.PersonOf(ctx, tok.domain, tok.tok)
		require.NoError(t, err)
		assert.Equal(t, p2.Person, p, "every token reaches the survivor")
	}
	var by string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT created_by FROM linkage.merges WHERE id = $1`, evs[0].MergeID).Scan(&by))
	assert.Equal(t, linkage.ActorCodeMerge, by)

	again := resolveOne(t, svc, "Z1", rossi)
	assert.Equal(t, p2.Person, again.Person)
	assert.Len(t, events.all(), 1, "resolving again merges nothing more")

	require.NoError(t, svc.Undo(ctx, evs[0].MergeID, "steward"))
	p, err := svc.PersonOf(ctx, "Z1", p1.Token)
	require.NoError(t, err)
	assert.Equal(t, p1.Person, p, "undo splits them back")

	// Two codes of one kind: never merged by a resolution.
	svc2, db2 := newService(t, newHMAC(t))
	a := resolveOne(t, svc2, "Z1", amraniProv)
	b := resolveOne(t, svc2, "Z1", typoSurname(amraniPro2, "El Amrany"))
	require.NotEqual(t, a.Person, b.Person)
	c := resolveOne(t, svc2, "Z1", amraniPro2)
	assert.Equal(t, b.Person, c.Person, "the code decides")
	assert.Zero(t, count(t, db2, "linkage.merges"), "a person holding another code of the kind is not merged")
}

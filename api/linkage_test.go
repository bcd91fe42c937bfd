package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
)

// stewardPair resolves two minors through the API in org and returns
// their tokens and persons.
func stewardPair(t *testing.T, env *testEnv, org string) (tokens [2]string, persons [2]linkage.PersonID) {
	t.Helper()
	op := env.token(t, authn.RoleServiceOperator, org)
	ids := []map[string]any{minor(), {
		"surname": "Rossi", "given_names": "Marco", "birth_date": "2013-02-09", "sex": "M",
		"birth_place": "G702", "citizenship": "380",
	}}
	for i, id := range ids {
		r := postJSON(t, env, "/v1/tokens", op, map[string]any{"identity": id})
		require.Equal(t, http.StatusOK, r.code, string(r.body))
		var tr tokenResponse
		r.json(t, &tr)
		tokens[i] = tr.Token
		tok, err := linkage.ParseToken(tr.Token)
		require.NoError(t, err)
		persons[i], err = env.srv.linkage.PersonOf(context.Background(), org, tok)
		require.NoError(t, err)
	}
	require.NotEqual(t, persons[0], persons[1])
	return tokens, persons
}

func insertReviewRow(t *testing.T, env *testEnv, a, b linkage.PersonID, evidence string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, env.db.Pool.QueryRow(context.Background(),
		`INSERT INTO linkage.reviews (person_a, person_b, score, evidence) VALUES ($1, $2, 0.87, $3) RETURNING id`,
		a.Bytes(), b.Bytes(), evidence).Scan(&id))
	return id
}

// linkageState is what a bad request must leave unchanged.
func linkageState(t *testing.T, env *testEnv) map[string]int {
	t.Helper()
	counts := tableCounts(t, env)
	for name, q := range map[string]string{
		"merges":        "SELECT count(*) FROM linkage.merges",
		"merges_active": "SELECT count(*) FROM linkage.merges WHERE undone_at IS NULL",
		"merged":        "SELECT count(*) FROM linkage.persons WHERE merged_into IS NOT NULL",
		"reviews_open":  "SELECT count(*) FROM linkage.reviews WHERE status = 'open'",
	} {
		var n int
		require.NoError(t, env.db.Pool.QueryRow(context.Background(), q).Scan(&n))
		counts[name] = n
	}
	return counts
}

func TestReviewListingIsPseudonymous(t *testing.T) {
	env := newTestEnv(t)
	sink.addIdentity("BIANCHI", "GIULIA", "2015-07-15", "ROSSI", "MARCO", "2013-02-09")
	_, persons := stewardPair(t, env, "FIORENTINA")
	steward := env.token(t, authn.RoleDataSteward, "REGIONE")
	good := insertReviewRow(t, env, persons[0], persons[1],
		`{"similarity":{"surname":0.31,"given_names":0.4,"birth_date":0.8},"keys_agree":["YM","PHON"],"swapped":false}`)
	// What a careless writer might store beside the evidence never shows.
	nasty := insertReviewRow(t, env, persons[1], persons[0],
		`{"fields":{"surname":"BIANCHI","birth_date":0.9},"keys_agree":["GIULIA"],"birth_date":"2015-07-15","name":"Giulia Bianchi","cf":"BNCGLI15L55D612X"}`)

	w := env.do(t, http.MethodGet, "/v1/linkage/reviews", steward, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	upper := strings.ToUpper(body)
	for _, v := range []string{"BIANCHI", "GIULIA", "ROSSI", "MARCO", "2015-07-15", "20150715", "2013-02-09", "BNCGLI"} {
		assert.NotContains(t, upper, v, "an identity value in the review listing")
	}
	for _, p := range persons {
		assert.NotContains(t, body, p.String(), "a person id in the review listing")
		assert.NotContains(t, body, uuidForm(p), "a person id in the review listing")
	}

	var page reviewListResponse
	(&httptestResponse{code: w.Code, body: w.Body.Bytes()}).json(t, &page)
	require.Len(t, page.Reviews, 2)
	r := page.Reviews[0]
	assert.Equal(t, good, r.ID)
	assert.InDelta(t, 0.87, r.Score, 1e-6)
	assert.Equal(t, map[string]float64{"surname": 0.31, "given_names": 0.4, "birth_date": 0.8}, r.Similarity)
	assert.Equal(t, []string{"YM", "PHON"}, r.KeysAgree)
	assert.Equal(t, "different", r.Sex)
	assert.Equal(t, reviewSideResponse{Tokens: 1, Domains: 1}, r.A)
	assert.Equal(t, nasty, page.Reviews[1].ID)
	assert.Equal(t, map[string]float64{"birth_date": 0.9}, page.Reviews[1].Similarity)
	assert.Empty(t, page.Reviews[1].KeysAgree)

	// Cursor pagination.
	w = env.do(t, http.MethodGet, "/v1/linkage/reviews?limit=1", steward, nil)
	require.Equal(t, http.StatusOK, w.Code)
	(&httptestResponse{body: w.Body.Bytes()}).json(t, &page)
	require.Len(t, page.Reviews, 1)
	require.Equal(t, fmt.Sprint(good), page.NextCursor)
	w = env.do(t, http.MethodGet, "/v1/linkage/reviews?limit=1&cursor="+page.NextCursor, steward, nil)
	require.Equal(t, http.StatusOK, w.Code)
	page = reviewListResponse{}
	(&httptestResponse{body: w.Body.Bytes()}).json(t, &page)
	require.Len(t, page.Reviews, 1)
	assert.Equal(t, nasty, page.Reviews[0].ID)
	assert.Empty(t, page.NextCursor)

	for _, q := range []string{"limit=0", "limit=501", "cursor=abc", "sort=id"} {
		requireProblem(t, env.do(t, http.MethodGet, "/v1/linkage/reviews?"+q, steward, nil), http.StatusBadRequest)
	}
}

// allowedEvents are the audit events of action that succeeded (the failed
// ones are logged too).
func allowedEvents(t *testing.T, env *testEnv, action Action) []audit.Event {
	t.Helper()
	evs, _, err := env.srv.audit.List(context.Background(), audit.Filter{Action: string(action), Limit: 100})
	require.NoError(t, err)
	var out []audit.Event
	for _, e := range evs {
		if e.Outcome == audit.OutcomeAllowed {
			out = append(out, e)
		}
	}
	return out
}

func uuidForm(p linkage.PersonID) string {
	s := p.String()
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func TestReviewDecisionAndUndo(t *testing.T) {
	env := newTestEnv(t)
	sink.addIdentity("BIANCHI", "GIULIA", "2015-07-15", "ROSSI", "MARCO", "2013-02-09")
	const org = "FIORENTINA"
	tokens, persons := stewardPair(t, env, org)
	steward := env.token(t, authn.RoleDataSteward, "REGIONE")
	review := insertReviewRow(t, env, persons[0], persons[1], `{}`)
	decide := func(id int64, body any) *httptestResponse {
		return postJSON(t, env, fmt.Sprintf("/v1/linkage/reviews/%d/decision", id), steward, body)
	}
	undo := func(path string) *httptestResponse {
		w := env.do(t, http.MethodPost, path, steward, nil)
		return &httptestResponse{code: w.Code, body: w.Body.Bytes(), w: w}
	}

	// Bad input: a 4xx problem, and nothing changed.
	before := linkageState(t, env)
	bad := []struct {
		name   string
		do     func() *httptestResponse
		status int
		field  string
	}{
		{"badDecision422", func() *httptestResponse { return decide(review, map[string]any{"decision": "maybe"}) }, 422, "decision"},
		{"missingDecision422", func() *httptestResponse { return decide(review, map[string]any{}) }, 422, "decision"},
		{"decisionNotString422", func() *httptestResponse { return decide(review, map[string]any{"decision": true}) }, 422, "decision"},
		{"unknownField422", func() *httptestResponse { return decide(review, map[string]any{"decision": "same", "survivor": "b"}) }, 422, "survivor"},
		{"unknownReview404", func() *httptestResponse { return decide(review+100, map[string]any{"decision": "same"}) }, 404, ""},
		{"malformedReview404", func() *httptestResponse { return decide(-1, map[string]any{"decision": "same"}) }, 404, ""},
		{"unknownMerge404", func() *httptestResponse { return undo("/v1/linkage/merges/4242/undo") }, 404, ""},
		{"malformedMerge404", func() *httptestResponse { return undo("/v1/linkage/merges/abc/undo") }, 404, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do()
			p := requireProblem(t, r.w, tc.status)
			if tc.field != "" {
				assert.Equal(t, []string{tc.field}, fieldsOf(p))
			}
			assert.Equal(t, before, linkageState(t, env), "a bad request changed something")
		})
	}

	var events []linkage.MergeEvent
	env.srv.linkage.Subscribe(func(e linkage.MergeEvent) { events = append(events, e) })

	r := decide(review, map[string]any{"decision": "same"})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var dr decisionResponse
	r.json(t, &dr)
	assert.Equal(t, review, dr.ReviewID)
	assert.Equal(t, "same", dr.Decision)
	require.NotZero(t, dr.MergeID)
	assert.NotContains(t, string(r.body), persons[0].String())
	for _, tok := range tokens {
		pt, err := linkage.ParseToken(tok)
		require.NoError(t, err)
		p, err := env.srv.linkage.PersonOf(context.Background(), org, pt)
		require.NoError(t, err)
		assert.Equal(t, persons[0], p, "after the merge every token reaches person_a")
	}
	require.Len(t, events, 1)
	assertMergeEvent(t, linkage.MergeEventMerge, persons[0], persons[1], dr.MergeID, events[0])

	// The decision was audited, one event per person, in its transaction.
	allowed := allowedEvents(t, env, ActionReviewsDecide)
	require.Len(t, allowed, 2)
	refs := []string{env.srv.linkage.AuditRef(persons[0]), env.srv.linkage.AuditRef(persons[1])}
	assert.ElementsMatch(t, refs, []string{allowed[0].PersonRef, allowed[1].PersonRef})
	assert.Equal(t, "review", allowed[0].ObjectType)
	assert.Contains(t, allowed[0].ObjectID, fmt.Sprintf("merge:%d", dr.MergeID))

	// A decision on a closed review: 409, nothing changed.
	before = linkageState(t, env)
	for _, d := range []string{"same", "different"} {
		requireProblem(t, decide(review, map[string]any{"decision": d}).w, http.StatusConflict)
	}
	assert.Equal(t, before, linkageState(t, env))

	// Undo: 200, the pair splits and the review opens again; twice: 409.
	r = undo(fmt.Sprintf("/v1/linkage/merges/%d/undo", dr.MergeID))
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var ur undoResponse
	r.json(t, &ur)
	assert.Equal(t, undoResponse{MergeID: dr.MergeID, Status: "undone"}, ur)
	pt, err := linkage.ParseToken(tokens[1])
	require.NoError(t, err)
	p, err := env.srv.linkage.PersonOf(context.Background(), org, pt)
	require.NoError(t, err)
	assert.Equal(t, persons[1], p)
	require.Len(t, events, 2)
	assert.Equal(t, linkage.MergeEventUndo, events[1].Kind)
	evs := allowedEvents(t, env, ActionMergesUndo)
	require.Len(t, evs, 2)
	assert.ElementsMatch(t, refs, []string{evs[0].PersonRef, evs[1].PersonRef})

	before = linkageState(t, env)
	requireProblem(t, undo(fmt.Sprintf("/v1/linkage/merges/%d/undo", dr.MergeID)).w, http.StatusConflict)
	assert.Equal(t, before, linkageState(t, env))

	// The reopened review can be decided again: "different" merges nothing.
	r = decide(review, map[string]any{"decision": "different"})
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	assert.NotContains(t, string(r.body), "merge_id")
	assert.Equal(t, before["merges"], linkageState(t, env)["merges"])
}

func assertMergeEvent(t *testing.T, kind linkage.MergeEventKind, survivor, absorbed linkage.PersonID, mergeID int64, got linkage.MergeEvent) {
	t.Helper()
	assert.Equal(t, kind, got.Kind)
	assert.Equal(t, survivor, got.Survivor)
	assert.Equal(t, absorbed, got.Absorbed)
	assert.Equal(t, mergeID, got.MergeID)
	assert.NotZero(t, got.Seq, "the event is in the durable feed")
}

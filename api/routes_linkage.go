package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/linkage"
)

// Possible matches and merges, for data stewards. Responses are
// pseudonymous: review and merge ids, scores, similarities, key kinds and
// counts — never a name, a code, a birth date, or a person id.

// Review listing page sizes.
const (
	defaultReviewLimit = 50
	maxReviewLimit     = 500
)

func (s *Server) linkageRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/linkage/reviews", ActionReviewsList, s.listReviews)
	s.handle(g, http.MethodPost, "/linkage/reviews/:id/decision", ActionReviewsDecide, s.decideReview)
	s.handle(g, http.MethodPost, "/linkage/merges/:id/undo", ActionMergesUndo, s.undoMerge)
}

type reviewSideResponse struct {
	Tokens  int `json:"tokens"`
	Domains int `json:"domains"`
}

type reviewResponse struct {
	ID           int64              `json:"id"`
	Score        float64            `json:"score"`
	Similarity   map[string]float64 `json:"similarity"`
	KeysAgree    []string           `json:"keys_agree"`
	NamesSwapped bool               `json:"names_swapped"`
	Sex          string             `json:"sex"`
	A            reviewSideResponse `json:"a"`
	B            reviewSideResponse `json:"b"`
	CreatedAt    time.Time          `json:"created_at"`
}

type reviewListResponse struct {
	Reviews    []reviewResponse `json:"reviews"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// toReviewResponse keeps the person ids out: a steward refers to a review
// by its id.
func toReviewResponse(r linkage.PendingReview) reviewResponse {
	out := reviewResponse{
		ID: r.ID, Score: r.Score, Similarity: r.Evidence.Similarity, KeysAgree: []string{},
		NamesSwapped: r.Evidence.Swapped, Sex: string(r.Sex),
		A:         reviewSideResponse{Tokens: r.A.Tokens, Domains: r.A.Domains},
		B:         reviewSideResponse{Tokens: r.B.Tokens, Domains: r.B.Domains},
		CreatedAt: r.CreatedAt.UTC(),
	}
	if out.Similarity == nil {
		out.Similarity = map[string]float64{}
	}
	for _, k := range r.Evidence.KeysAgree {
		out.KeysAgree = append(out.KeysAgree, string(k))
	}
	return out
}

func (s *Server) listReviews(c *gin.Context) {
	var (
		bad   []FieldError
		after int64
		limit = defaultReviewLimit
	)
	bad = append(bad, queryProblems(c, []string{"cursor", "limit"}, "")...)
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, FieldError{Field: "cursor", Reason: "not a cursor returned by this endpoint"})
		}
		after = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxReviewLimit {
			bad = append(bad, FieldError{Field: "limit", Reason: "must be an integer from 1 to " + strconv.Itoa(maxReviewLimit)})
		}
		limit = n
	}
	if len(bad) > 0 {
		_ = c.Error(errBadRequest("invalid query parameters", bad...))
		return
	}
	// One more than the page tells whether there is a next one.
	rs, err := s.linkage.OpenReviews(c.Request.Context(), after, limit+1)
	if err != nil {
		_ = c.Error(err)
		return
	}
	resp := reviewListResponse{Reviews: make([]reviewResponse, 0, min(len(rs), limit))}
	for i, r := range rs {
		if i == limit {
			resp.NextCursor = strconv.FormatInt(rs[i-1].ID, 10)
			break
		}
		resp.Reviews = append(resp.Reviews, toReviewResponse(r))
	}
	c.JSON(http.StatusOK, resp)
}

type decisionRequest struct {
	Decision *string `json:"decision"`
}

type decisionResponse struct {
	ReviewID int64  `json:"review_id"`
	Decision string `json:"decision"`
	// MergeID is the merge a "same" decision made, to undo it; absent when
	// the two were already one person, or for "different".
	MergeID int64 `json:"merge_id,omitempty"`
}

// pathID reads a positive integer id from the path; anything else is an
// unknown object.
func pathID(c *gin.Context, what string) (int64, *httpError) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, newError(http.StatusNotFound, "not-found", "Not found", "no such "+what)
	}
	return id, nil
}

// mergeProblem maps the errors of a decision or an undo to their problems.
func mergeProblem(err error, what, closed string) error {
	switch {
	case errors.Is(err, linkage.ErrNotFound):
		return newError(http.StatusNotFound, "not-found", "Not found", "no such "+what)
	case errors.Is(err, linkage.ErrClosed):
		return newError(http.StatusConflict, "conflict", "Conflict", closed)
	}
	return err
}

// personEvents are the audit events of a write touching persons, one per
// person, written in the write's transaction.
func (s *Server) personEvents(ctx context.Context, c *gin.Context, action Action, objectType, objectID string, persons ...linkage.PersonID) error {
	evs := make([]audit.Event, 0, len(persons))
	for _, p := range persons {
		e := s.event(c, action, audit.OutcomeAllowed, http.StatusOK)
		e.ObjectType, e.ObjectID, e.PersonRef = objectType, objectID, s.linkage.AuditRef(p)
		evs = append(evs, e)
	}
	if _, err := s.audit.AppendBatch(ctx, evs); err != nil {
		return err
	}
	c.Set(ctxAudited, true)
	return nil
}

func (s *Server) decideReview(c *gin.Context) {
	id, herr := pathID(c, "review")
	if herr != nil {
		_ = c.Error(herr)
		return
	}
	var req decisionRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	if req.Decision == nil {
		_ = c.Error(errValidation(FieldError{Field: "decision", Reason: "required"}))
		return
	}
	d := linkage.ReviewDecision(*req.Decision)
	if !d.Valid() {
		_ = c.Error(errValidation(FieldError{Field: "decision", Reason: `must be "same" or "different"`}))
		return
	}
	p, _ := principal(c)
	r, err := s.linkage.Decide(c.Request.Context(), id, d, p.Subject, func(ctx context.Context, r linkage.DecidedReview) error {
		obj := "review:" + strconv.FormatInt(r.ReviewID, 10)
		if r.Merge.ID != 0 {
			obj += " merge:" + strconv.FormatInt(r.Merge.ID, 10)
		}
		return s.personEvents(ctx, c, ActionReviewsDecide, "review", obj, r.PersonA, r.PersonB)
	})
	if err != nil {
		_ = c.Error(mergeProblem(err, "review", "this review has been decided already"))
		return
	}
	c.JSON(http.StatusOK, decisionResponse{ReviewID: r.ReviewID, Decision: string(r.Decision), MergeID: r.Merge.ID})
}

type undoResponse struct {
	MergeID int64  `json:"merge_id"`
	Status  string `json:"status"`
}

func (s *Server) undoMerge(c *gin.Context) {
	id, herr := pathID(c, "merge")
	if herr != nil {
		_ = c.Error(herr)
		return
	}
	p, _ := principal(c)
	err := s.linkage.Undo(c.Request.Context(), id, p.Subject, func(ctx context.Context, m linkage.MergeRecord) error {
		return s.personEvents(ctx, c, ActionMergesUndo, "merge", "merge:"+strconv.FormatInt(m.ID, 10), m.Survivor, m.Absorbed)
	})
	if err != nil {
		_ = c.Error(mergeProblem(err, "merge", "this merge has been undone already"))
		return
	}
	c.JSON(http.StatusOK, undoResponse{MergeID: id, Status: "undone"})
}

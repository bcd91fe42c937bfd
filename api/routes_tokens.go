package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
)

// MaxBatch is the largest batch of identities one request may carry.
const MaxBatch = 1000

func (s *Server) tokenRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodPost, "/tokens", ActionTokensResolve, s.resolveToken)
	s.handle(g, http.MethodPost, "/tokens/batch", ActionTokensResolve, s.resolveTokenBatch)
	s.handle(g, http.MethodPost, "/tokens/lookup", ActionTokensLookup, s.lookupToken)
	s.handle(g, http.MethodGet, "/tokens/:token", ActionTokensRead, s.getToken)
}

type residenceRequest struct {
	Municipality string `json:"municipality"`
	Postcode     string `json:"postcode"`
	Locality     string `json:"locality"`
}

// identityRequest is an identity as submitted. It is never logged or
// stored; linkage turns it into keys.
type identityRequest struct {
	CodiceFiscale string            `json:"codice_fiscale"`
	Surname       string            `json:"surname"`
	GivenNames    string            `json:"given_names"`
	BirthDate     string            `json:"birth_date"`
	Sex           string            `json:"sex"`
	BirthPlace    string            `json:"birth_place"`
	Citizenship   string            `json:"citizenship"`
	Residence     *residenceRequest `json:"residence"`
	// MatchKeys and Attributes replace every field above in blind mode: a
	// batch item holds an identity or these two, never both.
	MatchKeys  []matchKeyRequest  `json:"match_keys"`
	Attributes *attributesRequest `json:"attributes"`
}

// blind reports whether r is a blind-mode item (match keys), not an
// identity.
func (r identityRequest) blind() bool { return r.MatchKeys != nil || r.Attributes != nil }

// hasIdentity reports whether r carries any identity field.
func (r identityRequest) hasIdentity() bool {
	return r.CodiceFiscale != "" || r.Surname != "" || r.GivenNames != "" || r.BirthDate != "" || r.Sex != "" ||
		r.BirthPlace != "" || r.Citizenship != "" || r.Residence != nil
}

func (r identityRequest) toIdentity() linkage.Identity {
	id := linkage.Identity{
		CodiceFiscale: r.CodiceFiscale, Surname: r.Surname, GivenNames: r.GivenNames,
		BirthDate: r.BirthDate, Sex: r.Sex, BirthPlace: r.BirthPlace, Citizenship: r.Citizenship,
	}
	if r.Residence != nil {
		id.Residence = linkage.Residence{Municipality: r.Residence.Municipality, Postcode: r.Residence.Postcode, Locality: r.Residence.Locality}
	}
	return id
}

type tokenRequest struct {
	Identity *identityRequest `json:"identity"`
	// Blind mode, instead of Identity.
	MatchKeys  []matchKeyRequest  `json:"match_keys"`
	Attributes *attributesRequest `json:"attributes"`
}

type batchRequest struct {
	Identities []identityRequest `json:"identities"`
}

type tokenResponse struct {
	Token  string `json:"token"`
	Status string `json:"status"`
	// Sinba is, for a facility, the summary of the minor's open SINBA
	// case file, when there is one.
	Sinba *sinbaSummary `json:"sinba,omitempty"`
}

type batchItem struct {
	Index  int      `json:"index"`
	Token  string   `json:"token,omitempty"`
	Status string   `json:"status,omitempty"`
	Error  *Problem `json:"error,omitempty"`
}

type batchResponse struct {
	Results []batchItem `json:"results"`
}

type tokenInfoResponse struct {
	Token      string `json:"token"`
	Domain     string `json:"domain"`
	KeyVersion int    `json:"key_version"`
	Status     string `json:"status"`
}

// validationProblem turns linkage's validation error into a 422 whose
// fields carry prefix ("identity." for a single identity).
func validationProblem(err error, prefix string) (*httpError, bool) {
	var ve *linkage.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	fields := make([]FieldError, len(ve.Fields))
	for i, f := range ve.Fields {
		fields[i] = FieldError{Field: prefix + f.Field, Reason: f.Reason}
	}
	return errValidation(fields...), true
}

// resolvedEvents is the hook that writes one audit event per resolved
// identity, in the transaction of the resolution.
func (s *Server) resolvedEvents(c *gin.Context, action Action) linkage.Hook {
	return func(ctx context.Context, rs []linkage.Result) error {
		var evs []audit.Event
		for _, r := range rs {
			if r.Err != nil {
				continue
			}
			e := s.event(c, action, audit.OutcomeAllowed, http.StatusOK)
			e.ObjectType = "person"
			e.PersonRef = s.linkage.AuditRef(r.Person)
			e.ObjectID = "batch-index:" + strconv.Itoa(r.Index)
			evs = append(evs, e)
		}
		if len(evs) == 0 {
			return nil
		}
		if _, err := s.audit.AppendBatch(ctx, evs); err != nil {
			return err
		}
		c.Set(ctxAudited, true)
		return nil
	}
}

func (s *Server) resolveToken(c *gin.Context) {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	if req.MatchKeys != nil || req.Attributes != nil {
		if req.Identity != nil {
			_ = c.Error(errValidation(FieldError{Field: "identity", Reason: "give an identity or match keys, not both"}))
			return
		}
		s.resolveKeys(c, identityRequest{MatchKeys: req.MatchKeys, Attributes: req.Attributes})
		return
	}
	if req.Identity == nil {
		_ = c.Error(errValidation(FieldError{Field: "identity", Reason: "required (or match_keys and attributes)"}))
		return
	}
	p, _ := principal(c)
	rs, err := s.linkage.Resolve(c.Request.Context(), p.Org, []linkage.Identity{req.Identity.toIdentity()}, s.resolvedEvents(c, ActionTokensResolve))
	if err != nil {
		_ = c.Error(err)
		return
	}
	if vp, ok := validationProblem(rs[0].Err, "identity."); ok {
		_ = c.Error(vp)
		return
	}
	resp := tokenResponse{Token: rs[0].Token.String(), Status: string(rs[0].Status)}
	if p.Role == authn.RoleFacilityOperator && s.activity != nil {
		if resp.Sinba, err = s.summaryOf(c.Request.Context(), rs[0].Person); err != nil {
			_ = c.Error(err)
			return
		}
	}
	c.JSON(http.StatusOK, resp)
}

func (s *Server) resolveTokenBatch(c *gin.Context) {
	var req batchRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	switch n := len(req.Identities); {
	case n == 0:
		_ = c.Error(errValidation(FieldError{Field: "identities", Reason: "must hold 1 to 1000 identities"}))
		return
	case n > MaxBatch:
		e := newError(http.StatusRequestEntityTooLarge, "too-large", "Batch too large", "a batch holds at most 1000 identities; split it")
		e.fields = []FieldError{{Field: "identities", Reason: "more than 1000 identities"}}
		_ = c.Error(e)
		return
	}
	if req.Identities[0].blind() {
		s.resolveKeysBatch(c, req.Identities)
		return
	}
	ids := make([]linkage.Identity, len(req.Identities))
	for i, r := range req.Identities {
		if r.blind() {
			_ = c.Error(errValidation(FieldError{Field: "identities[" + strconv.Itoa(i) + "]",
				Reason: "a batch holds identities or match keys, not both"}))
			return
		}
		ids[i] = r.toIdentity()
	}
	p, _ := principal(c)
	rs, err := s.linkage.Resolve(c.Request.Context(), p.Org, ids, s.resolvedEvents(c, ActionTokensResolve))
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusOK, batchResponseOf(rs))
}

func batchResponseOf(rs []linkage.Result) batchResponse {
	resp := batchResponse{Results: make([]batchItem, len(rs))}
	for i, r := range rs {
		resp.Results[i].Index = r.Index
		if vp, ok := validationProblem(r.Err, ""); ok {
			pr, _, _ := toProblem(vp)
			resp.Results[i].Error = &pr
			continue
		}
		resp.Results[i].Token, resp.Results[i].Status = r.Token.String(), string(r.Status)
	}
	return resp
}

func (s *Server) lookupToken(c *gin.Context) {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	if req.Identity == nil {
		_ = c.Error(errValidation(FieldError{Field: "identity", Reason: "required"}))
		return
	}
	p, _ := principal(c)
	r, err := s.linkage.Lookup(c.Request.Context(), p.Org, req.Identity.toIdentity(), s.resolvedEvents(c, ActionTokensLookup))
	if vp, ok := validationProblem(err, "identity."); ok {
		_ = c.Error(vp)
		return
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusOK, tokenResponse{Token: r.Token.String(), Status: string(r.Status)})
}

func (s *Server) getToken(c *gin.Context) {
	p, _ := principal(c)
	notFound := newError(http.StatusNotFound, "not-found", "Not found", "no such token in your domain")
	tok, err := linkage.ParseToken(c.Param("token"))
	if err != nil {
		// A malformed token looks exactly like an unknown one.
		_ = c.Error(notFound)
		return
	}
	info, err := s.linkage.FindToken(c.Request.Context(), p.Org, tok)
	if errors.Is(err, linkage.ErrNotFound) {
		_ = c.Error(notFound)
		return
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Set(ctxPerson, s.linkage.AuditRef(info.Person))
	status := "active"
	if info.Retired {
		status = "retired"
	}
	c.JSON(http.StatusOK, tokenInfoResponse{Token: info.Token.String(), Domain: info.Domain, KeyVersion: info.KeyVersion, Status: status})
}

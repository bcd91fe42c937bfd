package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/linkage"
)

// DefaultOPRFDailyLimit is how many blinded elements an organisation may
// have evaluated per UTC day unless Options say otherwise: a zone's yearly
// export (some 20 000 minors of about 12 keys each), far too few to walk a
// dictionary of names and birth dates.
const DefaultOPRFDailyLimit = 250_000

// MaxBlinded is the largest number of blinded elements one evaluation
// request may carry.
const MaxBlinded = 1000

// The suite and mode blind-mode clients must use.
const (
	oprfSuiteName = "ristretto255-SHA512"
	oprfModeName  = "verifiable"
)

func (s *Server) oprfRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/oprf/public-key", ActionOPRFPublicKey, s.oprfPublicKey)
	s.handle(g, http.MethodPost, "/oprf/evaluate", ActionOPRFEvaluate, s.oprfEvaluate)
}

type oprfKeyResponse struct {
	Suite       string `json:"suite"`
	Mode        string `json:"mode"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
}

type oprfEvaluateRequest struct {
	Blinded []string `json:"blinded"`
}

type oprfEvaluateResponse struct {
	Evaluated []string `json:"evaluated"`
	Proof     string   `json:"proof"`
}

// blindKey returns the server's OPRF, or the problem saying why there is
// none.
func (s *Server) blindKey() (*linkage.OPRF, error) {
	if s.linkage == nil {
		return nil, errBlindUnavailable()
	}
	o, err := s.linkage.BlindKey()
	if errors.Is(err, linkage.ErrBlindUnavailable) {
		return nil, errBlindUnavailable()
	}
	return o, err
}

func errBlindUnavailable() *httpError {
	return newError(http.StatusNotImplemented, "blind-mode-unavailable", "Blind mode unavailable",
		"blind mode needs the oprf backend, and this deployment runs another")
}

func (s *Server) oprfPublicKey(c *gin.Context) {
	o, err := s.blindKey()
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusOK, oprfKeyResponse{
		Suite: oprfSuiteName, Mode: oprfModeName,
		PublicKey:   base64.StdEncoding.EncodeToString(o.PublicKey()),
		Fingerprint: o.Fingerprint(),
	})
}

func (s *Server) oprfEvaluate(c *gin.Context) {
	if _, err := s.blindKey(); err != nil {
		_ = c.Error(err)
		return
	}
	var req oprfEvaluateRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	switch n := len(req.Blinded); {
	case n == 0:
		_ = c.Error(errValidation(FieldError{Field: "blinded", Reason: "must hold 1 to 1000 elements"}))
		return
	case n > MaxBlinded:
		e := newError(http.StatusRequestEntityTooLarge, "too-large", "Batch too large", "an evaluation holds at most 1000 elements; split it")
		e.fields = []FieldError{{Field: "blinded", Reason: "more than 1000 elements"}}
		_ = c.Error(e)
		return
	}
	// Every element is checked before anything is counted: a refused call
	// costs the caller nothing.
	elems := make([]group.Element, len(req.Blinded))
	var bad []FieldError
	for i, b := range req.Blinded {
		at := "blinded[" + strconv.Itoa(i) + "]"
		raw, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			bad = append(bad, FieldError{Field: at, Reason: "not base64"})
			continue
		}
		e := group.Ristretto255.NewElement()
		if err := e.UnmarshalBinary(raw); err != nil || e.IsIdentity() {
			bad = append(bad, FieldError{Field: at, Reason: "not a ristretto255 element"})
			continue
		}
		elems[i] = e
	}
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, _ := principal(c)
	n := len(elems)
	ev, err := s.linkage.EvaluateBlinded(c.Request.Context(), p.Org, &oprf.EvaluationRequest{Elements: elems},
		s.opts.OPRFDailyLimit, time.Now(), func(ctx context.Context) error {
			e := s.event(c, ActionOPRFEvaluate, audit.OutcomeAllowed, http.StatusOK)
			e.ObjectType = "oprf_evaluation"
			e.ObjectID = "elements:" + strconv.Itoa(n)
			if _, err := s.audit.Append(ctx, e); err != nil {
				return err
			}
			c.Set(ctxAudited, true)
			return nil
		})
	var qe *linkage.QuotaError
	switch {
	case errors.As(err, &qe):
		c.Set(ctxAudited, false) // the transaction that held the event rolled back
		wait := max(int(time.Until(qe.Reset).Seconds()+0.999), 1)
		e := newError(http.StatusTooManyRequests, "quota-exceeded", "Daily quota exceeded",
			"your organisation has used "+strconv.FormatInt(qe.Used, 10)+" of its "+strconv.FormatInt(qe.Limit, 10)+
				" blind evaluations for today (UTC); retry after the time in Retry-After")
		e.header = map[string]string{"Retry-After": strconv.Itoa(wait)}
		_ = c.Error(e)
		return
	case errors.Is(err, linkage.ErrMalformed):
		c.Set(ctxAudited, false)
		_ = c.Error(errValidation(FieldError{Field: "blinded", Reason: "holds an element the server cannot evaluate"}))
		return
	case err != nil:
		c.Set(ctxAudited, false)
		_ = c.Error(err)
		return
	}
	resp := oprfEvaluateResponse{Evaluated: make([]string, len(ev.Elements))}
	for i, e := range ev.Elements {
		raw, err := e.MarshalBinaryCompress()
		if err != nil {
			_ = c.Error(err)
			return
		}
		resp.Evaluated[i] = base64.StdEncoding.EncodeToString(raw)
	}
	proof, err := ev.Proof.MarshalBinary()
	if err != nil {
		_ = c.Error(err)
		return
	}
	resp.Proof = base64.StdEncoding.EncodeToString(proof)
	c.JSON(http.StatusOK, resp)
}

// matchKeyRequest is one match key of a blind-mode identity: its kind and
// the digest the client computed through /v1/oprf/evaluate.
type matchKeyRequest struct {
	Kind   string `json:"kind"`
	Digest string `json:"digest"`
}

// attributesRequest are the coarse attributes a blind-mode client sends
// with its match keys: all the server ever stores of a person besides
// digests.
type attributesRequest struct {
	Sex              string `json:"sex"`
	BirthYear        int    `json:"birth_year"`
	BirthMonth       int    `json:"birth_month"`
	CitizenshipGroup string `json:"citizenship_group"`
}

// toKeySet decodes a blind-mode item. Digests that are not base64 are
// refused here, naming the field; kinds, lengths and attributes are
// linkage's to check (ResolveKeys).
func (r identityRequest) toKeySet() (linkage.KeySet, []FieldError) {
	var (
		set  linkage.KeySet
		bad  []FieldError
		keys = make([]linkage.Digest, len(r.MatchKeys))
	)
	if r.hasIdentity() {
		bad = append(bad, FieldError{Field: "match_keys", Reason: "give an identity or match keys, not both"})
	}
	for i, k := range r.MatchKeys {
		d, err := base64.StdEncoding.DecodeString(k.Digest)
		if err != nil {
			bad = append(bad, FieldError{Field: "match_keys[" + strconv.Itoa(i) + "].digest", Reason: "not base64"})
		}
		keys[i] = linkage.Digest{Kind: linkage.KeyKind(k.Kind), Digest: d}
	}
	set.Keys = keys
	if r.Attributes == nil {
		bad = append(bad, FieldError{Field: "attributes", Reason: "required with match_keys"})
	} else {
		a := r.Attributes
		set.Attrs = linkage.Attributes{Sex: a.Sex, BirthYear: a.BirthYear, BirthMonth: a.BirthMonth, CitizenshipGroup: a.CitizenshipGroup}
	}
	return set, bad
}

// resolveKeys answers POST /v1/tokens for a blind-mode identity.
func (s *Server) resolveKeys(c *gin.Context, item identityRequest) {
	set, bad := item.toKeySet()
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, _ := principal(c)
	rs, err := s.linkage.ResolveKeys(c.Request.Context(), p.Org, []linkage.KeySet{set}, s.resolvedEvents(c, ActionTokensResolve))
	if err != nil {
		_ = c.Error(err)
		return
	}
	if vp, ok := validationProblem(rs[0].Err, ""); ok {
		_ = c.Error(vp)
		return
	}
	c.JSON(http.StatusOK, tokenResponse{Token: rs[0].Token.String(), Status: string(rs[0].Status)})
}

// resolveKeysBatch answers POST /v1/tokens/batch for blind-mode items,
// item by item.
func (s *Server) resolveKeysBatch(c *gin.Context, items []identityRequest) {
	resp := batchResponse{Results: make([]batchItem, len(items))}
	var (
		sets []linkage.KeySet
		at   []int // index in items of each of sets
	)
	for i, it := range items {
		resp.Results[i].Index = i
		if !it.blind() {
			_ = c.Error(errValidation(FieldError{Field: "identities[" + strconv.Itoa(i) + "]",
				Reason: "a batch holds identities or match keys, not both"}))
			return
		}
		set, bad := it.toKeySet()
		if len(bad) > 0 {
			pr, _, _ := toProblem(errValidation(bad...))
			resp.Results[i].Error = &pr
			continue
		}
		sets = append(sets, set)
		at = append(at, i)
	}
	// The audit events name the item's index in the request, not in sets.
	events := s.resolvedEvents(c, ActionTokensResolve)
	hook := func(ctx context.Context, rs []linkage.Result) error {
		mapped := make([]linkage.Result, len(rs))
		for j, r := range rs {
			mapped[j] = r
			mapped[j].Index = at[r.Index]
		}
		return events(ctx, mapped)
	}
	p, _ := principal(c)
	rs, err := s.linkage.ResolveKeys(c.Request.Context(), p.Org, sets, hook)
	if err != nil {
		_ = c.Error(err)
		return
	}
	for j, r := range batchResponseOf(rs).Results {
		r.Index = at[j]
		resp.Results[at[j]] = r
	}
	c.JSON(http.StatusOK, resp)
}

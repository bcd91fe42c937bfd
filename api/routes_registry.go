package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/registry"
)

// The registry of facilities (ASSO). A facility is named in paths by its
// regional code (ASSO-000123) or, before approval and forever after, by
// its draft reference (DRAFT-000045); a facility operator's org is one of
// the two. Edits are JSON merge patches (RFC 7396) guarded by the ETag of
// the version read.

func (s *Server) registryRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/facilities", ActionFacilitiesList, s.listFacilities)
	s.handle(g, http.MethodPost, "/facilities", ActionFacilitiesCreate, s.createFacility)
	s.handle(g, http.MethodGet, "/facilities/:code", ActionFacilitiesRead, s.getFacility)
	s.handle(g, http.MethodPatch, "/facilities/:code", ActionFacilitiesUpdate, s.updateFacility, "application/merge-patch+json", "application/json")
	s.handle(g, http.MethodGet, "/facilities/:code/history", ActionFacilitiesHistory, s.facilityHistory)
	for _, t := range registry.Transitions {
		s.handle(g, http.MethodPost, "/facilities/:code/"+string(t), transitionActions[t], s.transitionFacility(t))
	}
	s.handle(g, http.MethodGet, "/registry/code-lists", ActionRegistryCodeLists, s.registryCodeLists)
}

var transitionActions = map[registry.Change]Action{
	registry.ChangeSubmit:  ActionFacilitiesSubmit,
	registry.ChangeReturn:  ActionFacilitiesReturn,
	registry.ChangeApprove: ActionFacilitiesApprove,
	registry.ChangeSuspend: ActionFacilitiesSuspend,
	registry.ChangeReopen:  ActionFacilitiesReopen,
	registry.ChangeClose:   ActionFacilitiesClose,
}

type operatorBody struct {
	Name        string `json:"name"`
	LegalNature string `json:"legal_nature"`
	TaxNumber   string `json:"tax_number"`
}

type addressBody struct {
	Street       string `json:"street"`
	Postcode     string `json:"postcode"`
	Municipality string `json:"municipality"`
}

type authorisationBody struct {
	Status string  `json:"status"`
	Date   *string `json:"date"`
	Act    string  `json:"act"`
}

type accreditationBody struct {
	Accredited bool    `json:"accredited"`
	Date       *string `json:"date"`
	Act        string  `json:"act"`
}

type targetBody struct {
	MinAge                     int  `json:"min_age"`
	MaxAge                     int  `json:"max_age"`
	MothersWithChildren        bool `json:"mothers_with_children"`
	UnaccompaniedForeignMinors bool `json:"unaccompanied_foreign_minors"`
}

type contactsBody struct {
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// facilityBody is what a client writes: the body of POST /v1/facilities,
// and the document a PATCH merges into.
type facilityBody struct {
	Name             string            `json:"name"`
	Typology         string            `json:"typology"`
	Operator         operatorBody      `json:"operator"`
	Address          addressBody       `json:"address"`
	Zone             string            `json:"zone"`
	Authorisation    authorisationBody `json:"authorisation"`
	Accreditation    accreditationBody `json:"accreditation"`
	AuthorisedPlaces int               `json:"authorised_places"`
	Target           targetBody        `json:"target"`
	Contacts         contactsBody      `json:"contacts"`
}

func dateBody(d registry.Date) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

func toFacilityBody(d registry.Data) facilityBody {
	return facilityBody{
		Name: d.Name, Typology: d.Typology,
		Operator: operatorBody{Name: d.Operator.Name, LegalNature: d.Operator.LegalNature, TaxNumber: d.Operator.TaxNumber},
		Address:  addressBody{Street: d.Address.Street, Postcode: d.Address.Postcode, Municipality: d.Address.Municipality},
		Zone:     d.Zone,
		Authorisation: authorisationBody{Status: string(d.Authorisation.Status), Date: dateBody(d.Authorisation.Date),
			Act: d.Authorisation.Act},
		Accreditation: accreditationBody{Accredited: d.Accreditation.Accredited, Date: dateBody(d.Accreditation.Date),
			Act: d.Accreditation.Act},
		AuthorisedPlaces: d.AuthorisedPlaces,
		Target: targetBody{MinAge: d.Target.MinAge, MaxAge: d.Target.MaxAge, MothersWithChildren: d.Target.MothersWithChildren,
			UnaccompaniedForeignMinors: d.Target.UnaccompaniedForeignMinors},
		Contacts: contactsBody{Email: d.Contacts.Email, Phone: d.Contacts.Phone},
	}
}

// toData converts b; the dates that are not dates are named.
func (b facilityBody) toData() (registry.Data, error) {
	var bad []FieldError
	date := func(field string, s *string) registry.Date {
		if s == nil || *s == "" {
			return registry.Date{}
		}
		d, err := registry.ParseDate(*s)
		if err != nil {
			bad = append(bad, FieldError{Field: field, Reason: "must be a date YYYY-MM-DD"})
		}
		return d
	}
	d := registry.Data{
		Name: b.Name, Typology: b.Typology,
		Operator: registry.Operator{Name: b.Operator.Name, LegalNature: b.Operator.LegalNature, TaxNumber: b.Operator.TaxNumber},
		Address:  registry.Address{Street: b.Address.Street, Postcode: b.Address.Postcode, Municipality: b.Address.Municipality},
		Zone:     b.Zone,
		Authorisation: registry.Authorisation{Status: registry.AuthorisationStatus(b.Authorisation.Status),
			Date: date("authorisation.date", b.Authorisation.Date), Act: b.Authorisation.Act},
		Accreditation: registry.Accreditation{Accredited: b.Accreditation.Accredited,
			Date: date("accreditation.date", b.Accreditation.Date), Act: b.Accreditation.Act},
		AuthorisedPlaces: b.AuthorisedPlaces,
		Target: registry.Target{MinAge: b.Target.MinAge, MaxAge: b.Target.MaxAge, MothersWithChildren: b.Target.MothersWithChildren,
			UnaccompaniedForeignMinors: b.Target.UnaccompaniedForeignMinors},
		Contacts: registry.Contacts{Email: b.Contacts.Email, Phone: b.Contacts.Phone},
	}
	if len(bad) > 0 {
		return registry.Data{}, errValidation(bad...)
	}
	return d, nil
}

type facilityResponse struct {
	// Code is the regional code, absent until approval.
	Code     string `json:"code,omitempty"`
	DraftRef string `json:"draft_ref"`
	Version  int    `json:"version"`
	Status   string `json:"status"`
	facilityBody
	// OccupiedPlaces comes live from ASMI stays; null while the registry
	// has no source for it (never a copied or made-up count).
	OccupiedPlaces *int      `json:"occupied_places"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func toFacilityResponse(f registry.Facility, occupied map[registry.ID]int, known bool) facilityResponse {
	r := facilityResponse{Code: string(f.Code), DraftRef: f.ID.DraftRef(), Version: f.Version, Status: string(f.Status),
		facilityBody: toFacilityBody(f.Data), UpdatedAt: f.ValidFrom.UTC()}
	if known {
		n := occupied[f.ID]
		r.OccupiedPlaces = &n
	}
	return r
}

type facilityPage struct {
	Facilities []facilityResponse `json:"facilities"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

type facilityVersionResponse struct {
	facilityResponse
	Change      string     `json:"change"`
	ChangedBy   string     `json:"changed_by"`
	ChangedRole string     `json:"changed_role"`
	Note        string     `json:"note,omitempty"`
	ValidFrom   time.Time  `json:"valid_from"`
	ValidTo     *time.Time `json:"valid_to"`
}

type facilityHistoryResponse struct {
	Code     string                    `json:"code,omitempty"`
	DraftRef string                    `json:"draft_ref"`
	Versions []facilityVersionResponse `json:"versions"`
}

// validIdempotencyKey bounds an Idempotency-Key to what a client may
// reasonably send (a UUID, a hash, a counter).
var validIdempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

func etag(f registry.Facility) string { return `"v` + strconv.Itoa(f.Version) + `"` }

// visibility is what the principal may see of the registry.
func visibility(p authn.Principal) registry.Visibility {
	if p.Role == authn.RoleAdmin {
		return registry.Visibility{All: true}
	}
	if p.Role == authn.RoleFacilityOperator {
		return registry.Visibility{Org: p.Org}
	}
	return registry.Visibility{}
}

func actor(p authn.Principal) registry.Actor {
	return registry.Actor{Subject: p.Subject, Role: string(p.Role), Org: p.Org, Region: p.Role == authn.RoleAdmin}
}

// facilityProblem maps the registry's errors to problems; the ones it does
// not know go on to errorCodes.
func facilityProblem(err error) error {
	var (
		ve *registry.ValidationError
		te *registry.TransitionError
		re *registry.RestrictedError
	)
	switch {
	case errors.As(err, &ve):
		fs := make([]FieldError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			fs = append(fs, FieldError{Field: f.Field, Reason: f.Reason})
		}
		return errValidation(fs...)
	case errors.As(err, &te):
		return newError(http.StatusConflict, "invalid-transition", "Not allowed in this state",
			fmt.Sprintf("the facility is %s: cannot %s it", te.From, te.Action))
	case errors.As(err, &re):
		return errForbidden(re.Error())
	case errors.Is(err, registry.ErrNotOwner):
		return errForbidden("a facility operator may change only its own facility")
	case errors.Is(err, registry.ErrKeyReused):
		return newError(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency key reused",
			"this Idempotency-Key was used for a different request")
	case errors.Is(err, registry.ErrStale):
		return newError(http.StatusPreconditionFailed, "stale", "Precondition failed",
			"the facility has changed since the version in If-Match: read it again")
	}
	return err
}

// facilityRef reads the :code path parameter; anything that names no
// facility is a 404.
func facilityRef(c *gin.Context) (registry.Ref, error) {
	ref, err := registry.ParseRef(c.Param("code"))
	if err != nil {
		return registry.Ref{}, newError(http.StatusNotFound, "not-found", "Not found", "no such facility")
	}
	return ref, nil
}

// facilityEvent writes the audit event of a change in its transaction.
func (s *Server) facilityEvent(c *gin.Context, action Action, status int) registry.Hook {
	return func(ctx context.Context, f registry.Facility) error {
		e := s.event(c, action, audit.OutcomeAllowed, status)
		e.ObjectType, e.ObjectID = "facility", f.ID.DraftRef()
		if f.Code != "" {
			e.ObjectID = string(f.Code)
		}
		if _, err := s.audit.Append(ctx, e); err != nil {
			return err
		}
		c.Set(ctxAudited, true)
		return nil
	}
}

func (s *Server) createFacility(c *gin.Context) {
	var b facilityBody
	if err := decodeJSON(c, &b); err != nil {
		_ = c.Error(err)
		return
	}
	d, err := b.toData()
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	hook := s.facilityEvent(c, ActionFacilitiesCreate, http.StatusCreated)
	var f registry.Facility
	if key := c.GetHeader("Idempotency-Key"); key != "" {
		if !validIdempotencyKey.MatchString(key) {
			_ = c.Error(errBadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters"))
			return
		}
		// The hash of the decoded body: a retry that formats the same
		// facility differently is still the same request.
		canonical, err := json.Marshal(b)
		if err != nil {
			_ = c.Error(err)
			return
		}
		sum := sha256.Sum256(canonical)
		owner := string(p.Role) + "|" + p.Org + "|" + p.Subject
		var replayed bool
		f, replayed, err = s.registry.CreateOnce(c.Request.Context(), actor(p), owner, key, sum[:], d, hook)
		if err != nil {
			_ = c.Error(facilityProblem(err))
			return
		}
		if replayed {
			c.Header("Idempotent-Replayed", "true")
		}
	} else if f, err = s.registry.Create(c.Request.Context(), actor(p), d, "", hook); err != nil {
		_ = c.Error(facilityProblem(err))
		return
	}
	c.Header("ETag", etag(f))
	c.Header("Location", "/v1/facilities/"+f.ID.DraftRef())
	c.JSON(http.StatusCreated, toFacilityResponse(f, nil, false))
}

func (s *Server) getFacility(c *gin.Context) {
	ref, err := facilityRef(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	if len(c.Request.URL.Query()) > 0 {
		_ = c.Error(errBadRequest("this endpoint takes no parameters; use GET /v1/facilities?as_of= for past versions"))
		return
	}
	p, _ := principal(c)
	f, err := s.registry.Get(c.Request.Context(), ref, visibility(p))
	if err != nil {
		_ = c.Error(facilityProblem(err))
		return
	}
	occ, known, err := s.registry.Occupied(c.Request.Context(), []registry.Facility{f})
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("ETag", etag(f))
	c.JSON(http.StatusOK, toFacilityResponse(f, occ, known))
}

// ifMatch reads the version an edit is based on: required (428) for
// PATCH, optional for workflow actions (0 when absent).
func ifMatch(c *gin.Context, required bool) (int, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		if required {
			return 0, newError(http.StatusPreconditionRequired, "precondition-required", "Precondition required",
				"send If-Match with the ETag of the version you read, so that no one's change is overwritten")
		}
		return 0, nil
	}
	// A weak or unknown tag never matches: strong comparison (RFC 9110 §13.1.1).
	if n, ok := strings.CutPrefix(h, `"v`); ok {
		if v, err := strconv.Atoi(strings.TrimSuffix(n, `"`)); err == nil && strings.HasSuffix(n, `"`) && v > 0 {
			return v, nil
		}
	}
	return 0, newError(http.StatusPreconditionFailed, "stale", "Precondition failed",
		"If-Match does not name a version of this facility: read it again")
}

func (s *Server) updateFacility(c *gin.Context) {
	ref, err := facilityRef(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	version, err := ifMatch(c, true)
	if err != nil {
		_ = c.Error(err)
		return
	}
	var patch map[string]any
	if err := decodeJSON(c, &patch); err != nil {
		_ = c.Error(err)
		return
	}
	if patch == nil {
		_ = c.Error(errBadRequest("the body must be a JSON object (a merge patch)"))
		return
	}
	p, _ := principal(c)
	apply := func(cur registry.Data) (registry.Data, error) { return mergeFacility(cur, patch) }
	f, err := s.registry.Update(c.Request.Context(), actor(p), ref, version, apply, "", s.facilityEvent(c, ActionFacilitiesUpdate, http.StatusOK))
	if err != nil {
		_ = c.Error(facilityProblem(err))
		return
	}
	c.Header("ETag", etag(f))
	c.JSON(http.StatusOK, toFacilityResponse(f, nil, false))
}

// mergeFacility applies a JSON merge patch (RFC 7396) to the client's view
// of cur and reads the result back strictly, so that an unknown or
// mistyped field is named.
func mergeFacility(cur registry.Data, patch map[string]any) (registry.Data, error) {
	raw, err := json.Marshal(toFacilityBody(cur))
	if err != nil {
		return registry.Data{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return registry.Data{}, err
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		return registry.Data{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	var b facilityBody
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return registry.Data{}, errValidation(FieldError{Field: te.Field, Reason: "must be of JSON type " + jsonKind(te.Type.Kind().String())})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return registry.Data{}, errValidation(FieldError{Field: name, Reason: "unknown field, or not one a client may change"})
		}
		return registry.Data{}, errBadRequest("the merge patch does not apply to a facility")
	}
	return b.toData()
}

// mergePatch is RFC 7396's MergePatch: objects merge member by member,
// null removes, anything else replaces.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

type transitionBody struct {
	Note string `json:"note"`
}

func (s *Server) transitionFacility(t registry.Change) gin.HandlerFunc {
	action := transitionActions[t]
	return func(c *gin.Context) {
		ref, err := facilityRef(c)
		if err != nil {
			_ = c.Error(err)
			return
		}
		version, err := ifMatch(c, false)
		if err != nil {
			_ = c.Error(err)
			return
		}
		var b transitionBody
		if c.Request.ContentLength != 0 {
			if err := decodeJSON(c, &b); err != nil {
				_ = c.Error(err)
				return
			}
		}
		if len(b.Note) > 1000 {
			_ = c.Error(errValidation(FieldError{Field: "note", Reason: "at most 1000 characters"}))
			return
		}
		p, _ := principal(c)
		f, err := s.registry.Transition(c.Request.Context(), actor(p), ref, t, version, strings.TrimSpace(b.Note), s.facilityEvent(c, action, http.StatusOK))
		if err != nil {
			_ = c.Error(facilityProblem(err))
			return
		}
		c.Header("ETag", etag(f))
		c.JSON(http.StatusOK, toFacilityResponse(f, nil, false))
	}
}

func (s *Server) facilityHistory(c *gin.Context) {
	ref, err := facilityRef(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	if len(c.Request.URL.Query()) > 0 {
		_ = c.Error(errBadRequest("this endpoint takes no parameters"))
		return
	}
	p, _ := principal(c)
	fs, err := s.registry.History(c.Request.Context(), ref, visibility(p))
	if err != nil {
		_ = c.Error(facilityProblem(err))
		return
	}
	last := fs[len(fs)-1]
	resp := facilityHistoryResponse{Code: string(last.Code), DraftRef: last.ID.DraftRef(), Versions: make([]facilityVersionResponse, 0, len(fs))}
	for _, f := range fs {
		v := facilityVersionResponse{facilityResponse: toFacilityResponse(f, nil, false), Change: string(f.Change),
			ChangedBy: f.ChangedBy, ChangedRole: f.ChangedRole, Note: f.Note, ValidFrom: f.ValidFrom.UTC()}
		if !f.ValidTo.IsZero() {
			to := f.ValidTo.UTC()
			v.ValidTo = &to
		}
		resp.Versions = append(resp.Versions, v)
	}
	c.JSON(http.StatusOK, resp)
}

// maxSearchText bounds the text of a name search.
const maxSearchText = 100

// parseFacilityQuery reads the search parameters; every bad one is named.
func (s *Server) parseFacilityQuery(c *gin.Context) (registry.Query, error) {
	codes := s.registry.Codes()
	q := registry.Query{Zone: c.Query("zone"), Typology: c.Query("typology"), Municipality: c.Query("municipality"),
		Status: registry.Status(c.Query("status")), Text: strings.TrimSpace(c.Query("q")), Limit: registry.DefaultLimit}
	var bad []FieldError
	if _, ok := codes.Zone(q.Zone); q.Zone != "" && !ok {
		bad = append(bad, FieldError{Field: "zone", Reason: "unknown zone code"})
	}
	if _, ok := codes.Typology(q.Typology); q.Typology != "" && !ok {
		bad = append(bad, FieldError{Field: "typology", Reason: "unknown typology code"})
	}
	if _, ok := codes.Municipality(q.Municipality); q.Municipality != "" && !ok {
		bad = append(bad, FieldError{Field: "municipality", Reason: "not the ISTAT code of a Tuscan municipality"})
	}
	if q.Status != "" && !q.Status.Valid() {
		bad = append(bad, FieldError{Field: "status", Reason: "must be one of draft, submitted, active, suspended, closed"})
	}
	if len([]rune(q.Text)) > maxSearchText {
		bad = append(bad, FieldError{Field: "q", Reason: "at most " + strconv.Itoa(maxSearchText) + " characters"})
	}
	if v := c.Query("as_of"); v != "" {
		d, err := registry.ParseDate(v)
		switch {
		case err != nil:
			bad = append(bad, FieldError{Field: "as_of", Reason: "must be a date YYYY-MM-DD"})
		case d.Format(time.DateOnly) > time.Now().In(registry.Rome).Format(time.DateOnly):
			bad = append(bad, FieldError{Field: "as_of", Reason: "must not be in the future"})
		}
		q.AsOf = d
	}
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, FieldError{Field: "cursor", Reason: "not a cursor returned by this endpoint"})
		}
		q.After = registry.ID(n)
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > registry.MaxLimit {
			bad = append(bad, FieldError{Field: "limit", Reason: "must be an integer from 1 to " + strconv.Itoa(registry.MaxLimit)})
		}
		q.Limit = n
	}
	bad = append(bad, queryProblems(c, []string{"zone", "typology", "municipality", "status", "q", "as_of", "cursor", "limit"}, "")...)
	return q, badQuery(bad)
}

func (s *Server) listFacilities(c *gin.Context) {
	q, err := s.parseFacilityQuery(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	q.Visibility = visibility(p)
	fs, next, err := s.registry.Search(c.Request.Context(), q)
	if err != nil {
		_ = c.Error(err)
		return
	}
	// Occupancy is live: for a past date it is not known here.
	var (
		occ   map[registry.ID]int
		known bool
	)
	if q.AsOf.IsZero() {
		if occ, known, err = s.registry.Occupied(c.Request.Context(), fs); err != nil {
			_ = c.Error(err)
			return
		}
	}
	resp := facilityPage{Facilities: make([]facilityResponse, 0, len(fs))}
	for _, f := range fs {
		resp.Facilities = append(resp.Facilities, toFacilityResponse(f, occ, known))
	}
	if next > 0 {
		resp.NextCursor = strconv.FormatInt(int64(next), 10)
	}
	c.JSON(http.StatusOK, resp)
}

type codeItem struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

type zoneItem struct {
	Code       string   `json:"code"`
	Name       string   `json:"name"`
	AziendaUSL string   `json:"azienda_usl"`
	Provinces  []string `json:"provinces"`
}

type typologyItem struct {
	Code      string `json:"code"`
	Label     string `json:"label"`
	Kind      string `json:"kind"`
	MaxPlaces int    `json:"max_places,omitempty"`
}

type municipalityItem struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Province string `json:"province"`
	Zone     string `json:"zone"`
}

type codeListsResponse struct {
	Zones                 []zoneItem         `json:"zones"`
	Typologies            []typologyItem     `json:"typologies"`
	Municipalities        []municipalityItem `json:"municipalities"`
	LegalNatures          []codeItem         `json:"legal_natures"`
	AuthorisationStatuses []string           `json:"authorisation_statuses"`
	Statuses              []string           `json:"statuses"`
}

func (s *Server) registryCodeLists(c *gin.Context) {
	codes := s.registry.Codes()
	var r codeListsResponse
	for _, z := range codes.Zones {
		r.Zones = append(r.Zones, zoneItem{Code: z.Code, Name: z.Name, AziendaUSL: z.AziendaUSL, Provinces: z.Provinces})
	}
	for _, t := range codes.Typologies {
		r.Typologies = append(r.Typologies, typologyItem{Code: t.Code, Label: t.Label, Kind: t.Kind, MaxPlaces: t.MaxPlaces})
	}
	for _, m := range codes.Municipalities {
		r.Municipalities = append(r.Municipalities, municipalityItem{Code: m.Code, Name: m.Name, Province: m.Province, Zone: m.Zone})
	}
	for _, l := range registry.LegalNatures {
		r.LegalNatures = append(r.LegalNatures, codeItem{Code: l.Code, Label: l.Label})
	}
	for _, a := range registry.AuthorisationStatuses {
		r.AuthorisationStatuses = append(r.AuthorisationStatuses, string(a))
	}
	for _, st := range registry.Statuses {
		r.Statuses = append(r.Statuses, string(st))
	}
	c.Header("Cache-Control", "private, max-age=3600")
	c.JSON(http.StatusOK, r)
}

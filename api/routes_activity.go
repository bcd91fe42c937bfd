package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// SINBA case files (/v1/cases, services), ASMI stays (/v1/admissions,
// facilities), the minor's joined view (/v1/minors/{token}), the events of
// the responsible services (/v1/events), merge conflicts for the data
// steward and SINBA flow ingestion (/v1/sinba/flows). Minors are named by
// the caller's own tokens; responses never carry a person id.

// MaxFlowBytes bounds the body of POST /v1/sinba/flows, which is read as
// a stream: a 10 MB flow fits.
const MaxFlowBytes = 16 << 20

// flowDeadline bounds the time to receive and apply one flow.
const flowDeadline = 15 * time.Minute

// Event long-poll and page bounds.
const (
	maxEventWait   = 30 * time.Second
	defaultEvents  = 100
	maxEvents      = 1000
	maxStayPage    = 500
	defaultConfPag = 100
)

func (s *Server) activityRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodPost, "/cases", ActionCasesCreate, s.openCase)
	s.handle(g, http.MethodGet, "/cases", ActionCasesList, s.listCases)
	s.handle(g, http.MethodGet, "/cases/:id", ActionCasesRead, s.getCase)
	s.handle(g, http.MethodPatch, "/cases/:id", ActionCasesUpdate, s.updateCase)
	s.handle(g, http.MethodPost, "/cases/:id/interventions", ActionCasesUpdate, s.addEntry(activity.EntryIntervention))
	s.handle(g, http.MethodPost, "/cases/:id/foster-care", ActionCasesUpdate, s.addEntry(activity.EntryFosterCare))
	s.handle(g, http.MethodPost, "/cases/:id/court-measures", ActionCasesUpdate, s.addEntry(activity.EntryCourtMeasure))
	s.handle(g, http.MethodPost, "/cases/:id/transfer", ActionCasesTransfer, s.transferCase)
	s.handle(g, http.MethodPost, "/cases/:id/accept", ActionCasesAccept, s.acceptCase)
	s.handle(g, http.MethodPost, "/cases/:id/close", ActionCasesClose, s.closeCase)

	s.handle(g, http.MethodPost, "/admissions", ActionAdmissionsCreate, s.admit)
	s.handle(g, http.MethodGet, "/admissions", ActionAdmissionsList, s.listStays)
	s.handle(g, http.MethodGet, "/admissions/:id", ActionAdmissionsRead, s.getStay)
	s.handle(g, http.MethodPost, "/admissions/:id/discharge", ActionAdmissionsDischarge, s.discharge)
	s.handle(g, http.MethodPost, "/admissions/:id/activities", ActionAdmissionsActivity, s.addActivity)

	s.handle(g, http.MethodGet, "/minors/:token", ActionMinorsRead, s.getMinor)
	s.handle(g, http.MethodGet, "/events", ActionEventsList, s.listEvents)
	s.handle(g, http.MethodGet, "/activity/conflicts", ActionConflictsList, s.listConflicts)
	s.handle(g, http.MethodGet, "/activity/code-lists", ActionActivityCodeLists, s.activityCodeLists)
	s.handleLarge(g, http.MethodPost, "/sinba/flows", ActionFlowsSubmit, MaxFlowBytes, s.submitFlow,
		"application/xml", "text/xml", "application/json")
}

// ---- wiring ----

// onMerge lets activity follow linkage's merges and undos.
func (s *Server) onMerge(e linkage.MergeEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.activity.HandleMerge(ctx, e); err != nil {
		s.log.Error("activity: follow merge", "merge_id", e.MergeID, "kind", string(e.Kind), "err", err.Error())
	}
}

// ---- shared helpers ----

func activityActor(p authn.Principal) activity.Actor {
	return activity.Actor{Subject: p.Subject, Role: string(p.Role), Org: p.Org}
}

// activityProblem maps activity's errors to problems.
func activityProblem(err error) error {
	var ve *activity.ValidationError
	switch {
	case errors.As(err, &ve):
		fs := make([]FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fs[i] = FieldError{Field: f.Field, Reason: f.Reason}
		}
		return errValidation(fs...)
	case errors.Is(err, activity.ErrOpenStay):
		// Nothing about where: the other facility is none of the caller's business.
		return newError(http.StatusConflict, "open-stay", "Open stay exists", "this minor has an open stay; it must be discharged first")
	case errors.Is(err, activity.ErrOpenCase):
		return newError(http.StatusConflict, "open-case-file", "Open case file exists", "this minor already has an open case file in this zone")
	case errors.Is(err, activity.ErrFacilityInactive):
		return newError(http.StatusConflict, "facility-not-active", "Facility not active", "the facility is not active in the registry (draft, submitted, suspended or closed): it cannot admit")
	case errors.Is(err, activity.ErrClosed):
		return newError(http.StatusConflict, "closed", "Already closed", "the case file is closed or the stay has ended")
	case errors.Is(err, activity.ErrNoTransfer):
		return newError(http.StatusConflict, "no-transfer", "No transfer pending", "the case file is not being transferred to your zone")
	case errors.Is(err, activity.ErrFlowInProgress):
		return newError(http.StatusConflict, "flow-in-progress", "Flow in progress", "a flow with this Nome is being processed; retry later")
	case errors.Is(err, activity.ErrNotFound):
		return newError(http.StatusNotFound, "not-found", "Not found", "no such record for you")
	}
	return err
}

// personOf resolves a token of the caller's domain; 404 otherwise, whether
// malformed, unknown, retired or another domain's.
func (s *Server) personOf(c *gin.Context, field, tok string) (linkage.PersonID, error) {
	p, _ := principal(c)
	t, err := linkage.ParseToken(tok)
	if err == nil {
		var pid linkage.PersonID
		pid, err = s.linkage.PersonOf(c.Request.Context(), p.Org, t)
		if err == nil {
			return pid, nil
		}
	}
	if errors.Is(err, linkage.ErrNotFound) || errors.Is(err, linkage.ErrMalformed) {
		if field != "" {
			return linkage.PersonID{}, errValidation(FieldError{Field: field, Reason: "not a token of your domain"})
		}
		return linkage.PersonID{}, newError(http.StatusNotFound, "not-found", "Not found", "no such token in your domain")
	}
	return linkage.PersonID{}, err
}

// auditRef is the audit log's reference of the person p now is.
func (s *Server) auditRef(ctx context.Context, p linkage.PersonID) string {
	if cur, err := s.linkage.CurrentPerson(ctx, p); err == nil {
		p = cur
	}
	return s.linkage.AuditRef(p)
}

// activityHook writes the audit event of a change in its transaction.
func (s *Server) activityHook(c *gin.Context, action Action, status int, objectType string, objectID func() string) activity.Hook {
	return func(ctx context.Context, p linkage.PersonID) error {
		e := s.event(c, action, audit.OutcomeAllowed, status)
		e.ObjectType, e.PersonRef = objectType, s.auditRef(ctx, p)
		if objectID != nil {
			e.ObjectID = objectID()
		}
		if _, err := s.audit.Append(ctx, e); err != nil {
			return err
		}
		c.Set(ctxAudited, true)
		return nil
	}
}

func dateOut(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

// parseDate reads a YYYY-MM-DD field; empty is the zero time.
func parseDate(bad *[]FieldError, field, v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := activity.ParseDate(v)
	if err != nil {
		*bad = append(*bad, FieldError{Field: field, Reason: "must be a date YYYY-MM-DD"})
	}
	return t
}

func idParam(c *gin.Context) (int64, error) {
	n, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, newError(http.StatusNotFound, "not-found", "Not found", "no such record for you")
	}
	return n, nil
}

// decodeAttributes reads a SINBA record in its JSON form, naming bad
// fields under "attributes.".
// idAndBody reads the {id} path parameter and the JSON body into v; on a
// bad one it records the problem and returns false.
func idAndBody(c *gin.Context, v any) (int64, bool) {
	id, err := idParam(c)
	if err == nil {
		err = decodeJSON(c, v)
	}
	if err != nil {
		_ = c.Error(err)
		return 0, false
	}
	return id, true
}

func decodeAttributes(raw json.RawMessage) (sinba.Record, error) {
	var rec sinba.Record
	if len(raw) == 0 || string(raw) == "null" {
		return rec, errValidation(FieldError{Field: "attributes", Reason: "required: the SINBA attributes of the file"})
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&rec)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &typeErr):
		return rec, errValidation(FieldError{Field: "attributes." + typeErr.Field, Reason: "must be of JSON type " + jsonKind(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return rec, errValidation(FieldError{Field: "attributes." + name, Reason: "unknown SINBA attribute"})
	default:
		return rec, errValidation(FieldError{Field: "attributes", Reason: "must be an object of SINBA attributes"})
	}
	if rec.IDBeneficiario != "" {
		return rec, errValidation(FieldError{Field: "attributes.id_beneficiario", Reason: "not part of a case file: give the token as token"})
	}
	return rec, nil
}

// ---- case files ----

type caseRequest struct {
	Token      string          `json:"token"`
	OpenedOn   string          `json:"opened_on"`
	Attributes json.RawMessage `json:"attributes"`
}

type caseUpdateRequest struct {
	Attributes json.RawMessage `json:"attributes"`
}

type closureResponse struct {
	Reason         string `json:"reason"`
	ReasonLabel    string `json:"reason_label"`
	Situation      string `json:"situation,omitempty"`
	SituationLabel string `json:"situation_label,omitempty"`
}

type entryResponse struct {
	ID        int64             `json:"id"`
	StartDate string            `json:"start_date"`
	EndDate   *string           `json:"end_date"`
	Codes     map[string]string `json:"codes"`
	Labels    map[string]string `json:"labels"`
}

type caseResponse struct {
	ID            int64            `json:"id"`
	Zone          string           `json:"zone"`
	Status        string           `json:"status"`
	OpenedOn      string           `json:"opened_on"`
	ClosedOn      *string          `json:"closed_on"`
	Closure       *closureResponse `json:"closure,omitempty"`
	TransferTo    string           `json:"transfer_to,omitempty"`
	Attributes    json.RawMessage  `json:"attributes"`
	Interventions []entryResponse  `json:"interventions"`
	FosterCare    []entryResponse  `json:"foster_care"`
	CourtMeasures []entryResponse  `json:"court_measures"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

func toEntryResponse(k activity.EntryKind, e activity.Entry) entryResponse {
	r := entryResponse{ID: e.ID, StartDate: e.Start.Format(time.DateOnly), EndDate: dateOut(e.End), Codes: e.Codes, Labels: map[string]string{}}
	if r.Codes == nil {
		r.Codes = map[string]string{}
	}
	for _, f := range activity.EntryFields[k] {
		if v, ok := e.Codes[f.Name]; ok {
			r.Labels[f.Name] = f.List.Label(v)
		}
	}
	return r
}

func toCaseResponse(cf activity.CaseFile) caseResponse {
	r := caseResponse{ID: int64(cf.ID), Zone: cf.Zone, Status: "open", OpenedOn: cf.Opened.Format(time.DateOnly), ClosedOn: dateOut(cf.Closed),
		TransferTo: cf.TransferTo, UpdatedAt: cf.UpdatedAt.UTC(),
		Interventions: []entryResponse{}, FosterCare: []entryResponse{}, CourtMeasures: []entryResponse{}}
	if cf.TransferTo != "" {
		r.Status = "transfer_pending"
	}
	if !cf.Open() {
		r.Status = "closed"
		r.Closure = &closureResponse{Reason: string(cf.Closure.Reason), ReasonLabel: cf.Closure.Reason.Label(),
			Situation: string(cf.Closure.Situation), SituationLabel: cf.Closure.Situation.Label()}
	}
	rec := cf.Record
	rec.IDBeneficiario = ""
	raw, _ := json.Marshal(rec)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	delete(m, "id_beneficiario")
	r.Attributes, _ = json.Marshal(m)
	for _, e := range cf.Entries {
		er := toEntryResponse(e.Kind, e)
		switch e.Kind {
		case activity.EntryIntervention:
			r.Interventions = append(r.Interventions, er)
		case activity.EntryFosterCare:
			r.FosterCare = append(r.FosterCare, er)
		case activity.EntryCourtMeasure:
			r.CourtMeasures = append(r.CourtMeasures, er)
		}
	}
	return r
}

func caseObject(id activity.CaseID) func() string {
	return func() string { return "case:" + strconv.FormatInt(int64(id), 10) }
}

func (s *Server) openCase(c *gin.Context) {
	var req caseRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	var bad []FieldError
	if req.Token == "" {
		bad = append(bad, FieldError{Field: "token", Reason: "required"})
	}
	opened := parseDate(&bad, "opened_on", req.OpenedOn)
	rec, err := decodeAttributes(req.Attributes)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			bad = append(bad, he.fields...)
		}
	}
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, err := s.personOf(c, "token", req.Token)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Set(ctxPerson, s.auditRef(c.Request.Context(), p))
	if opened.IsZero() {
		opened = s.activity.Today()
	}
	pr, _ := principal(c)
	var id activity.CaseID
	cf, err := s.activity.OpenCase(c.Request.Context(), activityActor(pr), p, opened, rec,
		s.activityHook(c, ActionCasesCreate, http.StatusCreated, "case_file", func() string { return "" }))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	id = cf.ID
	c.Header("Location", "/v1/cases/"+strconv.FormatInt(int64(id), 10))
	c.JSON(http.StatusCreated, toCaseResponse(cf))
}

type casePage struct {
	CaseFiles  []caseResponse `json:"case_files"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// pageQuery reads status (open or all), cursor and limit.
func pageQuery(c *gin.Context) (openOnly bool, before int64, limit int, err error) {
	var bad []FieldError
	limit = defaultEvents
	for name := range c.Request.URL.Query() {
		if name != "status" && name != "cursor" && name != "limit" {
			bad = append(bad, FieldError{Field: name, Reason: "unknown parameter"})
		}
	}
	status := c.Query("status")
	if status != "" && status != "open" && status != "all" {
		bad = append(bad, FieldError{Field: "status", Reason: "must be open or all"})
	}
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, FieldError{Field: "cursor", Reason: "not a cursor returned by this endpoint"})
		}
		before = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxStayPage {
			bad = append(bad, FieldError{Field: "limit", Reason: "must be an integer from 1 to " + strconv.Itoa(maxStayPage)})
		}
		limit = n
	}
	if len(bad) > 0 {
		return false, 0, 0, errBadRequest("invalid query parameters", bad...)
	}
	return status == "open", before, limit, nil
}

// listCases lists the files of the caller's zone (and those being
// transferred to it), newest first, without entries: a file is read whole
// by its id.
func (s *Server) listCases(c *gin.Context) {
	openOnly, before, limit, err := pageQuery(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	cs, err := s.activity.ZoneCaseFiles(c.Request.Context(), p.Org, openOnly, activity.CaseID(before), limit+1)
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	resp := casePage{CaseFiles: []caseResponse{}}
	for i, cf := range cs {
		if i == limit {
			resp.NextCursor = strconv.FormatInt(int64(cs[i-1].ID), 10)
			break
		}
		resp.CaseFiles = append(resp.CaseFiles, toCaseResponse(cf))
	}
	c.JSON(http.StatusOK, resp)
}

func (s *Server) getCase(c *gin.Context) {
	id, err := idParam(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	cf, err := s.activity.CaseFile(c.Request.Context(), p.Org, activity.CaseID(id))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.Set(ctxPerson, s.auditRef(c.Request.Context(), cf.Person))
	c.JSON(http.StatusOK, toCaseResponse(cf))
}

func (s *Server) updateCase(c *gin.Context) {
	var req caseUpdateRequest
	id, ok := idAndBody(c, &req)
	if !ok {
		return
	}
	rec, err := decodeAttributes(req.Attributes)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	cf, err := s.activity.UpdateCase(c.Request.Context(), activityActor(p), activity.CaseID(id), rec,
		s.activityHook(c, ActionCasesUpdate, http.StatusOK, "case_file", caseObject(activity.CaseID(id))))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	cf, err = s.activity.CaseFile(c.Request.Context(), p.Org, cf.ID)
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.JSON(http.StatusOK, toCaseResponse(cf))
}

// addEntry handles the three kinds of entries alike: a JSON object with
// start_date, end_date and the kind's coded fields, all strings.
func (s *Server) addEntry(kind activity.EntryKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body map[string]any
		id, ok := idAndBody(c, &body)
		if !ok {
			return
		}
		var bad []FieldError
		str := func(name string, v any) string {
			sv, ok := v.(string)
			if !ok {
				bad = append(bad, FieldError{Field: name, Reason: "must be of JSON type string"})
			}
			return sv
		}
		e := activity.Entry{Kind: kind, Codes: map[string]string{}}
		for name, v := range body {
			switch name {
			case "start_date":
				e.Start = parseDate(&bad, name, str(name, v))
			case "end_date":
				if v != nil {
					e.End = parseDate(&bad, name, str(name, v))
				}
			default:
				e.Codes[name] = str(name, v)
			}
		}
		if len(bad) > 0 {
			_ = c.Error(errValidation(bad...))
			return
		}
		p, _ := principal(c)
		out, err := s.activity.AddEntry(c.Request.Context(), activityActor(p), activity.CaseID(id), e,
			s.activityHook(c, ActionCasesUpdate, http.StatusCreated, "case_file", caseObject(activity.CaseID(id))))
		if err != nil {
			_ = c.Error(activityProblem(err))
			return
		}
		c.JSON(http.StatusCreated, toEntryResponse(kind, out))
	}
}

type transferRequest struct {
	ToZone string `json:"to_zone"`
}

func (s *Server) transferCase(c *gin.Context) {
	var req transferRequest
	id, ok := idAndBody(c, &req)
	if !ok {
		return
	}
	p, _ := principal(c)
	cf, err := s.activity.RequestTransfer(c.Request.Context(), activityActor(p), activity.CaseID(id), req.ToZone,
		s.activityHook(c, ActionCasesTransfer, http.StatusOK, "case_file", caseObject(activity.CaseID(id))))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.JSON(http.StatusOK, toCaseResponse(cf))
}

func (s *Server) acceptCase(c *gin.Context) {
	id, err := idParam(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	cf, err := s.activity.AcceptTransfer(c.Request.Context(), activityActor(p), activity.CaseID(id),
		s.activityHook(c, ActionCasesAccept, http.StatusOK, "case_file", caseObject(activity.CaseID(id))))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.JSON(http.StatusOK, toCaseResponse(cf))
}

type closeRequest struct {
	Date      string `json:"date"`
	Reason    string `json:"reason"`
	Situation string `json:"situation"`
}

func (s *Server) closeCase(c *gin.Context) {
	var req closeRequest
	id, ok := idAndBody(c, &req)
	if !ok {
		return
	}
	var bad []FieldError
	on := parseDate(&bad, "date", req.Date)
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, _ := principal(c)
	cf, err := s.activity.CloseCase(c.Request.Context(), activityActor(p), activity.CaseID(id), on,
		activity.Closure{Reason: sinba.MotivazioneChiusuraCarico(req.Reason), Situation: sinba.SituazioneChiusuraCarico(req.Situation)},
		s.activityHook(c, ActionCasesClose, http.StatusOK, "case_file", caseObject(activity.CaseID(id))))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.JSON(http.StatusOK, toCaseResponse(cf))
}

// ---- stays ----

type admissionRequest struct {
	Token         string `json:"token"`
	AdmissionDate string `json:"admission_date"`
	SendingZone   string `json:"sending_zone"`
	Form          string `json:"form"`
	WithParent    *bool  `json:"with_parent"`
	MSNA          *bool  `json:"msna"`
}

type activityResponse struct {
	ID      int64             `json:"id"`
	Kind    string            `json:"kind"`
	Date    string            `json:"date"`
	EndDate *string           `json:"end_date"`
	Fields  map[string]string `json:"fields"`
}

type stayResponse struct {
	ID            int64              `json:"id"`
	Facility      string             `json:"facility"`
	Status        string             `json:"status"`
	AdmissionDate string             `json:"admission_date"`
	SendingZone   string             `json:"sending_zone"`
	Form          string             `json:"form"`
	WithParent    bool               `json:"with_parent"`
	MSNA          bool               `json:"msna"`
	DischargeDate *string            `json:"discharge_date"`
	Outcome       string             `json:"outcome,omitempty"`
	OutcomeLabel  string             `json:"outcome_label,omitempty"`
	Activities    []activityResponse `json:"activities"`
	Warnings      []string           `json:"warnings,omitempty"`
}

func toActivityResponse(a activity.StayActivity) activityResponse {
	r := activityResponse{ID: a.ID, Kind: string(a.Kind), Date: a.Date.Format(time.DateOnly), EndDate: dateOut(a.End), Fields: a.Fields}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	return r
}

// facilityName returns the regional code (or draft reference) of f.
func (s *Server) facilityName(ctx context.Context, f registry.ID) string {
	if code, ok := s.facilityCodes.Load(f); ok {
		return code.(string)
	}
	fac, err := s.registry.Get(ctx, registry.Ref{ID: f}, registry.Visibility{All: true})
	if err != nil || fac.Code == "" {
		return f.DraftRef()
	}
	s.facilityCodes.Store(f, string(fac.Code))
	return string(fac.Code)
}

func (s *Server) toStayResponse(ctx context.Context, st activity.Stay) stayResponse {
	r := stayResponse{ID: int64(st.ID), Facility: s.facilityName(ctx, st.Facility), Status: "open",
		AdmissionDate: st.Admitted.Format(time.DateOnly), SendingZone: st.SendingZone, Form: string(st.Form),
		WithParent: st.WithParent, MSNA: st.MSNA, DischargeDate: dateOut(st.Discharged), Activities: []activityResponse{}}
	if !st.Open() {
		r.Status, r.Outcome, r.OutcomeLabel = "discharged", string(st.Outcome), st.Outcome.Label()
	}
	for _, a := range st.Activities {
		r.Activities = append(r.Activities, toActivityResponse(a))
	}
	return r
}

func stayObject(id *activity.StayID) func() string {
	return func() string { return "stay:" + strconv.FormatInt(int64(*id), 10) }
}

func (s *Server) admit(c *gin.Context) {
	var req admissionRequest
	if err := decodeJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	var bad []FieldError
	if req.Token == "" {
		bad = append(bad, FieldError{Field: "token", Reason: "required"})
	}
	date := parseDate(&bad, "admission_date", req.AdmissionDate)
	if req.WithParent == nil {
		bad = append(bad, FieldError{Field: "with_parent", Reason: "required (true or false)"})
	}
	if req.MSNA == nil {
		bad = append(bad, FieldError{Field: "msna", Reason: "required (true or false)"})
	}
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, err := s.personOf(c, "token", req.Token)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Set(ctxPerson, s.auditRef(c.Request.Context(), p))
	pr, _ := principal(c)
	var id activity.StayID
	st, warns, err := s.activity.Admit(c.Request.Context(), activityActor(pr), p, activity.Admission{
		Date: date, SendingZone: req.SendingZone, Form: activity.Form(req.Form), WithParent: *req.WithParent, MSNA: *req.MSNA,
	}, s.activityHook(c, ActionAdmissionsCreate, http.StatusCreated, "stay", nil))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	id = st.ID
	resp := s.toStayResponse(c.Request.Context(), st)
	for _, w := range warns {
		resp.Warnings = append(resp.Warnings, string(w))
	}
	c.Header("Location", "/v1/admissions/"+strconv.FormatInt(int64(id), 10))
	c.JSON(http.StatusCreated, resp)
}

type stayPage struct {
	Stays      []stayResponse `json:"stays"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// listStays lists the caller's facility's stays (open ones with
// status=open), newest first. Listing names no minor: each stay is read
// by its id, and that read is audited.
func (s *Server) listStays(c *gin.Context) {
	openOnly, before, limit, err := pageQuery(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	sts, err := s.activity.FacilityStays(c.Request.Context(), p.Org, openOnly, activity.StayID(before), limit+1)
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	resp := stayPage{Stays: []stayResponse{}}
	for i, st := range sts {
		if i == limit {
			resp.NextCursor = strconv.FormatInt(int64(sts[i-1].ID), 10)
			break
		}
		resp.Stays = append(resp.Stays, s.toStayResponse(c.Request.Context(), st))
	}
	c.JSON(http.StatusOK, resp)
}

func (s *Server) getStay(c *gin.Context) {
	id, err := idParam(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	st, err := s.activity.Stay(c.Request.Context(), p.Org, activity.StayID(id))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.Set(ctxPerson, s.auditRef(c.Request.Context(), st.Person))
	c.JSON(http.StatusOK, s.toStayResponse(c.Request.Context(), st))
}

type dischargeRequest struct {
	Date    string `json:"date"`
	Outcome string `json:"outcome"`
}

func (s *Server) discharge(c *gin.Context) {
	var req dischargeRequest
	id, ok := idAndBody(c, &req)
	if !ok {
		return
	}
	var bad []FieldError
	on := parseDate(&bad, "date", req.Date)
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, _ := principal(c)
	sid := activity.StayID(id)
	st, err := s.activity.Discharge(c.Request.Context(), activityActor(p), sid, on, sinba.EsitoInserimentoStruttura(req.Outcome),
		s.activityHook(c, ActionAdmissionsDischarge, http.StatusOK, "stay", stayObject(&sid)))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.JSON(http.StatusOK, s.toStayResponse(c.Request.Context(), st))
}

type activityRequest struct {
	Kind    string            `json:"kind"`
	Date    string            `json:"date"`
	EndDate string            `json:"end_date"`
	Fields  map[string]string `json:"fields"`
}

func (s *Server) addActivity(c *gin.Context) {
	var req activityRequest
	id, ok := idAndBody(c, &req)
	if !ok {
		return
	}
	var bad []FieldError
	a := activity.StayActivity{Kind: activity.ActivityKind(req.Kind), Date: parseDate(&bad, "date", req.Date),
		End: parseDate(&bad, "end_date", req.EndDate), Fields: req.Fields}
	if len(bad) > 0 {
		_ = c.Error(errValidation(bad...))
		return
	}
	p, _ := principal(c)
	sid := activity.StayID(id)
	out, err := s.activity.AddActivity(c.Request.Context(), activityActor(p), sid, a,
		s.activityHook(c, ActionAdmissionsActivity, http.StatusCreated, "stay", stayObject(&sid)))
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	c.JSON(http.StatusCreated, toActivityResponse(out))
}

// ---- the minor ----

// sinbaSummary is what a facility learns of a minor's open SINBA file:
// nothing that identifies, only what it would otherwise type again.
type sinbaSummary struct {
	ResponsibleZone  string `json:"responsible_zone"`
	Sex              string `json:"sex"`
	BirthYear        int    `json:"birth_year"`
	CitizenshipGroup string `json:"citizenship_group"`
	MSNA             bool   `json:"msna"`
}

// summaryOf returns the SINBA summary of p, nil when it has no open file.
func (s *Server) summaryOf(ctx context.Context, p linkage.PersonID) (*sinbaSummary, error) {
	cs, err := s.activity.OpenCaseFiles(ctx, p)
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	a, err := s.linkage.PersonAttributes(ctx, p)
	if err != nil {
		return nil, err
	}
	cf := cs[0] // the newest open file
	return &sinbaSummary{ResponsibleZone: cf.Zone, Sex: a.Sex, BirthYear: a.BirthYear, CitizenshipGroup: a.CitizenshipGroup,
		MSNA: cf.Record.MinoreStranieroNoAcc == "1"}, nil
}

type minorResponse struct {
	Token     string         `json:"token"`
	Sinba     *sinbaSummary  `json:"sinba,omitempty"`
	CaseFiles []caseResponse `json:"case_files,omitempty"`
	Stays     []stayResponse `json:"stays"`
}

func (s *Server) getMinor(c *gin.Context) {
	p, _ := principal(c)
	pid, err := s.personOf(c, "", c.Param("token"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	ctx := c.Request.Context()
	c.Set(ctxPerson, s.auditRef(ctx, pid))
	cs, sts, err := s.activity.Minor(ctx, pid)
	if err != nil {
		_ = c.Error(activityProblem(err))
		return
	}
	resp := minorResponse{Token: c.Param("token"), Stays: []stayResponse{}}
	switch p.Role {
	case authn.RoleServiceOperator:
		// Its own files; the stays only of a minor in its charge.
		resp.CaseFiles = []caseResponse{}
		for _, cf := range cs {
			if cf.Zone == p.Org || cf.TransferTo == p.Org {
				resp.CaseFiles = append(resp.CaseFiles, toCaseResponse(cf))
			}
		}
		if len(resp.CaseFiles) > 0 {
			for _, st := range sts {
				resp.Stays = append(resp.Stays, s.toStayResponse(ctx, st))
			}
		}
	case authn.RoleFacilityOperator:
		if resp.Sinba, err = s.summaryOf(ctx, pid); err != nil {
			_ = c.Error(err)
			return
		}
		f, ferr := activity.RegistryFacilities(s.registry).Facility(ctx, p.Org)
		if ferr == nil {
			for _, st := range sts {
				if st.Facility == f.ID {
					resp.Stays = append(resp.Stays, s.toStayResponse(ctx, st))
				}
			}
		}
	default:
		_ = c.Error(errForbidden("role " + string(p.Role) + " may not read a minor"))
		return
	}
	c.JSON(http.StatusOK, resp)
}

// ---- events ----

type eventResponse struct {
	Seq      int64             `json:"seq"`
	Kind     string            `json:"kind"`
	CaseID   int64             `json:"case_id,omitempty"`
	StayID   int64             `json:"stay_id,omitempty"`
	Facility string            `json:"facility,omitempty"`
	Date     *string           `json:"date"`
	Detail   map[string]string `json:"detail"`
	At       time.Time         `json:"at"`
}

type eventPage struct {
	Events []eventResponse `json:"events"`
	// Cursor is the since of the next call.
	Cursor string `json:"cursor"`
}

// listEvents returns the zone's events after since, in order; with
// timeout=N it waits up to N seconds for one (long poll).
func (s *Server) listEvents(c *gin.Context) {
	var (
		bad   []FieldError
		since int64
		limit = defaultEvents
		wait  time.Duration
	)
	for name := range c.Request.URL.Query() {
		if name != "since" && name != "limit" && name != "timeout" {
			bad = append(bad, FieldError{Field: name, Reason: "unknown parameter"})
		}
	}
	if v := c.Query("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			bad = append(bad, FieldError{Field: "since", Reason: "not a cursor returned by this endpoint"})
		}
		since = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEvents {
			bad = append(bad, FieldError{Field: "limit", Reason: "must be an integer from 1 to " + strconv.Itoa(maxEvents)})
		}
		limit = n
	}
	if v := c.Query("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || time.Duration(n)*time.Second > maxEventWait {
			bad = append(bad, FieldError{Field: "timeout", Reason: "must be an integer number of seconds from 0 to 30"})
		}
		wait = time.Duration(n) * time.Second
	}
	if len(bad) > 0 {
		_ = c.Error(errBadRequest("invalid query parameters", bad...))
		return
	}
	p, _ := principal(c)
	ctx := c.Request.Context()
	evs, err := s.activity.Events(ctx, p.Org, since, limit, wait)
	if err != nil {
		_ = c.Error(err)
		return
	}
	resp := eventPage{Events: []eventResponse{}, Cursor: strconv.FormatInt(since, 10)}
	for _, e := range evs {
		r := eventResponse{Seq: e.Seq, Kind: string(e.Kind), CaseID: int64(e.Case), StayID: int64(e.Stay), Date: dateOut(e.Date),
			Detail: e.Detail, At: e.At.UTC()}
		if e.Facility != 0 {
			r.Facility = s.facilityName(ctx, e.Facility)
		}
		if r.Detail == nil {
			r.Detail = map[string]string{}
		}
		resp.Events = append(resp.Events, r)
		resp.Cursor = strconv.FormatInt(e.Seq, 10)
	}
	c.JSON(http.StatusOK, resp)
}

// ---- conflicts ----

type conflictResponse struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	MergeID    int64      `json:"merge_id"`
	Zone       string     `json:"zone,omitempty"`
	CaseIDs    []int64    `json:"case_ids"`
	StayIDs    []int64    `json:"stay_ids"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	Resolution string     `json:"resolution,omitempty"`
}

type conflictPage struct {
	Conflicts  []conflictResponse `json:"conflicts"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listConflicts(c *gin.Context) {
	var (
		bad   []FieldError
		after int64
	)
	for name := range c.Request.URL.Query() {
		if name != "cursor" {
			bad = append(bad, FieldError{Field: name, Reason: "unknown parameter"})
		}
	}
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, FieldError{Field: "cursor", Reason: "not a cursor returned by this endpoint"})
		}
		after = n
	}
	if len(bad) > 0 {
		_ = c.Error(errBadRequest("invalid query parameters", bad...))
		return
	}
	cs, err := s.activity.Conflicts(c.Request.Context(), after, defaultConfPag+1)
	if err != nil {
		_ = c.Error(err)
		return
	}
	resp := conflictPage{Conflicts: []conflictResponse{}}
	for i, cf := range cs {
		if i == defaultConfPag {
			resp.NextCursor = strconv.FormatInt(cs[i-1].ID, 10)
			break
		}
		r := conflictResponse{ID: cf.ID, Kind: string(cf.Kind), MergeID: cf.MergeID, Zone: cf.Zone, CaseIDs: []int64{}, StayIDs: []int64{},
			CreatedAt: cf.CreatedAt.UTC(), Resolution: cf.Resolution}
		for _, id := range cf.Cases {
			r.CaseIDs = append(r.CaseIDs, int64(id))
		}
		for _, id := range cf.Stays {
			r.StayIDs = append(r.StayIDs, int64(id))
		}
		if !cf.ResolvedAt.IsZero() {
			t := cf.ResolvedAt.UTC()
			r.ResolvedAt = &t
		}
		resp.Conflicts = append(resp.Conflicts, r)
	}
	c.JSON(http.StatusOK, resp)
}

// ---- code lists ----

type codeListResponse struct {
	Name  string       `json:"name"`
	Codes []sinba.Code `json:"codes"`
}

func (s *Server) activityCodeLists(c *gin.Context) {
	var out []codeListResponse
	for _, l := range sinba.CodeLists {
		out = append(out, codeListResponse{Name: l.Name, Codes: l.Codes})
	}
	out = append(out, codeListResponse{Name: "ActivityKind", Codes: activity.ActivityKinds})
	c.JSON(http.StatusOK, gin.H{"code_lists": out})
}

// ---- SINBA flows ----

type flowResultResponse struct {
	Index   int          `json:"index"`
	Outcome string       `json:"outcome"`
	CaseID  int64        `json:"case_id,omitempty"`
	Errors  []FieldError `json:"errors,omitempty"`
}

type flowResponse struct {
	Nome     string               `json:"nome"`
	Replayed bool                 `json:"replayed"`
	Summary  map[string]int       `json:"summary"`
	Results  []flowResultResponse `json:"results"`
}

// syntaxProblem is a 400 that says where the flow broke.
func syntaxProblem(se *sinba.SyntaxError) *httpError {
	detail := "the flow is malformed: " + se.Msg
	if se.Line > 0 {
		detail = fmt.Sprintf("the flow is malformed at line %d, column %d: %s", se.Line, se.Column, se.Msg)
	} else {
		detail = fmt.Sprintf("the flow is malformed at byte %d: %s", se.Offset, se.Msg)
	}
	e := errBadRequest(detail)
	e.line, e.column = se.Line, se.Column
	return e
}

func (s *Server) submitFlow(c *gin.Context) {
	// A flow is read while it is applied: the server's read and write
	// timeouts, made for ordinary requests, would cut a 10 MB one short.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(flowDeadline))
	_ = rc.SetWriteDeadline(time.Now().Add(flowDeadline))
	mt := c.ContentType()
	var rd *sinba.Reader
	if mt == "application/json" {
		rd = sinba.NewJSONReader(c.Request.Body)
	} else {
		rd = sinba.NewReader(c.Request.Body)
	}
	flowErr := func(err error) error {
		var (
			se  *sinba.SyntaxError
			mbe *http.MaxBytesError
		)
		switch {
		case errors.As(err, &se):
			return syntaxProblem(se)
		case errors.As(err, &mbe):
			return mbe
		case errors.Is(err, sinba.ErrNoRecords):
			return errValidation(FieldError{Field: "SINBA", Reason: "the flow holds no record"})
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errBadRequest("the flow ends too early")
		}
		return err
	}
	h, err := rd.Header()
	if err != nil {
		_ = c.Error(flowErr(err))
		return
	}
	if err := h.Validate(); err != nil {
		var ve *sinba.ValidationError
		if errors.As(err, &ve) {
			fs := make([]FieldError, len(ve.Violations))
			for i, v := range ve.Violations {
				fs[i] = FieldError{Field: v.Field, Reason: v.Reason}
			}
			_ = c.Error(errValidation(fs...))
			return
		}
		_ = c.Error(err)
		return
	}
	p, _ := principal(c)
	resolve := func(ctx context.Context, tok string) (linkage.PersonID, error) {
		t, err := linkage.ParseToken(tok)
		if err != nil {
			return linkage.PersonID{}, err
		}
		return s.linkage.PersonOf(ctx, p.Org, t)
	}
	// The service hands the hook the current person already.
	hook := func(ctx context.Context, index int, cur linkage.PersonID) error {
		e := s.event(c, ActionFlowsSubmit, audit.OutcomeAllowed, http.StatusOK)
		e.ObjectType, e.ObjectID, e.PersonRef = "sinba_record", "flow:"+h.Nome+"#"+strconv.Itoa(index), s.linkage.AuditRef(cur)
		if _, err := s.audit.Append(ctx, e); err != nil {
			return err
		}
		c.Set(ctxAudited, true)
		return nil
	}
	results, replayed, err := s.activity.IngestFlow(c.Request.Context(), activityActor(p), h.Nome, rd, resolve, hook)
	if err != nil {
		_ = c.Error(activityProblem(flowErr(err)))
		return
	}
	resp := flowResponse{Nome: h.Nome, Replayed: replayed, Results: make([]flowResultResponse, len(results)),
		Summary: map[string]int{"created": 0, "updated": 0, "unchanged": 0, "error": 0}}
	for i, r := range results {
		resp.Summary[string(r.Outcome)]++
		fr := flowResultResponse{Index: r.Index, Outcome: string(r.Outcome), CaseID: int64(r.Case)}
		for _, f := range r.Errors {
			fr.Errors = append(fr.Errors, FieldError{Field: f.Field, Reason: f.Reason})
		}
		resp.Results[i] = fr
	}
	c.JSON(http.StatusOK, resp)
}

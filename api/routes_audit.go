package api

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/audit"
)

func (s *Server) auditRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/audit/events", ActionAuditList, s.listAuditEvents)
	s.handle(g, http.MethodGet, "/audit/verify", ActionAuditVerify, s.verifyAudit)
}

type auditEventResponse struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor"`
	Role       string    `json:"role"`
	Org        string    `json:"org"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type,omitempty"`
	ObjectID   string    `json:"object_id,omitempty"`
	PersonRef  string    `json:"person_ref,omitempty"`
	Purpose    string    `json:"purpose,omitempty"`
	Outcome    string    `json:"outcome"`
	Status     int       `json:"status"`
	RequestID  string    `json:"request_id"`
	PrevHash   string    `json:"prev_hash"`
	Hash       string    `json:"hash"`
}

func toAuditEventResponse(e audit.Event) auditEventResponse {
	return auditEventResponse{
		Seq: e.Seq, Time: e.Time, Actor: e.Actor, Role: e.Role, Org: e.Org, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, PersonRef: e.PersonRef, Purpose: e.Purpose,
		Outcome: string(e.Outcome), Status: e.Status, RequestID: e.RequestID,
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
	}
}

type auditListResponse struct {
	Events     []auditEventResponse `json:"events"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// parseAuditFilter reads the query; every bad parameter is named.
func parseAuditFilter(c *gin.Context) (audit.Filter, error) {
	f := audit.Filter{Actor: c.Query("actor"), Org: c.Query("org"), Action: c.Query("action"), PersonRef: c.Query("person_ref")}
	var bad []FieldError
	parseTime := func(name string) time.Time {
		v := c.Query(name)
		if v == "" {
			return time.Time{}
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return t
		}
		bad = append(bad, FieldError{Field: name, Reason: "must be an RFC 3339 time or a YYYY-MM-DD date"})
		return time.Time{}
	}
	f.From, f.To = parseTime("from"), parseTime("to")
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		bad = append(bad, FieldError{Field: "to", Reason: "must be after from"})
	}
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad = append(bad, FieldError{Field: "cursor", Reason: "not a cursor returned by this endpoint"})
		}
		f.Before = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxLimit {
			bad = append(bad, FieldError{Field: "limit", Reason: "must be an integer from 1 to " + strconv.Itoa(audit.MaxLimit)})
		}
		f.Limit = n
	}
	bad = append(bad, queryProblems(c, []string{"actor", "org", "action", "person_ref", "from", "to", "cursor", "limit"}, "")...)
	return f, badQuery(bad)
}

func (s *Server) listAuditEvents(c *gin.Context) {
	f, err := parseAuditFilter(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	evs, next, err := s.audit.List(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	resp := auditListResponse{Events: make([]auditEventResponse, 0, len(evs))}
	for _, e := range evs {
		resp.Events = append(resp.Events, toAuditEventResponse(e))
	}
	if next > 0 {
		resp.NextCursor = strconv.FormatInt(next, 10)
	}
	c.JSON(http.StatusOK, resp)
}

type auditVerifyResponse struct {
	OK        bool   `json:"ok"`
	Events    int64  `json:"events"`
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func (s *Server) verifyAudit(c *gin.Context) {
	if len(c.Request.URL.Query()) > 0 {
		_ = c.Error(errBadRequest("this endpoint takes no parameters"))
		return
	}
	v, err := s.audit.Verify(c.Request.Context())
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.JSON(http.StatusOK, auditVerifyResponse{OK: v.OK, Events: v.Events, BrokenSeq: v.BrokenSeq, Reason: v.Reason})
}

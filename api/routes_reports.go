package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/internal/authn"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
	"github.com/toscana/sirm/report/render"
)

// Reports: every definition of the catalogue is served at
// GET /v1/reports/{name}, in JSON, CSV, XLSX or an HTML page, with the same
// access rule: aggregates under disclosure control for the Region's
// analysts and the admin (any zone) and for a service (its own zone only).

func (s *Server) reportRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/reports", ActionReportsList, s.listReports)
	s.handle(g, http.MethodGet, "/reports/:name", ActionReportsRead, s.getReport)
}

// Report formats and their media types.
const (
	formatJSON = "json"
	formatCSV  = "csv"
	formatXLSX = "xlsx"
	formatHTML = "html"
)

var formatTypes = map[string]string{
	formatJSON: "application/json",
	formatCSV:  "text/csv",
	formatXLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	formatHTML: "text/html",
}

var formats = []string{formatJSON, formatCSV, formatXLSX, formatHTML}

// reportHTMLPolicy lets the report page apply its inline CSS, and nothing
// else: the page has no script and loads nothing.
const reportHTMLPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

type reportItem struct {
	Name        string           `json:"name"`
	Title       render.LabelJSON `json:"title"`
	Description render.LabelJSON `json:"description"`
	Parameters  []string         `json:"parameters"`
	Formats     []string         `json:"formats"`
	Href        string           `json:"href"`
}

type reportList struct {
	Reports []reportItem `json:"reports"`
}

func labelJSON(l report.Label) render.LabelJSON { return render.LabelJSON{IT: l.IT, EN: l.In("en")} }

func (s *Server) listReports(c *gin.Context) {
	resp := reportList{Reports: []reportItem{}}
	for _, d := range s.reports.All() {
		params := make([]string, 0, len(d.Params))
		for _, p := range d.Params {
			params = append(params, string(p))
		}
		resp.Reports = append(resp.Reports, reportItem{Name: d.Name, Title: labelJSON(d.Title), Description: labelJSON(d.Description),
			Parameters: params, Formats: formats, Href: "/v1/reports/" + d.Name})
	}
	c.JSON(http.StatusOK, resp)
}

// reportRequest is a checked request for a report.
type reportRequest struct {
	params report.Params
	format string
	csv    render.CSVOptions
	lang   string
	table  string
}

type reportParamsJSON struct {
	Date *string `json:"date,omitempty"`
	From *string `json:"from,omitempty"`
	To   *string `json:"to,omitempty"`
	// Zone is null for the whole Region.
	Zone *string `json:"zone"`
}

type unavailableJSON struct {
	ID     string           `json:"id"`
	Title  render.LabelJSON `json:"title"`
	Reason render.LabelJSON `json:"reason"`
}

type reportResponse struct {
	Report     string             `json:"report"`
	Title      render.LabelJSON   `json:"title"`
	Subtitle   render.LabelJSON   `json:"subtitle"`
	Parameters reportParamsJSON   `json:"parameters"`
	Tables     []render.TableJSON `json:"tables"`
	// Unavailable lists the tables of the report that could not be
	// computed, and why; they are never published as zeros.
	Unavailable []unavailableJSON `json:"unavailable"`
}

// parseReportRequest reads the query of a report; every bad parameter is
// named. The zone is checked against the caller in scopeZone.
func (s *Server) parseReportRequest(c *gin.Context, d report.Definition) (reportRequest, error) {
	req := reportRequest{lang: "it"}
	known := []string{"format", "sep", "lang", "table"}
	for _, p := range d.Params {
		known = append(known, string(p))
	}
	bad := queryProblems(c, known, "for report "+d.Name)
	today := time.Now().In(registry.Rome).Format(time.DateOnly)
	day := func(field string) time.Time {
		v := c.Query(field)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, v)
		switch {
		case err != nil:
			bad = append(bad, FieldError{Field: field, Reason: "must be a date YYYY-MM-DD"})
		case v > today:
			bad = append(bad, FieldError{Field: field, Reason: "must not be in the future"})
		}
		return t
	}
	if d.Takes(report.ParamDate) {
		req.params.Date = day(string(report.ParamDate))
		if c.Query(string(report.ParamDate)) == "" {
			req.params.Date, _ = time.Parse(time.DateOnly, today)
		}
	}
	// A period defaults to the year to date.
	if d.Takes(report.ParamFrom) {
		req.params.From = day(string(report.ParamFrom))
		if c.Query(string(report.ParamFrom)) == "" {
			req.params.From, _ = time.Parse(time.DateOnly, today[:4]+"-01-01")
		}
	}
	if d.Takes(report.ParamTo) {
		req.params.To = day(string(report.ParamTo))
		if c.Query(string(report.ParamTo)) == "" {
			req.params.To, _ = time.Parse(time.DateOnly, today)
		}
	}
	periodBad := slices.ContainsFunc(bad, func(f FieldError) bool { return f.Field == "from" || f.Field == "to" })
	if !periodBad && !req.params.From.IsZero() && !req.params.To.IsZero() && req.params.To.Before(req.params.From) {
		bad = append(bad, FieldError{Field: string(report.ParamTo), Reason: "must not be before from"})
	}
	if d.Takes(report.ParamZone) {
		req.params.Zone = s.zoneParam(c, &bad)
	}
	switch f := c.Query("format"); {
	case f == "":
		req.format = negotiate(c.GetHeader("Accept"))
	case slices.Contains(formats, f):
		req.format = f
	default:
		bad = append(bad, FieldError{Field: "format", Reason: "must be one of json, csv, xlsx, html"})
	}
	switch c.Query("sep") {
	case "", "comma":
	case "semicolon":
		req.csv = render.ItalianSpreadsheet
	default:
		bad = append(bad, FieldError{Field: "sep", Reason: "must be comma or semicolon"})
	}
	switch l := c.Query("lang"); l {
	case "", "it", "en":
		if l != "" {
			req.lang = l
		}
	default:
		bad = append(bad, FieldError{Field: "lang", Reason: "must be it or en"})
	}
	req.csv.Lang = req.lang
	req.table = c.Query("table")
	if err := badQuery(bad); err != nil {
		return reportRequest{}, err
	}
	if req.format == "" {
		return reportRequest{}, newError(http.StatusNotAcceptable, "not-acceptable", "Not acceptable",
			"reports are available as application/json, text/csv, "+formatTypes[formatXLSX]+" or text/html (or use format=)")
	}
	return req, nil
}

// negotiate picks the format the Accept header prefers, JSON when it
// names none or accepts anything, and "" when it accepts none of them.
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return formatJSON
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		f := ""
		switch mt {
		case "*/*", "application/*", "application/json":
			f = formatJSON
		case "text/*", "text/html", "application/xhtml+xml":
			f = formatHTML
		default:
			for k, t := range formatTypes {
				if t == mt {
					f = k
				}
			}
		}
		if f != "" && q > bestQ {
			best, bestQ = f, q
		}
	}
	return best
}

// scopeZone applies the caller's scope: a service sees its own zone only,
// and gets it when it names none.
func (s *Server) scopeZone(p authn.Principal, d report.Definition, req *reportRequest) error {
	scope, _ := allows(ActionReportsRead, p.Role)
	if scope != ScopeOwnOrg {
		return nil
	}
	if _, ok := s.registry.Codes().Zone(p.Org); !ok || !d.Takes(report.ParamZone) {
		return errForbidden("this report is published for the Region only")
	}
	if req.params.Zone == "" {
		req.params.Zone = p.Org
	}
	if req.params.Zone != p.Org {
		return errForbidden("a service sees the reports of its own zone only")
	}
	return nil
}

func (s *Server) getReport(c *gin.Context) {
	d, ok := s.reports.Lookup(c.Param("name"))
	if !ok {
		_ = c.Error(newError(http.StatusNotFound, "not-found", "Not found", "no such report (GET /v1/reports lists them)"))
		return
	}
	req, err := s.parseReportRequest(c, d)
	if err != nil {
		_ = c.Error(err)
		return
	}
	// The access log names the report and its parameters: a denial the
	// ones asked for, a success the ones served.
	p, _ := principal(c)
	c.Set(ctxObject, d.Name+"?"+reportQuery(req.params))
	if err := s.scopeZone(p, d, &req); err != nil {
		_ = c.Error(err)
		return
	}
	c.Set(ctxObject, d.Name+"?"+reportQuery(req.params))
	out, err := d.Compute(c.Request.Context(), req.params)
	if err != nil {
		_ = c.Error(err)
		return
	}
	grids := out.Grids
	if req.table != "" {
		i := slices.IndexFunc(grids, func(g report.Grid) bool { return g.Header().ID == req.table })
		if i < 0 {
			reason := "not a table of this report"
			if j := slices.IndexFunc(out.Unavailable, func(u report.Unavailable) bool { return u.ID == req.table }); j >= 0 {
				reason = "this table is not available: " + out.Unavailable[j].Reason.In("en")
			}
			_ = c.Error(errBadRequest("invalid query parameters", FieldError{Field: "table", Reason: reason}))
			return
		}
		grids = grids[i : i+1]
	}
	if req.format == formatCSV && len(grids) > 1 {
		ids := make([]string, len(grids))
		for i, g := range grids {
			ids[i] = g.Header().ID
		}
		_ = c.Error(errBadRequest("invalid query parameters", FieldError{Field: "table",
			Reason: "a CSV file holds one table: name it with table (one of " + strings.Join(ids, ", ") + ")"}))
		return
	}
	var buf bytes.Buffer
	switch req.format {
	case formatJSON:
		err = writeReportJSON(&buf, d, req, out, grids)
	case formatCSV:
		err = render.WriteCSV(&buf, grids[0], req.csv)
	case formatXLSX:
		err = render.WriteXLSX(&buf, render.XLSXOptions{Lang: req.lang}, grids...)
	case formatHTML:
		err = render.WriteHTML(&buf, render.Page{Title: out.Title, Subtitle: out.Subtitle, Lang: req.lang, Tables: grids})
	}
	if err != nil {
		_ = c.Error(fmt.Errorf("render report %s as %s: %w", d.Name, req.format, err))
		return
	}
	ct := formatTypes[req.format]
	switch req.format {
	case formatJSON:
	case formatCSV:
		ct += "; charset=utf-8; header=present"
		c.Header("Content-Disposition", `attachment; filename="`+reportFile(d, req, grids[0].Header().ID)+`.csv"`)
	case formatXLSX:
		c.Header("Content-Disposition", `attachment; filename="`+reportFile(d, req, "")+`.xlsx"`)
	case formatHTML:
		ct += "; charset=utf-8"
		c.Header("Content-Security-Policy", reportHTMLPolicy)
	}
	c.Header("Vary", "Accept")
	c.Data(http.StatusOK, ct, buf.Bytes())
}

func writeReportJSON(buf *bytes.Buffer, d report.Definition, req reportRequest, out *report.Output, grids []report.Grid) error {
	resp := reportResponse{Report: d.Name, Title: labelJSON(out.Title), Subtitle: labelJSON(out.Subtitle),
		Tables: make([]render.TableJSON, 0, len(grids)), Unavailable: []unavailableJSON{}}
	date := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := t.Format(time.DateOnly)
		return &s
	}
	resp.Parameters = reportParamsJSON{Date: date(req.params.Date), From: date(req.params.From), To: date(req.params.To)}
	if req.params.Zone != "" {
		resp.Parameters.Zone = &req.params.Zone
	}
	for _, g := range grids {
		tj, err := render.ToJSON(g)
		if err != nil {
			return err
		}
		resp.Tables = append(resp.Tables, tj)
	}
	if req.table == "" {
		for _, u := range out.Unavailable {
			resp.Unavailable = append(resp.Unavailable, unavailableJSON{ID: u.ID, Title: labelJSON(u.Title), Reason: labelJSON(u.Reason)})
		}
	}
	return json.NewEncoder(buf).Encode(resp)
}

// reportQuery is the canonical form of the parameters, for the access log.
func reportQuery(p report.Params) string {
	var parts []string
	for _, x := range []struct {
		k string
		t time.Time
	}{{"date", p.Date}, {"from", p.From}, {"to", p.To}} {
		if !x.t.IsZero() {
			parts = append(parts, x.k+"="+x.t.Format(time.DateOnly))
		}
	}
	if p.Zone != "" {
		parts = append(parts, "zone="+p.Zone)
	}
	return strings.Join(parts, "&")
}

// reportFile is the download's file name: the report, its parameters and,
// for a single table, the table.
func reportFile(d report.Definition, req reportRequest, table string) string {
	name := d.Name
	for _, t := range []time.Time{req.params.Date, req.params.From, req.params.To} {
		if !t.IsZero() {
			name += "_" + t.Format(time.DateOnly)
		}
	}
	if req.params.Zone != "" {
		name += "_" + req.params.Zone
	}
	if table != "" {
		name += "_" + table
	}
	return name
}

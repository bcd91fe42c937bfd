package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
)

// Research microdata: GET /v1/exports/microdata?year=YYYY[&geo=zone|region]
// [&format=json|csv] releases one record per minor out of family on 31
// December of a past year (the population of the survey that day), with
// coarse attributes only — zone, sex, age class, citizenship group (the
// quasi-identifiers), setting and placement — under the minor's token in
// the domain stat-YYYY, which nothing else uses. A release is refused
// unless every combination of the quasi-identifiers holds at least k
// minors; geo=region generalises the zone to the whole Region.
//
// One population per domain, always the whole Region: a domain's tokens
// are the same in every release, so two releases of different days or
// areas could be set against each other — the tokens of a Region-wide
// release missing from the zones' releases are the minors of a zone that
// was refused; a minor's age class changing between two days gives its
// birth month. With one day and one area per domain, every release of a
// domain holds the same minors (geo only coarsens the zone), and differs
// from another only by late records.

// microdataDomain is the token domain of the research releases of year y.
func microdataDomain(y int) string { return "stat-" + strconv.Itoa(y) }

var microdataColumns = []string{"token", "setting", "zone", "sex", "age_class", "citizenship", "placement"}

func (s *Server) microdataRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/exports/microdata", ActionExportsMicrodata, s.exportMicrodata)
}

type microdataRequest struct {
	year   int
	date   time.Time // 31 December of year
	region bool      // geo=region
	csv    bool
}

func (r microdataRequest) object() string {
	o := "microdata?year=" + strconv.Itoa(r.year)
	if r.region {
		o += "&geo=region"
	}
	return o
}

func (s *Server) parseMicrodataRequest(c *gin.Context) (microdataRequest, error) {
	var req microdataRequest
	bad := queryProblems(c, []string{"year", "geo", "format"}, "the release takes year, geo and format")
	last := time.Now().In(registry.Rome).Year() - 1
	req.year = yearParam(c, &bad, last, fmt.Sprintf("must be a past year (%d at the latest): the release is of 31 December", last))
	req.date = time.Date(req.year, 12, 31, 0, 0, 0, 0, time.UTC)
	switch c.Query("geo") {
	case "", "zone":
	case "region":
		req.region = true
	default:
		bad = append(bad, FieldError{Field: "geo", Reason: "must be zone or region"})
	}
	switch c.Query("format") {
	case "", "json":
	case "csv":
		req.csv = true
	default:
		bad = append(bad, FieldError{Field: "format", Reason: "must be json or csv"})
	}
	return req, badQuery(bad)
}

// microRecordJSON is one released record.
type microRecordJSON struct {
	Token       string `json:"token"`
	Setting     string `json:"setting"`
	Zone        string `json:"zone"`
	Sex         string `json:"sex"`
	AgeClass    string `json:"age_class"`
	Citizenship string `json:"citizenship"`
	Placement   string `json:"placement"`
}

type microdataResponse struct {
	Domain  string            `json:"domain"`
	Date    string            `json:"date"`
	Geo     string            `json:"geo"`
	K       int               `json:"k"`
	Records []microRecordJSON `json:"records"`
}

func (s *Server) exportMicrodata(c *gin.Context) {
	req, err := s.parseMicrodataRequest(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Set(ctxObject, req.object())
	ctx := c.Request.Context()
	recs, err := s.opts.Microdata.OutOfFamilyRecords(ctx, req.date)
	if err != nil {
		_ = c.Error(fmt.Errorf("microdata %s: %w", req.object(), err))
		return
	}
	if req.region {
		report.GeneraliseToRegion(recs)
	}
	k := max(s.opts.MicrodataK, report.DefaultK)
	if err := report.CheckMicrodata(recs, k); err != nil {
		if !errors.Is(err, report.ErrNotKAnonymous) {
			_ = c.Error(fmt.Errorf("microdata %s: %w", req.object(), err))
			return
		}
		// How many combinations fall short is not said: those are counts
		// of one or two minors.
		hint := " Ask for geo=region (every zone generalised to the Region)."
		if req.region {
			hint = " Even with every zone generalised to the Region, the population of that day is too small."
		}
		_ = c.Error(newError(http.StatusConflict, "not-k-anonymous", "Microdata not releasable",
			fmt.Sprintf("some combinations of zone, sex, age class and citizenship group have fewer than %d minors: "+
				"the release would single them out.%s", k, hint)))
		return
	}
	domain := microdataDomain(req.year)
	out := make([]microRecordJSON, len(recs))
	for start := 0; start < len(recs); start += exportTokenBatch {
		end := min(start+exportTokenBatch, len(recs))
		persons := make([]linkage.PersonID, 0, end-start)
		for _, r := range recs[start:end] {
			p, err := linkage.ParsePersonID(r.Person)
			if err != nil {
				_ = c.Error(fmt.Errorf("microdata %s: %w", req.object(), err))
				return
			}
			persons = append(persons, p)
		}
		toks, err := s.linkage.TokensFor(ctx, domain, persons)
		if err != nil {
			_ = c.Error(fmt.Errorf("microdata %s: %w", req.object(), err))
			return
		}
		for i, r := range recs[start:end] {
			out[start+i] = microRecordJSON{Token: toks[i].String(), Setting: r.Setting, Zone: r.Zone, Sex: r.Sex,
				AgeClass: r.AgeClass.String(), Citizenship: r.Citizenship.String(), Placement: r.Placement}
		}
	}
	c.Set(ctxObject, req.object()+"&records="+strconv.Itoa(len(out)))
	name := "microdata_" + strconv.Itoa(req.year)
	if req.region {
		name += "_region"
	}
	if !req.csv {
		resp := microdataResponse{Domain: domain, Date: req.date.Format(time.DateOnly), Geo: "zone", K: k, Records: out}
		if req.region {
			resp.Geo = "region"
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(resp); err != nil {
			_ = c.Error(fmt.Errorf("microdata %s: %w", req.object(), err))
			return
		}
		c.Header("Content-Disposition", `attachment; filename="`+name+`.json"`)
		c.Data(http.StatusOK, "application/json", buf.Bytes())
		return
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(microdataColumns)
	for _, r := range out {
		_ = w.Write([]string{r.Token, r.Setting, r.Zone, r.Sex, r.AgeClass, r.Citizenship, r.Placement})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		_ = c.Error(fmt.Errorf("microdata %s: %w", req.object(), err))
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8; header=present", buf.Bytes())
}

package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/sinba"
	"github.com/toscana/sirm/audit"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

// Exports: GET /v1/exports/sinba?year=YYYY[&zone=Z] is the year's SINBA
// flow for INPS (a Flusso of SINBA.xsd): one record per case file open at
// some time in the year, IDBeneficiario being the minor's token in the
// inps domain, so that INPS can follow a minor across years and zones
// without being able to join its data with any other domain's.

// INPSDomain is the token domain of the SINBA flows sent to INPS.
const INPSDomain = "inps"

const (
	// exportTokenBatch is how many records share one TokensFor call (one
	// transaction) while the files stream from the database.
	exportTokenBatch = 1000
	// exportDeadline bounds writing an export, far beyond the server's
	// write timeout, which is made for ordinary requests.
	exportDeadline = 15 * time.Minute
	// firstExportYear is the first year a flow may be asked for.
	firstExportYear = 2000
)

// DefaultSINBAEnte is the sender of the exported flows unless configured:
// Regione Toscana (ISTAT region code 090), seated in Firenze (Belfiore
// D612), its tax number as CFOperatore.
func DefaultSINBAEnte() sinba.Ente {
	name := "Regione Toscana"
	return sinba.Ente{Codice: "090", Denominazione: &name, Indirizzo: "D612", CFOperatore: "01386030488"}
}

func (s *Server) exportRoutes(g *gin.RouterGroup) {
	s.handle(g, http.MethodGet, "/exports/sinba", ActionExportsSINBA, s.exportSINBA)
}

// exportRequest is a checked request for a SINBA export; zone "" is the
// whole Region.
type exportRequest struct {
	year int
	zone string
}

// object names the export in the access log.
func (r exportRequest) object() string {
	o := "sinba-export?year=" + strconv.Itoa(r.year)
	if r.zone != "" {
		o += "&zone=" + r.zone
	}
	return o
}

// fileName is the download's name: sinba_YYYY[_ZONE].xml.
func (r exportRequest) fileName() string {
	n := "sinba_" + strconv.Itoa(r.year)
	if r.zone != "" {
		n += "_" + r.zone
	}
	return n + ".xml"
}

var yearPattern = regexp.MustCompile(`^[0-9]{4}$`)

// parseExportRequest reads the query; every bad parameter is named. The
// zone is checked against the caller afterwards.
func (s *Server) parseExportRequest(c *gin.Context) (exportRequest, error) {
	var req exportRequest
	bad := queryProblems(c, []string{"year", "zone"}, "the export takes year and zone")
	req.year = yearParam(c, &bad, time.Now().In(registry.Rome).Year(), "must not be in the future")
	req.zone = s.zoneParam(c, &bad)
	return req, badQuery(bad)
}

func (s *Server) exportSINBA(c *gin.Context) {
	req, err := s.parseExportRequest(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	// The access log names the export asked for: a denial the zone asked,
	// a success the zone served and the count of records.
	p, _ := principal(c)
	c.Set(ctxObject, req.object())
	if scope, _ := allows(ActionExportsSINBA, p.Role); scope == ScopeOwnOrg {
		if _, ok := s.registry.Codes().Zone(p.Org); !ok {
			_ = c.Error(errForbidden("a service exports the flow of its own zone, and your organisation is not a zone"))
			return
		}
		if req.zone == "" {
			req.zone = p.Org
		}
		if req.zone != p.Org {
			_ = c.Error(errForbidden("a service exports the flow of its own zone only"))
			return
		}
		c.Set(ctxObject, req.object())
	}
	ctx := c.Request.Context()
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(exportDeadline))

	// The flow is written whole to a file first: a failure halfway is a
	// problem, never a 200 with half a flow.
	f, err := os.CreateTemp("", "sirm-sinba-*.xml")
	if err != nil {
		_ = c.Error(fmt.Errorf("SINBA export: %w", err))
		return
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	// One export is written at a time: each holds a pool connection for
	// the stream of files and takes another for each batch of tokens, so
	// as many exports at once as the pool has connections would each hold
	// one and wait for a second for ever (TestSinbaExportsAtOnce). The
	// others wait their turn, or until their client gives up. The slot is
	// held while the flow is written, not while a client downloads it.
	select {
	case s.exportSlot <- struct{}{}:
	case <-ctx.Done():
		_ = c.Error(fmt.Errorf("SINBA export %s: waiting for another export: %w", req.object(), ctx.Err()))
		return
	}
	n, err := s.writeSINBA(ctx, f, req, time.Now())
	<-s.exportSlot
	if errors.Is(err, sinba.ErrNoRecords) {
		where := "the whole Region"
		if req.zone != "" {
			where = "zone " + req.zone
		}
		_ = c.Error(newError(http.StatusNotFound, "nothing-to-export", "Nothing to export",
			fmt.Sprintf("no case file of %s was open in %d: there is nothing to export for that year and zone", where, req.year)))
		return
	}
	if err != nil {
		_ = c.Error(fmt.Errorf("SINBA export %s: %w", req.object(), err))
		return
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = c.Error(fmt.Errorf("SINBA export %s: rewind: %w", req.object(), err))
		return
	}
	// The event is written before the flow goes out, and the flow does not
	// go out without it: once the client has read the body it may hang
	// up, cancelling the request's context before an event written
	// afterwards (as auditTrail does) could commit.
	c.Set(ctxObject, req.object()+"&records="+strconv.Itoa(n))
	if _, err := s.audit.Append(ctx, s.event(c, ActionExportsSINBA, audit.OutcomeAllowed, http.StatusOK)); err != nil {
		_ = c.Error(fmt.Errorf("SINBA export %s: audit: %w", req.object(), err))
		return
	}
	c.Set(ctxAudited, true)
	c.DataFromReader(http.StatusOK, size, "application/xml; charset=utf-8", f,
		map[string]string{"Content-Disposition": `attachment; filename="` + req.fileName() + `"`})
}

// writeSINBA writes the flow of req to w and returns the count of records:
// the files stream from one query, their tokens are recorded in batches of
// exportTokenBatch, and every record is checked against the schema before
// it is written. sinba.ErrNoRecords when there is no file.
func (s *Server) writeSINBA(ctx context.Context, w io.Writer, req exportRequest, now time.Time) (int, error) {
	h := sinba.Header{Nome: flowName(req, now), Ente: s.opts.SINBAEnte}
	if err := h.Validate(); err != nil {
		return 0, fmt.Errorf("header: %w", err)
	}
	fw, err := sinba.NewWriter(w, h)
	if err != nil {
		return 0, err
	}
	var (
		n       int
		batch   = make([]activity.YearFile, 0, exportTokenBatch)
		persons = make([]linkage.PersonID, 0, exportTokenBatch)
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		persons = persons[:0]
		for _, f := range batch {
			persons = append(persons, f.Person)
		}
		toks, err := s.linkage.TokensFor(ctx, INPSDomain, persons)
		if err != nil {
			return err
		}
		for i := range batch {
			rec := &batch[i].Record
			rec.IDBeneficiario = toks[i].String()
			// Stored records were checked when stored: one that fails now
			// (a schema or code list that changed, a row written around
			// the service) stops the export rather than go to INPS.
			if err := rec.Validate(now); err != nil {
				return fmt.Errorf("case file %d: %w", batch[i].Case, err)
			}
			if err := fw.Write(rec); err != nil {
				return err
			}
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err = s.activity.YearCaseFiles(ctx, req.year, req.zone, func(f activity.YearFile) error {
		batch = append(batch, f)
		if len(batch) == exportTokenBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, err
	}
	return n, fw.Close()
}

// flowName is the Nome of an export's header, unique per export (INPS
// recognises a flow sent again by its Nome): SIRM-, the year, the zone
// (RT for the whole Region; at most 17 characters), the UTC time and 4
// random hex digits, 49 characters at most (the schema allows 50).
func flowName(req exportRequest, now time.Time) string {
	area := req.zone
	if area == "" {
		area = "RT"
	}
	if len(area) > 17 {
		area = area[:17]
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("SIRM-%d-%s-%s-%s", req.year, area, now.UTC().Format("20060102T150405Z"), hex.EncodeToString(b[:]))
}

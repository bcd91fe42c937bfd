package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/report"
	"github.com/toscana/sirm/report/render"
	"github.com/toscana/sirm/report/reportpg"
)

// ReportConfig are the settings of the surveys.
type ReportConfig struct {
	// Threshold is the least count of minors a published cell may hold.
	Threshold int64
}

func (s *settings) reports(c *Config) {
	s.int64(&c.Report.Threshold, "report-threshold", "SIRM_REPORT_THRESHOLD", 3,
		"least count of minors a published report cell may hold (smaller ones are suppressed, with secondary suppression); at least 3, the SISTAN threshold")
}

// policy is the disclosure-control policy of counts of persons.
func (r ReportConfig) policy() (report.Policy, error) {
	if r.Threshold < 3 || r.Threshold > 100 {
		return report.Policy{}, fmt.Errorf("SIRM_REPORT_THRESHOLD=%d: use 3 (the SISTAN threshold) to 100", r.Threshold)
	}
	return report.Policy{Threshold: int(r.Threshold), Margin: 1}, nil
}

// reports is reportpg's store on db, with the configured policy: the
// catalogue of reports (the census's occupancy from activity's stays) and
// the population of research microdata.
func reports(db *pgdb.DB, c ReportConfig) (*reportpg.Store, *report.Catalogue, error) {
	p, err := c.policy()
	if err != nil {
		return nil, nil, err
	}
	s := reportpg.New(db, reportpg.Options{Policy: p})
	cat, err := report.NewCatalogue(s.Definitions()...)
	return s, cat, err
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	defs := reportpg.New(nil, reportpg.Options{}).Definitions()
	i := -1
	if len(args) > 0 {
		i = slices.IndexFunc(defs, func(d report.Definition) bool { return d.Name == args[0] })
	}
	if i < 0 {
		var b strings.Builder
		b.WriteString("Usage: sirm report <name> [flags]\n\nReports:\n")
		for _, d := range defs {
			fmt.Fprintf(&b, "  %-22s %s\n", d.Name, d.Title.In("en"))
		}
		b.WriteString("\nRun 'sirm report <name> --help' for its settings.\n")
		fmt.Fprint(stderr, b.String())
		if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
			return nil
		}
		return &exitError{code: 2, msg: fmt.Sprintf("unknown report %q", args[0])}
	}
	def := defs[i]
	name := args[0]
	var (
		c                                                 Config
		date, from, to, zone, format, sep, lang, out, tab string
	)
	s := newSettings("report "+name, "Compute a report straight from the database, with the same disclosure control as\n"+
		"GET /v1/reports/"+name+", and write it to --out (or standard output).")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.reports(&c)
	today := time.Now().In(registry.Rome).Format(time.DateOnly)
	if def.Takes(report.ParamDate) {
		s.str(&date, "date", "", today, "reference day YYYY-MM-DD (default today, Europe/Rome)", false)
	}
	if def.Takes(report.ParamFrom) {
		s.str(&from, "from", "", today[:4]+"-01-01", "first day of the period YYYY-MM-DD (default 1 January of this year)", false)
		s.str(&to, "to", "", today, "last day of the period YYYY-MM-DD (default today)", false)
	}
	s.str(&zone, "zone", "", "", "zone code; empty for the whole Region", false)
	s.str(&format, "format", "", "json", "json, csv, xlsx or html", false)
	s.str(&sep, "sep", "", "comma", "CSV separator: comma, or semicolon for Italian spreadsheets", false)
	s.str(&lang, "lang", "", "it", "language of the labels: it or en", false)
	s.str(&tab, "table", "", "", "id of the one table to write (required for CSV when the report has several)", false)
	s.str(&out, "out", "", "", "file to write; empty for standard output", false)
	if err := s.parse(args[1:]); err != nil {
		return err
	}
	var params report.Params
	for _, x := range []struct {
		flag, v string
		t       *time.Time
	}{{"date", date, &params.Date}, {"from", from, &params.From}, {"to", to, &params.To}} {
		if x.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, x.v)
		if err != nil || x.v > today {
			return &exitError{code: 2, msg: fmt.Sprintf("--%s %q: use a day YYYY-MM-DD, not in the future", x.flag, x.v)}
		}
		*x.t = t
	}
	if params.To.Before(params.From) {
		return &exitError{code: 2, msg: fmt.Sprintf("--to %s is before --from %s", to, from)}
	}
	params.Zone = zone
	if _, ok := registry.MustLoadCodes().Zone(zone); zone != "" && !ok {
		return &exitError{code: 2, msg: fmt.Sprintf("--zone %q: not a zone code", zone)}
	}
	if !slices.Contains([]string{"json", "csv", "xlsx", "html"}, format) {
		return &exitError{code: 2, msg: fmt.Sprintf("--format %q: use json, csv, xlsx or html", format)}
	}
	if sep != "comma" && sep != "semicolon" {
		return &exitError{code: 2, msg: fmt.Sprintf("--sep %q: use comma or semicolon", sep)}
	}
	if lang != "it" && lang != "en" {
		return &exitError{code: 2, msg: fmt.Sprintf("--lang %q: use it or en", lang)}
	}
	if format == "xlsx" && out == "" {
		return &exitError{code: 2, msg: "--format xlsx needs --out FILE"}
	}

	db, err := pgdb.Open(ctx, c.DatabaseURL)
	if err != nil {
		return fmt.Errorf("%w (is PostgreSQL running? `make run` starts one)", err)
	}
	defer db.Close()
	_, cat, err := reports(db, c.Report)
	if err != nil {
		return err
	}
	d, _ := cat.Lookup(name)
	rep, err := d.Compute(ctx, params)
	if err != nil {
		return err
	}
	grids := rep.Grids
	if tab != "" {
		i := slices.IndexFunc(grids, func(g report.Grid) bool { return g.Header().ID == tab })
		if i < 0 {
			return &exitError{code: 2, msg: fmt.Sprintf("--table %q: not a table of this report", tab)}
		}
		grids = grids[i : i+1]
	}
	if format == "csv" && len(grids) > 1 {
		ids := make([]string, len(grids))
		for i, g := range grids {
			ids[i] = g.Header().ID
		}
		return &exitError{code: 2, msg: "--format csv writes one table: name it with --table (one of " + strings.Join(ids, ", ") + ")"}
	}
	var buf bytes.Buffer
	switch format {
	case "json":
		err = render.WriteJSON(&buf, grids...)
	case "csv":
		o := render.CSVOptions{Lang: lang}
		if sep == "semicolon" {
			o = render.ItalianSpreadsheet
			o.Lang = lang
		}
		err = render.WriteCSV(&buf, grids[0], o)
	case "xlsx":
		err = render.WriteXLSX(&buf, render.XLSXOptions{Lang: lang}, grids...)
	case "html":
		err = render.WriteHTML(&buf, render.Page{Title: rep.Title, Subtitle: rep.Subtitle, Lang: lang, Tables: grids})
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", format, err)
	}
	for _, u := range rep.Unavailable {
		fmt.Fprintf(stderr, "not available: %s — %s\n", u.ID, strings.TrimSpace(u.Reason.In(lang)))
	}
	if out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (%d bytes)\n", out, buf.Len())
	return nil
}

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

// reportDefinitions is the catalogue of reports on db: those reportpg
// computes. Occupancy stays nil until activity's ASMI stays exist.
func reportDefinitions(db *pgdb.DB, c ReportConfig) (*report.Catalogue, error) {
	p, err := c.policy()
	if err != nil {
		return nil, err
	}
	return report.NewCatalogue(reportpg.New(db, reportpg.Options{Policy: p}).Definitions()...)
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	names := []string{reportpg.FacilityCensus}
	if len(args) == 0 || !slices.Contains(names, args[0]) {
		fmt.Fprintf(stderr, "Usage: sirm report <name> [flags]\n\nReports:\n  %s  facilities and authorised places by zone and typology at a date\n\n"+
			"Run 'sirm report <name> --help' for its settings.\n", reportpg.FacilityCensus)
		if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
			return nil
		}
		return &exitError{code: 2, msg: fmt.Sprintf("unknown report %q", args[0])}
	}
	name := args[0]
	var (
		c                                       Config
		date, zone, format, sep, lang, out, tab string
	)
	s := newSettings("report "+name, "Compute a report straight from the database, with the same disclosure control as\n"+
		"GET /v1/reports/"+name+", and write it to --out (or standard output).")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.reports(&c)
	today := time.Now().In(registry.Rome).Format(time.DateOnly)
	s.str(&date, "date", "", today, "reference day YYYY-MM-DD (default today, Europe/Rome)", false)
	s.str(&zone, "zone", "", "", "zone code; empty for the whole Region", false)
	s.str(&format, "format", "", "json", "json, csv, xlsx or html", false)
	s.str(&sep, "sep", "", "comma", "CSV separator: comma, or semicolon for Italian spreadsheets", false)
	s.str(&lang, "lang", "", "it", "language of the labels: it or en", false)
	s.str(&tab, "table", "", "", "id of the one table to write (CSV writes the first when empty)", false)
	s.str(&out, "out", "", "", "file to write; empty for standard output", false)
	if err := s.parse(args[1:]); err != nil {
		return err
	}
	day, err := time.Parse(time.DateOnly, date)
	if err != nil || date > today {
		return &exitError{code: 2, msg: fmt.Sprintf("--date %q: use a day YYYY-MM-DD, not in the future", date)}
	}
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
	cat, err := reportDefinitions(db, c.Report)
	if err != nil {
		return err
	}
	d, _ := cat.Lookup(name)
	rep, err := d.Compute(ctx, report.Params{Date: day, Zone: zone})
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

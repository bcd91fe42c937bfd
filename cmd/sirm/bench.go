package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/toscana/sirm/internal/linkbench"
	"github.com/toscana/sirm/linkage"
)

const benchUsage = `Usage: sirm bench <kind> [flags]

Measure sirm on labelled data.

  linkage  precision and recall of linkage on FEBRL 4 or the synthetic minors

Run 'sirm bench <kind> --help' for its settings.
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return nil
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, benchUsage)
		return nil
	case "linkage":
		return runBenchLinkage(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, benchUsage)
	return &exitError{code: 2, msg: fmt.Sprintf("unknown bench kind %q", args[0])}
}

// benchOutput is results.json.
type benchOutput struct {
	Dataset   string         `json:"dataset"`
	Backend   string         `json:"backend"`
	Notes     []string       `json:"notes"`
	Runs      []benchRun     `json:"runs"`
	Sweep     []benchRun     `json:"sweep,omitempty"`
	StartedAt time.Time      `json:"started_at"`
	Settings  map[string]any `json:"settings"`
}

type benchRun struct {
	Dataset               string         `json:"dataset"`
	AutoThreshold         float64        `json:"auto_threshold"`   // 0: the service's default
	ReviewThreshold       float64        `json:"review_threshold"` // 0: the service's default
	Records               int            `json:"records"`
	Invalid               int            `json:"invalid"`
	InvalidFields         map[string]int `json:"invalid_fields"`
	Persons               int            `json:"persons"`
	TruePairs             int            `json:"true_pairs"`
	ValidPairs            int            `json:"valid_pairs"`
	LinkedPairs           int            `json:"linked_pairs"`
	Found                 int            `json:"found"`
	Precision             float64        `json:"precision"`
	Recall                float64        `json:"recall"`
	F1                    float64        `json:"f1"`
	FoundWithReview       int            `json:"found_with_review"`
	RecallWithReview      float64        `json:"recall_with_review"`
	RecallValid           float64        `json:"recall_valid_pairs"`
	RecallWithReviewValid float64        `json:"recall_with_review_valid_pairs"`
	OpenReviews           int            `json:"open_reviews"`
	TwinsMerged           int            `json:"twins_merged"`
	ResolveSeconds        float64        `json:"resolve_seconds"`
}

func toBenchRun(r linkbench.Result) benchRun {
	m := r.Metrics
	return benchRun{
		Dataset: r.Dataset, AutoThreshold: r.AutoThreshold, ReviewThreshold: r.ReviewThreshold,
		Records: m.Records, Invalid: m.Invalid, InvalidFields: r.InvalidFields, Persons: m.Persons,
		TruePairs: m.TruePairs, ValidPairs: m.ValidPairs, LinkedPairs: m.PredictedPairs, Found: m.Found,
		Precision: m.Precision, Recall: m.Recall, F1: m.F1,
		FoundWithReview: m.FoundWithReview, RecallWithReview: m.RecallWithReview,
		RecallValid: m.RecallValid, RecallWithReviewValid: m.RecallWithReviewValid,
		OpenReviews: m.OpenReviews, TwinsMerged: m.DistinctLinked, ResolveSeconds: r.Elapsed.Seconds(),
	}
}

func runBenchLinkage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c                   Config
		dataset, out, febrl string
		backend             string
		n, seed, batch      int64
		auto, review, twins float64
		duplicates          float64
		sweep               bool
	)
	s := newSettings("bench linkage", "Resolve a labelled data set through the linkage service on a fresh database (created,\n"+
		"migrated and dropped on the server of --database-url), and print precision, recall and F1\n"+
		"of the automatic links, and recall counting the review queue, as markdown. Writes\n"+
		"results.json, and with --sweep sweep.svg, to --out. FEBRL 4 runs with residence and\n"+
		"without (names and birth date alone).")
	s.fs.SetOutput(stderr)
	s.str(&dataset, "dataset", "", "febrl4", "febrl4 or synthetic", false)
	s.str(&febrl, "febrl-dir", "SIRM_FEBRL_DIR", "internal/linkbench/testdata/febrl", "directory holding dataset4a.csv and dataset4b.csv", false)
	s.int64(&n, "n", "", int64(linkbench.DefaultSynthetic.N), "records of the synthetic data set")
	s.int64(&seed, "seed", "", linkbench.DefaultSynthetic.Seed, "seed of the synthetic data set")
	s.float(&duplicates, "duplicates", "", linkbench.DefaultSynthetic.DuplicateRate, "share of synthetic records that are variants of an earlier minor")
	s.float(&twins, "twins", "", linkbench.DefaultSynthetic.TwinRate, "share of new synthetic minors that are a twin or sibling of an earlier one")
	s.str(&out, "out", "", "bench-out", "directory for results.json and sweep.svg", false)
	s.database(&c)
	s.docs[len(s.docs)-1].usage = "PostgreSQL URL of a user who may create databases: each run creates a database of its own on that server and drops it"
	s.str(&backend, "backend", "", linkage.BackendHMAC, "PRF of the match keys: hmac (fast) or oprf; the links do not depend on it", false)
	s.float(&auto, "auto-threshold", "", 0, "automatic-link threshold; 0: the service's default")
	s.float(&review, "review-threshold", "", 0, "review threshold; 0: the service's default")
	s.int64(&batch, "batch", "", 1000, "identities per Resolve call, resolved in order")
	s.boolean(&sweep, "sweep", "", false, "also run automatic-link thresholds 0.60 to 0.98 by 0.02: table and sweep.svg")
	if err := s.parse(args); err != nil {
		return err
	}
	if n <= 0 || batch <= 0 {
		return &exitError{code: 2, msg: "--n and --batch must be positive"}
	}
	if backend != linkage.BackendHMAC && backend != linkage.BackendOPRF {
		return &exitError{code: 2, msg: fmt.Sprintf("--backend %q: use hmac or oprf", backend)}
	}
	for _, t := range []float64{auto, review, duplicates, twins} {
		if t < 0 || t > 1 {
			return &exitError{code: 2, msg: "thresholds and rates are between 0 and 1"}
		}
	}

	var sets []linkbench.Dataset
	switch dataset {
	case "febrl4":
		ds, err := linkbench.LoadFEBRL4(filepath.Join(febrl, "dataset4a.csv"), filepath.Join(febrl, "dataset4b.csv"))
		if err != nil {
			return err
		}
		sets = []linkbench.Dataset{ds, ds.WithoutResidence()}
	case "synthetic":
		sets = []linkbench.Dataset{linkbench.Synthetic(linkbench.SyntheticOptions{
			N: int(n), Seed: seed, DuplicateRate: duplicates, TwinRate: twins})}
	default:
		return &exitError{code: 2, msg: fmt.Sprintf("--dataset %q: use febrl4 or synthetic", dataset)}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	o := linkbench.Options{AdminURL: c.DatabaseURL, Backend: backend, AutoThreshold: auto, ReviewThreshold: review,
		BatchSize: int(batch), Progress: stderr}
	result := benchOutput{Dataset: dataset, Backend: backend, Notes: sets[0].Notes, StartedAt: time.Now().UTC(),
		Settings: map[string]any{"auto_threshold": auto, "review_threshold": review, "batch": batch, "n": n, "seed": seed,
			"duplicates": duplicates, "twins": twins}}

	var runs []linkbench.Result
	for _, ds := range sets {
		r, err := linkbench.Run(ctx, ds, o)
		if err != nil {
			return fmt.Errorf("bench %s: %w", ds.Name, err)
		}
		runs = append(runs, r)
		result.Runs = append(result.Runs, toBenchRun(r))
	}
	fmt.Fprintf(stdout, "## Linkage quality: %s (backend %s)\n\n", dataset, backend)
	for _, note := range sets[0].Notes {
		fmt.Fprintf(stdout, "- %s\n", note)
	}
	fmt.Fprintln(stdout)
	if err := linkbench.WriteSummary(stdout, runs); err != nil {
		return err
	}
	if sweep {
		// The sweep is on the first data set: FEBRL 4 with residence.
		rows, err := linkbench.Sweep(ctx, sets[0], o, linkbench.SweepThresholds())
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		for _, r := range rows {
			result.Sweep = append(result.Sweep, toBenchRun(r))
		}
		fmt.Fprintf(stdout, "\n### Threshold sweep: %s\n\n", sets[0].Name)
		if err := linkbench.WriteSweepTable(stdout, rows); err != nil {
			return err
		}
		var svg strings.Builder
		if err := linkbench.WriteSVG(&svg, "Linkage on "+sets[0].Name+": precision and recall by threshold", rows); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "sweep.svg"), []byte(svg.String()), 0o644); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s\n", filepath.Join(out, "results.json"))
	return nil
}

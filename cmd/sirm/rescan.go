package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/toscana/sirm/linkage"
)

func runLinkage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rescan" {
		fmt.Fprintf(stderr, "Usage: sirm linkage rescan [flags]\n\n  rescan  compare every stored person again with the persons sharing its blocking keys,\n          with the current thresholds, and open a review for every pair in the review band or above\n")
		if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
			return nil
		}
		return &exitError{code: 2, msg: fmt.Sprintf("unknown linkage command %q", args[0])}
	}
	var (
		c      Config
		asJSON bool
	)
	s := newSettings("linkage rescan", "Re-score the stored persons within their blocks (after a change of thresholds) and open a review for each pair "+
		"scoring in the review band or above that no review holds yet; a steward's earlier decision stands. Nothing is merged.")
	s.fs.SetOutput(stderr)
	s.database(&c)
	s.environment(&c)
	s.keys(&c)
	s.linkage(&c)
	s.fs.BoolVar(&asJSON, "json", false, "print the totals as JSON")
	s.docs = append(s.docs, settingDoc{flag: "json", def: "false", usage: "print the totals as JSON"})
	if err := s.parse(args[1:]); err != nil {
		return err
	}
	if !c.Linkage.Fuzzy {
		return errors.New("a rescan needs fuzzy matching: SIRM_LINKAGE_FUZZY=true")
	}
	c.Keys.Env = c.Env
	env, err := openLinkage(ctx, &c)
	if err != nil {
		return err
	}
	defer env.Close()
	lk := env.lk
	start := time.Now()
	last := start
	got, err := lk.Rescan(ctx, func(p linkage.RescanProgress) {
		if now := time.Now(); now.Sub(last) >= time.Second || p.Persons == p.Total {
			last = now
			fmt.Fprintf(stderr, "rescan: %d/%d persons (%.0f%%), %d pairs scored, %d in review band or above, %d reviews opened\n",
				p.Persons, p.Total, 100*float64(p.Persons)/float64(max(p.Total, 1)), p.Compared, p.InReview, p.Opened)
		}
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"persons": got.Persons, "pairs_scored": got.Compared, "in_review_band_or_above": got.InReview,
			"above_auto_threshold": got.AboveAuto, "both_hold_a_code": got.Conflicted, "reviews_opened": got.Opened,
			"seconds": elapsed.Seconds(),
		})
	}
	fmt.Fprintf(stdout, "rescanned %d persons in %s: %d pairs scored, %d at or above the review threshold (%d above the automatic one, %d where both hold a code), %d reviews opened\n",
		got.Persons, elapsed.Round(time.Millisecond), got.Compared, got.InReview, got.AboveAuto, got.Conflicted, got.Opened)
	return nil
}

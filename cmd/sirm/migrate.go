package main

import (
	"context"
	"fmt"
	"io"

	"github.com/toscana/sirm/migrations"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c Config
	s := newSettings("migrate", "Create the database if it is missing, then apply the pending migrations (under an advisory lock; running it again does nothing).")
	s.fs.SetOutput(stderr)
	s.database(&c)
	if err := s.parse(args); err != nil {
		return err
	}
	created, err := migrations.EnsureDatabase(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "created database %s\n", redactURL(c.DatabaseURL))
	}
	from, to, err := migrations.Up(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	if from == to {
		fmt.Fprintf(stdout, "schema is up to date (version %d)\n", to)
	} else {
		fmt.Fprintf(stdout, "migrated schema from version %d to %d\n", from, to)
	}
	return nil
}

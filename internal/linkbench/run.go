package linkbench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
	"github.com/toscana/sirm/migrations"
)

// Fixed benchmark keys: a run never touches a deployment's keys, and the
// same data gives the same digests on every run.
var (
	benchPRFKey   = bytes.Repeat([]byte{0x42}, 32)
	benchBloomKey = bytes.Repeat([]byte{0x5b}, 32)
	benchMasters  = map[int][]byte{1: bytes.Repeat([]byte{0x17}, 32)}
)

// benchDomain is the token domain the benchmark resolves in.
const benchDomain = "bench"

// Options are the settings of a run.
type Options struct {
	// AdminURL is a PostgreSQL URL whose user may create and drop
	// databases; each run creates a database of its own on that server
	// (whatever database the URL names) and drops it.
	AdminURL string
	// Backend is the PRF: linkage.BackendHMAC (the default: fast, and the
	// links do not depend on the backend) or linkage.BackendOPRF.
	Backend string
	// AutoThreshold and ReviewThreshold are passed to linkage.Config; zero
	// means the service's defaults.
	AutoThreshold, ReviewThreshold float64
	// BatchSize is how many identities go in one Resolve call; 0 means 1000.
	// Records are resolved in order, a batch after the other commits.
	BatchSize int
	// Progress, when not nil, receives a line per batch.
	Progress io.Writer
}

// Result is the outcome of one run.
type Result struct {
	Dataset         string
	AutoThreshold   float64 // as configured (0: service default)
	ReviewThreshold float64
	Metrics         Metrics
	// InvalidFields counts the invalid records by the field validation
	// named (a record can name several).
	InvalidFields map[string]int
	Elapsed       time.Duration // resolution alone, without database setup
}

// Run resolves ds on a fresh database and scores the persons it got.
func Run(ctx context.Context, ds Dataset, o Options) (Result, error) {
	dbURL, drop, err := freshDatabase(ctx, o.AdminURL)
	if err != nil {
		return Result{}, err
	}
	defer drop()
	db, err := pgdb.Open(ctx, dbURL)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()

	prf, err := newPRF(o.Backend)
	if err != nil {
		return Result{}, err
	}
	svc, err := linkage.NewService(linkage.Config{
		Store: linkagepg.New(db), Tx: db, PRF: prf, TokenMasters: benchMasters, Policy: ds.Policy,
		BloomKey: benchBloomKey, AutoThreshold: o.AutoThreshold, ReviewThreshold: o.ReviewThreshold,
	})
	if err != nil {
		return Result{}, err
	}

	batch := o.BatchSize
	if batch <= 0 {
		batch = 1000
	}
	res := Result{Dataset: ds.Name, AutoThreshold: o.AutoThreshold, ReviewThreshold: o.ReviewThreshold,
		InvalidFields: map[string]int{}}
	persons := make([]linkage.PersonID, len(ds.Records))
	truth := make([]string, len(ds.Records))
	ids := make([]linkage.Identity, 0, batch)
	start := time.Now()
	for from := 0; from < len(ds.Records); from += batch {
		to := min(from+batch, len(ds.Records))
		ids = ids[:0]
		for i := from; i < to; i++ {
			ids = append(ids, ds.Records[i].Identity)
			truth[i] = ds.Records[i].Truth
		}
		out, err := svc.Resolve(ctx, benchDomain, ids, nil)
		if err != nil {
			return Result{}, fmt.Errorf("resolve records %d–%d: %w", from+1, to, err)
		}
		for _, r := range out {
			if r.Err != nil {
				var ve *linkage.ValidationError
				if !errors.As(r.Err, &ve) {
					return Result{}, fmt.Errorf("resolve record %d: %w", from+r.Index+1, r.Err)
				}
				for _, f := range ve.Fields {
					res.InvalidFields[f.Field]++
				}
				continue
			}
			persons[from+r.Index] = r.Person
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s: resolved %d/%d\n", ds.Name, to, len(ds.Records))
		}
	}
	res.Elapsed = time.Since(start)

	current, err := currentPersons(ctx, db)
	if err != nil {
		return Result{}, err
	}
	for i, p := range persons {
		if c, ok := current[p]; ok {
			persons[i] = c
		}
	}
	reviews, err := openReviews(ctx, db)
	if err != nil {
		return Result{}, err
	}
	res.Metrics = Score(truth, persons, reviews, ds.Distinct)
	return res, nil
}

func newPRF(backend string) (linkage.PRF, error) {
	switch backend {
	case "", linkage.BackendHMAC:
		return linkage.NewHMAC(benchPRFKey)
	case linkage.BackendOPRF:
		return linkage.NewOPRF(benchPRFKey)
	}
	return nil, fmt.Errorf("backend %q: use hmac or oprf", backend)
}

// freshDatabase creates a database with a random name on the server of
// adminURL, migrates it, and returns its URL and a function dropping it.
func freshDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	base, err := url.Parse(adminURL)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		return "", nil, errors.New("the database url must be a postgres:// URL")
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("random database name: %w", err)
	}
	name := "sirm_bench_" + hex.EncodeToString(b)
	u := *base
	u.Path, u.RawPath = "/"+name, ""
	dbURL := u.String()
	if _, err := migrations.EnsureDatabase(ctx, dbURL); err != nil {
		return "", nil, err
	}
	drop := func() {
		// The caller's context may be cancelled (interrupt): drop anyway.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		// Like migrations.EnsureDatabase, through the server's postgres
		// database: the one the URL names may not exist.
		cfg, err := pgx.ParseConfig(adminURL)
		if err != nil {
			return
		}
		cfg.Database = "postgres"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	if _, _, err := migrations.Up(ctx, dbURL); err != nil {
		drop()
		return "", nil, err
	}
	return dbURL, drop, nil
}

// hasRelation reports whether the schema has the table, column or function.
const hasRelationSQL = `
SELECT to_regclass('linkage.reviews') IS NOT NULL,
       EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'linkage' AND table_name = 'persons' AND column_name = 'merged_into')`

func schemaHas(ctx context.Context, db *pgdb.DB) (reviews, merges bool, err error) {
	if err := db.Q(ctx).QueryRow(ctx, hasRelationSQL).Scan(&reviews, &merges); err != nil {
		return false, false, fmt.Errorf("inspect linkage schema: %w", err)
	}
	return reviews, merges, nil
}

const mergedPersonsSQL = `
SELECT id, linkage.current_person(id) FROM linkage.persons WHERE merged_into IS NOT NULL`

// currentPersons maps every merged person to the person it is now; empty
// when the schema has no merges.
func currentPersons(ctx context.Context, db *pgdb.DB) (map[linkage.PersonID]linkage.PersonID, error) {
	out := map[linkage.PersonID]linkage.PersonID{}
	_, merges, err := schemaHas(ctx, db)
	if err != nil || !merges {
		return out, err
	}
	rows, err := db.Q(ctx).Query(ctx, mergedPersonsSQL)
	if err != nil {
		return nil, fmt.Errorf("read merged persons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to [16]byte
		if err := rows.Scan(&from, &to); err != nil {
			return nil, fmt.Errorf("read merged persons: %w", err)
		}
		out[personID(from)] = personID(to)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read merged persons: %w", err)
	}
	return out, nil
}

const openReviewsSQL = `SELECT person_a, person_b FROM linkage.reviews WHERE status = 'open'`

// openReviews returns the person pairs of the open review items, each
// person as it is now; empty when the schema has no review queue.
func openReviews(ctx context.Context, db *pgdb.DB) (map[PersonPair]bool, error) {
	out := map[PersonPair]bool{}
	reviews, merges, err := schemaHas(ctx, db)
	if err != nil || !reviews {
		return out, err
	}
	q := openReviewsSQL
	if merges {
		q = `SELECT linkage.current_person(person_a), linkage.current_person(person_b) FROM linkage.reviews WHERE status = 'open'`
	}
	rows, err := db.Q(ctx).Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read open reviews: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b [16]byte
		if err := rows.Scan(&a, &b); err != nil {
			return nil, fmt.Errorf("read open reviews: %w", err)
		}
		if a != b {
			out[MakePersonPair(personID(a), personID(b))] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read open reviews: %w", err)
	}
	return out, nil
}

func personID(u [16]byte) linkage.PersonID {
	p, err := linkage.ParsePersonID(hex.EncodeToString(u[:]))
	if err != nil {
		panic("linkbench: 16 bytes do not parse as a person id") // cannot happen
	}
	return p
}

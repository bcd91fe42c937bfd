package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/activitypg"
	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
	"github.com/toscana/sirm/registry"
	"github.com/toscana/sirm/registry/registrypg"
	"github.com/toscana/sirm/vaultcfg"
)

// LinkageConfig are the settings of the pseudonymisation service.
type LinkageConfig struct {
	Backend        string
	TransitKey     string
	TransitVersion int64
	AgeLimit       int64
	// AutoThreshold and ReviewThreshold bound fuzzy matching's review
	// band; Fuzzy turns it off (exact keys only).
	AutoThreshold   float64
	ReviewThreshold float64
	Fuzzy           bool
}

func (s *settings) linkage(c *Config) {
	l := &c.Linkage
	s.str(&l.Backend, "linkage-backend", "SIRM_LINKAGE_BACKEND", linkage.BackendOPRF,
		"PRF of the match keys: oprf, hmac or transit (Vault); fixed at a deployment's first start", false)
	s.str(&l.TransitKey, "linkage-transit-key", "SIRM_LINKAGE_TRANSIT_KEY", "sirm-linkage", "Vault transit key of the transit backend", false)
	s.int64(&l.TransitVersion, "linkage-transit-version", "SIRM_LINKAGE_TRANSIT_VERSION", 1, "transit key version, pinned")
	s.int64(&l.AgeLimit, "age-limit", "SIRM_AGE_LIMIT", 21, "oldest age in years accepted for an identity (minors and young adults); 0 turns it off")
	s.boolean(&l.Fuzzy, "linkage-fuzzy", "SIRM_LINKAGE_FUZZY", true, "fuzzy matching (Bloom-filter encodings, review queue); off: exact match keys only")
	s.float(&l.AutoThreshold, "linkage-auto-threshold", "SIRM_LINKAGE_AUTO_THRESHOLD", linkage.DefaultAutoThreshold,
		"fuzzy score from which a candidate is linked automatically")
	s.float(&l.ReviewThreshold, "linkage-review-threshold", "SIRM_LINKAGE_REVIEW_THRESHOLD", linkage.DefaultReviewThreshold,
		"fuzzy score from which a candidate becomes a possible match for a data steward (below the automatic threshold)")
}

// newPRF builds the configured PRF backend from the key source.
func newPRF(ctx context.Context, c LinkageConfig, keys vaultcfg.Source) (linkage.PRF, error) {
	switch c.Backend {
	case linkage.BackendOPRF, linkage.BackendHMAC:
		sec, err := keys.Secret(ctx, vaultcfg.SecretLinkage)
		if err != nil {
			return nil, err
		}
		if c.Backend == linkage.BackendOPRF {
			return linkage.NewOPRF(sec.Material)
		}
		return linkage.NewHMAC(sec.Material)
	case linkage.BackendTransit:
		vs, ok := keys.(*vaultcfg.VaultSource)
		if !ok {
			return nil, errors.New("the transit linkage backend needs SIRM_KEYS=vault")
		}
		return vaultcfg.NewTransitPRF(vs.Transit(c.TransitKey), int(c.TransitVersion))
	}
	return nil, fmt.Errorf("SIRM_LINKAGE_BACKEND=%q: use oprf, hmac or transit", c.Backend)
}

// newLinkage builds the linkage service: PRF, token master secrets, store.
func newLinkage(ctx context.Context, c LinkageConfig, keys vaultcfg.Source, db *pgdb.DB) (*linkage.Service, error) {
	prf, err := newPRF(ctx, c, keys)
	if err != nil {
		return nil, err
	}
	versions, err := keys.Versions(ctx, vaultcfg.SecretToken)
	if err != nil {
		return nil, err
	}
	masters := make(map[int][]byte, len(versions))
	for _, v := range versions {
		sec, err := keys.SecretVersion(ctx, vaultcfg.SecretToken, v)
		if err != nil {
			return nil, err
		}
		masters[v] = sec.Material
	}
	if c.AgeLimit < 0 {
		return nil, errors.New("SIRM_AGE_LIMIT must be 0 (off) or a number of years")
	}
	cfg := linkage.Config{
		Store: linkagepg.New(db), Tx: db, PRF: prf, TokenMasters: masters,
		Policy:        linkage.Policy{MaxAgeYears: int(c.AgeLimit)},
		AutoThreshold: c.AutoThreshold, ReviewThreshold: c.ReviewThreshold,
	}
	if c.Fuzzy {
		sec, err := keys.Secret(ctx, vaultcfg.SecretBloom)
		if err != nil {
			return nil, err
		}
		cfg.BloomKey = sec.Material
	}
	return linkage.NewService(cfg)
}

// linkageEnv is what the commands that work on persons open: the key
// source, the database and the linkage service, pinned to its backend.
type linkageEnv struct {
	keys vaultcfg.Source
	db   *pgdb.DB
	lk   *linkage.Service
}

// openLinkage opens c's key source and database and builds the linkage
// service on them; Close releases both.
func openLinkage(ctx context.Context, c *Config) (*linkageEnv, error) {
	keys, err := vaultcfg.Open(ctx, c.Keys)
	if err != nil {
		return nil, err
	}
	db, err := pgdb.Open(ctx, c.DatabaseURL)
	if err != nil {
		keys.Close()
		return nil, fmt.Errorf("%w (is PostgreSQL running? `make run` starts one)", err)
	}
	e := &linkageEnv{keys: keys, db: db}
	if e.lk, err = newLinkage(ctx, c.Linkage, keys, db); err == nil {
		err = e.lk.PinBackend(ctx)
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *linkageEnv) Close() {
	e.db.Close()
	e.keys.Close()
}

// newDomains builds the registry and activity services on e, as the server
// wires them (live occupancy from the stays).
func (e *linkageEnv) newDomains(log *slog.Logger) (*registry.Service, *activity.Service, error) {
	acts := activitypg.New(e.db)
	reg, err := registry.NewService(registry.Config{Store: registrypg.New(e.db), Tx: e.db, Occupancy: acts})
	if err != nil {
		return nil, nil, err
	}
	act, err := activity.NewService(activity.Config{Store: acts, Tx: e.db, Persons: e.lk,
		Facilities: activity.RegistryFacilities(reg), Zone: activity.RegistryZones(reg), Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return reg, act, nil
}

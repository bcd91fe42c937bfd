package linkagepg_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/internal/pgdb"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/linkage/linkagepg"
)

func fuzzyServiceOn(t *testing.T, db *pgdb.DB, auto, review float64) *linkage.Service {
	t.Helper()
	svc, err := linkage.NewService(linkage.Config{
		Store: linkagepg.New(db), Tx: db, PRF: newHMAC(t),
		TokenMasters: masters, Policy: testPolicy, BloomKey: bloomKey,
		AutoThreshold: auto, ReviewThreshold: review,
	})
	require.NoError(t, err)
	return svc
}

// TestRescan: persons resolved under strict thresholds (a typo makes a
// new person, no review) are found again by a rescan under the default
// thresholds: one review for the pair, pseudonymous evidence, none for
// unrelated minors, none again on a second rescan or after a steward's
// "different"; a rescan merges nothing.
func TestRescan(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	strict := fuzzyServiceOn(t, db, 0.99, 0.99)
	giulia := noCode(rossi)
	a := resolveOne(t, strict, "Z1", giulia)
	b := resolveOne(t, strict, "Z1", typoSurname(giulia, "Rosi"))
	require.NotEqual(t, a.Person, b.Person, "under strict thresholds the typo is a new person")
	resolveOne(t, strict, "Z1", noCode(bianchi))
	resolveOne(t, strict, "Z1", noCode(verdi))
	require.Zero(t, count(t, db, "linkage.reviews"))
	persons := count(t, db, "linkage.persons")

	svc := fuzzyServiceOn(t, db, 0, 0) // the defaults
	var pages []linkage.RescanProgress
	got, err := svc.Rescan(ctx, func(p linkage.RescanProgress) { pages = append(pages, p) })
	require.NoError(t, err)
	assert.Equal(t, persons, got.Total)
	assert.Equal(t, persons, got.Persons)
	assert.Equal(t, 1, got.InReview)
	assert.Equal(t, 1, got.AboveAuto, "a surname typo scores above the automatic threshold")
	assert.Equal(t, 1, got.Opened)
	assert.NotEmpty(t, pages, "progress is reported")
	assert.Equal(t, persons, count(t, db, "linkage.persons"), "a rescan creates or merges nothing")
	assert.Zero(t, count(t, db, "linkage.merges"))

	rs, err := svc.OpenReviews(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	pair := []linkage.PersonID{rs[0].PersonA, rs[0].PersonB}
	assert.ElementsMatch(t, []linkage.PersonID{a.Person, b.Person}, pair)
	assert.Greater(t, rs[0].Evidence.Similarity["birth_date"], 0.99)
	assert.Less(t, rs[0].Evidence.Similarity["surname"], 1.0)

	again, err := svc.Rescan(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, again.InReview)
	assert.Zero(t, again.Opened, "an open review is not opened twice")

	_, err = svc.Decide(ctx, rs[0].ID, linkage.DecisionDifferent, "steward", nil)
	require.NoError(t, err)
	after, err := svc.Rescan(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, after.Opened, "a steward's decision stands")
	assert.Equal(t, 1, count(t, db, "linkage.reviews"))
}

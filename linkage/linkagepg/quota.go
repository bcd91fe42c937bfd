package linkagepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/toscana/sirm/linkage"
)

var _ linkage.BlindQuota = (*Store)(nil)

// chargeOPRFSQL adds $3 to the count of ($1, $2) unless the sum would pass
// $4; one statement, so concurrent calls of one organisation serialise on
// its row and never overshoot. No row comes back when it refuses.
const chargeOPRFSQL = `
INSERT INTO linkage.oprf_usage AS u (org, day, elements)
SELECT $1::text, $2::date, $3::bigint WHERE $3::bigint <= $4::bigint
ON CONFLICT (org, day) DO UPDATE SET elements = u.elements + EXCLUDED.elements, updated_at = now()
    WHERE u.elements + EXCLUDED.elements <= $4::bigint
RETURNING u.elements`

const oprfUsageSQL = `SELECT elements FROM linkage.oprf_usage WHERE org = $1 AND day = $2`

// ChargeOPRF implements linkage.BlindQuota on linkage.oprf_usage
// (migration 005).
func (s *Store) ChargeOPRF(ctx context.Context, org string, day time.Time, n, limit int64) (int64, bool, error) {
	q := s.db.Q(ctx)
	var used int64
	err := q.QueryRow(ctx, chargeOPRFSQL, org, day, n, limit).Scan(&used)
	if err == nil {
		return used, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("charge oprf quota: %w", err)
	}
	err = q.QueryRow(ctx, oprfUsageSQL, org, day).Scan(&used)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("read oprf quota: %w", err)
	}
	return used, false, nil
}

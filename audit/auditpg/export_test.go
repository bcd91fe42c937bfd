package auditpg

import "github.com/toscana/sirm/internal/pgdb"

// NewChunked returns a Store whose Walk reads n events per query, so tests
// cross chunk boundaries with few events.
func NewChunked(db *pgdb.DB, n int) *Store { return &Store{db: db, chunk: n} }

package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/audit"
)

func fixedPrev() []byte {
	prev := make([]byte, 32)
	for i := range prev {
		prev[i] = byte(i)
	}
	return prev
}

func fixedEvent() audit.Event {
	return audit.Event{
		Seq:        7,
		Time:       time.Date(2024, 3, 5, 10, 20, 30, 123456789, time.UTC),
		Actor:      "alice",
		Role:       "auditor",
		Org:        "rt",
		Action:     "audit.events.list",
		ObjectType: "audit_log",
		ObjectID:   "",
		PersonRef:  "p-42",
		Purpose:    "review",
		Outcome:    audit.OutcomeAllowed,
		Status:     200,
		RequestID:  "req-1",
	}
}

// wantHash is SHA-256 of the encoding below, computed apart from this code
// (Python's hashlib over the same bytes).
const wantHash = "3c2307324dbbacd6c66b844dea0d46a3dec1405cec400d965ba6a28907bcd50c"

func TestHashVector(t *testing.T) {
	// The encoding of fixedEvent, written out: a domain tag, then every
	// field in order, byte strings prefixed by their length as a big-endian
	// uint64, integers as big-endian int64.
	var enc []byte
	enc = append(enc, "sirm-audit-v1\x00"...)
	enc = append(enc, 0, 0, 0, 0, 0, 0, 0, 32)
	enc = append(enc, fixedPrev()...)
	enc = append(enc, 0, 0, 0, 0, 0, 0, 0, 7)                         // seq
	enc = append(enc, 0x00, 0x06, 0x12, 0xe7, 0x31, 0x0f, 0xb9, 0xc0) // 1709634030123456 µs: 2024-03-05T10:20:30.123456Z
	for _, s := range []string{"alice", "auditor", "rt", "audit.events.list", "audit_log", "", "p-42", "review", "allowed", "req-1"} {
		enc = append(enc, 0, 0, 0, 0, 0, 0, 0, byte(len(s)))
		enc = append(enc, s...)
	}
	enc = append(enc, 0, 0, 0, 0, 0, 0, 0, 200) // status
	sum := sha256.Sum256(enc)
	require.Equal(t, wantHash, hex.EncodeToString(sum[:]), "hand encoding")

	assert.Equal(t, wantHash, hex.EncodeToString(audit.Hash(fixedPrev(), fixedEvent())))
}

func TestHashIgnores(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *audit.Event)
	}{
		// Verify hashes stored events, which carry both.
		{"hashField", func(e *audit.Event) { e.Hash = []byte("x") }},
		{"prevHashField", func(e *audit.Event) { e.PrevHash = []byte("x") }},
		// What PostgreSQL does not keep.
		{"timeZone", func(e *audit.Event) { e.Time = e.Time.In(time.FixedZone("CET", 3600)) }},
		{"nanoseconds", func(e *audit.Event) { e.Time = e.Time.Truncate(time.Microsecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fixedEvent()
			tt.change(&e)
			assert.Equal(t, wantHash, hex.EncodeToString(audit.Hash(fixedPrev(), e)))
		})
	}
}

func TestHashChanges(t *testing.T) {
	tests := []struct {
		name   string
		prev   func(p []byte) []byte
		change func(e *audit.Event)
	}{
		{"prev", func(p []byte) []byte { p[31] ^= 1; return p }, nil},
		{"prevShorter", func(p []byte) []byte { return p[:31] }, nil},
		{"seq", nil, func(e *audit.Event) { e.Seq++ }},
		{"time", nil, func(e *audit.Event) { e.Time = e.Time.Add(time.Microsecond) }},
		{"actor", nil, func(e *audit.Event) { e.Actor = "alicf" }},
		{"role", nil, func(e *audit.Event) { e.Role = "operator" }},
		{"org", nil, func(e *audit.Event) { e.Org = "rs" }},
		{"action", nil, func(e *audit.Event) { e.Action = "audit.events.lisT" }},
		{"objectType", nil, func(e *audit.Event) { e.ObjectType = "person" }},
		{"objectID", nil, func(e *audit.Event) { e.ObjectID = "x" }},
		{"personRef", nil, func(e *audit.Event) { e.PersonRef = "p-43" }},
		{"purpose", nil, func(e *audit.Event) { e.Purpose = "" }},
		{"outcome", nil, func(e *audit.Event) { e.Outcome = audit.OutcomeDenied }},
		{"status", nil, func(e *audit.Event) { e.Status = 201 }},
		{"requestID", nil, func(e *audit.Event) { e.RequestID = "req-2" }},
		// Without length prefixes these two would encode alike.
		{"byteMovedBetweenFields", nil, func(e *audit.Event) { e.Actor, e.Role = "alicea", "uditor" }},
		{"emptyFieldShifted", nil, func(e *audit.Event) { e.ObjectID, e.PersonRef = "p-42", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, e := fixedPrev(), fixedEvent()
			if tt.prev != nil {
				prev = tt.prev(prev)
			}
			if tt.change != nil {
				tt.change(&e)
			}
			assert.NotEqual(t, wantHash, hex.EncodeToString(audit.Hash(prev, e)))
		})
	}
}

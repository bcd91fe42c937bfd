package activitypg_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/toscana/sirm/activity"
	"github.com/toscana/sirm/activity/activitypg"
	"github.com/toscana/sirm/activity/sinba/sinbatest"
	"github.com/toscana/sirm/internal/pgtest"
	"github.com/toscana/sirm/linkage"
	"github.com/toscana/sirm/registry"
)

func day(n int) time.Time { return time.Date(2026, 3, n, 0, 0, 0, 0, time.UTC) }

func stay(p linkage.PersonID, f registry.ID, admitted int) activity.Stay {
	return activity.Stay{Person: p, Facility: f, Admitted: day(admitted), SendingZone: "FIORENTINA", Form: activity.FormJudicial}
}

func TestOccupiedAtDate(t *testing.T) {
	db := pgtest.DB(t)
	s := activitypg.New(db)
	ctx := context.Background()
	a, err := s.InsertStay(ctx, stay(linkage.NewPersonID(), 7, 1), "t")
	require.NoError(t, err)
	_, err = s.InsertStay(ctx, stay(linkage.NewPersonID(), 7, 4), "t")
	require.NoError(t, err)
	_, err = s.InsertStay(ctx, stay(linkage.NewPersonID(), 8, 2), "t")
	require.NoError(t, err)
	require.NoError(t, s.Discharge(ctx, a.ID, day(5), "1"))
	for _, tc := range []struct {
		name string
		at   time.Time
		want map[registry.ID]int
	}{
		{"beforeAnyInRome", day(1).Add(-3 * time.Hour), map[registry.ID]int{}},
		{"day3", day(3).Add(15 * time.Hour), map[registry.ID]int{7: 1, 8: 1}},
		{"day4", day(4), map[registry.ID]int{7: 2, 8: 1}},
		{"dischargeDayIsOut", day(5).Add(10 * time.Hour), map[registry.ID]int{7: 1, 8: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Occupied(ctx, []registry.ID{7, 8, 9}, tc.at)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	n, err := s.OpenStays(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestOpenStayPerStoredPerson(t *testing.T) {
	db := pgtest.DB(t)
	s := activitypg.New(db)
	ctx := context.Background()
	p := linkage.NewPersonID()
	_, err := s.InsertStay(ctx, stay(p, 7, 1), "t")
	require.NoError(t, err)
	_, err = s.InsertStay(ctx, stay(p, 8, 2), "t")
	assert.ErrorIs(t, err, activity.ErrOpenStay)
}

func TestSavepointUndoesOnlyItsOwn(t *testing.T) {
	db := pgtest.DB(t)
	s := activitypg.New(db)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.WithTx(ctx, func(ctx context.Context) error {
		require.NoError(t, s.Savepoint(ctx, func(ctx context.Context) error {
			_, err := s.InsertStay(ctx, stay(linkage.NewPersonID(), 7, 1), "t")
			return err
		}))
		err := s.Savepoint(ctx, func(ctx context.Context) error {
			if _, err := s.InsertStay(ctx, stay(linkage.NewPersonID(), 7, 1), "t"); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		return nil
	})
	require.NoError(t, err)
	n, err := s.OpenStays(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the failed savepoint's stay is gone, the other committed")
	assert.Error(t, s.Savepoint(ctx, func(context.Context) error { return nil }), "no transaction")
}

func TestClaimFlow(t *testing.T) {
	db := pgtest.DB(t)
	s := activitypg.New(db)
	ctx := context.Background()
	_, claimed, err := s.ClaimFlow(ctx, "FIORENTINA", "F1")
	require.NoError(t, err)
	require.True(t, claimed)
	_, _, err = s.ClaimFlow(ctx, "FIORENTINA", "F1")
	assert.ErrorIs(t, err, activity.ErrFlowInProgress)
	_, claimed, err = s.ClaimFlow(ctx, "APUANE", "F1")
	require.NoError(t, err)
	assert.True(t, claimed, "names are per sender")

	results := []activity.RecordResult{{Index: 1, Outcome: activity.OutcomeCreated, Case: 4},
		{Index: 2, Outcome: activity.OutcomeError, Errors: []activity.FieldError{{Field: "LuogoVita", Reason: "bad"}}}}
	require.NoError(t, s.FinishFlow(ctx, "FIORENTINA", "F1", results))
	got, claimed, err := s.ClaimFlow(ctx, "FIORENTINA", "F1")
	require.NoError(t, err)
	assert.False(t, claimed)
	assert.Equal(t, results, got)

	require.NoError(t, s.ReleaseFlow(ctx, "APUANE", "F1"))
	_, claimed, err = s.ClaimFlow(ctx, "APUANE", "F1")
	require.NoError(t, err)
	assert.True(t, claimed, "a released flow may be sent again")
	// A claim left behind by a stopped server is taken over after 30 minutes.
	_, err = db.Pool.Exec(ctx, `UPDATE activity.flows SET received_at = now() - interval '31 minutes' WHERE sender = 'APUANE'`)
	require.NoError(t, err)
	_, claimed, err = s.ClaimFlow(ctx, "APUANE", "F1")
	require.NoError(t, err)
	assert.True(t, claimed)
}

func TestEventsInOrderPerZone(t *testing.T) {
	db := pgtest.DB(t)
	s := activitypg.New(db)
	ctx := context.Background()
	require.NoError(t, s.AppendEvents(ctx, []activity.Event{
		{Zone: "A", Kind: activity.EventAdmission, Case: 1, Stay: 2, Facility: 3, Date: day(1), Detail: map[string]string{"form": "judicial"}},
		{Zone: "B", Kind: activity.EventAdmission, Case: 5},
		{Zone: "A", Kind: activity.EventDischarge, Case: 1, Stay: 2},
	}))
	evs, err := s.Events(ctx, "A", 0, 10)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, activity.EventAdmission, evs[0].Kind)
	assert.Equal(t, "judicial", evs[0].Detail["form"])
	assert.Equal(t, day(1), evs[0].Date)
	assert.Equal(t, activity.EventDischarge, evs[1].Kind)
	evs, err = s.Events(ctx, "A", evs[0].Seq, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, activity.EventDischarge, evs[0].Kind)
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestYearCaseFiles: the files open at some time in the year, by zone and
// id, with the person each minor now is, and a closure only when it fell
// by the end of the year.
func TestYearCaseFiles(t *testing.T) {
	db := pgtest.DB(t)
	s := activitypg.New(db)
	ctx := context.Background()
	survivor, absorbed, other := linkage.NewPersonID(), linkage.NewPersonID(), linkage.NewPersonID()
	for _, p := range []linkage.PersonID{survivor, absorbed, other} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO linkage.persons (id, sex, birth_year, birth_month, citizenship_group) VALUES ($1, 'F', 2014, 3, 'IT')`, p.String())
		require.NoError(t, err)
	}
	_, err := db.Pool.Exec(ctx, `UPDATE linkage.persons SET merged_into = $1 WHERE id = $2`, survivor.String(), absorbed.String())
	require.NoError(t, err)

	rec := sinbatest.Record(rand.New(rand.NewPCG(1, 1)), "", time.Now())
	type file struct {
		name   string
		person linkage.PersonID
		zone   string
		opened time.Time
		closed time.Time
	}
	files := []file{
		{"openAll", survivor, "B", date(2023, 5, 1), time.Time{}},
		{"closedBefore", other, "A", date(2023, 5, 1), date(2024, 12, 31)},
		{"closedFirstDay", absorbed, "A", date(2023, 5, 1), date(2025, 1, 1)},
		{"closedWithin", other, "A", date(2025, 2, 1), date(2025, 6, 30)},
		{"closedAfter", other, "B", date(2024, 2, 1), date(2026, 1, 10)},
		{"openedLastDay", survivor, "A", date(2025, 12, 31), time.Time{}},
		{"openedAfter", other, "C", date(2026, 1, 1), time.Time{}},
	}
	ids := map[activity.CaseID]string{}
	for _, f := range files {
		c := activity.CaseFile{Person: f.person, Zone: f.zone, Opened: f.opened, Record: rec}
		if !f.closed.IsZero() {
			// As CloseCase does: the closure in the columns and the record.
			c.Closed, c.Closure = f.closed, activity.Closure{Reason: "3", Situation: "2"}
			c.Record.MotivazioneChiusuraCarico, c.Record.SituazioneChiusuraCarico = &c.Closure.Reason, &c.Closure.Situation
		}
		out, err := s.InsertCaseFile(ctx, c, "t")
		require.NoError(t, err)
		ids[out.ID] = f.name
	}
	collect := func(year int, zone string) ([]string, map[string]activity.YearFile) {
		var names []string
		got := map[string]activity.YearFile{}
		require.NoError(t, s.YearCaseFiles(ctx, year, zone, func(f activity.YearFile) error {
			names = append(names, ids[f.Case])
			got[ids[f.Case]] = f
			return nil
		}))
		return names, got
	}
	names, got := collect(2025, "")
	assert.Equal(t, []string{"closedFirstDay", "closedWithin", "openedLastDay", "openAll", "closedAfter"}, names, "by zone, then id")
	assert.Equal(t, survivor, got["closedFirstDay"].Person, "merges followed")
	assert.Equal(t, other, got["closedWithin"].Person)
	for name, f := range got {
		assert.Empty(t, f.Record.IDBeneficiario, name)
		closed := name == "closedFirstDay" || name == "closedWithin"
		if closed {
			require.NotNil(t, f.Record.MotivazioneChiusuraCarico, name)
			assert.Equal(t, "3", string(*f.Record.MotivazioneChiusuraCarico))
			require.NotNil(t, f.Record.SituazioneChiusuraCarico, name)
			assert.Equal(t, "2", string(*f.Record.SituazioneChiusuraCarico))
		} else {
			assert.Nil(t, f.Record.MotivazioneChiusuraCarico, "%s: closed after the year, or open", name)
			assert.Nil(t, f.Record.SituazioneChiusuraCarico, name)
		}
		assert.Equal(t, rec.Prestazioni, f.Record.Prestazioni)
	}
	names, _ = collect(2025, "B")
	assert.Equal(t, []string{"openAll", "closedAfter"}, names)

	// A file transferred from B to C in 2026 was B's in 2025 and is C's
	// in 2026; one transferred within 2025 is its new zone's for 2025.
	transfer := func(name, from, to string, on time.Time) {
		for id, n := range ids {
			if n != name {
				continue
			}
			_, err := db.Pool.Exec(ctx, `UPDATE activity.case_files SET zone = $2 WHERE id = $1`, int64(id), to)
			require.NoError(t, err)
			for _, z := range []string{from, to} {
				_, err := db.Pool.Exec(ctx, `INSERT INTO activity.events (zone, kind, case_id, on_date, detail)
VALUES ($1, 'transfer_accepted', $2, $3, jsonb_build_object('from_zone', $4::text, 'to_zone', $5::text))`, z, int64(id), on, from, to)
				require.NoError(t, err)
			}
		}
	}
	transfer("openAll", "B", "C", date(2026, 3, 1))
	transfer("closedWithin", "A", "C", date(2025, 4, 1))
	names, _ = collect(2025, "B")
	assert.Equal(t, []string{"openAll", "closedAfter"}, names, "transferred after the year: still B's flow")
	names, _ = collect(2025, "C")
	assert.Equal(t, []string{"closedWithin"}, names, "transferred within the year: C's flow")
	names, _ = collect(2026, "C")
	assert.Equal(t, []string{"openAll", "openedAfter"}, names)
	names, got = collect(2026, "")
	assert.Equal(t, []string{"openedLastDay", "closedAfter", "openAll", "openedAfter"}, names, "openAll is C's in 2026")
	assert.NotNil(t, got["closedAfter"].Record.MotivazioneChiusuraCarico, "its closure is in the flow of the year it closed")
	names, _ = collect(2022, "")
	assert.Empty(t, names)

	stop := errors.New("stop")
	n := 0
	err = s.YearCaseFiles(ctx, 2025, "", func(activity.YearFile) error { n++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n, "fn's error stops the stream")
}

package linkage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReviewDecisionValid(t *testing.T) {
	for d, want := range map[ReviewDecision]bool{DecisionSame: true, DecisionDifferent: true, "": false, "SAME": false, "maybe": false} {
		assert.Equal(t, want, d.Valid(), "%q", d)
	}
}

// TestDecideRejectsBadDecisionFirst: a bad decision touches no store.
func TestDecideRejectsBadDecisionFirst(t *testing.T) {
	var s Service // no store: any store call would panic
	_, err := s.Decide(context.Background(), 1, "maybe", "s", nil)
	assert.ErrorIs(t, err, ErrMalformed)
}

// TestSubscribersInOrder: every subscriber gets every event, in
// subscription order.
func TestSubscribersInOrder(t *testing.T) {
	var s Service
	var got []string
	s.Subscribe(func(e MergeEvent) { got = append(got, "1:"+string(e.Kind)) })
	s.Subscribe(func(e MergeEvent) { got = append(got, "2:"+string(e.Kind)) })
	s.publish(MergeEvent{Kind: MergeEventMerge, MergeID: 1})
	s.publish(MergeEvent{Kind: MergeEventUndo, MergeID: 1})
	assert.Equal(t, []string{"1:merge", "2:merge", "1:undo", "2:undo"}, got)
}

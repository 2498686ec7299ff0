package actors

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// TestLimiterStatsCountsEveryTokenTakenWhileTheActorRefills takes every token of a
// limiter's pool, then has the actor release new tokens into the pool without publishing
// its view yet, as it does for a moment in every settle. Stats read in that moment must
// still count the calls that took the earlier tokens.
// It stays inside the package: the moment it tests lies between two steps of the
// actor's settle, which no message can stop at.
func TestLimiterStatsCountsEveryTokenTakenWhileTheActorRefills(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiterLink("r", policy.RateLimit(10).WithBurst(5), t0, Hooks{})
	for i := range 5 {
		if !l.TryTake() {
			t.Fatalf("token %d of a full bucket: none", i+1)
		}
	}
	if got := l.Stats().Allowed; got != 5 {
		t.Fatalf("Allowed %d after 5 takes; want 5", got)
	}
	l.own.bucket.NoteDrained(t0)      // as the actor learns from the last taker's mark
	l.release(t0.Add(time.Second), 0) // five new tokens in the pool, view not published
	if l.pool.Sum() != 5 {
		t.Fatalf("pool %d after a second; want 5 new tokens", l.pool.Sum())
	}
	if got := l.Stats().Allowed; got != 5 {
		t.Fatalf("Allowed %d while the actor refills the pool; want the 5 calls that took tokens", got)
	}
	l.publish()
	if got := l.Stats().Allowed; got != 5 {
		t.Fatalf("Allowed %d once the view is published; want 5", got)
	}
}

package actors

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// TestAdoptPublishesTheOwnersStateAndTellsTheHooks: a cluster replica's Adopt makes the
// view the owner's (state, generation, open-until), counts a trip, keeps the local
// counters and tells the hooks once per change.
func TestAdoptPublishesTheOwnersStateAndTellsTheHooks(t *testing.T) {
	now := time.Now()
	var changes []messages.StateChanged
	l := NewBreakerLink("db", policy.CircuitBreaker(5, time.Minute).AsShared(), now, Hooks{
		StateChanged: func(m messages.StateChanged) { changes = append(changes, m) },
	})
	l.successes.Add(3)
	if n := l.TakeSuccesses(); n != 3 {
		t.Fatalf("TakeSuccesses = %d, want 3", n)
	}
	until := now.Add(time.Minute)
	l.Adopt(now, messages.Open, 7, until, "consecutive_failures")
	v := l.View()
	if v.Pass || v.State != messages.Open || v.Generation != 7 || !v.OpenUntil.Equal(until) {
		t.Fatalf("view %+v, want open gen 7 until %v", v, until)
	}
	s := l.Stats()
	if s.Trips != 1 || s.Successes != 3 {
		t.Fatalf("stats trips %d successes %d, want 1 and 3", s.Trips, s.Successes)
	}
	l.Adopt(now, messages.Open, 7, until, "consecutive_failures") // no change: no hook
	if len(changes) != 1 || changes[0].To != messages.Open || changes[0].Reason != "consecutive_failures" {
		t.Fatalf("hooks told %v, want one move to open", changes)
	}
	l.Adopt(now, messages.Closed, 8, time.Time{}, "probes_succeeded")
	if v := l.View(); !v.Pass || v.Generation != 8 {
		t.Fatalf("closed view %+v", v)
	}
}

// TestSharedLimiterBucketEarnsOnlyDeposits: a shared limiter's bucket starts empty and
// frozen — time adds nothing — so its pool holds exactly the leases deposited; Withdraw
// takes them all back; Localize thaws it on a local share.
func TestSharedLimiterBucketEarnsOnlyDeposits(t *testing.T) {
	now := time.Now()
	l := NewSharedLimiterLink("api", policy.RateLimit(1000).WithBurst(100).AsShared(), now, Hooks{})
	l.release(now.Add(time.Second), 0)
	if n := l.pool.Sum(); n != 0 {
		t.Fatalf("a frozen bucket released %d tokens after 1s", n)
	}
	l.Deposit(10)
	l.release(now.Add(2*time.Second), 0)
	if n := l.pool.Sum(); n != 10 || l.Held() != 10 {
		t.Fatalf("pool %d, held %d after a deposit of 10", n, l.Held())
	}
	if !l.TryTake() {
		t.Fatal("no token in the pool")
	}
	if n := l.Withdraw(); n != 9 || l.Held() != 0 || l.TryTake() {
		t.Fatalf("Withdraw = %d, held %d; want 9 and an empty pool", n, l.Held())
	}
	share := policy.RateLimit(500).WithBurst(50)
	l.Localize(now.Add(3*time.Second), share, false)
	l.release(now.Add(3*time.Second), 0)
	if n := l.pool.Sum(); n != 50 {
		t.Fatalf("a local share starts with its burst: pool %d, want 50", n)
	}
	l.Localize(now.Add(4*time.Second), policy.RateLimit(1000).WithBurst(100), true)
	l.release(now.Add(5*time.Second), 0)
	if n := l.pool.Sum(); n != 0 {
		t.Fatalf("frozen again: pool %d, want 0", n)
	}
}

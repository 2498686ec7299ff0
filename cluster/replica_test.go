package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ok(context.Context) error { return nil }

var errDown = errors.New("downstream down")

func failing(context.Context) error { return errDown }

// eventually polls cond every millisecond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(time.Millisecond)
	}
}

// subscribe returns a function that waits for an event of kind for name: the first
// such event since the subscription that no earlier wait returned.
func subscribe(t *testing.T, e *supervisor.Engine) func(kind supervisor.EventKind, name string, d time.Duration) supervisor.Event {
	ch, cancel := e.Subscribe(64)
	t.Cleanup(cancel)
	var seen []supervisor.Event
	return func(kind supervisor.EventKind, name string, d time.Duration) supervisor.Event {
		t.Helper()
		timeout := time.After(d)
		for {
			for i, ev := range seen {
				if ev.Kind == kind && ev.Name == name {
					seen = append(seen[:i], seen[i+1:]...)
					return ev
				}
			}
			select {
			case ev := <-ch:
				seen = append(seen, ev)
			case <-timeout:
				t.Fatalf("no %v event for %q within %v (seen %v)", kind, name, d, seen)
			}
		}
	}
}

// TestSharedBreakerTripOnOneNodeOpensEveryNode: failures on one node reach the owner at
// once; its push opens the breaker on the others, whose callers are then refused from
// their local view (0 messages per refused call).
func TestSharedBreakerTripOnOneNodeOpensEveryNode(t *testing.T) {
	_, ms := memFleet(t, 3)
	bp := policy.CircuitBreaker(5, time.Minute).Named("ledger").AsShared()
	for _, m := range ms {
		if err := supervisor.Run(context.Background(), m.e, bp, ok); err != nil {
			t.Fatal(err)
		}
	}
	// Those successes reach the owner within a report interval; a flush between the
	// failures below would reset their count (consecutive in arrival order).
	time.Sleep(300 * time.Millisecond)
	for range 5 {
		_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	}
	for i, m := range ms {
		eventually(t, 2*time.Second, "open on every node", func() bool {
			return m.e.Metrics().Breakers["ledger"].State == messages.Open
		})
		err := supervisor.Run(context.Background(), m.e, bp, ok)
		if !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("node %d: %v, want ErrCircuitOpen", i, err)
		}
		if d, ok := policy.RetryAfter(err); !ok || d <= 0 {
			t.Fatalf("node %d: RetryAfter %v %v, want the owner's open time", i, d, ok)
		}
	}
	// A reset on one node closes the breaker on all: the owner's manual state.
	if err := ms[2].e.ResetBreaker("ledger"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		eventually(t, 2*time.Second, "closed on every node after a reset", func() bool {
			return m.e.Metrics().Breakers["ledger"].State == messages.Closed
		})
	}
}

// TestSuccessesBatchedFromAnotherNodeResetTheConsecutiveCount: a node's successes reach
// the owner in its next flush and reset the consecutive count there, so the threshold
// counts failures consecutive in the owner's arrival order.
func TestSuccessesBatchedFromAnotherNodeResetTheConsecutiveCount(t *testing.T) {
	_, ms := memFleet(t, 2, WithReportInterval(10*time.Millisecond))
	bp := policy.CircuitBreaker(4, time.Minute).Named("db").AsShared()
	for range 3 {
		_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	}
	_ = supervisor.Run(context.Background(), ms[1].e, bp, ok) // counted, flushed within 10 ms
	time.Sleep(100 * time.Millisecond)
	for range 3 {
		_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	}
	time.Sleep(50 * time.Millisecond)
	if s := ms[0].e.Metrics().Breakers["db"].State; s != messages.Closed {
		t.Fatalf("6 failures split by another node's success: %v, want closed", s)
	}
	_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	eventually(t, time.Second, "the 4th consecutive failure opens it", func() bool {
		return ms[1].e.Metrics().Breakers["db"].State == messages.Open
	})
}

// TestOwnerSilenceDegradesToTheLocalShareAndTheFirstAnswerRestores: when the owner
// stops answering, each node's shared names switch to their local share after
// OwnerTimeout (SharedDegraded, bulwark_shared_coordinated 0), no call ever waits on the
// owner, and the first answer restores coordination (SharedRestored).
func TestOwnerSilenceDegradesToTheLocalShareAndTheFirstAnswerRestores(t *testing.T) {
	o, ms := memFleet(t, 2, WithOwnerTimeout(50*time.Millisecond))
	lp := policy.RateLimit(1000).Named("api").WithBurst(100).AsShared()
	bp := policy.CircuitBreaker(5, time.Minute).Named("ledger").AsShared()
	waits := make([]func(supervisor.EventKind, string, time.Duration) supervisor.Event, len(ms))
	for i, m := range ms {
		waits[i] = subscribe(t, m.e)
		_ = supervisor.Run(context.Background(), m.e, policy.Combine(bp, lp), ok)
	}
	eventually(t, time.Second, "a lease", func() bool { return ms[0].e.Metrics().Limiters["api"].Tokens > 0 })
	o.down.Store(true)
	for i, m := range ms {
		for _, name := range []string{"api", "ledger"} {
			start := time.Now()
			for {
				// Calls go on meanwhile and never wait on the silent owner.
				t0 := time.Now()
				_ = supervisor.Run(context.Background(), m.e, policy.Combine(bp, lp), ok)
				// A call that waited on the silent owner would never return; a loaded
				// machine under -race can delay any call by tens of milliseconds.
				if d := time.Since(t0); d > time.Second {
					t.Fatalf("node %d: a call took %v while the owner was silent", i, d)
				}
				if time.Since(start) > 20*time.Millisecond {
					break
				}
			}
			ev := waits[i](supervisor.SharedDegraded, name, 2*time.Second)
			if ev.Reason != "owner_timeout" || (name == "api") != (ev.Family == "limiter") {
				t.Fatalf("node %d: degraded event %v", i, ev)
			}
		}
	}
	// Degraded, the limiter runs on R/N, B/N of this node: 50 tokens at most at once.
	reg := prometheus.NewRegistry()
	reg.MustRegister(ms[0].e.Collector())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP bulwark_shared_coordinated Whether a shared breaker or limiter is coordinated by its owner (1) or runs on its fail mode (0).
# TYPE bulwark_shared_coordinated gauge
bulwark_shared_coordinated{kind="breaker",name="ledger"} 0
bulwark_shared_coordinated{kind="limiter",name="api"} 0
`), "bulwark_shared_coordinated"); err != nil {
		t.Fatal(err)
	}
	admitted := 0
	for range 200 {
		if supervisor.Run(context.Background(), ms[0].e, lp, ok) == nil {
			admitted++
		}
	}
	if admitted > 50+10 { // burst share 50, plus what 1000/2 per second earns meanwhile
		t.Fatalf("degraded node admitted %d of 200 at once, want about its share of 50", admitted)
	}
	o.down.Store(false)
	for i := range ms {
		waits[i](supervisor.SharedRestored, "api", 2*time.Second)
		waits[i](supervisor.SharedRestored, "ledger", 3*time.Second)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP bulwark_shared_coordinated Whether a shared breaker or limiter is coordinated by its owner (1) or runs on its fail mode (0).
# TYPE bulwark_shared_coordinated gauge
bulwark_shared_coordinated{kind="breaker",name="ledger"} 1
bulwark_shared_coordinated{kind="limiter",name="api"} 1
`), "bulwark_shared_coordinated"); err != nil {
		t.Fatal(err)
	}
}

// TestFailClosedRefusesEveryCallWhileTheOwnerIsSilent: in FailClosed mode a degraded
// limiter refuses with ErrRateLimited and a degraded breaker with ErrCircuitOpen, the
// breaker's RetryAfter the owner timeout.
func TestFailClosedRefusesEveryCallWhileTheOwnerIsSilent(t *testing.T) {
	o, ms := memFleet(t, 1, WithOwnerTimeout(40*time.Millisecond), WithFailMode(FailClosed))
	lp := policy.RateLimit(1000).Named("api").WithBurst(100).AsShared()
	bp := policy.CircuitBreaker(5, time.Minute).Named("ledger").AsShared()
	wait := subscribe(t, ms[0].e)
	_ = supervisor.Run(context.Background(), ms[0].e, lp, ok)
	_ = supervisor.Run(context.Background(), ms[0].e, bp, ok)
	o.down.Store(true)
	_ = supervisor.Run(context.Background(), ms[0].e, lp, ok) // a lease request goes unanswered
	_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	wait(supervisor.SharedDegraded, "api", 2*time.Second)
	wait(supervisor.SharedDegraded, "ledger", 2*time.Second)
	if err := supervisor.Run(context.Background(), ms[0].e, lp, ok); !errors.Is(err, policy.ErrRateLimited) {
		t.Fatalf("limiter: %v, want ErrRateLimited", err)
	}
	err := supervisor.Run(context.Background(), ms[0].e, bp, ok)
	if !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("breaker: %v, want ErrCircuitOpen", err)
	}
	if d, _ := policy.RetryAfter(err); d <= 0 || d > 40*time.Millisecond {
		t.Fatalf("breaker RetryAfter %v, want ≤ the owner timeout", d)
	}
}

// TestFailOpenAdmitsEveryCallWhileTheOwnerIsSilent: in FailOpen mode a degraded
// limiter and breaker admit everything.
func TestFailOpenAdmitsEveryCallWhileTheOwnerIsSilent(t *testing.T) {
	o, ms := memFleet(t, 1, WithOwnerTimeout(40*time.Millisecond), WithFailMode(FailOpen))
	lp := policy.RateLimit(10).Named("api").WithBurst(1).AsShared()
	wait := subscribe(t, ms[0].e)
	_ = supervisor.Run(context.Background(), ms[0].e, lp, ok)
	o.down.Store(true)
	_ = supervisor.Run(context.Background(), ms[0].e, lp, ok)
	wait(supervisor.SharedDegraded, "api", 2*time.Second)
	time.Sleep(10 * time.Millisecond)
	for i := range 100 {
		if err := supervisor.Run(context.Background(), ms[0].e, lp, ok); err != nil {
			t.Fatalf("call %d: %v, want every call admitted", i, err)
		}
	}
}

// TestReplicaAdoptsANewActivationsViewAndKeepsTheBreakerOpen: when every owner moves
// (new activations, state lost), the replicas re-register with their last view; the new
// owner adopts the open state (open wins), and the replicas accept its view although its
// generation is lower (OwnerMoved).
func TestReplicaAdoptsANewActivationsViewAndKeepsTheBreakerOpen(t *testing.T) {
	o, ms := memFleet(t, 2)
	bp := policy.CircuitBreaker(2, time.Minute).Named("ledger").AsShared()
	waits := []func(supervisor.EventKind, string, time.Duration) supervisor.Event{subscribe(t, ms[0].e), subscribe(t, ms[1].e)}
	for _, m := range ms {
		_ = supervisor.Run(context.Background(), m.e, bp, ok)
	}
	for range 2 {
		_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	}
	eventually(t, time.Second, "open on node 1", func() bool { return ms[1].e.Metrics().Breakers["ledger"].State == messages.Open })
	until := ms[1].e.Metrics().Breakers["ledger"].OpenUntil
	o.move()
	for i, m := range ms {
		waits[i](supervisor.OwnerMoved, "ledger", 2*time.Second)
		s := m.e.Metrics().Breakers["ledger"]
		if s.State != messages.Open {
			t.Fatalf("node %d after the move: %v, want open (open wins)", i, s.State)
		}
		if !s.OpenUntil.Equal(until) {
			t.Fatalf("node %d: open until %v, want %v", i, s.OpenUntil, until)
		}
	}
	o.mu.Lock()
	gen := o.breakers["ledger"].circuit.Generation()
	o.mu.Unlock()
	if gen > 3 {
		t.Fatalf("new owner at generation %d: it should be new (low)", gen)
	}
}

// TestSharedLimiterLeasesKeepTheFleetWithinBurst: three nodes drain a full shared
// limiter of burst 30 together: they admit at most the burst plus what the rate earns
// meanwhile, because every node's tokens are leases the owner counts, and at least the
// burst.
func TestSharedLimiterLeasesKeepTheFleetWithinBurst(t *testing.T) {
	_, ms := memFleet(t, 3)
	lp := policy.RateLimit(100).Named("api").WithBurst(30).AsShared()
	for _, m := range ms {
		_ = supervisor.Run(context.Background(), m.e, lp, ok)
	}
	time.Sleep(500 * time.Millisecond) // a new owner starts empty: let it fill
	start := time.Now()
	admitted := 0
	for time.Since(start) < 200*time.Millisecond {
		for _, m := range ms {
			if supervisor.Run(context.Background(), m.e, lp, ok) == nil {
				admitted++
			}
		}
		time.Sleep(time.Millisecond)
	}
	bound := 30 + int(100*time.Since(start).Seconds()) + 1
	if admitted > bound {
		t.Fatalf("the fleet admitted %d > burst + rate·w = %d", admitted, bound)
	}
	t.Logf("admitted %d in %v, bound %d", admitted, time.Since(start), bound)
	if admitted < 30 {
		t.Fatalf("the fleet admitted only %d", admitted)
	}
}

// TestHalfOpenProbeGrantedByTheOwnerClosesEveryNode: the owner's timer moves the fleet's
// breaker to half-open and pushes it; a call on another node asks the owner for a probe
// permit, and its success closes the breaker on every node.
func TestHalfOpenProbeGrantedByTheOwnerClosesEveryNode(t *testing.T) {
	_, ms := memFleet(t, 2)
	bp := policy.CircuitBreaker(2, 100*time.Millisecond).Named("ledger").AsShared()
	for _, m := range ms {
		_ = supervisor.Run(context.Background(), m.e, bp, ok)
	}
	time.Sleep(300 * time.Millisecond)
	for range 2 {
		_ = supervisor.Run(context.Background(), ms[0].e, bp, failing)
	}
	eventually(t, time.Second, "open on node 1", func() bool { return ms[1].e.Metrics().Breakers["ledger"].State == messages.Open })
	eventually(t, 2*time.Second, "half-open on node 1 by the owner's timer", func() bool {
		return ms[1].e.Metrics().Breakers["ledger"].State == messages.HalfOpen
	})
	if err := supervisor.Run(context.Background(), ms[1].e, bp, ok); err != nil {
		t.Fatalf("the probe: %v", err)
	}
	for i, m := range ms {
		eventually(t, time.Second, "closed after the probe", func() bool { return m.e.Metrics().Breakers["ledger"].State == messages.Closed })
		if err := supervisor.Run(context.Background(), m.e, bp, ok); err != nil {
			t.Fatalf("node %d after closing: %v", i, err)
		}
	}
}

// TestSharedLimiterWaitModeQueuesCallersLocally: in wait mode a shared limiter's
// callers queue in their node's replica and are served as leases arrive.
func TestSharedLimiterWaitModeQueuesCallersLocally(t *testing.T) {
	_, ms := memFleet(t, 1)
	lp := policy.RateLimit(100).Named("api").WithBurst(1).WithMaxWait(time.Second).AsShared()
	start := time.Now()
	for i := range 20 {
		if err := supervisor.Run(context.Background(), ms[0].e, lp, ok); err != nil {
			t.Fatalf("call %d: %v, want it to wait for a lease", i, err)
		}
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("20 calls at 100/s with burst 1 took %v: the limit did not hold", d)
	}
}

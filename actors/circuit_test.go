package actors_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func fail(t *testing.T, c *actors.Circuit, now time.Time) bool {
	t.Helper()
	return c.Record(now, c.Generation(), messages.Failure, false)
}

func TestCircuitOpensAfterExactlyThresholdConsecutiveFailures(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(3, time.Second), t0)
	if fail(t, c, t0) || fail(t, c, t0) {
		t.Fatal("opened before the threshold")
	}
	if !fail(t, c, t0) {
		t.Fatal("did not open at the threshold")
	}
	if c.State() != messages.Open || c.Stats().Trips != 1 {
		t.Fatalf("state %v trips %d, want open and 1", c.State(), c.Stats().Trips)
	}
	if got := c.OpenUntil(); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("OpenUntil = %v, want t0+1s", got)
	}
}

func TestCircuitSuccessResetsConsecutiveFailures(t *testing.T) {
	tests := []struct {
		name    string
		success func(c *actors.Circuit)
	}{
		{"reported", func(c *actors.Circuit) { c.Record(t0, c.Generation(), messages.Success, false) }},
		{"observed from the counter", func(c *actors.Circuit) { c.ObserveSuccesses(1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := actors.NewCircuit(policy.CircuitBreaker(2, time.Second), t0)
			fail(t, c, t0)
			tt.success(c)
			if fail(t, c, t0) {
				t.Fatal("a success between failures did not reset the count")
			}
			if !fail(t, c, t0) {
				t.Fatal("two consecutive failures did not open")
			}
		})
	}
}

func TestCircuitHalfOpenLifecycle(t *testing.T) {
	p := policy.CircuitBreaker(1, 10*time.Second).WithSuccessThreshold(2)
	c := actors.NewCircuit(p, t0)
	fail(t, c, t0)

	if c.Advance(t0.Add(9 * time.Second)) {
		t.Fatal("half-open before the recovery timeout")
	}
	if _, after, ok := c.Acquire(t0.Add(4 * time.Second)); ok || after != 6*time.Second {
		t.Fatalf("open Acquire = ok %v after %v, want refused with 6s", ok, after)
	}
	if !c.Advance(t0.Add(10*time.Second)) || c.State() != messages.HalfOpen {
		t.Fatal("not half-open at the recovery timeout")
	}
	now := t0.Add(10 * time.Second)
	g1, _, ok1 := c.Acquire(now)
	g2, _, ok2 := c.Acquire(now)
	if _, _, ok3 := c.Acquire(now); !ok1 || !ok2 || ok3 {
		t.Fatalf("probes granted %v %v %v, want two of three", ok1, ok2, ok3)
	}
	if c.Record(now, g1, messages.Success, true) {
		t.Fatal("closed after one of two required successes")
	}
	// One success in, one slot still held: no new probe beyond the threshold.
	if _, _, ok := c.Acquire(now); ok {
		t.Fatal("granted a probe beyond SuccessThreshold in flight")
	}
	if !c.Record(now, g2, messages.Success, true) || c.State() != messages.Closed {
		t.Fatal("not closed after SuccessThreshold successes")
	}
}

func TestCircuitProbeFailureReopens(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(1, time.Second), t0)
	fail(t, c, t0)
	now := t0.Add(time.Second)
	gen, _, ok := c.Acquire(now)
	if !ok || c.State() != messages.HalfOpen {
		t.Fatal("Acquire after the timeout did not grant a half-open probe")
	}
	if !c.Record(now, gen, messages.Failure, true) || c.State() != messages.Open {
		t.Fatal("a probe failure did not reopen")
	}
	if c.Stats().Trips != 2 {
		t.Fatalf("trips = %d, want 2", c.Stats().Trips)
	}
}

func TestCircuitDropsReportsFromOlderGeneration(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(2, time.Second), t0)
	old := c.Generation()
	fail(t, c, t0)
	fail(t, c, t0) // opens: new generation
	c.Advance(t0.Add(time.Second))
	c.Acquire(t0.Add(time.Second))
	// A late failure from the closed period must not reopen the half-open breaker.
	if c.Record(t0.Add(time.Second), old, messages.Failure, false) || c.State() != messages.HalfOpen {
		t.Fatalf("stale report changed the state to %v", c.State())
	}
}

func TestCircuitNeutralFreesProbeSlot(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(1, time.Second), t0)
	fail(t, c, t0)
	now := t0.Add(time.Second)
	gen, _, _ := c.Acquire(now)
	if _, _, ok := c.Acquire(now); ok {
		t.Fatal("second probe granted with SuccessThreshold 1")
	}
	c.Record(now, gen, messages.Neutral, true)
	if _, _, ok := c.Acquire(now); !ok {
		t.Fatal("a neutral outcome did not free the probe slot")
	}
	if c.State() != messages.HalfOpen {
		t.Fatal("a neutral outcome changed the state")
	}
}

func TestCircuitReconfigureKeepsState(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(5, time.Second), t0)
	fail(t, c, t0)
	fail(t, c, t0)
	c.Reconfigure(policy.CircuitBreaker(3, time.Minute))
	if !fail(t, c, t0) {
		t.Fatal("third failure did not open with the new threshold of 3")
	}
	if !c.OpenUntil().Equal(t0.Add(time.Minute)) {
		t.Fatal("new recovery timeout not used")
	}
}

func TestCircuitObserveFailuresCountsAsReportsOfTheCurrentGeneration(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(3, time.Second), t0)
	if c.ObserveFailures(t0, 2) || c.State() != messages.Closed {
		t.Fatalf("two failures with threshold 3: state %v", c.State())
	}
	if !c.ObserveFailures(t0, 5) || c.State() != messages.Open {
		t.Fatalf("the third failure did not open it: state %v", c.State())
	}
	if s := c.Stats(); s.Failures != 3 || s.Trips != 1 {
		t.Fatalf("stats %+v; want the 3 failures up to the trip counted, the rest ignored", s)
	}
	if c.ObserveFailures(t0, 4) || c.Stats().Failures != 3 {
		t.Fatalf("an open circuit counted closed-state failures: %+v", c.Stats())
	}
}

// TestCircuitSnapshotRoundTripsThroughJSON hands a half-open circuit with a probe in
// flight over to a new circuit through JSON: the new one goes on exactly where the old
// one was.
func TestCircuitSnapshotRoundTripsThroughJSON(t *testing.T) {
	p := policy.CircuitBreaker(2, time.Second).WithSuccessThreshold(2)
	c := actors.NewCircuit(p, t0)
	fail(t, c, t0)
	fail(t, c, t0)
	c.ObserveRejections(3)
	if _, _, ok := c.Acquire(t0.Add(time.Second)); !ok {
		t.Fatal("no probe after the recovery timeout")
	}
	gen := c.Generation()
	s := throughJSON(t, c.Snapshot())
	d := actors.NewCircuit(p, t0.Add(time.Hour))
	d.Restore(s)
	if !reflect.DeepEqual(d.Stats(), c.Stats()) || d.Generation() != gen || d.State() != messages.HalfOpen {
		t.Fatalf("restored %+v gen %d; want %+v gen %d", d.Stats(), d.Generation(), c.Stats(), gen)
	}
	// One probe slot is still taken, one is free: the restored circuit knows.
	now := t0.Add(time.Second)
	if _, _, ok := d.Acquire(now); !ok {
		t.Fatal("second probe refused")
	}
	if _, _, ok := d.Acquire(now); ok {
		t.Fatal("third probe admitted: the restored circuit forgot the probe in flight")
	}
	d.Record(now, gen, messages.Success, true)
	if !d.Record(now, gen, messages.Success, true) || d.State() != messages.Closed {
		t.Fatalf("two probe successes left it %v; want closed", d.State())
	}
}

// TestCircuitSnapshotKeepsConsecutiveFailures restores a closed circuit one failure short
// of its threshold: the next failure opens it.
func TestCircuitSnapshotKeepsConsecutiveFailures(t *testing.T) {
	p := policy.CircuitBreaker(3, time.Second)
	c := actors.NewCircuit(p, t0)
	fail(t, c, t0)
	fail(t, c, t0)
	d := actors.NewCircuit(p, t0)
	d.Restore(c.Snapshot())
	if d.Idle() {
		t.Fatal("restored circuit is idle; it holds 2 failures")
	}
	if !fail(t, d, t0) {
		t.Fatal("third consecutive failure did not open the restored circuit")
	}
}

// The status page shows a consecutive breaker's failures in a row: Stats counts them
// while closed, a success starts again from zero, and a window breaker reports none.
func TestCircuitStatsCountConsecutiveFailuresWhileClosed(t *testing.T) {
	c := actors.NewCircuit(policy.CircuitBreaker(3, time.Second), t0)
	fail(t, c, t0)
	fail(t, c, t0)
	if got := c.Stats().ConsecutiveFailures; got != 2 {
		t.Fatalf("after 2 failures ConsecutiveFailures = %d, want 2", got)
	}
	c.ObserveSuccesses(1)
	if got := c.Stats().ConsecutiveFailures; got != 0 {
		t.Fatalf("after a success ConsecutiveFailures = %d, want 0", got)
	}
	fail(t, c, t0)
	fail(t, c, t0)
	fail(t, c, t0)
	if s := c.Stats(); s.State != messages.Open || s.ConsecutiveFailures != 0 {
		t.Fatalf("open: state %v ConsecutiveFailures %d, want open and 0", s.State, s.ConsecutiveFailures)
	}

	w := actors.NewCircuit(policy.CircuitBreaker(3, time.Second).WithCountWindow(10), t0)
	fail(t, w, t0)
	if got := w.Stats().ConsecutiveFailures; got != 0 {
		t.Fatalf("window breaker ConsecutiveFailures = %d, want 0", got)
	}
}

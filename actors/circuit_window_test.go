package actors_test

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// outcome applies one outcome to a closed circuit at now, as the pipeline delivers it:
// 'S' a fast success by message, 'o' a fast success counted on the side and observed,
// 'F' a fast failure, 'f' a slow failure, 's' a slow success. It reports whether the
// state changed.
func outcome(t *testing.T, c *actors.Circuit, now time.Time, o byte) bool {
	t.Helper()
	r := &messages.Report{Generation: c.Generation(), Outcome: messages.Success}
	switch o {
	case 'o':
		return c.ObserveSuccessesAt(now, 1)
	case 'S':
	case 's':
		r.Slow = true
	case 'F':
		r.Outcome = messages.Failure
	case 'f':
		r.Outcome, r.Slow = messages.Failure, true
	default:
		t.Fatalf("unknown outcome %q", o)
	}
	return c.Apply(now, r)
}

// lastReason returns the reason of the circuit's latest transition.
func lastReason(t *testing.T, c *actors.Circuit) actors.TransitionReason {
	t.Helper()
	tr := c.Transitions()
	if len(tr) == 0 {
		t.Fatal("no transition")
	}
	return tr[len(tr)-1].Reason
}

// TestCircuitModesTripAtExactCall is CB-1, CB-3, CB-4, CB-5 and CB-7 through the
// Circuit: a sequential caller's outcomes, one per step of 100ms from t0, and the call at
// which the breaker opens (0: never) with the reason of its event.
func TestCircuitModesTripAtExactCall(t *testing.T) {
	count4 := breaker(1, time.Minute).WithCountWindow(4).WithFailureRate(0.5, 0)
	r4j := breaker(1, time.Minute).WithTimeWindow(20*time.Second).
		WithFailureRate(0.5, 5).WithSlowCalls(4*time.Second, 0.5)
	tests := []struct {
		name   string
		p      tcb
		seq    string
		want   int
		reason actors.TransitionReason
	}{
		{"consecutive: unchanged, a success starts again", breaker(3, time.Minute), "FFSFFF", 6, actors.ReasonConsecutiveFailures},
		{"consecutive: side-counted successes reset too", breaker(2, time.Minute), "FoFoFF", 6, actors.ReasonConsecutiveFailures},
		{"consecutive: slow calls are not judged", breaker(9, time.Minute), "ssssssss", 0, actors.NoReason},
		{"CB-5: S,S,S,F,S,S,F opens at 7 (window F,S,S,F)", count4, "oooFooF", 7, actors.ReasonFailureRate},
		{"CB-5: S,S,S,F,S,S,S,F never opens (window S,S,S,F)", count4, "oooFoooF", 0, actors.NoReason},
		{"CB-7: F,F,S,S opens on the success that completes MinimumCalls", count4, "FFSS", 4, actors.ReasonFailureRate},
		{"CB-7: the same success counted on the side trips when observed", count4, "FFoo", 4, actors.ReasonFailureRate},
		{"CB-3: a rate exactly equal to FailureRate opens", breaker(1, time.Minute).WithCountWindow(10).WithFailureRate(0.3, 0), "SSSSSSSFFF", 10, actors.ReasonFailureRate},
		{"rate mode: FailureThreshold is a floor", breaker(3, time.Minute).WithCountWindow(4).WithFailureRate(0.5, 2), "FFSF", 4, actors.ReasonFailureRate},
		{"count-in-window: FailureThreshold failures once MinimumCalls are in", breaker(3, time.Minute).WithCountWindow(5), "FFSFS", 5, actors.ReasonFailureCount},
		{"count-in-window: MinimumCalls below Count", breaker(2, time.Minute).WithCountWindow(10).WithFailureRate(0, 3), "FSF", 3, actors.ReasonFailureCount},
		{"CB-4 resilience4j slow-call rate: opens at 5 with slow 60%, failures 40%", r4j, "fsFSs", 5, actors.ReasonSlowCallRate},
		{"CB-4: a slow success is a success for the failure rate", r4j, "sSSSS", 0, actors.NoReason},
		{"time window: rate mode over the default MinimumCalls max(1,10)", breaker(1, time.Minute).WithTimeWindow(10*time.Second).WithFailureRate(0.5, 0), "SSSSSFFFFF", 10, actors.ReasonFailureRate},
		{"Polly minimum throughput: below MinimumCalls nothing opens", breaker(1, time.Minute).WithTimeWindow(10*time.Second).WithFailureRate(0.5, 5), "FFFF", 0, actors.NoReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCircuit(tt.p, t0)
			got, reason := 0, actors.NoReason
			for i := range tt.seq {
				now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
				if outcome(t, c, now, tt.seq[i]) {
					got, reason = i+1, lastReason(t, c)
					break
				}
			}
			if got != tt.want || reason != tt.reason {
				t.Fatalf("opened at call %d (%v); want %d (%v)", got, reason, tt.want, tt.reason)
			}
			if got > 0 && c.State() != messages.Open {
				t.Fatalf("state %v after the trip; want open", c.State())
			}
		})
	}
}

// TestCircuitPublishesWhenSuccessesCanTrip is CB-7: after F,F in a count window of 4 at
// 50%, the next two successes must come by message.
func TestCircuitPublishesWhenSuccessesCanTrip(t *testing.T) {
	c := newCircuit(breaker(1, time.Minute).WithCountWindow(4).WithFailureRate(0.5, 0), t0)
	if c.SuccessesCanTrip(t0) {
		t.Fatal("an empty window: successes cannot trip it")
	}
	outcome(t, c, t0, 'F')
	outcome(t, c, t0, 'F')
	if !c.SuccessesCanTrip(t0) {
		t.Fatal("F,F: S,S would trip it, so successes must be reported")
	}
	if c.SuccessesCanTrip(t0) != true || policyConsecutive(t).SuccessesCanTrip(t0) {
		t.Fatal("consecutive mode never asks for successes")
	}
}

func policyConsecutive(t *testing.T) *actors.Circuit {
	t.Helper()
	c := newCircuit(breaker(1, time.Minute), t0)
	return c
}

// TestCircuitTimeWindowExpiryTrips is CB-6/CB-7 in the Circuit: expiry of a success can
// raise the rate, and Advance at NextDeadline trips it.
func TestCircuitTimeWindowExpiryTrips(t *testing.T) {
	p := breaker(1, time.Minute).WithTimeWindow(time.Second).WithFailureRate(0.6, 1)
	c := newCircuit(p, t0)
	ms := time.Millisecond
	outcome(t, c, t0.Add(50*ms), 'S')
	if outcome(t, c, t0.Add(950*ms), 'F') {
		t.Fatal("1 failure of 2 is 50% < 60%: opened")
	}
	at, ok := c.NextDeadline(t0.Add(950 * ms))
	if !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("NextDeadline %v %v; want the success's bucket to expire at t0+1s", at, ok)
	}
	if c.Advance(t0.Add(999 * ms)) {
		t.Fatal("opened before the success expired")
	}
	if !c.Advance(at) || c.State() != messages.Open || lastReason(t, c) != actors.ReasonFailureRate {
		t.Fatalf("state %v at expiry; want open on failure_rate", c.State())
	}
}

func windowHalfOpen(t *testing.T, p tcb) (*actors.Circuit, time.Time) {
	t.Helper()
	c := newCircuit(p, t0)
	for !outcome(t, c, t0, 'F') {
	}
	now := c.OpenUntil()
	if !c.Advance(now) || c.State() != messages.HalfOpen || lastReason(t, c) != actors.ReasonRecoveryElapsed {
		t.Fatalf("state %v; want half-open on recovery_elapsed", c.State())
	}
	return c, now
}

// TestCircuitHalfOpenVerdictAsSoonAsCertain is CB-8: ten probes at 50%, five failed
// probes reopen at once; six successful ones close.
func TestCircuitHalfOpenVerdictAsSoonAsCertain(t *testing.T) {
	p := breaker(1, time.Second).WithCountWindow(10).WithFailureRate(0.5, 1).WithHalfOpenCalls(10)
	tests := []struct {
		name    string
		outcome messages.Outcome
		want    int
		state   messages.BreakerState
		reason  actors.TransitionReason
	}{
		{"five failures reopen", messages.Failure, 5, messages.Open, actors.ReasonProbeFailed},
		{"six successes close", messages.Success, 6, messages.Closed, actors.ReasonProbesSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, now := windowHalfOpen(t, p)
			var gens []uint64
			for range 10 {
				g, _, ok := c.Acquire(now)
				if !ok {
					t.Fatal("fewer than HalfOpenCalls probes admitted")
				}
				gens = append(gens, g)
			}
			if _, _, ok := c.Acquire(now); ok {
				t.Fatal("an eleventh probe was admitted")
			}
			for i, g := range gens {
				if c.Apply(now, &messages.Report{Generation: g, Outcome: tt.outcome, Probe: true}) {
					if i+1 != tt.want || c.State() != tt.state || lastReason(t, c) != tt.reason {
						t.Fatalf("verdict at probe %d, state %v; want %d, %v (%v)", i+1, c.State(), tt.want, tt.state, tt.reason)
					}
					return
				}
			}
			t.Fatal("no verdict")
		})
	}
}

// TestCircuitNeutralProbeFreesSlotInWindowMode is CB-10 for window modes.
func TestCircuitNeutralProbeFreesSlotInWindowMode(t *testing.T) {
	c, now := windowHalfOpen(t, breaker(1, time.Second).WithCountWindow(4).WithFailureRate(0.5, 1))
	g, _, ok := c.Acquire(now)
	if _, _, ok2 := c.Acquire(now); !ok || ok2 {
		t.Fatalf("probes %v %v; want one (HalfOpenCalls 0 → SuccessThreshold 1)", ok, ok2)
	}
	c.Apply(now, &messages.Report{Generation: g, Outcome: messages.Neutral, Probe: true})
	if _, _, ok := c.Acquire(now); !ok || c.State() != messages.HalfOpen {
		t.Fatalf("after a neutral probe: admitted %v, state %v; want a new probe, half-open", ok, c.State())
	}
}

// TestCircuitMaxHalfOpenReopens is CB-9: no verdict within MaxHalfOpen reopens with the
// next open delay; the late probe's outcome is ignored; after that delay a new probe
// is admitted.
func TestCircuitMaxHalfOpenReopens(t *testing.T) {
	s := time.Second
	p := breaker(1, s).WithMaxHalfOpen(2 * s).WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: s, Multiplier: 2})
	c := newCircuit(p, t0)
	fail(t, c, t0)
	g, _, ok := c.Acquire(t0.Add(s))
	if !ok || c.State() != messages.HalfOpen {
		t.Fatal("no probe after the open delay")
	}
	if at, ok := c.NextDeadline(t0.Add(s)); !ok || !at.Equal(t0.Add(3*s)) {
		t.Fatalf("NextDeadline %v; want the MaxHalfOpen bound at t0+3s", at)
	}
	if c.Advance(t0.Add(3*s - 1)) {
		t.Fatal("reopened before MaxHalfOpen")
	}
	if !c.Advance(t0.Add(3*s)) || c.State() != messages.Open || lastReason(t, c) != actors.ReasonProbeTimeout {
		t.Fatalf("state %v at the bound; want open on probe_timeout", c.State())
	}
	if got := c.OpenUntil(); !got.Equal(t0.Add(5 * s)) {
		t.Fatalf("OpenUntil %v; want the second trip's 2s delay, t0+5s", got)
	}
	if c.Record(t0.Add(4*s), g, messages.Success, true) || c.State() != messages.Open {
		t.Fatal("the timed-out probe's late success changed the state")
	}
	if _, _, ok := c.Acquire(t0.Add(5 * s)); !ok || c.Stats().ConsecutiveTrips != 2 {
		t.Fatalf("no probe after the second delay, or trips %d", c.Stats().ConsecutiveTrips)
	}
}

// TestCircuitOpenBackoffSequence is CB-11's check (resilience4j
// shouldTransitionToHalfOpenAfterWaitInterval): 5s, 7.5s after a failed probe, 5s again
// after a close.
func TestCircuitOpenBackoffSequence(t *testing.T) {
	p := breaker(1, time.Minute).WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5})
	c := newCircuit(p, t0)
	now := t0
	var delays []time.Duration
	var trips []int
	step := func(o messages.Outcome) {
		t.Helper()
		g, _, ok := c.Acquire(c.OpenUntil())
		if !ok {
			t.Fatal("no probe at OpenUntil")
		}
		now = c.OpenUntil()
		c.Record(now, g, o, true)
	}
	fail(t, c, now)
	delays, trips = append(delays, c.OpenUntil().Sub(now)), append(trips, c.Stats().ConsecutiveTrips)
	step(messages.Failure)
	delays, trips = append(delays, c.OpenUntil().Sub(now)), append(trips, c.Stats().ConsecutiveTrips)
	step(messages.Success)
	if c.State() != messages.Closed || c.Stats().ConsecutiveTrips != 0 {
		t.Fatalf("state %v trips %d after a probe success; want closed, 0", c.State(), c.Stats().ConsecutiveTrips)
	}
	fail(t, c, now)
	delays, trips = append(delays, c.OpenUntil().Sub(now)), append(trips, c.Stats().ConsecutiveTrips)
	want := []time.Duration{5 * time.Second, 7500 * time.Millisecond, 5 * time.Second}
	for i := range want {
		if delays[i] != want[i] || trips[i] != []int{1, 2, 1}[i] {
			t.Fatalf("delays %v trips %v; want %v and [1 2 1]", delays, trips, want)
		}
	}
}

// TestCircuitHonorsRetryAfter is CB-11: the tripping failure's RetryAfter lengthens the
// open delay, capped at 10 × RecoveryTimeout.
func TestCircuitHonorsRetryAfter(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		p     tcb
		ra    time.Duration
		delay time.Duration
	}{
		{"off: RecoveryTimeout", breaker(1, 5*s), 20 * s, 5 * s},
		{"on: RetryAfter", breaker(1, 5*s).WithHonorRetryAfter(), 20 * s, 20 * s},
		{"on: capped", breaker(1, 5*s).WithHonorRetryAfter(), time.Hour, 50 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCircuit(tt.p, t0)
			c.Apply(t0, &messages.Report{Generation: c.Generation(), Outcome: messages.Failure, RetryAfter: tt.ra})
			if got := c.OpenUntil().Sub(t0); got != tt.delay {
				t.Fatalf("open delay %v; want %v", got, tt.delay)
			}
		})
	}
}

// TestCircuitManualStates is CB-12 through the Circuit.
func TestCircuitManualStates(t *testing.T) {
	s := time.Second
	p := breaker(1, s).WithCountWindow(4).WithFailureRate(0.5, 1)

	t.Run("forced open until reset", func(t *testing.T) {
		c := newCircuit(p, t0)
		if changed, err := c.SetMode(t0, messages.ForcedOpen, 0); !changed || err != nil {
			t.Fatalf("SetMode: %v %v", changed, err)
		}
		if lastReason(t, c) != actors.ReasonManual {
			t.Fatal("reason not manual")
		}
		for i := range 100 {
			now := t0.Add(time.Duration(i) * 50 * time.Millisecond)
			if _, ra, ok := c.Acquire(now); ok || ra != 0 {
				t.Fatalf("call %d admitted (%v) or RetryAfter %v", i, ok, ra)
			}
		}
		if _, ok := c.NextDeadline(t0); ok || c.Advance(t0.Add(time.Hour)) || c.Idle() {
			t.Fatal("a breaker forced open until reset moved by itself, or is idle")
		}
		c.Reconfigure(policy.CircuitBreaker(3, time.Minute))
		if c.State() != messages.ForcedOpen {
			t.Fatal("Reconfigure left the manual state")
		}
		c.SetMode(t0.Add(time.Hour), messages.Closed, 0)
		if _, _, ok := c.Acquire(t0.Add(time.Hour)); !ok || c.State() != messages.Closed {
			t.Fatalf("after reset: state %v", c.State())
		}
	})

	t.Run("forced open for a while, then half-open", func(t *testing.T) {
		c := newCircuit(p, t0)
		c.SetMode(t0, messages.ForcedOpen, 10*s)
		if _, ra, ok := c.Acquire(t0.Add(4 * s)); ok || ra != 6*s {
			t.Fatalf("admitted %v RetryAfter %v; want refused, 6s", ok, ra)
		}
		if at, ok := c.NextDeadline(t0); !ok || !at.Equal(t0.Add(10*s)) {
			t.Fatalf("NextDeadline %v %v", at, ok)
		}
		if !c.Advance(t0.Add(10*s)) || c.State() != messages.HalfOpen {
			t.Fatalf("state %v after the forced period; want half-open", c.State())
		}
	})

	t.Run("disabled records nothing", func(t *testing.T) {
		c := newCircuit(p, t0)
		c.SetMode(t0, messages.Disabled, 0)
		for range 100 {
			if outcome(t, c, t0, 'F') {
				t.Fatal("a disabled breaker changed state")
			}
		}
		c.ObserveSuccessesAt(t0, 5)
		if st := c.Stats(); st.Failures != 0 || st.Successes != 0 || st.Calls != 0 || !c.Admits() {
			t.Fatalf("stats %+v admits %v; want nothing recorded, every call admitted", st, c.Admits())
		}
	})

	t.Run("metrics only signals once per crossing and never opens", func(t *testing.T) {
		c := newCircuit(p, t0)
		c.SetMode(t0, messages.MetricsOnly, 0)
		c.Transitions()
		for range 100 {
			outcome(t, c, t0, 'F')
		}
		tr := c.Transitions()
		if c.State() != messages.MetricsOnly || len(tr) != 1 || !tr[0].Exceeded || tr[0].Reason != actors.ReasonFailureRate {
			t.Fatalf("state %v transitions %+v; want metrics-only and one failure_rate crossing", c.State(), tr)
		}
		if st := c.Stats(); st.Failures != 100 || st.FailureRate != 1 {
			t.Fatalf("stats %+v; want 100 failures recorded at rate 1", st)
		}
		for range 4 {
			outcome(t, c, t0, 'S')
		}
		outcome(t, c, t0, 'F')
		outcome(t, c, t0, 'F')
		if tr := c.Transitions(); len(tr) != 1 || !tr[0].Exceeded {
			t.Fatalf("transitions %+v; want a second crossing after the window recovered", tr)
		}
	})

	t.Run("reset clears the window and the trips", func(t *testing.T) {
		c := newCircuit(p, t0)
		outcome(t, c, t0, 'F')
		c.SetMode(t0, messages.Closed, 0)
		if st := c.Stats(); st.State != messages.Closed || st.Calls != 0 || st.ConsecutiveTrips != 0 || st.OpenUntil != (time.Time{}) {
			t.Fatalf("stats after reset %+v", st)
		}
	})

	t.Run("open and half-open are not manual modes", func(t *testing.T) {
		c := newCircuit(p, t0)
		if _, err := c.SetMode(t0, messages.Open, 0); err == nil || c.State() != messages.Closed {
			t.Fatalf("SetMode(Open): err %v state %v", err, c.State())
		}
	})
}

// TestCircuitTransitionsCarryReasonAndCounts is CB-13.
func TestCircuitTransitionsCarryReasonAndCounts(t *testing.T) {
	c := newCircuit(breaker(1, time.Second).WithCountWindow(4).WithFailureRate(0.5, 0).WithSlowCalls(time.Second, 0), t0)
	for _, o := range []byte("SfSF") {
		outcome(t, c, t0, o)
	}
	tr := c.Transitions()
	want := actors.Transition{From: messages.Closed, To: messages.Open, At: t0, Reason: actors.ReasonFailureRate,
		Counts: actors.WindowCounts{Calls: 4, Failures: 2, SlowCalls: 1}}
	if len(tr) != 1 || tr[0] != want {
		t.Fatalf("transitions %+v; want %+v", tr, want)
	}
	st := c.Stats()
	if st.Calls != 4 || st.SlowCalls != 1 || st.FailureRate != 0.5 || st.SlowCallRate != 0.25 || st.ConsecutiveTrips != 1 || !st.OpenUntil.Equal(t0.Add(time.Second)) {
		t.Fatalf("stats %+v", st)
	}
}

// TestCircuitWindowIdle: a windowed breaker is idle only when its window holds no
// failure and no slow call.
func TestCircuitWindowIdle(t *testing.T) {
	c := newCircuit(breaker(3, time.Second).WithTimeWindow(time.Second), t0)
	outcome(t, c, t0, 'S')
	if !c.Idle() {
		t.Fatal("successes only: not idle")
	}
	outcome(t, c, t0, 'F')
	if c.Idle() {
		t.Fatal("a failure in the window: idle")
	}
	c.Advance(t0.Add(time.Second))
	if !c.Idle() {
		t.Fatal("the failure expired: not idle")
	}
}

// TestCircuitWindowSnapshotRoundTripsThroughJSON hands closed windows (count and time),
// a metrics-only state and a half-open period to new circuits through JSON.
func TestCircuitWindowSnapshotRoundTripsThroughJSON(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		p    tcb
		prep func(c *actors.Circuit)
		next byte // the next outcome, which must open both
	}{
		{"count window one failure short", breaker(1, time.Second).WithCountWindow(4).WithFailureRate(0.75, 0),
			func(c *actors.Circuit) { outcome(t, c, t0, 'F'); outcome(t, c, t0, 'S'); outcome(t, c, t0, 'F') }, 'F'},
		{"time window one failure short", breaker(1, time.Second).WithTimeWindow(time.Second).WithFailureRate(0.5, 4),
			func(c *actors.Circuit) {
				outcome(t, c, t0.Add(100*ms), 'S')
				outcome(t, c, t0.Add(200*ms), 'F')
				outcome(t, c, t0.Add(300*ms), 's')
			}, 'F'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCircuit(tt.p, t0)
			tt.prep(c)
			s := throughJSON(t, c.Snapshot())
			now := t0.Add(400 * ms) // the next owner's time: a time window's outcomes age on
			d := newCircuit(tt.p, now)
			d.Restore(s)
			if d.Stats() != c.Stats() || d.Counts(now) != c.Counts(now) {
				t.Fatalf("restored %+v %+v; want %+v %+v", d.Stats(), d.Counts(now), c.Stats(), c.Counts(now))
			}
			if !outcome(t, d, now, tt.next) || !outcome(t, c, now, tt.next) {
				t.Fatal("the next failure did not open both")
			}
		})
	}

	t.Run("manual state and trips", func(t *testing.T) {
		p := breaker(1, time.Second).WithCountWindow(4).WithFailureRate(0.5, 1).WithMaxHalfOpen(time.Second).WithHalfOpenCalls(4)
		c := newCircuit(p, t0)
		outcome(t, c, t0, 'F')
		c.SetMode(t0, messages.ForcedOpen, 5*time.Second)
		c.Advance(t0.Add(5 * time.Second))
		g, _, _ := c.Acquire(t0.Add(5 * time.Second))
		c.Acquire(t0.Add(5 * time.Second))
		c.Record(t0.Add(5*time.Second), g, messages.Success, true)
		d := newCircuit(p, t0)
		d.Restore(throughJSON(t, c.Snapshot()))
		if d.State() != messages.HalfOpen || d.Stats() != c.Stats() || d.Snapshot().ProbeCounts != c.Snapshot().ProbeCounts {
			t.Fatalf("restored %+v; want %+v", d.Snapshot(), c.Snapshot())
		}
		if at, _ := d.NextDeadline(t0); !at.Equal(t0.Add(6 * time.Second)) {
			t.Fatalf("restored MaxHalfOpen bound %v", at)
		}
		m := newCircuit(p, t0)
		m.SetMode(t0, messages.MetricsOnly, 0)
		r := newCircuit(p, t0)
		r.Restore(throughJSON(t, m.Snapshot()))
		if r.State() != messages.MetricsOnly || r.Idle() {
			t.Fatalf("restored state %v idle %v; want metrics-only, not idle", r.State(), r.Idle())
		}
	})
}

// tcb builds breaker policies for these tests with the contract's chainable names,
// without depending on policy's own copies of them.
type tcb struct{ policy.CircuitBreakerPolicy }

func breaker(failureThreshold int, recovery time.Duration) tcb {
	return tcb{policy.CircuitBreaker(failureThreshold, recovery)}
}

func newCircuit(p tcb, now time.Time) *actors.Circuit {
	return actors.NewCircuit(p.CircuitBreakerPolicy, now)
}

func (p tcb) WithCountWindow(n int) tcb { p.Window = policy.Window{Count: n}; return p }
func (p tcb) WithTimeWindow(d time.Duration) tcb {
	p.Window = policy.Window{Period: d}
	return p
}
func (p tcb) WithFailureRate(r float64, m int) tcb {
	p.FailureRate, p.MinimumCalls = r, m
	return p
}
func (p tcb) WithSlowCalls(d time.Duration, r float64) tcb {
	p.SlowCall, p.SlowCallRate = d, r
	return p
}
func (p tcb) WithHalfOpenCalls(n int) tcb          { p.HalfOpenCalls = n; return p }
func (p tcb) WithMaxHalfOpen(d time.Duration) tcb  { p.MaxHalfOpen = d; return p }
func (p tcb) WithOpenBackoff(b policy.Backoff) tcb { p.OpenBackoff = b; return p }
func (p tcb) WithHonorRetryAfter() tcb             { p.HonorRetryAfter = true; return p }
func (p tcb) WithSuccessThreshold(n int) tcb       { p.SuccessThreshold = n; return p }

// TestCircuitTotalSlowCallsNeverGoesDown checks the lifetime slow-call counter behind
// bulwark_breaker_slow_calls_total: it counts every slow call recorded, keeps counting
// after the window dropped them, and survives Snapshot/Restore.
func TestCircuitTotalSlowCallsNeverGoesDown(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := policy.CircuitBreaker(1, time.Second).WithCountWindow(2).WithSlowCalls(time.Second, 1)
	p.FailureRate, p.MinimumCalls = 1, 100 // never trips in this test
	c := actors.NewCircuit(p, t0)
	for _, o := range []byte("sSsSs") {
		outcome(t, c, t0, o)
	}
	s := c.Stats()
	if s.TotalSlowCalls != 3 || s.SlowCalls != 1 {
		t.Fatalf("TotalSlowCalls %d, window SlowCalls %d; want 3 and 1 (window of 2: S,s)", s.TotalSlowCalls, s.SlowCalls)
	}
	d := actors.NewCircuit(p, t0)
	d.Restore(c.Snapshot())
	if got := d.Stats().TotalSlowCalls; got != 3 {
		t.Fatalf("restored TotalSlowCalls %d; want 3", got)
	}
}

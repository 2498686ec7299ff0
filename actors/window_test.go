package actors

import (
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// winT0 is when every window in these tests starts.
var winT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// winStep is one outcome at winT0+at: 'S' fast success, 'F' fast failure, 's' slow
// success, 'f' slow failure.
type winStep struct {
	at      time.Duration
	outcome byte
}

// at returns the outcomes, in order, all completing at winT0+d.
func at(d time.Duration, outcomes string) []winStep {
	s := make([]winStep, len(outcomes))
	for i := range outcomes {
		s[i] = winStep{d, outcomes[i]}
	}
	return s
}

// then concatenates step lists.
func then(parts ...[]winStep) []winStep {
	var s []winStep
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

func recordOutcome(t testing.TB, w *Window, now time.Time, o byte) TransitionReason {
	t.Helper()
	switch o {
	case 'S':
		return w.Record(now, false, false)
	case 'F':
		return w.Record(now, true, false)
	case 's':
		return w.Record(now, false, true)
	case 'f':
		return w.Record(now, true, true)
	}
	t.Fatalf("bad outcome %q", o)
	return NoReason
}

// tripIndex records steps into a new window and returns the 1-based index of the outcome
// after which the window first met a threshold, and which one (0 and NoReason: never).
func tripIndex(t *testing.T, cfg WindowConfig, steps []winStep) (int, TransitionReason) {
	t.Helper()
	w := NewWindow(cfg, winT0)
	for i, s := range steps {
		if r := recordOutcome(t, w, winT0.Add(s.at), s.outcome); r != NoReason {
			return i + 1, r
		}
	}
	return 0, NoReason
}

func TestWindowConfigResolveDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   WindowConfig
		want WindowConfig
	}{
		{"count window judges a full window by default",
			WindowConfig{Count: 20, FailureThreshold: 3, FailureRate: 0.5},
			WindowConfig{Count: 20, FailureThreshold: 3, FailureRate: 0.5, MinimumCalls: 20}},
		{"count window minimum above Count is lowered to Count",
			WindowConfig{Count: 5, FailureThreshold: 1, MinimumCalls: 50},
			WindowConfig{Count: 5, FailureThreshold: 1, MinimumCalls: 5}},
		{"time window minimum is 10 for a small floor",
			WindowConfig{Period: time.Second, FailureThreshold: 3},
			WindowConfig{Period: time.Second, Buckets: 10, FailureThreshold: 3, MinimumCalls: 10}},
		{"time window minimum is the floor above 10",
			WindowConfig{Period: time.Second, Buckets: 4, FailureThreshold: 25},
			WindowConfig{Period: time.Second, Buckets: 4, FailureThreshold: 25, MinimumCalls: 25}},
		{"explicit minimum kept",
			WindowConfig{Period: time.Second, FailureThreshold: 1, MinimumCalls: 3},
			WindowConfig{Period: time.Second, Buckets: 10, FailureThreshold: 1, MinimumCalls: 3}},
		{"slow-call rate defaults to 1",
			WindowConfig{Count: 5, FailureThreshold: 1, SlowCall: true},
			WindowConfig{Count: 5, FailureThreshold: 1, MinimumCalls: 5, SlowCall: true, SlowCallRate: 1}},
		{"slow-call rate dropped without slow calls",
			WindowConfig{Count: 5, FailureThreshold: 1, SlowCallRate: 0.5},
			WindowConfig{Count: 5, FailureThreshold: 1, MinimumCalls: 5}},
		{"failure threshold below 1 is 1",
			WindowConfig{Count: 5},
			WindowConfig{Count: 5, FailureThreshold: 1, MinimumCalls: 5}},
		{"period wins over count",
			WindowConfig{Count: 5, Period: time.Minute, FailureThreshold: 1},
			WindowConfig{Period: time.Minute, Buckets: 10, FailureThreshold: 1, MinimumCalls: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Resolve()
			if got != tt.want {
				t.Fatalf("Resolve() = %+v, want %+v", got, tt.want)
			}
			if again := got.Resolve(); again != got {
				t.Fatalf("Resolve is not idempotent: %+v then %+v", got, again)
			}
		})
	}
}

// TestWindowTripsAtExactOutcome is the CB-1 table (one block per mode) plus the CB-4,
// CB-5 and CB-7 checks and the peers' scenarios, re-expressed: each row names the outcome
// at which the window first meets a threshold.
func TestWindowTripsAtExactOutcome(t *testing.T) {
	const never = 0
	r4j := WindowConfig{ // resilience4j CircuitBreakerStateMachineTest's setUp
		Period: 20 * time.Second, Buckets: 20, MinimumCalls: 5, FailureThreshold: 1,
		FailureRate: 0.5, SlowCall: true, SlowCallRate: 0.5,
	}
	tests := []struct {
		name   string
		cfg    WindowConfig
		steps  []winStep
		want   int
		reason TransitionReason
	}{
		// Count-in-window mode (FailureRate 0).
		{"count mode: a full window is needed by default",
			WindowConfig{Count: 10, FailureThreshold: 3}, at(0, "FFFSSSSSSS"), 10, ReasonFailureCount},
		{"count mode: failures need not be consecutive",
			WindowConfig{Count: 10, FailureThreshold: 3, MinimumCalls: 1}, at(0, "FSFSF"), 5, ReasonFailureCount},
		{"count mode: evicted failures no longer count",
			WindowConfig{Count: 5, FailureThreshold: 3, MinimumCalls: 1}, at(0, "FSSSSFSFF"), 9, ReasonFailureCount},
		{"count mode: successes alone never trip",
			WindowConfig{Count: 3, FailureThreshold: 1}, at(0, strings.Repeat("S", 50)), never, NoReason},
		{"failsafe-go WithFailureThresholdPeriod(2, 200ms), 3 executions",
			WindowConfig{Period: 200 * time.Millisecond, FailureThreshold: 2, MinimumCalls: 3},
			then(at(0, "FS"), at(210*time.Millisecond, "FS"), at(260*time.Millisecond, "F")), 5, ReasonFailureCount},

		// Rate mode.
		{"CB-5: S,S,S,F,S,S,F opens at call 7 (window F,S,S,F)",
			WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.5}, at(0, "SSSFSSF"), 7, ReasonFailureRate},
		{"CB-5: S,S,S,F,S,S,S,F never opens (window S,S,S,F)",
			WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.5}, at(0, "SSSFSSSF"), never, NoReason},
		{"CB-7: F,F,S,S opens at call 4, a success",
			WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.5}, at(0, "FFSS"), 4, ReasonFailureRate},
		{"resilience4j shouldOpenAfterFailureRateThresholdExceeded: F,F,F,S,S at 60%",
			r4j, at(0, "FFFSS"), 5, ReasonFailureRate},
		{"resilience4j shouldOpenAfterFailureRateThresholdExceeded2: 3 of 6 at exactly 50%",
			r4j, then(at(0, "S"), at(time.Second, "S"), at(2*time.Second, "S"), at(3*time.Second, "F"),
				at(4*time.Second, "F"), at(5*time.Second, "F")), 6, ReasonFailureRate},
		{"failsafe-go WithFailureRateThreshold(50%, 3, 200ms)",
			WindowConfig{Period: 200 * time.Millisecond, FailureThreshold: 1, FailureRate: 0.5, MinimumCalls: 3},
			then(at(0, "FS"), at(210*time.Millisecond, "FS"), at(260*time.Millisecond, "SF")), 6, ReasonFailureRate},
		{"rate mode: the FailureThreshold floor holds a high rate back",
			WindowConfig{Count: 10, FailureThreshold: 3, FailureRate: 0.2, MinimumCalls: 5}, at(0, "FFSSSF"), 6, ReasonFailureRate},
		{"Polly minimum throughput: 99 failures below 100 calls never trip",
			WindowConfig{Period: 30 * time.Second, FailureThreshold: 1, FailureRate: 0.1, MinimumCalls: 100},
			at(0, strings.Repeat("F", 99)), never, NoReason},
		{"Polly minimum throughput: the 100th call is judged",
			WindowConfig{Period: 30 * time.Second, FailureThreshold: 1, FailureRate: 0.1, MinimumCalls: 100},
			at(0, strings.Repeat("F", 100)), 100, ReasonFailureRate},
		{"Polly minimum throughput: a call that expired does not count",
			WindowConfig{Period: 30 * time.Second, FailureThreshold: 1, FailureRate: 0.1, MinimumCalls: 100},
			then(at(0, "F"), at(30*time.Second, strings.Repeat("F", 99))), never, NoReason},
		{"time window: the default minimum is 10 calls",
			WindowConfig{Period: time.Minute, FailureThreshold: 1, FailureRate: 0.5}, at(0, "FFFFFFFFFS"), 10, ReasonFailureRate},

		// Slow-call rate.
		{"CB-4 resilience4j shouldOpenAfterSlowCallRateThresholdExceeded: slow 60%, failures 40%",
			r4j, at(0, "fsFSs"), 5, ReasonSlowCallRate},
		{"resilience4j slow calls with a mock clock: all successes, slow 60%",
			r4j, then(at(5*time.Second, "s"), at(10*time.Second, "s"), at(11*time.Second, "S"),
				at(12*time.Second, "S"), at(17*time.Second, "s")), 5, ReasonSlowCallRate},
		{"slow-call rate defaults to 100%",
			WindowConfig{Count: 5, FailureThreshold: 1, SlowCall: true}, at(0, "ssssSsssss"), 10, ReasonSlowCallRate},
		{"slow flags are not judged without SlowCall",
			WindowConfig{Count: 5, FailureThreshold: 1, FailureRate: 0.5}, at(0, "ssssssssss"), never, NoReason},
		{"slow calls need MinimumCalls too",
			WindowConfig{Count: 5, FailureThreshold: 1, FailureRate: 0.5, SlowCall: true, SlowCallRate: 0.2}, at(0, "sSSSS"), 5, ReasonSlowCallRate},
		{"failure reason wins when both thresholds are met",
			WindowConfig{Count: 3, FailureThreshold: 1, FailureRate: 0.5, SlowCall: true}, at(0, "fff"), 3, ReasonFailureRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := tripIndex(t, tt.cfg, tt.steps)
			if got != tt.want || reason != tt.reason {
				t.Fatalf("trips at outcome %d (%v), want %d (%v)", got, reason, tt.want, tt.reason)
			}
		})
	}
}

// TestWindowJudgeExactEquality is CB-3: a rate exactly equal to its threshold meets it,
// for every rate with two or three decimals and every window up to 1000 calls, where
// failures ≥ rate·calls computed in floating point would miss (0.3·10 > 3).
func TestWindowJudgeExactEquality(t *testing.T) {
	for _, scale := range []uint64{100, 1000} {
		for p := uint64(1); p <= scale; p++ {
			rate := float64(p) / float64(scale)
			cfg := WindowConfig{Count: 1000, FailureThreshold: 1, FailureRate: rate, MinimumCalls: 1, SlowCall: true, SlowCallRate: rate}.Resolve()
			for calls := uint64(1); calls <= 1000; calls += 1 + calls/64 {
				// The fewest failures whose rate reaches p/scale: ⌈p·calls/scale⌉.
				need := (p*calls + scale - 1) / scale
				if r := cfg.Judge(WindowCounts{Calls: calls, Failures: need}); r != ReasonFailureRate {
					t.Fatalf("rate %v: %d of %d failures gave %v, want failure_rate", rate, need, calls, r)
				}
				if r := cfg.Judge(WindowCounts{Calls: calls, SlowCalls: need}); r != ReasonSlowCallRate {
					t.Fatalf("slow rate %v: %d of %d slow calls gave %v, want slow_call_rate", rate, need, calls, r)
				}
				if r := cfg.Judge(WindowCounts{Calls: calls, Failures: need - 1, SlowCalls: need - 1}); r != NoReason {
					t.Fatalf("rate %v: %d of %d gave %v, want none", rate, need-1, calls, r)
				}
			}
		}
	}

	inclusive := []struct {
		name string
		cfg  WindowConfig
		n    WindowCounts
		want TransitionReason
	}{
		{"failures equal to FailureThreshold trip count mode",
			WindowConfig{Count: 10, FailureThreshold: 4, MinimumCalls: 1}, WindowCounts{Calls: 4, Failures: 4}, ReasonFailureCount},
		{"failures one short of FailureThreshold do not",
			WindowConfig{Count: 10, FailureThreshold: 4, MinimumCalls: 1}, WindowCounts{Calls: 9, Failures: 3}, NoReason},
		{"calls equal to MinimumCalls are judged",
			WindowConfig{Count: 10, FailureThreshold: 1, FailureRate: 0.5, MinimumCalls: 6}, WindowCounts{Calls: 6, Failures: 3}, ReasonFailureRate},
		{"calls one short of MinimumCalls are not",
			WindowConfig{Count: 10, FailureThreshold: 1, FailureRate: 0.5, MinimumCalls: 6}, WindowCounts{Calls: 5, Failures: 5}, NoReason},
		{"failure rate 1 needs every call to fail",
			WindowConfig{Count: 3, FailureThreshold: 1, FailureRate: 1}, WindowCounts{Calls: 3, Failures: 3}, ReasonFailureRate},
		{"0.7 of 10 is 7",
			WindowConfig{Count: 10, FailureThreshold: 1, FailureRate: 0.7}, WindowCounts{Calls: 10, Failures: 7}, ReasonFailureRate},
		{"an empty window is never judged",
			WindowConfig{Count: 1, FailureThreshold: 1, MinimumCalls: 1}, WindowCounts{}, NoReason},
	}
	for _, tt := range inclusive {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Resolve().Judge(tt.n); got != tt.want {
				t.Fatalf("Judge(%+v) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// TestTimeWindowBucketBoundaries is CB-6: Period 1s, 10 buckets: a failure at 0.05s still
// counts at 0.89s (and 0.99s) and no longer at 1.0s.
func TestTimeWindowBucketBoundaries(t *testing.T) {
	ms := time.Millisecond
	w := NewWindow(WindowConfig{Period: time.Second, Buckets: 10, FailureThreshold: 1, FailureRate: 0.5, MinimumCalls: 1}, winT0)
	if r := w.Record(winT0.Add(50*ms), true, false); r != ReasonFailureRate {
		t.Fatalf("Record = %v, want failure_rate", r)
	}
	if at, ok := w.NextExpiry(winT0.Add(50 * ms)); !ok || !at.Equal(winT0.Add(time.Second)) {
		t.Fatalf("NextExpiry = %v, %v; want t0+1s", at.Sub(winT0), ok)
	}
	for _, tt := range []struct {
		at   time.Duration
		want uint64
	}{{890 * ms, 1}, {900 * ms, 1}, {999 * ms, 1}, {1000 * ms, 0}, {5 * time.Second, 0}} {
		if got := w.Counts(winT0.Add(tt.at)).Failures; got != tt.want {
			t.Fatalf("failures at %v = %d, want %d", tt.at, got, tt.want)
		}
	}
	if _, ok := w.NextExpiry(winT0.Add(time.Second)); ok {
		t.Fatal("an empty window has a next expiry")
	}
}

// TestTimeWindowBucketBoundariesOnTheClock is CB-6 again on a real (synctest) clock, the
// way the Breaker actor feeds the window.
func TestTimeWindowBucketBoundariesOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := NewWindow(WindowConfig{Period: time.Second, FailureThreshold: 1, MinimumCalls: 1}, start)
		time.Sleep(50 * time.Millisecond)
		w.Record(time.Now(), true, false)
		time.Sleep(840 * time.Millisecond) // 0.89s
		if n := w.Counts(time.Now()); n.Failures != 1 || n.Calls != 1 {
			t.Fatalf("at 0.89s the window holds %+v, want the failure", n)
		}
		expiry, _ := w.NextExpiry(time.Now())
		time.Sleep(time.Until(expiry)) // 1.0s
		if got := time.Since(start); got != time.Second {
			t.Fatalf("expiry after %v, want 1s", got)
		}
		if n := w.Counts(time.Now()); n != (WindowCounts{}) {
			t.Fatalf("at 1.0s the window holds %+v, want nothing", n)
		}
	})
}

// TestTimeWindowOutcomeLifetime checks CB-6's bounds on random times: an outcome counts
// from when it was recorded until the end of the bucket Buckets−1 after its own, so for
// at least Period−w and at most Period.
func TestTimeWindowOutcomeLifetime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		buckets := 1 + rng.IntN(12)
		period := time.Duration(buckets*(1+rng.IntN(1000))) * time.Millisecond
		width := period / time.Duration(buckets)
		w := NewWindow(WindowConfig{Period: period, Buckets: buckets, FailureThreshold: 1}, winT0)
		rec := time.Duration(rng.Int64N(int64(10 * period)))
		w.Record(winT0.Add(rec), true, false)
		end := (rec/width + time.Duration(buckets)) * width // first instant it no longer counts
		life := end - rec
		if life <= period-width || life > period {
			t.Fatalf("period %v/%d: recorded at %v, counts for %v", period, buckets, rec, life)
		}
		if got := w.Counts(winT0.Add(end - 1)).Failures; got != 1 {
			t.Fatalf("period %v/%d: recorded at %v, gone before %v", period, buckets, rec, end)
		}
		if got := w.Counts(winT0.Add(end)).Failures; got != 0 {
			t.Fatalf("period %v/%d: recorded at %v, still counted at %v", period, buckets, rec, end)
		}
	}
}

// TestTimeWindowGobreakerRollingWindow re-expresses gobreaker v2's
// TestRollingWindowCircuitBreaker: Interval 30s rolled by BucketPeriod 3s, trip at 3 calls
// and a 60% failure rate. Its excluded calls are ignored outcomes here, so they are left
// out. The counts match gobreaker's (its Requests minus TotalExclusions) at each step.
func TestTimeWindowGobreakerRollingWindow(t *testing.T) {
	cfg := WindowConfig{Period: 30 * time.Second, Buckets: 10, FailureThreshold: 1, FailureRate: 0.6, MinimumCalls: 3}
	w := NewWindow(cfg, winT0)
	s := time.Second
	check := func(steps []winStep, want WindowCounts, reason TransitionReason) {
		t.Helper()
		got := NoReason
		for _, st := range steps {
			got = recordOutcome(t, w, winT0.Add(st.at), st.outcome)
		}
		last := winT0.Add(steps[len(steps)-1].at)
		if n := w.Counts(last); n != want || got != reason {
			t.Fatalf("after %d outcomes at %v: %+v (%v), want %+v (%v)",
				len(steps), last.Sub(winT0), n, got, want, reason)
		}
	}
	check(at(0, "SFSFSFSFSF"), WindowCounts{Calls: 10, Failures: 5}, NoReason)
	check(at(3*s, "S"), WindowCounts{Calls: 11, Failures: 5}, NoReason)
	check(at(5*s, "S"), WindowCounts{Calls: 12, Failures: 5}, NoReason)
	check(at(7*s, "S"), WindowCounts{Calls: 13, Failures: 5}, NoReason)
	check(at(9*s, "F"), WindowCounts{Calls: 14, Failures: 6}, NoReason)
	for i := range 6 {
		check(at(time.Duration(12+3*i)*s, "SF"), WindowCounts{Calls: uint64(16 + 2*i), Failures: uint64(7 + i)}, NoReason)
	}
	// At 30s the first bucket (5 successes, 5 failures) rolls off.
	check(at(30*s, "F"), WindowCounts{Calls: 17, Failures: 8}, NoReason)
	check(at(30*s, "FFFFF"), WindowCounts{Calls: 22, Failures: 13}, NoReason) // 59%
	check(at(30*s, "F"), WindowCounts{Calls: 23, Failures: 14}, ReasonFailureRate)
}

// TestTimeWindowExpiryCanTrip: with no new outcome, old successes leaving the window raise
// the failure rate; Evaluate at NextExpiry sees it (CB-7's timer).
func TestTimeWindowExpiryCanTrip(t *testing.T) {
	s := time.Second
	w := NewWindow(WindowConfig{Period: 10 * s, Buckets: 10, FailureThreshold: 1, FailureRate: 0.5, MinimumCalls: 4}, winT0)
	for _, st := range then(at(0, "SSSSSS"), at(5*s, "FFFF")) {
		if r := recordOutcome(t, w, winT0.Add(st.at), st.outcome); r != NoReason {
			t.Fatalf("tripped early: %v", r)
		}
	}
	now := winT0.Add(5 * s)
	expiry, ok := w.NextExpiry(now)
	if !ok || !expiry.Equal(winT0.Add(10*s)) {
		t.Fatalf("NextExpiry = %v, %v; want t0+10s", expiry.Sub(winT0), ok)
	}
	if r := w.Evaluate(expiry.Add(-1)); r != NoReason {
		t.Fatalf("Evaluate before the expiry = %v", r)
	}
	if r := w.Evaluate(expiry); r != ReasonFailureRate {
		t.Fatalf("Evaluate at the expiry = %v, want failure_rate", r)
	}
	if next, ok := w.NextExpiry(expiry); !ok || !next.Equal(winT0.Add(15*s)) {
		t.Fatalf("next NextExpiry = %v, %v; want t0+15s (the failures' bucket)", next.Sub(winT0), ok)
	}
}

func TestTimeWindowNextExpirySkipsEmptyBuckets(t *testing.T) {
	s := time.Second
	w := NewWindow(WindowConfig{Period: 10 * s, Buckets: 10, FailureThreshold: 1}, winT0)
	if _, ok := w.NextExpiry(winT0); ok {
		t.Fatal("an empty window has a next expiry")
	}
	w.Record(winT0.Add(3500*time.Millisecond), false, false)
	w.Record(winT0.Add(7*s), false, false)
	for _, tt := range []struct{ now, want time.Duration }{
		{4 * s, 13 * s}, {12 * s, 13 * s}, {13 * s, 17 * s}, {16 * s, 17 * s},
	} {
		if got, ok := w.NextExpiry(winT0.Add(tt.now)); !ok || !got.Equal(winT0.Add(tt.want)) {
			t.Fatalf("NextExpiry(%v) = %v, %v; want %v", tt.now, got.Sub(winT0), ok, tt.want)
		}
	}
	if _, ok := w.NextExpiry(winT0.Add(17 * s)); ok {
		t.Fatal("the window emptied but still has a next expiry")
	}
	if _, ok := NewWindow(WindowConfig{Count: 3}, winT0).NextExpiry(winT0); ok {
		t.Fatal("a count window has a next expiry")
	}
}

func TestTimeWindowLateOutcomeGoesToItsBucket(t *testing.T) {
	s := time.Second
	w := NewWindow(WindowConfig{Period: 10 * s, Buckets: 10, FailureThreshold: 1, MinimumCalls: 1}, winT0)
	w.Record(winT0.Add(8*s), false, false)
	w.Record(winT0.Add(2*s), true, false) // recorded late: bucket 2, expires at 12s
	if n := w.Counts(winT0.Add(8 * s)); n != (WindowCounts{Calls: 2, Failures: 1}) {
		t.Fatalf("counts %+v, want 2 calls, 1 failure", n)
	}
	if n := w.Counts(winT0.Add(12 * s)); n != (WindowCounts{Calls: 1}) {
		t.Fatalf("at 12s counts %+v, want the late failure expired", n)
	}
	w.Record(winT0.Add(time.Second), true, false) // already expired: dropped
	if n := w.Counts(winT0.Add(12 * s)); n != (WindowCounts{Calls: 1}) {
		t.Fatalf("an expired outcome was counted: %+v", n)
	}
	if r := w.Record(winT0.Add(-s), true, false); r != NoReason {
		t.Fatalf("an outcome from before the window tripped it: %v", r)
	}
}

func TestTimeWindowLongIdleEmptiesEveryBucket(t *testing.T) {
	w := NewWindow(WindowConfig{Period: time.Second, Buckets: 10, FailureThreshold: 1}, winT0)
	for i := range 10 {
		w.Record(winT0.Add(time.Duration(i)*100*time.Millisecond), true, true)
	}
	if n := w.Counts(winT0.Add(999 * time.Millisecond)); n != (WindowCounts{10, 10, 10}) {
		t.Fatalf("counts %+v, want 10 of each", n)
	}
	late := winT0.Add(100 * time.Hour)
	w.Record(late, false, false)
	if n := w.Counts(late); n != (WindowCounts{Calls: 1}) {
		t.Fatalf("after a long idle counts %+v, want only the new success", n)
	}
}

func TestWindowRecordSuccessesIsConstantTime(t *testing.T) {
	for _, cfg := range []WindowConfig{
		{Count: 100, FailureThreshold: 1, FailureRate: 0.5},
		{Period: time.Second, FailureThreshold: 1, FailureRate: 0.5},
	} {
		w := NewWindow(cfg, winT0)
		w.Record(winT0, true, false)
		w.RecordSuccesses(winT0, 1<<60) // would never finish one at a time
		n := w.Counts(winT0)
		if cfg.Timed() {
			if n != (WindowCounts{Calls: 1<<60 + 1, Failures: 1}) {
				t.Fatalf("time window counts %+v", n)
			}
			continue
		}
		if n != (WindowCounts{Calls: 100}) {
			t.Fatalf("count window counts %+v, want 100 successes", n)
		}
		w.RecordSuccesses(winT0, ^uint64(0)) // the sequence wraps: still all successes
		if n := w.Counts(winT0); n != (WindowCounts{Calls: 100}) {
			t.Fatalf("count window counts %+v after 2^64 outcomes", n)
		}
	}
}

func TestCountWindowBatchesMatchSingleRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		size := 1 + rng.IntN(9)
		cfg := WindowConfig{Count: size, FailureThreshold: 1}
		one, batch := NewWindow(cfg, winT0), NewWindow(cfg, winT0)
		var pending uint64
		for range 60 {
			if rng.IntN(3) > 0 {
				one.Record(winT0, false, false)
				pending++
				continue
			}
			failure, slow := rng.IntN(2) == 0, rng.IntN(2) == 0
			if !failure && !slow {
				slow = true
			}
			one.Record(winT0, failure, slow)
			batch.RecordSuccesses(winT0, pending)
			pending = 0
			batch.Record(winT0, failure, slow)
			if a, b := one.Counts(winT0), batch.Counts(winT0); a != b {
				t.Fatalf("size %d: one by one %+v, batched %+v", size, a, b)
			}
		}
	}
}

// TestWindowSuccessesCanTrip checks the flag the actor publishes (CB-7).
func TestWindowSuccessesCanTrip(t *testing.T) {
	rate := WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.5}
	tests := []struct {
		name  string
		cfg   WindowConfig
		prior string
		want  bool
	}{
		{"empty window", rate, "", false},
		{"one failure of four cannot reach 50%", rate, "F", false},
		{"F,F: two successes complete 4 calls at 50%", rate, "FF", true},
		{"F,F,S: the next success trips", rate, "FFS", true},
		{"full window: a success evicts a success and keeps the rate", WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.75, MinimumCalls: 1}, "SFFS", false},
		{"window at its threshold (metrics only): a success evicts the oldest failure", WindowConfig{Count: 4, FailureThreshold: 2, MinimumCalls: 1}, "FSSF", false},
		{"window at its threshold (metrics only): a success evicts a success", WindowConfig{Count: 4, FailureThreshold: 2, MinimumCalls: 1}, "SFSF", true},
		{"count mode: failures waiting for MinimumCalls", WindowConfig{Count: 10, FailureThreshold: 2}, "FF", true},
		{"count mode: too few failures", WindowConfig{Count: 10, FailureThreshold: 3}, "FF", false},
		{"slow calls waiting for MinimumCalls", WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.9, SlowCall: true, SlowCallRate: 0.5}, "ss", true},
		{"time window: failures waiting for 10 calls", WindowConfig{Period: time.Second, FailureThreshold: 1, FailureRate: 0.5}, "FFFFF", true},
		{"time window: four of ten is not enough", WindowConfig{Period: time.Second, FailureThreshold: 1, FailureRate: 0.5}, "FFFF", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(tt.cfg, winT0)
			for i := range tt.prior {
				recordOutcome(t, w, winT0, tt.prior[i]) // a metrics-only breaker records past its thresholds
			}
			if got := w.SuccessesCanTrip(winT0); got != tt.want {
				t.Fatalf("SuccessesCanTrip = %v, want %v", got, tt.want)
			}
		})
	}
}

// sequentialCaller plays outcomes (count window, one instant) for one sequential caller
// the way the breaker stage and actor share the work: a fast success goes to the shared
// counter while the published view says successes cannot trip, anything else is a
// message, and the actor folds the counter in before applying a message. canTrip is the
// flag the view publishes. It returns the 1-based index of the first call the breaker
// refuses, or 0.
func sequentialCaller(t *testing.T, cfg WindowConfig, outcomes string, canTrip func(*Window) bool) int {
	t.Helper()
	w := NewWindow(cfg, winT0)
	var pending uint64
	flag := canTrip(w)
	for i := range outcomes {
		if outcomes[i] == 'S' && !flag {
			pending++
			continue
		}
		r := w.RecordSuccesses(winT0, pending)
		pending = 0
		if r == NoReason {
			r = recordOutcome(t, w, winT0, outcomes[i])
		}
		if r != NoReason {
			return i + 2
		}
		flag = canTrip(w)
	}
	return 0
}

func directCaller(t *testing.T, cfg WindowConfig, outcomes string) int {
	t.Helper()
	if i, _ := tripIndex(t, cfg, at(0, outcomes)); i > 0 {
		return i + 1
	}
	return 0
}

// TestWindowSequentialCallerIsExact: with successes counted on the side whenever
// SuccessesCanTrip is false, a sequential caller is refused at exactly the call after the
// outcome that meets the threshold, as if every outcome were a message (CB-7's check:
// Count 4, rate 0.5, F,F,S,S opens after call 4 and call 5 is refused).
func TestWindowSequentialCallerIsExact(t *testing.T) {
	canTrip := func(w *Window) bool { return w.SuccessesCanTrip(winT0) }
	cb7 := WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.5}
	if got := sequentialCaller(t, cb7, "FFSSS", canTrip); got != 5 {
		t.Fatalf("F,F,S,S: first refused call %d, want 5", got)
	}

	rng := rand.New(rand.NewPCG(5, 6))
	rates := []float64{0, 0.25, 0.5, 0.6, 1}
	letters := "SSSSSSFFsf"
	for range 5000 {
		count := 1 + rng.IntN(8)
		cfg := WindowConfig{
			Count: count, FailureThreshold: 1 + rng.IntN(4), FailureRate: rates[rng.IntN(len(rates))],
			MinimumCalls: rng.IntN(count + 1), SlowCall: rng.IntN(2) == 0, SlowCallRate: rates[1+rng.IntN(len(rates)-1)],
		}
		b := make([]byte, 30)
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		outcomes := string(b)
		if got, want := sequentialCaller(t, cfg, outcomes, canTrip), directCaller(t, cfg, outcomes); got != want {
			t.Fatalf("%+v %s: sequential caller refused at %d, want %d", cfg, outcomes, got, want)
		}
	}
}

// TestWindowNextSuccessAloneIsNotEnough records why SuccessesCanTrip looks at the shortest
// run of successes that completes MinimumCalls, not at the next success only: with the
// narrower flag the F,F,S,S case lets a fifth call run.
func TestWindowNextSuccessAloneIsNotEnough(t *testing.T) {
	nextOnly := func(w *Window) bool {
		n := w.Counts(winT0)
		n.Calls = min(n.Calls+1, uint64(w.Config().Count))
		return w.Config().Judge(n) != NoReason
	}
	cfg := WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.5}
	if got := sequentialCaller(t, cfg, "FFSSS", nextOnly); got == 5 {
		t.Fatal("the next-success flag was exact after all; SuccessesCanTrip's doc is wrong")
	}
}

func TestWindowReconfigure(t *testing.T) {
	cfg := WindowConfig{Count: 4, FailureThreshold: 1, FailureRate: 0.75}
	w := NewWindow(cfg, winT0)
	for _, o := range []byte("FFSS") {
		recordOutcome(t, w, winT0, o)
	}
	cfg.FailureRate = 0.5
	w.Reconfigure(cfg, winT0)
	if n := w.Counts(winT0); n != (WindowCounts{Calls: 4, Failures: 2}) {
		t.Fatalf("same shape: counts %+v, want them kept", n)
	}
	if r := w.Evaluate(winT0); r != ReasonFailureRate {
		t.Fatalf("Evaluate after lowering the rate = %v, want failure_rate", r)
	}
	cfg.Count = 8
	w.Reconfigure(cfg, winT0)
	if n := w.Counts(winT0); n != (WindowCounts{}) || w.Config().MinimumCalls != 8 {
		t.Fatalf("new shape: counts %+v, config %+v; want an empty 8-window", n, w.Config())
	}
	w.Reconfigure(WindowConfig{Period: time.Second, FailureThreshold: 1}, winT0)
	w.Record(winT0.Add(500*time.Millisecond), true, false)
	w.Reset(winT0.Add(700 * time.Millisecond))
	if n := w.Counts(winT0.Add(700 * time.Millisecond)); n != (WindowCounts{}) {
		t.Fatalf("after Reset counts %+v", n)
	}
	w.Record(winT0.Add(750*time.Millisecond), true, false)
	if exp, _ := w.NextExpiry(winT0.Add(750 * time.Millisecond)); !exp.Equal(winT0.Add(1700 * time.Millisecond)) {
		t.Fatalf("after Reset at 0.7s buckets start there: expiry %v, want 1.7s", exp.Sub(winT0))
	}
}

func TestTransitionReasonString(t *testing.T) {
	want := map[TransitionReason]string{
		NoReason: "none", ReasonConsecutiveFailures: "consecutive_failures", ReasonFailureCount: "failure_count",
		ReasonFailureRate: "failure_rate", ReasonSlowCallRate: "slow_call_rate", ReasonProbeFailed: "probe_failed",
		ReasonProbeTimeout: "probe_timeout", ReasonProbesSucceeded: "probes_succeeded", ReasonManual: "manual",
		ReasonRecoveryElapsed: "recovery_elapsed", TransitionReason(99): "unknown",
	}
	for r, s := range want {
		if got := r.String(); got != s {
			t.Errorf("%d.String() = %q, want %q", int(r), got, s)
		}
	}
}

func TestWindowCountsRates(t *testing.T) {
	n := WindowCounts{Calls: 8, Failures: 2, SlowCalls: 6}
	if n.FailureRate() != 0.25 || n.SlowCallRate() != 0.75 {
		t.Fatalf("rates %v, %v; want 0.25, 0.75", n.FailureRate(), n.SlowCallRate())
	}
	if (WindowCounts{}).FailureRate() != 0 || (WindowCounts{}).SlowCallRate() != 0 {
		t.Fatal("an empty window's rates are not 0")
	}
}

// BenchmarkWindowRecord measures what the actor pays per outcome: one Record (which
// judges the window) and the SuccessesCanTrip flag it publishes after it.
func BenchmarkWindowRecord(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  WindowConfig
	}{
		{"count", WindowConfig{Count: 100, FailureThreshold: 1, FailureRate: 0.5, SlowCall: true}},
		{"time", WindowConfig{Period: time.Second, Buckets: 10, FailureThreshold: 1, FailureRate: 0.5, SlowCall: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := NewWindow(bc.cfg, winT0)
			now := winT0
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				now = now.Add(time.Millisecond)
				if w.Record(now, i%5 == 0, i%7 == 0) != NoReason {
					b.Fatal("tripped")
				}
				_ = w.SuccessesCanTrip(now)
				i++
			}
		})
		b.Run(bc.name+"/batch", func(b *testing.B) {
			w := NewWindow(bc.cfg, winT0)
			now := winT0
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Millisecond)
				w.RecordSuccesses(now, 64)
				w.Record(now, true, false)
			}
		})
	}
}

// TestTimeWindowSequentialCallerIsExact is TestWindowSequentialCallerIsExact for time
// windows, with the actor's timer: the actor ticks at every bucket boundary, drains the
// successes counted on the side as of the instant before it (NextBoundary), and
// re-evaluates the window (expiry can raise a rate). A sequential caller is then refused at
// exactly the call a caller reporting every outcome at its own time is refused at.
func TestTimeWindowSequentialCallerIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rates := []float64{0, 0.25, 0.5, 0.6, 1}
	letters := "SSSSSSFFsf"
	for range 3000 {
		cfg := WindowConfig{
			Period: time.Second, Buckets: 1 + rng.IntN(5), FailureThreshold: 1 + rng.IntN(3),
			FailureRate: rates[rng.IntN(len(rates))], MinimumCalls: 1 + rng.IntN(6),
			SlowCall: rng.IntN(2) == 0, SlowCallRate: rates[1+rng.IntN(len(rates)-1)],
		}
		steps := make([]winStep, 40)
		now := time.Duration(0)
		for i := range steps {
			now += time.Duration(rng.IntN(150)) * time.Millisecond
			steps[i] = winStep{now, letters[rng.IntN(len(letters))]}
		}
		direct := timedCaller(t, cfg, steps, false)
		if got := timedCaller(t, cfg, steps, true); got != direct {
			t.Fatalf("%+v %v: sequential caller refused at %d, want %d", cfg, steps, got, direct)
		}
	}
}

// timedCaller plays steps against a time window with a tick at each bucket boundary and
// returns the 1-based index of the first call refused, or 0. With side, fast successes go
// to the counter while SuccessesCanTrip is false, as in sequentialCaller; without it every
// outcome is recorded at its own time.
func timedCaller(t *testing.T, cfg WindowConfig, steps []winStep, side bool) int {
	t.Helper()
	w := NewWindow(cfg, winT0)
	var pending uint64
	flag := w.SuccessesCanTrip(winT0)
	last := winT0 // the actor's latest message or tick
	for i, s := range steps {
		now := winT0.Add(s.at)
		for {
			b, _ := w.NextBoundary(last)
			if b.After(now) {
				break
			}
			last = b
			r := w.RecordSuccesses(b.Add(-1), pending) // the tick
			pending = 0
			if r == NoReason {
				r = w.Evaluate(b)
			}
			if r != NoReason {
				return i + 1
			}
			flag = w.SuccessesCanTrip(b)
		}
		if side && s.outcome == 'S' && !flag {
			pending++
			continue
		}
		last = now
		r := w.RecordSuccesses(now, pending)
		pending = 0
		if r == NoReason {
			r = recordOutcome(t, w, now, s.outcome)
		}
		if r != NoReason {
			return i + 2
		}
		flag = w.SuccessesCanTrip(now)
	}
	return 0
}

func TestTimeWindowNextBoundary(t *testing.T) {
	ms := time.Millisecond
	w := NewWindow(WindowConfig{Period: time.Second, Buckets: 10, FailureThreshold: 1}, winT0)
	for _, tt := range []struct{ now, want time.Duration }{
		{0, 100 * ms}, {50 * ms, 100 * ms}, {99 * ms, 100 * ms}, {100 * ms, 200 * ms}, {12345 * ms, 12400 * ms},
	} {
		if got, ok := w.NextBoundary(winT0.Add(tt.now)); !ok || !got.Equal(winT0.Add(tt.want)) {
			t.Fatalf("NextBoundary(%v) = %v, %v; want %v", tt.now, got.Sub(winT0), ok, tt.want)
		}
	}
	if _, ok := NewWindow(WindowConfig{Count: 3}, winT0).NextBoundary(winT0); ok {
		t.Fatal("a count window has a bucket boundary")
	}
}

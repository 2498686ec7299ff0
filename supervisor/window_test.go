package supervisor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// Engine-level checks of the windowed breaker (specs/breadth.md §1.4): each runs a
// sequential caller through ExecuteWithPolicy and asserts the exact call the breaker
// refuses first, without running it.

// runSequence runs outcomes through p in order, one call each: 'S' succeeds, 'F' fails.
// It returns the 1-based index of the first call refused with ErrCircuitOpen (which
// must not run), or 0 when none was.
func runSequence(t *testing.T, e *Engine, p policy.Policy, outcomes string) int {
	t.Helper()
	for i, o := range outcomes {
		ran := false
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			ran = true
			if o == 'F' {
				return 0, errTemporary
			}
			return 1, nil
		})
		if errors.Is(err, policy.ErrCircuitOpen) {
			if ran {
				t.Fatalf("call %d ran and was refused", i+1)
			}
			return i + 1
		}
	}
	return 0
}

// subscribe returns a subscription to e's events with room for n.
func subscribe(t *testing.T, e *Engine, n int) <-chan Event {
	t.Helper()
	events, cancel := e.Subscribe(n)
	t.Cleanup(cancel)
	return events
}

// nextEvent returns the next event of kind from events, failing after 10 s.
func nextEvent(t *testing.T, events <-chan Event, kind EventKind) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event within 10s", kind)
		}
	}
}

// TestWindowBreakerTripsAtExactCall is CB-3, CB-5 and CB-7 through the engine: a count
// window of 4 with failure rate 0.5 and FailureThreshold 1 opens on the call that makes
// the rate reach 0.5 (inclusive), also when that call is a success completing
// MinimumCalls, and the next call is refused without running.
func TestWindowBreakerTripsAtExactCall(t *testing.T) {
	tests := []struct {
		name     string
		outcomes string
		refused  int // 1-based call refused first; 0: none
	}{
		{"CB-7 the success completing the window trips (2/4 = 0.5)", "FFSSS", 5},
		{"CB-5 window F,S,S,F opens at call 7", "SSSFSSFS", 8},
		{"CB-5 window S,S,S,F never opens", "SSSFSSSFSS", 0},
		{"below the rate: 1/4 never opens", "FSSSFSSSFSSS", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("w").WithCountWindow(4).WithFailureRate(0.5, 0)
			if got := runSequence(t, e, p, tt.outcomes); got != tt.refused {
				t.Fatalf("first refused call %d; want %d", got, tt.refused)
			}
		})
	}
}

// TestWindowBreakerEventsCarryReasonAndCounts is CB-13 for a rate trip: the event says
// failure_rate, with the window's counts at the trip.
func TestWindowBreakerEventsCarryReasonAndCounts(t *testing.T) {
	e := newEngine(t)
	events := subscribe(t, e, 16)
	var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("ev").WithCountWindow(4).WithFailureRate(0.5, 0)
	runSequence(t, e, p, "FFSS")
	ev := nextEvent(t, events, BreakerStateChanged)
	if ev.From != messages.Closed || ev.To != messages.Open || ev.Reason != "failure_rate" || ev.Calls != 4 || ev.Failures != 2 {
		t.Fatalf("event %+v; want closed -> open, failure_rate, 4 calls, 2 failures", ev)
	}
}

// TestWindowBreakerSlowCallRateOpensR4J is CB-4, resilience4j's
// shouldOpenAfterSlowCallRateThresholdExceeded through Execute with fake-time sleeps:
// time window 20 s, minimum 5 calls, slow threshold 4 s, slow rate 50 %, failure rate
// 50 %. Slow-error, slow-success, fast-error, fast-success, slow-success open the
// breaker at call 5 on the slow rate (60 %) while the failure rate is 40 %.
func TestWindowBreakerSlowCallRateOpensR4J(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(1, time.Minute).Named("r4j").
			WithTimeWindow(20*time.Second).WithFailureRate(0.5, 5).WithSlowCalls(4*time.Second, 0.5)
		call := func(slow, fail bool) error {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				if slow {
					time.Sleep(5 * time.Second)
				}
				if fail {
					return 0, errTemporary
				}
				return 1, nil
			})
			return err
		}
		steps := []struct{ slow, fail bool }{{true, true}, {true, false}, {false, true}, {false, false}}
		for i, s := range steps {
			call(s.slow, s.fail)
			if st := e.Metrics().Breakers["r4j"].State; st != messages.Closed {
				t.Fatalf("after call %d: %v; want closed", i+1, st)
			}
		}
		call(true, false)
		st := e.Metrics().Breakers["r4j"]
		if st.State != messages.Open {
			t.Fatalf("after call 5: %+v; want open", st)
		}
		if st.SlowCallRate != 0.6 || st.FailureRate != 0.4 || st.TotalSlowCalls != 3 {
			t.Fatalf("slow rate %v failure rate %v slow calls %d; want 0.6, 0.4, 3", st.SlowCallRate, st.FailureRate, st.TotalSlowCalls)
		}
		if ev := nextEvent(t, events, BreakerStateChanged); ev.Reason != "slow_call_rate" || ev.Calls != 5 || ev.SlowCalls != 3 || ev.Failures != 2 {
			t.Fatalf("event %+v; want slow_call_rate with 5 calls, 3 slow, 2 failures", ev)
		}
		ran := false
		err := Run(context.Background(), e, p, func(context.Context) error { ran = true; return nil })
		if !errors.Is(err, policy.ErrCircuitOpen) || ran {
			t.Fatalf("call 6: %v, ran %v; want refused without running", err, ran)
		}
	})
}

// TestWindowBreakerCallOfExactlySlowCallIsNotSlow is CB-3's strict comparison: a call
// lasting exactly SlowCall is not slow; one nanosecond longer is.
func TestWindowBreakerCallOfExactlySlowCallIsNotSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Minute).Named("exact").
			WithCountWindow(100).WithFailureRate(1, 100).WithSlowCalls(time.Second, 1)
		sleep := func(d time.Duration) func(context.Context) error {
			return func(context.Context) error { time.Sleep(d); return nil }
		}
		Run(context.Background(), e, p, sleep(time.Second))
		if n := e.Metrics().Breakers["exact"].TotalSlowCalls; n != 0 {
			t.Fatalf("a call of exactly SlowCall counted slow (%d)", n)
		}
		Run(context.Background(), e, p, sleep(time.Second+time.Nanosecond))
		if n := e.Metrics().Breakers["exact"].TotalSlowCalls; n != 1 {
			t.Fatalf("slow calls %d; want 1 for a call 1ns past SlowCall", n)
		}
	})
}

// TestWindowBreakerTimeWindowExpiry is CB-6 through the engine: Period 1 s, 10
// buckets, count-in-window mode with one failure: a failure at 0.05 s still counts at
// 0.89 s and no longer counts at 1.0 s.
func TestWindowBreakerTimeWindowExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(2, time.Minute).Named("tw").WithTimeWindow(time.Second).WithFailureRate(0, 1)
		// Align with the breaker's buckets: it is created by the first call.
		Run(context.Background(), e, p, func(context.Context) error { return nil })
		time.Sleep(50 * time.Millisecond)
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(840 * time.Millisecond) // 0.89 s
		synctest.Wait()
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		if st := e.Metrics().Breakers["tw"].State; st != messages.Open {
			t.Fatalf("second failure at 0.89s: %v; want open (the first still counts)", st)
		}

		e2 := newEngine(t)
		Run(context.Background(), e2, p, func(context.Context) error { return nil })
		time.Sleep(50 * time.Millisecond)
		Run(context.Background(), e2, p, func(context.Context) error { return errTemporary })
		time.Sleep(950 * time.Millisecond) // 1.0 s
		synctest.Wait()
		Run(context.Background(), e2, p, func(context.Context) error { return errTemporary })
		if st := e2.Metrics().Breakers["tw"].State; st != messages.Closed {
			t.Fatalf("second failure at 1.0s: %v; want closed (the first expired)", st)
		}
	})
}

// TestWindowBreakerHalfOpenIsBoundedByMaxHalfOpen is CB-9: one probe that blocks; after
// RecoveryTimeout + MaxHalfOpen the breaker is open again (probe_timeout), and after
// another open delay a new probe is admitted.
func TestWindowBreakerHalfOpenIsBoundedByMaxHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("bounded").WithMaxHalfOpen(2 * time.Second)
		state := func() messages.BreakerState { return e.Metrics().Breakers["bounded"].State }
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(time.Second)
		synctest.Wait()
		if s := state(); s != messages.HalfOpen {
			t.Fatalf("after the recovery timeout: %v; want half_open", s)
		}
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- Run(context.Background(), e, p, func(context.Context) error { <-release; return nil })
		}()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s := state(); s != messages.Open {
			t.Fatalf("after MaxHalfOpen with the probe still running: %v; want open", s)
		}
		var reasons []string
		for range 3 {
			reasons = append(reasons, nextEvent(t, events, BreakerStateChanged).Reason)
		}
		if fmt.Sprint(reasons) != "[consecutive_failures recovery_elapsed probe_timeout]" {
			t.Fatalf("reasons %v; want consecutive_failures, recovery_elapsed, probe_timeout", reasons)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if err := Run(context.Background(), e, p, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("a new probe after the next open delay: %v", err)
		}
		if s := state(); s != messages.Closed {
			t.Fatalf("after the new probe succeeded: %v; want closed", s)
		}
		close(release)
		<-done // the old probe's outcome belongs to an old generation
		if s := state(); s != messages.Closed {
			t.Fatalf("after the old probe returned: %v; want closed", s)
		}
	})
}

// TestWindowBreakerCancelledProbeKeepsHalfOpen is CB-10: a probe whose caller cancels
// frees its slot and gives no verdict; the next call is admitted as a probe.
func TestWindowBreakerCancelledProbeKeepsHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("cancel")
		state := func() messages.BreakerState { return e.Metrics().Breakers["cancel"].State }
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(time.Second)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		err := Run(ctx, e, p, func(ctx context.Context) error { cancel(); return ctx.Err() })
		if !errors.Is(err, policy.ErrCancelled) {
			t.Fatalf("cancelled probe: %v", err)
		}
		if s := state(); s != messages.HalfOpen {
			t.Fatalf("after a cancelled probe: %v; want half_open", s)
		}
		ran := false
		if err := Run(context.Background(), e, p, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Fatalf("next probe: %v, ran %v; want admitted", err, ran)
		}
		if s := state(); s != messages.Closed {
			t.Fatalf("after the next probe succeeded: %v; want closed", s)
		}
	})
}

// TestWindowBreakerOpenBackoff is CB-11 (resilience4j
// shouldTransitionToHalfOpenAfterWaitInterval): OpenBackoff Exponential{5s, 1.5}
// gives open delays of 5 s, then 7.5 s after a failed probe, then 5 s again after a
// close; a refusal's RetryAfter is the time until half-open.
func TestWindowBreakerOpenBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, 5*time.Second).Named("backoff").
			WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5})
		fail := func(context.Context) error { return errTemporary }
		succeed := func(context.Context) error { return nil }
		retryAfter := func() time.Duration {
			t.Helper()
			err := Run(context.Background(), e, p, succeed)
			d, ok := policy.RetryAfter(err)
			if !errors.Is(err, policy.ErrCircuitOpen) || !ok {
				t.Fatalf("want a refusal with RetryAfter, got %v", err)
			}
			return d
		}
		Run(context.Background(), e, p, fail)
		if d := retryAfter(); d != 5*time.Second {
			t.Fatalf("first trip: open for %v; want 5s", d)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		Run(context.Background(), e, p, fail) // the probe fails
		if d := retryAfter(); d != 7500*time.Millisecond {
			t.Fatalf("after a failed probe: open for %v; want 7.5s", d)
		}
		time.Sleep(7500 * time.Millisecond)
		synctest.Wait()
		if err := Run(context.Background(), e, p, succeed); err != nil {
			t.Fatalf("probe: %v", err)
		}
		Run(context.Background(), e, p, fail)
		if d := retryAfter(); d != 5*time.Second {
			t.Fatalf("after a close: open for %v; want 5s again", d)
		}
	})
}

// TestCollectorExportsWindowRatesAndSlowCalls: a windowed breaker's rates and slow calls
// are exported, a forced-open breaker's state is 3, and the output stays lint-clean.
func TestCollectorExportsWindowRatesAndSlowCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		reg := obsRegistry(t, e)
		var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("rates").
			WithCountWindow(10).WithFailureRate(1, 10).WithSlowCalls(time.Second, 1)
		// Two fast successes (counted on the side, taken in by the next message), a
		// failure and a slow success (reported): the scrape reads the published view.
		for _, o := range "SSFs" {
			Run(context.Background(), e, p, func(context.Context) error {
				if o == 's' {
					time.Sleep(2 * time.Second)
				}
				if o == 'F' {
					return errTemporary
				}
				return nil
			})
		}
		if err := e.ForceOpen("forced", 0); err != nil {
			t.Fatal(err)
		}
		obsWant(t, obsScrape(t, reg), map[string]float64{
			`bulwark_breaker_failure_rate{name="rates"}`:     0.25,
			`bulwark_breaker_slow_call_rate{name="rates"}`:   0.25,
			`bulwark_breaker_slow_calls_total{name="rates"}`: 1,
			`bulwark_breaker_state{name="forced"}`:           3,
			`bulwark_circuit_breaker_trips_total`:            0,
		})
		obsLint(t, e)
	})
}

// TestWindowBreakerModesAndDefaults is CB-1 and CB-2 through the engine, sequential
// caller, exact refused call: count-in-window mode opens on FailureThreshold failures
// once MinimumCalls calls are in the window; MinimumCalls 0 means the whole count window,
// and max(FailureThreshold, 10) for a time window.
func TestWindowBreakerModesAndDefaults(t *testing.T) {
	tests := []struct {
		name     string
		policy   policy.CircuitBreakerPolicy
		outcomes string
		refused  int
	}{
		{"count-in-window: 3 failures in a window of 10, minimum 1",
			policy.CircuitBreaker(3, time.Hour).WithCountWindow(10).WithFailureRate(0, 1), "FSFSFS", 6},
		{"count-in-window: MinimumCalls 0 means the whole window of 10",
			policy.CircuitBreaker(3, time.Hour).WithCountWindow(10), "FFFSSSSSSSS", 11},
		{"rate mode, time window: MinimumCalls 0 means max(FailureThreshold, 10)",
			policy.CircuitBreaker(1, time.Hour).WithTimeWindow(time.Minute).WithFailureRate(0.5, 0), "FFFFFFFFFFS", 11},
		{"pure rate mode: 1 failure in 4 meets 0.25",
			policy.CircuitBreaker(1, time.Hour).WithCountWindow(4).WithFailureRate(0.25, 0), "FSSSFS", 5},
		{"rate mode with an absolute floor of 2 failures: the rate alone never opens it",
			policy.CircuitBreaker(2, time.Hour).WithCountWindow(4).WithFailureRate(0.25, 0), "FSSSFS", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			var p policy.Policy = tt.policy.Named("modes")
			if got := runSequence(t, e, p, tt.outcomes); got != tt.refused {
				t.Fatalf("first refused call %d; want %d", got, tt.refused)
			}
		})
	}
}

// TestWindowBreakerHalfOpenVerdictAsSoonAsCertain is CB-8: HalfOpenCalls 10, rate 0.5:
// five failed probes reopen the breaker at once (probe_failed), without waiting for
// probes 6–10.
func TestWindowBreakerHalfOpenVerdictAsSoonAsCertain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("verdict").
			WithCountWindow(10).WithFailureRate(0.5, 1).WithHalfOpenCalls(10)
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(time.Second)
		synctest.Wait()
		for i := range 5 {
			if err := Run(context.Background(), e, p, func(context.Context) error { return errTemporary }); !errors.Is(err, errTemporary) {
				t.Fatalf("probe %d: %v; want it to run", i+1, err)
			}
		}
		if s := e.Metrics().Breakers["verdict"].State; s != messages.Open {
			t.Fatalf("after 5 failed probes of 10: %v; want open at once", s)
		}
		nextEvent(t, events, BreakerStateChanged) // the trip
		nextEvent(t, events, BreakerStateChanged) // half-open
		if ev := nextEvent(t, events, BreakerStateChanged); ev.Reason != "probe_failed" || ev.Failures != 5 {
			t.Fatalf("event %+v; want probe_failed with 5 failures", ev)
		}
	})
}

package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestForceOpenRefusesEveryCallUntilReset is CB-12: ForceOpen(name, 0), then 100 calls
// over 2 × RecoveryTimeout: none runs, each error matches ErrCircuitForcedOpen and
// ErrCircuitOpen with no RetryAfter; it is not a trip; ResetBreaker: the next call runs.
func TestForceOpenRefusesEveryCallUntilReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(3, time.Second).Named("forced")
		Run(context.Background(), e, p, func(context.Context) error { return nil }) // exists
		if err := e.ForceOpen("forced", 0); err != nil {
			t.Fatal(err)
		}
		ran := 0
		for range 100 {
			err := Run(context.Background(), e, p, func(context.Context) error { ran++; return nil })
			if !errors.Is(err, policy.ErrCircuitForcedOpen) || !errors.Is(err, policy.ErrCircuitOpen) {
				t.Fatalf("err %v; want ErrCircuitForcedOpen matching ErrCircuitOpen", err)
			}
			if d, ok := policy.RetryAfter(err); ok {
				t.Fatalf("RetryAfter %v of a breaker forced open until reset; want none", d)
			}
			time.Sleep(20 * time.Millisecond) // 100 calls over 2 s = 2 × RecoveryTimeout
		}
		if ran != 0 {
			t.Fatalf("%d calls ran while forced open", ran)
		}
		m := e.Metrics()
		if m.CircuitBreakerTrips != 0 || m.Breakers["forced"].Trips != 0 || m.Breakers["forced"].State != messages.ForcedOpen {
			t.Fatalf("trips %d / %d, state %v; a manual ForceOpen is no trip", m.CircuitBreakerTrips, m.Breakers["forced"].Trips, m.Breakers["forced"].State)
		}
		if ev := nextEvent(t, events, BreakerStateChanged); ev.To != messages.ForcedOpen || ev.Reason != "manual" {
			t.Fatalf("event %+v; want -> forced_open, manual", ev)
		}
		if err := e.ResetBreaker("forced"); err != nil {
			t.Fatal(err)
		}
		if err := Run(context.Background(), e, p, func(context.Context) error { ran++; return nil }); err != nil || ran != 1 {
			t.Fatalf("after ResetBreaker: %v, ran %d; want the call to run", err, ran)
		}
		if ev := nextEvent(t, events, BreakerStateChanged); ev.From != messages.ForcedOpen || ev.To != messages.Closed || ev.Reason != "manual" {
			t.Fatalf("event %+v; want forced_open -> closed, manual", ev)
		}
	})
}

// TestForceOpenForAWhileThenHalfOpen: ForceOpen(name, d) refuses for d with RetryAfter
// the time left, then the breaker probes.
func TestForceOpenForAWhileThenHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(3, time.Second).Named("while")
		if err := e.ForceOpen("while", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		err := Run(context.Background(), e, p, func(context.Context) error { return nil })
		if d, ok := policy.RetryAfter(err); !errors.Is(err, policy.ErrCircuitForcedOpen) || !ok || d != 6*time.Second {
			t.Fatalf("err %v RetryAfter %v; want forced open for 6s more", err, d)
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if s := e.Metrics().Breakers["while"].State; s != messages.HalfOpen {
			t.Fatalf("after the forced period: %v; want half_open", s)
		}
		if err := Run(context.Background(), e, p, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if s := e.Metrics().Breakers["while"].State; s != messages.Closed {
			t.Fatalf("after the probe: %v; want closed", s)
		}
	})
}

// TestManualStateOnUnknownNameTakesFirstPolicysThresholds: a manual control creates an
// unknown breaker in that state; the first policy naming it supplies its thresholds
// (here 2, not the placeholder's 5), and the state stays.
func TestManualStateOnUnknownNameTakesFirstPolicysThresholds(t *testing.T) {
	e := newEngine(t)
	if err := e.DisableBreaker("fresh"); err != nil {
		t.Fatal(err)
	}
	if s, ok := e.Metrics().Breakers["fresh"]; !ok || s.State != messages.Disabled {
		t.Fatalf("breakers %v; want fresh disabled", e.Metrics().Breakers)
	}
	var p policy.Policy = policy.CircuitBreaker(2, time.Hour).Named("fresh")
	for range 10 {
		if err := Run(context.Background(), e, p, func(context.Context) error { return errTemporary }); !errors.Is(err, errTemporary) {
			t.Fatalf("disabled breaker: %v; want every call to run", err)
		}
	}
	if s := e.Metrics().Breakers["fresh"]; s.State != messages.Disabled || s.Failures != 0 {
		t.Fatalf("%+v; want disabled, nothing recorded", s)
	}
	if err := e.ResetBreaker("fresh"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
	}
	if s := e.Metrics().Breakers["fresh"].State; s != messages.Open {
		t.Fatalf("after 2 failures: %v; want open by the first policy's threshold 2", s)
	}
}

// TestManualStateSurvivesRegistration: RegisterCircuitBreaker reconfigures a breaker
// forced open and keeps it forced open.
func TestManualStateSurvivesRegistration(t *testing.T) {
	e := newEngine(t)
	if err := e.ForceOpen("sticky", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterCircuitBreaker("sticky", policy.CircuitBreaker(1, time.Second)); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Second).Named("sticky")), func(context.Context) error { return nil })
	if !errors.Is(err, policy.ErrCircuitForcedOpen) {
		t.Fatalf("after RegisterCircuitBreaker: %v; want still forced open", err)
	}
}

// TestManualStateIsNeverPassivated: a breaker in a manual state stays through idle
// scans, where a closed one would be passivated.
func TestManualStateIsNeverPassivated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Second))
		if err := e.MetricsOnly("kept"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s, ok := e.Metrics().Breakers["kept"]; !ok || s.State != messages.MetricsOnly {
			t.Fatalf("breakers %v; want kept, metrics_only, after idle scans", e.Metrics().Breakers)
		}
	})
}

// TestMetricsOnlyRunsEveryCallAndSignalsOnce is CB-12's MetricsOnly check: with 100 %
// failures every call runs, the breaker never opens, and one BreakerThresholdExceeded
// event is seen.
func TestMetricsOnlyRunsEveryCallAndSignalsOnce(t *testing.T) {
	e := newEngine(t)
	events := subscribe(t, e, 256)
	if err := e.MetricsOnly("watch"); err != nil {
		t.Fatal(err)
	}
	var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("watch").WithCountWindow(10).WithFailureRate(0.5, 0)
	ran := 0
	for range 100 {
		if err := Run(context.Background(), e, p, func(context.Context) error { ran++; return errTemporary }); !errors.Is(err, errTemporary) {
			t.Fatalf("err %v; want the call's own error", err)
		}
	}
	if ran != 100 {
		t.Fatalf("%d of 100 calls ran", ran)
	}
	s := e.Metrics().Breakers["watch"]
	if s.State != messages.MetricsOnly || s.Failures != 100 || s.FailureRate != 1 {
		t.Fatalf("%+v; want metrics_only with 100 failures recorded, rate 1", s)
	}
	exceeded := 0
	for {
		select {
		case ev := <-events:
			if ev.Kind == BreakerThresholdExceeded {
				exceeded++
				if ev.Reason != "failure_rate" || ev.Calls != 10 || ev.Failures != 10 {
					t.Errorf("event %+v; want failure_rate, 10 calls, 10 failures", ev)
				}
			}
			continue
		case <-time.After(100 * time.Millisecond):
		}
		break
	}
	if exceeded != 1 {
		t.Fatalf("%d BreakerThresholdExceeded events; want 1", exceeded)
	}
}

// TestManualControlRejectsBadInputAndAfterShutdown: bad names, durations and modes are
// ErrInvalidPolicy; after Shutdown every manual control is ErrShutdown.
func TestManualControlRejectsBadInputAndAfterShutdown(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]error{
		"empty name":         e.ForceOpen("", 0),
		"invalid UTF-8 name": e.DisableBreaker("\xff"),
		"negative duration":  e.ForceOpen("x", -time.Second),
		"empty reset name":   e.ResetBreaker(""),
		"empty metrics name": e.MetricsOnly(""),
		"open is no mode":    e.setBreakerMode("SetBreakerMode", "x", messages.Open, 0),
		"half-open":          e.setBreakerMode("SetBreakerMode", "x", messages.HalfOpen, 0),
		"duration on reset":  e.setBreakerMode("SetBreakerMode", "x", messages.Closed, time.Second),
	}
	for name, err := range bad {
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%s: %v; want ErrInvalidPolicy", name, err)
		}
	}
	if _, ok := e.Metrics().Breakers["x"]; ok {
		t.Error("a refused manual control created breaker x")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := map[string]error{
		"ForceOpen":          e.ForceOpen("x", 0),
		"DisableBreaker":     e.DisableBreaker("x"),
		"MetricsOnly":        e.MetricsOnly("x"),
		"ResetBreaker":       e.ResetBreaker("x"),
		"RegisterClassifier": e.RegisterClassifier("c", func(any, error) policy.Verdict { return policy.Success }),
	}
	for name, err := range after {
		if !errors.Is(err, policy.ErrShutdown) {
			t.Errorf("%s after Shutdown: %v; want ErrShutdown", name, err)
		}
	}
}

// TestActorClientSetsBreakerMode: messages.SetBreakerMode sent to Engine.PID sets the
// mode and is answered with a *messages.Result whose Err is nil, or the refusal.
func TestActorClientSetsBreakerMode(t *testing.T) {
	e := newEngine(t)
	results := make(chan *messages.Result, 4)
	client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*messages.Result); ok {
			results <- r
		}
	}))
	t.Cleanup(func() { e.System().Root.Stop(client) })
	ask := func(m any) *messages.Result {
		t.Helper()
		e.System().Root.RequestWithCustomSender(e.PID(), m, client)
		select {
		case r := <-results:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no Result within 10s")
			return nil
		}
	}
	if r := ask(&messages.SetBreakerMode{Name: "ac", Mode: messages.ForcedOpen}); r.Err != nil || r.ID != "ac" {
		t.Fatalf("Result %+v; want ID ac, no error", r)
	}
	err := Run(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Second).Named("ac")), func(context.Context) error { return nil })
	if !errors.Is(err, policy.ErrCircuitForcedOpen) {
		t.Fatalf("after SetBreakerMode ForcedOpen: %v", err)
	}
	if r := ask(messages.SetBreakerMode{Name: "ac", Mode: messages.Closed}); r.Err != nil {
		t.Fatalf("reset: %v", r.Err)
	}
	if err := Run(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Second).Named("ac")), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if r := ask(&messages.SetBreakerMode{Name: "ac", Mode: messages.Open}); !errors.Is(r.Err, policy.ErrInvalidPolicy) {
		t.Fatalf("Mode Open: %v; want ErrInvalidPolicy", r.Err)
	}
}

// TestSharedPolicyRunsLocallyWarnsOnce: a Shared breaker or limiter runs locally and
// logs one warning per name.
func TestSharedPolicyRunsLocallyWarnsOnce(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	e := newEngine(t, WithLogger(zap.New(core)))
	var b policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("fleet").AsShared()
	var l policy.Policy = policy.RateLimit(1000).Named("fleet").AsShared()
	for range 3 {
		if err := Run(context.Background(), e, b, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := Run(context.Background(), e, l, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := logs.FilterMessage("a shared breaker runs locally: no cluster backend").Len(); n != 1 {
		t.Errorf("%d breaker warnings; want 1", n)
	}
	if n := logs.FilterMessage("a shared limiter runs locally: no cluster backend").Len(); n != 1 {
		t.Errorf("%d limiter warnings; want 1", n)
	}
}

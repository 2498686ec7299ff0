package supervisor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// obsRegistry registers e's collector on a fresh pedantic registry.
func obsRegistry(t *testing.T, e *Engine) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(e.Collector()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return reg
}

// obsScrape gathers reg (which fails on any inconsistency the pedantic registry finds)
// and returns every sample by its series, e.g. `bulwark_breaker_state{name="x"}`.
// A histogram gives name_count and name_sum.
func obsScrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + obsLabels(m.GetLabel())
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"+obsLabels(m.GetLabel())] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+obsLabels(m.GetLabel())] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func obsLabels(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// obsLint fails the test if the collector's output has any promlint problem.
func obsLint(t *testing.T, e *Engine) {
	t.Helper()
	problems, err := testutil.CollectAndLint(e.Collector())
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// obsWant checks that every series of want has its value in got.
func obsWant(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s missing", k)
		case g != v:
			t.Errorf("%s = %v; want %v", k, g, v)
		}
	}
}

// TestCollectorCountersEqualMetrics checks that a scrape says what Metrics says, and
// what the calls made. It runs in a synctest bubble: on real time the limiter refilled a
// little between Metrics and the scrape, and the tokens gauge differed (about 9 runs in
// 200).
func TestCollectorCountersEqualMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		reg := obsRegistry(t, e)
		ctx := context.Background()

		breaker := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
		limiter := policy.Policy(policy.RateLimit(0.001).Named("y")) // burst 1, no refill during the test
		retry := policy.Policy(policy.Retry(3).WithBackoff(policy.FixedBackoff{}))
		timeout := policy.Policy(policy.Timeout(time.Millisecond))

		// Breaker x: one success, two failures open it, then one call is rejected.
		if _, err := ExecuteWithPolicy(ctx, e, breaker, ok42); err != nil {
			t.Fatal(err)
		}
		if v := obsScrape(t, reg)[`bulwark_breaker_state{name="x"}`]; v != 0 {
			t.Fatalf("state of a fresh breaker = %v; want 0 (closed)", v)
		}
		for range 2 {
			if _, err := ExecuteWithPolicy(ctx, e, breaker, failing); !errors.Is(err, errTemporary) {
				t.Fatalf("failing call: %v", err)
			}
		}
		if _, err := ExecuteWithPolicy(ctx, e, breaker, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("call to an open breaker: %v; want ErrCircuitOpen", err)
		}
		// Limiter y: the only token, then a rejection.
		if _, err := ExecuteWithPolicy(ctx, e, limiter, ok42); err != nil {
			t.Fatal(err)
		}
		if _, err := ExecuteWithPolicy(ctx, e, limiter, ok42); !errors.Is(err, policy.ErrRateLimited) {
			t.Fatalf("second call: %v; want ErrRateLimited", err)
		}
		// Two retries, then success; a timeout; a panic.
		n := 0
		if _, err := ExecuteWithPolicy(ctx, e, retry, func(context.Context) (int, error) {
			if n++; n < 3 {
				return 0, errTemporary
			}
			return n, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := ExecuteWithPolicy(ctx, e, timeout, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}); !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("timeout: %v", err)
		}
		if _, err := ExecuteWithPolicy(ctx, e, policy.Policy(policy.None()), func(context.Context) (int, error) {
			panic("boom")
		}); !errors.Is(err, policy.ErrPanic) {
			t.Fatalf("panic: %v", err)
		}

		m := e.Metrics()
		got := obsScrape(t, reg)
		b, l := m.Breakers["x"], m.Limiters["y"]
		obsWant(t, got, map[string]float64{
			`bulwark_operations_total{result="success"}`:                        float64(m.SuccessfulOperations),
			`bulwark_operations_total{result="failure"}`:                        float64(m.FailedOperations),
			`bulwark_retry_attempts_total`:                                      float64(m.RetryAttempts),
			`bulwark_timeouts_total`:                                            float64(m.TimeoutCount),
			`bulwark_abandoned_calls_total`:                                     float64(m.AbandonedCalls),
			`bulwark_panics_total`:                                              float64(m.Panics),
			`bulwark_rate_limit_hits_total`:                                     float64(m.RateLimitHits),
			`bulwark_circuit_breaker_trips_total`:                               float64(m.CircuitBreakerTrips),
			`bulwark_dropped_events_total`:                                      float64(m.DroppedEvents),
			`bulwark_breaker_state{name="x"}`:                                   float64(b.State),
			`bulwark_breaker_calls_total{name="x",outcome="success"}`:           float64(b.Successes),
			`bulwark_breaker_calls_total{name="x",outcome="failure"}`:           float64(b.Failures),
			`bulwark_breaker_calls_total{name="x",outcome="rejected"}`:          float64(b.Rejected),
			`bulwark_breaker_trips_total{name="x"}`:                             float64(b.Trips),
			`bulwark_limiter_admitted_total{name="y"}`:                          float64(l.Allowed),
			`bulwark_limiter_rejected_total{name="y"}`:                          float64(l.Rejected),
			`bulwark_limiter_waiting{name="y"}`:                                 float64(l.Waiting),
			`bulwark_limiter_tokens{name="y"}`:                                  l.Tokens,
			`bulwark_actor_restarts_total{kind="breaker",name="x"}`:             0,
			`bulwark_actor_restarts_total{kind="limiter",name="y"}`:             0,
			`bulwark_actor_restarts_total{kind="supervisor",name="supervisor"}`: 0,
		})
		// And the values themselves, so that a Metrics bug cannot hide behind equality.
		obsWant(t, got, map[string]float64{
			`bulwark_operations_total{result="success"}`:               3,
			`bulwark_operations_total{result="failure"}`:               6,
			`bulwark_retry_attempts_total`:                             2,
			`bulwark_timeouts_total`:                                   1,
			`bulwark_panics_total`:                                     1,
			`bulwark_rate_limit_hits_total`:                            1,
			`bulwark_circuit_breaker_trips_total`:                      1,
			`bulwark_breaker_state{name="x"}`:                          1,
			`bulwark_breaker_calls_total{name="x",outcome="success"}`:  1,
			`bulwark_breaker_calls_total{name="x",outcome="failure"}`:  2,
			`bulwark_breaker_calls_total{name="x",outcome="rejected"}`: 1,
			`bulwark_breaker_trips_total{name="x"}`:                    1,
			`bulwark_limiter_admitted_total{name="y"}`:                 1,
			`bulwark_limiter_rejected_total{name="y"}`:                 1,
			`bulwark_limiter_waiting{name="y"}`:                        0,
		})
		for _, k := range []string{
			`bulwark_actor_mailbox_depth{kind="breaker",name="x"}`,
			`bulwark_actor_mailbox_depth{kind="limiter",name="y"}`,
			`bulwark_actor_mailbox_depth{kind="supervisor",name="supervisor"}`,
		} {
			if v, ok := got[k]; !ok || v < 0 {
				t.Errorf("%s = %v, present %v; want a depth ≥ 0", k, v, ok)
			}
		}
		if _, ok := got["bulwark_operation_duration_seconds_count"]; ok {
			t.Error("duration histogram exported without WithDurationHistogram")
		}
		obsLint(t, e)
	})
}

func TestCollectorBreakerStateGaugeFlips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		reg := obsRegistry(t, e)
		ctx := context.Background()
		p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
		state := func() float64 {
			t.Helper()
			v, ok := obsScrape(t, reg)[`bulwark_breaker_state{name="x"}`]
			if !ok {
				t.Fatal(`bulwark_breaker_state{name="x"} missing`)
			}
			return v
		}

		ExecuteWithPolicy(ctx, e, p, ok42)
		if s := state(); s != 0 {
			t.Fatalf("closed breaker: state %v; want 0", s)
		}
		ExecuteWithPolicy(ctx, e, p, failing)
		ExecuteWithPolicy(ctx, e, p, failing)
		if s := state(); s != 1 {
			t.Fatalf("after 2 failures: state %v; want 1 (open)", s)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if s := state(); s != 2 {
			t.Fatalf("after the recovery timeout: state %v; want 2 (half-open)", s)
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if s := state(); s != 0 {
			t.Fatalf("after a successful probe: state %v; want 0 (closed)", s)
		}
		if v := obsScrape(t, reg)[`bulwark_breaker_trips_total{name="x"}`]; v != 1 {
			t.Fatalf("trips = %v; want 1", v)
		}
	})
}

func TestCollectorDropsPassivatedActorsSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		reg := obsRegistry(t, e)
		ctx := context.Background()
		breaker := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("idle-b"))
		limiter := policy.Policy(policy.RateLimit(100).Named("idle-l"))
		kept := policy.CircuitBreakerPolicy{FailureThreshold: 2, RecoveryTimeout: time.Hour}
		if err := e.RegisterCircuitBreaker("kept", kept); err != nil {
			t.Fatal(err)
		}
		for _, p := range []policy.Policy{breaker, limiter} {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatal(err)
			}
		}
		series := []string{
			`bulwark_breaker_state{name="idle-b"}`,
			`bulwark_breaker_calls_total{name="idle-b",outcome="success"}`,
			`bulwark_actor_mailbox_depth{kind="breaker",name="idle-b"}`,
			`bulwark_actor_restarts_total{kind="breaker",name="idle-b"}`,
			`bulwark_limiter_admitted_total{name="idle-l"}`,
			`bulwark_limiter_tokens{name="idle-l"}`,
			`bulwark_actor_mailbox_depth{kind="limiter",name="idle-l"}`,
		}
		got := obsScrape(t, reg)
		for _, k := range append(series, `bulwark_breaker_state{name="kept"}`) {
			if _, ok := got[k]; !ok {
				t.Errorf("before passivation: %s missing", k)
			}
		}

		time.Sleep(5 * time.Minute)
		synctest.Wait()
		got = obsScrape(t, reg)
		for _, k := range series {
			if v, ok := got[k]; ok {
				t.Errorf("after passivation: %s = %v still exported", k, v)
			}
		}
		if _, ok := got[`bulwark_breaker_state{name="kept"}`]; !ok {
			t.Error("a registered breaker's series went with the idle ones")
		}
		if _, ok := e.Metrics().Breakers["idle-b"]; ok {
			t.Error("Metrics still lists the passivated breaker")
		}
		obsLint(t, e)

		// Used again, the breaker comes back with fresh counters.
		if _, err := ExecuteWithPolicy(ctx, e, breaker, ok42); err != nil {
			t.Fatal(err)
		}
		if v, ok := obsScrape(t, reg)[`bulwark_breaker_calls_total{name="idle-b",outcome="success"}`]; !ok || v != 1 {
			t.Fatalf("recreated breaker: successes %v (present %v); want 1", v, ok)
		}
	})
}

func TestCollectorCountsActorRestarts(t *testing.T) {
	t.Run("breaker", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			reg := obsRegistry(t, e)
			ctx := context.Background()
			p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatal(err)
			}
			inject(e, breakerOf(e, "x").PID(), &fault.Panic{Reason: "breaker test panic"})
			synctest.Wait()
			obsWant(t, obsScrape(t, reg), map[string]float64{
				`bulwark_actor_restarts_total{kind="breaker",name="x"}`:             1,
				`bulwark_actor_restarts_total{kind="supervisor",name="supervisor"}`: 0,
				`bulwark_actor_mailbox_depth{kind="breaker",name="x"}`:              0,
				`bulwark_breaker_calls_total{name="x",outcome="success"}`:           1,
			})
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatalf("after the restart: %v", err)
			}
		})
	})
	t.Run("supervisor", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			reg := obsRegistry(t, e)
			inject(e, e.PID(), &fault.Panic{Reason: "supervisor test panic"})
			synctest.Wait()
			obsWant(t, obsScrape(t, reg), map[string]float64{
				`bulwark_actor_restarts_total{kind="supervisor",name="supervisor"}`: 1,
				`bulwark_actor_mailbox_depth{kind="supervisor",name="supervisor"}`:  0,
			})
			p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("z"))
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
				t.Fatalf("after the restart: %v", err)
			}
			if v := obsScrape(t, reg)[`bulwark_actor_mailbox_depth{kind="supervisor",name="supervisor"}`]; v != 0 {
				t.Fatalf("idle supervisor's mailbox depth = %v; want 0", v)
			}
		})
	})
}

func TestCollectorDurationHistogram(t *testing.T) {
	e := newEngine(t, WithDurationHistogram())
	reg := obsRegistry(t, e)
	ctx := context.Background()
	for range 3 {
		ExecuteWithPolicy(ctx, e, policy.Policy(policy.None()), ok42)
	}
	ExecuteWithPolicy(ctx, e, policy.Policy(policy.Retry(2).WithBackoff(policy.FixedBackoff{})), failing)
	got := obsScrape(t, reg)
	if c := got["bulwark_operation_duration_seconds_count"]; c != 4 {
		t.Fatalf("histogram count = %v; want 4 operations", c)
	}
	if s := got["bulwark_operation_duration_seconds_sum"]; s < 0 || s > 10 {
		t.Fatalf("histogram sum = %vs; want a small non-negative duration", s)
	}
	if n := testutil.CollectAndCount(e.Collector(), "bulwark_operation_duration_seconds"); n != 1 {
		t.Fatalf("histogram series = %d; want 1", n)
	}
	obsLint(t, e)
}

func TestCollectorHasNoInvalidLabelValues(t *testing.T) {
	// A name that is not UTF-8 is refused (see TestNamesThatAreNotUTF8AreRefused), so
	// it never reaches a scrape, repaired or not.
	e := newEngine(t)
	reg := obsRegistry(t, e)
	name := "bad\xffname"
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Hour).Named(name)), ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("err %v; want ErrInvalidPolicy", err)
	}
	for k := range obsScrape(t, reg) {
		if strings.Contains(k, "bad") {
			t.Fatalf("series %s exported for a refused name", k)
		}
	}
}

func TestCollectorDescribesEverySeries(t *testing.T) {
	// The pedantic registry checks that every collected metric was described, with
	// consistent help and labels; here with every kind of series present.
	e := newEngine(t, WithDurationHistogram())
	reg := obsRegistry(t, e)
	ctx := context.Background()
	ExecuteWithPolicy(ctx, e, policy.Policy(policy.CircuitBreaker(1, time.Hour).Named("b")), ok42)
	ExecuteWithPolicy(ctx, e, policy.Policy(policy.RateLimit(10).Named("l")), ok42)
	got := obsScrape(t, reg)
	var names []string
	seen := map[string]bool{}
	for k := range got {
		n, _, _ := strings.Cut(k, "{")
		n = strings.TrimSuffix(strings.TrimSuffix(n, "_count"), "_sum")
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	want := []string{
		"bulwark_abandoned_calls_running", "bulwark_abandoned_calls_total",
		"bulwark_actor_mailbox_depth", "bulwark_actor_restarts_total",
		"bulwark_breaker_calls_total", "bulwark_breaker_failure_rate", "bulwark_breaker_slow_call_rate",
		"bulwark_breaker_slow_calls_total", "bulwark_breaker_state", "bulwark_breaker_trips_total",
		"bulwark_circuit_breaker_trips_total", "bulwark_dropped_events_total",
		"bulwark_limiter_admitted_total", "bulwark_limiter_rejected_total",
		"bulwark_limiter_tokens", "bulwark_limiter_waiting",
		"bulwark_operation_duration_seconds", "bulwark_operations_total",
		"bulwark_panics_total", "bulwark_rate_limit_hits_total",
		"bulwark_retry_attempts_total", "bulwark_timeouts_total",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("metric names:\n got %v\nwant %v", names, want)
	}
	obsLint(t, e)
}

// obsNext returns the event waiting in ch, failing if there is none.
func obsNext(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	default:
		t.Fatal("no event waiting")
		return Event{}
	}
}

func TestSubscribeReceivesBreakerTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events, cancel := e.Subscribe(1)
		defer cancel()
		ctx := context.Background()
		p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
		check := func(ev Event, from, to messages.BreakerState, at time.Time) {
			t.Helper()
			if ev.Kind != BreakerStateChanged || ev.Name != "x" || ev.From != from || ev.To != to {
				t.Fatalf("event = %+v; want breaker_state_changed x %v → %v", ev, from, to)
			}
			if !ev.At.Equal(at) {
				t.Fatalf("event %v → %v at %v; want %v", from, to, ev.At, at)
			}
		}

		t0 := time.Now()
		for range 2 {
			ExecuteWithPolicy(ctx, e, p, failing)
		}
		// The trip is published before the failing call that caused it returns.
		check(obsNext(t, events), messages.Closed, messages.Open, t0)

		time.Sleep(time.Hour)
		synctest.Wait()
		check(obsNext(t, events), messages.Open, messages.HalfOpen, t0.Add(time.Hour))

		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatalf("probe: %v", err)
		}
		check(obsNext(t, events), messages.HalfOpen, messages.Closed, t0.Add(time.Hour))

		select {
		case ev := <-events:
			t.Fatalf("unexpected event %+v", ev)
		default:
		}
		if d := e.Metrics().DroppedEvents; d != 0 {
			t.Fatalf("DroppedEvents = %d with a subscriber that kept up; want 0", d)
		}
	})
}

func TestSubscribeReportsLimiterSaturation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events, cancel := e.Subscribe(4)
		defer cancel()
		ctx := context.Background()
		p := policy.Policy(policy.RateLimit(1).WithMaxWait(10 * time.Second).Named("w"))
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Errorf("queued call: %v", err)
			}
		})
		synctest.Wait() // the second call waits in the limiter's queue
		ev := obsNext(t, events)
		if ev.Kind != LimiterSaturated || ev.Name != "w" {
			t.Fatalf("event = %+v; want limiter_saturated w", ev)
		}
		time.Sleep(time.Second)
		wg.Wait()
	})
}

func TestSlowSubscriberDoesNotStallExecute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.WarnLevel)
		e := newEngine(t, WithLogger(zap.New(core)))
		slow, cancelSlow := e.Subscribe(1) // never read until the end
		defer cancelSlow()
		fast, cancelFast := e.Subscribe(1)
		var got []Event
		var wg sync.WaitGroup
		wg.Go(func() {
			for ev := range fast {
				got = append(got, ev)
			}
		})

		ctx := context.Background()
		p := policy.Policy(policy.CircuitBreaker(1, time.Second).Named("flappy"))
		const cycles = 20
		for i := range cycles {
			// A call blocked on a subscriber would either deadlock the bubble or let the
			// fake clock move while it waits: neither may happen.
			start := time.Now()
			if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
				t.Fatalf("cycle %d: failing call: %v", i, err)
			}
			if d := time.Since(start); d != 0 {
				t.Fatalf("cycle %d: the failing call took %v of bubble time; want 0", i, d)
			}
			synctest.Wait() // the fast subscriber takes the trip event
			time.Sleep(time.Second)
			synctest.Wait() // half-open, on the breaker's timer
			start = time.Now()
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatalf("cycle %d: probe: %v", i, err)
			}
			if d := time.Since(start); d != 0 {
				t.Fatalf("cycle %d: the probe took %v of bubble time; want 0", i, d)
			}
			synctest.Wait()
		}

		const published = 3 * cycles // closed → open → half_open → closed, per cycle
		m := e.Metrics()
		if m.DroppedEvents != published-1 {
			t.Fatalf("DroppedEvents = %d; want %d (the slow subscriber's buffer holds 1)", m.DroppedEvents, published-1)
		}
		if len(slow) != 1 {
			t.Fatalf("slow subscriber holds %d events; want 1", len(slow))
		}
		if first := <-slow; first.From != messages.Closed || first.To != messages.Open {
			t.Fatalf("slow subscriber kept %+v; want the first event, closed → open", first)
		}
		cancelFast()
		wg.Wait()
		if len(got) != published {
			t.Fatalf("fast subscriber got %d events; want %d", len(got), published)
		}
		if v := obsScrape(t, obsRegistry(t, e))["bulwark_dropped_events_total"]; v != float64(published-1) {
			t.Fatalf("bulwark_dropped_events_total = %v; want %d", v, published-1)
		}
		if n := logs.FilterMessageSnippet("events are dropped").Len(); n != 1 {
			t.Fatalf("drop warning logged %d times; want once", n)
		}
	})
}

func TestSubscribeCancelAndShutdownCloseTheChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		a, cancelA := e.Subscribe(1)
		b, _ := e.Subscribe(1)
		cancelA()
		if _, ok := <-a; ok {
			t.Fatal("cancelled subscription's channel still open")
		}
		cancelA() // a second cancel is harmless
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-b; ok {
			t.Fatal("channel still open after Shutdown")
		}
		c, cancelC := e.Subscribe(1)
		if _, ok := <-c; ok {
			t.Fatal("Subscribe after Shutdown returned an open channel")
		}
		cancelC()
	})
}

// BenchmarkBreakerTripEvents measures calls that each move a breaker (a failure opens
// it; the next call finds the recovery timeout over, probes and fails, reopening it),
// with no subscriber and with one whose buffer is always full: a slow subscriber must
// not make the call path slower.
func BenchmarkBreakerTripEvents(b *testing.B) {
	for _, bc := range []struct {
		name string
		subs bool
	}{{"no_subscriber", false}, {"full_subscriber", true}} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := New()
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			if bc.subs {
				_, cancel := e.Subscribe(1)
				defer cancel()
			}
			ctx := context.Background()
			p := policy.Policy(policy.CircuitBreaker(1, time.Nanosecond).Named("bench"))
			b.ReportAllocs()
			for b.Loop() {
				ExecuteWithPolicy(ctx, e, p, failing)
			}
			b.ReportMetric(float64(e.Metrics().CircuitBreakerTrips)/float64(b.N), "trips/op")
		})
	}
}

// TestEventsCarryOnlyTheirOwnFields: a limiter event has no breaker states to show —
// printed or logged it said "from: closed, to: closed" — while a breaker event shows its
// transition.
func TestEventsCarryOnlyTheirOwnFields(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	tests := []struct {
		ev     Event
		str    string
		fields map[string]any
	}{
		{Event{Kind: LimiterSaturated, Name: "api", At: at}, `limiter_saturated "api"`,
			map[string]any{"kind": "limiter_saturated", "name": "api", "at": at}},
		{Event{Kind: LimiterRecovered, Name: "api", At: at}, `limiter_recovered "api"`,
			map[string]any{"kind": "limiter_recovered", "name": "api", "at": at}},
		{Event{Kind: BreakerStateChanged, Name: "db", From: messages.Closed, To: messages.Open, At: at}, `breaker_state_changed "db": closed -> open`,
			map[string]any{"kind": "breaker_state_changed", "name": "db", "from": "closed", "to": "open", "at": at}},
		{Event{Kind: BreakerStateChanged, Name: "db", From: messages.Closed, To: messages.Open, At: at, Reason: "failure_rate", Calls: 4, Failures: 2},
			`breaker_state_changed "db": closed -> open (failure_rate)`,
			map[string]any{"kind": "breaker_state_changed", "name": "db", "from": "closed", "to": "open", "at": at,
				"reason": "failure_rate", "calls": uint64(4), "failures": uint64(2), "slow_calls": uint64(0)}},
		{Event{Kind: BreakerThresholdExceeded, Name: "db", From: messages.MetricsOnly, To: messages.MetricsOnly, At: at, Reason: "failure_rate", Calls: 10, Failures: 10},
			`breaker_threshold_exceeded "db": metrics_only -> metrics_only (failure_rate)`,
			map[string]any{"kind": "breaker_threshold_exceeded", "name": "db", "from": "metrics_only", "to": "metrics_only", "at": at,
				"reason": "failure_rate", "calls": uint64(10), "failures": uint64(10), "slow_calls": uint64(0)}},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf("%v", tt.ev); got != tt.str {
			t.Errorf("%%v = %q; want %q", got, tt.str)
		}
		logs.TakeAll()
		log.Info("event", zap.Any("event", tt.ev))
		got := logs.AllUntimed()[0].ContextMap()["event"]
		if !reflect.DeepEqual(got, tt.fields) {
			t.Errorf("logged %v; want %v", got, tt.fields)
		}
	}
}

package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"go.uber.org/zap/zapcore"
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
			// The supervisor answers the call that created "z" from inside its Receive;
			// its mailbox counts the message handled only once Receive returns.
			synctest.Wait()
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
	ExecuteWithPolicy(ctx, e, policy.Policy(policy.Retry(2).WithBudget("bg")), ok42)
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
		"bulwark_budget_balance", "bulwark_budget_deposits_total", "bulwark_budget_refused_total",
		"bulwark_budget_withdrawals_total",
		"bulwark_circuit_breaker_trips_total", "bulwark_concurrency_limit_hits_total", "bulwark_dropped_events_total",
		"bulwark_hedge_wins_total", "bulwark_hedges_started_total",
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

// obsFailTwice returns a function that fails twice, then succeeds.
func obsFailTwice() func(context.Context) (int, error) {
	n := 0
	return func(context.Context) (int, error) {
		if n++; n <= 2 {
			return 0, errTemporary
		}
		return n, nil
	}
}

// obsObserved builds an engine that logs into an observer at level.
func obsObserved(t *testing.T, level zapcore.Level) (*Engine, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(level)
	return newEngine(t, WithLogger(zap.New(core))), logs
}

// obsDiscardLogger is a production-style logger at Info that writes JSON to io.Discard.
func obsDiscardLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
}

func TestLogsRetrySequence(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	op := &funcOp{
		id:     "charge",
		policy: policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 2 * time.Millisecond}),
		fn:     obsFailTwice(),
	}
	if _, err := Execute(context.Background(), e, policy.Operation[int](op)); err != nil {
		t.Fatal(err)
	}

	applied := logs.FilterMessage("applying policy").FilterField(zap.String("op", "charge")).AllUntimed()
	if len(applied) != 1 || applied[0].Level != zap.DebugLevel {
		t.Fatalf("applying policy entries = %v; want one at Debug", applied)
	}
	if got := applied[0].ContextMap()["policy"]; got != op.policy.String() {
		t.Errorf("applying policy: policy = %v; want %q", got, op.policy.String())
	}

	retries := logs.FilterMessage("retrying").AllUntimed()
	if len(retries) != 2 {
		t.Fatalf("retrying entries = %d; want 2", len(retries))
	}
	for i, entry := range retries {
		f := entry.ContextMap()
		if entry.Level != zap.DebugLevel {
			t.Errorf("retry %d at %v; want Debug", i, entry.Level)
		}
		want := map[string]any{
			"op":           "charge",
			"attempt":      int64(i + 2),
			"max_attempts": int64(3),
			"delay":        2 * time.Millisecond,
			"error":        errTemporary.Error(),
		}
		for k, v := range want {
			if f[k] != v {
				t.Errorf("retry %d: %s = %v (%T); want %v", i, k, f[k], f[k], v)
			}
		}
	}
	if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n != 0 {
		t.Errorf("a retry sequence that succeeded logged %d Warn entries", n)
	}
}

func TestLogsBreakerTrip(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	ctx := context.Background()
	p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
	for range 2 {
		ExecuteWithPolicy(ctx, e, p, failing)
	}
	trips := logs.FilterMessage("breaker state change").FilterField(zap.String("breaker", "x")).AllUntimed()
	if len(trips) != 1 {
		t.Fatalf("state change entries = %v; want one", trips)
	}
	f := trips[0].ContextMap()
	if trips[0].Level != zap.InfoLevel || f["from"] != "closed" || f["to"] != "open" {
		t.Fatalf("state change = %v %v; want Info closed → open", trips[0].Level, f)
	}

	failures := logs.FilterMessage("operation failed").AllUntimed()
	if len(failures) != 2 {
		t.Fatalf("operation failed entries = %d; want 2", len(failures))
	}
	for _, entry := range failures {
		f := entry.ContextMap()
		if entry.Level != zap.WarnLevel || f["policy"] != p.String() || f["attempts"] != int64(1) || f["error"] != errTemporary.Error() {
			t.Errorf("failure entry = %v %v; want Warn with policy, attempts and error", entry.Level, f)
		}
	}

	if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("third call: %v; want ErrCircuitOpen", err)
	}
	open := logs.FilterMessage("circuit open").FilterField(zap.String("breaker", "x")).AllUntimed()
	if len(open) != 1 || open[0].Level != zap.DebugLevel {
		t.Fatalf("circuit open entries = %v; want one at Debug", open)
	}
	if d, ok := open[0].ContextMap()["retry_after"].(time.Duration); !ok || d <= 0 || d > time.Hour {
		t.Errorf("circuit open: retry_after = %v; want (0, 1h]", open[0].ContextMap()["retry_after"])
	}
}

func TestLogsCriticalFailureAtError(t *testing.T) {
	e, logs := obsObserved(t, zap.InfoLevel)
	ctx := context.Background()
	for _, critical := range []bool{false, true} {
		op := &funcOp{id: "ledger", critical: critical, policy: policy.None(), fn: failing}
		Execute(ctx, e, policy.Operation[int](op))
	}
	failures := logs.FilterMessage("operation failed").FilterField(zap.String("op", "ledger")).AllUntimed()
	if len(failures) != 2 || failures[0].Level != zap.WarnLevel || failures[1].Level != zap.ErrorLevel {
		t.Fatalf("failures = %v; want Warn for the ordinary one, Error for the critical one", failures)
	}
	if failures[1].ContextMap()["critical"] != true {
		t.Errorf("critical failure without critical=true: %v", failures[1].ContextMap())
	}
}

func TestLogsPanicWithStack(t *testing.T) {
	e, logs := obsObserved(t, zap.InfoLevel)
	ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.None()), func(context.Context) (int, error) {
		panic("kaboom")
	})
	entries := logs.FilterMessage("operation panicked").AllUntimed()
	if len(entries) != 1 || entries[0].Level != zap.ErrorLevel {
		t.Fatalf("panic entries = %v; want one at Error", entries)
	}
	f := entries[0].ContextMap()
	if f["panic"] != "kaboom" {
		t.Errorf("panic = %v; want kaboom", f["panic"])
	}
	if s, _ := f["stack"].(string); len(s) == 0 {
		t.Error("panic logged without a stack")
	}
}

func TestNothingLoggedAtDebugWhenLevelIsInfo(t *testing.T) {
	e, logs := obsObserved(t, zap.InfoLevel)
	ctx := context.Background()
	op := &funcOp{
		id:     "charge",
		policy: policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}),
		fn:     obsFailTwice(),
	}
	if _, err := Execute(ctx, e, policy.Operation[int](op)); err != nil {
		t.Fatal(err)
	}
	p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
	for range 3 {
		ExecuteWithPolicy(ctx, e, p, failing)
	}
	lim := policy.Policy(policy.RateLimit(0.001).Named("y"))
	for range 2 {
		ExecuteWithPolicy(ctx, e, lim, ok42)
	}

	for _, entry := range logs.AllUntimed() {
		if entry.Level < zap.InfoLevel {
			t.Errorf("logged at %v with the level at Info: %q %v", entry.Level, entry.Message, entry.ContextMap())
		}
	}
	for _, msg := range []string{"applying policy", "retrying", "circuit open", "rate limited", "rate limit decision"} {
		if n := logs.FilterMessage(msg).Len(); n != 0 {
			t.Errorf("%q logged %d times at Info", msg, n)
		}
	}
	// The 2 breaker failures; the fast refusals (open breaker, empty limiter) are Debug.
	if n := logs.FilterMessage("operation failed").Len(); n != 2 {
		t.Errorf("operation failed logged %d times; want 2", n)
	}
}

func TestProtoactorLogsGoToTheEngineLogger(t *testing.T) {
	_, logs := obsObserved(t, zap.InfoLevel)
	started := logs.FilterMessage("actor system started").AllUntimed()
	if len(started) != 1 {
		t.Fatalf("protoactor's start line reached the engine's logger %d times; want 1", len(started))
	}
	if started[0].LoggerName != "protoactor" {
		t.Errorf("logger name = %q; want protoactor", started[0].LoggerName)
	}
}

func TestDisabledDebugLoggingAllocatesNothing(t *testing.T) {
	e := newEngine(t, WithLogger(obsDiscardLogger()))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    policy.Policy
	}{
		{"retry", policy.Retry(3)},
		{"breaker", policy.CircuitBreaker(5, time.Minute).Named("bench")},
		{"retry+breaker", policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("bench2"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ExecuteWithPolicy(ctx, e, tc.p, ok42) // create the breaker, compile the plan
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := ExecuteWithPolicy(ctx, e, tc.p, ok42); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per call with an Info logger; want 0", allocs)
			}
		})
	}
}

// BenchmarkDisabledLogger measures the success path with a real logger at Info writing
// to io.Discard: the Debug lines on the path must cost a level check and no allocation.
func BenchmarkDisabledLogger(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    policy.Policy
	}{
		{"retry", policy.Retry(3)},
		{"breaker", policy.CircuitBreaker(5, time.Minute).Named("bench")},
	} {
		for _, lc := range []struct {
			name string
			opt  Option
		}{
			{"nop", WithLogger(zap.NewNop())},
			{"info", WithLogger(obsDiscardLogger())},
		} {
			b.Run(bc.name+"/"+lc.name, func(b *testing.B) {
				e, err := New(lc.opt)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Shutdown(context.Background())
				ctx := context.Background()
				ExecuteWithPolicy(ctx, e, bc.p, ok42)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ExecuteWithPolicy(ctx, e, bc.p, ok42); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestSuccessfulCallsLogNothing: a call that passes straight through — under a Timeout,
// a named breaker, a limiter with tokens, a retry whose first attempt succeeds — logs
// nothing, not even at Debug (it logged "applying policy" on every call with a Timeout).
func TestSuccessfulCallsLogNothing(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	ctx := context.Background()
	for _, p := range []policy.Policy{
		policy.Timeout(time.Minute),
		policy.Combine(policy.Retry(3), policy.Timeout(time.Minute)),
		policy.Combine(policy.Timeout(time.Minute), policy.CircuitBreaker(5, time.Minute).Named("quiet")),
		policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("quiet"), policy.Timeout(time.Minute)),
	} {
		ExecuteWithPolicy(ctx, e, p, ok42) // create the breaker, compile the plan
		logs.TakeAll()
		for range 20 {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatal(err)
			}
		}
		for _, entry := range logs.TakeAll() {
			t.Errorf("%v: a successful call logged %v %q %v", p, entry.Level, entry.Message, entry.ContextMap())
		}
	}
}

// TestPanicIsLoggedOnce: a panic is one log line, "operation panicked" at Error with the
// stack and the policy, not that and an "operation failed" besides.
func TestPanicIsLoggedOnce(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	boom := func(context.Context) (int, error) { panic("boom") }
	for _, p := range []policy.Policy{policy.None(), policy.Retry(3), policy.Timeout(time.Minute),
		policy.Combine(policy.Retry(2), policy.Timeout(time.Minute))} {
		logs.TakeAll()
		Execute(context.Background(), e, policy.Operation[int](&funcOp{id: "boom", policy: p, fn: boom}))
		entries := logs.FilterField(zap.String("op", "boom")).AllUntimed()
		if len(entries) != 1 || entries[0].Message != "operation panicked" || entries[0].Level != zap.ErrorLevel {
			t.Errorf("%v: logged %d lines for one panic: %v; want one \"operation panicked\" at Error", p, len(entries), entries)
			continue
		}
		if f := entries[0].ContextMap(); f["policy"] != p.String() || f["panic"] != "boom" || f["stack"] == "" {
			t.Errorf("%v: panic line %v; want the policy, the panic and the stack", p, f)
		}
	}
}

// TestCallersOwnFailuresLogAtDebug: a Permanent error and the caller's cancellation are
// the caller's own, not failures of the engine or the dependency: "operation failed" at
// Debug, even for a critical operation, while an ordinary failure stays at Warn.
func TestCallersOwnFailuresLogAtDebug(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		id       string
		ctx      context.Context
		critical bool
		fn       func(context.Context) (int, error)
		want     zapcore.Level
	}{
		{"ordinary", context.Background(), false, failing, zap.WarnLevel},
		{"permanent", context.Background(), false, func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) }, zap.DebugLevel},
		{"permanent-critical", context.Background(), true, func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) }, zap.DebugLevel},
		{"cancelled", cancelled, false, ok42, zap.DebugLevel},
		{"cancelled-critical", cancelled, true, ok42, zap.DebugLevel},
	}
	for _, tt := range tests {
		op := &funcOp{id: tt.id, critical: tt.critical, policy: policy.Retry(3), fn: tt.fn}
		if _, err := Execute(tt.ctx, e, policy.Operation[int](op)); err == nil {
			t.Fatalf("%s: no error", tt.id)
		}
		entries := logs.FilterMessage("operation failed").FilterField(zap.String("op", tt.id)).AllUntimed()
		if len(entries) != 1 || entries[0].Level != tt.want {
			t.Errorf("%s: %v; want one \"operation failed\" at %v", tt.id, entries, tt.want)
		}
	}
}

// TestWithFailureLogLevelSetsTheLevelOfOrdinaryFailures: a service chooses the level of
// "operation failed"; critical failures stay at Error and the caller's own at Debug.
func TestWithFailureLogLevelSetsTheLevelOfOrdinaryFailures(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e := newEngine(t, WithLogger(zap.New(core)), WithFailureLogLevel(zap.InfoLevel))
	ctx := context.Background()
	Execute(ctx, e, policy.Operation[int](&funcOp{id: "ordinary", policy: policy.None(), fn: failing}))
	Execute(ctx, e, policy.Operation[int](&funcOp{id: "critical", critical: true, policy: policy.None(), fn: failing}))
	Execute(ctx, e, policy.Operation[int](&funcOp{id: "permanent", policy: policy.None(),
		fn: func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) }}))
	for id, want := range map[string]zapcore.Level{"ordinary": zap.InfoLevel, "critical": zap.ErrorLevel, "permanent": zap.DebugLevel} {
		entries := logs.FilterMessage("operation failed").FilterField(zap.String("op", id)).AllUntimed()
		if len(entries) != 1 || entries[0].Level != want {
			t.Errorf("%s: %v; want one \"operation failed\" at %v", id, entries, want)
		}
	}
	for _, bad := range []zapcore.Level{zap.DPanicLevel, zap.PanicLevel, zap.FatalLevel, zapcore.DebugLevel - 1} {
		if _, err := New(WithFailureLogLevel(bad)); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("WithFailureLogLevel(%v): %v; want ErrInvalidPolicy", bad, err)
		}
	}
}

package supervisor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

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
			ExecuteWithPolicy(ctx, e, p, obsFail)
		}
		// The trip is published before the failing call that caused it returns.
		check(obsNext(t, events), messages.Closed, messages.Open, t0)

		time.Sleep(time.Hour)
		synctest.Wait()
		check(obsNext(t, events), messages.Open, messages.HalfOpen, t0.Add(time.Hour))

		if _, err := ExecuteWithPolicy(ctx, e, p, obsOK); err != nil {
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
		if _, err := ExecuteWithPolicy(ctx, e, p, obsOK); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := ExecuteWithPolicy(ctx, e, p, obsOK); err != nil {
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
			if _, err := ExecuteWithPolicy(ctx, e, p, obsFail); !errors.Is(err, errObsFailure) {
				t.Fatalf("cycle %d: failing call: %v", i, err)
			}
			if d := time.Since(start); d != 0 {
				t.Fatalf("cycle %d: the failing call took %v of bubble time; want 0", i, d)
			}
			synctest.Wait() // the fast subscriber takes the trip event
			time.Sleep(time.Second)
			synctest.Wait() // half-open, on the breaker's timer
			start = time.Now()
			if _, err := ExecuteWithPolicy(ctx, e, p, obsOK); err != nil {
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
		e, err := New()
		if err != nil {
			t.Fatal(err)
		}
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
				ExecuteWithPolicy(ctx, e, p, obsFail)
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

package peers

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/bench"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/fallback"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

var errBoom = errors.New("peers: boom")

// ok reports whether a call returned Work's result.
func ok(v int, err error) bool { return err == nil && v == bench.Answer }

// The failsafe-go policies of notes/peers.md. Each call builds a fresh one, so cases do
// not share state.
func fsRetry() failsafe.Policy[int] {
	return retrypolicy.NewBuilder[int]().WithMaxAttempts(bench.RetryAttempts).Build()
}

func fsBreaker() failsafe.Policy[int] {
	return circuitbreaker.NewBuilder[int]().
		WithFailureThreshold(bench.BreakerFailures).
		WithDelay(bench.BreakerRecovery).
		Build()
}

func fsLimiter() failsafe.Policy[int] {
	return ratelimiter.NewBursty[int](bench.LimiterRate, time.Second)
}

func fsTimeout() failsafe.Policy[int] { return timeout.New[int](bench.TimeoutLimit) }

// BenchmarkFailsafe runs the success-path cases (the windowed breakers of
// breaker_test.go included) and the two rejection paths on failsafe-go, each with one
// executor shared by every goroutine.
func BenchmarkFailsafe(b *testing.B) {
	cases := []struct {
		name     string
		policies func() []failsafe.Policy[int]
	}{
		{bench.CaseNone, func() []failsafe.Policy[int] { return nil }},
		{bench.CaseRetry, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsRetry()} }},
		{bench.CaseBreaker, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsBreaker()} }},
		{bench.CaseRateLimit, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsLimiter()} }},
		{bench.CaseTimeout, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsTimeout()} }},
		{bench.CaseRetryBreakerTimeout, func() []failsafe.Policy[int] {
			return []failsafe.Policy[int]{fsRetry(), fsBreaker(), fsTimeout()}
		}},
		{bench.CaseRetryBreakerRateLimit, func() []failsafe.Policy[int] {
			return []failsafe.Policy[int]{fsRetry(), fsBreaker(), fsLimiter()}
		}},
		{bench.CaseRetryBreakerRateLimitTmo, func() []failsafe.Policy[int] {
			return []failsafe.Policy[int]{fsRetry(), fsBreaker(), fsTimeout(), fsLimiter()}
		}},
		// failsafe-go has one timeout; it is measured again under the names of bulwark's
		// cooperative cases, so each pairs with it.
		{bench.CaseTimeoutCoop, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsTimeout()} }},
		{bench.CaseRetryBreakerTimeoutCoop, func() []failsafe.Policy[int] {
			return []failsafe.Policy[int]{fsRetry(), fsBreaker(), fsTimeout()}
		}},
		{bench.CaseBulkhead, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsBulkhead()} }},
		{bench.CaseAdaptive, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsAdaptive()} }},
		{bench.CaseFallback, func() []failsafe.Policy[int] {
			return []failsafe.Policy[int]{fallback.NewWithResult(0), fsRetry()}
		}},
	}
	for _, c := range append(cases, fsWindowCases...) {
		b.Run(c.name, func(b *testing.B) {
			ex := failsafe.With(c.policies()...)
			if !ok(ex.Get(bench.WorkNoCtx)) {
				b.Fatal("first call failed")
			}
			bench.RunLevels(b, func() bool { return ok(ex.Get(bench.WorkNoCtx)) })
		})
	}

	b.Run(bench.CaseBreakerOpen, func(b *testing.B) {
		cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(1).WithDelay(bench.OpenRecovery).Build()
		ex := failsafe.With[int](cb)
		if _, err := ex.Get(func() (int, error) { return 0, errBoom }); !errors.Is(err, errBoom) {
			b.Fatalf("tripping call: got %v, want %v", err, errBoom)
		}
		if _, err := ex.Get(bench.WorkNoCtx); !errors.Is(err, circuitbreaker.ErrOpen) {
			b.Fatalf("after the trip: got %v, want %v", err, circuitbreaker.ErrOpen)
		}
		bench.RunLevels(b, func() bool {
			_, err := ex.Get(bench.WorkNoCtx)
			return err != nil
		})
	})

	b.Run(bench.CaseRateLimited, func(b *testing.B) {
		rl := ratelimiter.NewBursty[int](1, time.Second)
		ex := failsafe.With[int](rl)
		rl.TryAcquirePermit()
		if _, err := ex.Get(bench.WorkNoCtx); !errors.Is(err, ratelimiter.ErrExceeded) {
			b.Fatalf("after draining: got %v, want %v", err, ratelimiter.ErrExceeded)
		}
		bench.RunLevels(b, func() bool {
			// A permit comes back every second: a rare admission is expected.
			_, _ = ex.Get(bench.WorkNoCtx)
			return true
		})
	})
}

// BenchmarkGobreaker runs CircuitBreaker.Execute, closed (consecutive and, in
// breaker_test.go, rolling window) and open.
func BenchmarkGobreaker(b *testing.B) {
	b.Run(bench.CaseBreaker, func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
			Name:    "bench",
			Timeout: bench.BreakerRecovery,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= bench.BreakerFailures
			},
		})
		bench.RunLevels(b, func() bool { return ok(cb.Execute(bench.WorkNoCtx)) })
	})

	gbWindowCases(b)

	b.Run(bench.CaseBreakerOpen, func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
			Name:        "bench-open",
			Timeout:     bench.OpenRecovery,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
		})
		if _, err := cb.Execute(func() (int, error) { return 0, errBoom }); !errors.Is(err, errBoom) {
			b.Fatalf("tripping call: got %v, want %v", err, errBoom)
		}
		if _, err := cb.Execute(bench.WorkNoCtx); !errors.Is(err, gobreaker.ErrOpenState) {
			b.Fatalf("after the trip: got %v, want %v", err, gobreaker.ErrOpenState)
		}
		bench.RunLevels(b, func() bool {
			_, err := cb.Execute(bench.WorkNoCtx)
			return err != nil
		})
	})
}

// BenchmarkXRate runs Limiter.Allow followed by the call: on a limiter that never runs
// dry, and on a drained limiter of one token per second.
func BenchmarkXRate(b *testing.B) {
	b.Run(bench.CaseRateLimit, func(b *testing.B) {
		l := rate.NewLimiter(bench.LimiterRate, bench.LimiterBurst)
		bench.RunLevels(b, func() bool { return l.Allow() && ok(bench.WorkNoCtx()) })
	})

	b.Run(bench.CaseRateLimited, func(b *testing.B) {
		l := rate.NewLimiter(1, 1)
		if !l.Allow() || l.Allow() {
			b.Fatal("the limiter did not drain")
		}
		bench.RunLevels(b, func() bool {
			// A token comes back every second: a rare admission is expected.
			if l.Allow() {
				return ok(bench.WorkNoCtx())
			}
			return true
		})
	})
}

// BenchmarkProtoactor is the bare protoactor round trip bulwark's message API is
// compared with: each goroutine Sends a preallocated message that carries its own
// buffered reply channel to one shared actor, which runs Work and answers on the
// channel.
func BenchmarkProtoactor(b *testing.B) {
	b.Run(bench.CaseMessage, func(b *testing.B) {
		sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(slog.DiscardHandler)
		}))
		b.Cleanup(sys.Shutdown)
		pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return worker{} }))
		bench.RunLevelsPer(b, func() func() bool {
			m := &call{reply: make(chan int, 1)}
			return func() bool {
				sys.Root.Send(pid, m)
				return <-m.reply == bench.Answer
			}
		})
	})
}

// call asks worker to run Work; the answer goes to reply.
type call struct{ reply chan int }

// worker runs Work for every *call and answers on its channel.
type worker struct{}

func (worker) Receive(c actor.Context) {
	if m, ok := c.Message().(*call); ok {
		v, err := bench.Work(context.Background())
		if err != nil {
			v = -1
		}
		m.reply <- v
	}
}

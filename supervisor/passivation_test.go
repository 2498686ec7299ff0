package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// TestPassivationDuringSlowCallsKeepsTheirFailures is a regression test: calls admitted
// from the published view never touched the actor, so a breaker whose calls outlasted
// the idle timeout was passivated mid-call and each failure report reached a stopped
// actor. Two slow failures with threshold 2 left the breaker closed. A call in flight
// now keeps its breaker alive, so the thresholds stay exact for a sequential caller.
func TestPassivationDuringSlowCallsKeepsTheirFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(2, time.Hour).Named("slow")
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		slowFailure := func(context.Context) (int, error) {
			time.Sleep(5 * idle)
			return 0, errTemporary
		}
		for i := range 2 {
			if _, err := ExecuteWithPolicy(ctx, e, p, slowFailure); !errors.Is(err, errTemporary) {
				t.Fatalf("slow call %d: err %v; want its own failure", i+1, err)
			}
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("after two slow failures with threshold 2: err %v; want ErrCircuitOpen", err)
		}
	})
}

// TestIdleBreakerIsStillPassivatedAfterSlowCall checks the other side: once the slow
// calls are over and the breaker is idle, it goes.
func TestIdleBreakerIsStillPassivatedAfterSlowCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		var p policy.Policy = policy.CircuitBreaker(2, time.Hour).Named("slow")
		slow := func(context.Context) (int, error) {
			time.Sleep(5 * idle)
			return 1, nil
		}
		if _, err := ExecuteWithPolicy(context.Background(), e, p, slow); err != nil {
			t.Fatal(err)
		}
		if _, ok := liveBreakers(e)["slow"]; !ok {
			t.Fatal("the breaker was passivated while its call ran")
		}
		time.Sleep(5 * idle)
		synctest.Wait()
		if _, ok := liveBreakers(e)["slow"]; ok {
			t.Fatal("the breaker is still live long after its last call ended")
		}
	})
}

// TestRegisterRacingPassivationConfiguresAndKeepsTheName is a regression test: a
// RegisterCircuitBreaker whose Reconfigure landed behind a Passivate blocked for 10 s,
// returned ErrCancelled and the registration was lost, because the breaker passivated
// itself without looking at Registered(). A registered name is never passivated.
func TestRegisterRacingPassivationConfiguresAndKeepsTheName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(5, time.Hour).Named("raced")
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		l := breakerOf(e, "raced")
		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		time.Sleep(2 * idle) // the idle scan queues a Passivate behind the block
		synctest.Wait()

		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- e.RegisterCircuitBreaker("raced", policy.CircuitBreaker(1, time.Hour)) }()
		synctest.Wait() // the Reconfigure is queued behind the Passivate
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("RegisterCircuitBreaker after %v: %v", time.Since(start), err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("RegisterCircuitBreaker took %v; want no wait", d)
		}

		time.Sleep(5 * idle)
		synctest.Wait()
		if _, ok := liveBreakers(e)["raced"]; !ok {
			t.Fatal("the registered breaker was passivated")
		}
		ExecuteWithPolicy(ctx, e, p, failing)
		if s := e.Metrics().Breakers["raced"].State; s != messages.Open {
			t.Fatalf("state %v after one failure; want open (registered with threshold 1)", s)
		}
	})
}

// TestPassivatedBreakerKeepsItsFirstConfiguration is a regression test: passivation lost
// "the first policy configures the name": the recreated breaker took the thresholds of
// the next policy that named it. The configuration of a name survives passivation.
func TestPassivatedBreakerKeepsItsFirstConfiguration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		ctx := context.Background()
		var first policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("n")
		var next policy.Policy = policy.CircuitBreaker(5, time.Hour).Named("n")
		var limFirst policy.Policy = policy.RateLimit(0.01).WithBurst(1).Named("n")
		var limNext policy.Policy = policy.RateLimit(1000).WithBurst(1000).Named("n")
		for _, p := range []policy.Policy{first, limFirst} {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * idle)
		synctest.Wait()
		if n := len(liveBreakers(e)) + len(liveLimiters(e)); n != 0 {
			t.Fatalf("%d actors live; want both passivated", n)
		}

		ExecuteWithPolicy(ctx, e, next, failing)
		if s := e.Metrics().Breakers["n"].State; s != messages.Open {
			t.Fatalf("recreated breaker: state %v after one failure; want open (first configured with threshold 1)", s)
		}
		if _, err := ExecuteWithPolicy(ctx, e, limNext, ok42); err != nil {
			t.Fatal(err)
		}
		if _, err := ExecuteWithPolicy(ctx, e, limNext, ok42); !errors.Is(err, policy.ErrRateLimited) {
			t.Fatalf("recreated limiter: second call err %v; want ErrRateLimited (first configured with burst 1)", err)
		}
	})
}

// TestIdleScanTimerStopsAtShutdown is a regression test: the supervisor's idle-scan
// timer fired after Shutdown, as a dead letter in the caller's actor system.
func TestIdleScanTimerStopsAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewActorSystem(actor.WithLoggerFactory(quietLogger))
		var dead atomic.Int32
		sub := sys.EventStream.Subscribe(func(ev any) {
			if _, ok := ev.(*actor.DeadLetterEvent); ok {
				dead.Add(1)
			}
		})
		e, err := New(WithActorSystem(sys), WithIdleTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		sys.EventStream.Unsubscribe(sub)
		sys.Shutdown()
		if n := dead.Load(); n != 0 {
			t.Fatalf("%d dead letters in the caller's system after Shutdown; want none", n)
		}
	})
}

// quietLogger keeps a test's own actor system from logging.
func quietLogger(*actor.ActorSystem) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestPassivationRacingCallsLosesNothing runs callers, slow failures and registrations
// against an idle timeout so short that Passivate is always on its way, on real time:
// whatever the interleaving, no call is refused, every registration lands, and a
// sequential caller's failures open its breaker exactly at the threshold.
// (On the code before the fixes, the sequential breakers stayed closed.)
func TestPassivationRacingCallsLosesNothing(t *testing.T) {
	e := newEngine(t, WithIdleTimeout(time.Millisecond))
	ctx := context.Background()
	const threshold = 3
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 6 {
		wg.Go(func() {
			for i := range 150 {
				name := fmt.Sprint("race-", (g+i)%4)
				var p policy.Policy = policy.CircuitBreaker(1000, time.Hour).Named(name)
				if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
				if i%10 == 0 {
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			name := fmt.Sprint("race-", i%4)
			if err := e.RegisterRateLimiter(name, policy.RateLimit(1e6)); err != nil {
				errs <- fmt.Errorf("register limiter %s: %w", name, err)
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() {
		// Each name is created by a call, then registered while its idle breaker may be
		// passivating: the registration configures it either way.
		for i := range 40 {
			name := fmt.Sprint("reg-", i)
			var p policy.Policy = policy.CircuitBreaker(5, time.Hour).Named(name)
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
			time.Sleep(time.Duration(i%4) * time.Millisecond)
			if err := e.RegisterCircuitBreaker(name, policy.CircuitBreaker(1, time.Hour)); err != nil {
				errs <- fmt.Errorf("register %s: %w", name, err)
			}
			ExecuteWithPolicy(ctx, e, p, failing)
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
				errs <- fmt.Errorf("%s registered with threshold 1, after a failure: err %v; want ErrCircuitOpen", name, err)
			}
		}
	})
	for k := range 3 {
		wg.Go(func() {
			var p policy.Policy = policy.CircuitBreaker(threshold, time.Hour).Named(fmt.Sprint("seq-", k))
			for i := range threshold {
				_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
					time.Sleep(3 * time.Millisecond) // outlasts the idle timeout
					return 0, errTemporary
				})
				if !errors.Is(err, errTemporary) {
					errs <- fmt.Errorf("seq-%d failure %d: %w", k, i+1, err)
				}
			}
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
				errs <- fmt.Errorf("seq-%d after %d failures: err %v; want ErrCircuitOpen", k, threshold, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

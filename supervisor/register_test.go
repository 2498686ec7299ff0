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

// TestPassivatedLimiterIsLookedUpAgainByACachedPlan is a regression test: a stopping
// limiter published its final view without Retired, so a policy whose compiled plan had
// cached the link kept calling the stopped actor and failed with "keeps stopping".
func TestPassivatedLimiterIsLookedUpAgainByACachedPlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		var p policy.Policy = policy.Combine(policy.CircuitBreaker(1, time.Hour).Named("p"), policy.RateLimit(1000).Named("p"))
		for round := range 3 {
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			time.Sleep(5 * idle)
			synctest.Wait()
			if n := len(liveLimiters(e)); n != 0 {
				t.Fatalf("round %d: %d limiters live; want the idle one passivated", round, n)
			}
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

// growthKeys is how many distinct operation IDs TestPerKeyBreakersArePassivatedWhenIdle
// creates a breaker for: 100,000 in soak mode (about 15s under -race), 20,000 in CI
// and 3,000 with -short (the bubble's time is fake but its CPU is real).
func growthKeys(t *testing.T) int {
	t.Helper()
	switch {
	case relSoak(t) > 0:
		return 100_000
	case testing.Short():
		return 3000
	}
	return 20_000
}

// growthHeapBound is how much the live heap may keep after every idle breaker was
// passivated: a fixed allowance (protoactor's process registry is 32,768 small maps,
// each allocated on first use and never freed: about 9 MiB once all are touched), a
// few KiB for each breaker still live, and for each key that came and went only the
// remembered configuration of its name (one map entry, about 50-70 bytes: passivation
// must not lose the first policy's thresholds).
func growthHeapBound(live, keys int) int64 { return 16<<20 + int64(live)*4<<10 + int64(keys)*128 }

// TestPerKeyBreakersArePassivatedWhenIdle creates a breaker for each of many distinct
// operation IDs (Execute with an unnamed breaker), in batches, with WithIdleTimeout, and
// lets each batch go idle. Idle breakers that were not registered are passivated: the
// live actors end up being only the registered one and those holding a failure, and the
// heap keeps of the others only their names' configurations. Nothing a caller could
// observe is lost: a breaker holding a failure keeps it (two more failures open it, not
// three), and a passivated one is recreated on demand, configured as before, and
// behaves as new.
func TestPerKeyBreakersArePassivatedWhenIdle(t *testing.T) {
	keys := growthKeys(t)
	const batch, idle = 1000, time.Minute
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(idle))
		ctx := context.Background()
		if err := e.RegisterCircuitBreaker("g-pinned", policy.CircuitBreaker(3, time.Hour)); err != nil {
			t.Fatal(err)
		}
		var p policy.Policy = policy.CircuitBreaker(3, time.Hour)
		key := func(k int) string { return fmt.Sprint("key-", k) }
		holds := func(k int) bool { return k%97 == 0 } // these keep one failure: not idle
		call := func(k int, fn func(context.Context) (int, error)) error {
			_, err := Execute(ctx, e, policy.Operation[int](&funcOp{id: key(k), policy: p, fn: fn}))
			return err
		}
		procs0, heap0 := relProcesses(e), relHeap()

		// How long an idle breaker lives: created now, used once.
		if err := call(-1, ok42); err != nil {
			t.Fatal(err)
		}
		created := time.Now()
		for liveBreakers(e)[key(-1)] != nil {
			time.Sleep(time.Second)
		}
		lived := time.Since(created)
		if lived > 4*idle {
			t.Errorf("an idle breaker was passivated after %v; WithIdleTimeout(%v)", lived, idle)
		}

		var holding, peakLive int
		for b := 0; b < keys; b += batch {
			for k := b; k < min(b+batch, keys); k++ {
				fn := ok42
				if holds(k) {
					fn = failing
					holding++
				}
				if err := call(k, fn); err != nil && !errors.Is(err, errTemporary) {
					t.Fatalf("%s: %v", key(k), err)
				}
			}
			peakLive = max(peakLive, len(liveBreakers(e)))
			time.Sleep(4 * idle)
			synctest.Wait()
		}

		live := liveBreakers(e)
		if len(live) != holding+1 {
			t.Errorf("%d breakers live after the idle period; want %d (the registered one and %d holding a failure)", len(live), holding+1, holding)
		}
		if _, ok := live["g-pinned"]; !ok {
			t.Error("the registered breaker was passivated")
		}
		if n := relProcesses(e); n != procs0+holding {
			t.Errorf("%d processes registered; want %d (the engine's %d and %d breakers holding a failure)", n, procs0+holding, procs0, holding)
		}
		heap1 := relHeap()
		growth := relGrowth(heap0, heap1)
		if growth > growthHeapBound(holding, keys) {
			t.Errorf("heap grew %.1f MiB for %d keys with %d breakers live; bound %.1f MiB", relMiB(growth), keys, holding, relMiB(growthHeapBound(holding, keys)))
		}

		// Nothing a caller could observe was lost.
		for _, k := range []int{0, 97 * (holding - 1)} {
			if s := e.Metrics().Breakers[key(k)]; s.State != messages.Closed || s.Failures != 1 {
				t.Fatalf("%s holding a failure: %+v; want closed with its failure kept", key(k), s)
			}
			call(k, failing)
			call(k, failing)
			if s := e.Metrics().Breakers[key(k)].State; s != messages.Open {
				t.Fatalf("%s: state %v after 1 kept + 2 new failures; want open (threshold 3)", key(k), s)
			}
		}
		for _, k := range []int{1, keys - 1} {
			call(k, failing)
			call(k, failing)
			if s := e.Metrics().Breakers[key(k)]; s.State != messages.Closed || s.Failures != 2 {
				t.Fatalf("%s recreated: %+v after 2 failures; want closed with 2 (a new breaker)", key(k), s)
			}
			call(k, failing)
			if s := e.Metrics().Breakers[key(k)].State; s != messages.Open {
				t.Fatalf("%s recreated: state %v after 3 failures; want open", key(k), s)
			}
		}
		t.Logf("%d keys in batches of %d: peak %d breakers live, %d live after idling (%d holding a failure + 1 registered); an idle breaker lived %v with WithIdleTimeout(%v)",
			keys, batch, peakLive, len(live), holding, lived, idle)
		t.Logf("heap after GC: %.1f MiB before, %.1f MiB after idling (%+.2f MiB, %.0f bytes per key)",
			relMiB(int64(heap0)), relMiB(int64(heap1)), relMiB(growth), float64(growth)/float64(keys))
	})
}

// TestPassivatedNamesLeaveNoPerNameState is a regression test: the supervisor counted
// incarnations per name and never forgot a name, so a stream of distinct operation IDs
// kept one map entry (about 80 bytes) per ID ever seen, even after every actor was
// passivated. Child ids now come from one supervisor-wide sequence.
func TestPassivatedNamesLeaveNoPerNameState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		var p policy.Policy = policy.CircuitBreaker(3, time.Hour)
		for k := range 1000 {
			op := &funcOp{id: fmt.Sprint("gone-", k), policy: p, fn: ok42}
			if _, err := Execute(context.Background(), e, policy.Operation[int](op)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait() // also orders the supervisor's writes before the reads below
		if n := len(liveBreakers(e)); n != 0 {
			t.Fatalf("%d breakers live; want all passivated", n)
		}
		if n := children(e); n != 0 {
			t.Fatalf("the registry keeps %d entries for 1000 names whose actors are all gone; want none", n)
		}
		// What is kept is each name's configuration, all 1000 sharing one copy.
		if names, configs := rememberedBreakers(e); names != 1000 || configs != 1 {
			t.Fatalf("%d names remembered with %d configurations; want 1000 sharing 1", names, configs)
		}
	})
}

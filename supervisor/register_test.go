package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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

// TestReconfigureAnswersWaiterWhoseTokenIsDue queues a caller in a wait-mode limiter and
// holds the actor until the caller's token has come due, with a live RegisterRateLimiter
// queued ahead of the timer's Tick. Reconfiguration hands the due token to the waiter; the
// waiter must be answered then, not left waiting until its context ends.
func TestReconfigureAnswersWaiterWhoseTokenIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(2 * time.Second).Named("r")
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil { // takes the only token
			t.Fatal(err)
		}
		start, done := time.Now(), make(chan error, 1)
		var took time.Duration
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := ExecuteWithPolicy(ctx, e, p, ok42) // queues; its token is due at 1s
			took = time.Since(start)
			done <- err
		}()
		synctest.Wait()
		l := limiterOf(e, "r")
		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		synctest.Wait()
		reg := make(chan error, 1)
		go func() {
			reg <- e.RegisterRateLimiter("r", policy.RateLimit(1).WithBurst(1).WithMaxWait(2*time.Second))
		}()
		synctest.Wait()                     // the Reconfigure is queued behind the block
		time.Sleep(1500 * time.Millisecond) // the waiter comes due; its Tick queues behind the Reconfigure
		close(release)
		if err := <-reg; err != nil {
			t.Fatalf("RegisterRateLimiter: %v", err)
		}
		if err := <-done; err != nil || took != 1500*time.Millisecond {
			t.Fatalf("waiter answered after %v with %v; want admitted at 1.5s, when the actor was released", took, err)
		}
	})
}

// holdCore is a zap core that calls hold on the goroutine that writes an entry whose
// message is msg, and drops every other entry: it stalls an actor at a known point.
type holdCore struct {
	msg  string
	hold func()
}

func (h *holdCore) Enabled(zapcore.Level) bool        { return true }
func (h *holdCore) With([]zapcore.Field) zapcore.Core { return h }
func (h *holdCore) Sync() error                       { return nil }
func (h *holdCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if ent.Message == h.msg {
		return ce.AddCore(ent, h)
	}
	return ce
}
func (h *holdCore) Write(zapcore.Entry, []zapcore.Field) error { h.hold(); return nil }

// TestMetricsCountsALimiterRefusalAlreadyReturned stalls the limiter actor right after it
// decided to refuse a caller (in its decision log) until the test has read Metrics, or
// for a second of the bubble's time. Metrics reflects every call that returned before it
// was called, so a refusal the caller already holds must be in the limiter's Rejected.
func TestMetricsCountsALimiterRefusalAlreadyReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		read := make(chan struct{})
		hold := func() {
			select {
			case <-read:
			case <-time.After(time.Second):
			}
		}
		e := newEngine(t, WithLogger(zap.New(&holdCore{msg: "rate limit decision", hold: hold})))
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(500 * time.Millisecond).Named("m")
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil { // takes the only token
			t.Fatal(err)
		}
		// The next token is 1s away, past MaxWait: the actor refuses.
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		m := e.Metrics()
		close(read)
		if !errors.Is(err, policy.ErrRateLimited) {
			t.Fatalf("second call: %v; want ErrRateLimited", err)
		}
		if got := m.Limiters["m"]; got.Rejected != 1 || got.Allowed != 1 || m.FailedOperations != 1 {
			t.Fatalf("Metrics after the refusal returned: limiter %+v, failed %d; want Rejected 1, Allowed 1, failed 1", got, m.FailedOperations)
		}
	})
}

// TestMetricsCountsABreakerRefusalAlreadyReturned holds a half-open breaker's only probe
// slot and sends calls that the actor refuses: after each refusal returns, Metrics must
// already count it in the breaker's Rejected.
func TestMetricsCountsABreakerRefusalAlreadyReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("b")
		ctx := context.Background()
		ExecuteWithPolicy(ctx, e, p, failing) // opens it
		time.Sleep(time.Second)               // its timer moves it to half-open
		release, probing := make(chan struct{}), make(chan struct{})
		probe := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
				close(probing)
				<-release
				return 1, nil
			})
			probe <- err
		}()
		<-probing
		for i := range 500 {
			_, err := ExecuteWithPolicy(ctx, e, p, ok42)
			got := e.Metrics().Breakers["b"].Rejected
			if !errors.Is(err, policy.ErrCircuitOpen) || got != uint64(i+1) {
				close(release)
				<-probe
				t.Fatalf("call %d beside the probe: %v, then Metrics counts %d rejected; want ErrCircuitOpen counted", i+1, err, got)
			}
		}
		close(release)
		if err := <-probe; err != nil {
			t.Fatalf("probe: %v", err)
		}
	})
}

// TestMaxWaitBoundsAWaiterThatCriticalCallersOvertake queues a caller within MaxWait,
// then keeps critical callers joining the queue ahead of it for a second. MaxWait is the
// longest a call waits: the overtaken caller must be refused when its MaxWait ends, not
// wait until the critical callers stop.
func TestMaxWaitBoundsAWaiterThatCriticalCallersOvertake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		const maxWait = 300 * time.Millisecond
		var p policy.Policy = policy.RateLimit(10).WithBurst(1).WithMaxWait(maxWait).Named("crowded")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil { // takes the only token
			t.Fatal(err)
		}
		type result struct {
			err  error
			took time.Duration
		}
		overtaken := make(chan result, 1)
		go func() {
			start := time.Now()
			_, err := ExecuteWithPolicy(ctx, e, p, ok42) // due in 100ms when it joins
			overtaken <- result{err, time.Since(start)}
		}()
		synctest.Wait()
		var wg sync.WaitGroup
		critical := &funcOp{id: "vip", critical: true, policy: p, fn: ok42}
		for range 20 { // a critical caller every 50ms: each joins ahead of the first caller
			wg.Go(func() { Execute(ctx, e, policy.Operation[int](critical)) })
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		r := <-overtaken
		if !errors.Is(r.err, policy.ErrRateLimited) || r.took != maxWait {
			t.Fatalf("overtaken caller: %v after %v; want ErrRateLimited after MaxWait (%v)", r.err, r.took, maxWait)
		}
	})
}

// TestCancelledWhileCreatingANamedActorReportsTheContextAndTheOperation is a regression
// test: a caller whose context ended while the supervisor created the breaker got an
// error matching context.Canceled even when the context ended by deadline, with the
// breaker's name as the operation.
func TestCancelledWhileCreatingANamedActorReportsTheContextAndTheOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		release := make(chan struct{})
		defer close(release)
		inject(e, supervisorOf(e), &fault.Block{Release: release})
		synctest.Wait()

		for _, p := range []policy.Policy{
			policy.CircuitBreaker(3, time.Hour).Named("payments-breaker"),
			policy.RateLimit(10).Named("payments-breaker"),
		} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			op := &funcOp{id: "charge", policy: p, fn: ok42}
			_, err := Execute(ctx, e, policy.Operation[int](op))
			cancel()
			var pe *policy.Error
			switch {
			case !errors.As(err, &pe):
				t.Fatalf("%v: err %v (%T); want a *policy.Error", p, err, err)
			case !errors.Is(err, policy.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("%v: err %v; want ErrCancelled and context.DeadlineExceeded", p, err)
			case errors.Is(err, context.Canceled):
				t.Fatalf("%v: err %v matches context.Canceled; the context ended by deadline", p, err)
			case pe.Op != "charge":
				t.Fatalf("%v: Op %q; want the operation's ID %q", p, pe.Op, "charge")
			case !strings.Contains(err.Error(), "payments-breaker"):
				t.Fatalf("%v: %q does not name the actor being created", p, err)
			}
		}
	})
}

// TestNamesThatAreNotUTF8AreRefused is a regression test: two breaker names that differ
// only in invalid UTF-8 exported as the same Prometheus series, and the whole scrape
// failed. Names must be valid UTF-8; others are refused with ErrInvalidPolicy, so the
// collector never sees one.
func TestNamesThatAreNotUTF8AreRefused(t *testing.T) {
	e := newEngine(t)
	reg := obsRegistry(t, e)
	ctx := context.Background()
	isInvalid := func(what string, err error) {
		t.Helper()
		var pe *policy.Error
		if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%s: err %v; want ErrInvalidPolicy saying the name is not UTF-8", what, err)
		}
		if errors.As(err, &pe) && strings.ToValidUTF8(pe.Error(), "") != pe.Error() {
			t.Errorf("%s: the error message %q is not UTF-8 itself", what, pe.Error())
		}
	}
	for _, name := range []string{"a\xff", "a\xfe"} {
		isInvalid("breaker "+name, policy.CircuitBreaker(1, time.Hour).Named(name).Validate())
		isInvalid("limiter "+name, policy.RateLimit(1).Named(name).Validate())
		_, err := ExecuteWithPolicy(ctx, e, policy.Policy(policy.CircuitBreaker(1, time.Hour).Named(name)), ok42)
		isInvalid("ExecuteWithPolicy breaker "+name, err)
		_, err = ExecuteWithPolicy(ctx, e, policy.Policy(policy.RateLimit(10).Named(name)), ok42)
		isInvalid("ExecuteWithPolicy limiter "+name, err)
		isInvalid("RegisterCircuitBreaker "+name, e.RegisterCircuitBreaker(name, policy.CircuitBreaker(1, time.Hour)))
		isInvalid("RegisterRateLimiter "+name, e.RegisterRateLimiter(name, policy.RateLimit(1)))
		// An operation ID names unnamed breakers and limiters.
		for _, p := range []policy.Policy{policy.CircuitBreaker(1, time.Hour), policy.Combine(policy.Retry(2), policy.RateLimit(10))} {
			_, err = Execute(ctx, e, policy.Operation[int](&funcOp{id: name, policy: p, fn: ok42}))
			isInvalid("Execute with ID "+name, err)
		}
	}
	// An ID that names nothing may be anything.
	if _, err := Execute(ctx, e, policy.Operation[int](&funcOp{id: "a\xff", policy: policy.Retry(2), fn: ok42})); err != nil {
		t.Fatalf("an invalid UTF-8 ID that names no actor: %v", err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather: %v", err)
	}
	if m := e.Metrics(); m.TotalOperations != 1 || len(m.Breakers)+len(m.Limiters) != 0 {
		t.Fatalf("metrics %+v; want the refused calls not counted and no actor created", m)
	}
}

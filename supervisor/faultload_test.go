package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// TestActorPanicsUnderLoadAreRestartedAnswerEveryCallerAndKeepState injects panics into
// two busy actors (a breaker and a wait-mode limiter under load) and two holding state
// (an open breaker and an emptied limiter) while 64 callers run, in a synctest bubble so
// that deadlines are exact. Every caller must get its answer by its deadline, and the
// answer must be a success or a clear error (the function's own, a rejection, or
// ErrOverloaded when the actor crashed while deciding); every injected panic restarts
// its actor; the open breaker stays open with its original deadline and the emptied
// limiter stays empty.
func TestActorPanicsUnderLoadAreRestartedAnswerEveryCallerAndKeepState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var (
			busyBreaker policy.Policy = policy.CircuitBreaker(3, 50*time.Millisecond).Named("f-breaker")
			busyLimiter policy.Policy = policy.RateLimit(200).WithBurst(5).WithMaxWait(30 * time.Millisecond).Named("f-limiter")
			openBreaker policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("f-open")
			drained     policy.Policy = policy.RateLimit(0.001).WithBurst(2).Named("f-drained")
			both        policy.Policy = policy.Combine(busyBreaker, busyLimiter)
		)
		if _, err := ExecuteWithPolicy(ctx, e, openBreaker, failing); !errors.Is(err, errTemporary) {
			t.Fatalf("tripping f-open: %v", err)
		}
		tripped := time.Now()
		for range 2 {
			if _, err := ExecuteWithPolicy(ctx, e, drained, ok42); err != nil {
				t.Fatalf("emptying f-drained: %v", err)
			}
		}
		ExecuteWithPolicy(ctx, e, both, ok42)
		breakers, limiters := liveBreakers(e), liveLimiters(e)
		targets := []*faultTarget{
			{name: "f-breaker", pid: breakers["f-breaker"].PID(), closed: func() bool { return breakers["f-breaker"].View().State == messages.Closed }},
			{name: "f-limiter", pid: limiters["f-limiter"].PID()},
			{name: "f-open", pid: breakers["f-open"].PID()},
			{name: "f-drained", pid: limiters["f-drained"].PID()},
		}

		const callers, load = 64, 2 * time.Second
		var (
			calls, overloaded atomic.Uint64
			mu                sync.Mutex
			bad               []string
		)
		report := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf(format, args...))
			}
		}
		end := time.Now().Add(load)
		var wg sync.WaitGroup
		for i := range callers {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			wg.Go(func() {
				// Each caller paces itself: in the bubble, time moves only when every
				// goroutine waits, so callers refused at once must not spin.
				for ; time.Now().Before(end); time.Sleep(time.Duration(100+rng.IntN(900)) * time.Microsecond) {
					which := rng.IntN(5)
					p := []policy.Policy{busyBreaker, busyLimiter, both, openBreaker, drained}[which]
					deadline := time.Duration(10+rng.IntN(90)) * time.Millisecond
					sleep := time.Duration(rng.IntN(5)) * time.Millisecond
					fail := rng.IntN(10) < 3
					cctx, cancel := context.WithTimeout(ctx, deadline)
					start := time.Now()
					_, err := ExecuteWithPolicy(cctx, e, p, func(ctx context.Context) (int, error) {
						select {
						case <-time.After(sleep):
						case <-ctx.Done():
							return 0, ctx.Err()
						}
						if fail {
							return 0, errTemporary
						}
						return 1, nil
					})
					elapsed := time.Since(start)
					cancel()
					calls.Add(1)
					if elapsed > deadline {
						report("%v: answered after %v, past its %v deadline", p, elapsed, deadline)
					}
					switch {
					case which == 3:
						want := time.Hour - time.Since(tripped)
						if after, ok := policy.RetryAfter(err); !errors.Is(err, policy.ErrCircuitOpen) || !ok || after != want {
							report("open breaker: %v (retry after %v); want ErrCircuitOpen with RetryAfter %v, the deadline set when it tripped", err, after, want)
						}
					case which == 4:
						if !errors.Is(err, policy.ErrRateLimited) {
							report("emptied limiter: %v; want ErrRateLimited (no token came back with a restart)", err)
						}
					case errors.Is(err, policy.ErrOverloaded):
						overloaded.Add(1)
						if !policy.IsRetryable(err) {
							report("%v: ErrOverloaded must be retryable: %v", p, err)
						}
					case err == nil, errors.Is(err, errTemporary), errors.Is(err, policy.ErrCircuitOpen),
						errors.Is(err, policy.ErrRateLimited), errors.Is(err, policy.ErrCancelled):
					default:
						report("%v: unclear error %v", p, err)
					}
				}
			})
		}

		// Inject while the load runs: a panic every 5ms, rotating over the targets, and
		// every third time a panic on the next request instead. The busy breaker gets a
		// panic on the next request only while it is closed, where its next request is a
		// failure report whose loss is harmless: consumed by a half-open probe's report it
		// would wedge the breaker (TestBreakerCrashWhileRecordingProbeDoesNotWedgeHalfOpen).
		for i := 0; time.Now().Before(end); i++ {
			time.Sleep(5 * time.Millisecond)
			tg := targets[i%len(targets)]
			if i%3 == 2 && (tg.closed == nil || tg.closed()) {
				inject(e, tg.pid, &fault.PanicOnNext{Reason: "injected on the next request"})
				tg.onNext++
			} else {
				inject(e, tg.pid, &fault.Panic{Reason: "injected"})
				tg.panics++
			}
		}
		wg.Wait()
		synctest.Wait()
		for _, b := range bad {
			t.Error(b)
		}

		// Every panic restarted its actor. The open breaker and the emptied limiter refuse
		// from their published views without asking, so a panic on the next request stays
		// armed there; the busy ones consume theirs.
		m := e.Metrics()
		var total uint64
		for _, tg := range targets {
			var restarts uint64
			if l := breakers[tg.name]; l != nil {
				restarts = l.Restarts()
			} else {
				restarts = limiters[tg.name].Restarts()
			}
			total += restarts
			switch tg.name {
			case "f-open", "f-drained":
				if restarts != tg.panics {
					t.Errorf("%s restarted %d times; %d panics injected", tg.name, restarts, tg.panics)
				}
			default:
				if restarts < tg.panics || restarts > tg.panics+tg.onNext {
					t.Errorf("%s restarted %d times; %d panics and %d panics on the next request injected", tg.name, restarts, tg.panics, tg.onNext)
				}
			}
			t.Logf("%-9s %3d panics + %3d on the next request injected: %3d restarts", tg.name, tg.panics, tg.onNext, restarts)
		}
		if m.ActorRestarts != total {
			t.Errorf("Metrics().ActorRestarts %d; the actors restarted %d times", m.ActorRestarts, total)
		}
		if overloaded.Load() == 0 {
			t.Error("no caller saw a crash while the actor decided (ErrOverloaded): the injection missed the requests")
		}

		// State kept: the open breaker is still open from its one trip; the emptied
		// limiter still has allowed only its two calls.
		if s := m.Breakers["f-open"]; s.State != messages.Open || s.Trips != 1 || s.Failures != 1 {
			t.Errorf("f-open after the restarts: %+v; want open, 1 trip, 1 failure", s)
		}
		if s := m.Limiters["f-drained"]; s.Allowed != 2 {
			t.Errorf("f-drained after the restarts: %+v; want 2 allowed", s)
		}
		// The busy limiter works on after its restarts.
		time.Sleep(time.Second)
		if _, err := ExecuteWithPolicy(ctx, e, busyLimiter, ok42); err != nil {
			t.Errorf("f-limiter after the restarts: %v", err)
		}
		t.Logf("%d calls in %v of fake time, %d saw a crash while deciding (ErrOverloaded), ActorRestarts %d",
			calls.Load(), load, overloaded.Load(), m.ActorRestarts)
	})
}

type faultTarget struct {
	name           string
	pid            *actor.PID
	closed         func() bool // nil: any time is fine for a panic on the next request
	panics, onNext uint64
}

// TestBreakerCrashWhileRecordingProbeDoesNotWedgeHalfOpen shows an engine bug: when the
// breaker actor panics while it handles a half-open probe's Report, the probe's slot is
// never freed (Circuit.probes stays at SuccessThreshold), and since half-open has no
// timer the breaker stays half-open for good, refusing every call with ErrCircuitOpen.
// A crash must not wedge a breaker: after it, the breaker should reopen or free the
// slot and let the next probe through.
func TestBreakerCrashWhileRecordingProbeDoesNotWedgeHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("wedge")
		ExecuteWithPolicy(ctx, e, p, failing)
		time.Sleep(time.Second)
		synctest.Wait()
		l := breakerOf(e, "wedge")
		if s := l.View().State; s != messages.HalfOpen {
			t.Fatalf("state %v; want half_open after the recovery timeout", s)
		}
		// The probe arms a panic on the actor's next request, which is its own Report.
		if _, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
			inject(e, l.PID(), &fault.PanicOnNext{Reason: "injected while recording the probe"})
			time.Sleep(time.Millisecond)
			return 1, nil
		}); err != nil {
			t.Fatalf("probe: %v", err)
		}
		synctest.Wait()
		if l.Restarts() != 1 {
			t.Fatalf("restarts %d; want 1 (the Report panicked)", l.Restarts())
		}
		var err error
		for range 10 {
			time.Sleep(time.Second)
			if _, err = ExecuteWithPolicy(ctx, e, p, ok42); err == nil {
				return
			}
		}
		t.Fatalf("10 recovery timeouts after the crash, calls still get %v; breaker %+v", err, e.Metrics().Breakers["wedge"])
	})
}

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

func TestBreakerActorPanicIsSurvivedWithStateKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(3, time.Hour).Named("fragile")
		ExecuteWithPolicy(ctx, e, p, failing)
		ExecuteWithPolicy(ctx, e, p, failing)
		l := breakerOf(e, "fragile")

		// A panic on an unrelated message: the actor restarts, two failures are kept.
		inject(e, l.PID(), &fault.Panic{Reason: "injected"})
		synctest.Wait()
		if got := l.Restarts(); got != 1 {
			t.Fatalf("restarts = %d; want 1", got)
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
			t.Fatalf("third failure: %v", err)
		}
		if s := e.Metrics().Breakers["fragile"]; s.State != messages.Open || s.Failures != 3 {
			t.Fatalf("breaker %+v; want open with 3 failures (state kept across the restart)", s)
		}
		if m := e.Metrics(); m.ActorRestarts != 1 {
			t.Fatalf("ActorRestarts = %d; want 1", m.ActorRestarts)
		}
	})
}

func TestCallerOfCrashingActorGetsAnAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(5, time.Hour).Named("crashy")
		ExecuteWithPolicy(ctx, e, p, ok42)
		l := breakerOf(e, "crashy")
		inject(e, l.PID(), &fault.PanicOnNext{Reason: "injected while reporting"})
		synctest.Wait()

		// The failure report is the request the actor panics on: the caller must still return.
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(ctx, e, p, failing)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, errTemporary) {
				t.Fatalf("err = %v; want the function's own error", err)
			}
		default:
			t.Fatal("the caller is still waiting on a crashed actor")
		}
		if l.Restarts() != 1 {
			t.Fatalf("restarts = %d; want 1", l.Restarts())
		}
	})
}

func TestLimiterActorPanicWhileDecidingGivesOverloaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Minute).Named("crashy")
		ExecuteWithPolicy(context.Background(), e, p, ok42)
		l := limiterOf(e, "crashy")
		inject(e, l.PID(), &fault.PanicOnNext{Reason: "injected"})
		synctest.Wait()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrOverloaded) || !policy.IsRetryable(err) {
			t.Fatalf("err = %v; want a retryable ErrOverloaded", err)
		}
		// The limiter still works after its restart.
		time.Sleep(time.Second)
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func TestSupervisorPanicKeepsRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("kept")
		ExecuteWithPolicy(context.Background(), e, p, failing)
		inject(e, supervisorOf(e), &fault.Panic{Reason: "injected"})
		synctest.Wait()
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("err = %v; want the open breaker to survive the supervisor's restart", err)
		}
		var other policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("new")
		if _, err := ExecuteWithPolicy(context.Background(), e, other, ok42); err != nil {
			t.Fatalf("a new name after the restart: %v", err)
		}
	})
}

func TestIdleActorsArePassivatedAndRecreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		ctx := context.Background()
		if err := e.RegisterCircuitBreaker("pinned", policy.CircuitBreaker(1, time.Hour)); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			op := &funcOp{id: fmt.Sprintf("key-%d", i), policy: policy.CircuitBreaker(3, time.Second), fn: ok42}
			if _, err := Execute(ctx, e, policy.Operation[int](op)); err != nil {
				t.Fatal(err)
			}
		}
		var open policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("open")
		ExecuteWithPolicy(ctx, e, open, failing)
		if n := len(e.Metrics().Breakers); n != 102 {
			t.Fatalf("breakers = %d; want 102", n)
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		got := e.Metrics().Breakers
		if len(got) != 2 {
			t.Fatalf("after idling: breakers %v; want only the registered and the open one", keys(got))
		}
		if _, ok := got["pinned"]; !ok {
			t.Fatal("a registered breaker was passivated")
		}
		if got["open"].State != messages.Open {
			t.Fatal("an open breaker was passivated")
		}
		// Recreated on demand, behaving as new.
		op := &funcOp{id: "key-7", policy: policy.CircuitBreaker(3, time.Second), fn: ok42}
		if _, err := Execute(ctx, e, policy.Operation[int](op)); err != nil {
			t.Fatalf("recreated breaker: %v", err)
		}
		if _, ok := e.Metrics().Breakers["key-7"]; !ok {
			t.Fatal("breaker not recreated on demand")
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMailboxLimitFailsFastWithOverloaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithMailboxLimit(3))
		var p policy.Policy = policy.RateLimit(0.001).WithBurst(1).WithMaxWait(time.Hour).Named("tight")
		ExecuteWithPolicy(context.Background(), e, p, ok42) // creates the actor, takes the token
		l := limiterOf(e, "tight")

		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		for range 5 {
			injectAs(e, l.PID(), &messages.GetStats{}, inboxOf(e))
		}
		synctest.Wait()
		if d := l.MailboxDepth(); d != 6 {
			t.Fatalf("mailbox depth %d; want 6 (the block and 5 queued)", d)
		}
		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrOverloaded) || time.Since(start) != 0 {
			t.Fatalf("err %v after %v; want ErrOverloaded at once", err, time.Since(start))
		}
		close(release)
		synctest.Wait()
		if d := l.MailboxDepth(); d != 0 {
			t.Fatalf("mailbox depth %d after draining; want 0", d)
		}
	})
}

func TestActorClientExecuteAndResult(t *testing.T) {
	e := newEngine(t)
	results := make(chan *messages.Result, 2)
	client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			switch m {
			case "ok":
				c.Request(e.PID(), &messages.Execute{ID: "job-1", Policy: policy.Retry(2).WithBackoff(policy.FixedBackoff{}), Fn: func(context.Context) (any, error) { return "done", nil }})
			case "fail":
				c.Request(e.PID(), messages.Execute{ID: "job-2", Policy: policy.Retry(2).WithBackoff(policy.FixedBackoff{}), Fn: func(context.Context) (any, error) { return nil, errTemporary }})
			}
		case *messages.Result:
			results <- m
		}
	}))
	defer e.System().Root.Stop(client)
	e.System().Root.Send(client, "ok")
	e.System().Root.Send(client, "fail")
	got := receiveResults(t, results, 2)
	if r := got["job-1"]; r == nil || r.Value != "done" || r.Err != nil || r.Attempts != 1 {
		t.Fatalf("job-1 result %+v; want done in 1 attempt", r)
	}
	if r := got["job-2"]; r == nil || !errors.Is(r.Err, policy.ErrRetryExhausted) || r.Attempts != 2 {
		t.Fatalf("job-2 result %+v; want retry exhausted after 2 attempts", r)
	}
}

func TestActorClientGetsEngineStats(t *testing.T) {
	e := newEngine(t)
	ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Hour).Named("s")), ok42)
	stats := make(chan *messages.EngineStats, 1)
	client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			c.Request(e.PID(), &messages.GetStats{})
		case *messages.EngineStats:
			stats <- m
		}
	}))
	defer e.System().Root.Stop(client)
	e.System().Root.Send(client, "go")
	select {
	case s := <-stats:
		if s.TotalOperations != 1 || len(s.Breakers) != 1 {
			t.Fatalf("stats %+v; want 1 operation and 1 breaker", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EngineStats within 10s")
	}
}

func TestConcurrentCallersAcrossPoliciesKeepCountsConsistent(t *testing.T) {
	e := newEngine(t)
	policies := []policy.Policy{
		policy.None(),
		policy.Retry(2).WithBackoff(policy.FixedBackoff{}),
		policy.CircuitBreaker(50, time.Millisecond).Named("mix"),
		policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.CircuitBreaker(50, time.Millisecond).Named("mix"), policy.Timeout(time.Second)),
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				p := policies[(g+i)%len(policies)]
				ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
					if (g*i)%7 == 0 {
						return 0, errTemporary
					}
					return 1, nil
				})
			}
		})
	}
	wg.Wait()
	m := e.Metrics()
	if m.TotalOperations != 32*200 || m.SuccessfulOperations+m.FailedOperations != m.TotalOperations {
		t.Fatalf("total %d = %d + %d; want 6400", m.TotalOperations, m.SuccessfulOperations, m.FailedOperations)
	}
}

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

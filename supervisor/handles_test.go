package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// A handle names an existing actor: an unknown, empty or invalid name is refused with
// ErrInvalidPolicy naming what was wrong, and no actor is created for it.
func TestHandlesRefuseUnknownNames(t *testing.T) {
	e := newEngine(t)
	for _, name := range []string{"", "nobody", "\xff"} {
		if _, err := e.Breaker(name); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("Breaker(%q): %v; want ErrInvalidPolicy", name, err)
		}
		if _, err := e.Limiter(name); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("Limiter(%q): %v; want ErrInvalidPolicy", name, err)
		}
	}
	if breakerOf(e, "nobody") != nil || limiterOf(e, "nobody") != nil {
		t.Fatal("a lookup of an unknown name created an actor")
	}
	// A breaker and a limiter have their own namespaces.
	if err := e.RegisterCircuitBreaker("db", policy.CircuitBreaker(1, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Limiter("db"); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("Limiter(db) with only a breaker db: %v; want ErrInvalidPolicy", err)
	}
	if _, err := e.Breaker("db"); err != nil {
		t.Fatalf("Breaker(db): %v", err)
	}
}

// A name first used by a policy has a handle, and the handle and the policy share one
// breaker: failures recorded through done trip the breaker the pipeline uses, and the
// refusal carries the time until the next probe. Handle calls are not operations.
func TestBreakerHandleSharesThePolicysBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.CircuitBreaker(2, 10*time.Second).Named("inv")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		b, err := e.Breaker("inv")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			done, err := b.Allow(ctx)
			if err != nil {
				t.Fatalf("Allow while closed: %v", err)
			}
			done(errTemporary)
		}
		_, err = b.Allow(ctx)
		var pe *policy.Error
		if !errors.Is(err, policy.ErrCircuitOpen) || !errors.As(err, &pe) || pe.After != 10*time.Second || pe.Op != "inv" {
			t.Fatalf("Allow after two failures: %#v; want ErrCircuitOpen after 10s for op inv", err)
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("the policy's call after the handle tripped it: %v; want ErrCircuitOpen", err)
		}
		st := b.Stats()
		if st.State != messages.Open || st.Failures != 2 || st.Successes != 1 || st.Trips != 1 || st.Rejected != 2 {
			t.Fatalf("stats %+v; want open, 2 failures, 1 success, 1 trip, 2 rejected", st)
		}
		m := e.Metrics()
		if m.TotalOperations != 2 || m.CircuitBreakerTrips != 1 {
			t.Fatalf("metrics: %d operations, %d trips; want the 2 pipeline calls and 1 trip", m.TotalOperations, m.CircuitBreakerTrips)
		}
	})
}

// done records one outcome however often it is called, from however many goroutines.
func TestBreakerHandleDoneIsIdempotent(t *testing.T) {
	e := newEngine(t)
	if err := e.RegisterCircuitBreaker("once", policy.CircuitBreaker(3, time.Minute)); err != nil {
		t.Fatal(err)
	}
	b, err := e.Breaker("once")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		done, err := b.Allow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		finished := make(chan struct{})
		for range 4 {
			go func() { done(errTemporary); finished <- struct{}{} }()
		}
		for range 4 {
			<-finished
		}
		done(errTemporary)
	}
	if st := b.Stats(); st.Failures != 2 || st.State != messages.Closed {
		t.Fatalf("stats %+v; want 2 failures and still closed (threshold 3)", st)
	}
}

// A half-open breaker admits its probes through the actor, refuses past its probe slots,
// and closes on the probe's success reported through done.
func TestBreakerHandleProbesHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterCircuitBreaker("p", policy.CircuitBreaker(1, time.Second)); err != nil {
			t.Fatal(err)
		}
		b, _ := e.Breaker("p")
		ctx := context.Background()
		done, _ := b.Allow(ctx)
		done(errTemporary)
		time.Sleep(time.Second)
		probe, err := b.Allow(ctx)
		if err != nil {
			t.Fatalf("Allow after the recovery timeout: %v; want a probe", err)
		}
		if _, err := b.Allow(ctx); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("a second Allow while the only probe runs: %v; want ErrCircuitOpen", err)
		}
		probe(nil)
		if st := b.Stats(); st.State != messages.Closed {
			t.Fatalf("state after the probe succeeded: %v; want closed", st.State)
		}
		if _, err := b.Allow(ctx); err != nil {
			t.Fatalf("Allow once closed: %v", err)
		}
	})
}

// A probe whose done is never called holds its slot for RecoveryTimeout after
// admission (no MaxHalfOpen), then the slot is freed as neutral and a new probe goes.
func TestBreakerHandleUncalledProbeIsFreedAfterRecoveryTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterCircuitBreaker("lost", policy.CircuitBreaker(1, 2*time.Second)); err != nil {
			t.Fatal(err)
		}
		b, _ := e.Breaker("lost")
		ctx := context.Background()
		done, _ := b.Allow(ctx)
		done(errTemporary)
		time.Sleep(2 * time.Second)
		lost, err := b.Allow(ctx) // never called
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2*time.Second - time.Millisecond)
		synctest.Wait()
		if _, err := b.Allow(ctx); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("just before the bound: %v; want the slot still held", err)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		probe, err := b.Allow(ctx)
		if err != nil {
			t.Fatalf("after the bound: %v; want the freed slot to admit a new probe", err)
		}
		if st := b.Stats(); st.State != messages.HalfOpen || st.Trips != 1 {
			t.Fatalf("stats %+v; want still half-open after the neutral slot, 1 trip", st)
		}
		probe(nil)
		lost(errTemporary) // too late: a no-op
		if st := b.Stats(); st.State != messages.Closed || st.Failures != 1 {
			t.Fatalf("stats %+v; want closed with the one failure that tripped it", st)
		}
	})
}

// With MaxHalfOpen the half-open period itself bounds an uncalled probe.
func TestBreakerHandleUncalledProbeEndsWithMaxHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.CircuitBreaker(1, time.Second).WithMaxHalfOpen(3 * time.Second)
		if err := e.RegisterCircuitBreaker("mho", p); err != nil {
			t.Fatal(err)
		}
		b, _ := e.Breaker("mho")
		ctx := context.Background()
		done, _ := b.Allow(ctx)
		done(errTemporary)
		time.Sleep(time.Second)
		if _, err := b.Allow(ctx); err != nil { // never called
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if st := b.Stats(); st.State == messages.HalfOpen {
			t.Fatalf("state %v after MaxHalfOpen; want the half-open period ended", st.State)
		}
	})
}

// done's error goes through the breaker's classifier, and a caller's cancellation is
// neutral, as in the pipeline.
func TestBreakerHandleClassifiesOutcomes(t *testing.T) {
	e := newEngine(t, WithClassifier("not-temporary", func(v any, err error) policy.Verdict {
		if errors.Is(err, errTemporary) {
			return policy.Ignore
		}
		if err != nil {
			return policy.Failure
		}
		return policy.Success
	}))
	p := policy.CircuitBreaker(1, time.Minute).WithClassifier("not-temporary")
	if err := e.RegisterCircuitBreaker("cls", p); err != nil {
		t.Fatal(err)
	}
	b, _ := e.Breaker("cls")
	for range 5 {
		done, err := b.Allow(context.Background())
		if err != nil {
			t.Fatalf("Allow: %v (an ignored error tripped the breaker)", err)
		}
		done(errTemporary)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, _ := b.Allow(ctx)
	cancel()
	done(context.Canceled)
	if st := b.Stats(); st.State != messages.Closed || st.Failures != 0 {
		t.Fatalf("stats %+v; want closed with no failure counted", st)
	}
	done, _ = b.Allow(context.Background())
	done(errors.New("real"))
	if st := b.Stats(); st.State != messages.Open {
		t.Fatalf("state after a failure the classifier counts: %v; want open", st.State)
	}
}

// A handle does not pin its breaker: an admission whose done was never called lets the
// idle breaker be passivated, and the handle's next use recreates it with the name's
// configuration.
func TestBreakerHandleSurvivesPassivation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, policy.CircuitBreaker(1, time.Hour).Named("idle"), ok42); err != nil {
			t.Fatal(err)
		}
		b, err := e.Breaker("idle")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Allow(ctx); err != nil { // done never called
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if breakerOf(e, "idle") != nil {
			t.Fatal("the idle breaker was not passivated")
		}
		if st := b.Stats(); st != (messages.BreakerStats{}) {
			t.Fatalf("stats while passivated: %+v; want the zero value", st)
		}
		if _, err := e.Breaker("idle"); err != nil {
			t.Fatalf("Breaker of a passivated name: %v", err)
		}
		done, err := b.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done(errTemporary)
		if st := b.Stats(); st.State != messages.Open {
			t.Fatalf("after one failure on the recreated breaker: %v; want open (threshold 1 kept)", st.State)
		}
	})
}

// After Shutdown the handles answer ErrShutdown and false.
func TestHandlesAfterShutdown(t *testing.T) {
	e := newEngineNoCleanup(t)
	if err := e.RegisterCircuitBreaker("b", policy.CircuitBreaker(1, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterRateLimiter("l", policy.RateLimit(100).WithBurst(10)); err != nil {
		t.Fatal(err)
	}
	b, _ := e.Breaker("b")
	l, _ := e.Limiter("l")
	done, err := b.Allow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	done(nil) // an admission from before Shutdown ends quietly
	if _, err := b.Allow(context.Background()); !errors.Is(err, policy.ErrShutdown) {
		t.Fatalf("Breaker.Allow after Shutdown: %v", err)
	}
	if l.Allow() {
		t.Fatal("Limiter.Allow after Shutdown: true")
	}
	if err := l.Wait(context.Background()); !errors.Is(err, policy.ErrShutdown) {
		t.Fatalf("Limiter.Wait after Shutdown: %v", err)
	}
	if _, err := e.Breaker("b"); !errors.Is(err, policy.ErrShutdown) {
		t.Fatalf("Engine.Breaker after Shutdown: %v", err)
	}
	var pe *policy.Error
	if _, err := b.Allow(nil); !errors.As(err, &pe) { //nolint:staticcheck // a nil ctx on purpose
		t.Fatalf("Allow(nil): %v; want a *policy.Error", err)
	}
}

// Limiter.Allow takes the burst, then refuses without waiting, and counts its refusals
// in the limiter's stats only.
func TestLimiterHandleAllow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterRateLimiter("api", policy.RateLimit(1).WithBurst(2)); err != nil {
			t.Fatal(err)
		}
		l, err := e.Limiter("api")
		if err != nil {
			t.Fatal(err)
		}
		got := []bool{l.Allow(), l.Allow(), l.Allow()}
		if !got[0] || !got[1] || got[2] {
			t.Fatalf("Allow ×3 with burst 2: %v; want true, true, false", got)
		}
		time.Sleep(time.Second)
		if !l.Allow() {
			t.Fatal("Allow after one second at 1/s: false; want the refilled token")
		}
		st := l.Stats()
		if st.Allowed != 3 || st.Rejected != 1 {
			t.Fatalf("stats %+v; want 3 allowed, 1 rejected", st)
		}
		if n := e.Metrics().RateLimitHits; n != 0 {
			t.Fatalf("RateLimitHits %d; want 0 (handle calls are not operations)", n)
		}
	})
}

// In wait mode, Wait queues for the next token in FIFO order and Allow never waits:
// with a waiter queued, Allow is refused at once even as the next token comes.
func TestLimiterHandleWaitQueuesAndAllowDoesNot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterRateLimiter("q", policy.RateLimit(10).WithBurst(1).WithMaxWait(time.Second)); err != nil {
			t.Fatal(err)
		}
		l, _ := e.Limiter("q")
		ctx := context.Background()
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waited := make(chan error, 1)
		go func() { waited <- l.Wait(ctx) }()
		synctest.Wait()
		if l.Allow() {
			t.Fatal("Allow with a waiter queued and no token: true")
		}
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("Wait took %v; want the 100 ms to the next token at 10/s", d)
		}
		// A wait past MaxWait is refused at once with the time to the token.
		for range 10 {
			go l.Wait(ctx) //nolint:errcheck // the queue fills; each ends within MaxWait
		}
		synctest.Wait()
		err := l.Wait(ctx)
		var pe *policy.Error
		if !errors.Is(err, policy.ErrRateLimited) || !errors.As(err, &pe) || pe.After <= 0 {
			t.Fatalf("Wait behind a full second of waiters: %v; want ErrRateLimited with After", err)
		}
	})
}

// Wait honours its context, and a limiter without MaxWait does not queue.
func TestLimiterHandleWaitHonoursContextAndNoWaitMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterRateLimiter("w", policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := e.RegisterRateLimiter("nw", policy.RateLimit(1).WithBurst(1)); err != nil {
			t.Fatal(err)
		}
		w, _ := e.Limiter("w")
		nw, _ := e.Limiter("nw")
		w.Allow()
		nw.Allow()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := w.Wait(ctx); !errors.Is(err, policy.ErrCancelled) && !errors.Is(err, policy.ErrRateLimited) {
			t.Fatalf("Wait with a 200 ms deadline for a token 1 s away: %v", err)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("Wait returned after %v; want no later than its deadline", d)
		}
		start = time.Now()
		if err := nw.Wait(context.Background()); !errors.Is(err, policy.ErrRateLimited) {
			t.Fatalf("Wait on a limiter without MaxWait: %v; want ErrRateLimited", err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("the refusal took %v; want at once", d)
		}
	})
}

// A limiter handle survives passivation: the name comes back with its configuration.
func TestLimiterHandleSurvivesPassivation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		ctx := context.Background()
		p := policy.RateLimit(1).WithBurst(1).Named("lp")
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		l, err := e.Limiter("lp")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if limiterOf(e, "lp") != nil {
			t.Fatal("the idle limiter was not passivated")
		}
		if !l.Allow() || l.Allow() {
			t.Fatal("after passivation: want one token (burst 1 kept), then a refusal")
		}
	})
}

// Breaker.Allow with its done costs one allocation (the done closure) on a closed
// breaker, and Limiter.Allow none.
func TestHandlesAllocations(t *testing.T) {
	e := newEngine(t)
	if err := e.RegisterCircuitBreaker("hot", policy.CircuitBreaker(5, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterRateLimiter("hot", policy.RateLimit(1e9).WithBurst(1e6)); err != nil {
		t.Fatal(err)
	}
	b, _ := e.Breaker("hot")
	l, _ := e.Limiter("hot")
	ctx := context.Background()
	if done, err := b.Allow(ctx); err == nil {
		done(nil)
	}
	l.Allow()
	if n := testing.AllocsPerRun(200, func() {
		done, err := b.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done(nil)
	}); n > 1 {
		t.Errorf("Breaker.Allow and done: %v allocations; want at most 1", n)
	}
	if n := testing.AllocsPerRun(200, func() { l.Allow() }); n != 0 {
		t.Errorf("Limiter.Allow: %v allocations; want 0", n)
	}
}

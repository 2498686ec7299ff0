package supervisor

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// mockOperation is the guide's mock: it fails twice, then succeeds.
type mockOperation struct{ calls atomic.Int32 }

func (m *mockOperation) Policy() policy.Policy {
	return policy.Retry(3).WithBackoff(policy.FixedBackoff{})
}
func (m *mockOperation) ID() string     { return "mock" }
func (m *mockOperation) Critical() bool { return false }
func (m *mockOperation) Execute(context.Context) (string, error) {
	if m.calls.Add(1) < 3 {
		return "", errTemporary
	}
	return "Success", nil
}

func TestGuideMockOperation(t *testing.T) {
	e := newEngine(t)
	got, err := Execute(context.Background(), e, policy.Operation[string](&mockOperation{}))
	if err != nil || got != "Success" {
		t.Fatalf("Execute = %q, %v; want Success", got, err)
	}
	m := e.Metrics()
	if m.TotalOperations != 1 || m.SuccessfulOperations != 1 || m.RetryAttempts != 2 {
		t.Fatalf("metrics total %d successful %d retries %d; want 1 1 2", m.TotalOperations, m.SuccessfulOperations, m.RetryAttempts)
	}
}

func TestRetryExhaustedMatchesKindAndLastError(t *testing.T) {
	e := newEngine(t)
	var calls int
	_, err := ExecuteWithPolicy(context.Background(), e, policy.Retry(3).WithBackoff(policy.FixedBackoff{}), func(context.Context) (int, error) {
		calls++
		return 0, errTemporary
	})
	if !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, errTemporary) {
		t.Fatalf("err = %v; want retry exhausted wrapping the last error", err)
	}
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Attempts != 3 || calls != 3 {
		t.Fatalf("attempts %d calls %d; want 3 and 3", pe.Attempts, calls)
	}
	if m := e.Metrics(); m.FailedOperations != 1 || m.RetryAttempts != 2 {
		t.Fatalf("failed %d retries %d; want 1 and 2", m.FailedOperations, m.RetryAttempts)
	}
}

func TestRetryStopsOnNonRetryableError(t *testing.T) {
	e := newEngine(t)
	bad := policy.Permanent(errors.New("bad request"))
	var calls int
	_, err := ExecuteWithPolicy(context.Background(), e, policy.Retry(5), func(context.Context) (int, error) {
		calls++
		return 0, bad
	})
	if calls != 1 || !errors.Is(err, bad) || errors.Is(err, policy.ErrRetryExhausted) {
		t.Fatalf("calls %d err %v; want one call returning the permanent error", calls, err)
	}
}

func TestRetryWaitsBackoffOrRetryAfterWhicheverIsLonger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		limited := &policy.Error{Kind: policy.ErrRateLimited, After: 3 * time.Second}
		var times []time.Time
		start := time.Now()
		p := policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Second})
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			times = append(times, time.Now())
			if len(times) == 1 {
				return 0, limited
			}
			if len(times) == 2 {
				return 0, errTemporary
			}
			return 1, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := times[1].Sub(start); d != 3*time.Second {
			t.Errorf("first retry after %v; want RetryAfter 3s (longer than the 1s backoff)", d)
		}
		if d := times[2].Sub(times[1]); d != time.Second {
			t.Errorf("second retry after %v; want the 1s backoff", d)
		}
	})
}

func TestRetryGivesUpWhenTheWaitWouldPassTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		p := policy.Retry(5).WithBackoff(policy.FixedBackoff{Interval: time.Second})
		var calls int
		start := time.Now()
		_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
			calls++
			return 0, errTemporary
		})
		if calls != 2 || !errors.Is(err, errTemporary) || errors.Is(err, policy.ErrRetryExhausted) {
			t.Fatalf("calls %d err %v; want 2 calls and the last error", calls, err)
		}
		if time.Since(start) != time.Second {
			t.Fatalf("returned after %v; want at once after the second attempt (1s)", time.Since(start))
		}
	})
}

func TestCallerContextWinsDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := ExecuteWithPolicy(ctx, e, policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Hour}), failing)
		if !errors.Is(err, policy.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want ErrCancelled and context.Canceled", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("returned after %v; want 100ms", d)
		}
		if m := e.Metrics(); m.FailedOperations != 1 {
			t.Fatalf("a cancelled call must be a failed operation; failed = %d", m.FailedOperations)
		}
	})
}

func TestBreakerTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(3, 10*time.Second).WithSuccessThreshold(2).Named("payments")
		state := func() messages.BreakerState { return e.Metrics().Breakers["payments"].State }

		// Exact for a sequential caller: 3 failures open it, the 4th call is refused.
		for i := range 3 {
			if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
				t.Fatalf("failure %d: err = %v", i+1, err)
			}
		}
		var calls int
		_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) { calls++; return 0, nil })
		if !errors.Is(err, policy.ErrCircuitOpen) || calls != 0 {
			t.Fatalf("after 3 failures: err %v calls %d; want ErrCircuitOpen without running", err, calls)
		}
		if after, ok := policy.RetryAfter(err); !ok || after != 10*time.Second {
			t.Fatalf("RetryAfter = %v %v; want 10s", after, ok)
		}
		if policy.IsRetryable(err) {
			t.Fatal("circuit open must not be retryable")
		}

		// open → half-open on the actor's own timer, with no call.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s := state(); s != messages.HalfOpen {
			t.Fatalf("state after the recovery timeout = %v; want half_open without any call", s)
		}
		// half-open → closed after SuccessThreshold successes.
		for i := range 2 {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatalf("probe %d: %v", i+1, err)
			}
		}
		if s := state(); s != messages.Closed {
			t.Fatalf("state after 2 probe successes = %v; want closed", s)
		}

		// closed → open → half-open → open on a probe failure.
		for range 3 {
			ExecuteWithPolicy(ctx, e, p, failing)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
			t.Fatalf("probe: %v", err)
		}
		if s := state(); s != messages.Open {
			t.Fatalf("state after a probe failure = %v; want open", s)
		}
		m := e.Metrics()
		if m.CircuitBreakerTrips != 3 || m.Breakers["payments"].Trips != 3 {
			t.Fatalf("trips engine %d breaker %d; want 3", m.CircuitBreakerTrips, m.Breakers["payments"].Trips)
		}
		if r := m.Breakers["payments"].Rejected; r != 1 {
			t.Fatalf("rejected = %d; want 1", r)
		}
	})
}

func TestBreakerHalfOpenAdmitsAtMostSuccessThresholdProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).WithSuccessThreshold(2).Named("probe")
		ExecuteWithPolicy(ctx, e, p, failing)
		time.Sleep(time.Second)
		synctest.Wait()

		release := make(chan struct{})
		var running, peak atomic.Int32
		var rejected atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
					n := running.Add(1)
					for {
						old := peak.Load()
						if n <= old || peak.CompareAndSwap(old, n) {
							break
						}
					}
					<-release
					running.Add(-1)
					return 1, nil
				})
				if errors.Is(err, policy.ErrCircuitOpen) {
					rejected.Add(1)
				}
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if peak.Load() != 2 || rejected.Load() != 8 {
			t.Fatalf("peak concurrent probes %d rejected %d; want 2 and 8", peak.Load(), rejected.Load())
		}
	})
}

func TestBreakerIgnoresCancellationPermanentAndOtherStagesRejections(t *testing.T) {
	e := newEngine(t)
	var p policy.Policy = policy.CircuitBreaker(2, time.Hour).Named("neutral")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		ExecuteWithPolicy(ctx, e, p, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
		ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			return 0, policy.Permanent(errors.New("invalid input"))
		})
		ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			return 0, &policy.Error{Kind: policy.ErrRateLimited}
		})
	}
	if s := e.Metrics().Breakers["neutral"]; s.State != messages.Closed || s.Failures != 0 {
		t.Fatalf("breaker %+v; want closed with no failures", s)
	}
}

func TestBreakerNameFallsBackToOperationID(t *testing.T) {
	e := newEngine(t)
	op := &funcOp{id: "inventory", policy: policy.CircuitBreaker(1, time.Hour), fn: failing}
	Execute(context.Background(), e, policy.Operation[int](op))
	if _, ok := e.Metrics().Breakers["inventory"]; !ok {
		t.Fatalf("breakers %v; want one named after the operation ID", e.Metrics().Breakers)
	}
	ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Hour)), ok42)
	if _, ok := e.Metrics().Breakers["default"]; !ok {
		t.Fatalf("breakers %v; want \"default\" for an unnamed policy without an ID", e.Metrics().Breakers)
	}
}

func TestRegisteredBreakerWinsAndReconfiguresLive(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	if err := e.RegisterCircuitBreaker("svc", policy.CircuitBreaker(5, time.Hour)); err != nil {
		t.Fatal(err)
	}
	var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("svc")
	for range 4 {
		ExecuteWithPolicy(ctx, e, p, failing)
	}
	if s := e.Metrics().Breakers["svc"].State; s != messages.Closed {
		t.Fatalf("state %v after 4 failures; the registered threshold 5 must win", s)
	}
	if err := e.RegisterCircuitBreaker("svc", policy.CircuitBreaker(2, time.Hour)); err != nil {
		t.Fatal(err)
	}
	ExecuteWithPolicy(ctx, e, p, failing)
	if s := e.Metrics().Breakers["svc"].State; s != messages.Open {
		t.Fatalf("state %v; want open after reconfiguring the threshold to 2 (failures kept)", s)
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name string
		err  error
	}{
		{"empty breaker name", e.RegisterCircuitBreaker("", policy.CircuitBreaker(1, time.Second))},
		{"invalid breaker", e.RegisterCircuitBreaker("x", policy.CircuitBreakerPolicy{})},
		{"empty limiter name", e.RegisterRateLimiter("", policy.RateLimit(1))},
		{"invalid limiter", e.RegisterRateLimiter("x", policy.RateLimitPolicy{RequestsPerSecond: -1})},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, policy.ErrInvalidPolicy) {
			t.Errorf("%s: err = %v; want ErrInvalidPolicy", tt.name, tt.err)
		}
	}
}

func TestInvalidCallsRunNothingAndAreNotOperations(t *testing.T) {
	e := newEngine(t)
	var nilCtx context.Context
	ran := false
	fn := func(context.Context) (int, error) { ran = true; return 1, nil }
	tests := []struct {
		name string
		call func() error
	}{
		{"nil context", func() error { _, err := ExecuteWithPolicy(nilCtx, e, policy.None(), fn); return err }},
		{"nil engine", func() error { _, err := ExecuteWithPolicy(context.Background(), nil, policy.None(), fn); return err }},
		{"nil function", func() error {
			_, err := ExecuteWithPolicy[int](context.Background(), e, policy.None(), nil)
			return err
		}},
		{"nil policy", func() error { _, err := ExecuteWithPolicy(context.Background(), e, nil, fn); return err }},
		{"invalid retry", func() error {
			_, err := ExecuteWithPolicy(context.Background(), e, policy.RetryPolicy{}, fn)
			return err
		}},
		{"invalid combine", func() error {
			_, err := ExecuteWithPolicy(context.Background(), e, policy.Combine(policy.Retry(1), policy.TimeoutPolicy{Duration: -1}), fn)
			return err
		}},
		{"nil operation", func() error {
			_, err := Execute[int](context.Background(), e, nil)
			return err
		}},
		{"nil run function", func() error { return Run(context.Background(), e, policy.None(), nil) }},
		{"pointer to a policy", func() error {
			r := policy.Retry(2)
			_, err := ExecuteWithPolicy(context.Background(), e, &r, fn)
			return err
		}},
		{"empty spec", func() error { _, err := ExecuteWithPolicy(context.Background(), e, policy.Spec{}, fn); return err }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%s: err = %v; want ErrInvalidPolicy", tt.name, err)
		}
	}
	if ran {
		t.Fatal("a refused call ran its function")
	}
	if m := e.Metrics(); m.TotalOperations != 0 {
		t.Fatalf("refused calls counted as operations: %d", m.TotalOperations)
	}
}

func TestSpecRunsItsPolicy(t *testing.T) {
	e := newEngine(t)
	var calls int
	_, err := ExecuteWithPolicy(context.Background(), e, policy.Spec{Policy: policy.Retry(3).WithBackoff(policy.FixedBackoff{})}, func(context.Context) (int, error) {
		calls++
		return 0, errTemporary
	})
	if calls != 3 || !errors.Is(err, policy.ErrRetryExhausted) {
		t.Fatalf("calls %d err %v; want the spec's retry(3) applied", calls, err)
	}
}

func TestPanicBecomesErrPanic(t *testing.T) {
	e := newEngine(t)
	for _, p := range []policy.Policy{policy.None(), policy.Retry(3), policy.Timeout(time.Second), policy.CircuitBreaker(5, time.Second).Named("p")} {
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { panic("kaboom") })
		if !errors.Is(err, policy.ErrPanic) || policy.IsRetryable(err) {
			t.Errorf("%v: err = %v; want a non-retryable ErrPanic", p, err)
		}
	}
	if m := e.Metrics(); m.Panics != 4 || m.FailedOperations != 4 {
		t.Fatalf("panics %d failed %d; want 4 and 4 (retry(3) must not retry a panic)", m.Panics, m.FailedOperations)
	}
	if got, err := ExecuteWithPolicy(context.Background(), e, policy.None(), ok42); err != nil || got != 42 {
		t.Fatal("the engine did not keep running after panics")
	}
}

func TestTimeoutReturnsAtDeadlineEvenIfFunctionIgnoresContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		fnCtxs := make(chan context.Context, 1)
		release := make(chan struct{})
		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Timeout(2*time.Second), func(ctx context.Context) (int, error) {
			fnCtxs <- ctx
			<-release // ignores ctx
			return 1, nil
		})
		fnCtx := <-fnCtxs
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("returned after %v; want exactly the 2s timeout", d)
		}
		if !errors.Is(err, policy.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !policy.IsRetryable(err) {
			t.Fatalf("err = %v; want a retryable ErrTimeout matching DeadlineExceeded", err)
		}
		if !errors.Is(fnCtx.Err(), context.DeadlineExceeded) {
			t.Fatalf("the function's context was not cancelled: %v", fnCtx.Err())
		}
		m := e.Metrics()
		if m.TimeoutCount != 1 || m.AbandonedCalls != 1 {
			t.Fatalf("timeouts %d abandoned %d; want 1 and 1", m.TimeoutCount, m.AbandonedCalls)
		}
		close(release)
	})
}

func TestTimeoutPerAttemptAndTotal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		slow := func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		var calls atomic.Int32
		counting := func(ctx context.Context) (int, error) { calls.Add(1); return slow(ctx) }

		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Combine(policy.Retry(3).WithBackoff(policy.FixedBackoff{}), policy.Timeout(time.Second)), counting)
		if time.Since(start) != 3*time.Second || calls.Load() != 3 || !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("retry outside timeout: %v after %v with %d calls; want 3 timed-out attempts in 3s", err, time.Since(start), calls.Load())
		}
		// Regression: the timeout stage's copy of the call added its count on top.
		if pe := (*policy.Error)(nil); !errors.As(err, &pe) || pe.Attempts != 3 {
			t.Fatalf("attempts reported %d; want 3", pe.Attempts)
		}

		calls.Store(0)
		start = time.Now()
		_, err = ExecuteWithPolicy(context.Background(), e, policy.Combine(policy.Timeout(time.Second), policy.Retry(5).WithBackoff(policy.FixedBackoff{})), func(ctx context.Context) (int, error) {
			calls.Add(1)
			select {
			case <-time.After(300 * time.Millisecond):
				return 0, errTemporary
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		})
		if time.Since(start) != time.Second || !errors.Is(err, policy.ErrTimeout) || calls.Load() != 4 {
			t.Fatalf("timeout outside retry: %v after %v with %d calls; want ErrTimeout after 1s, 4 attempts begun", err, time.Since(start), calls.Load())
		}
		synctest.Wait()
	})
}

func TestCallerContextEndsTimeoutStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := ExecuteWithPolicy(ctx, e, policy.Timeout(time.Hour), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, policy.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("err = %v; want ErrCancelled with DeadlineExceeded, not ErrTimeout", err)
		}
	})
}

func TestRateLimitRejectsWithRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(2).WithBurst(2).Named("api")
		for range 2 {
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
				t.Fatal(err)
			}
		}
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		after, ok := policy.RetryAfter(err)
		if !errors.Is(err, policy.ErrRateLimited) || !ok || after != 500*time.Millisecond {
			t.Fatalf("err %v retry after %v; want ErrRateLimited after 500ms", err, after)
		}
		time.Sleep(after)
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("after RetryAfter: %v", err)
		}
		m := e.Metrics()
		if m.RateLimitHits != 1 || m.Limiters["api"].Allowed != 3 || m.Limiters["api"].Rejected != 1 {
			t.Fatalf("hits %d limiter %+v; want 1 hit, 3 allowed, 1 rejected", m.RateLimitHits, m.Limiters["api"])
		}
	})
}

func TestRateLimitWaitIsFIFOWithCriticalFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(10).WithBurst(1).WithMaxWait(time.Second).Named("queue")
		ExecuteWithPolicy(context.Background(), e, p, ok42) // takes the token

		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		for _, w := range []struct {
			id       string
			critical bool
		}{{"a", false}, {"b", false}, {"C", true}, {"d", false}, {"E", true}} {
			op := &funcOp{id: w.id, critical: w.critical, policy: p, fn: func(context.Context) (int, error) {
				mu.Lock()
				order = append(order, w.id)
				mu.Unlock()
				return 1, nil
			}}
			wg.Go(func() {
				if _, err := Execute(context.Background(), e, policy.Operation[int](op)); err != nil {
					t.Errorf("%s: %v", w.id, err)
				}
			})
			synctest.Wait() // queued in this order
		}
		wg.Wait()
		if got := fmtOrder(order); got != "CEabd" {
			t.Fatalf("admission order %s; want CEabd (critical first, then FIFO)", got)
		}
		if m := e.Metrics(); m.RateLimitHits != 0 {
			t.Fatalf("hits %d; a wait that ends admitted is not a hit", m.RateLimitHits)
		}
	})
}

func fmtOrder(s []string) string {
	out := ""
	for _, x := range s {
		out += x
	}
	return out
}

func TestRateLimitWaiterCancelRefundsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(10 * time.Second).Named("refund")
		ExecuteWithPolicy(context.Background(), e, p, ok42)

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(ctx, e, p, ok42)
			done <- err
		}()
		synctest.Wait()
		if w := e.Metrics().Limiters["refund"].Waiting; w != 1 {
			t.Fatalf("waiting = %d; want 1", w)
		}
		cancel()
		if err := <-done; !errors.Is(err, policy.ErrCancelled) {
			t.Fatalf("cancelled waiter: %v", err)
		}
		synctest.Wait()
		if w := e.Metrics().Limiters["refund"].Waiting; w != 0 {
			t.Fatalf("waiting = %d after cancel; want 0", w)
		}
		// The cancelled waiter's token is the next caller's, 1s after the first call.
		time.Sleep(time.Second)
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("next caller: %v", err)
		}
	})
}

func TestRateLimitWaitPastMaxWaitFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(500 * time.Millisecond).Named("short")
		ExecuteWithPolicy(context.Background(), e, p, ok42)
		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrRateLimited) || time.Since(start) != 0 {
			t.Fatalf("err %v after %v; want ErrRateLimited at once", err, time.Since(start))
		}
	})
}

// TestRateLimitNeverOverAdmitsUnderConcurrency storms a limiter from 64 callers for
// 300ms and checks every window of the admissions against Burst + rate·w, exactly. It
// runs in a synctest bubble, so the times the functions record are the instants they
// were admitted (no scheduling slack), and each caller paces itself with a seeded random
// sleep, so the bubble's clock advances and the callers arrive at scattered times.
func TestRateLimitNeverOverAdmitsUnderConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		const rate, burst = 200.0, 10
		var p policy.Policy = policy.RateLimit(rate).WithBurst(burst).Named("storm")
		var mu sync.Mutex
		var admitted []time.Time
		var wg sync.WaitGroup
		deadline := time.Now().Add(300 * time.Millisecond)
		for i := range 64 {
			jitter := rand.New(rand.NewPCG(uint64(i), 1))
			wg.Go(func() {
				for time.Now().Before(deadline) {
					ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
						mu.Lock()
						admitted = append(admitted, time.Now())
						mu.Unlock()
						return 1, nil
					})
					time.Sleep(time.Duration(jitter.Int64N(int64(2 * time.Millisecond))))
				}
			})
		}
		wg.Wait()
		if len(admitted) < rate*0.3*3/4 {
			t.Fatalf("%d admissions in 300ms; the storm should have drawn tokens all along (up to %v)", len(admitted), burst+rate*0.3)
		}
		for i := range admitted {
			for j := i; j < len(admitted); j++ {
				w := admitted[j].Sub(admitted[i])
				if n := float64(j - i + 1); n > burst+rate*w.Seconds()+1e-9 {
					t.Fatalf("%v admissions within %v; limit burst+rate·w = %v", n, w, burst+rate*w.Seconds())
				}
			}
		}
		if m := e.Metrics(); m.Limiters["storm"].Allowed != uint64(len(admitted)) {
			t.Fatalf("limiter allowed %d; functions ran %d times", m.Limiters["storm"].Allowed, len(admitted))
		}
	})
}

func TestShutdownDrainsInFlightCallsThenRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		results := make(chan error, 3)
		for range 3 {
			go func() {
				_, err := ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.Retry(2)), func(context.Context) (int, error) {
					<-release
					return 1, nil
				})
				results <- err
			}()
		}
		synctest.Wait()
		shut := make(chan error, 1)
		go func() { shut <- e.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case <-shut:
			t.Fatal("Shutdown returned while calls were in flight")
		default:
		}
		if _, err := ExecuteWithPolicy(context.Background(), e, policy.None(), ok42); !errors.Is(err, policy.ErrShutdown) {
			t.Fatalf("late call: %v; want ErrShutdown", err)
		}
		close(release)
		for range 3 {
			if err := <-results; err != nil {
				t.Fatalf("in-flight call: %v", err)
			}
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		if m := e.Metrics(); m.TotalOperations != 3 {
			t.Fatalf("operations %d; the refused late call must not count", m.TotalOperations)
		}
	})
}

func TestShutdownContextEndsDrainAndReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		var p policy.Policy = policy.RateLimit(0.001).WithBurst(1).WithMaxWait(time.Hour).Named("slow")
		ExecuteWithPolicy(context.Background(), e, p, ok42)
		waiter := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
			waiter <- err
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v; want the drain cut short by ctx", err)
		}
		if err := <-waiter; !errors.Is(err, policy.ErrShutdown) {
			t.Fatalf("waiting caller got %v; want ErrShutdown", err)
		}
	})
}

package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/internal/pipeline"
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
		err := e.Shutdown(ctx)
		var pe *policy.Error
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, policy.ErrCancelled) || !errors.As(err, &pe) {
			t.Fatalf("Shutdown = %v; want the drain cut short by ctx: a *policy.Error matching ErrCancelled and ctx.Err()", err)
		}
		if err := <-waiter; !errors.Is(err, policy.ErrShutdown) {
			t.Fatalf("waiting caller got %v; want ErrShutdown", err)
		}
	})
}

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

// shutdownGivingUp calls Shutdown with a context of d and fails unless it gives up,
// returning DeadlineExceeded, exactly when that context ends.
func shutdownGivingUp(t *testing.T, e *Engine, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < d || time.Since(start) > d+10*time.Millisecond {
		t.Fatalf("Shutdown = %v after %v; want DeadlineExceeded when its %v context ends", err, time.Since(start), d)
	}
}

// shutdownNow calls Shutdown with a context of 10s and fails unless it drains and
// returns nil.
func shutdownNow(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; want nil: nothing is left running", err)
	}
}

// TestShutdownStopsABatchFromStartingFunctionsAfterItGaveUp runs an ExecuteAll of 400
// functions that block until released, lets Shutdown give up on them, then releases
// them: the functions already running finish with their own results, and no function
// of the batch starts after Shutdown returned — the rest fail with ErrShutdown.
func TestShutdownStopsABatchFromStartingFunctionsAfterItGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		var shutDown atomic.Bool
		var started, startedAfter atomic.Int64
		fns := make([]func(context.Context) (int, error), 400)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) {
				started.Add(1)
				if shutDown.Load() {
					startedAfter.Add(1)
				}
				<-release
				return 1, nil
			}
		}
		var errs []error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, errs = ExecuteAll(context.Background(), e, policy.Policy(policy.None()), fns)
		}()
		time.Sleep(pipeline.BatchPatience) // the helpers join the blocked batch
		synctest.Wait()
		running := started.Load()
		shutdownGivingUp(t, e, time.Second)
		shutDown.Store(true)
		close(release)
		<-done
		if n := startedAfter.Load(); n != 0 {
			t.Errorf("%d functions of the batch started after Shutdown returned; want 0", n)
		}
		var ok, refused int64
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, policy.ErrShutdown):
				refused++
			default:
				t.Errorf("entry %d: %v; want nil or ErrShutdown", i, err)
			}
		}
		if ok != running || ok+refused != int64(len(fns)) {
			t.Errorf("%d entries succeeded and %d got ErrShutdown; want the %d running at Shutdown to succeed and the rest refused", ok, refused, running)
		}
	})
}

// TestShutdownEndsARetryBackoffWithErrShutdown retries a failing function with an hour
// of backoff: when Shutdown gives up, the call returns ErrShutdown at once, carrying the
// failure it was retrying, and the function never runs again.
func TestShutdownEndsARetryBackoffWithErrShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		var calls atomic.Int64
		var p policy.Policy = policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Hour})
		done := make(chan error, 1)
		t0 := time.Now()
		var returned time.Duration
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				calls.Add(1)
				return 0, errTemporary
			})
			returned = time.Since(t0)
			done <- err
		}()
		synctest.Wait()
		shutdownGivingUp(t, e, time.Second)
		err := <-done
		var pe *policy.Error
		if !errors.As(err, &pe) || !errors.Is(err, policy.ErrShutdown) || !errors.Is(err, errTemporary) || pe.Attempts != 1 || returned != time.Second {
			t.Fatalf("the retry in its backoff: %v at %v; want ErrShutdown carrying the failure after 1 attempt, when Shutdown gave up (1s)", err, returned)
		}
		time.Sleep(2 * time.Hour)
		if n := calls.Load(); n != 1 {
			t.Errorf("the function ran %d times; want 1: no attempt starts after Shutdown", n)
		}
	})
}

// TestShutdownRefusesTheNextAttemptOfARetry retries with no backoff a function still
// running when Shutdown gives up: when it then fails, the retry's next attempt does not
// pass the shutdown gate, and the call returns ErrShutdown.
func TestShutdownRefusesTheNextAttemptOfARetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		var calls atomic.Int64
		var p policy.Policy = policy.Retry(3).WithBackoff(policy.FixedBackoff{})
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				calls.Add(1)
				<-release
				return 0, errTemporary
			})
			done <- err
		}()
		synctest.Wait()
		shutdownGivingUp(t, e, time.Second)
		close(release)
		var pe *policy.Error
		if err := <-done; !errors.As(err, &pe) || !errors.Is(err, policy.ErrShutdown) || !errors.Is(err, errTemporary) || pe.Attempts != 1 {
			t.Errorf("the retry after Shutdown: %v; want ErrShutdown carrying the failure after 1 attempt", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("the function ran %d times; want 1: no attempt starts after Shutdown", n)
		}
	})
}

// TestRetryAttemptsDoesNotCountABackoffCancelledBeforeTheAttempt cancels a caller
// during the backoff after its first failure: no retry attempt ran, so RetryAttempts
// stays 0.
func TestRetryAttemptsDoesNotCountABackoffCancelledBeforeTheAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		var p policy.Policy = policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(500*time.Millisecond, cancel)
		if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, policy.ErrCancelled) {
			t.Fatalf("cancelled in the backoff: %v; want ErrCancelled", err)
		}
		if m := e.Metrics(); m.RetryAttempts != 0 {
			t.Errorf("RetryAttempts = %d; want 0: the backoff was cancelled before the attempt ran", m.RetryAttempts)
		}
		shutdownNow(t, e)
	})
}

// TestAttemptsUnderAnOuterTimeoutCountEveryStartedAttempt runs Combine(Timeout, Retry):
// the first attempt fails, the second ignores its context past the timeout. The
// function started twice, so the timeout error says 2 attempts, and so does an actor
// client's Result.
func TestAttemptsUnderAnOuterTimeoutCountEveryStartedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		var p policy.Policy = policy.Combine(policy.Timeout(time.Second), policy.Retry(3).WithBackoff(policy.FixedBackoff{}))
		var calls atomic.Int64
		fn := func(context.Context) (int, error) {
			if calls.Add(1) == 1 {
				return 0, errTemporary
			}
			<-release
			return 1, nil
		}
		_, err := ExecuteWithPolicy(context.Background(), e, p, fn)
		var pe *policy.Error
		if !errors.As(err, &pe) || !errors.Is(err, policy.ErrTimeout) || pe.Attempts != 2 || calls.Load() != 2 {
			t.Errorf("%v (function started %d times); want ErrTimeout after 2 attempts", err, calls.Load())
		}
		close(release)
		shutdownNow(t, e)
	})
}

// panickyBackoff is a user's Backoff whose Delay panics.
type panickyBackoff struct{}

func (panickyBackoff) Delay(int) time.Duration { panic("backoff boom") }
func (panickyBackoff) Validate() error         { return nil }

// TestPanicInABackoffIsRecoveredAsErrPanic retries with a Backoff that panics, alone
// and inside a Timeout stage (where it used to crash the process): the call returns
// ErrPanic after its one attempt, the panic is counted, and the engine keeps working.
func TestPanicInABackoffIsRecoveredAsErrPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		retry := policy.Retry(3).WithBackoff(panickyBackoff{})
		for i, p := range []policy.Policy{retry, policy.Combine(policy.Timeout(time.Second), retry), policy.Combine(retry, policy.Timeout(time.Second))} {
			_, err := ExecuteWithPolicy(context.Background(), e, p, failing)
			var pe *policy.Error
			if !errors.As(err, &pe) || !errors.Is(err, policy.ErrPanic) || pe.Attempts != 1 {
				t.Errorf("%v: %v; want ErrPanic after 1 attempt", p, err)
			}
			if m := e.Metrics(); m.Panics != uint64(i+1) || m.FailedOperations != uint64(i+1) {
				t.Errorf("%v: %d panics, %d failed operations; want %d of each", p, m.Panics, m.FailedOperations, i+1)
			}
		}
		if v, err := ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.Combine(policy.Timeout(time.Second), retry)), ok42); v != 42 || err != nil {
			t.Errorf("after the panics: %d, %v; want 42", v, err)
		}
		shutdownNow(t, e)
	})
}

// goexitFn calls runtime.Goexit, as t.FailNow and require.* do.
func goexitFn(context.Context) (int, error) {
	runtime.Goexit()
	return 0, nil
}

// TestGoexitInAFunctionIsAFailedOperationAndAPanic calls runtime.Goexit in fn under each
// kind of policy outside a Timeout stage: the call is one failed operation and one
// panic, Shutdown does not wait for it, and a breaker counts it as a failure — a
// half-open probe that exits this way reopens the breaker instead of holding the probe
// slot for good.
func TestGoexitInAFunctionIsAFailedOperationAndAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		policies := []policy.Policy{
			policy.None(),
			policy.Retry(3),
			policy.Combine(policy.Retry(3), policy.CircuitBreaker(1, time.Second).Named("goexit")),
			policy.RateLimit(100).Named("goexit"),
			policy.Combine(policy.Timeout(time.Second), policy.Retry(2)),
		}
		goexit := func(p policy.Policy) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, err := ExecuteWithPolicy(context.Background(), e, p, goexitFn)
				// A Timeout stage runs fn on a goroutine of its own, so its caller returns.
				if !strings.Contains(p.String(), "timeout") || !errors.Is(err, policy.ErrPanic) {
					t.Errorf("%v: ExecuteWithPolicy returned %v after runtime.Goexit", p, err)
				}
			}()
			<-done
		}
		for i, p := range policies {
			goexit(p)
			if m := e.Metrics(); m.TotalOperations != uint64(i+1) || m.FailedOperations != uint64(i+1) || m.Panics != uint64(i+1) {
				t.Errorf("after %v: %d operations, %d failed, %d panics; want %d of each", p, m.TotalOperations, m.FailedOperations, m.Panics, i+1)
			}
		}
		if s := e.Metrics().Breakers["goexit"]; s.State != messages.Open || s.Failures != 1 {
			t.Errorf("breaker after a Goexit: %v with %d failures; want open after 1 failure", s.State, s.Failures)
		}
		time.Sleep(time.Second) // half-open
		synctest.Wait()
		var breaker policy.Policy = policy.CircuitBreaker(1, time.Second).Named("goexit")
		goexit(breaker)
		if s := e.Metrics().Breakers["goexit"]; s.State != messages.Open {
			t.Errorf("breaker after its probe called Goexit: %v; want open again", s.State)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if v, err := ExecuteWithPolicy(context.Background(), e, breaker, ok42); v != 42 || err != nil {
			t.Errorf("the next probe: %d, %v; want 42", v, err)
		}
		shutdownNow(t, e)
	})
}

// TestGoexitInExecuteAllRunsTheRestOfTheBatch runs a batch in which one function calls
// runtime.Goexit: every other function runs exactly once, the batch counts one failed
// operation and one panic, and Shutdown does not wait for it. When the goroutine that
// exited was a helper, ExecuteAll returns ErrPanic for that function and the others'
// results.
func TestGoexitInExecuteAllRunsTheRestOfTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		const n, exiting = 2048, 1000
		ran := make([]atomic.Int32, n)
		fns := make([]func(context.Context) (int, error), n)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				if i == exiting {
					return goexitFn(ctx)
				}
				ran[i].Add(1)
				return i, nil
			}
		}
		var vals []int
		var errs []error
		done := make(chan struct{})
		go func() {
			defer close(done)
			vals, errs = ExecuteAll(context.Background(), e, policy.Policy(policy.None()), fns)
		}()
		<-done
		for i := range ran {
			if got := ran[i].Load(); i != exiting && got != 1 {
				t.Fatalf("function %d ran %d times; want once", i, got)
			}
		}
		if m := e.Metrics(); m.TotalOperations != n || m.FailedOperations != 1 || m.Panics != 1 {
			t.Errorf("%d operations, %d failed, %d panics; want %d, 1, 1", m.TotalOperations, m.FailedOperations, m.Panics, n)
		}
		if errs != nil { // the helper that ran fns[exiting] exited, not the caller
			for i, err := range errs {
				if i == exiting && !errors.Is(err, policy.ErrPanic) || i != exiting && (err != nil || vals[i] != i) {
					t.Errorf("entry %d: %d, %v", i, vals[i], err)
				}
			}
		}
		shutdownNow(t, e)
	})
}

// blockingClient is an actor client's process whose delivery of a Result waits until
// deliver is closed.
type blockingClient struct {
	deliver chan struct{}
	results chan *messages.Result
}

func (c *blockingClient) SendUserMessage(_ *actor.PID, m any) {
	if r, ok := m.(*messages.Result); ok {
		<-c.deliver
		c.results <- r
	}
}
func (c *blockingClient) SendSystemMessage(*actor.PID, any) {}
func (c *blockingClient) Stop(*actor.PID)                   {}

// TestShutdownWaitsUntilAnActorClientsResultIsSent starts an actor client's operation,
// starts Shutdown, and lets the function return: Shutdown does not return while the
// engine's goroutine is still sending the Result.
func TestShutdownWaitsUntilAnActorClientsResultIsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		client := &blockingClient{deliver: make(chan struct{}), results: make(chan *messages.Result, 1)}
		pid, _ := e.System().ProcessRegistry.Add(client, "blocking-client")
		defer e.System().ProcessRegistry.Remove(pid)
		release := make(chan struct{})
		injectAs(e, e.PID(), &messages.Execute{ID: "job", Fn: func(context.Context) (any, error) {
			<-release
			return "done", nil
		}}, pid)
		synctest.Wait()
		var returned atomic.Bool
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			shut <- e.Shutdown(ctx)
			returned.Store(true)
		}()
		synctest.Wait()
		close(release)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if returned.Load() {
			t.Errorf("Shutdown returned while the engine was still sending the actor client's Result")
		}
		close(client.deliver)
		if r := <-client.results; r.Value != "done" || r.Err != nil {
			t.Errorf("result %+v; want done", r)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown = %v; want nil once the Result is sent", err)
		}
	})
}

// TestGoexitInAnActorClientsFunctionIsAnswered runs an actor client's function that
// calls runtime.Goexit: the client gets a Result with ErrPanic instead of waiting
// forever, and Shutdown does not wait for the call.
func TestGoexitInAnActorClientsFunctionIsAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		client := &blockingClient{deliver: make(chan struct{}), results: make(chan *messages.Result, 1)}
		close(client.deliver)
		pid, _ := e.System().ProcessRegistry.Add(client, "goexit-client")
		defer e.System().ProcessRegistry.Remove(pid)
		injectAs(e, e.PID(), &messages.Execute{ID: "job", Fn: func(context.Context) (any, error) {
			runtime.Goexit()
			return nil, nil
		}}, pid)
		synctest.Wait()
		select {
		case r := <-client.results:
			if !errors.Is(r.Err, policy.ErrPanic) || r.Attempts != 1 {
				t.Errorf("result %+v; want ErrPanic after 1 attempt", r)
			}
		default:
			t.Fatal("no Result for a function that called runtime.Goexit")
		}
		shutdownNow(t, e)
	})
}

// panickyValidate is a user's Backoff whose Validate panics.
type panickyValidate struct{ policy.FixedBackoff }

func (panickyValidate) Validate() error { panic("validate boom") }

// TestPanicInABackoffsValidateIsAnInvalidPolicy runs a retry whose Backoff panics in
// Validate, directly, combined, in a batch and from an actor client (on a goroutine of
// the engine, where the panic would end the process): each is refused with
// ErrInvalidPolicy, runs nothing, and is not an operation.
func TestPanicInABackoffsValidateIsAnInvalidPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		retry := policy.Retry(3).WithBackoff(panickyValidate{})
		ran := false
		fn := func(context.Context) (int, error) { ran = true; return 1, nil }
		for _, p := range []policy.Policy{retry, policy.Combine(policy.Timeout(time.Second), retry)} {
			if _, err := ExecuteWithPolicy(context.Background(), e, p, fn); !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "validate boom") {
				t.Errorf("%v: %v; want ErrInvalidPolicy carrying the panic", p, err)
			}
			if _, errs := ExecuteAll(context.Background(), e, p, []func(context.Context) (int, error){fn}); !errors.Is(errs[0], policy.ErrInvalidPolicy) {
				t.Errorf("%v in a batch: %v; want ErrInvalidPolicy", p, errs[0])
			}
		}
		client := &blockingClient{deliver: make(chan struct{}), results: make(chan *messages.Result, 1)}
		close(client.deliver)
		pid, _ := e.System().ProcessRegistry.Add(client, "validate-client")
		defer e.System().ProcessRegistry.Remove(pid)
		injectAs(e, e.PID(), &messages.Execute{ID: "job", Policy: retry, Fn: func(context.Context) (any, error) { return fn(context.Background()) }}, pid)
		synctest.Wait()
		if r := <-client.results; !errors.Is(r.Err, policy.ErrInvalidPolicy) {
			t.Errorf("actor client: %+v; want ErrInvalidPolicy", r)
		}
		if m := e.Metrics(); ran || m.TotalOperations != 0 {
			t.Errorf("ran %v, %d operations; want nothing run and no operation", ran, m.TotalOperations)
		}
		shutdownNow(t, e)
	})
}

// shutdownPolicies are the policies the shutdown tests mix: plain, retried, through a
// breaker, queued in a wait-mode limiter, and under a timeout that abandons functions
// which ignore their context.
func shutdownPolicies() []policy.Policy {
	return []policy.Policy{
		policy.None(),
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
		policy.CircuitBreaker(100000, time.Second).Named("sd-breaker"),
		policy.RateLimit(2000).WithBurst(100).WithMaxWait(5 * time.Second).Named("sd-limiter"),
		policy.Combine(policy.Timeout(100*time.Millisecond), policy.CircuitBreaker(100000, time.Second).Named("sd-breaker")),
	}
}

// TestShutdownUnderLoadDrainsThousandsOfCallsThenReturns starts 3000 calls whose
// functions run up to 300ms (some ignoring their context, so a timeout abandons them),
// calls Shutdown at 50ms, and checks that Shutdown returned only once every call and
// every abandoned function had finished, that every call begun before it ran to its
// own end (none got ErrShutdown), and that calls made during the drain got ErrShutdown
// at once without counting as operations.
func TestShutdownUnderLoadDrainsThousandsOfCallsThenReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		policies := shutdownPolicies()
		const calls = 3000
		t0 := time.Now()
		var lastReturn, lastFunction atomic.Int64 // since t0
		later := func(v *atomic.Int64) {
			d := int64(time.Since(t0))
			for {
				old := v.Load()
				if d <= old || v.CompareAndSwap(old, d) {
					return
				}
			}
		}
		var shutdownErrs, unexpected atomic.Uint64
		var wg sync.WaitGroup
		for i := range calls {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			sleep := time.Duration(rng.IntN(300)) * time.Millisecond
			ignore := rng.IntN(3) == 0
			p := policies[i%len(policies)]
			wg.Go(func() {
				_, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
					defer later(&lastFunction)
					if ignore {
						time.Sleep(sleep)
						return 1, nil
					}
					select {
					case <-time.After(sleep):
						return 1, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
				later(&lastReturn)
				switch {
				case errors.Is(err, policy.ErrShutdown):
					shutdownErrs.Add(1)
				case err != nil && !errors.Is(err, policy.ErrTimeout):
					unexpected.Add(1)
					t.Errorf("in-flight call: %v", err)
				}
			})
		}
		synctest.Wait() // every call is in flight

		time.Sleep(50 * time.Millisecond)
		var stopped atomic.Int64
		var atReturn Metrics
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := e.Shutdown(ctx)
			atReturn = e.Metrics()
			later(&stopped)
			shut <- err
		}()
		synctest.Wait()

		// Calls made during the drain are refused at once and are not operations.
		for range 100 {
			start := time.Now()
			if _, err := ExecuteWithPolicy(context.Background(), e, policies[1], ok42); !errors.Is(err, policy.ErrShutdown) || time.Since(start) != 0 {
				t.Fatalf("a call during the drain: %v after %v; want ErrShutdown at once", err, time.Since(start))
			}
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v; want nil, every call finished well before its 10s context", err)
		}
		wg.Wait()
		if shutdownErrs.Load() != 0 {
			t.Errorf("%d calls begun before Shutdown got ErrShutdown; the drain must let them finish", shutdownErrs.Load())
		}
		last := max(lastReturn.Load(), lastFunction.Load())
		if stopped.Load() < last || stopped.Load() > last+int64(10*time.Millisecond) {
			t.Errorf("Shutdown returned at %v; the last call or function finished at %v", time.Duration(stopped.Load()), time.Duration(last))
		}
		if atReturn.TotalOperations != calls || atReturn.SuccessfulOperations+atReturn.FailedOperations != calls {
			t.Errorf("at Shutdown's return: %d operations (%d ok, %d failed); want all %d calls counted, the 100 refused ones not",
				atReturn.TotalOperations, atReturn.SuccessfulOperations, atReturn.FailedOperations, calls)
		}
		t.Logf("%d calls drained; Shutdown returned at %v, the last function ended at %v; %d timed out and were abandoned",
			calls, time.Duration(stopped.Load()), time.Duration(lastFunction.Load()), atReturn.AbandonedCalls)
	})
}

// TestShutdownUnderLoadStopsAtItsContextAndReleasesWaiters starts 2000 calls that
// cannot finish by themselves — functions blocked until released (plain, through a
// breaker, under a long timeout) and callers queued in a limiter that has no token for
// days — and checks that Shutdown returns its context's error exactly when that
// context ends, that the queued callers then get ErrShutdown, that the blocked
// functions' callers get their functions' results once released (a failure's report to
// the stopped breaker does not hang), and that nothing is left running (synctest fails if a
// goroutine of the bubble is left; goleak checks the rest).
func TestShutdownUnderLoadStopsAtItsContextAndReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		blocked := func(context.Context) (int, error) { <-release; return 1, nil }
		var empty policy.Policy = policy.RateLimit(0.001).WithBurst(1).WithMaxWait(365 * 24 * time.Hour).Named("sd-empty")
		ExecuteWithPolicy(context.Background(), e, empty, ok42) // takes the only token
		failAfterRelease := func(context.Context) (int, error) { <-release; return 0, errTemporary }
		kinds := []struct {
			name string
			p    policy.Policy
			fn   func(context.Context) (int, error)
			want error // what the caller gets
		}{
			{"blocked", policy.None(), blocked, nil},
			{"blocked behind a breaker", policy.CircuitBreaker(5000, time.Second).Named("sd-b"), blocked, nil},
			{"blocked behind a breaker, then failing", policy.CircuitBreaker(5000, time.Second).Named("sd-b"), failAfterRelease, errTemporary},
			{"blocked under a timeout", policy.Timeout(time.Hour), blocked, nil},
			{"queued in a limiter", empty, blocked, policy.ErrShutdown},
		}
		const calls = 2000
		results := make([]error, calls)
		returned := make([]time.Duration, calls)
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				k := kinds[i%len(kinds)]
				_, results[i] = ExecuteWithPolicy(context.Background(), e, k.p, k.fn)
				returned[i] = time.Since(t0)
			})
		}
		synctest.Wait()
		if w := e.Metrics().Limiters["sd-empty"].Waiting; w != calls/len(kinds) {
			t.Fatalf("%d callers queued in the limiter; want %d", w, calls/len(kinds))
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Shutdown gives up at 1s, then stops the actors (a few milliseconds of fake time:
		// it lets the actor system's dead-letter throttle run out).
		if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) < time.Second || time.Since(t0) > time.Second+10*time.Millisecond {
			t.Fatalf("Shutdown = %v after %v; want DeadlineExceeded when its 1s context ends", err, time.Since(t0))
		}
		if _, err := ExecuteWithPolicy(context.Background(), e, policy.None(), ok42); !errors.Is(err, policy.ErrShutdown) {
			t.Fatalf("a call after Shutdown: %v; want ErrShutdown", err)
		}
		synctest.Wait()
		for i := range calls {
			if k := kinds[i%len(kinds)]; k.want == policy.ErrShutdown && (!errors.Is(results[i], policy.ErrShutdown) || returned[i] != time.Second) {
				t.Fatalf("%s: %v at %v; want ErrShutdown when Shutdown gave up (1s)", k.name, results[i], returned[i])
			}
		}

		close(release)
		wg.Wait()
		// A failing function's report to its stopped breaker becomes a dead letter, and
		// protoactor logs dead letters through a throttle whose goroutine lives one
		// throttle interval: let it end before the bubble does
		// (TestNoEngineGoroutineStartsAfterShutdown shows it).
		time.Sleep(10 * deadLetterInterval)
		for i := range calls {
			if k := kinds[i%len(kinds)]; k.want != policy.ErrShutdown && !errors.Is(results[i], k.want) {
				t.Fatalf("%s, released after Shutdown: %v; want the function's result (%v)", k.name, results[i], k.want)
			}
		}
		m := e.Metrics()
		if m.TotalOperations != calls+1 || m.FailedOperations != uint64(2*calls/len(kinds)) {
			t.Errorf("operations %d (failed %d); want %d, of which the %d queued and failing callers failed", m.TotalOperations, m.FailedOperations, calls+1, 2*calls/len(kinds))
		}
	})
}

// TestShutdownRacingThousandsOfCallsCountsEachExactlyOnce runs Shutdown while 4000
// calls are being started: each call is either refused with ErrShutdown and not
// counted, or admitted and drained. At Shutdown's return the metrics already count
// every admitted call, nothing hangs, and no goroutine is left. The goroutines race for
// real; the clock is the bubble's, so a loaded machine cannot make the 100ms Timeout
// fire before a function that sleeps at most 20ms returns.
func TestShutdownRacingThousandsOfCallsCountsEachExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		policies := shutdownPolicies()
		const calls = 4000
		var admitted, refused atomic.Int64
		var wg sync.WaitGroup
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var took time.Duration
		var atReturn Metrics
		shut := make(chan error, 1)
		for i := range calls {
			if i == calls/2 {
				go func() {
					start := time.Now()
					err := e.Shutdown(ctx)
					took, atReturn = time.Since(start), e.Metrics()
					shut <- err
				}()
			}
			rng := rand.New(rand.NewPCG(uint64(i), 13))
			sleep := time.Duration(rng.IntN(20)) * time.Millisecond
			p := policies[i%len(policies)]
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := ExecuteWithPolicy(cctx, e, p, func(context.Context) (int, error) {
					time.Sleep(sleep)
					return 1, nil
				})
				switch {
				case errors.Is(err, policy.ErrShutdown):
					refused.Add(1)
				case err == nil:
					admitted.Add(1)
				default:
					admitted.Add(1)
					t.Errorf("admitted call: %v", err)
				}
			})
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("calls still running 30s after Shutdown returned: %d admitted, %d refused so far", admitted.Load(), refused.Load())
		}
		if uint64(admitted.Load()) != atReturn.TotalOperations {
			t.Errorf("%d calls were admitted and drained; Metrics at Shutdown's return counted %d operations", admitted.Load(), atReturn.TotalOperations)
		}
		if admitted.Load()+refused.Load() != calls {
			t.Errorf("admitted %d + refused %d != %d calls", admitted.Load(), refused.Load(), calls)
		}
		t.Logf("Shutdown took %v: %d calls admitted and drained, %d refused with ErrShutdown", took, admitted.Load(), refused.Load())
	})
}

// TestNoEngineGoroutineStartsAfterShutdown shows a minor engine bug: a call still
// running when Shutdown gave up, whose function then fails, reports the failure to its
// breaker, which has stopped. The Report becomes a dead letter, and protoactor starts a
// goroutine (its dead-letter log throttle, living one throttle interval) after Shutdown
// returned. A synctest bubble that ends right after such a call panics with "blocked
// goroutines remain". The engine should not send to its actors once it is shut down
// (inbox.ask could return at once when the engine's done channel or the actor's
// stopped channel is closed).
func TestNoEngineGoroutineStartsAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		done := make(chan error, 1)
		var p policy.Policy = policy.CircuitBreaker(5, time.Second).Named("late")
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				<-release
				return 0, errTemporary
			})
			done <- err
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		close(release)
		if err := <-done; !errors.Is(err, errTemporary) {
			t.Fatalf("the late call: %v", err)
		}
		synctest.Wait()
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		time.Sleep(10 * deadLetterInterval) // let it end, so the bubble can
		if strings.Contains(stacks, "NewThrottle") {
			t.Fatalf("a goroutine of the engine's actor system started after Shutdown returned:\n%s", stacks)
		}
	})
}

// TestMailboxLimitBoundsAFloodedActor blocks a breaker or a limiter actor and floods it
// from 64 callers that give up after 10ms and call again, so requests arrive far faster
// than the actor drains them (it drains none). With WithMailboxLimit(n) the mailbox
// stops growing: a call that finds n messages queued fails at once with ErrOverloaded.
//
// The bounds asserted: a caller checks the depth, then posts one request, so at most
// (n-1) + callers requests get in (every caller may pass the check before any posts).
// A breaker's callers post nothing else while it is blocked. A wait-mode limiter's
// caller that gives up also posts a Cancel, which is not gated (it frees a queue slot),
// at most one per request, so its depth stays below 2·(n + callers). Without a limit
// the same flood grows the mailbox by one request per caller every 10ms, which the
// control rows show.
func TestMailboxLimitBoundsAFloodedActor(t *testing.T) {
	const callers, rounds, limit = 64, 40, 32
	tests := []struct {
		name     string
		limit    int
		p        policy.Policy
		maxDepth int64 // the bound asserted; for the control rows, the depth must exceed it
	}{
		{"breaker limited", limit, policy.CircuitBreaker(1, time.Second).Named("flood"), limit + callers},
		{"limiter limited", limit, policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Hour).Named("flood"), 2 * (limit + callers)},
		{"breaker unlimited (control)", 0, policy.CircuitBreaker(1, time.Second).Named("flood"), limit + callers},
		{"limiter unlimited (control)", 0, policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Hour).Named("flood"), 2 * (limit + callers)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var opts []Option
				if tt.limit > 0 {
					opts = append(opts, WithMailboxLimit(tt.limit))
				}
				e := newEngine(t, opts...)
				ctx := context.Background()
				// Bring the actor to where every call must ask it: a half-open breaker, a
				// limiter with no token.
				var depth func() int64
				var target *actor.PID
				switch p := tt.p.(type) {
				case policy.CircuitBreakerPolicy:
					ExecuteWithPolicy(ctx, e, tt.p, failing)
					time.Sleep(time.Second)
					l := liveBreakers(e)[p.Name]
					depth, target = l.MailboxDepth, l.PID()
				case policy.RateLimitPolicy:
					ExecuteWithPolicy(ctx, e, tt.p, ok42)
					l := liveLimiters(e)[p.Name]
					depth, target = l.MailboxDepth, l.PID()
				}
				synctest.Wait()
				heapBefore := relHeap()

				release := make(chan struct{})
				inject(e, target, &fault.Block{Release: release})
				synctest.Wait()

				var peak atomic.Int64
				observe := func() {
					d := depth()
					for {
						old := peak.Load()
						if d <= old || peak.CompareAndSwap(old, d) {
							return
						}
					}
				}
				var overloaded, gaveUp, slowOverload atomic.Uint64
				var other sync.Map
				var wg sync.WaitGroup
				for range callers {
					wg.Go(func() {
						for range rounds {
							cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
							start := time.Now()
							_, err := ExecuteWithPolicy(cctx, e, tt.p, ok42)
							cancel()
							observe()
							switch {
							case errors.Is(err, policy.ErrOverloaded):
								overloaded.Add(1)
								if time.Since(start) != 0 {
									slowOverload.Add(1)
								}
								time.Sleep(time.Millisecond) // a real client would back off
							case errors.Is(err, policy.ErrCancelled):
								gaveUp.Add(1)
							default:
								other.Store(err, true)
							}
						}
					})
				}
				wg.Wait()
				synctest.Wait()
				observe()
				heapFlooded := relHeap()
				other.Range(func(err, _ any) bool {
					t.Errorf("a flooding call got %v; want ErrOverloaded or ErrCancelled", err)
					return true
				})
				t.Logf("depth peak %d (bound %d), %d calls overloaded at once, %d gave up after 10ms, heap %+.1f KiB while flooded",
					peak.Load(), tt.maxDepth, overloaded.Load(), gaveUp.Load(), float64(relGrowth(heapBefore, heapFlooded))/1024)

				if tt.limit == 0 {
					if peak.Load() <= 4*tt.maxDepth {
						t.Fatalf("control: depth peaked at %d; the flood should grow an unlimited mailbox far past %d", peak.Load(), tt.maxDepth)
					}
				} else {
					if peak.Load() > tt.maxDepth {
						t.Errorf("mailbox depth peaked at %d; WithMailboxLimit(%d) with %d callers bounds it at %d", peak.Load(), tt.limit, callers, tt.maxDepth)
					}
					if overloaded.Load() == 0 || slowOverload.Load() > 0 {
						t.Errorf("%d calls got ErrOverloaded, %d of them after waiting; want many, all at once", overloaded.Load(), slowOverload.Load())
					}
					// The queued messages are all that the flood keeps: a few hundred bytes each.
					if g := relGrowth(heapBefore, heapFlooded); g > 1<<20 {
						t.Errorf("heap grew %.1f MiB while flooded; the limit keeps the backlog to %d messages", relMiB(g), tt.maxDepth)
					}
				}

				// Released, the actor drains the backlog, and then serves calls again.
				close(release)
				synctest.Wait()
				if d := depth(); d != 0 {
					t.Errorf("mailbox depth %d after the actor drained; want 0", d)
				}
				time.Sleep(2 * time.Second)
				if _, err := ExecuteWithPolicy(ctx, e, tt.p, ok42); err != nil {
					t.Errorf("after the flood: %v", err)
				}
			})
		})
	}
}

// TestMailboxLimitBoundsClosedStateFailureReports blocks a closed breaker's actor and
// lets 50 callers fail one after the other, each waiting for its failure to be taken in.
// Past WithMailboxLimit(4) a failure must not queue a Report of its own: the mailbox
// stays at the limit plus one message that carries the rest. No failure is lost: with
// FailureThreshold 50 the breaker opens once the actor catches up.
func TestMailboxLimitBoundsClosedStateFailureReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 4, 50
		e := newEngine(t, WithMailboxLimit(limit))
		var p policy.Policy = policy.CircuitBreaker(callers, time.Minute).Named("flood")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil { // creates the breaker
			t.Fatal(err)
		}
		l := breakerOf(e, "flood")
		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		synctest.Wait()

		errs := make(chan error, callers)
		var peak int64
		for range callers {
			go func() {
				_, err := ExecuteWithPolicy(ctx, e, p, failing)
				errs <- err
			}()
			synctest.Wait() // this caller failed and waits for the actor
			peak = max(peak, l.MailboxDepth())
		}
		if peak > limit+1 {
			t.Errorf("mailbox depth peaked at %d with WithMailboxLimit(%d); want at most %d", peak, limit, limit+1)
		}
		select {
		case err := <-errs:
			t.Fatalf("a caller returned (%v) before the actor took its failure in", err)
		default:
		}
		close(release)
		for range callers {
			if err := <-errs; !errors.Is(err, errTemporary) {
				t.Errorf("a failing call returned %v; want its own error", err)
			}
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("after %d failures with threshold %d: %v; want ErrCircuitOpen (a failure was lost)", callers, callers, err)
		}
		if s := e.Metrics().Breakers["flood"]; s.Failures != callers || s.Trips != 1 {
			t.Fatalf("breaker stats %+v; want %d failures and 1 trip", s, callers)
		}
	})
}

// TestMailboxLimitKeepsThresholdsExactForASequentialCaller keeps a breaker's mailbox at
// WithMailboxLimit(1) with a blocked message while a single caller fails, so its failure
// takes the path past the limit. The caller still returns only once the failure is
// counted: the third failure with threshold 3 opens the breaker before the next call,
// and not earlier.
func TestMailboxLimitKeepsThresholdsExactForASequentialCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithMailboxLimit(1))
		var p policy.Policy = policy.CircuitBreaker(3, time.Minute).Named("seq")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		l := breakerOf(e, "seq")
		for i := 1; i <= 3; i++ {
			release := make(chan struct{})
			inject(e, l.PID(), &fault.Block{Release: release})
			synctest.Wait()
			done := make(chan error, 1)
			go func() {
				_, err := ExecuteWithPolicy(ctx, e, p, failing)
				done <- err
			}()
			synctest.Wait()
			if d := l.MailboxDepth(); d > 2 {
				t.Fatalf("failure %d: mailbox depth %d; want the block and at most one more message", i, d)
			}
			close(release)
			if err := <-done; !errors.Is(err, errTemporary) {
				t.Fatalf("failure %d returned %v; want its own error", i, err)
			}
			// What the next call would see (a call itself would reset the count).
			if want := i == 3; !l.View().Pass != want {
				t.Fatalf("after failure %d the view lets calls pass: %v; want %v", i, l.View().Pass, !want)
			}
		}
	})
}

// TestMailboxLimitLosesNoConcurrentFailure fails 1,280 calls from 64 goroutines on a
// breaker whose mailbox limit is 1, so most failures race past the limit into batches
// while the actor takes earlier ones in. Every failure must be counted once.
func TestMailboxLimitLosesNoConcurrentFailure(t *testing.T) {
	const goroutines, each = 64, 20
	e := newEngine(t, WithMailboxLimit(1))
	var p policy.Policy = policy.CircuitBreaker(1_000_000, time.Minute).Named("race")
	ctx := context.Background()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
					t.Errorf("a failing call returned %v; want its own error", err)
				}
			}
		})
	}
	wg.Wait()
	if s := e.Metrics().Breakers["race"]; s.Failures != goroutines*each || s.State != messages.Closed {
		t.Fatalf("breaker stats %+v; want %d failures, closed", s, goroutines*each)
	}
}

// A function that fails once its deadline has passed by the clock failed because of the
// Timeout, even when it returns before the stage's timer has ended its context: a gRPC
// client, for one, turns the server's reset into DeadlineExceeded by reading the
// deadline itself. Both modes report ErrTimeout every time, whichever wakes first.
func TestTimeoutCountsAFailureAtTheDeadlineAsATimeout(t *testing.T) {
	for _, tp := range []policy.TimeoutPolicy{policy.Timeout(time.Second), coop(time.Second)} {
		t.Run(tp.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(t)
				own := errors.New("callee saw its deadline")
				for i := range 200 {
					_, err := ExecuteWithPolicy(context.Background(), e, tp, func(ctx context.Context) (int, error) {
						d, _ := ctx.Deadline()
						time.Sleep(time.Until(d)) // wakes at the deadline, as the stage's timer does
						return 0, own
					})
					if !errors.Is(err, policy.ErrTimeout) {
						t.Fatalf("run %d: err = %v; want ErrTimeout", i, err)
					}
				}
				if n := e.Metrics().TimeoutCount; n != 200 {
					t.Fatalf("TimeoutCount = %d; want 200", n)
				}
			})
		})
	}
}

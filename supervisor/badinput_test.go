package supervisor

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// badLoad runs calls through a named breaker and limiter, a retry and a timeout on a
// few goroutines until stopped, and counts what they got. Bad input elsewhere must not
// disturb it: every one of its calls must succeed.
type badLoad struct {
	ok, failed atomic.Uint64
	first      atomic.Pointer[error]
	stop       chan struct{}
	running    chan struct{} // closed when the load's first call returned
	once       sync.Once
	wg         sync.WaitGroup
}

// startBadLoad starts the load and returns once its first call has returned, so the bad
// input that follows runs beside a load that is running, however the goroutines are
// scheduled (with -cpu 1 the test used to finish before any of them ran).
func startBadLoad(e *Engine) *badLoad {
	l := &badLoad{stop: make(chan struct{}), running: make(chan struct{})}
	var p policy.Policy = policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{}),
		policy.CircuitBreaker(5, time.Second).Named("bi-load"),
		policy.RateLimit(1e6).Named("bi-load"),
		policy.Timeout(5*time.Second))
	for range 8 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
					l.failed.Add(1)
					l.first.CompareAndSwap(nil, &err)
				} else {
					l.ok.Add(1)
				}
				l.once.Do(func() { close(l.running) })
			}
		})
	}
	<-l.running
	return l
}

func (l *badLoad) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if l.failed.Load() > 0 {
		t.Errorf("the load running beside the bad input failed %d times (first: %v); it must not be disturbed", l.failed.Load(), *l.first.Load())
	}
	if l.ok.Load() == 0 {
		t.Error("the load running beside the bad input made no call")
	}
	t.Logf("load beside the bad input: %d calls, all successful", l.ok.Load())
}

// TestBadInputIsRefusedWithErrInvalidPolicyNamingTheProblem feeds every entry point
// nil functions, policies, contexts, operations and engines, empty names, and
// out-of-range numbers (zero, negative, NaN, ±Inf, math.MinInt64), while a load runs
// through the same engine — including invalid registrations of the very names the load
// uses. Each bad input must return an error matching ErrInvalidPolicy whose message
// names the problem, never panic, never run the function, and never count as an
// operation; the load must not see a single failure.
func TestBadInputIsRefusedWithErrInvalidPolicyNamingTheProblem(t *testing.T) {
	e := newEngine(t)
	before := e.Metrics()
	load := startBadLoad(e)

	ctx := context.Background()
	var nilCtx context.Context
	var ran atomic.Bool
	fn := func(context.Context) (int, error) { ran.Store(true); return 1, nil }
	run := func(p policy.Policy) func() error {
		return func() error { _, err := ExecuteWithPolicy(ctx, e, p, fn); return err }
	}
	self := policy.Combine(policy.None())
	self.Policies[0] = self // contains itself, through the shared slice
	ptr := policy.Retry(2)

	tests := []struct {
		name string
		call func() error
		want string // in the error message
	}{
		{"ExecuteWithPolicy nil function", func() error { _, err := ExecuteWithPolicy[int](ctx, e, policy.None(), nil); return err }, "function is nil"},
		{"ExecuteWithPolicy nil function with a breaker", func() error {
			_, err := ExecuteWithPolicy[int](ctx, e, policy.Policy(policy.CircuitBreaker(1, time.Hour).Named("bi-load")), nil)
			return err
		}, "function is nil"},
		{"Run nil function", func() error { return Run(ctx, e, policy.None(), nil) }, "function is nil"},
		{"ExecuteAll nil function entry", func() error {
			vals, errs := ExecuteAll(ctx, e, policy.None(), []func(context.Context) (int, error){ok42, nil, ok42})
			if errs[0] != nil || errs[2] != nil || vals[0] != 42 || vals[2] != 42 {
				return errors.New("the valid entries beside a nil one did not run")
			}
			return errs[1]
		}, "function is nil"},
		{"ExecuteWithPolicy nil policy", run(nil), "policy is nil"},
		{"ExecuteAll nil policy", func() error {
			_, errs := ExecuteAll(ctx, e, nil, []func(context.Context) (int, error){fn})
			return errs[0]
		}, "policy is nil"},
		{"Execute operation with a nil policy", func() error {
			_, err := Execute(ctx, e, policy.Operation[int](&funcOp{id: "op", fn: fn}))
			return err
		}, "policy is nil"},
		{"Execute nil operation", func() error { _, err := Execute[int](ctx, e, nil); return err }, "operation is nil"},
		{"ExecuteWithPolicy nil context", func() error { _, err := ExecuteWithPolicy(nilCtx, e, policy.None(), fn); return err }, "context is nil"},
		{"Execute nil context", func() error {
			_, err := Execute(nilCtx, e, policy.Operation[int](&funcOp{id: "op", policy: policy.None(), fn: fn}))
			return err
		}, "context is nil"},
		{"Run nil context", func() error {
			return Run(nilCtx, e, policy.None(), func(context.Context) error { ran.Store(true); return nil })
		}, "context is nil"},
		{"ExecuteAll nil context", func() error {
			_, errs := ExecuteAll(nilCtx, e, policy.None(), []func(context.Context) (int, error){fn})
			return errs[0]
		}, "context is nil"},
		{"ExecuteWithPolicy nil engine", func() error { _, err := ExecuteWithPolicy(ctx, nil, policy.None(), fn); return err }, "engine is nil"},
		{"ExecuteAll nil engine", func() error {
			_, errs := ExecuteAll(ctx, nil, policy.None(), []func(context.Context) (int, error){fn})
			return errs[0]
		}, "engine is nil"},
		{"Shutdown nil context", func() error { return e.Shutdown(nilCtx) }, "nil context"},
		{"RegisterCircuitBreaker empty name", func() error { return e.RegisterCircuitBreaker("", policy.CircuitBreaker(1, time.Second)) }, "name is empty"},
		{"RegisterRateLimiter empty name", func() error { return e.RegisterRateLimiter("", policy.RateLimit(1)) }, "name is empty"},
		{"RegisterCircuitBreaker the load's name, invalid", func() error { return e.RegisterCircuitBreaker("bi-load", policy.CircuitBreaker(0, time.Second)) }, "FailureThreshold"},
		{"RegisterRateLimiter the load's name, NaN rate", func() error { return e.RegisterRateLimiter("bi-load", policy.RateLimit(math.NaN())) }, "RequestsPerSecond"},
		{"RegisterRateLimiter the load's name, negative burst", func() error {
			return e.RegisterRateLimiter("bi-load", policy.RateLimit(1).WithBurst(-1))
		}, "Burst"},
		{"Retry(0)", run(policy.Retry(0)), "MaxAttempts"},
		{"Retry(math.MinInt)", run(policy.Retry(math.MinInt)), "MaxAttempts"},
		{"RetryPolicy zero value", run(policy.RetryPolicy{}), "MaxAttempts"},
		{"Timeout(0)", run(policy.Timeout(0)), "Duration"},
		{"Timeout(math.MinInt64)", run(policy.Timeout(math.MinInt64)), "Duration"},
		{"CircuitBreaker(0, 1s)", run(policy.CircuitBreaker(0, time.Second)), "FailureThreshold"},
		{"CircuitBreaker(math.MinInt, 1s)", run(policy.CircuitBreaker(math.MinInt, time.Second)), "FailureThreshold"},
		{"CircuitBreaker(1, 0)", run(policy.CircuitBreaker(1, 0)), "RecoveryTimeout"},
		{"CircuitBreaker(1, math.MinInt64)", run(policy.CircuitBreaker(1, math.MinInt64)), "RecoveryTimeout"},
		{"negative SuccessThreshold", run(policy.CircuitBreaker(1, time.Second).WithSuccessThreshold(-1)), "SuccessThreshold"},
		{"RateLimit(NaN)", run(policy.RateLimit(math.NaN())), "RequestsPerSecond"},
		{"RateLimit(+Inf)", run(policy.RateLimit(math.Inf(1))), "RequestsPerSecond"},
		{"RateLimit(-Inf)", run(policy.RateLimit(math.Inf(-1))), "RequestsPerSecond"},
		{"RateLimit(0)", run(policy.RateLimit(0)), "RequestsPerSecond"},
		{"RateLimit(-1)", run(policy.RateLimit(-1)), "RequestsPerSecond"},
		{"negative burst", run(policy.RateLimit(1).WithBurst(-1)), "Burst"},
		{"Burst math.MinInt", run(policy.RateLimit(1).WithBurst(math.MinInt)), "Burst"},
		{"negative MaxWait", run(policy.RateLimit(1).WithMaxWait(-time.Nanosecond)), "MaxWait"},
		{"Combine()", run(policy.Combine()), "Policies"},
		{"Combine(nil)", run(policy.Combine(nil)), "Policies[0]"},
		{"Combine(Retry(1), nil)", run(policy.Combine(policy.Retry(1), nil)), "Policies[1]"},
		{"Combine(Combine(nil)) names the path", run(policy.Combine(policy.Combine(nil))), "combine[0]"},
		{"Combine with an invalid member", run(policy.Combine(policy.Retry(3), policy.Timeout(-1))), "combine[1]: timeout"},
		{"a Combine that contains itself", run(self), "nesting depth"},
		{"exponential backoff, NaN multiplier", run(policy.Retry(2).WithBackoff(policy.ExponentialBackoff{InitialDelay: 1, Multiplier: math.NaN()})), "Multiplier"},
		{"exponential backoff, +Inf multiplier", run(policy.Retry(2).WithBackoff(policy.ExponentialBackoff{InitialDelay: 1, Multiplier: math.Inf(1)})), "Multiplier"},
		{"exponential backoff, zero initial delay", run(policy.Retry(2).WithBackoff(policy.ExponentialBackoff{Multiplier: 2})), "InitialDelay"},
		{"linear backoff, Max below Initial", run(policy.Retry(2).WithBackoff(policy.LinearBackoff{Initial: time.Second, Max: time.Millisecond})), "Max"},
		{"decorrelated backoff, zero base", run(policy.Retry(2).WithBackoff(policy.DecorrelatedBackoff{})), "Base"},
		{"fixed backoff, negative interval", run(policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: -1})), "Interval"},
		{"a pointer to a policy", run(&ptr), "unsupported policy type"},
		{"a Spec holding an invalid policy", run(policy.Spec{Policy: policy.Timeout(-1)}), "Duration"},
		{"New(WithMailboxLimit(-1))", func() error { _, err := New(WithMailboxLimit(-1)); return err }, "WithMailboxLimit"},
		{"New(WithIdleTimeout(-1))", func() error { _, err := New(WithIdleTimeout(-1)); return err }, "WithIdleTimeout"},
		{"New(WithWorkers(0))", func() error { _, err := New(WithWorkers(0)); return err }, "WithWorkers"},
		{"New(WithLogger(nil))", func() error { _, err := New(WithLogger(nil)); return err }, "logger is nil"},
		{"New(WithActorSystem(nil))", func() error { _, err := New(WithActorSystem(nil)); return err }, "system is nil"},
		{"New(nil option)", func() error { _, err := New(nil); return err }, "option 0 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				err = tt.call()
			}()
			if !errors.Is(err, policy.ErrInvalidPolicy) {
				t.Fatalf("err = %v; want ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q; want it to name the problem (%q)", err, tt.want)
			}
			if policy.IsRetryable(err) {
				t.Fatalf("err = %v is retryable; bad input never gets better by retrying", err)
			}
		})
	}
	if ran.Load() {
		t.Error("a refused call ran its function")
	}
	load.end(t)
	// Only the load's calls, and the two valid ExecuteAll entries beside the nil one,
	// are operations.
	after := e.Metrics()
	if got, want := after.TotalOperations-before.TotalOperations, load.ok.Load()+load.failed.Load()+2; got != want {
		t.Errorf("%d operations counted; the load made %d and the table 2 valid calls", got, want-2)
	}
	if _, err := ExecuteWithPolicy(ctx, e, policy.None(), ok42); err != nil {
		t.Errorf("Shutdown(nil) must leave the engine running: %v", err)
	}
}

// TestExtremeButValidValuesWorkWithoutOverflow runs policies at the edges of their
// ranges — attempt counts of 1<<40 and math.MaxInt, durations of math.MaxInt64, rates
// of 5e-324 and math.MaxFloat64, bursts of math.MaxInt, backoffs whose delays saturate
// — while a load runs beside them. They are valid, so they must run: nothing
// overflows into a negative wait, a deadline in the past or a retry storm, nothing is
// allocated per attempt up front, and the load is not disturbed.
func TestExtremeButValidValuesWorkWithoutOverflow(t *testing.T) {
	e := newEngine(t)
	load := startBadLoad(e)
	defer load.end(t)
	ctx := context.Background()
	short := func(t *testing.T) context.Context {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	const slack = 5 * time.Second // generous: -race on a shared machine

	t.Run("Retry(1<<40) allocates nothing up front", func(t *testing.T) {
		var p policy.Policy = policy.Retry(1 << 40)
		if v, err := ExecuteWithPolicy(ctx, e, p, ok42); v != 42 || err != nil {
			t.Fatalf("= %d, %v", v, err)
		}
		if n := testing.AllocsPerRun(100, func() { ExecuteWithPolicy(ctx, e, p, ok42) }); n > 0 {
			t.Fatalf("%v allocations per call; the retry path allocates nothing, whatever MaxAttempts", n)
		}
	})
	t.Run("Retry(math.MaxInt) retries until success", func(t *testing.T) {
		var calls int
		v, err := ExecuteWithPolicy(ctx, e, policy.Policy(policy.Retry(math.MaxInt).WithBackoff(policy.FixedBackoff{})), func(context.Context) (int, error) {
			if calls++; calls < 5 {
				return 0, errTemporary
			}
			return 42, nil
		})
		if v != 42 || err != nil || calls != 5 {
			t.Fatalf("= %d, %v after %d calls; want 42 after 5", v, err, calls)
		}
	})
	t.Run("Retry(1<<40) of a failing function stops at the caller's deadline", func(t *testing.T) {
		start := time.Now()
		_, err := ExecuteWithPolicy(short(t), e, policy.Policy(policy.Retry(1<<40).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond})), failing)
		if !errors.Is(err, policy.ErrCancelled) && !errors.Is(err, errTemporary) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond+slack {
			t.Fatalf("returned after %v; the deadline was 100ms", d)
		}
	})
	t.Run("Timeout(math.MaxInt64) gives the function a deadline in the future", func(t *testing.T) {
		v, err := ExecuteWithPolicy(ctx, e, policy.Policy(policy.Timeout(math.MaxInt64)), func(ctx context.Context) (int, error) {
			dl, ok := ctx.Deadline()
			if !ok || !dl.After(time.Now().Add(100*365*24*time.Hour)) || ctx.Err() != nil {
				return 0, errors.New("the function's deadline overflowed: " + dl.String())
			}
			return 42, nil
		})
		if v != 42 || err != nil {
			t.Fatalf("= %d, %v", v, err)
		}
	})
	t.Run("Combine(Timeout(math.MaxInt64), Timeout(10ms)) times out at 10ms", func(t *testing.T) {
		start := time.Now()
		_, err := ExecuteWithPolicy(ctx, e, policy.Policy(policy.Combine(policy.Timeout(math.MaxInt64), policy.Timeout(10*time.Millisecond))), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, policy.ErrTimeout) || time.Since(start) > slack {
			t.Fatalf("err = %v after %v; want ErrTimeout after 10ms", err, time.Since(start))
		}
	})
	t.Run("CircuitBreaker(1, math.MaxInt64) stays open with a positive RetryAfter", func(t *testing.T) {
		var p policy.Policy = policy.CircuitBreaker(1, math.MaxInt64).Named("bi-forever")
		// The failure is acknowledged by the breaker before the call returns.
		ExecuteWithPolicy(ctx, e, p, failing)
		_, err := ExecuteWithPolicy(ctx, e, p, ok42)
		after, ok := policy.RetryAfter(err)
		if !errors.Is(err, policy.ErrCircuitOpen) || !ok || after < 290*365*24*time.Hour {
			t.Fatalf("err = %v, RetryAfter %v; want ErrCircuitOpen for about 292 years", err, after)
		}
		if s := e.Metrics().Breakers["bi-forever"].State; s != messages.Open {
			t.Fatalf("state %v; want open", s)
		}
	})
	t.Run("CircuitBreaker(math.MaxInt, 1h) never opens", func(t *testing.T) {
		var p policy.Policy = policy.CircuitBreaker(math.MaxInt, time.Hour).Named("bi-never")
		for range 100 {
			ExecuteWithPolicy(ctx, e, p, failing)
		}
		if s := e.Metrics().Breakers["bi-never"]; s.State != messages.Closed || s.Failures != 100 {
			t.Fatalf("breaker %+v; want closed with 100 failures", s)
		}
	})
	t.Run("SuccessThreshold math.MaxInt admits probes without overflow", func(t *testing.T) {
		// In a bubble of its own, so that waiting for the recovery timer takes no real time.
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			var p policy.Policy = policy.CircuitBreaker(1, time.Millisecond).WithSuccessThreshold(math.MaxInt).Named("bi-probes")
			ExecuteWithPolicy(ctx, e, p, failing)
			time.Sleep(time.Millisecond)
			synctest.Wait()
			for range 10 {
				if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
					t.Fatalf("probe: %v", err)
				}
			}
			if s := e.Metrics().Breakers["bi-probes"].State; s != messages.HalfOpen {
				t.Fatalf("state %v; want half_open, far from math.MaxInt successes", s)
			}
		})
	})
	t.Run("RateLimit(math.MaxFloat64) admits", func(t *testing.T) {
		var p policy.Policy = policy.RateLimit(math.MaxFloat64).Named("bi-fast")
		for range 1000 {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatalf("err = %v", err)
			}
		}
		if tk := e.Metrics().Limiters["bi-fast"].Tokens; math.IsNaN(tk) || math.IsInf(tk, 0) || tk < 0 {
			t.Fatalf("tokens %v; want a finite count", tk)
		}
	})
	t.Run("RateLimit(5e-324) refuses with a positive RetryAfter", func(t *testing.T) {
		var p policy.Policy = policy.RateLimit(math.SmallestNonzeroFloat64).Named("bi-slow")
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatalf("first call (the burst of 1): %v", err)
		}
		_, err := ExecuteWithPolicy(ctx, e, p, ok42)
		if after, ok := policy.RetryAfter(err); !errors.Is(err, policy.ErrRateLimited) || !ok || after <= 0 {
			t.Fatalf("err = %v, RetryAfter %v; want ErrRateLimited with a positive RetryAfter", err, after)
		}
	})
	t.Run("RateLimit(5e-324) with MaxWait math.MaxInt64 refuses a wait past the deadline at once", func(t *testing.T) {
		var p policy.Policy = policy.RateLimit(math.SmallestNonzeroFloat64).WithMaxWait(math.MaxInt64).Named("bi-slow-wait")
		ExecuteWithPolicy(ctx, e, p, ok42)
		start := time.Now()
		_, err := ExecuteWithPolicy(short(t), e, p, ok42)
		if !errors.Is(err, policy.ErrRateLimited) || time.Since(start) > slack {
			t.Fatalf("err = %v after %v; want ErrRateLimited at once", err, time.Since(start))
		}
	})
	t.Run("Burst math.MaxInt admits", func(t *testing.T) {
		var p policy.Policy = policy.RateLimit(1).WithBurst(math.MaxInt).Named("bi-burst")
		for range 1000 {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatalf("err = %v", err)
			}
		}
	})
	for _, b := range []struct {
		name string
		b    policy.Backoff
	}{
		{"exponential 1ns × 1e308", policy.ExponentialBackoff{InitialDelay: 1, Multiplier: 1e308}},
		{"exponential from math.MaxInt64", policy.ExponentialBackoff{InitialDelay: math.MaxInt64, Multiplier: 2}},
		{"linear math.MaxInt64 + math.MaxInt64", policy.LinearBackoff{Initial: math.MaxInt64, Step: math.MaxInt64}},
		{"decorrelated from math.MaxInt64", policy.DecorrelatedBackoff{Base: math.MaxInt64}},
		{"fixed math.MaxInt64", policy.FixedBackoff{Interval: math.MaxInt64}},
	} {
		t.Run("backoff "+b.name+" gives up before the deadline instead of overflowing", func(t *testing.T) {
			var calls atomic.Int32
			start := time.Now()
			_, err := ExecuteWithPolicy(short(t), e, policy.Policy(policy.Retry(5).WithBackoff(b.b)), func(context.Context) (int, error) {
				calls.Add(1)
				return 0, errTemporary
			})
			// The first wait saturates far past the deadline: the retry returns the last
			// error at once (a wrapped delay would be negative, and retry at once).
			if !errors.Is(err, errTemporary) || errors.Is(err, policy.ErrRetryExhausted) || calls.Load() > 2 || time.Since(start) > slack {
				t.Fatalf("err = %v after %d calls and %v; want the first error at once", err, calls.Load(), time.Since(start))
			}
		})
	}
	t.Run("a 64 KiB name", func(t *testing.T) {
		name := strings.Repeat("n", 64<<10)
		if err := e.RegisterCircuitBreaker(name, policy.CircuitBreaker(1, time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := ExecuteWithPolicy(ctx, e, policy.Policy(policy.RateLimit(10).Named(name)), ok42); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Subscribe(-5) gets a buffer of 1", func(t *testing.T) {
		events, cancel := e.Subscribe(-5)
		defer cancel()
		if cap(events) != 1 {
			t.Fatalf("buffer %d; want 1", cap(events))
		}
	})
}

// TestActorClientBadExecuteIsAnswered sends messages.Execute with no function and with
// no policy through the actor protocol: the first is answered with ErrInvalidPolicy, the
// second runs with no policy (documented: nil means none); one without a sender is
// dropped with a warning, not a panic.
func TestActorClientBadExecuteIsAnswered(t *testing.T) {
	e := newEngine(t)
	results := make(chan *messages.Result, 4)
	client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			c.Request(e.PID(), &messages.Execute{ID: "no-fn", Policy: policy.Retry(2)})
			c.Request(e.PID(), messages.Execute{ID: "no-policy", Fn: func(context.Context) (any, error) { return "ran", nil }})
			c.Send(e.PID(), &messages.Execute{ID: "no-sender", Fn: func(context.Context) (any, error) { return nil, nil }})
		case *messages.Result:
			results <- m
		}
	}))
	defer e.System().Root.Stop(client)
	e.System().Root.Send(client, "go")
	got := receiveResults(t, results, 2)
	if r := got["no-fn"]; r == nil || !errors.Is(r.Err, policy.ErrInvalidPolicy) || !strings.Contains(r.Err.Error(), "function is nil") {
		t.Errorf("no function: %+v; want ErrInvalidPolicy naming the function", r)
	}
	if r := got["no-policy"]; r == nil || r.Err != nil || r.Value != "ran" {
		t.Errorf("no policy: %+v; want it run with no policy", r)
	}
}

// TestPlanCacheTellsPolicyTypesApart shows an engine bug: the plan cache keys a
// compiled policy by the data word of the interface value alone, but Go boxes every
// zero value at one address (runtime.zeroVal) and may place equal-bytes constant
// literals of different types at one read-only address. So after Combine() (zero), an
// empty Spec (zero too) gets Combine's error, naming the wrong problem; and a
// breaker literal and a limiter literal with the same bytes share a plan, so the
// limiter policy runs the breaker. The key must include the type word.
func TestPlanCacheTellsPolicyTypesApart(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	if _, err := ExecuteWithPolicy(ctx, e, policy.Combine(), ok42); err == nil || !strings.Contains(err.Error(), "combine") {
		t.Fatalf("Combine(): %v", err)
	}
	if _, err := ExecuteWithPolicy(ctx, e, policy.Spec{}, ok42); err == nil || !strings.Contains(err.Error(), "spec") {
		t.Errorf("Spec{} after Combine(): %v; want the error to name the empty Spec", err)
	}
	// 0x3FF0000000000000 is the bit pattern of 1.0: both values are valid, and their
	// bytes are the same.
	ExecuteWithPolicy(ctx, e, policy.CircuitBreakerPolicy{Name: "same-bytes", FailureThreshold: 0x3FF0000000000000, RecoveryTimeout: 5}, ok42)
	ExecuteWithPolicy(ctx, e, policy.RateLimitPolicy{Name: "same-bytes", RequestsPerSecond: 1.0, Burst: 5}, ok42)
	if _, ok := e.Metrics().Limiters["same-bytes"]; !ok {
		t.Errorf("a rate_limit policy ran without a limiter: limiters %v, breakers %v", keys(e.Metrics().Limiters), keys(e.Metrics().Breakers))
	}
}

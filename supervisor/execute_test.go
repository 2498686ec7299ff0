package supervisor

import (
	"context"
	"errors"
	"fmt"
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
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// A prepared plan runs like the policy it was made from, names unnamed breakers and
// limiters by its ID, and puts its ID in the errors of its calls.
func TestPlanRunsItsPolicyUnderItsID(t *testing.T) {
	e := newEngine(t)
	pl, err := e.Prepare("checkout", policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.CircuitBreaker(5, time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ExecutePlan(context.Background(), pl, ok42); err != nil || v != 42 {
		t.Fatalf("ExecutePlan = %d, %v; want 42", v, err)
	}
	if breakerOf(e, "checkout") == nil {
		t.Fatal("the plan's unnamed breaker is not named by the plan's ID")
	}
	err = RunPlan(context.Background(), pl, func(context.Context) error { return errTemporary })
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Op != "checkout" || !errors.Is(err, policy.ErrRetryExhausted) || pe.Attempts != 2 {
		t.Fatalf("RunPlan err = %v; want ErrRetryExhausted of op checkout after 2 attempts", err)
	}
	m := e.Metrics()
	if m.TotalOperations != 2 || m.FailedOperations != 1 || m.RetryAttempts != 1 {
		t.Fatalf("metrics total %d failed %d retries %d; want 2 1 1", m.TotalOperations, m.FailedOperations, m.RetryAttempts)
	}
}

// A bad plan is refused at Prepare, and a missing one or a missing function at the call,
// with ErrInvalidPolicy and nothing run.
func TestPrepareAndExecutePlanRefuseBadInput(t *testing.T) {
	e := newEngine(t)
	for name, p := range map[string]policy.Policy{
		"nil":     nil,
		"invalid": policy.Retry(0),
		"inside":  policy.Combine(policy.Timeout(-time.Second)),
	} {
		if pl, err := e.Prepare("op", p); pl != nil || !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%s: Prepare = %v, %v; want ErrInvalidPolicy", name, pl, err)
		}
	}
	if _, err := e.Prepare("\xff", policy.CircuitBreaker(1, time.Second)); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("an ID that names a breaker and is not UTF-8: %v; want ErrInvalidPolicy", err)
	}
	if _, err := ExecutePlan(context.Background(), nil, ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("nil plan: %v; want ErrInvalidPolicy", err)
	}
	if _, err := ExecutePlan(context.Background(), &Plan{}, ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("zero plan: %v; want ErrInvalidPolicy", err)
	}
	pl, err := e.Prepare("", policy.None())
	if err != nil {
		t.Fatal(err)
	}
	if err := RunPlan(context.Background(), pl, nil); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("nil function: %v; want ErrInvalidPolicy", err)
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if _, err := ExecutePlan(nil, pl, ok42); !errors.Is(err, policy.ErrInvalidPolicy) { //nolint:staticcheck
		t.Errorf("nil context: %v; want ErrInvalidPolicy", err)
	}
	if n := e.Metrics().TotalOperations; n != 0 {
		t.Fatalf("%d operations ran; want none", n)
	}
}

// A plan finds the new breaker of a name that was passivated, with the name's first
// configuration, and its success path allocates nothing.
func TestPlanSurvivesPassivationAndAllocatesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		pl, err := e.Prepare("", policy.CircuitBreaker(1, time.Hour).Named("p"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := ExecutePlan(ctx, pl, ok42); err != nil {
			t.Fatal(err)
		}
		first := breakerOf(e, "p")
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if breakerOf(e, "p") != nil {
			t.Fatal("the idle breaker was not passivated")
		}
		if _, err := ExecutePlan(ctx, pl, ok42); err != nil {
			t.Fatalf("after passivation: %v", err)
		}
		if l := breakerOf(e, "p"); l == nil || l == first {
			t.Fatal("the plan did not find the name's new breaker")
		}
		if _, err := ExecutePlan(ctx, pl, failing); !errors.Is(err, errTemporary) {
			t.Fatal(err)
		}
		if _, err := ExecutePlan(ctx, pl, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("after one failure with threshold 1: %v; want ErrCircuitOpen", err)
		}
	})
	e := newEngine(t)
	pl, err := e.Prepare("hot", policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("hot")))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ExecutePlan(ctx, pl, ok42)
	if n := testing.AllocsPerRun(100, func() { ExecutePlan(ctx, pl, ok42) }); n != 0 {
		t.Fatalf("ExecutePlan's success path allocates %v times; want 0", n)
	}
}

// sliceBackoff is a Backoff of an incomparable type.
type sliceBackoff struct{ delays []time.Duration }

func (b sliceBackoff) Delay(attempt int) time.Duration {
	return b.delays[min(attempt, len(b.delays))-1]
}
func (b sliceBackoff) Validate() error { return nil }
func (b sliceBackoff) String() string  { return "slice" }

// A retry's backoff is compared with the default by ==, which must not panic on a
// backoff of an incomparable type (the types differ, so Go compares no values).
func TestRetryWithAnIncomparableBackoffRuns(t *testing.T) {
	e := newEngine(t)
	calls := 0
	v, err := ExecuteWithPolicy(context.Background(), e, policy.Retry(2).WithBackoff(sliceBackoff{delays: []time.Duration{0}}), func(context.Context) (int, error) {
		if calls++; calls < 2 {
			return 0, errTemporary
		}
		return 42, nil
	})
	if err != nil || v != 42 || calls != 2 {
		t.Fatalf("got %d, %v after %d calls; want 42 after 2", v, err, calls)
	}
}

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
// Retry(1<<40) allocates nothing up front. It runs apart from
// TestExtremeButValidValuesWorkWithoutOverflow: AllocsPerRun counts every goroutine's
// allocations, and that test's background load allocates whenever the scheduler gives
// it the measuring goroutine's time (a CPU-loaded machine).
func TestHugeRetryAllocatesNothingUpFront(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	var p policy.Policy = policy.Retry(1 << 40)
	if v, err := ExecuteWithPolicy(ctx, e, p, ok42); v != 42 || err != nil {
		t.Fatalf("= %d, %v", v, err)
	}
	if n := testing.AllocsPerRun(100, func() { ExecuteWithPolicy(ctx, e, p, ok42) }); n > 0 {
		t.Fatalf("%v allocations per call; the retry path allocates nothing, whatever MaxAttempts", n)
	}
}

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

// errorCase is one way an engine call fails, and what its error must say.
type errorCase struct {
	name     string
	call     func(t *testing.T, e *Engine) error
	kind     error  // the sentinel it matches; nil for a plain failure
	cause    error  // an error it must also match; nil: none required
	op       string // its Op
	attempts int    // its Attempts
}

// checkEngineError asserts that err is a *policy.Error with c's Kind, Op, Attempts and
// cause.
func checkEngineError(t *testing.T, c errorCase, err error) {
	t.Helper()
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T); want a *policy.Error", err, err)
	}
	if _, direct := err.(*policy.Error); !direct {
		t.Errorf("err is a %T wrapping the *policy.Error; the engine returns the *policy.Error itself", err)
	}
	if pe.Kind != c.kind {
		t.Errorf("Kind = %v; want %v (err %q)", pe.Kind, c.kind, err)
	}
	if c.kind != nil && !errors.Is(err, c.kind) {
		t.Errorf("err %q does not match its sentinel %v", err, c.kind)
	}
	if c.cause != nil && !errors.Is(err, c.cause) {
		t.Errorf("err %q does not match its cause %v", err, c.cause)
	}
	if pe.Op != c.op || pe.Attempts != c.attempts {
		t.Errorf("Op %q, Attempts %d; want %q, %d (err %q)", pe.Op, pe.Attempts, c.op, c.attempts, err)
	}
}

// run1 runs fn once under p as the operation id.
func run1(e *Engine, ctx context.Context, id string, p policy.Policy, fn func(context.Context) (int, error)) error {
	_, err := Execute(ctx, e, policy.Operation[int](&funcOp{id: id, policy: p, fn: fn}))
	return err
}

// TestEveryEngineErrorIsAPolicyError goes through every way an engine call fails — plain
// failures, Permanent errors under a retry, a retry that gives up at the caller's
// deadline, invalid policies and options, every refusal and every kind — and checks
// that the error is a *policy.Error with the operation, the attempts, the sentinel and
// the cause, for Execute, ExecuteAll and actor clients alike.
func TestEveryEngineErrorIsAPolicyError(t *testing.T) {
	permanent := policy.Permanent(errTemporary)
	cases := []errorCase{
		{name: "a plain failure under None", kind: nil, cause: errTemporary, op: "plain", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "plain", policy.None(), failing)
			}},
		{name: "a plain failure under ExecuteWithPolicy", kind: nil, cause: errTemporary, op: "", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				_, err := ExecuteWithPolicy(context.Background(), e, policy.None(), failing)
				return err
			}},
		{name: "a plain failure under a breaker", kind: nil, cause: errTemporary, op: "brk", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "brk", policy.CircuitBreaker(5, time.Minute), failing)
			}},
		{name: "a Permanent error under Retry", kind: nil, cause: errTemporary, op: "perm", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				err := run1(e, context.Background(), "perm", policy.Retry(3), func(context.Context) (int, error) { return 0, permanent })
				if !policy.IsPermanent(err) {
					t.Errorf("err %v lost the Permanent mark", err)
				}
				return err
			}},
		{name: "a Permanent error under a retry plan", kind: nil, cause: errTemporary, op: "perm-plan", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				p := policy.Combine(policy.Retry(3), policy.Timeout(time.Minute))
				return run1(e, context.Background(), "perm-plan", p, func(context.Context) (int, error) { return 0, permanent })
			}},
		{name: "a retry that gives up because its wait would pass the deadline", kind: nil, cause: errTemporary, op: "deadline", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				err := run1(e, ctx, "deadline", policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Minute}), failing)
				if errors.Is(err, policy.ErrCancelled) || errors.Is(err, policy.ErrRetryExhausted) {
					t.Errorf("err %v; the retry gave up early, the caller did not cancel", err)
				}
				return err
			}},
		{name: "an invalid retry", kind: policy.ErrInvalidPolicy, op: "bad", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "bad", policy.Retry(0), ok42)
			}},
		{name: "an invalid combine", kind: policy.ErrInvalidPolicy, op: "bad", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "bad", policy.Combine(policy.Retry(1), policy.Timeout(-1)), ok42)
			}},
		{name: "an unsupported policy type", kind: policy.ErrInvalidPolicy, op: "bad", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				r := policy.Retry(2)
				return run1(e, context.Background(), "bad", &r, ok42)
			}},
		{name: "a nil function", kind: policy.ErrInvalidPolicy, op: "", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				_, err := ExecuteWithPolicy[int](context.Background(), e, policy.None(), nil)
				return err
			}},
		{name: "an invalid registration", kind: policy.ErrInvalidPolicy, op: "", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				return e.RegisterCircuitBreaker("x", policy.CircuitBreaker(0, time.Second))
			}},
		{name: "an invalid option", kind: policy.ErrInvalidPolicy, op: "", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				_, err := New(WithMailboxLimit(-1))
				return err
			}},
		{name: "Shutdown with a nil context", kind: policy.ErrInvalidPolicy, op: "", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				var nilCtx context.Context
				return e.Shutdown(nilCtx)
			}},
		{name: "retries exhausted", kind: policy.ErrRetryExhausted, cause: errTemporary, op: "ex", attempts: 2,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "ex", policy.Retry(2).WithBackoff(policy.FixedBackoff{}), failing)
			}},
		{name: "circuit open", kind: policy.ErrCircuitOpen, op: "open", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				p := policy.Policy(policy.CircuitBreaker(1, time.Minute))
				run1(e, context.Background(), "open", p, failing)
				return run1(e, context.Background(), "open", p, ok42)
			}},
		{name: "rate limited", kind: policy.ErrRateLimited, op: "rl", attempts: 0,
			call: func(t *testing.T, e *Engine) error {
				p := policy.Policy(policy.RateLimit(1))
				run1(e, context.Background(), "rl", p, ok42)
				return run1(e, context.Background(), "rl", p, ok42)
			}},
		{name: "timeout", kind: policy.ErrTimeout, cause: context.DeadlineExceeded, op: "slow", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "slow", policy.Timeout(time.Second), func(ctx context.Context) (int, error) {
					<-ctx.Done()
					return 0, ctx.Err()
				})
			}},
		{name: "cancelled", kind: policy.ErrCancelled, cause: context.Canceled, op: "gone", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				ctx, cancel := context.WithCancel(context.Background())
				return run1(e, ctx, "gone", policy.None(), func(context.Context) (int, error) {
					cancel()
					return 0, context.Canceled
				})
			}},
		{name: "panic", kind: policy.ErrPanic, op: "boom", attempts: 1,
			call: func(t *testing.T, e *Engine) error {
				return run1(e, context.Background(), "boom", policy.Retry(3), func(context.Context) (int, error) { panic("boom") })
			}},
		{name: "shutdown", kind: policy.ErrShutdown, op: "late", attempts: 0,
			call: func(t *testing.T, _ *Engine) error {
				e := newEngineNoCleanup(t)
				if err := e.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				return run1(e, context.Background(), "late", policy.None(), ok42)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(t)
				checkEngineError(t, c, c.call(t, e))
			})
		})
	}

	t.Run("ExecuteAll", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			ctx := context.Background()
			fns := []func(context.Context) (int, error){failing, nil,
				func(context.Context) (int, error) { return 0, permanent }}
			_, errs := ExecuteAll(ctx, e, policy.Retry(1), fns)
			checkEngineError(t, errorCase{kind: policy.ErrRetryExhausted, cause: errTemporary, attempts: 1}, errs[0])
			checkEngineError(t, errorCase{kind: policy.ErrInvalidPolicy}, errs[1])
			checkEngineError(t, errorCase{cause: errTemporary, attempts: 1}, errs[2])
			_, errs = ExecuteAll(ctx, e, policy.None(), fns[:1])
			checkEngineError(t, errorCase{cause: errTemporary, attempts: 1}, errs[0])
			for _, p := range []policy.Policy{policy.Retry(0), policy.Combine()} {
				_, errs = ExecuteAll(ctx, e, p, fns[:1])
				checkEngineError(t, errorCase{kind: policy.ErrInvalidPolicy}, errs[0])
			}
		})
	})

	t.Run("actor clients", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			results := make(chan *messages.Result, 4)
			fail := func(context.Context) (any, error) { return nil, errTemporary }
			jobs := []*messages.Execute{
				{ID: "plain", Fn: fail},
				{ID: "perm", Policy: policy.Retry(3), Fn: func(context.Context) (any, error) { return nil, permanent }},
				{ID: "invalid", Policy: policy.Retry(0), Fn: fail},
				{ID: "exhausted", Policy: policy.Retry(2).WithBackoff(policy.FixedBackoff{}), Fn: fail},
			}
			client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
				switch m := c.Message().(type) {
				case string:
					for _, j := range jobs {
						c.Request(e.PID(), j)
					}
				case *messages.Result:
					results <- m
				}
			}))
			defer e.System().Root.Stop(client)
			e.System().Root.Send(client, "go")
			got := receiveResults(t, results, len(jobs))
			checkEngineError(t, errorCase{cause: errTemporary, op: "plain", attempts: 1}, got["plain"].Err)
			checkEngineError(t, errorCase{cause: errTemporary, op: "perm", attempts: 1}, got["perm"].Err)
			checkEngineError(t, errorCase{kind: policy.ErrInvalidPolicy, op: "invalid"}, got["invalid"].Err)
			checkEngineError(t, errorCase{kind: policy.ErrRetryExhausted, cause: errTemporary, op: "exhausted", attempts: 2}, got["exhausted"].Err)
		})
	})
}

// TestEngineErrorMessagesReadRight checks the Error() of what the engine returns, to the
// character: a plain failure reads as the function's error, a retry whose last tries a
// limiter refused says so instead of "retries exhausted after 1 attempt", a timeout
// names its limit, a panic reads "panic: boom" once, and retry advice is rounded.
func TestEngineErrorMessagesReadRight(t *testing.T) {
	blocked := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
	tests := []struct {
		name string
		call func(t *testing.T, e *Engine) error
		want string
	}{
		{"a plain failure", func(t *testing.T, e *Engine) error {
			return run1(e, context.Background(), "plain", policy.None(), failing)
		}, `op "plain": temporary failure`},
		{"a plain failure without an op", func(t *testing.T, e *Engine) error {
			_, err := ExecuteWithPolicy(context.Background(), e, policy.Retry(2).WithBackoff(policy.FixedBackoff{}),
				func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) })
			return err
		}, `temporary failure`},
		{"retries exhausted", func(t *testing.T, e *Engine) error {
			return run1(e, context.Background(), "ex", policy.Retry(2).WithBackoff(policy.FixedBackoff{}), failing)
		}, `op "ex": retries exhausted after 2 attempts: temporary failure`},
		{"retries exhausted by a limiter's refusal", func(t *testing.T, e *Engine) error {
			p := policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.RateLimit(1).Named("msg-rl"))
			return run1(e, context.Background(), "rl", p, failing)
		}, `op "rl": rate limited after 1 attempt, retries exhausted (retry after 1s)`},
		{"rate limited", func(t *testing.T, e *Engine) error {
			p := policy.Policy(policy.RateLimit(0.5).Named("msg-rl2"))
			run1(e, context.Background(), "rl", p, ok42)
			return run1(e, context.Background(), "rl", p, ok42)
		}, `op "rl": rate limited (retry after 2s)`},
		{"circuit open", func(t *testing.T, e *Engine) error {
			p := policy.Policy(policy.CircuitBreaker(1, 30*time.Second))
			run1(e, context.Background(), "cb", p, failing)
			return run1(e, context.Background(), "cb", p, ok42)
		}, `op "cb": circuit open (retry after 30s)`},
		{"a timeout names its limit", func(t *testing.T, e *Engine) error {
			return run1(e, context.Background(), "slow", policy.Timeout(200*time.Millisecond), blocked)
		}, `op "slow": timeout 200ms`},
		{"retries exhausted by timeouts", func(t *testing.T, e *Engine) error {
			p := policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.Timeout(1500*time.Microsecond))
			return run1(e, context.Background(), "slow", p, blocked)
		}, `op "slow": retries exhausted after 2 attempts: timeout 1.5ms`},
		{"a panic", func(t *testing.T, e *Engine) error {
			return run1(e, context.Background(), "boom", policy.Retry(3), func(context.Context) (int, error) { panic("boom") })
		}, `op "boom": panic: boom`},
		{"a panic under a timeout", func(t *testing.T, e *Engine) error {
			return run1(e, context.Background(), "boom", policy.Timeout(time.Second), func(context.Context) (int, error) { panic("boom") })
		}, `op "boom": panic: boom`},
		{"cancelled", func(t *testing.T, e *Engine) error {
			ctx, cancel := context.WithCancelCause(context.Background())
			return run1(e, ctx, "gone", policy.None(), func(context.Context) (int, error) {
				cancel(errors.New("user left"))
				return 0, context.Canceled
			})
		}, `op "gone": cancelled after 1 attempt: context canceled: user left`},
		{"an invalid policy", func(t *testing.T, e *Engine) error {
			return run1(e, context.Background(), "bad", policy.Retry(0), ok42)
		}, `op "bad": policy: retry: MaxAttempts must be ≥ 1, got 0`},
		{"bad input", func(t *testing.T, e *Engine) error {
			_, err := ExecuteWithPolicy[int](context.Background(), e, policy.None(), nil)
			return err
		}, `invalid policy: function is nil`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(t)
				err := tt.call(t, e)
				if err == nil || err.Error() != tt.want {
					t.Fatalf("Error()\n got: %v\nwant: %s", err, tt.want)
				}
			})
		})
	}
}

// TestAFailureAllocatesOnlyItsError: the success path allocates nothing, and a failure
// only the *policy.Error it returns — a plain failure's included.
func TestAFailureAllocatesOnlyItsError(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	var open policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("alloc-open")
	ExecuteWithPolicy(ctx, e, open, failing)
	tests := []struct {
		name string
		p    policy.Policy
		fn   func(context.Context) (int, error)
		want float64
	}{
		{"success under None", policy.None(), ok42, 0},
		{"success under Retry", policy.Retry(3), ok42, 0},
		{"a plain failure under None", policy.None(), failing, 1},
		{"retries exhausted", policy.Retry(1), failing, 1},
		{"an open breaker", open, ok42, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { ExecuteWithPolicy(ctx, e, tt.p, tt.fn) }); n != tt.want {
				t.Fatalf("%v allocations per call; want %v", n, tt.want)
			}
		})
	}
}

// Engine-level checks of the windowed breaker (specs/breadth.md §1.4): each runs a
// sequential caller through ExecuteWithPolicy and asserts the exact call the breaker
// refuses first, without running it.

// runSequence runs outcomes through p in order, one call each: 'S' succeeds, 'F' fails.
// It returns the 1-based index of the first call refused with ErrCircuitOpen (which
// must not run), or 0 when none was.
func runSequence(t *testing.T, e *Engine, p policy.Policy, outcomes string) int {
	t.Helper()
	for i, o := range outcomes {
		ran := false
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			ran = true
			if o == 'F' {
				return 0, errTemporary
			}
			return 1, nil
		})
		if errors.Is(err, policy.ErrCircuitOpen) {
			if ran {
				t.Fatalf("call %d ran and was refused", i+1)
			}
			return i + 1
		}
	}
	return 0
}

// subscribe returns a subscription to e's events with room for n.
func subscribe(t *testing.T, e *Engine, n int) <-chan Event {
	t.Helper()
	events, cancel := e.Subscribe(n)
	t.Cleanup(cancel)
	return events
}

// nextEvent returns the next event of kind from events, failing after 10 s.
func nextEvent(t *testing.T, events <-chan Event, kind EventKind) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event within 10s", kind)
		}
	}
}

// TestWindowBreakerTripsAtExactCall is CB-3, CB-5 and CB-7 through the engine: a count
// window of 4 with failure rate 0.5 and FailureThreshold 1 opens on the call that makes
// the rate reach 0.5 (inclusive), also when that call is a success completing
// MinimumCalls, and the next call is refused without running.
func TestWindowBreakerTripsAtExactCall(t *testing.T) {
	tests := []struct {
		name     string
		outcomes string
		refused  int // 1-based call refused first; 0: none
	}{
		{"CB-7 the success completing the window trips (2/4 = 0.5)", "FFSSS", 5},
		{"CB-5 window F,S,S,F opens at call 7", "SSSFSSFS", 8},
		{"CB-5 window S,S,S,F never opens", "SSSFSSSFSS", 0},
		{"below the rate: 1/4 never opens", "FSSSFSSSFSSS", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("w").WithCountWindow(4).WithFailureRate(0.5, 0)
			if got := runSequence(t, e, p, tt.outcomes); got != tt.refused {
				t.Fatalf("first refused call %d; want %d", got, tt.refused)
			}
		})
	}
}

// TestWindowBreakerEventsCarryReasonAndCounts is CB-13 for a rate trip: the event says
// failure_rate, with the window's counts at the trip.
func TestWindowBreakerEventsCarryReasonAndCounts(t *testing.T) {
	e := newEngine(t)
	events := subscribe(t, e, 16)
	var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("ev").WithCountWindow(4).WithFailureRate(0.5, 0)
	runSequence(t, e, p, "FFSS")
	ev := nextEvent(t, events, BreakerStateChanged)
	if ev.From != messages.Closed || ev.To != messages.Open || ev.Reason != "failure_rate" || ev.Calls != 4 || ev.Failures != 2 {
		t.Fatalf("event %+v; want closed -> open, failure_rate, 4 calls, 2 failures", ev)
	}
}

// TestWindowBreakerSlowCallRateOpensR4J is CB-4, resilience4j's
// shouldOpenAfterSlowCallRateThresholdExceeded through Execute with fake-time sleeps:
// time window 20 s, minimum 5 calls, slow threshold 4 s, slow rate 50 %, failure rate
// 50 %. Slow-error, slow-success, fast-error, fast-success, slow-success open the
// breaker at call 5 on the slow rate (60 %) while the failure rate is 40 %.
func TestWindowBreakerSlowCallRateOpensR4J(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(1, time.Minute).Named("r4j").
			WithTimeWindow(20*time.Second).WithFailureRate(0.5, 5).WithSlowCalls(4*time.Second, 0.5)
		call := func(slow, fail bool) error {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				if slow {
					time.Sleep(5 * time.Second)
				}
				if fail {
					return 0, errTemporary
				}
				return 1, nil
			})
			return err
		}
		steps := []struct{ slow, fail bool }{{true, true}, {true, false}, {false, true}, {false, false}}
		for i, s := range steps {
			call(s.slow, s.fail)
			if st := e.Metrics().Breakers["r4j"].State; st != messages.Closed {
				t.Fatalf("after call %d: %v; want closed", i+1, st)
			}
		}
		call(true, false)
		st := e.Metrics().Breakers["r4j"]
		if st.State != messages.Open {
			t.Fatalf("after call 5: %+v; want open", st)
		}
		if st.SlowCallRate != 0.6 || st.FailureRate != 0.4 || st.TotalSlowCalls != 3 {
			t.Fatalf("slow rate %v failure rate %v slow calls %d; want 0.6, 0.4, 3", st.SlowCallRate, st.FailureRate, st.TotalSlowCalls)
		}
		if ev := nextEvent(t, events, BreakerStateChanged); ev.Reason != "slow_call_rate" || ev.Calls != 5 || ev.SlowCalls != 3 || ev.Failures != 2 {
			t.Fatalf("event %+v; want slow_call_rate with 5 calls, 3 slow, 2 failures", ev)
		}
		ran := false
		err := Run(context.Background(), e, p, func(context.Context) error { ran = true; return nil })
		if !errors.Is(err, policy.ErrCircuitOpen) || ran {
			t.Fatalf("call 6: %v, ran %v; want refused without running", err, ran)
		}
	})
}

// TestWindowBreakerCallOfExactlySlowCallIsNotSlow is CB-3's strict comparison: a call
// lasting exactly SlowCall is not slow; one nanosecond longer is.
func TestWindowBreakerCallOfExactlySlowCallIsNotSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Minute).Named("exact").
			WithCountWindow(100).WithFailureRate(1, 100).WithSlowCalls(time.Second, 1)
		sleep := func(d time.Duration) func(context.Context) error {
			return func(context.Context) error { time.Sleep(d); return nil }
		}
		Run(context.Background(), e, p, sleep(time.Second))
		if n := e.Metrics().Breakers["exact"].TotalSlowCalls; n != 0 {
			t.Fatalf("a call of exactly SlowCall counted slow (%d)", n)
		}
		Run(context.Background(), e, p, sleep(time.Second+time.Nanosecond))
		if n := e.Metrics().Breakers["exact"].TotalSlowCalls; n != 1 {
			t.Fatalf("slow calls %d; want 1 for a call 1ns past SlowCall", n)
		}
	})
}

// TestWindowBreakerTimeWindowExpiry is CB-6 through the engine: Period 1 s, 10
// buckets, count-in-window mode with one failure: a failure at 0.05 s still counts at
// 0.89 s and no longer counts at 1.0 s.
func TestWindowBreakerTimeWindowExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(2, time.Minute).Named("tw").WithTimeWindow(time.Second).WithFailureRate(0, 1)
		// Align with the breaker's buckets: it is created by the first call.
		Run(context.Background(), e, p, func(context.Context) error { return nil })
		time.Sleep(50 * time.Millisecond)
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(840 * time.Millisecond) // 0.89 s
		synctest.Wait()
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		if st := e.Metrics().Breakers["tw"].State; st != messages.Open {
			t.Fatalf("second failure at 0.89s: %v; want open (the first still counts)", st)
		}

		e2 := newEngine(t)
		Run(context.Background(), e2, p, func(context.Context) error { return nil })
		time.Sleep(50 * time.Millisecond)
		Run(context.Background(), e2, p, func(context.Context) error { return errTemporary })
		time.Sleep(950 * time.Millisecond) // 1.0 s
		synctest.Wait()
		Run(context.Background(), e2, p, func(context.Context) error { return errTemporary })
		if st := e2.Metrics().Breakers["tw"].State; st != messages.Closed {
			t.Fatalf("second failure at 1.0s: %v; want closed (the first expired)", st)
		}
	})
}

// TestWindowBreakerHalfOpenIsBoundedByMaxHalfOpen is CB-9: one probe that blocks; after
// RecoveryTimeout + MaxHalfOpen the breaker is open again (probe_timeout), and after
// another open delay a new probe is admitted.
func TestWindowBreakerHalfOpenIsBoundedByMaxHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("bounded").WithMaxHalfOpen(2 * time.Second)
		state := func() messages.BreakerState { return e.Metrics().Breakers["bounded"].State }
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(time.Second)
		synctest.Wait()
		if s := state(); s != messages.HalfOpen {
			t.Fatalf("after the recovery timeout: %v; want half_open", s)
		}
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- Run(context.Background(), e, p, func(context.Context) error { <-release; return nil })
		}()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s := state(); s != messages.Open {
			t.Fatalf("after MaxHalfOpen with the probe still running: %v; want open", s)
		}
		var reasons []string
		for range 3 {
			reasons = append(reasons, nextEvent(t, events, BreakerStateChanged).Reason)
		}
		if fmt.Sprint(reasons) != "[consecutive_failures recovery_elapsed probe_timeout]" {
			t.Fatalf("reasons %v; want consecutive_failures, recovery_elapsed, probe_timeout", reasons)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if err := Run(context.Background(), e, p, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("a new probe after the next open delay: %v", err)
		}
		if s := state(); s != messages.Closed {
			t.Fatalf("after the new probe succeeded: %v; want closed", s)
		}
		close(release)
		<-done // the old probe's outcome belongs to an old generation
		if s := state(); s != messages.Closed {
			t.Fatalf("after the old probe returned: %v; want closed", s)
		}
	})
}

// TestWindowBreakerCancelledProbeKeepsHalfOpen is CB-10: a probe whose caller cancels
// frees its slot and gives no verdict; the next call is admitted as a probe.
func TestWindowBreakerCancelledProbeKeepsHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("cancel")
		state := func() messages.BreakerState { return e.Metrics().Breakers["cancel"].State }
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(time.Second)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		err := Run(ctx, e, p, func(ctx context.Context) error { cancel(); return ctx.Err() })
		if !errors.Is(err, policy.ErrCancelled) {
			t.Fatalf("cancelled probe: %v", err)
		}
		if s := state(); s != messages.HalfOpen {
			t.Fatalf("after a cancelled probe: %v; want half_open", s)
		}
		ran := false
		if err := Run(context.Background(), e, p, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Fatalf("next probe: %v, ran %v; want admitted", err, ran)
		}
		if s := state(); s != messages.Closed {
			t.Fatalf("after the next probe succeeded: %v; want closed", s)
		}
	})
}

// TestWindowBreakerOpenBackoff is CB-11 (resilience4j
// shouldTransitionToHalfOpenAfterWaitInterval): OpenBackoff Exponential{5s, 1.5}
// gives open delays of 5 s, then 7.5 s after a failed probe, then 5 s again after a
// close; a refusal's RetryAfter is the time until half-open.
func TestWindowBreakerOpenBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, 5*time.Second).Named("backoff").
			WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5})
		fail := func(context.Context) error { return errTemporary }
		succeed := func(context.Context) error { return nil }
		retryAfter := func() time.Duration {
			t.Helper()
			err := Run(context.Background(), e, p, succeed)
			d, ok := policy.RetryAfter(err)
			if !errors.Is(err, policy.ErrCircuitOpen) || !ok {
				t.Fatalf("want a refusal with RetryAfter, got %v", err)
			}
			return d
		}
		Run(context.Background(), e, p, fail)
		if d := retryAfter(); d != 5*time.Second {
			t.Fatalf("first trip: open for %v; want 5s", d)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		Run(context.Background(), e, p, fail) // the probe fails
		if d := retryAfter(); d != 7500*time.Millisecond {
			t.Fatalf("after a failed probe: open for %v; want 7.5s", d)
		}
		time.Sleep(7500 * time.Millisecond)
		synctest.Wait()
		if err := Run(context.Background(), e, p, succeed); err != nil {
			t.Fatalf("probe: %v", err)
		}
		Run(context.Background(), e, p, fail)
		if d := retryAfter(); d != 5*time.Second {
			t.Fatalf("after a close: open for %v; want 5s again", d)
		}
	})
}

// TestCollectorExportsWindowRatesAndSlowCalls: a windowed breaker's rates and slow calls
// are exported, a forced-open breaker's state is 3, and the output stays lint-clean.
func TestCollectorExportsWindowRatesAndSlowCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		reg := obsRegistry(t, e)
		var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("rates").
			WithCountWindow(10).WithFailureRate(1, 10).WithSlowCalls(time.Second, 1)
		// Two fast successes (counted on the side, taken in by the next message), a
		// failure and a slow success (reported): the scrape reads the published view.
		for _, o := range "SSFs" {
			Run(context.Background(), e, p, func(context.Context) error {
				if o == 's' {
					time.Sleep(2 * time.Second)
				}
				if o == 'F' {
					return errTemporary
				}
				return nil
			})
		}
		if err := e.ForceOpen("forced", 0); err != nil {
			t.Fatal(err)
		}
		obsWant(t, obsScrape(t, reg), map[string]float64{
			`bulwark_breaker_failure_rate{name="rates"}`:     0.25,
			`bulwark_breaker_slow_call_rate{name="rates"}`:   0.25,
			`bulwark_breaker_slow_calls_total{name="rates"}`: 1,
			`bulwark_breaker_state{name="forced"}`:           3,
			`bulwark_circuit_breaker_trips_total`:            0,
		})
		obsLint(t, e)
	})
}

// TestWindowBreakerModesAndDefaults is CB-1 and CB-2 through the engine, sequential
// caller, exact refused call: count-in-window mode opens on FailureThreshold failures
// once MinimumCalls calls are in the window; MinimumCalls 0 means the whole count window,
// and max(FailureThreshold, 10) for a time window.
func TestWindowBreakerModesAndDefaults(t *testing.T) {
	tests := []struct {
		name     string
		policy   policy.CircuitBreakerPolicy
		outcomes string
		refused  int
	}{
		{"count-in-window: 3 failures in a window of 10, minimum 1",
			policy.CircuitBreaker(3, time.Hour).WithCountWindow(10).WithFailureRate(0, 1), "FSFSFS", 6},
		{"count-in-window: MinimumCalls 0 means the whole window of 10",
			policy.CircuitBreaker(3, time.Hour).WithCountWindow(10), "FFFSSSSSSSS", 11},
		{"rate mode, time window: MinimumCalls 0 means max(FailureThreshold, 10)",
			policy.CircuitBreaker(1, time.Hour).WithTimeWindow(time.Minute).WithFailureRate(0.5, 0), "FFFFFFFFFFS", 11},
		{"pure rate mode: 1 failure in 4 meets 0.25",
			policy.CircuitBreaker(1, time.Hour).WithCountWindow(4).WithFailureRate(0.25, 0), "FSSSFS", 5},
		{"rate mode with an absolute floor of 2 failures: the rate alone never opens it",
			policy.CircuitBreaker(2, time.Hour).WithCountWindow(4).WithFailureRate(0.25, 0), "FSSSFS", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t)
			var p policy.Policy = tt.policy.Named("modes")
			if got := runSequence(t, e, p, tt.outcomes); got != tt.refused {
				t.Fatalf("first refused call %d; want %d", got, tt.refused)
			}
		})
	}
}

// TestWindowBreakerHalfOpenVerdictAsSoonAsCertain is CB-8: HalfOpenCalls 10, rate 0.5:
// five failed probes reopen the breaker at once (probe_failed), without waiting for
// probes 6–10.
func TestWindowBreakerHalfOpenVerdictAsSoonAsCertain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events := subscribe(t, e, 16)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("verdict").
			WithCountWindow(10).WithFailureRate(0.5, 1).WithHalfOpenCalls(10)
		Run(context.Background(), e, p, func(context.Context) error { return errTemporary })
		time.Sleep(time.Second)
		synctest.Wait()
		for i := range 5 {
			if err := Run(context.Background(), e, p, func(context.Context) error { return errTemporary }); !errors.Is(err, errTemporary) {
				t.Fatalf("probe %d: %v; want it to run", i+1, err)
			}
		}
		if s := e.Metrics().Breakers["verdict"].State; s != messages.Open {
			t.Fatalf("after 5 failed probes of 10: %v; want open at once", s)
		}
		nextEvent(t, events, BreakerStateChanged) // the trip
		nextEvent(t, events, BreakerStateChanged) // half-open
		if ev := nextEvent(t, events, BreakerStateChanged); ev.Reason != "probe_failed" || ev.Failures != 5 {
			t.Fatalf("event %+v; want probe_failed with 5 failures", ev)
		}
	})
}

var errNotFound = errors.New("404 not found")

// ignore404 is a classifier that ignores errNotFound and judges the rest by default.
func ignore404(_ any, err error) policy.Verdict {
	switch {
	case errors.Is(err, errNotFound):
		return policy.Ignore
	case err != nil:
		return policy.Failure
	}
	return policy.Success
}

// TestClassifierIgnoreNeverOpens is CB-7's classifier check: with a classifier that
// returns Ignore for a 404, 100 × 404 never open the breaker, and they are not counted.
func TestClassifierIgnoreNeverOpens(t *testing.T) {
	e := newEngine(t, WithClassifier("http404", ignore404))
	for _, p := range []policy.CircuitBreakerPolicy{
		policy.CircuitBreaker(1, time.Hour).Named("consecutive").WithClassifier("http404"),
		policy.CircuitBreaker(1, time.Hour).Named("rate").WithCountWindow(10).WithFailureRate(0.5, 0).WithClassifier("http404"),
	} {
		var pp policy.Policy = p
		for range 100 {
			if err := Run(context.Background(), e, pp, func(context.Context) error { return errNotFound }); !errors.Is(err, errNotFound) {
				t.Fatalf("%s: %v; want the call's own error", p.Name, err)
			}
		}
		if s := e.Metrics().Breakers[p.Name]; s.State != messages.Closed || s.Failures != 0 {
			t.Fatalf("%s: %+v; want closed with nothing counted", p.Name, s)
		}
		Run(context.Background(), e, pp, func(context.Context) error { return errTemporary })
		if s := e.Metrics().Breakers[p.Name].State; s != messages.Open && p.Name == "consecutive" {
			t.Fatalf("%s: a real failure left it %v; want open", p.Name, s)
		}
	}
}

// TestClassifierSeesTheValue: a classifier judges the value too; a Failure verdict on a
// nil error counts against the breaker but the call still returns its value and no
// error (outside a retry a verdict changes only what stages count).
func TestClassifierSeesTheValue(t *testing.T) {
	e := newEngine(t, WithClassifier("negative", func(v any, err error) policy.Verdict {
		if n, ok := v.(int); ok && n < 0 {
			return policy.Failure
		}
		if err != nil {
			return policy.Failure
		}
		return policy.Success
	}))
	var p policy.Policy = policy.CircuitBreaker(2, time.Hour).Named("values").WithClassifier("negative")
	for range 2 {
		v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { return -1, nil })
		if v != -1 || err != nil {
			t.Fatalf("got %d, %v; want -1, nil", v, err)
		}
	}
	if s := e.Metrics().Breakers["values"]; s.State != messages.Open || s.Failures != 2 {
		t.Fatalf("%+v; want open after two judged failures", s)
	}
}

// TestClassifierUnknownNameRefusedBeforeRunning: a policy naming an unregistered
// classifier is ErrInvalidPolicy at Prepare and at ExecuteWithPolicy, and nothing runs;
// once it is registered the same (cached) policy value runs.
func TestClassifierUnknownNameRefusedBeforeRunning(t *testing.T) {
	e := newEngine(t)
	var p policy.Policy = policy.Combine(policy.Retry(2), policy.CircuitBreaker(1, time.Hour).Named("u").WithClassifier("later"))
	if _, err := e.Prepare("op", p); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("Prepare: %v; want ErrInvalidPolicy", err)
	}
	ran := false
	fn := func(context.Context) error { ran = true; return nil }
	if err := Run(context.Background(), e, p, fn); !errors.Is(err, policy.ErrInvalidPolicy) || ran {
		t.Fatalf("Run: %v, ran %v; want ErrInvalidPolicy without running", err, ran)
	}
	if _, err := ExecuteAll(context.Background(), e, p, []func(context.Context) (int, error){ok42}); !errors.Is(err[0], policy.ErrInvalidPolicy) {
		t.Fatalf("ExecuteAll: %v; want ErrInvalidPolicy", err[0])
	}
	if m := e.Metrics(); m.TotalOperations != 0 {
		t.Fatalf("%d operations; refused calls are none", m.TotalOperations)
	}
	if err := e.RegisterClassifier("later", ignore404); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), e, p, fn); err != nil || !ran {
		t.Fatalf("after RegisterClassifier: %v, ran %v; want it to run", err, ran)
	}
	if _, err := e.Prepare("op", p); err != nil {
		t.Fatalf("Prepare after RegisterClassifier: %v", err)
	}
}

// TestClassifierBadRegistrations: built-in names, invalid UTF-8 and nil functions are
// refused by WithClassifier and RegisterClassifier; the built-in names work in policies.
func TestClassifierBadRegistrations(t *testing.T) {
	fn := func(any, error) policy.Verdict { return policy.Success }
	for _, opt := range []Option{WithClassifier("", fn), WithClassifier("default", fn), WithClassifier("\xff", fn), WithClassifier("x", nil)} {
		if _, err := New(opt); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("New: %v; want ErrInvalidPolicy", err)
		}
	}
	e := newEngine(t)
	for _, err := range []error{e.RegisterClassifier("default", fn), e.RegisterClassifier("x", nil)} {
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("RegisterClassifier: %v; want ErrInvalidPolicy", err)
		}
	}
	var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("d").WithClassifier("default")
	if err := Run(context.Background(), e, p, func(context.Context) error { return errTemporary }); !errors.Is(err, errTemporary) {
		t.Fatalf("classifier \"default\": %v", err)
	}
	if s := e.Metrics().Breakers["d"].State; s != messages.Open {
		t.Fatalf("the default classifier counts a failure: state %v; want open", s)
	}
}

// TestClassifierPanicCountsAsFailureLoggedOnce: a panicking classifier counts the
// outcome as a failure and is logged once per classifier, however often it panics.
func TestClassifierPanicCountsAsFailureLoggedOnce(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	e := newEngine(t, WithLogger(zap.New(core)), WithClassifier("broken", func(any, error) policy.Verdict { panic("bug") }))
	var p policy.Policy = policy.CircuitBreaker(3, time.Hour).Named("broken").WithClassifier("broken")
	for i := range 3 {
		v, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if v != 42 || err != nil {
			t.Fatalf("call %d: %d, %v; want the call's own result", i+1, v, err)
		}
	}
	if s := e.Metrics().Breakers["broken"]; s.State != messages.Open || s.Failures != 3 {
		t.Fatalf("%+v; want open after 3 outcomes judged failures", s)
	}
	if n := logs.FilterMessageSnippet("classifier panicked").Len(); n != 1 {
		t.Fatalf("%d log lines; want the panic logged once", n)
	}
}

// TestRegisterClassifierReplacesForExistingPlans: replacing a classifier changes the
// verdict of a Plan prepared before.
func TestRegisterClassifierReplacesForExistingPlans(t *testing.T) {
	e := newEngine(t, WithClassifier("swap", func(any, error) policy.Verdict { return policy.Ignore }))
	pl, err := e.Prepare("swap-op", policy.CircuitBreaker(2, time.Hour).Named("swap").WithClassifier("swap"))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context) error { return errTemporary }
	for range 5 {
		RunPlan(context.Background(), pl, fail)
	}
	if s := e.Metrics().Breakers["swap"]; s.State != messages.Closed || s.Failures != 0 {
		t.Fatalf("%+v; want closed while the classifier ignores everything", s)
	}
	if err := e.RegisterClassifier("swap", func(any, error) policy.Verdict { return policy.Abort }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		RunPlan(context.Background(), pl, fail)
	}
	if s := e.Metrics().Breakers["swap"]; s.State != messages.Open || s.Failures != 2 {
		t.Fatalf("%+v; want open: Abort counts as a failure", s)
	}
}

// TestBreakerIgnoresCallerErrorsCountsTimeouts is the outcome precedence through the
// engine (CB-7, P2): the caller's cancellation, Permanent errors and refusals by an
// inner rate limit never open a breaker — not even when a classifier would call them
// failures — while an inner timeout counts as a failure.
func TestBreakerIgnoresCallerErrorsCountsTimeouts(t *testing.T) {
	e := newEngine(t, WithClassifier("strict", func(any, error) policy.Verdict { return policy.Failure }))
	for _, classifier := range []string{"", "strict"} {
		name := "precedence-" + classifier
		var p policy.Policy = policy.Combine(
			policy.CircuitBreaker(2, time.Hour).Named(name).WithClassifier(classifier),
			policy.RateLimit(1).Named("inner-"+classifier).WithBurst(1),
			policy.Timeout(20*time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 5 {
			Run(ctx, e, p, func(ctx context.Context) error { return ctx.Err() })
			Run(context.Background(), e, p, func(context.Context) error { return policy.Permanent(errors.New("bad request")) })
		}
		if s := e.Metrics().Breakers[name]; s.State != messages.Closed || s.Failures != 0 {
			t.Fatalf("%s: %+v; want closed, nothing counted (cancellations, Permanent, rate-limited)", name, s)
		}
		if s := e.Metrics().Limiters["inner-"+classifier]; s.Rejected == 0 {
			t.Fatalf("%s: the inner limiter refused nothing; the test lost its point", name)
		}
	}
	var p policy.Policy = policy.Combine(policy.CircuitBreaker(2, time.Hour).Named("timeouts"), policy.Timeout(time.Millisecond))
	for range 2 {
		err := Run(context.Background(), e, p, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		if !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("err %v; want ErrTimeout", err)
		}
	}
	if s := e.Metrics().Breakers["timeouts"].State; s != messages.Open {
		t.Fatalf("after 2 timeouts: %v; want open", s)
	}
}

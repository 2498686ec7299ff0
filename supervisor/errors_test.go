package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

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

package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

var errDown = errors.New("connection refused")

func TestClassification(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		retryable   bool
		unavailable bool
	}{
		{"nil", nil, false, false},
		{"any other error", errDown, true, false},
		{"timeout", policy.ErrTimeout, true, false},
		{"rate limited", policy.ErrRateLimited, true, true},
		{"overloaded", policy.ErrOverloaded, true, true},
		{"circuit open", policy.ErrCircuitOpen, false, true},
		{"shutdown", policy.ErrShutdown, false, true},
		{"retry exhausted", policy.ErrRetryExhausted, false, false},
		{"cancelled", policy.ErrCancelled, false, false},
		{"invalid policy", policy.ErrInvalidPolicy, false, false},
		{"panic", policy.ErrPanic, false, false},
		{"permanent", policy.Permanent(errDown), false, false},
		{"a plain context deadline is not a policy kind", context.DeadlineExceeded, true, false},
		{"*Error of a timeout", &policy.Error{Kind: policy.ErrTimeout, Err: context.DeadlineExceeded}, true, false},
		{"*Error of an open circuit", &policy.Error{Kind: policy.ErrCircuitOpen, After: time.Second}, false, true},
		{"exhausted wins over the retryable last error", &policy.Error{Kind: policy.ErrRetryExhausted, Err: policy.ErrTimeout}, false, false},
		{"cancelled wins over timeout", errors.Join(policy.ErrTimeout, policy.ErrCancelled), false, false},
		{"permanent wins over rate limited", policy.Permanent(policy.ErrRateLimited), false, true},
		{"the caller's deadline", &policy.Error{Kind: policy.ErrCancelled, Err: context.DeadlineExceeded}, false, false},
		{"an invalid policy error from Validate", policy.Retry(0).Validate(), false, false},
		{"circuit forced open", policy.ErrCircuitForcedOpen, false, true},
		{"*Error of a forced-open circuit", &policy.Error{Kind: policy.ErrCircuitForcedOpen, After: time.Second}, false, true},
		{"concurrency limited", policy.ErrConcurrencyLimited, true, true},
		{"*Error of a full bulkhead", &policy.Error{Kind: policy.ErrConcurrencyLimited}, true, true},
		{"budget exhausted", policy.ErrBudgetExhausted, false, false},
		{"budget exhausted wins over the retryable last error", &policy.Error{Kind: policy.ErrBudgetExhausted, Err: errDown}, false, false},
	}
	wrappers := []struct {
		name string
		wrap func(error) error
	}{
		{"bare", func(err error) error { return err }},
		{"wrapped with %w", func(err error) error { return fmt.Errorf("charge card: %w", err) }},
		{"wrapped twice", func(err error) error { return fmt.Errorf("checkout: %w", fmt.Errorf("charge: %w", err)) }},
		{"joined", func(err error) error { return errors.Join(errors.New("context"), err) }},
	}
	for _, tt := range tests {
		for _, w := range wrappers {
			if tt.err == nil && w.name != "bare" {
				continue
			}
			t.Run(tt.name+"/"+w.name, func(t *testing.T) {
				err := w.wrap(tt.err)
				if got := policy.IsRetryable(err); got != tt.retryable {
					t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tt.retryable)
				}
				if got := policy.IsServiceUnavailable(err); got != tt.unavailable {
					t.Errorf("IsServiceUnavailable(%v) = %v, want %v", err, got, tt.unavailable)
				}
			})
		}
	}
}

func TestSentinelMessages(t *testing.T) {
	for _, err := range []error{
		policy.ErrCircuitOpen, policy.ErrRateLimited, policy.ErrTimeout, policy.ErrRetryExhausted,
		policy.ErrCancelled, policy.ErrInvalidPolicy, policy.ErrPanic, policy.ErrShutdown, policy.ErrOverloaded,
		policy.ErrCircuitForcedOpen, policy.ErrConcurrencyLimited, policy.ErrBudgetExhausted,
	} {
		if msg := err.Error(); !strings.HasPrefix(msg, "policy: ") || strings.ToLower(msg) != msg {
			t.Errorf("sentinel message %q is not lower case with the policy: prefix", msg)
		}
	}
}

func TestTimeoutMatchesDeadlineExceeded(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"the sentinel", policy.ErrTimeout},
		{"an *Error of kind timeout", &policy.Error{Kind: policy.ErrTimeout, Op: "x", Attempts: 1}},
		{"wrapped", fmt.Errorf("call: %w", &policy.Error{Kind: policy.ErrTimeout})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, context.DeadlineExceeded) || !errors.Is(tt.err, policy.ErrTimeout) {
				t.Fatalf("%v should match both ErrTimeout and context.DeadlineExceeded", tt.err)
			}
			var timeout interface{ Timeout() bool }
			if !errors.As(tt.err, &timeout) || !timeout.Timeout() {
				t.Fatalf("%v should report Timeout() = true", tt.err)
			}
		})
	}
	if errors.Is(context.DeadlineExceeded, policy.ErrTimeout) {
		t.Fatal("a plain context.DeadlineExceeded must not look like a policy timeout")
	}
	if errors.Is(policy.ErrTimeout, context.Canceled) {
		t.Fatal("ErrTimeout must not match context.Canceled")
	}
}

// limitErr is a cause that says itself what passed, as the engine's timeout causes do:
// it matches ErrTimeout, so the message does not repeat the kind.
type limitErr struct{}

func (limitErr) Error() string        { return "timeout 200ms" }
func (limitErr) Is(target error) bool { return target == policy.ErrTimeout }

func TestErrorMessage(t *testing.T) {
	rateLimited := &policy.Error{Kind: policy.ErrRateLimited, Op: "api", Attempts: 1, After: 1500 * time.Millisecond}
	tests := []struct {
		name string
		err  *policy.Error
		want string
	}{
		{"retries exhausted", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "charge", Attempts: 3, Err: errDown},
			`op "charge": retries exhausted after 3 attempts: connection refused`},
		{"retries exhausted after one attempt", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "charge", Attempts: 1, Err: errDown},
			`op "charge": retries exhausted after 1 attempt: connection refused`},
		{"a plain failure reads as the function's error", &policy.Error{Op: "x", Attempts: 1, Err: errDown},
			`op "x": connection refused`},
		{"a plain failure without an op is the function's error", &policy.Error{Attempts: 2, Err: errDown},
			`connection refused`},
		{"a timeout names its limit", &policy.Error{Kind: policy.ErrTimeout, Op: "charge", Attempts: 1, Err: limitErr{}},
			`op "charge": timeout 200ms`},
		{"a timeout over several attempts", &policy.Error{Kind: policy.ErrTimeout, Op: "charge", Attempts: 3, Err: limitErr{}},
			`op "charge": timeout 200ms after 3 attempts`},
		{"a timeout without its limit", &policy.Error{Kind: policy.ErrTimeout, Op: "charge", Attempts: 1, Err: context.DeadlineExceeded},
			`op "charge": timeout: context deadline exceeded`},
		{"retries exhausted by timeouts", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "charge", Attempts: 3,
			Err: &policy.Error{Kind: policy.ErrTimeout, Op: "charge", Attempts: 3, Err: limitErr{}}},
			`op "charge": retries exhausted after 3 attempts: timeout 200ms`},
		{"a panic", &policy.Error{Kind: policy.ErrPanic, Op: "x", Attempts: 1, Err: errors.New("boom")},
			`op "x": panic: boom`},
		{"a panic after failed attempts", &policy.Error{Kind: policy.ErrPanic, Op: "x", Attempts: 3, Err: errors.New("boom")},
			`op "x": panic after 3 attempts: boom`},
		{"circuit open before any attempt", &policy.Error{Kind: policy.ErrCircuitOpen, After: 12 * time.Second},
			`circuit open (retry after 12s)`},
		{"circuit open after attempts", &policy.Error{Kind: policy.ErrCircuitOpen, Op: "x", Attempts: 2, After: 30 * time.Second},
			`op "x": circuit open after 2 attempts (retry after 30s)`},
		{"rate limited", &policy.Error{Kind: policy.ErrRateLimited, Op: "api", After: 250 * time.Millisecond},
			`op "api": rate limited (retry after 250ms)`},
		{"retries exhausted by refusals after one attempt ran", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "api", Attempts: 1, Err: rateLimited},
			`op "api": rate limited after 1 attempt, retries exhausted (retry after 1.5s)`},
		{"retries exhausted by refusals before any attempt ran", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "api",
			Err: &policy.Error{Kind: policy.ErrRateLimited, Op: "api", After: time.Second}},
			`op "api": rate limited, retries exhausted before any attempt ran (retry after 1s)`},
		{"retries exhausted by an overloaded actor", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "db", Attempts: 2,
			Err: &policy.Error{Kind: policy.ErrOverloaded, Op: "db", Err: errors.New("actor mailbox is full")}},
			`op "db": overloaded after 2 attempts, retries exhausted: actor mailbox is full`},
		{"retry advice is rounded to 3 significant digits", &policy.Error{Kind: policy.ErrRateLimited, After: 4999910051},
			`rate limited (retry after 5s)`},
		{"a short retry advice", &policy.Error{Kind: policy.ErrRateLimited, After: 1500123},
			`rate limited (retry after 1.5ms)`},
		{"a long retry advice", &policy.Error{Kind: policy.ErrCircuitOpen, After: 90*time.Minute + 1234567891},
			`circuit open (retry after 1h30m0s)`},
		{"cancelled", &policy.Error{Kind: policy.ErrCancelled, Op: "x", Attempts: 1, Err: context.Canceled},
			`op "x": cancelled after 1 attempt: context canceled`},
		{"cancelled before any attempt", &policy.Error{Kind: policy.ErrCancelled, Op: "x", Err: context.DeadlineExceeded},
			`op "x": cancelled: context deadline exceeded`},
		{"shut down", &policy.Error{Kind: policy.ErrShutdown, Op: "x"}, `op "x": shut down`},
		{"an invalid policy says it once", &policy.Error{Kind: policy.ErrInvalidPolicy, Op: "x", Err: policy.Retry(0).Validate()},
			`op "x": policy: retry: MaxAttempts must be ≥ 1, got 0`},
		{"invalid input", &policy.Error{Kind: policy.ErrInvalidPolicy, Err: errors.New("function is nil")},
			`invalid policy: function is nil`},
		{"a foreign kind keeps its message", &policy.Error{Kind: errors.New("quota: exceeded"), Attempts: 2},
			`quota: exceeded after 2 attempts`},
		{"zero", &policy.Error{}, `failed`},
		{"zero with an op", &policy.Error{Op: "x"}, `op "x": failed`},
		{"nil", nil, `policy: <nil>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error()\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestErrorMatchesKindAndCause(t *testing.T) {
	err := fmt.Errorf("checkout: %w", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "charge", Attempts: 3, Err: errDown})
	if !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, errDown) {
		t.Fatalf("%v should match its kind and its cause", err)
	}
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Op != "charge" || pe.Attempts != 3 {
		t.Fatalf("errors.As did not reach the *Error: %#v", pe)
	}
	if got := (&policy.Error{}).Unwrap(); got != nil {
		t.Fatalf("Unwrap of an empty *Error = %v, want nil", got)
	}
	if got := (&policy.Error{Err: errDown}).Unwrap(); len(got) != 1 || got[0] != errDown {
		t.Fatalf("Unwrap without kind = %v", got)
	}
	if got := (&policy.Error{Kind: policy.ErrPanic}).Unwrap(); len(got) != 1 || got[0] != policy.ErrPanic {
		t.Fatalf("Unwrap without cause = %v", got)
	}
}

func TestPermanent(t *testing.T) {
	if policy.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) should be nil")
	}
	err := fmt.Errorf("lookup: %w", policy.Permanent(errDown))
	if !policy.IsPermanent(err) || !errors.Is(err, errDown) {
		t.Fatalf("%v should be permanent and still match its cause", err)
	}
	if err.Error() != "lookup: connection refused" {
		t.Fatalf("Permanent changed the message: %s", err)
	}
	if policy.IsPermanent(errDown) || policy.IsPermanent(nil) {
		t.Fatal("an unmarked error is not permanent")
	}
	inner := &policy.Error{Kind: policy.ErrTimeout, Err: policy.Permanent(errDown)}
	if !policy.IsPermanent(inner) || policy.IsRetryable(inner) {
		t.Fatal("a permanent cause inside an *Error stays permanent and not retryable")
	}
}

// retryAfterError is a foreign error that advises a wait, like an HTTP 429 with Retry-After.
type retryAfterError struct{ d time.Duration }

func (e retryAfterError) Error() string             { return "too many requests" }
func (e retryAfterError) RetryAfter() time.Duration { return e.d }

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want time.Duration
		ok   bool
	}{
		{"nil", nil, 0, false},
		{"plain error", errDown, 0, false},
		{"*Error without advice", &policy.Error{Kind: policy.ErrTimeout}, 0, false},
		{"*Error with advice", &policy.Error{Kind: policy.ErrCircuitOpen, After: 5 * time.Second}, 5 * time.Second, true},
		{"wrapped *Error", fmt.Errorf("a: %w", &policy.Error{Kind: policy.ErrRateLimited, After: time.Second}), time.Second, true},
		{"a nil *Error", (*policy.Error)(nil), 0, false},
		{"outer *Error without advice, inner with", &policy.Error{Kind: policy.ErrRetryExhausted,
			Err: &policy.Error{Kind: policy.ErrRateLimited, After: 300 * time.Millisecond}}, 300 * time.Millisecond, true},
		{"foreign error with a RetryAfter method", fmt.Errorf("http: %w", retryAfterError{2 * time.Second}), 2 * time.Second, true},
		{"foreign error advising nothing", retryAfterError{0}, 0, false},
		{"inside a join", errors.Join(errDown, retryAfterError{time.Minute}), time.Minute, true},
		{"a foreign cause inside an *Error", &policy.Error{Kind: policy.ErrRetryExhausted, Err: retryAfterError{time.Second}}, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := policy.RetryAfter(tt.err)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("RetryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNestedErrorMessageDoesNotRepeatTheOperation(t *testing.T) {
	inner := &policy.Error{Kind: policy.ErrTimeout, Op: "charge", Attempts: 2, Err: errors.New("deadline")}
	outer := &policy.Error{Kind: policy.ErrRetryExhausted, Op: "charge", Attempts: 2, Err: inner}
	want := `op "charge": retries exhausted after 2 attempts: timeout: deadline`
	if got := outer.Error(); got != want {
		t.Fatalf("message %q; want %q", got, want)
	}
	if !errors.Is(outer, policy.ErrTimeout) || !errors.Is(outer, policy.ErrRetryExhausted) {
		t.Fatal("nested error lost a kind")
	}
}

func TestCircuitForcedOpenMatchesCircuitOpen(t *testing.T) {
	forced := &policy.Error{Kind: policy.ErrCircuitForcedOpen, Op: "inventory", After: 5 * time.Second}
	tests := []struct {
		name string
		err  error
	}{
		{"the sentinel", policy.ErrCircuitForcedOpen},
		{"an *Error of its kind", forced},
		{"wrapped", fmt.Errorf("stock: %w", forced)},
		{"inside an exhausted retry", &policy.Error{Kind: policy.ErrRetryExhausted, Attempts: 1, Err: forced}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, policy.ErrCircuitForcedOpen) || !errors.Is(tt.err, policy.ErrCircuitOpen) {
				t.Errorf("%v should match both ErrCircuitForcedOpen and ErrCircuitOpen", tt.err)
			}
		})
	}
	if errors.Is(policy.ErrCircuitOpen, policy.ErrCircuitForcedOpen) ||
		errors.Is(&policy.Error{Kind: policy.ErrCircuitOpen}, policy.ErrCircuitForcedOpen) {
		t.Error("an automatic open circuit must not match ErrCircuitForcedOpen")
	}
	if got, want := forced.Error(), `op "inventory": circuit forced open (retry after 5s)`; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}
	if d, ok := policy.RetryAfter(forced); !ok || d != 5*time.Second {
		t.Errorf("RetryAfter = %v, %v; want 5s, true", d, ok)
	}
}

func TestNewRefusalsReadFirstWhenRetriesRunOut(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a full bulkhead", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "api", Attempts: 2,
			Err: &policy.Error{Kind: policy.ErrConcurrencyLimited}},
			`op "api": concurrency limited after 2 attempts, retries exhausted`},
		{"a forced-open breaker", &policy.Error{Kind: policy.ErrRetryExhausted, Op: "api", Attempts: 1,
			Err: &policy.Error{Kind: policy.ErrCircuitForcedOpen, After: time.Minute}},
			`op "api": circuit forced open after 1 attempt, retries exhausted (retry after 1m0s)`},
		{"a budget that refused the retry carries the last error", &policy.Error{Kind: policy.ErrBudgetExhausted, Op: "api", Attempts: 1, Err: errDown},
			`op "api": retry budget exhausted after 1 attempt: connection refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error()\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestIsRefusal(t *testing.T) {
	limited := &policy.Error{Kind: policy.ErrRateLimited, After: time.Second}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"a plain error", errDown, false},
		{"rate limited", limited, true},
		{"circuit open", &policy.Error{Kind: policy.ErrCircuitOpen}, true},
		{"circuit forced open", &policy.Error{Kind: policy.ErrCircuitForcedOpen}, true},
		{"overloaded", policy.ErrOverloaded, true},
		{"shut down", fmt.Errorf("call: %w", policy.ErrShutdown), true},
		{"concurrency limited", &policy.Error{Kind: policy.ErrConcurrencyLimited}, true},
		{"a timeout is a failure, not a refusal", &policy.Error{Kind: policy.ErrTimeout}, false},
		{"a panic is a failure", &policy.Error{Kind: policy.ErrPanic}, false},
		{"cancelled is judged before refusals, and is not one", &policy.Error{Kind: policy.ErrCancelled}, false},
		{"permanent", policy.Permanent(errDown), false},
		{"budget exhausted on a failure is judged by that failure", &policy.Error{Kind: policy.ErrBudgetExhausted, Err: errDown}, false},
		{"budget exhausted on a refusal is judged by that refusal", &policy.Error{Kind: policy.ErrBudgetExhausted, Err: limited}, true},
		{"budget exhausted alone", policy.ErrBudgetExhausted, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.IsRefusal(tt.err); got != tt.want {
				t.Errorf("IsRefusal(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

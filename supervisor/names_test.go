package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/policy"
)

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

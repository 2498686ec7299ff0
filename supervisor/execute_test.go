package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
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

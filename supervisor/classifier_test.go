package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

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

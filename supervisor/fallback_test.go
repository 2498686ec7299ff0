package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFallbackNeverOnSuccess: a fallback never runs on success (FB-1; failsafe-go's
// "should not fallback").
func TestFallbackNeverOnSuccess(t *testing.T) {
	e := newEngine(t)
	ran := false
	if err := RegisterFallback(e, "never", func(context.Context, error) (int, error) { ran = true; return -1, nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []policy.Policy{policy.Fallback().WithValue(-1), policy.Fallback().WithFunc("never")} {
		if v, err := ExecuteWithPolicy(context.Background(), e, p, ok42); v != 42 || err != nil {
			t.Fatalf("%v: (%d, %v), want (42, nil)", p, v, err)
		}
	}
	if ran || e.Metrics().Fallbacks != 0 {
		t.Fatalf("the fallback ran on success (ran %v, Fallbacks %d)", ran, e.Metrics().Fallbacks)
	}
}

// TestFallbackReplacesFailureWithValue: a static value replaces a failure, and the
// rescued call is a successful operation counted in Metrics.Fallbacks and
// bulwark_fallbacks_total, with a FallbackExecuted carrying the cause (FB-6;
// failsafe-go's "should fallback with result").
func TestFallbackReplacesFailureWithValue(t *testing.T) {
	rec := &recorder{}
	e := newEngine(t, WithObserver(rec))
	type stock struct {
		Item  string `json:"item"`
		Count int    `json:"count"`
	}
	var p policy.Policy = policy.Fallback().WithValue(stock{Item: "none", Count: 0})
	pl, err := e.Prepare("stock", p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ExecutePlan(context.Background(), pl, func(context.Context) (stock, error) { return stock{}, errTemporary })
	if err != nil || v != (stock{Item: "none"}) {
		t.Fatalf("got (%+v, %v), want the fallback value", v, err)
	}
	m := e.Metrics()
	if m.Fallbacks != 1 || m.SuccessfulOperations != 1 || m.FailedOperations != 0 {
		t.Fatalf("metrics %+v, want 1 fallback and 1 successful operation", m)
	}
	if got := testutil.ToFloat64(collectOnlyNamed(e.Collector(), "bulwark_fallbacks_total")); got != 1 {
		t.Fatalf("bulwark_fallbacks_total = %v, want 1", got)
	}
	fb := rec.of("FallbackExecuted")
	if len(fb) != 1 || !errors.Is(fb[0].info.(FallbackInfo).Cause, errTemporary) {
		t.Fatalf("FallbackExecuted %v, want one with the cause", fb)
	}
}

// collectOnlyNamed is the part of col whose metric names are name.
func collectOnlyNamed(col prometheus.Collector, name string) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		all := make(chan prometheus.Metric, 1024)
		go func() { col.Collect(all); close(all) }()
		for m := range all {
			if strings.Contains(m.Desc().String(), `"`+name+`"`) {
				ch <- m
			}
		}
	})
}

// TestFallbackOnKinds: On selects the failures by kind with errors.Is; "failure" is an
// error of none of the kinds (FB-1).
func TestFallbackOnKinds(t *testing.T) {
	e := newEngine(t)
	if err := e.ForceOpen("fb", time.Hour); err != nil {
		t.Fatal(err)
	}
	breaker := policy.CircuitBreaker(1, time.Minute).Named("fb")
	onOpen := policy.Combine(policy.Fallback().OnKinds("circuit_open").WithValue(-1), breaker)
	onFailure := policy.Combine(policy.Fallback().OnKinds("failure").WithValue(-2), breaker)
	if v, err := ExecuteWithPolicy(context.Background(), e, onOpen, ok42); v != -1 || err != nil {
		t.Fatalf("circuit_open on an open breaker: (%d, %v), want (-1, nil)", v, err)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, onFailure, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("failure on an open breaker: %v, want ErrCircuitOpen (not replaced)", err)
	}
	plainOpen := policy.Fallback().OnKinds("circuit_open").WithValue(-1)
	if _, err := ExecuteWithPolicy(context.Background(), e, plainOpen, failing); !errors.Is(err, errTemporary) {
		t.Fatalf("circuit_open on a plain failure: %v, want the failure", err)
	}
	plainFailure := policy.Fallback().OnKinds("failure").WithValue(-2)
	if v, err := ExecuteWithPolicy(context.Background(), e, plainFailure, failing); v != -2 || err != nil {
		t.Fatalf("failure on a plain failure: (%d, %v), want (-2, nil)", v, err)
	}
	retried := policy.Combine(policy.Fallback().OnKinds("retry_exhausted", "timeout").WithValue(-3), fastRetry(2))
	if v, err := ExecuteWithPolicy(context.Background(), e, retried, failing); v != -3 || err != nil {
		t.Fatalf("retry_exhausted: (%d, %v), want (-3, nil)", v, err)
	}
	if err := policy.Fallback().OnKinds("bogus").WithValue(1).Validate(); !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown kind: %v, want ErrInvalidPolicy naming it", err)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.Fallback().OnKinds("bogus").WithValue(1), ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("unknown kind at Execute: %v", err)
	}
}

// TestFallbackNeverOnCancellationShutdownOrInvalid: the caller's cancellation,
// ErrShutdown and ErrInvalidPolicy are never replaced (FB-1; failsafe-go's "should not
// fallback when canceled").
func TestFallbackNeverOnCancellationShutdownOrInvalid(t *testing.T) {
	e := newEngineNoCleanup(t)
	p := policy.Fallback().WithValue(-1)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
		cancel() // the caller gives up while the function runs
		return 0, errTemporary
	})
	if !errors.Is(err, policy.ErrCancelled) {
		t.Fatalf("cancelled: %v, want ErrCancelled", err)
	}
	if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCancelled) {
		t.Fatalf("cancelled before: %v, want ErrCancelled", err)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.Combine(p, policy.Retry(0)), ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("invalid: %v, want ErrInvalidPolicy", err)
	}
	if e.Metrics().Fallbacks != 0 {
		t.Fatal("a fallback ran")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := e.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, p, failing); !errors.Is(err, policy.ErrShutdown) {
		t.Fatalf("after Shutdown: %v, want ErrShutdown", err)
	}
}

// TestFallbackValueMustFitT: Fallback().WithValue("x") under ExecuteWithPolicy[int] is
// ErrInvalidPolicy, the function never runs and it is not an operation (FB-2).
func TestFallbackValueMustFitT(t *testing.T) {
	e := newEngine(t)
	var p policy.Policy = policy.Fallback().WithValue("x")
	ran := false
	_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { ran = true; return 1, nil })
	if !errors.Is(err, policy.ErrInvalidPolicy) || ran {
		t.Fatalf("got %v (ran %v), want ErrInvalidPolicy and nothing run", err, ran)
	}
	pl, err := e.Prepare("", p)
	if err != nil {
		t.Fatalf("Prepare checks the JSON only: %v", err)
	}
	if _, err := ExecutePlan(context.Background(), pl, func(context.Context) (int, error) { ran = true; return 1, nil }); !errors.Is(err, policy.ErrInvalidPolicy) || ran {
		t.Fatalf("ExecutePlan: %v (ran %v)", err, ran)
	}
	// The same plan fits string, and keeps refusing int (cached per T).
	if v, err := ExecutePlan(context.Background(), pl, func(context.Context) (string, error) { return "", errTemporary }); v != "x" || err != nil {
		t.Fatalf("string: (%q, %v), want (x, nil)", v, err)
	}
	if _, err := ExecutePlan(context.Background(), pl, ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("int again: %v", err)
	}
	type strict struct {
		A int `json:"a"`
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.Fallback().WithValue(map[string]int{"b": 1}), func(context.Context) (strict, error) { return strict{}, nil }); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("unknown field: %v, want ErrInvalidPolicy", err)
	}
	if m := e.Metrics(); m.TotalOperations != 1 {
		t.Fatalf("TotalOperations = %d, want 1 (only the string call)", m.TotalOperations)
	}
	for _, bad := range []policy.FallbackPolicy{
		policy.Fallback(), policy.Fallback().WithValue(1).WithFunc("f"),
		{Value: []byte("{")}, policy.Fallback().WithValue(func() {}),
	} {
		if err := bad.Validate(); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%v: Validate() = %v, want ErrInvalidPolicy", bad, err)
		}
	}
}

// TestFallbackFuncByName: a Func not registered is ErrInvalidPolicy at Prepare and at
// ExecuteWithPolicy until it is registered; one registered for another T is
// ErrInvalidPolicy before anything runs; registering again replaces it (FB-2).
func TestFallbackFuncByName(t *testing.T) {
	e := newEngine(t)
	var p policy.Policy = policy.Fallback().WithFunc("cached")
	if _, err := e.Prepare("", p); !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "cached") {
		t.Fatalf("Prepare: %v, want ErrInvalidPolicy naming the function", err)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, p, failing); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("Execute: %v", err)
	}
	if err := RegisterFallback(e, "cached", func(context.Context, error) (string, error) { return "s", nil }); err != nil {
		t.Fatal(err)
	}
	ran := false
	if _, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { ran = true; return 0, errTemporary }); !errors.Is(err, policy.ErrInvalidPolicy) || ran {
		t.Fatalf("other T: %v (ran %v), want ErrInvalidPolicy and nothing run", err, ran)
	}
	if err := RegisterFallback(e, "cached", func(_ context.Context, err error) (int, error) { return 7, nil }); err != nil {
		t.Fatal(err)
	}
	if v, err := ExecuteWithPolicy(context.Background(), e, p, failing); v != 7 || err != nil {
		t.Fatalf("after registering for int: (%d, %v), want (7, nil)", v, err)
	}
	for _, bad := range []error{
		RegisterFallback(e, "", func(context.Context, error) (int, error) { return 0, nil }),
		RegisterFallback(e, "\xff", func(context.Context, error) (int, error) { return 0, nil }),
		RegisterFallback[int](e, "nil", nil),
		RegisterFallback(nil, "x", func(context.Context, error) (int, error) { return 0, nil }),
	} {
		if !errors.Is(bad, policy.ErrInvalidPolicy) {
			t.Errorf("RegisterFallback: %v, want ErrInvalidPolicy", bad)
		}
	}
}

// TestFallbackGetsLiveContextAndFullError: Combine(Fallback(fn), Timeout(10ms)): fn sees
// a live context and the inner error matching ErrTimeout (FB-3).
func TestFallbackGetsLiveContextAndFullError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		type key struct{}
		if err := RegisterFallback(e, "late", func(ctx context.Context, err error) (int, error) {
			if ctx.Err() != nil || ctx.Value(key{}) != "caller" {
				t.Errorf("the fallback's context is ended or not the caller's: %v", ctx.Err())
			}
			var pe *policy.Error
			if !errors.Is(err, policy.ErrTimeout) || !errors.As(err, &pe) || pe.Attempts != 1 {
				t.Errorf("the fallback got %#v, want the timeout's *policy.Error", err)
			}
			return -1, nil
		}); err != nil {
			t.Fatal(err)
		}
		p := policy.Combine(policy.Fallback().WithFunc("late"), policy.Timeout(10*time.Millisecond))
		ctx := context.WithValue(context.Background(), key{}, "caller")
		v, err := ExecuteWithPolicy(ctx, e, p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if v != -1 || err != nil {
			t.Fatalf("got (%d, %v), want (-1, nil)", v, err)
		}
	})
}

// TestFallbackFailureMatchesBoth: a fallback that fails returns an error matching its
// own error and the original one, with the original's Kind; a panicking fallback is an
// ErrPanic (FB-4; Polly's fallback error tests: the fallback's exception surfaces,
// here without losing the original).
func TestFallbackFailureMatchesBoth(t *testing.T) {
	e := newEngine(t)
	fbErr := errors.New("cache down")
	if err := RegisterFallback(e, "broken", func(context.Context, error) (int, error) { return 0, fbErr }); err != nil {
		t.Fatal(err)
	}
	if err := RegisterFallback(e, "panics", func(context.Context, error) (int, error) { panic("fallback bug") }); err != nil {
		t.Fatal(err)
	}
	if err := e.ForceOpen("fb4", time.Hour); err != nil {
		t.Fatal(err)
	}
	p := policy.Combine(policy.Fallback().WithFunc("broken"), policy.CircuitBreaker(1, time.Minute).Named("fb4"))
	_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
	var pe *policy.Error
	if !errors.Is(err, fbErr) || !errors.Is(err, policy.ErrCircuitOpen) || !errors.As(err, &pe) || !errors.Is(pe.Kind, policy.ErrCircuitOpen) {
		t.Fatalf("got %v, want an error matching both, of the original Kind", err)
	}
	if !strings.Contains(err.Error(), "cache down") {
		t.Fatalf("message %q lacks the fallback's error", err)
	}
	_, err = ExecuteWithPolicy(context.Background(), e, policy.Fallback().WithFunc("broken"), failing)
	if !errors.Is(err, fbErr) || !errors.Is(err, errTemporary) {
		t.Fatalf("plain failure: %v, want both errors", err)
	}
	_, err = ExecuteWithPolicy(context.Background(), e, policy.Fallback().WithFunc("panics"), failing)
	if !errors.Is(err, policy.ErrPanic) || !errors.Is(err, errTemporary) {
		t.Fatalf("panicking fallback: %v, want ErrPanic and the original", err)
	}
	if m := e.Metrics(); m.Fallbacks != 3 || m.FailedOperations != 3 || m.Panics != 1 {
		t.Fatalf("metrics %+v", m)
	}
}

// TestFallbackClassifierReplacesValues: a classifier failing v == -1 makes the fallback
// replace that value (FB-5).
func TestFallbackClassifierReplacesValues(t *testing.T) {
	e := newEngine(t, WithClassifier("neg", func(v any, err error) policy.Verdict {
		if err != nil || v == -1 {
			return policy.Failure
		}
		return policy.Success
	}))
	p := policy.Fallback().WithValue(0).WithClassifier("neg")
	if v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { return -1, nil }); v != 0 || err != nil {
		t.Fatalf("-1: (%d, %v), want (0, nil)", v, err)
	}
	if v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { return 5, nil }); v != 5 || err != nil {
		t.Fatalf("5: (%d, %v), want (5, nil)", v, err)
	}
	var discarded []any
	ctx := WithDiscard(context.Background(), func(v any) { discarded = append(discarded, v) })
	if v, _ := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) { return -1, nil }); v != 0 || len(discarded) != 1 || discarded[0] != -1 {
		t.Fatalf("the replaced value goes to the discard hook: %d, %v", v, discarded)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.Fallback().WithValue(0).WithClassifier("nope"), ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("unknown classifier: %v", err)
	}
}

// TestFallbackInsideRetryHidesFailures: a fallback inside a retry is allowed (FB-7) and
// hides the failure from the retry: one attempt.
func TestFallbackInsideRetryHidesFailures(t *testing.T) {
	e := newEngine(t)
	attempts := 0
	p := policy.Combine(fastRetry(3), policy.Fallback().WithValue(9))
	v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { attempts++; return 0, errTemporary })
	if v != 9 || err != nil || attempts != 1 {
		t.Fatalf("(%d, %v) after %d attempts, want (9, nil) after 1", v, err, attempts)
	}
	if s := p.String(); s != "combine(retry(3).backoff(fixed(1ms)), fallback().value(9))" {
		t.Fatalf("String() = %s", s)
	}
}

// TestFallbackUnderRunAndActorClients: under Run the value is ignored (T struct{}); an
// actor client (T any) gets the JSON value.
func TestFallbackUnderRunAndActorClients(t *testing.T) {
	e := newEngine(t)
	if err := RegisterFallback(e, "int", func(context.Context, error) (int, error) { return 3, nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []policy.Policy{policy.Fallback().WithValue(map[string]int{"a": 1}), policy.Fallback().WithFunc("int")} {
		if err := Run(context.Background(), e, p, func(context.Context) error { return errTemporary }); err != nil {
			t.Fatalf("Run %v: %v, want nil", p, err)
		}
		v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (any, error) { return nil, errTemporary })
		if err != nil || v == nil {
			t.Fatalf("any %v: (%v, %v)", p, v, err)
		}
	}
	results := make(chan *messages.Result, 1)
	root := e.System().Root
	client := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			c.Request(e.PID(), &messages.Execute{ID: "a", Policy: policy.Fallback().WithValue("offline"),
				Fn: func(context.Context) (any, error) { return nil, errTemporary }})
		case *messages.Result:
			results <- m
		}
	}))
	defer root.Poison(client)
	root.Send(client, "go")
	if r := receiveResults(t, results, 1)["a"]; r == nil || r.Err != nil || r.Value != "offline" {
		t.Fatalf("actor client: %+v, want the value", r)
	}
}

// TestFallbackValueMustFitTInABatch: ExecuteAll with a fallback value that does not fit
// T refuses every entry with ErrInvalidPolicy, runs nothing, and Shutdown does not wait
// for the refused entries (FB-2).
func TestFallbackValueMustFitTInABatch(t *testing.T) {
	e := newEngine(t)
	ran := false
	fns := []func(context.Context) (int, error){func(context.Context) (int, error) { ran = true; return 1, nil }, failing}
	_, errs := ExecuteAll(context.Background(), e, policy.Fallback().WithValue("x"), fns)
	for i, err := range errs {
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Fatalf("entry %d: %v, want ErrInvalidPolicy", i, err)
		}
	}
	if ran || e.Metrics().TotalOperations != 0 {
		t.Fatalf("ran %v, %d operations; want nothing run", ran, e.Metrics().TotalOperations)
	}
	vals, errs := ExecuteAll(context.Background(), e, policy.Fallback().WithValue(-1), fns)
	if errs[0] != nil || errs[1] != nil || vals[0] != 1 || vals[1] != -1 {
		t.Fatalf("fitting value: %v %v", vals, errs)
	}
}

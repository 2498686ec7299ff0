package bulwarkotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkotel"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// errSecret is a function's error whose text must never reach an attribute.
var errSecret = errors.New("db: password=hunter2 rejected for user 42")

// failTwice returns a function that fails its first two attempts with errSecret and then
// returns "ok", recording the span each attempt's ctx carries.
func failTwice(seen *[]trace.SpanContext) func(context.Context) (string, error) {
	n := 0
	return func(ctx context.Context) (string, error) {
		n++
		*seen = append(*seen, trace.SpanContextFromContext(ctx))
		if n < 3 {
			return "", errSecret
		}
		return "ok", nil
	}
}

var retry3 = policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond})

// IN-19: fail, fail, succeed under Retry(3) is one operation span, a child of the
// caller's, with one child span per attempt; the function runs under the operation's
// span.
func TestRetriedCallIsOneSpanWithAChildPerAttempt(t *testing.T) {
	r := newRig(t)
	pl, err := r.e.Prepare("charge", retry3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := r.tp.Tracer("test").Start(context.Background(), "request")
	var seen []trace.SpanContext
	v, err := supervisor.ExecutePlan(ctx, pl, failTwice(&seen))
	root.End()
	if v != "ok" || err != nil {
		t.Fatalf("ExecutePlan = %q, %v; want ok, nil", v, err)
	}

	ops := r.spanNamed("bulwark charge")
	if len(ops) != 1 {
		t.Fatalf("%d operation spans, want 1 (all: %v)", len(ops), names(r.spans.Ended()))
	}
	op := ops[0]
	if op.Parent().SpanID() != root.SpanContext().SpanID() || op.SpanContext().TraceID() != root.SpanContext().TraceID() {
		t.Errorf("operation span's parent %v, want the caller's span %v", op.Parent().SpanID(), root.SpanContext().SpanID())
	}
	if op.SpanKind() != trace.SpanKindInternal {
		t.Errorf("operation span kind %v, want internal", op.SpanKind())
	}
	if got := op.Status(); got.Code != codes.Unset {
		t.Errorf("operation span status %v, want Unset for a success", got)
	}
	if got, want := attrs(op.Attributes()), "bulwark.operation=charge bulwark.outcome=success"; got != want {
		t.Errorf("operation span attributes %q, want %q", got, want)
	}
	wantEvents := []string{
		"bulwark.retry{bulwark.attempt=1 error.type=failure}",
		"bulwark.retry{bulwark.attempt=2 error.type=failure}",
	}
	if got := events(op); !slices.Equal(got, wantEvents) {
		t.Errorf("operation span events %q, want %q", got, wantEvents)
	}
	for i, sc := range seen {
		if sc.SpanID() != op.SpanContext().SpanID() {
			t.Errorf("attempt %d ran under span %v, want the operation's %v", i+1, sc.SpanID(), op.SpanContext().SpanID())
		}
	}

	tries := r.spanNamed("bulwark attempt")
	if len(tries) != 3 {
		t.Fatalf("%d attempt spans, want 3 (all: %v)", len(tries), names(r.spans.Ended()))
	}
	slices.SortFunc(tries, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	for i, s := range tries {
		outcome, code, desc := "failure", codes.Error, "failure"
		if i == 2 {
			outcome, code, desc = "success", codes.Unset, ""
		}
		want := fmt.Sprintf("bulwark.attempt=%d bulwark.attempt.hedge=false bulwark.operation=charge bulwark.outcome=%s", i+1, outcome)
		if i < 2 {
			want += " error.type=failure"
		}
		if got := attrs(s.Attributes()); got != want {
			t.Errorf("attempt span %d attributes %q, want %q", i+1, got, want)
		}
		if s.Parent().SpanID() != op.SpanContext().SpanID() {
			t.Errorf("attempt span %d's parent %v, want the operation span %v", i+1, s.Parent().SpanID(), op.SpanContext().SpanID())
		}
		if st := s.Status(); st.Code != code || st.Description != desc {
			t.Errorf("attempt span %d status %v, want %v %q", i+1, st, code, desc)
		}
		if s.StartTime().Before(op.StartTime()) || s.EndTime().After(op.EndTime()) || s.EndTime().Before(s.StartTime()) {
			t.Errorf("attempt span %d runs %v..%v, outside the operation's %v..%v", i+1, s.StartTime(), s.EndTime(), op.StartTime(), op.EndTime())
		}
		if i > 0 && s.StartTime().Before(tries[i-1].EndTime()) {
			t.Errorf("attempt span %d starts before attempt %d ended", i+1, i)
		}
	}
}

// IN-19: the metrics of fail, fail, succeed under Retry(3), asserted with metricdatatest.
func TestRetriedCallMetrics(t *testing.T) {
	r := newRig(t)
	pl, err := r.e.Prepare("charge", retry3)
	if err != nil {
		t.Fatal(err)
	}
	var seen []trace.SpanContext
	if _, err := supervisor.ExecutePlan(context.Background(), pl, failTwice(&seen)); err != nil {
		t.Fatal(err)
	}
	ms := r.metrics(t)

	attempt := func(outcome string) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attrSet(
			"bulwark.operation", "charge", "bulwark.stage", "retry", "bulwark.outcome", outcome, "bulwark.attempt.hedge", false)}
	}
	failed, succeeded := attempt("failure"), attempt("success")
	failed.Value, succeeded.Value = 2, 1
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "bulwark.attempts",
		Description: "Attempts of the operations' functions, by the verdict of the stage that ran them.",
		Unit:        "{attempt}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints:  []metricdata.DataPoint[int64]{failed, succeeded},
		},
	}, ms["bulwark.attempts"], metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "bulwark.operations",
		Description: "Operations that ran through a bulwark engine, by outcome.",
		Unit:        "{operation}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{
				Attributes: attrSet("bulwark.operation", "charge", "bulwark.outcome", "success"), Value: 1,
			}},
		},
	}, ms["bulwark.operations"], metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "bulwark.retries",
		Description: "Retries scheduled after a failed attempt, by the failure's kind.",
		Unit:        "{retry}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{
				Attributes: attrSet("bulwark.operation", "charge", "error.type", "failure"), Value: 2,
			}},
		},
	}, ms["bulwark.retries"], metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	if got, want := counts(t, ms, "bulwark.operation.duration"), map[string]uint64{"bulwark.operation=charge bulwark.outcome=success": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.operation.duration counts %v, want %v", got, want)
	}
	wantTries := map[string]uint64{
		"bulwark.attempt.hedge=false bulwark.operation=charge bulwark.outcome=failure bulwark.stage=retry": 2,
		"bulwark.attempt.hedge=false bulwark.operation=charge bulwark.outcome=success bulwark.stage=retry": 1,
	}
	if got := counts(t, ms, "bulwark.attempt.duration"); !mapsEqual(got, wantTries) {
		t.Errorf("bulwark.attempt.duration counts %v, want %v", got, wantTries)
	}
	h := ms["bulwark.operation.duration"].Data.(metricdata.Histogram[float64])
	if got := h.DataPoints[0].Bounds; !slices.Equal(got, bulwarkotel.DefaultDurationBuckets) {
		t.Errorf("duration buckets %v, want DefaultDurationBuckets", got)
	}
	// The call slept 2 ms between its attempts.
	if sum := h.DataPoints[0].Sum; sum < 0.002 {
		t.Errorf("operation duration %vs, want ≥ the 2 ms of backoff", sum)
	}
	for _, name := range []string{"bulwark.rejections", "bulwark.fallbacks"} {
		if got := sums(t, ms, name); len(got) != 0 {
			t.Errorf("%s = %v, want no points", name, got)
		}
	}
}

// IN-19: a call with one attempt is one span, without an attempt span; a failure ends
// it with status Error described by the error's kind, never its text.
func TestSingleAttemptIsOneSpan(t *testing.T) {
	r := newRig(t)
	_, err := supervisor.ExecuteWithPolicy(context.Background(), r.e, policy.Timeout(time.Minute), func(context.Context) (int, error) {
		return 0, errSecret
	})
	if !errors.Is(err, errSecret) {
		t.Fatalf("err = %v, want errSecret", err)
	}
	ended := r.spans.Ended()
	if len(ended) != 1 || ended[0].Name() != "bulwark" {
		t.Fatalf("spans %v, want the one operation span, named bulwark (no ID)", names(ended))
	}
	op := ended[0]
	if st := op.Status(); st.Code != codes.Error || st.Description != "failure" {
		t.Errorf("status %v, want Error \"failure\"", st)
	}
	if got, want := attrs(op.Attributes()), "bulwark.operation= bulwark.outcome=failure"; got != want {
		t.Errorf("attributes %q, want %q", got, want)
	}
	if len(op.Events()) != 0 {
		t.Errorf("events %v, want none", events(op))
	}
	ms := r.metrics(t)
	if got, want := sums(t, ms, "bulwark.attempts"), map[string]int64{"bulwark.attempt.hedge=false bulwark.operation= bulwark.outcome=failure bulwark.stage=call": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.attempts %v, want %v", got, want)
	}
	assertNoSecret(t, r)
}

// IN-19: an open breaker's refusal is a "bulwark.rejected" event naming the stage's kind
// and name, counted in bulwark.rejections; the call has no attempt.
func TestBreakerRejectionIsAnEvent(t *testing.T) {
	r := newRig(t)
	if err := r.e.ForceOpen("inventory", 0); err != nil {
		t.Fatal(err)
	}
	pl, err := r.e.Prepare("stock", policy.CircuitBreaker(5, time.Minute).Named("inventory"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, policy.ErrCircuitForcedOpen) {
		t.Fatalf("err = %v, want ErrCircuitForcedOpen", err)
	}
	op := onlySpan(t, r, "bulwark stock")
	if got, want := events(op), []string{"bulwark.rejected{bulwark.kind=breaker bulwark.name=inventory error.type=circuit_forced_open}"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if st := op.Status(); st.Code != codes.Error || st.Description != "circuit_forced_open" {
		t.Errorf("status %v, want Error circuit_forced_open", st)
	}
	ms := r.metrics(t)
	if got, want := sums(t, ms, "bulwark.rejections"), map[string]int64{"bulwark.kind=breaker bulwark.name=inventory bulwark.operation=stock": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.rejections %v, want %v", got, want)
	}
	if got := sums(t, ms, "bulwark.attempts"); len(got) != 0 {
		t.Errorf("bulwark.attempts %v, want none: a refused call has no attempt", got)
	}
	if got, want := sums(t, ms, "bulwark.operations"), map[string]int64{"bulwark.operation=stock bulwark.outcome=circuit_forced_open": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.operations %v, want %v", got, want)
	}
}

// IN-19: a rate limiter's refusal is a rejection of kind "limiter".
func TestRateLimitRejectionIsAnEvent(t *testing.T) {
	r := newRig(t)
	// One token, refilled after 1000 s: the second call is refused.
	pl, err := r.e.Prepare("api", policy.RateLimit(0.001).Named("partner"))
	if err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context) (int, error) { return 1, nil }
	if _, err := supervisor.ExecutePlan(context.Background(), pl, ok); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if _, err := supervisor.ExecutePlan(context.Background(), pl, ok); !errors.Is(err, policy.ErrRateLimited) {
		t.Fatalf("second call: %v, want ErrRateLimited", err)
	}
	ops := r.spanNamed("bulwark api")
	if len(ops) != 2 {
		t.Fatalf("%d operation spans, want 2", len(ops))
	}
	if got := events(ops[0]); len(got) != 0 {
		t.Errorf("first call's events %q, want none", got)
	}
	if got, want := events(ops[1]), []string{"bulwark.rejected{bulwark.kind=limiter bulwark.name=partner error.type=rate_limited}"}; !slices.Equal(got, want) {
		t.Errorf("second call's events %q, want %q", got, want)
	}
	if got, want := sums(t, r.metrics(t), "bulwark.rejections"), map[string]int64{"bulwark.kind=limiter bulwark.name=partner bulwark.operation=api": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.rejections %v, want %v", got, want)
	}
}

// IN-19: a fallback is a "bulwark.fallback" event with the replaced failure's kind; the
// call succeeds, so its span's status stays Unset.
func TestFallbackIsAnEvent(t *testing.T) {
	r := newRig(t)
	pl, err := r.e.Prepare("profile", policy.Fallback().WithValue("cached"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (string, error) { return "", errSecret })
	if v != "cached" || err != nil {
		t.Fatalf("ExecutePlan = %q, %v; want cached, nil", v, err)
	}
	op := onlySpan(t, r, "bulwark profile")
	if got, want := events(op), []string{"bulwark.fallback{error.type=failure}"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if st := op.Status(); st.Code != codes.Unset {
		t.Errorf("status %v, want Unset: the fallback's value is a success", st)
	}
	ms := r.metrics(t)
	if got, want := sums(t, ms, "bulwark.fallbacks"), map[string]int64{"bulwark.operation=profile error.type=failure": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.fallbacks %v, want %v", got, want)
	}
	if got, want := sums(t, ms, "bulwark.operations"), map[string]int64{"bulwark.operation=profile bulwark.outcome=success": 1}; !mapsEqual(got, want) {
		t.Errorf("bulwark.operations %v, want %v", got, want)
	}
	assertNoSecret(t, r)
}

// IN-19: a fallback over an open breaker: the rejection and the fallback are both
// events, in that order.
func TestFallbackOverOpenBreaker(t *testing.T) {
	r := newRig(t)
	if err := r.e.ForceOpen("inventory", 0); err != nil {
		t.Fatal(err)
	}
	p := policy.Combine(policy.Fallback().OnKinds("circuit_open").WithValue(0), policy.CircuitBreaker(5, time.Minute).Named("inventory"))
	pl, err := r.e.Prepare("stock", p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (int, error) { return 3, nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bulwark.rejected{bulwark.kind=breaker bulwark.name=inventory error.type=circuit_forced_open}",
		"bulwark.fallback{error.type=circuit_forced_open}",
	}
	if got := events(onlySpan(t, r, "bulwark stock")); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// IN-19: a policy timeout is a "bulwark.timeout" event, and the span's status says
// "timeout".
func TestTimeoutIsAnEvent(t *testing.T) {
	r := newRig(t)
	pl, err := r.e.Prepare("slow", policy.Timeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = supervisor.ExecutePlan(context.Background(), pl, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if !errors.Is(err, policy.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	op := onlySpan(t, r, "bulwark slow")
	evs := events(op)
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "bulwark.timeout{") {
		t.Errorf("events %q, want one bulwark.timeout", evs)
	}
	if st := op.Status(); st.Code != codes.Error || st.Description != "timeout" {
		t.Errorf("status %v, want Error timeout", st)
	}
}

// IN-19: timeouts of retried attempts are events too, one per attempt, each naming it.
func TestAttemptTimeoutsAreEvents(t *testing.T) {
	r := newRig(t)
	p := policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}), policy.Timeout(10*time.Millisecond))
	pl, err := r.e.Prepare("slow", p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = supervisor.ExecutePlan(context.Background(), pl, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if !errors.Is(err, policy.ErrRetryExhausted) {
		t.Fatalf("err = %v, want ErrRetryExhausted", err)
	}
	op := onlySpan(t, r, "bulwark slow")
	want := []string{
		"bulwark.timeout{bulwark.attempt=1}",
		"bulwark.retry{bulwark.attempt=1 error.type=timeout}",
		"bulwark.timeout{bulwark.attempt=2}",
	}
	if got := events(op); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if st := op.Status(); st.Description != "retry_exhausted" {
		t.Errorf("status %v, want Error retry_exhausted", st)
	}
	if n := len(r.spanNamed("bulwark attempt")); n != 2 {
		t.Errorf("%d attempt spans, want 2", n)
	}
}

// IN-19: a call made from inside another's function is a child of that call's span.
func TestNestedCallIsAChildSpan(t *testing.T) {
	r := newRig(t)
	outer, err := r.e.Prepare("checkout", policy.None())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := r.e.Prepare("charge", policy.None())
	if err != nil {
		t.Fatal(err)
	}
	_, err = supervisor.ExecutePlan(context.Background(), outer, func(ctx context.Context) (int, error) {
		return supervisor.ExecutePlan(ctx, inner, func(context.Context) (int, error) { return 1, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	o, i := onlySpan(t, r, "bulwark checkout"), onlySpan(t, r, "bulwark charge")
	if i.Parent().SpanID() != o.SpanContext().SpanID() {
		t.Errorf("inner call's parent %v, want the outer call's span %v", i.Parent().SpanID(), o.SpanContext().SpanID())
	}
	if o.Parent().IsValid() {
		t.Errorf("outer call has parent %v, want a root span", o.Parent())
	}
}

// IN-19: attribute values come only from names and kinds: a failing call whose error
// text is a secret, through every stage kind, leaves that text in no span, event,
// status or metric.
func TestAttributesAreNamesAndKindsOnly(t *testing.T) {
	r := newRig(t)
	p := policy.Combine(
		policy.Fallback().OnKinds("rate_limited").WithValue(0),
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}),
		policy.CircuitBreaker(100, time.Minute).Named("db"),
		policy.Timeout(time.Minute),
	)
	pl, err := r.e.Prepare("query", p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (int, error) { return 0, errSecret }); !errors.Is(err, errSecret) {
		t.Fatalf("err = %v, want errSecret", err)
	}
	assertNoSecret(t, r)
	allowed := map[string]bool{
		"bulwark.operation": true, "bulwark.outcome": true, "bulwark.stage": true, "bulwark.attempt.hedge": true,
		"bulwark.attempt": true, "bulwark.kind": true, "bulwark.name": true, "error.type": true,
	}
	for _, s := range r.spans.Ended() {
		for _, kv := range s.Attributes() {
			if !allowed[string(kv.Key)] {
				t.Errorf("span %s has attribute %s, not one of the documented keys", s.Name(), kv.Key)
			}
		}
	}
	op := onlySpan(t, r, "bulwark query")
	if st := op.Status(); st.Description != "retry_exhausted" {
		t.Errorf("status %v, want retry_exhausted", st)
	}
}

// IN-19: many concurrent calls, each fail-then-succeed, are counted exactly (-race).
func TestConcurrentCallsAreCountedExactly(t *testing.T) {
	r := newRig(t)
	pl, err := r.e.Prepare("fanout", policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: time.Microsecond}))
	if err != nil {
		t.Fatal(err)
	}
	const calls = 64
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			first := true
			_, err := supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (int, error) {
				if first {
					first = false
					return 0, errSecret
				}
				return 1, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ms := r.metrics(t)
	want := map[string]int64{
		"bulwark.attempt.hedge=false bulwark.operation=fanout bulwark.outcome=failure bulwark.stage=retry": calls,
		"bulwark.attempt.hedge=false bulwark.operation=fanout bulwark.outcome=success bulwark.stage=retry": calls,
	}
	if got := sums(t, ms, "bulwark.attempts"); !mapsEqual(got, want) {
		t.Errorf("bulwark.attempts %v, want %v", got, want)
	}
	if n := len(r.spanNamed("bulwark attempt")); n != 2*calls {
		t.Errorf("%d attempt spans, want %d", n, 2*calls)
	}
	if n := len(r.spanNamed("bulwark fanout")); n != calls {
		t.Errorf("%d operation spans, want %d", n, calls)
	}
}

// A MeterProvider alone records metrics and no spans; a TracerProvider alone, spans and
// no metrics.
func TestOneSignalAtATime(t *testing.T) {
	t.Run("metrics", func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		obs, err := bulwarkotel.NewObserver(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), nil)
		if err != nil {
			t.Fatal(err)
		}
		e := newEngine(t, supervisor.WithObserver(obs))
		var inner trace.SpanContext
		if _, err := supervisor.ExecuteWithPolicy(context.Background(), e, policy.None(), func(ctx context.Context) (int, error) {
			inner = trace.SpanContextFromContext(ctx)
			return 1, nil
		}); err != nil {
			t.Fatal(err)
		}
		if inner.IsValid() {
			t.Errorf("the function ran under span %v, want none", inner)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]metricdata.Metrics{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				got[m.Name] = m
			}
		}
		if s := sums(t, got, "bulwark.operations"); s["bulwark.operation= bulwark.outcome=success"] != 1 {
			t.Errorf("bulwark.operations %v, want one success", s)
		}
	})
	t.Run("traces", func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		obs, err := bulwarkotel.NewObserver(nil, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
		if err != nil {
			t.Fatal(err)
		}
		e := newEngine(t, supervisor.WithObserver(obs))
		if _, err := supervisor.ExecuteWithPolicy(context.Background(), e, policy.None(), func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
		if got := names(rec.Ended()); !slices.Equal(got, []string{"bulwark"}) {
			t.Errorf("spans %v, want [bulwark]", got)
		}
		reg, err := obs.ObserveBreakers(e)
		if err != nil || reg == nil {
			t.Fatalf("ObserveBreakers with metrics off = %v, %v; want a Registration that does nothing", reg, err)
		}
		if err := reg.Unregister(); err != nil {
			t.Error(err)
		}
	})
}

// NewObserver and ObserveBreakers refuse bad input with an error naming it.
func TestBadInputIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  bulwarkotel.Option
		want string
	}{
		{"nil option", nil, "option is nil"},
		{"no buckets", bulwarkotel.WithDurationBuckets(), "no boundaries"},
		{"decreasing", bulwarkotel.WithDurationBuckets(1, 0.5), "must increase, got 0.5 after 1"},
		{"equal", bulwarkotel.WithDurationBuckets(1, 1), "must increase"},
		{"NaN", bulwarkotel.WithDurationBuckets(0.1, nan()), "boundary 1 is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bulwarkotel.NewObserver(nil, nil, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewObserver = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	obs, err := bulwarkotel.NewObserver(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.ObserveBreakers(nil); err == nil || !strings.Contains(err.Error(), "engine is nil") {
		t.Errorf("ObserveBreakers(nil) = %v, want an error naming the engine", err)
	}
}

// WithDurationBuckets sets both histograms' boundaries.
func TestDurationBuckets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	obs, err := bulwarkotel.NewObserver(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), nil,
		bulwarkotel.WithDurationBuckets(0.001, 0.1, 1))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, supervisor.WithObserver(obs))
	if _, err := supervisor.ExecuteWithPolicy(context.Background(), e, policy.None(), func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
			seen++
			if got := h.DataPoints[0].Bounds; !slices.Equal(got, []float64{0.001, 0.1, 1}) {
				t.Errorf("%s bounds %v, want [0.001 0.1 1]", m.Name, got)
			}
		}
	}
	if seen != 2 {
		t.Errorf("%d histograms, want 2", seen)
	}
}

// IN-19: bulwark.breaker.state reports each breaker of an observed engine with the
// numbers of bulwark_breaker_state, read at collection; after Unregister, nothing.
func TestBreakerStateGauge(t *testing.T) {
	r := newRig(t)
	reg, err := r.obs.ObserveBreakers(r.e)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.e.RegisterCircuitBreaker("search", policy.CircuitBreaker(5, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := r.e.ForceOpen("inventory", 0); err != nil {
		t.Fatal(err)
	}
	gauge := func() map[string]int64 {
		m, ok := r.metrics(t)["bulwark.breaker.state"]
		if !ok {
			return nil
		}
		g := m.Data.(metricdata.Gauge[int64])
		got := map[string]int64{}
		for _, p := range g.DataPoints {
			got[attrs(p.Attributes.ToSlice())] = p.Value
		}
		return got
	}
	want := map[string]int64{"bulwark.name=search": 0, "bulwark.name=inventory": 3}
	if got := gauge(); !mapsEqual(got, want) {
		t.Errorf("bulwark.breaker.state %v, want %v", got, want)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if got := gauge(); len(got) != 0 {
		t.Errorf("after Unregister bulwark.breaker.state %v, want nothing", got)
	}
}

func onlySpan(t *testing.T, r *rig, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	got := r.spanNamed(name)
	if len(got) != 1 {
		t.Fatalf("%d spans named %q, want 1 (all: %v)", len(got), name, names(r.spans.Ended()))
	}
	return got[0]
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var got []string
	for _, s := range spans {
		got = append(got, s.Name())
	}
	return got
}

// assertNoSecret fails if errSecret's text, or a piece of it, is in any value recorded.
func assertNoSecret(t *testing.T, r *rig) {
	t.Helper()
	for _, v := range r.allAttributeValues(t) {
		for _, piece := range []string{"hunter2", "password", "db:", "42"} {
			if strings.Contains(v, piece) {
				t.Errorf("recorded value %q holds the error's text (%q)", v, piece)
			}
		}
	}
}

func mapsEqual[V comparable](got, want map[string]V) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// A call on another engine, whose Observer has its signals off, made from inside an
// observed call's function, adds nothing to the outer call's span.
func TestNestedCallOnAnotherObserverLeavesTheSpanAlone(t *testing.T) {
	r := newRig(t)
	quiet := newEngine(t, supervisor.WithObserver(noopObserver(t)))
	pl, err := r.e.Prepare("outer", policy.None())
	if err != nil {
		t.Fatal(err)
	}
	inner := policy.Policy(retry3)
	_, err = supervisor.ExecutePlan(context.Background(), pl, func(ctx context.Context) (string, error) {
		var seen []trace.SpanContext
		return supervisor.ExecuteWithPolicy(ctx, quiet, inner, failTwice(&seen))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(r.spans.Ended()); !slices.Equal(got, []string{"bulwark outer"}) {
		t.Errorf("spans %v, want only the outer call's", got)
	}
	if evs := events(onlySpan(t, r, "bulwark outer")); len(evs) != 0 {
		t.Errorf("outer span's events %q, want none: the retries were another engine's", evs)
	}
}

// IN-19: a value a classifier judged a failure makes a failed attempt span with no
// error kind, and the value never becomes an attribute.
func TestClassifiedValueFailure(t *testing.T) {
	r := newRig(t, supervisor.WithClassifier("status", func(v any, err error) policy.Verdict {
		if err != nil || v == "503 secret-body" {
			return policy.Failure
		}
		return policy.Success
	}))
	pl, err := r.e.Prepare("fetch", retry3.WithClassifier("status"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	v, err := supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (string, error) {
		if n++; n == 1 {
			return "503 secret-body", nil
		}
		return "200", nil
	})
	if v != "200" || err != nil {
		t.Fatalf("ExecutePlan = %q, %v; want 200, nil", v, err)
	}
	tries := r.spanNamed("bulwark attempt")
	if len(tries) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(tries))
	}
	slices.SortFunc(tries, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	if st := tries[0].Status(); st.Code != codes.Error || st.Description != "failure" {
		t.Errorf("first attempt's status %v, want Error failure", st)
	}
	if got, want := attrs(tries[0].Attributes()), "bulwark.attempt=1 bulwark.attempt.hedge=false bulwark.operation=fetch bulwark.outcome=failure"; got != want {
		t.Errorf("first attempt's attributes %q, want %q", got, want)
	}
	if got, want := events(onlySpan(t, r, "bulwark fetch")), []string{"bulwark.retry{bulwark.attempt=1 error.type=failure}"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	for _, val := range r.allAttributeValues(t) {
		if strings.Contains(val, "secret") {
			t.Errorf("recorded value %q holds the function's value", val)
		}
	}
}

// IN-19: a hedged call, told to the Observer as a hedging stage does (the hedge and
// the primary end on their own goroutines, the hedge first): two attempt spans, and the
// hedge's attempt is counted with bulwark.stage="hedge".
func TestHedgedAttemptsAreSpans(t *testing.T) {
	r := newRig(t)
	ctx := r.obs.OperationStarted(context.Background(), supervisor.OperationInfo{ID: "search", Policy: policy.None()})
	var wg sync.WaitGroup
	hedgeDone := make(chan struct{})
	wg.Go(func() {
		r.obs.AttemptFinished(ctx, supervisor.AttemptInfo{Attempt: 2, Hedge: true, Duration: time.Millisecond, Verdict: policy.Success})
		close(hedgeDone)
	})
	wg.Go(func() {
		<-hedgeDone
		r.obs.AttemptFinished(ctx, supervisor.AttemptInfo{Attempt: 1, Duration: 2 * time.Millisecond, Err: context.Canceled, Verdict: policy.Ignore})
	})
	wg.Wait()
	r.obs.OperationFinished(ctx, supervisor.OperationInfo{ID: "search"}, nil)

	tries := r.spanNamed("bulwark attempt")
	if len(tries) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(tries))
	}
	got := []string{attrs(tries[0].Attributes()), attrs(tries[1].Attributes())}
	want := []string{
		"bulwark.attempt=2 bulwark.attempt.hedge=true bulwark.operation=search bulwark.outcome=success",
		"bulwark.attempt=1 bulwark.attempt.hedge=false bulwark.operation=search bulwark.outcome=ignore error.type=cancelled",
	}
	if !slices.Equal(got, want) {
		t.Errorf("attempt spans %q, want %q", got, want)
	}
	for _, s := range tries {
		if s.Status().Code != codes.Unset {
			t.Errorf("attempt span %v status %v, want Unset: neither attempt failed", attrs(s.Attributes()), s.Status())
		}
	}
	wantSums := map[string]int64{
		"bulwark.attempt.hedge=true bulwark.operation=search bulwark.outcome=success bulwark.stage=hedge": 1,
		"bulwark.attempt.hedge=false bulwark.operation=search bulwark.outcome=ignore bulwark.stage=call":  1,
	}
	if got := sums(t, r.metrics(t), "bulwark.attempts"); !mapsEqual(got, wantSums) {
		t.Errorf("bulwark.attempts %v, want %v", got, wantSums)
	}
}

// Observer methods given a context no OperationStarted of theirs returned do nothing.
func TestMethodsWithoutOperationDoNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.obs.AttemptFinished(ctx, supervisor.AttemptInfo{Attempt: 1})
	r.obs.RetryScheduled(ctx, supervisor.RetryInfo{Attempt: 1, Err: errSecret})
	r.obs.Rejected(ctx, supervisor.RejectionInfo{Kind: "breaker", Name: "x"})
	r.obs.FallbackExecuted(ctx, supervisor.FallbackInfo{Cause: errSecret})
	r.obs.OperationFinished(ctx, supervisor.OperationInfo{ID: "x"}, errSecret)
	if n := len(r.spans.Ended()); n != 0 {
		t.Errorf("%d spans, want none", n)
	}
	if ms := r.metrics(t); len(ms) != 0 {
		t.Errorf("metrics %v, want none", ms)
	}
}

// After the engine's Shutdown, bulwark.breaker.state reports its breakers no more.
func TestBreakerStateGaugeAfterShutdown(t *testing.T) {
	r := newRig(t)
	if _, err := r.obs.ObserveBreakers(r.e); err != nil {
		t.Fatal(err)
	}
	if err := r.e.RegisterCircuitBreaker("search", policy.CircuitBreaker(5, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.metrics(t)["bulwark.breaker.state"]; !ok {
		t.Fatal("no bulwark.breaker.state before Shutdown")
	}
	if err := r.e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m, ok := r.metrics(t)["bulwark.breaker.state"]; ok {
		t.Errorf("after Shutdown bulwark.breaker.state %v, want no points", m.Data)
	}
}

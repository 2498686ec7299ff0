package bulwarkotel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the Observer's meter and tracer: the
// module's import path.
const ScopeName = "github.com/bulwark-go/bulwark/bulwarkotel"

// DefaultDurationBuckets are the bucket boundaries, in seconds, of the Observer's
// duration histograms unless WithDurationBuckets says otherwise: 5 ms to 10 s, the ones
// OpenTelemetry's semantic conventions advise for request durations. (The SDK's own
// default boundaries, 0 to 10000, are meant for milliseconds.)
var DefaultDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Observer is a supervisor.Observer that records an engine's operations as
// OpenTelemetry metrics and spans (the package documentation lists them). Make one with
// NewObserver and install it with supervisor.WithObserver; one Observer may serve
// several engines. It is safe for concurrent use, and every method returns quickly: it
// only records, it never blocks on the engine.
type Observer struct {
	tracer trace.Tracer // nil: tracing is off (a no-op or nil TracerProvider)
	meter  metric.Meter // nil: metrics are off (a no-op or nil MeterProvider)

	operations      metric.Int64Counter
	operationTime   metric.Float64Histogram
	attempts        metric.Int64Counter
	attemptTime     metric.Float64Histogram
	retries         metric.Int64Counter
	rejections      metric.Int64Counter
	fallbacks       metric.Int64Counter
	breakerState    metric.Int64ObservableGauge
	sets            setCache
	durationBuckets []float64
}

var _ supervisor.Observer = (*Observer)(nil)

// Option configures an Observer made by NewObserver.
type Option func(*config) error

type config struct {
	buckets []float64
}

// WithDurationBuckets sets the bucket boundaries, in seconds, of the duration
// histograms (bulwark.operation.duration and bulwark.attempt.duration); without it they
// are DefaultDurationBuckets. The boundaries must be finite and strictly increasing, and
// at least one must be given. The slice is copied.
func WithDurationBuckets(bounds ...float64) Option {
	return func(c *config) error {
		if len(bounds) == 0 {
			return errors.New("bulwarkotel: WithDurationBuckets: no boundaries given")
		}
		for i, b := range bounds {
			if math.IsNaN(b) || math.IsInf(b, 0) {
				return fmt.Errorf("bulwarkotel: WithDurationBuckets: boundary %d is %v, not a finite number", i, b)
			}
			if i > 0 && b <= bounds[i-1] {
				return fmt.Errorf("bulwarkotel: WithDurationBuckets: boundaries must increase, got %v after %v", b, bounds[i-1])
			}
		}
		c.buckets = append([]float64(nil), bounds...)
		return nil
	}
}

// NewObserver returns an Observer that records metrics through mp and spans through
// tp, both under the instrumentation scope ScopeName. A nil provider, or a no-op one
// (go.opentelemetry.io/otel/metric/noop, go.opentelemetry.io/otel/trace/noop), turns its
// signal off: with both off, the Observer allocates nothing and keeps no state per call.
// Metrics also stay off, call by call, while an instrument reports it is not Enabled (the
// global MeterProvider before one is set, a view that drops it). It fails, naming the
// option or the instrument, when an option is invalid or the meter refuses an
// instrument.
func NewObserver(mp metric.MeterProvider, tp trace.TracerProvider, opts ...Option) (*Observer, error) {
	c := config{buckets: DefaultDurationBuckets}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("bulwarkotel: NewObserver: an option is nil")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	o := &Observer{durationBuckets: c.buckets}
	if !noopTracing(tp) {
		o.tracer = tp.Tracer(ScopeName)
	}
	if !noopMetrics(mp) {
		o.meter = mp.Meter(ScopeName)
		if err := o.instruments(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// noopTracing reports whether tp records nothing: nil or one of the API's no-op
// providers.
func noopTracing(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return true
	}
	//lint:ignore SA1019 the deprecated no-op provider is still handed around.
	return tp == trace.NewNoopTracerProvider()
}

// noopMetrics reports whether mp records nothing: nil or the API's no-op provider.
func noopMetrics(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case nil, metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return true
	}
	return false
}

// instruments creates the meter's instruments.
func (o *Observer) instruments() error {
	m := o.meter
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			errs = append(errs, fmt.Errorf("bulwarkotel: instrument %s: %w", name, err))
		}
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(o.durationBuckets...))
		if err != nil {
			errs = append(errs, fmt.Errorf("bulwarkotel: instrument %s: %w", name, err))
		}
		return h
	}
	o.operations = counter("bulwark.operations", "{operation}", "Operations that ran through a bulwark engine, by outcome.")
	o.operationTime = histogram("bulwark.operation.duration", "How long operations took, every attempt, wait and fallback included, by outcome.")
	o.attempts = counter("bulwark.attempts", "{attempt}", "Attempts of the operations' functions, by the verdict of the stage that ran them.")
	o.attemptTime = histogram("bulwark.attempt.duration", "How long attempts of the operations' functions ran, by verdict.")
	o.retries = counter("bulwark.retries", "{retry}", "Retries scheduled after a failed attempt, by the failure's kind.")
	o.rejections = counter("bulwark.rejections", "{rejection}", "Calls a stage refused without running them, by the stage's kind and name.")
	o.fallbacks = counter("bulwark.fallbacks", "{fallback}", "Failures a fallback replaced, by the failure's kind.")
	g, err := m.Int64ObservableGauge("bulwark.breaker.state", metric.WithUnit("1"),
		metric.WithDescription("The state of each circuit breaker of the engines given to ObserveBreakers: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only."))
	if err != nil {
		errs = append(errs, fmt.Errorf("bulwarkotel: instrument bulwark.breaker.state: %w", err))
	}
	o.breakerState = g
	return errors.Join(errs...)
}

// The attribute keys. Their values come only from operation IDs, stage kinds and names,
// verdicts and error kinds — never from an error's text or a function's values — so a
// series is one of a bounded set.
const (
	keyOperation = attribute.Key("bulwark.operation")     // the operation ID ("" for none)
	keyOutcome   = attribute.Key("bulwark.outcome")       // "success" or an error kind; an attempt's verdict
	keyStage     = attribute.Key("bulwark.stage")         // "retry", "hedge" or "call": what ran the attempt
	keyHedge     = attribute.Key("bulwark.attempt.hedge") // the attempt is a hedge
	keyAttempt   = attribute.Key("bulwark.attempt")       // the attempt's number, 1 = the first (spans only)
	keyKind      = attribute.Key("bulwark.kind")          // the refusing stage's kind: "breaker", "limiter", ...
	keyName      = attribute.Key("bulwark.name")          // the refusing stage's or the breaker's name
	keyErrorType = attribute.Key("error.type")            // an error kind (see kindOf)
)

// The span events.
const (
	eventRejected = "bulwark.rejected"
	eventRetry    = "bulwark.retry"
	eventFallback = "bulwark.fallback"
	eventTimeout  = "bulwark.timeout"
)

// opKey is the context key of an operation's state.
type opKey struct{}

// operation is what the Observer keeps of one call, in the context OperationStarted
// returns: only when a signal is on.
type operation struct {
	obs   *Observer // the Observer that made it: another one ignores it
	id    string
	stage string // the stage that numbers the call's attempts: "retry" or "call"
	start time.Time
	span  trace.Span // nil when tracing is off

	mu       sync.Mutex
	attempts int     // attempts reported so far
	first    attempt // the first attempt, held until a second shows there are several
	held     bool    // first is waiting for a second attempt
	timedOut bool    // a timeout event was added
}

// attempt is an attempt's record, for its span.
type attempt struct {
	n          int
	hedge      bool
	start, end time.Time
	err        error
	verdict    policy.Verdict
}

// operationFrom returns the state o keeps in ctx for the operation, nil when it keeps
// none: the signals are off, or the state is another Observer's (a call made by an
// engine's function on an engine with another Observer).
func (o *Observer) operationFrom(ctx context.Context) *operation {
	op, _ := ctx.Value(opKey{}).(*operation)
	if op == nil || op.obs != o {
		return nil
	}
	return op
}

// metricsOn reports whether any instrument records under ctx.
func (o *Observer) metricsOn(ctx context.Context) bool {
	return o.meter != nil && (o.operations.Enabled(ctx) || o.operationTime.Enabled(ctx) ||
		o.attempts.Enabled(ctx) || o.attemptTime.Enabled(ctx) || o.retries.Enabled(ctx) ||
		o.rejections.Enabled(ctx) || o.fallbacks.Enabled(ctx))
}

// OperationStarted starts the operation's span, "bulwark <ID>" ("bulwark" for a call
// with no ID), a child of any span in ctx, and returns ctx carrying it and the
// operation's state. With every signal off it returns ctx as it is.
func (o *Observer) OperationStarted(ctx context.Context, info supervisor.OperationInfo) context.Context {
	if o.tracer == nil && !o.metricsOn(ctx) {
		return ctx
	}
	op := &operation{obs: o, id: info.ID, stage: stageOf(info.Policy, 0), start: time.Now()}
	if o.tracer != nil {
		name := "bulwark"
		if info.ID != "" {
			name = "bulwark " + info.ID
		}
		ctx, op.span = o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(op.start), trace.WithAttributes(keyOperation.String(info.ID)))
	}
	return context.WithValue(ctx, opKey{}, op)
}

// AttemptFinished counts the attempt and records its duration. When the operation has
// several attempts (a retry, a hedge), each gets a child span of the operation's,
// "bulwark attempt", from its start to its end; the first attempt's span is made once a
// second attempt shows there are several, and a call with one attempt has none.
func (o *Observer) AttemptFinished(ctx context.Context, a supervisor.AttemptInfo) {
	op := o.operationFrom(ctx)
	if op == nil {
		return
	}
	if o.meter != nil {
		stage := op.stage
		if a.Hedge {
			stage = "hedge"
		}
		var set metric.MeasurementOption
		if o.attempts.Enabled(ctx) {
			set = o.sets.get(setKey{sig: sigAttempt, a: op.id, b: stage, c: a.Verdict.String(), hedge: a.Hedge})
			o.attempts.Add(ctx, 1, set)
		}
		if o.attemptTime.Enabled(ctx) {
			if set == nil {
				set = o.sets.get(setKey{sig: sigAttempt, a: op.id, b: stage, c: a.Verdict.String(), hedge: a.Hedge})
			}
			o.attemptTime.Record(ctx, a.Duration.Seconds(), set)
		}
	}
	if op.span == nil {
		return
	}
	end := time.Now()
	rec := attempt{n: a.Attempt, hedge: a.Hedge, start: end.Add(-a.Duration), end: end, err: a.Err, verdict: a.Verdict}
	timeout := a.Err != nil && errors.Is(a.Err, policy.ErrTimeout)
	op.mu.Lock()
	op.attempts++
	if timeout {
		op.timedOut = true
	}
	if op.attempts == 1 && !a.Hedge {
		op.first, op.held = rec, true
		op.mu.Unlock()
		if timeout {
			op.span.AddEvent(eventTimeout, trace.WithTimestamp(end), trace.WithAttributes(keyAttempt.Int(a.Attempt)))
		}
		return
	}
	first, held := op.first, op.held
	op.held = false
	op.mu.Unlock()
	if held {
		o.attemptSpan(ctx, op, first)
	}
	if timeout {
		op.span.AddEvent(eventTimeout, trace.WithTimestamp(end), trace.WithAttributes(keyAttempt.Int(a.Attempt)))
	}
	o.attemptSpan(ctx, op, rec)
}

// attemptSpan records a, an attempt of op, as a child span of op's.
func (o *Observer) attemptSpan(ctx context.Context, op *operation, a attempt) {
	attrs := []attribute.KeyValue{
		keyOperation.String(op.id),
		keyAttempt.Int(a.n),
		keyHedge.Bool(a.hedge),
		keyOutcome.String(a.verdict.String()),
	}
	if a.err != nil {
		attrs = append(attrs, keyErrorType.String(kindOf(a.err)))
	}
	parent := trace.ContextWithSpan(ctx, op.span)
	_, span := o.tracer.Start(parent, "bulwark attempt", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(a.start), trace.WithAttributes(attrs...))
	if a.verdict == policy.Failure || a.verdict == policy.Abort {
		desc := kindOf(a.err)
		if desc == "" {
			desc = a.verdict.String() // a value its classifier judged: no error to name
		}
		span.SetStatus(codes.Error, desc)
	}
	span.End(trace.WithTimestamp(a.end))
}

// RetryScheduled counts the retry and adds a "bulwark.retry" event to the operation's
// span (the failed attempt's number and its error kind).
func (o *Observer) RetryScheduled(ctx context.Context, r supervisor.RetryInfo) {
	op := o.operationFrom(ctx)
	if op == nil {
		return
	}
	kind := causeKind(r.Err)
	if o.meter != nil && o.retries.Enabled(ctx) {
		o.retries.Add(ctx, 1, o.sets.get(setKey{sig: sigRetry, a: op.id, b: kind}))
	}
	if op.span == nil {
		return
	}
	op.mu.Lock()
	first, held := op.first, op.held
	op.held = false
	op.mu.Unlock()
	if held {
		o.attemptSpan(ctx, op, first) // a retry follows: there are several attempts
	}
	op.span.AddEvent(eventRetry, trace.WithAttributes(keyAttempt.Int(r.Attempt), keyErrorType.String(kind)))
}

// Rejected counts the refusal and adds a "bulwark.rejected" event to the operation's span
// (the stage's kind and name, and the refusal's kind).
func (o *Observer) Rejected(ctx context.Context, r supervisor.RejectionInfo) {
	op := o.operationFrom(ctx)
	if op == nil {
		return
	}
	if o.meter != nil && o.rejections.Enabled(ctx) {
		o.rejections.Add(ctx, 1, o.sets.get(setKey{sig: sigRejection, a: op.id, b: r.Kind, c: r.Name}))
	}
	if op.span != nil {
		op.span.AddEvent(eventRejected, trace.WithAttributes(keyKind.String(r.Kind), keyName.String(r.Name), keyErrorType.String(kindOf(r.Err))))
	}
}

// FallbackExecuted counts the fallback and adds a "bulwark.fallback" event to the
// operation's span (the kind of the failure it replaces).
func (o *Observer) FallbackExecuted(ctx context.Context, f supervisor.FallbackInfo) {
	op := o.operationFrom(ctx)
	if op == nil {
		return
	}
	kind := causeKind(f.Cause)
	if o.meter != nil && o.fallbacks.Enabled(ctx) {
		o.fallbacks.Add(ctx, 1, o.sets.get(setKey{sig: sigFallback, a: op.id, b: kind}))
	}
	if op.span != nil {
		op.span.AddEvent(eventFallback, trace.WithAttributes(keyErrorType.String(kind)))
	}
}

// OperationFinished counts the operation by outcome ("success" or the error's kind),
// records its duration and ends its span: status Error, described by the error's kind,
// when the call failed; Unset when it succeeded. A timeout that no attempt reported adds
// a "bulwark.timeout" event first.
func (o *Observer) OperationFinished(ctx context.Context, info supervisor.OperationInfo, err error) {
	op := o.operationFrom(ctx)
	if op == nil {
		return
	}
	outcome := outcomeOf(err)
	if o.meter != nil {
		var set metric.MeasurementOption
		if o.operations.Enabled(ctx) {
			set = o.sets.get(setKey{sig: sigOperation, a: op.id, b: outcome})
			o.operations.Add(ctx, 1, set)
		}
		if o.operationTime.Enabled(ctx) {
			if set == nil {
				set = o.sets.get(setKey{sig: sigOperation, a: op.id, b: outcome})
			}
			o.operationTime.Record(ctx, time.Since(op.start).Seconds(), set)
		}
	}
	if op.span == nil {
		return
	}
	op.mu.Lock()
	timedOut := op.timedOut
	op.timedOut = true
	op.held = false // one attempt: no attempt span
	op.mu.Unlock()
	if !timedOut && err != nil && errors.Is(err, policy.ErrTimeout) {
		op.span.AddEvent(eventTimeout)
	}
	op.span.SetAttributes(keyOutcome.String(outcome))
	if err != nil {
		op.span.SetStatus(codes.Error, outcome)
	}
	op.span.End()
}

// stageOf names what numbers the attempts of a call under p: "retry" when p has a retry
// stage, else "call". Hedges are named by AttemptFinished.
func stageOf(p policy.Policy, depth int) string {
	switch p := p.(type) {
	case policy.RetryPolicy:
		return "retry"
	case policy.CombinedPolicy:
		if depth >= policy.MaxDepth {
			break
		}
		for _, inner := range p.Policies {
			if stageOf(inner, depth+1) == "retry" {
				return "retry"
			}
		}
	}
	return "call"
}

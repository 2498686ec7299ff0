package supervisor

import (
	"context"
	"time"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/policy"
)

// Observer receives the per-call happenings of an engine's operations — attempts,
// retries, rejections, fallbacks — for tracing and metrics of your own (bulwarkotel
// builds one for OpenTelemetry). Install one with WithObserver. Breaker, limiter and
// bulkhead state changes, which belong to no call, go to Subscribe instead.
//
// Every method runs synchronously on the goroutine running the call — the caller's,
// except for the stages inside a (pessimistic) Timeout, which run on that timeout's
// goroutine; ExecuteAll's calls run on the batch's goroutines — and never while the
// engine holds a lock, so a method may call the engine (Metrics, Execute, ...). A
// method that panics is recovered: the call's result does not change, and the first
// panic of each method is logged at Error. Methods are called for many calls at once and
// must be safe for concurrent use; they should be quick, since the call waits for them.
//
// AttemptFinished and RetryScheduled get the attempt's context (a child of the caller's
// that answers AttemptFromContext); the other methods get the caller's context, as
// returned by OperationStarted. Losing hedges still running when the call returns, and
// attempts a Timeout gave up on, get no AttemptFinished after the call's
// OperationFinished. Embed NopObserver to implement only some methods.
type Observer interface {
	// OperationStarted is called when a call enters the engine, before any stage; the
	// context it returns (a child of ctx, for instance one carrying a span) is the one
	// the call runs under. A nil return keeps ctx.
	OperationStarted(ctx context.Context, op OperationInfo) context.Context
	// AttemptFinished is called when an attempt of the function ends: each attempt of
	// a retry, the only attempt of a call without one. A call refused before its
	// function ran has no attempt.
	AttemptFinished(ctx context.Context, a AttemptInfo)
	// RetryScheduled is called before each retry's backoff sleep, with the delay.
	RetryScheduled(ctx context.Context, r RetryInfo)
	// Rejected is called when a stage refuses the call: an open breaker, an empty rate
	// limiter, a full bulkhead, an overloaded actor.
	Rejected(ctx context.Context, r RejectionInfo)
	// FallbackExecuted is called when a Fallback replaced a failed outcome, before the
	// fallback function runs.
	FallbackExecuted(ctx context.Context, f FallbackInfo)
	// OperationFinished is called once the call's result is known, with the error the
	// caller gets (nil on success), before the call returns.
	OperationFinished(ctx context.Context, op OperationInfo, err error)
}

// NopObserver is an Observer that does nothing: embed it in a type of your own to
// implement only the methods you need.
type NopObserver struct{}

// OperationStarted returns ctx.
func (NopObserver) OperationStarted(ctx context.Context, _ OperationInfo) context.Context { return ctx }

// AttemptFinished does nothing.
func (NopObserver) AttemptFinished(context.Context, AttemptInfo) {}

// RetryScheduled does nothing.
func (NopObserver) RetryScheduled(context.Context, RetryInfo) {}

// Rejected does nothing.
func (NopObserver) Rejected(context.Context, RejectionInfo) {}

// FallbackExecuted does nothing.
func (NopObserver) FallbackExecuted(context.Context, FallbackInfo) {}

// OperationFinished does nothing.
func (NopObserver) OperationFinished(context.Context, OperationInfo, error) {}

// OperationInfo describes a call: its operation ID ("" for none), the policy it runs
// under and whether it is critical.
type OperationInfo struct {
	ID       string
	Policy   policy.Policy
	Critical bool
}

// AttemptInfo describes one attempt of the function: its number (1 = the first), whether
// it is a hedge, how long it ran, its error and how the stage that ran it judged it.
type AttemptInfo struct {
	Attempt  int
	Hedge    bool
	Duration time.Duration
	Err      error
	Verdict  policy.Verdict
}

// RetryInfo describes a scheduled retry: the attempt that failed (1 = the first), the
// wait before the next and the failed attempt's error.
type RetryInfo struct {
	Attempt int
	Delay   time.Duration
	Err     error
}

// RejectionInfo describes a stage's refusal: the kind of stage ("breaker", "limiter",
// "bulkhead", ...), its name, the error the call gets, and how long the stage said to
// wait before trying again (0: no hint).
type RejectionInfo struct {
	Kind, Name string
	Err        error
	RetryAfter time.Duration
}

// FallbackInfo describes a fallback: the failure it replaces.
type FallbackInfo struct {
	Cause error
}

// WithObserver sends the per-call happenings of the engine's operations to o (see
// Observer). A later WithObserver replaces an earlier one. Without one, the calls pay
// nothing for observation. A nil o is an error matching policy.ErrInvalidPolicy.
func WithObserver(o Observer) Option {
	return func(c *config) error {
		if o == nil {
			return pipeline.Invalid("", "WithObserver: observer is nil")
		}
		c.observer = o
		return nil
	}
}

// observerAdapter turns the pipeline's plain-argument calls into an Observer's.
type observerAdapter struct{ o Observer }

func (a observerAdapter) OperationStarted(ctx context.Context, id string, p policy.Policy, critical bool) context.Context {
	return a.o.OperationStarted(ctx, OperationInfo{ID: id, Policy: p, Critical: critical})
}

func (a observerAdapter) AttemptFinished(ctx context.Context, attempt int, hedge bool, d time.Duration, err error, verdict policy.Verdict) {
	a.o.AttemptFinished(ctx, AttemptInfo{Attempt: attempt, Hedge: hedge, Duration: d, Err: err, Verdict: verdict})
}

func (a observerAdapter) RetryScheduled(ctx context.Context, attempt int, delay time.Duration, err error) {
	a.o.RetryScheduled(ctx, RetryInfo{Attempt: attempt, Delay: delay, Err: err})
}

func (a observerAdapter) Rejected(ctx context.Context, kind, name string, err error, retryAfter time.Duration) {
	a.o.Rejected(ctx, RejectionInfo{Kind: kind, Name: name, Err: err, RetryAfter: retryAfter})
}

func (a observerAdapter) FallbackExecuted(ctx context.Context, cause error) {
	a.o.FallbackExecuted(ctx, FallbackInfo{Cause: cause})
}

func (a observerAdapter) OperationFinished(ctx context.Context, id string, p policy.Policy, critical bool, err error) {
	a.o.OperationFinished(ctx, OperationInfo{ID: id, Policy: p, Critical: critical}, err)
}

package pipeline

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Observer receives the per-call happenings of an engine's operations: the pipeline's
// side of supervisor.Observer, with plain arguments (the facade builds its info structs
// on the stack). Every method runs on the goroutine running the call, never under a
// lock; the pipeline recovers its panics (observeGuard).
type Observer interface {
	OperationStarted(ctx context.Context, id string, p policy.Policy, critical bool) context.Context
	AttemptFinished(ctx context.Context, attempt int, hedge bool, d time.Duration, err error, verdict policy.Verdict)
	RetryScheduled(ctx context.Context, attempt int, delay time.Duration, err error)
	Rejected(ctx context.Context, kind, name string, err error, retryAfter time.Duration)
	FallbackExecuted(ctx context.Context, cause error)
	OperationFinished(ctx context.Context, id string, p policy.Policy, critical bool, err error)
}

// The observer methods, for observeGuard's once-per-method panic log.
const (
	obsOperationStarted = iota
	obsAttemptFinished
	obsRetryScheduled
	obsRejected
	obsFallbackExecuted
	obsOperationFinished
	obsMethods
)

var observerMethods = [obsMethods]string{
	"OperationStarted", "AttemptFinished", "RetryScheduled", "Rejected", "FallbackExecuted", "OperationFinished",
}

// observerWarned records, per method, that a panic of the engine's observer was logged.
type observerWarned [obsMethods]atomic.Bool

// observeGuard runs f, a call of the observer's method m, recovering a panic: the call's
// result never changes, and the method's first panic is logged at Error (once per
// method and engine). runtime.Goexit in f is handled as in the operation (userExit).
// It reports whether f returned.
func (c *Call) observeGuard(m int, f func()) (ok bool) {
	defer func() {
		if ok {
			return
		}
		r := recover()
		if r == nil {
			_ = c.userExit(nil) // runtime.Goexit: it goes on
			return
		}
		if c.env.observerWarned[m].CompareAndSwap(false, true) {
			c.env.Log.Error("observer panicked; the call's result is unchanged (logged once per method)",
				zap.String("method", observerMethods[m]), zap.String("op", c.id), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
	}()
	f()
	return true
}

// observed reports whether the engine has an observer; the success paths test it once.
func (c *Call) observed() bool { return c.env.Observer != nil }

// notifyRejected tells the observer that the stage kind ("breaker", "limiter",
// "bulkhead", ...) named name refused the call with err, a refusal (its RetryAfter is
// passed on). ctx is the caller's (the stage's); with no observer it does nothing. Stages
// call it where they return their refusal.
func (c *Call) notifyRejected(ctx context.Context, kind, name string, err error) {
	o := c.env.Observer
	if o == nil || c.silenced(ctx) {
		return
	}
	after, _ := policy.RetryAfter(err)
	c.observeGuard(obsRejected, func() { o.Rejected(ctx, kind, name, err, after) })
}

// notifyAttempt tells the observer that attempt n (a hedge when hedge is set) of c ran
// for d and ended with err, judged verdict. ctx is the attempt's.
func (c *Call) notifyAttempt(ctx context.Context, n int, hedge bool, d time.Duration, err error, verdict policy.Verdict) {
	o := c.env.Observer
	if o == nil || c.silenced(ctx) {
		return
	}
	c.observeGuard(obsAttemptFinished, func() { o.AttemptFinished(ctx, n, hedge, d, err, verdict) })
}

// notifyRetry tells the observer that attempt n failed with err and the next starts
// after delay. ctx is the failed attempt's.
func (c *Call) notifyRetry(ctx context.Context, n int, delay time.Duration, err error) {
	o := c.env.Observer
	if o == nil || c.silenced(ctx) {
		return
	}
	c.observeGuard(obsRetryScheduled, func() { o.RetryScheduled(ctx, n, delay, err) })
}

// notifyFallback tells the observer that a fallback replaced the outcome cause; ctx is
// the caller's.
func (c *Call) notifyFallback(ctx context.Context, cause error) {
	o := c.env.Observer
	if o == nil || c.silenced(ctx) {
		return
	}
	c.observeGuard(obsFallbackExecuted, func() { o.FallbackExecuted(ctx, cause) })
}

// operationStarted tells the observer that c starts and returns the context the call
// runs under: the observer's (it may carry a span), or ctx when the observer panicked or
// returned nil.
func (c *Call) operationStarted(ctx context.Context) context.Context {
	o := c.env.Observer
	next := ctx
	c.observeGuard(obsOperationStarted, func() {
		if got := o.OperationStarted(ctx, c.id, c.policy, c.critical); got != nil {
			next = got
		}
	})
	return next
}

// operationFinished tells the observer that c ended with err; ctx is the one
// operationStarted returned.
func (c *Call) operationFinished(ctx context.Context, err error) {
	o := c.env.Observer
	c.observeGuard(obsOperationFinished, func() { o.OperationFinished(ctx, c.id, c.policy, c.critical, err) })
}

// defaultVerdict is the verdict of an attempt no classifier judged: the outcome
// precedence without a classifier (the caller's cancellation, another stage's refusal
// and a Permanent error are Ignore; nil is Success; any other error a Failure).
func (c *Call) defaultVerdict(err error) policy.Verdict {
	switch {
	case err == nil:
		return policy.Success
	case c.neutral(lastAttempt(err)):
		return policy.Ignore
	}
	return policy.Failure
}

// attemptEnded reports attempt n of c, started at start, which ended with err judged
// verdict, unless a stage inside it reported it already (c.notified moved past mark).
// ctx is the attempt's.
func (c *Call) attemptEnded(ctx context.Context, n int, mark uint32, start time.Time, err error, verdict policy.Verdict) {
	if c.notified != mark {
		return
	}
	c.notified++
	c.notifyAttempt(ctx, n, false, time.Since(start), err, verdict)
}

// silenced reports whether c is the copy of a Timeout stage's goroutine whose context,
// ctx or an ancestor of it, ended: that stage gives up on it, or reports the attempt
// itself with the timeout's outcome (c.notified is not moved here), so the observer
// hears nothing more from the goroutine, also after the call returned.
func (c *Call) silenced(ctx context.Context) bool {
	return c.detached && ctx.Err() != nil
}

// isRejection reports whether err, a stage's error, is that stage refusing the call (a
// *policy.Error whose Kind is a refusal other than ErrShutdown), which the stage tells
// the observer of with notifyRejected; the caller's cancellation and Shutdown are not.
func isRejection(err error) bool {
	pe, ok := err.(*policy.Error)
	return ok && pe.Kind != nil && pe.Kind != policy.ErrShutdown && policy.IsRefusal(pe.Kind)
}

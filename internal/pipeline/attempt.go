package pipeline

import "context"

// attemptKey is the context key of an attempt's number and hedge flag (withAttempt).
type attemptKey struct{}

// discardKey is the context key of the discard hook installed by WithDiscard.
type discardKey struct{}

// withAttempt returns the context attempt n (1 = first) of a retry or hedge runs under:
// a child of ctx that AttemptFrom reads. The number and the flag are packed into one
// int, which boxes without allocating below 128 attempts, so the context value costs
// one allocation; the first attempt of a stage that is not a hedge needs none, since
// AttemptFrom answers (1, false) when ctx carries no attempt.
func withAttempt(ctx context.Context, n int, hedge bool) context.Context {
	packed := n << 1
	if hedge {
		packed |= 1
	}
	return context.WithValue(ctx, attemptKey{}, packed)
}

// attemptFrom returns the number (1 = first) and hedge flag of the attempt ctx belongs
// to: (1, false) when ctx carries none, as for the first attempt of any call.
func attemptFrom(ctx context.Context) (n int, hedge bool) {
	packed, ok := ctx.Value(attemptKey{}).(int)
	if !ok {
		return 1, false
	}
	return packed >> 1, packed&1 == 1
}

// AttemptFrom is attemptFrom for the facade: supervisor.AttemptFromContext.
func AttemptFrom(ctx context.Context) (n int, hedge bool) { return attemptFrom(ctx) }

// WithDiscard returns a child of ctx whose calls hand the values a stage discards (a
// retried result, a losing hedge's) to fn; a nil fn installs no hook, and hides one an
// outer context installed.
func WithDiscard(ctx context.Context, fn func(v any)) context.Context {
	return context.WithValue(ctx, discardKey{}, fn)
}

// discardValue hands v, a value a stage of c throws away, to the discard hook of ctx
// (WithDiscard), if there is one. The hook is user code: it runs through guard, so a
// panic in it is counted and logged as a panic of the operation, and does not change
// the call's result. The context lookup happens only here, on the path that discards.
func (c *Call) discardValue(ctx context.Context, v any) {
	fn, _ := ctx.Value(discardKey{}).(func(any))
	if fn == nil {
		return
	}
	_, _ = guard(c, func() struct{} {
		fn(v)
		return struct{}{}
	})
}

package supervisor

import (
	"context"

	"github.com/bulwark-go/bulwark/internal/pipeline"
)

// AttemptFromContext returns the number of the attempt ctx belongs to (1 = the first)
// and whether that attempt is a hedge, for the function an engine runs and for the
// Observer's AttemptFinished and RetryScheduled. Retries and hedges give each attempt
// after the first a child context that carries its number; the first attempt's context
// carries nothing (so the success path allocates nothing for it), and a context with no
// attempt in it — the first attempt's, or one the engine never saw — answers (1, false).
// Under nested retries the innermost retry's numbering is the one seen.
func AttemptFromContext(ctx context.Context) (attempt int, hedge bool) {
	if ctx == nil {
		return 1, false
	}
	return pipeline.AttemptFrom(ctx)
}

// WithDiscard returns a child of ctx under which the engine hands every value one of its
// stages throws away — the result of an attempt that is retried, a losing hedge's result —
// to fn, so that the integration that produced it can release it (bulwarkhttp closes the
// response body). The engine never guesses at io.Closer. fn runs on the goroutine that
// discards, before the next attempt starts; a panic in it is counted and logged as a panic
// of the operation and does not change the call's result. Values returned to the caller
// are never discarded. A nil fn installs no hook and hides one installed by an outer
// context; a nil ctx is returned as it is.
func WithDiscard(ctx context.Context, fn func(v any)) context.Context {
	if ctx == nil {
		return nil
	}
	return pipeline.WithDiscard(ctx, fn)
}

package supervisor

import (
	"context"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/policy"
)

// ExecuteAll runs every function of fns under p, as that many concurrent callers of
// ExecuteWithPolicy would, at most max(128, 4 × GOMAXPROCS) at a time, and returns their
// values and errors in the order of fns. Each function is one operation, counted in
// Metrics when ExecuteAll returns. The calling goroutine works through the batch itself,
// claiming a few functions at a time. Every 50 µs the batch lasts, it is looked at: a
// caller still claiming functions is left alone, and a caller stuck in one function (it
// blocks, or computes for long) gets helper goroutines, their number doubling while
// functions are left to start, each claiming the next function not yet started. So a
// batch of quick functions runs on the caller alone and costs less than calling them in
// a loop (it passes the shutdown gate once and counts its outcomes once), and blocking
// ones overlap. p is compiled once for the whole batch. An invalid p, nil context or nil
// engine fails every entry with the same error and runs nothing; a nil function fails
// its own entry. Functions not yet started when Shutdown stops waiting fail with
// ErrShutdown and are not operations. A function that calls runtime.Goexit gets
// ErrPanic, and the rest of the batch still runs.
func ExecuteAll[T any](ctx context.Context, e *Engine, p policy.Policy, fns []func(context.Context) (T, error)) ([]T, []error) {
	var bad error
	switch {
	case len(fns) == 0:
		return make([]T, 0), make([]error, 0)
	case e == nil:
		bad = pipeline.Invalid("", "engine is nil")
	case ctx == nil:
		bad = pipeline.Invalid("", "context is nil")
	case p == nil:
		bad = pipeline.Invalid("", "policy is nil")
	default:
		return pipeline.ExecuteAll(ctx, e.env, p, fns)
	}
	errs := make([]error, len(fns))
	for i := range errs {
		errs[i] = bad
	}
	return make([]T, len(fns)), errs
}

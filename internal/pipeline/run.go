package pipeline

import (
	"context"
	"fmt"
)

// run applies stages[0] around the rest of the pipeline, and calls fn at the end. This
// is the one switch over stage types; a stage it does not know is a bug of compile, and
// panics.
func run[T any](ctx context.Context, c *Call, stages []stage, fn func(context.Context) (T, error)) (T, error) {
	if len(stages) == 0 {
		return invoke(ctx, c, fn)
	}
	switch s := stages[0].(type) {
	case *retryStage:
		return runRetry(ctx, c, s, stages[1:], fn)
	case *breakerStage:
		return runBreaker(ctx, c, s, stages[1:], fn)
	case *limiterStage:
		return runLimiter(ctx, c, s, stages[1:], fn)
	case *timeoutStage:
		return runTimeout(ctx, c, s, stages[1:], fn)
	case *coopStage:
		return runCoop(ctx, c, s, stages[1:], fn)
	case *bulkheadStage:
		return runBulkhead(ctx, c, s, stages[1:], fn)
	case *fallbackStage:
		return runFallback(ctx, c, s, stages[1:], fn)
	case *hedgeStage:
		return runHedge(ctx, c, s, stages[1:], fn)
	case *adaptiveStage:
		return runAdaptive(ctx, c, s, stages[1:], fn)
	default:
		panic(fmt.Sprintf("pipeline: run has no arm for stage %T", s))
	}
}

package supervisor

import (
	"context"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/policy"
)

// Execute runs op under the policy it declares (op.Policy()). Unnamed breakers and
// limiters in that policy take op.ID() as their name; op.Critical() puts the call first
// in a limiter's wait queue and logs its failure at Error level. See ExecuteWithPolicy
// for the errors it returns.
func Execute[T any](ctx context.Context, e *Engine, op policy.Operation[T]) (T, error) {
	if op == nil {
		var zero T
		return zero, pipeline.Invalid("", "operation is nil")
	}
	id := op.ID()
	if e == nil {
		var zero T
		return zero, pipeline.Invalid(id, "engine is nil")
	}
	var c pipeline.Call
	c.Init(ctx, id, op.Critical())
	return pipeline.Execute(&c, e.env, op.Policy(), op.Execute)
}

// ExecuteWithPolicy runs fn under p on the caller's goroutine (a Timeout stage runs the
// rest of the pipeline on a goroutine of its own, so it can return at the deadline; a
// cooperative one keeps it on the caller's goroutine and returns when fn returns).
// Unnamed breakers and limiters in p share the name "default".
//
// Errors: always a *policy.Error with the operation, the attempts that ran and the cause.
// Its Kind says what the engine did (ErrRetryExhausted, ErrTimeout, ErrCircuitOpen,
// ErrCircuitForcedOpen, ErrRateLimited, ErrCancelled when ctx ended, ErrPanic when fn
// panicked, ErrOverloaded, ErrShutdown after Shutdown), or is nil for a plain failure: fn's own error, which no
// stage acted on (also a Permanent error, and the last error of a retry that gave up
// because its next wait would pass ctx's deadline). A nil context, engine, function or
// policy, or an invalid policy (one that names an unregistered classifier too), gives an
// error of Kind policy.ErrInvalidPolicy and runs nothing.
//
// The engine caches what a policy compiles into by the identity of the boxed value:
// convert a policy value to the policy.Policy interface once and reuse it, or better,
// Prepare it. An inline policy.Combine(...) per call boxes a new value every time and
// compiles it again, about 18 times the cost of a hoisted or prepared policy (see the
// package doc's Costs).
func ExecuteWithPolicy[T any](ctx context.Context, e *Engine, p policy.Policy, fn func(context.Context) (T, error)) (T, error) {
	if e == nil {
		var zero T
		return zero, pipeline.Invalid("", "engine is nil")
	}
	var c pipeline.Call
	c.Init(ctx, "", false)
	return pipeline.Execute(&c, e.env, p, fn)
}

// Run is ExecuteWithPolicy for functions that return only an error.
func Run(ctx context.Context, e *Engine, p policy.Policy, fn func(context.Context) error) error {
	if fn == nil {
		return pipeline.Invalid("", "function is nil")
	}
	_, err := ExecuteWithPolicy(ctx, e, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// Plan is a validated, compiled policy bound to one engine, with the operation ID its
// calls run under: the fast path for a call site that runs the same policy again and
// again. Make one with Engine.Prepare and run calls with ExecutePlan or RunPlan. A Plan
// is safe for concurrent use and survives reconfiguration and passivation of the names
// it uses (the next call finds the name's new actor). Its zero value is not usable.
type Plan struct {
	p *pipeline.Plan
}

// Prepare validates and compiles p once for ExecutePlan and RunPlan. id is the
// operation ID ("" for none): it names the breakers and limiters of p that have no Name
// (else they share "default"), and it is the op of every log line and *policy.Error of
// the plan's calls. A nil or invalid p, one that names a classifier not registered yet,
// or an id that names a breaker or limiter and is not valid UTF-8, gives an error
// matching policy.ErrInvalidPolicy.
func (e *Engine) Prepare(id string, p policy.Policy) (*Plan, error) {
	pl, err := e.env.Prepare(id, p)
	if err != nil {
		return nil, err
	}
	return &Plan{p: pl}, nil
}

// ExecutePlan runs fn under the prepared plan pl, as ExecuteWithPolicy runs it under a
// policy, with none of the per-call cost of finding the compiled policy. Its errors are
// ExecuteWithPolicy's; a nil or zero plan gives an error matching
// policy.ErrInvalidPolicy and runs nothing.
func ExecutePlan[T any](ctx context.Context, pl *Plan, fn func(context.Context) (T, error)) (T, error) {
	if pl == nil || pl.p == nil {
		var zero T
		return zero, pipeline.Invalid("", "plan is nil or not made by Prepare")
	}
	var c pipeline.Call
	c.Init(ctx, "", false)
	return pipeline.ExecutePlan(&c, pl.p, fn)
}

// RunPlan is ExecutePlan for functions that return only an error.
func RunPlan(ctx context.Context, pl *Plan, fn func(context.Context) error) error {
	if fn == nil {
		id := ""
		if pl != nil && pl.p != nil {
			id = pl.p.ID()
		}
		return pipeline.Invalid(id, "function is nil")
	}
	_, err := ExecutePlan(ctx, pl, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

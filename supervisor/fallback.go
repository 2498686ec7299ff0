package supervisor

import (
	"context"

	"github.com/bulwark-go/bulwark/internal/pipeline"
)

// RegisterFallback registers fn as the fallback function name, for policies that name it
// (policy.FallbackPolicy.Func, policy.Fallback().WithFunc(name)). fn gets the context
// of the Fallback stage (the caller's, when the fallback is outermost, as it should be)
// and the failure it replaces: the engine's *policy.Error with its Kind, attempts and
// RetryAfter, or nil when a classifier judged a result with a nil error a failure. What
// fn returns replaces the outcome; if fn fails, the call's error matches both fn's error
// and the original failure, and keeps the original's Kind. A panic in fn is recovered as
// an error matching policy.ErrPanic.
//
// T must be the result type of the calls whose policy names the fallback: ExecutePlan[T]
// and ExecuteWithPolicy[T] with another T fail with policy.ErrInvalidPolicy before
// anything runs. Run and RunPlan (T struct{}) and actor clients (T any) may use a
// fallback registered for any type; under Run the value is ignored.
//
// Registering a name again replaces its function, and plans pick the change up from
// their next call; a policy naming a fallback not registered yet is invalid until it is
// (Prepare fails; ExecuteWithPolicy checks again after each registration). An empty
// name, one that is not valid UTF-8, or a nil fn is an error matching
// policy.ErrInvalidPolicy; so is a nil e.
func RegisterFallback[T any](e *Engine, name string, fn func(ctx context.Context, err error) (T, error)) error {
	if e == nil {
		return pipeline.Invalid("", "RegisterFallback: engine is nil")
	}
	return pipeline.RegisterFallback(e.env, name, fn)
}

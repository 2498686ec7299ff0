package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// retryStage runs the rest of the pipeline up to attempts times, waiting backoff (nil:
// the default) or the error's RetryAfter between attempts.
type retryStage struct {
	attempts int
	backoff  policy.Backoff
	budget   *budgetRef // nil: no retry budget
}

func (*retryStage) isStage() {}

func compileRetry(p policy.RetryPolicy) *retryStage {
	return &retryStage{attempts: p.MaxAttempts, backoff: p.Backoff, budget: newBudgetRef(p.Budget)}
}

// runRetry runs the first attempt; the retry loop lives apart, in retryAfterFailure, so
// that the success path pays only for the first attempt.
func runRetry[T any](ctx context.Context, c *Call, s *retryStage, rest []stage, fn func(context.Context) (T, error)) (T, error) {
	v, err := run(ctx, c, rest, fn)
	if s.budget != nil {
		c.deposit(s.budget)
	}
	if err == nil {
		return v, nil
	}
	return retryAfterFailure(ctx, c, s.attempts, s.backoff, s.budget, rest, fn, v, err)
}

// retryAfterFailure goes on from a failed first attempt (v, err); each retry first
// withdraws from budget, when there is one.
func retryAfterFailure[T any](ctx context.Context, c *Call, attempts int, backoff policy.Backoff, budget *budgetRef, rest []stage, fn func(context.Context) (T, error), v T, err error) (T, error) {
	env := c.env
	for attempt := 1; ; attempt++ {
		if err == nil || !policy.IsRetryable(err) {
			return v, err
		}
		if attempt >= attempts {
			return v, &policy.Error{Kind: policy.ErrRetryExhausted, Op: c.id, Attempts: c.attempts, Err: err}
		}
		if budget != nil {
			if berr := c.withdraw(ctx, budget, err); berr != nil {
				return v, berr
			}
		}
		delay, perr := retryDelay(c, backoff, attempt, err)
		if perr != nil {
			return v, perr
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			if ce := env.Log.Check(zap.DebugLevel, "retry abandoned: the wait would pass the deadline"); ce != nil {
				ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
			}
			return v, err
		}
		c.logPolicy()
		if ce := env.Log.Check(zap.DebugLevel, "retrying"); ce != nil {
			ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt+1), zap.Int("max_attempts", attempts), zap.Duration("delay", delay), zap.Error(err))
		}
		if delay > 0 {
			switch sleep(ctx, env, delay) {
			case errStopped:
				return v, c.shutDown(err)
			case nil:
			default:
				return v, cancelled(c, ctx, nil)
			}
		}
		// The next attempt is new work: it passes the shutdown gate, and only then counts.
		if env.Stopped() {
			return v, c.shutDown(err)
		}
		env.Counters.Retries.Add(1)
		discard(c, ctx, v)
		v, err = run(withAttempt(ctx, attempt+1, false), c, rest, fn)
	}
}

// discard hands v, the result of an attempt a retry throws away, to ctx's discard hook
// (discardValue), boxing it only when there is a hook.
func discard[T any](c *Call, ctx context.Context, v T) {
	if fn, _ := ctx.Value(discardKey{}).(func(any)); fn != nil {
		c.discardValue(ctx, v)
	}
}

// retryDelay is how long a retry waits before attempt+1: the backoff's delay (nil: the
// default), or the error's RetryAfter if longer. A panic in the user's Backoff is
// returned as an error matching ErrPanic.
func retryDelay(c *Call, b policy.Backoff, attempt int, err error) (time.Duration, error) {
	if b == nil {
		b = policy.DefaultBackoff()
	}
	delay, perr := guard(c, func() time.Duration { return b.Delay(attempt) })
	if perr != nil {
		return 0, perr
	}
	if after, ok := policy.RetryAfter(err); ok && after > delay {
		delay = after
	}
	return delay, nil
}

// errStopped is what sleep returns when the engine stopped draining.
var errStopped = errors.New("engine stopped")

// sleep waits d, or until ctx ends (it returns ctx.Err()) or Shutdown stops waiting for
// in-flight calls (errStopped), whichever comes first.
func sleep(ctx context.Context, env *Env, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-env.done:
		return errStopped
	}
}

package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// retryStage runs the rest of the pipeline up to attempts times, waiting backoff (nil:
// the default) or the error's RetryAfter between attempts, under rules.
type retryStage struct {
	attempts int
	backoff  policy.Backoff
	rules    retryRules
	// slow is set when the first attempt needs more than running: a classifier to
	// judge it, a start time for MaxDuration, a context of its own (nested).
	slow bool
	// nested is set for a retry inside another retry: its first attempt gets a context
	// numbered 1, not the enclosing attempt's number.
	nested bool
}

// retryRules are what a retry loop applies beyond attempts and backoff. The zero value
// is not plain: plainRetry gives a plain Retry's.
type retryRules struct {
	classifier    *classifier   // judges every attempt's outcome; nil: the default
	maxDuration   time.Duration // 0: none
	maxRetryAfter time.Duration // the longest hint waited for (resolved: never 0)
	start         time.Time     // the first attempt's start, when maxDuration is set
	budget        *budgetRef    // each retry withdraws from it; nil: no retry budget
}

// plainRules are the rules of a Retry with no field beyond MaxAttempts and Backoff.
var plainRules = retryRules{maxRetryAfter: policy.DefaultMaxRetryAfter}

// plainRetry reports whether p runs on the direct path (no plan): nothing but
// MaxAttempts and Backoff set.
func plainRetry(p policy.RetryPolicy) bool {
	return p.Classifier == "" && p.MaxDuration == 0 && p.MaxRetryAfter == 0 && p.AttemptTimeout == 0 && p.Budget == ""
}

func (*retryStage) isStage() {}

// compileRetry returns the stage of p on env (nested inside another retry when nested
// is set), or the error of a policy naming an unknown classifier.
func compileRetry(env *Env, p policy.RetryPolicy, nested bool) (*retryStage, error) {
	cl, err := env.Classifiers.lookup(p.Classifier)
	if err != nil {
		return nil, err
	}
	s := &retryStage{attempts: p.MaxAttempts, backoff: p.Backoff, nested: nested, rules: retryRules{
		classifier: cl, maxDuration: p.MaxDuration, maxRetryAfter: p.EffectiveMaxRetryAfter(),
		budget: newBudgetRef(p.Budget),
	}}
	s.slow = cl != nil || p.MaxDuration > 0 || nested
	return s, nil
}

// runRetry runs the first attempt; the retry loop lives apart, in retryAfterFailure, so
// that the success path pays only for the first attempt.
func runRetry[T any](ctx context.Context, c *Call, s *retryStage, rest []stage, fn func(context.Context) (T, error)) (T, error) {
	if s.slow || c.observed() {
		return runRetrySlow(ctx, c, s, rest, fn)
	}
	v, err := run(ctx, c, rest, fn)
	if s.rules.budget != nil {
		c.deposit(s.rules.budget) // after the attempt: a budget never delays one (BG-3)
	}
	if err == nil {
		return v, nil
	}
	return retryAfterFailure(ctx, ctx, c, s.attempts, s.backoff, s.rules, rest, fn, v, err, policy.Failure)
}

// runRetrySlow is runRetry for a first attempt that is judged by a classifier, timed
// (MaxDuration, an Observer) or numbered (nested).
func runRetrySlow[T any](ctx context.Context, c *Call, s *retryStage, rest []stage, fn func(context.Context) (T, error)) (T, error) {
	rules := s.rules
	observed := c.observed()
	if rules.maxDuration > 0 || observed {
		rules.start = time.Now()
	}
	actx := ctx
	if s.nested {
		actx = withAttempt(ctx, 1, false)
	}
	mark := c.notified
	v, err := run(actx, c, rest, fn)
	if rules.budget != nil {
		c.deposit(rules.budget)
	}
	verdict := retryVerdict(c, rules.classifier, v, err)
	if observed {
		c.attemptEnded(actx, 1, mark, rules.start, err, c.reported(verdict, err))
	}
	if err == nil && verdict != policy.Failure {
		return v, nil
	}
	return retryAfterFailure(ctx, actx, c, s.attempts, s.backoff, rules, rest, fn, v, err, verdict)
}

// retryVerdict judges one attempt's outcome for a retry: with no classifier a nil error
// is a Success and any other a Failure; the caller's cancellation, another stage's
// refusal and a Permanent error come before the classifier (Failure: IsRetryable
// decides); else the classifier's verdict, a panic in it counting as Failure. v is
// boxed only when there is a classifier.
func retryVerdict[T any](c *Call, cl *classifier, v T, err error) policy.Verdict {
	if cl == nil || (err != nil && c.neutral(lastAttempt(err))) {
		if err == nil {
			return policy.Success
		}
		return policy.Failure
	}
	return c.verdictOf(cl, v, err)
}

// reported is the verdict an Observer is given for an attempt a retry judged verdict:
// a failure that is the caller's cancellation, another stage's refusal or a Permanent
// error is reported as Ignore, as every stage counts it.
func (c *Call) reported(verdict policy.Verdict, err error) policy.Verdict {
	if verdict == policy.Failure && err != nil && c.neutral(lastAttempt(err)) {
		return policy.Ignore
	}
	return verdict
}

// retryAfterFailure goes on from a first attempt (v, err) judged verdict, run under
// actx (a child of ctx, or ctx), that did not succeed: it returns the outcome when the
// verdict or the error says not to retry, and otherwise retries under rules.
func retryAfterFailure[T any](ctx, actx context.Context, c *Call, attempts int, backoff policy.Backoff, rules retryRules, rest []stage, fn func(context.Context) (T, error), v T, err error, verdict policy.Verdict) (T, error) {
	env := c.env
	for attempt := 1; ; attempt++ {
		if verdict != policy.Failure || (err != nil && !policy.IsRetryable(err)) {
			// Success and Ignore return the outcome; Abort stops at once (RT-1).
			return v, err
		}
		if attempt >= attempts {
			return v, c.exhausted(err)
		}
		delay, hint, perr := retryDelay(c, backoff, attempt, err)
		if perr != nil {
			return v, perr
		}
		if hint > rules.maxRetryAfter {
			// RT-3: a hint longer than the cap stops retrying; the error still carries it.
			if ce := env.Log.Check(zap.DebugLevel, "retry abandoned: the server's hint is longer than MaxRetryAfter"); ce != nil {
				ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt), zap.Duration("retry_after", hint), zap.Duration("max_retry_after", rules.maxRetryAfter), zap.Error(err))
			}
			return v, err
		}
		if rules.maxDuration > 0 && !time.Now().Add(delay).Before(rules.start.Add(rules.maxDuration)) {
			// RT-2: the next attempt could not start in time; do not sleep for nothing.
			if ce := env.Log.Check(zap.DebugLevel, "retry stopped: the next attempt would start after MaxDuration"); ce != nil {
				ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Duration("max_duration", rules.maxDuration), zap.Error(err))
			}
			return v, c.exhausted(err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			if ce := env.Log.Check(zap.DebugLevel, "retry abandoned: the wait would pass the deadline"); ce != nil {
				ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
			}
			return v, err
		}
		if rules.budget != nil {
			// BG-2: the retry draws on the budget; refused, the loop ends with an error
			// matching ErrBudgetExhausted and the last attempt's error.
			if berr := c.withdraw(ctx, rules.budget, err); berr != nil {
				return v, berr
			}
		}
		c.logPolicy()
		if ce := env.Log.Check(zap.DebugLevel, "retrying"); ce != nil {
			ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt+1), zap.Int("max_attempts", attempts), zap.Duration("delay", delay), zap.Error(err))
		}
		c.notifyRetry(actx, attempt, delay, err)
		if discard(c, ctx, v) {
			// A discarded value is never returned: an ending below returns the zero value.
			var zero T
			v = zero
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
		if rules.maxDuration > 0 && !time.Now().Before(rules.start.Add(rules.maxDuration)) {
			return v, c.exhausted(err) // the sleep overshot the bound
		}
		env.Counters.Retries.Add(1)
		actx = withAttempt(ctx, attempt+1, false)
		if rules.classifier == nil && !c.observed() {
			v, err = run(actx, c, rest, fn)
			verdict = policy.Failure
			if err == nil {
				verdict = policy.Success
			}
			continue
		}
		mark, start := c.notified, time.Now()
		v, err = run(actx, c, rest, fn)
		verdict = retryVerdict(c, rules.classifier, v, err)
		c.attemptEnded(actx, attempt+1, mark, start, err, c.reported(verdict, err))
	}
}

// exhausted is the error of a retry that gave up after the failure err (nil for a value
// its classifier judged a failure): ErrRetryExhausted, carrying err.
func (c *Call) exhausted(err error) error {
	return &policy.Error{Kind: policy.ErrRetryExhausted, Op: c.id, Attempts: c.attempts, Err: err}
}

// discard hands v, the result of an attempt a retry throws away, to ctx's discard hook
// (discardValue), boxing it only when there is a hook, and reports whether there was.
func discard[T any](c *Call, ctx context.Context, v T) bool {
	fn, _ := ctx.Value(discardKey{}).(func(any))
	if fn == nil {
		return false
	}
	c.discardValue(ctx, v)
	return true
}

// retryDelay is how long a retry waits before attempt+1: the backoff's delay (nil: the
// default), or the error's RetryAfter (hint, 0 for none) if longer. A panic in the
// user's Backoff is returned as an error matching ErrPanic.
func retryDelay(c *Call, b policy.Backoff, attempt int, err error) (delay, hint time.Duration, _ error) {
	if b == nil {
		b = policy.DefaultBackoff()
	}
	delay, perr := guard(c, func() time.Duration { return b.Delay(attempt) })
	if perr != nil {
		return 0, 0, perr
	}
	if after, ok := policy.RetryAfter(err); ok {
		hint = after
		delay = max(delay, after)
	}
	return delay, hint, nil
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

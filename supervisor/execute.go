package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Execute runs op under the policy it declares (op.Policy()). Unnamed breakers and
// limiters in that policy take op.ID() as their name; op.Critical() puts the call first
// in a limiter's wait queue and logs its failure at Error level. See ExecuteWithPolicy
// for the errors it returns.
func Execute[T any](ctx context.Context, e *Engine, op policy.Operation[T]) (T, error) {
	if op == nil {
		var zero T
		return zero, invalid("", "operation is nil")
	}
	c := call{ctx: ctx, id: op.ID(), critical: op.Critical()}
	return execute(&c, e, op.Policy(), op.Execute)
}

// ExecuteWithPolicy runs fn under p on the caller's goroutine (a Timeout stage runs the
// rest of the pipeline on a goroutine of its own, so it can return at the deadline).
// Unnamed breakers and limiters in p share the name "default".
//
// Errors: fn's own error, possibly wrapped in a *policy.Error whose Kind says what the
// engine did (ErrRetryExhausted, ErrTimeout, ErrCircuitOpen, ErrRateLimited,
// ErrCancelled when ctx ended, ErrPanic when fn panicked, ErrOverloaded, ErrShutdown
// after Shutdown). A nil context, engine, function or policy, or an invalid policy,
// gives an error matching policy.ErrInvalidPolicy and runs nothing.
//
// Convert a policy value to the policy.Policy interface once and reuse it: the engine
// caches what a policy compiles into by the identity of the boxed value.
func ExecuteWithPolicy[T any](ctx context.Context, e *Engine, p policy.Policy, fn func(context.Context) (T, error)) (T, error) {
	c := call{ctx: ctx}
	return execute(&c, e, p, fn)
}

// Run is ExecuteWithPolicy for functions that return only an error.
func Run(ctx context.Context, e *Engine, p policy.Policy, fn func(context.Context) error) error {
	if fn == nil {
		return invalid("", "function is nil")
	}
	c := call{ctx: ctx}
	_, err := execute(&c, e, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// call is the per-call state shared by the stages of one operation.
type call struct {
	ctx      context.Context // the caller's context
	e        *Engine
	id       string
	critical bool
	policy   policy.Policy // what the caller passed, for logs
	logged   bool          // "applying policy" was logged for this call
	tally    *tally        // set by ExecuteAll: the batch counts its operations itself
	attempts int
	start    time.Time
}

func invalid(op, why string) error {
	return &policy.Error{Kind: policy.ErrInvalidPolicy, Op: op, Err: errors.New("supervisor: " + why)}
}

func execute[T any](c *call, e *Engine, p policy.Policy, fn func(context.Context) (T, error)) (v T, err error) {
	switch {
	case e == nil:
		return v, invalid(c.id, "engine is nil")
	case c.ctx == nil:
		return v, invalid(c.id, "context is nil")
	case fn == nil:
		return v, invalid(c.id, "function is nil")
	}
	c.e = e
	c.policy = p
	var (
		stages   []stage
		direct   bool // none or a plain retry: the first attempt runs right here
		attempts int
		backoff  policy.Backoff
	)
	switch pp := p.(type) {
	case nil:
		return v, invalid(c.id, "policy is nil")
	case policy.NonePolicy:
		direct = true
	case policy.RetryPolicy:
		// Retry(n) carries the shared default backoff, which is valid: skip Validate.
		if pp.MaxAttempts < 1 || !isDefaultBackoff(pp.Backoff) {
			if err := pp.Validate(); err != nil {
				return v, err
			}
		}
		direct, attempts, backoff = true, pp.MaxAttempts, pp.Backoff
	default:
		pl := e.plans.get(p)
		if pl.err != nil {
			return v, pl.err
		}
		if pl.byID && c.id != "" && !utf8.ValidString(c.id) {
			// The ID would name a breaker or limiter, as policy.Validate refuses a Name.
			return v, invalid(c.id, "the operation ID names a breaker or limiter and must be valid UTF-8")
		}
		stages = pl.stages
	}
	if !c.enter() {
		return v, shutdownErr(c.id)
	}
	if e.hist != nil {
		c.start = time.Now()
	}
	if direct {
		// No plan, no allocation: the retry loop starts only after a failure.
		if v, err = invoke(c.ctx, c, fn); err != nil && attempts > 0 {
			v, err = retryAfterFailure(c.ctx, c, attempts, backoff, nil, fn, v, err)
		}
	} else {
		v, err = run(c.ctx, c, stages, fn)
	}
	if err == nil && e.hist == nil && c.tally == nil {
		e.leave(true)
	} else {
		c.finishSlow(err)
	}
	return v, err
}

// logPolicy logs "applying policy" at Debug, once per call, when the policy first has
// something to do: before a retry, when a breaker or limiter must ask its actor or
// refuses, when a timeout stage starts, or when the call fails. A call that passes
// straight through pays no level check (zap's costs ~4 ns, a fifth of the success path).
func (c *call) logPolicy() {
	if c.logged {
		return
	}
	c.logged = true
	if ce := c.e.log.Check(zap.DebugLevel, "applying policy"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Stringer("policy", c.policy))
	}
}

// enter passes the shutdown gate; a batch passed it once for all its calls.
func (c *call) enter() bool {
	return c.tally != nil || c.e.enter()
}

// finishSlow counts an operation that failed, runs in a batch or is timed, and logs
// its failure; the plain success path is inlined in execute.
func (c *call) finishSlow(err error) {
	e := c.e
	if err != nil {
		c.logPolicy()
	}
	if e.hist != nil {
		e.hist.observe(time.Since(c.start))
	}
	switch {
	case c.tally == nil:
		e.leave(err == nil)
	case err == nil:
		c.tally.ok++
	default:
		c.tally.failed++
	}
	if err == nil {
		return
	}
	level := zap.WarnLevel
	switch {
	case c.critical:
		level = zap.ErrorLevel
	case c.attempts == 0 && policy.IsServiceUnavailable(err):
		// A fast refusal by an open breaker or an empty limiter is the breaker working,
		// not a new failure: at Warn it would flood the logs during every incident.
		level = zap.DebugLevel
	}
	if ce := e.log.Check(level, "operation failed"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Stringer("policy", c.policy), zap.Int("attempts", c.attempts), zap.Bool("critical", c.critical), zap.Error(err))
	}
}

// run applies stages[0] around the rest of the pipeline, and calls fn at the end.
func run[T any](ctx context.Context, c *call, stages []stage, fn func(context.Context) (T, error)) (T, error) {
	if len(stages) == 0 {
		return invoke(ctx, c, fn)
	}
	s := &stages[0]
	switch s.kind {
	case stageRetry:
		return runRetry(ctx, c, s.attempts, s.backoff, stages[1:], fn)
	case stageBreaker:
		return runBreaker(ctx, c, s, stages[1:], fn)
	case stageLimiter:
		return runLimiter(ctx, c, s, stages[1:], fn)
	default:
		return runTimeout(ctx, c, s, stages[1:], fn)
	}
}

// invoke calls fn once, turning a panic into ErrPanic and honouring the caller's
// context: a context that already ended runs nothing.
func invoke[T any](ctx context.Context, c *call, fn func(context.Context) (T, error)) (v T, err error) {
	if err := ctx.Err(); err != nil {
		return v, cancelled(c, ctx, nil)
	}
	c.attempts++
	defer func() {
		if r := recover(); r != nil {
			err = c.e.panicked(c, r)
		}
	}()
	v, err = fn(ctx)
	if err != nil && c.ctx.Err() != nil {
		return v, cancelled(c, c.ctx, err)
	}
	return v, err
}

func (e *Engine) panicked(c *call, r any) error {
	e.panics.Add(1)
	e.log.Error("operation panicked", zap.String("op", c.id), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
	return &policy.Error{Kind: policy.ErrPanic, Op: c.id, Attempts: c.attempts, Err: fmt.Errorf("supervisor: panic: %v", r)}
}

// cancelled is the error for a caller whose context ended; cause is what fn returned,
// if anything.
func cancelled(c *call, ctx context.Context, cause error) error {
	var pe *policy.Error
	if errors.As(cause, &pe) && pe.Kind == policy.ErrCancelled {
		return cause
	}
	err := context.Cause(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = errors.Join(ctxErr, err)
	}
	if cause != nil && !errors.Is(cause, ctx.Err()) {
		err = errors.Join(err, cause)
	}
	return &policy.Error{Kind: policy.ErrCancelled, Op: c.id, Attempts: c.attempts, Err: err}
}

func shutdownErr(op string) error {
	return &policy.Error{Kind: policy.ErrShutdown, Op: op}
}

// runRetry runs the rest of the pipeline up to attempts times, waiting backoff (nil:
// the default) or the error's RetryAfter between attempts.
func runRetry[T any](ctx context.Context, c *call, attempts int, backoff policy.Backoff, rest []stage, fn func(context.Context) (T, error)) (T, error) {
	v, err := run(ctx, c, rest, fn)
	if err == nil {
		return v, nil
	}
	return retryAfterFailure(ctx, c, attempts, backoff, rest, fn, v, err)
}

// retryAfterFailure goes on from a failed first attempt (v, err): the retry loop lives
// apart from runRetry so that the success path pays only for the first attempt.
func retryAfterFailure[T any](ctx context.Context, c *call, attempts int, backoff policy.Backoff, rest []stage, fn func(context.Context) (T, error), v T, err error) (T, error) {
	for attempt := 1; ; attempt++ {
		if err == nil || !policy.IsRetryable(err) {
			return v, err
		}
		if attempt >= attempts {
			return v, &policy.Error{Kind: policy.ErrRetryExhausted, Op: c.id, Attempts: c.attempts, Err: err}
		}
		delay := retryDelay(backoff, attempt, err)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			if ce := c.e.log.Check(zap.DebugLevel, "retry abandoned: the wait would pass the deadline"); ce != nil {
				ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
			}
			return v, err
		}
		c.e.retries.Add(1)
		c.logPolicy()
		if ce := c.e.log.Check(zap.DebugLevel, "retrying"); ce != nil {
			ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt+1), zap.Int("max_attempts", attempts), zap.Duration("delay", delay), zap.Error(err))
		}
		if delay > 0 {
			if err := sleep(ctx, delay); err != nil {
				return v, cancelled(c, ctx, nil)
			}
		}
		v, err = run(ctx, c, rest, fn)
	}
}

func retryDelay(b policy.Backoff, attempt int, err error) time.Duration {
	if b == nil {
		b = policy.DefaultBackoff()
	}
	delay := b.Delay(attempt)
	if after, ok := policy.RetryAfter(err); ok && after > delay {
		delay = after
	}
	return delay
}

// sleep waits d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

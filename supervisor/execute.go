package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
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
// Errors: always a *policy.Error with the operation, the attempts that ran and the cause.
// Its Kind says what the engine did (ErrRetryExhausted, ErrTimeout, ErrCircuitOpen,
// ErrRateLimited, ErrCancelled when ctx ended, ErrPanic when fn panicked, ErrOverloaded,
// ErrShutdown after Shutdown), or is nil for a plain failure: fn's own error, which no
// stage acted on (also a Permanent error, and the last error of a retry that gave up
// because its next wait would pass ctx's deadline). A nil context, engine, function or
// policy, or an invalid policy, gives an error of Kind policy.ErrInvalidPolicy and runs
// nothing.
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
	logged   bool          // "applying policy" was logged for this call (before a retry)
	tally    *tally        // set by ExecuteAll: the batch counts its operations itself
	attempts int
	// started counts the call's attempts where a Timeout stage that gave up can read them
	// while its goroutine still runs: set by the outermost Timeout stage, nil outside one.
	started *atomic.Int64
	exited  bool // user code called runtime.Goexit: the stages are unwinding
	// detached marks the copy a Timeout stage's goroutine runs: the stage, on the
	// caller's goroutine, accounts for the call.
	detached bool
	start    time.Time
}

// invalid is the error for bad input to the engine, such as a nil function.
func invalid(op, why string) error {
	return &policy.Error{Kind: policy.ErrInvalidPolicy, Op: op, Err: errors.New(why)}
}

// invalidPolicy is the error for a policy that does not validate; err says why.
func invalidPolicy(op string, err error) error {
	return &policy.Error{Kind: policy.ErrInvalidPolicy, Op: op, Err: err}
}

// failure returns err, a call's failure, as a *policy.Error: a stage's error is one
// already; the function's own error, which no stage acted on, becomes a plain failure
// (Kind nil). It is the one allocation of a plain failure.
func (c *call) failure(err error) error {
	if _, ok := err.(*policy.Error); ok {
		return err
	}
	return &policy.Error{Op: c.id, Attempts: c.attempts, Err: err}
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
			if err := validate(pp); err != nil {
				return v, invalidPolicy(c.id, err)
			}
		}
		direct, attempts, backoff = true, pp.MaxAttempts, pp.Backoff
	default:
		pl := e.plans.get(p)
		if pl.err != nil {
			return v, invalidPolicy(c.id, pl.err)
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
	if err != nil {
		err = c.failure(err)
	}
	if err == nil && e.hist == nil && c.tally == nil {
		e.leave(true)
	} else {
		c.finishSlow(err)
	}
	return v, err
}

// logPolicy logs "applying policy" at Debug, once per call, before its first retry. A
// call that passes straight through logs nothing and pays no level check (zap's costs
// ~4 ns, a fifth of the success path); a failure is logged once, by finishSlow, with
// the policy.
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
	if err == nil || panicLogged(err) {
		return
	}
	level := e.cfg.failureLevel
	switch {
	case callersOwn(err):
		// The caller's own: a request it says is wrong, or a context it ended. Not a
		// failure of the engine or of the dependency.
		level = zap.DebugLevel
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
	if c.started != nil {
		c.started.Add(1)
	}
	returned := false
	defer func() {
		if !returned {
			err = c.userExit(recover())
		}
	}()
	v, err = fn(ctx)
	returned = true
	if err != nil && c.ctx.Err() != nil {
		return v, cancelled(c, c.ctx, err)
	}
	return v, err
}

// panicked counts and logs a panic of the function, with its stack, and returns the
// call's error. This is the panic's only log line: finishSlow does not log it again.
func (e *Engine) panicked(c *call, r any) error {
	e.panics.Add(1)
	e.log.Error("operation panicked", zap.String("op", c.id), zap.Stringer("policy", c.policy), zap.Int("attempts", c.attempts),
		zap.Bool("critical", c.critical), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
	return &policy.Error{Kind: policy.ErrPanic, Op: c.id, Attempts: c.attempts, Err: &panicValue{value: r}}
}

// panicValue is the cause of an ErrPanic error: what the function panicked with. Its
// message is the value's, so the error reads "panic: boom"; a panic with an error value
// unwraps to it.
type panicValue struct{ value any }

func (p *panicValue) Error() string { return fmt.Sprint(p.value) }

func (p *panicValue) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// callersOwn reports whether err, a call's *policy.Error, is the caller's own failure: a
// cancellation, or a Permanent error. It looks at the Kind and walks only the cause:
// errors.Is through a *policy.Error allocates (its Unwrap returns a slice).
func callersOwn(err error) bool {
	pe, ok := err.(*policy.Error)
	if !ok {
		return policy.IsPermanent(err) || errors.Is(err, policy.ErrCancelled)
	}
	return pe.Kind == policy.ErrCancelled || (pe.Err != nil && policy.IsPermanent(pe.Err))
}

// panicLogged reports whether err is a panic that panicked logged already.
func panicLogged(err error) bool {
	pe, ok := err.(*policy.Error)
	if !ok || pe.Kind != policy.ErrPanic {
		return false
	}
	_, ok = pe.Err.(*panicValue)
	return ok
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
		err = &causes{ctxErr, err}
	}
	if cause != nil && !errors.Is(cause, ctx.Err()) {
		err = &causes{err, cause}
	}
	return &policy.Error{Kind: policy.ErrCancelled, Op: c.id, Attempts: c.attempts, Err: err}
}

// causes is two causes of one failure, such as context.Canceled and the cause given to
// the cancel function; errors.Is and errors.As see both. It reads "first: second"
// (errors.Join would put a newline into a one-line message).
type causes struct{ first, second error }

func (j *causes) Error() string   { return j.first.Error() + ": " + j.second.Error() }
func (j *causes) Unwrap() []error { return []error{j.first, j.second} }

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
		delay, perr := retryDelay(c, backoff, attempt, err)
		if perr != nil {
			return v, perr
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			if ce := c.e.log.Check(zap.DebugLevel, "retry abandoned: the wait would pass the deadline"); ce != nil {
				ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
			}
			return v, err
		}
		c.logPolicy()
		if ce := c.e.log.Check(zap.DebugLevel, "retrying"); ce != nil {
			ce.Write(zap.String("op", c.id), zap.Int("attempt", attempt+1), zap.Int("max_attempts", attempts), zap.Duration("delay", delay), zap.Error(err))
		}
		if delay > 0 {
			switch sleep(ctx, c.e, delay) {
			case errStopped:
				return v, c.shutDown(err)
			case nil:
			default:
				return v, cancelled(c, ctx, nil)
			}
		}
		// The next attempt is new work: it passes the shutdown gate, and only then counts.
		if c.e.stopped() {
			return v, c.shutDown(err)
		}
		c.e.retries.Add(1)
		v, err = run(ctx, c, rest, fn)
	}
}

// retryDelay is how long a retry waits before attempt+1: the backoff's delay (nil: the
// default), or the error's RetryAfter if longer. A panic in the user's Backoff is
// returned as an error matching ErrPanic.
func retryDelay(c *call, b policy.Backoff, attempt int, err error) (time.Duration, error) {
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
func sleep(ctx context.Context, e *Engine, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return errStopped
	}
}

// shutDown is the error of a call that Shutdown stopped between attempts; cause is the
// last attempt's error.
func (c *call) shutDown(cause error) error {
	return &policy.Error{Kind: policy.ErrShutdown, Op: c.id, Attempts: c.attempts, Err: cause}
}

// guard runs f, code the user gave the engine other than the operation itself (a
// Backoff's Delay; classifiers, observers and fallbacks are to run through it too), and
// handles a panic in it as one in the operation: counted, logged and returned as an
// error matching ErrPanic. runtime.Goexit in f is counted as a panic and goes on (see
// userExit).
func guard[R any](c *call, f func() R) (r R, err error) {
	returned := false
	defer func() {
		if !returned {
			err = c.userExit(recover())
		}
	}()
	r = f()
	returned = true
	return r, nil
}

// validate is p.Validate, which runs user code (a Backoff's Validate), before any call
// exists to account for a panic: a policy whose validation panics is invalid, and the
// error matching ErrInvalidPolicy carries the panic.
func validate(p policy.Policy) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("validating %T panicked: %v", p, r)
		}
	}()
	return p.Validate()
}

// userExit handles user code that did not return, from the deferred function of
// invoke or guard; r is what recover returned there. A panic becomes ErrPanic. A nil r
// is runtime.Goexit (t.FailNow, require.*), which cannot be stopped or turned into a
// return: it is counted as a panic, the call leaves the gate here as a failed
// operation (execute is never returned to; a Timeout stage accounts for its
// goroutine's copy itself), the call is marked exited so that the stages it unwinds
// through release what they hold, and Goexit goes on.
func (c *call) userExit(r any) error {
	if r != nil {
		return c.e.panicked(c, r)
	}
	c.exited = true
	c.e.panics.Add(1)
	c.e.log.Error("operation called runtime.Goexit", zap.String("op", c.id), zap.ByteString("stack", debug.Stack()))
	err := c.goexitErr()
	if !c.detached {
		c.finishSlow(err)
	}
	return err
}

// goexitErr is the error of an attempt whose goroutine exited through runtime.Goexit.
func (c *call) goexitErr() error {
	return &policy.Error{Kind: policy.ErrPanic, Op: c.id, Attempts: c.attempts, Err: errGoexit}
}

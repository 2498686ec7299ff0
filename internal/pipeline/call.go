package pipeline

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Call is the per-call state shared by the stages of one operation. Declare a zero Call
// on the caller's stack, Init it, and run it once with Execute or ExecutePlan; it never
// escapes to the heap.
type Call struct {
	caller   context.Context // the caller's context; a stage's own ctx may be a timeout's
	env      *Env
	id       string
	policy   policy.Policy // what the caller passed, for logs
	tally    *tally        // set by a batch: the batch counts its operations itself
	attempts int
	// started counts the call's attempts where a Timeout stage that gave up can read them
	// while its goroutine still runs: set by the outermost Timeout stage, nil outside one.
	started  *atomic.Int64
	budget   *budgetRef // the retry budget of a direct Retry (a prepared plan's); nil: none
	start    time.Time
	critical bool
	logged   bool // "applying policy" was logged for this call (before a retry)
	exited   bool // user code called runtime.Goexit: the stages are unwinding
	// detached marks the copy a Timeout stage's goroutine runs: the stage, on the
	// caller's goroutine, accounts for the call.
	detached bool
	// handle marks the call of a Breaker or Limiter handle: not an operation, so its
	// refusals count in the actor's stats only, not in the engine's totals.
	handle bool
	// noWait makes a limiter refuse a token it would have to wait for (Limiter.Allow).
	noWait bool
	// notified counts the AttemptFinished calls made for the call, so that a stage
	// reports an attempt only when nothing inside it did (attemptEnded). It fits in the
	// padding after the flags.
	notified uint32
	// orphan is set by a Timeout stage that gave up on a function still running, for
	// the Bulkhead stages outside it: their permits go back when it returns.
	orphan *orphan
}

// Init makes c, a zero Call, the state of a call from caller for the operation id (it
// names unnamed breakers and limiters; "" for none); critical puts it first in a
// limiter's wait queue and logs its failure at Error. It works in place, field by field:
// a Call returned as a composite literal is built in a temporary and copied in 16-byte
// moves that read its 8-byte stores back (a store-forwarding stall).
func (c *Call) Init(caller context.Context, id string, critical bool) {
	c.caller, c.id, c.critical = caller, id, critical
}

// Attempts returns the attempts the call started.
func (c *Call) Attempts() int { return c.attempts }

// Execute runs fn under p for c on env: p compiles through env's identity cache (None and
// a plain Retry need no plan). Its errors are described by supervisor.ExecuteWithPolicy.
func Execute[T any](c *Call, env *Env, p policy.Policy, fn func(context.Context) (T, error)) (v T, err error) {
	if c.caller == nil || fn == nil {
		return v, c.checkInput()
	}
	c.env = env
	c.policy = p
	switch p.(type) {
	case policy.NonePolicy:
		return execute(c, env, nil, nil, true, 0, nil, fn)
	case policy.RetryPolicy:
		// Read the boxed value in place: copying the whole RetryPolicy out of the
		// interface costs more than the fields the direct path reads.
		pp := boxedRetry(p)
		if !plainRetry(pp) {
			break // a plan: a classifier to look up, an attempt timeout's stage...
		}
		// Retry(n) carries the shared default backoff, which is valid: skip Validate.
		if pp.MaxAttempts < 1 || (pp.Backoff != nil && pp.Backoff != policy.DefaultBackoff()) {
			if err := c.checkRetry(*pp); err != nil {
				return v, err
			}
		}
		return execute(c, env, nil, nil, true, pp.MaxAttempts, pp.Backoff, fn)
	}
	pl, err := env.route(c, p)
	if err != nil {
		return v, err
	}
	if pl.fallbacks != nil {
		if err := checkFallbacks[T](c.id, pl.fallbacks); err != nil {
			return v, err
		}
	}
	return execute(c, env, pl.stages, pl.outer, false, 0, nil, fn)
}

// checkInput is the error of a call refused before anything ran: a nil context (checked
// first), or a nil function.
func (c *Call) checkInput() error {
	if c.caller == nil {
		return Invalid(c.id, "context is nil")
	}
	return Invalid(c.id, "function is nil")
}

// checkRetry validates p, a Retry with a backoff of its own, out of Execute's frame.
//
//go:noinline
func (c *Call) checkRetry(p policy.RetryPolicy) error {
	if err := validate(p); err != nil {
		return InvalidPolicy(c.id, err)
	}
	return nil
}

// route returns the plan c runs under p, a policy other than None and a plain Retry, or
// the error refusing it. It is not generic and not inlined, so that its frame
// is not on the stack while the call runs.
//
//go:noinline
func (env *Env) route(c *Call, p policy.Policy) (*Plan, error) {
	if p == nil {
		return nil, Invalid(c.id, "policy is nil")
	}
	pl := env.plans.get(env, p)
	if pl.err != nil {
		return nil, InvalidPolicy(c.id, pl.err)
	}
	if pl.byID && c.id != "" && !utf8.ValidString(c.id) {
		// The ID would name a breaker or limiter, as policy.Validate refuses a Name.
		return nil, Invalid(c.id, "the operation ID names a breaker or limiter and must be valid UTF-8")
	}
	return pl, nil
}

// ExecutePlan runs fn under the prepared plan pl for c; c's operation ID is the plan's.
func ExecutePlan[T any](c *Call, pl *Plan, fn func(context.Context) (T, error)) (v T, err error) {
	c.id = pl.id
	if pl.env == nil {
		return v, Invalid(c.id, "the plan was not made by Prepare")
	}
	if c.caller == nil || fn == nil {
		return v, c.checkInput()
	}
	if pl.fallbacks != nil {
		if err := checkFallbacks[T](c.id, pl.fallbacks); err != nil {
			return v, err
		}
	}
	c.env = pl.env
	c.policy = pl.policy
	c.budget = pl.budget
	return execute(c, pl.env, pl.stages, pl.outer, pl.direct, pl.attempts, pl.backoff, fn)
}

// execute runs a call through the gate: stages, or with direct none or a plain retry of
// attempts (0: none) waiting backoff between them. outer is the plan's outermost
// Fallback stage, nil for none: it is applied here rather than as a stage, so that on
// the success path it costs one test.
func execute[T any](c *Call, env *Env, stages []stage, outer *fallbackStage, direct bool, attempts int, backoff policy.Backoff, fn func(context.Context) (T, error)) (v T, err error) {
	if !c.enter() {
		return v, Shutdown(c.id)
	}
	if env.Observer != nil {
		return executeObserved(c, env, stages, outer, direct, attempts, backoff, fn)
	}
	if env.Hist != nil {
		c.start = time.Now()
	}
	if direct {
		// No plan, no allocation: the retry loop starts only after a failure.
		v, err = invoke(c.caller, c, fn)
		if c.budget != nil {
			c.deposit(c.budget) // after the attempt: a budget never delays one (BG-3)
		}
		if err != nil && attempts > 0 {
			v, err = retryAfterFailure(c.caller, c.caller, c, attempts, backoff, c.directRules(), nil, fn, v, err, policy.Failure)
		}
	} else {
		v, err = run(c.caller, c, stages, fn)
		if outer != nil && (err != nil || outer.classifier != nil) {
			v, err = fallBack(c.caller, c, outer, v, err)
		}
	}
	if err != nil {
		err = c.failure(err)
	}
	if err == nil && env.Hist == nil && c.tally == nil {
		env.Leave(true)
	} else {
		c.finishSlow(err)
	}
	return v, err
}

// executeObserved is execute for an engine with an Observer: the call is announced and
// its end reported, and an attempt that no retry reported (the only attempt of a call
// without a retry, the first of a plain Retry) is reported here. It is apart so that
// execute without an observer pays one test.
//
//go:noinline
func executeObserved[T any](c *Call, env *Env, stages []stage, outer *fallbackStage, direct bool, attempts int, backoff policy.Backoff, fn func(context.Context) (T, error)) (v T, err error) {
	if env.Hist != nil {
		c.start = time.Now()
	}
	ctx := c.operationStarted(c.caller)
	c.caller = ctx
	mark, start := c.notified, time.Now()
	if direct {
		v, err = invoke(ctx, c, fn)
		if c.attempts > 0 {
			c.attemptEnded(ctx, 1, mark, start, err, c.defaultVerdict(err))
		}
		if c.budget != nil {
			c.deposit(c.budget)
		}
		if err != nil && attempts > 0 {
			v, err = retryAfterFailure(ctx, ctx, c, attempts, backoff, c.directRules(), nil, fn, v, err, policy.Failure)
		}
	} else {
		v, err = run(ctx, c, stages, fn)
		if c.attempts > 0 {
			c.attemptEnded(ctx, 1, mark, start, err, c.defaultVerdict(err))
		}
		if outer != nil && (err != nil || outer.classifier != nil) {
			v, err = fallBack(ctx, c, outer, v, err)
		}
	}
	if err != nil {
		err = c.failure(err)
	}
	c.operationFinished(ctx, err)
	c.finishSlow(err)
	return v, err
}

// enter passes the shutdown gate; a batch passed it once for all its calls.
func (c *Call) enter() bool {
	return c.tally != nil || c.env.Enter()
}

// logPolicy logs "applying policy" at Debug, once per call, before its first retry. A
// call that passes straight through logs nothing and pays no level check (zap's costs
// ~4 ns, a fifth of the success path); a failure is logged once, by finishSlow, with
// the policy.
func (c *Call) logPolicy() {
	if c.logged {
		return
	}
	c.logged = true
	if ce := c.env.Log.Check(zap.DebugLevel, "applying policy"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Stringer("policy", c.policy))
	}
}

// finishSlow counts an operation that failed, runs in a batch or is timed, and logs
// its failure; the plain success path is inlined in execute.
func (c *Call) finishSlow(err error) {
	env := c.env
	if env.Hist != nil {
		env.Hist.Observe(time.Since(c.start))
	}
	switch {
	case c.tally == nil:
		env.Leave(err == nil)
	case err == nil:
		c.tally.ok++
	default:
		c.tally.failed++
	}
	if err == nil || panicLogged(err) {
		return
	}
	level := env.FailureLevel
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
	if ce := env.Log.Check(level, "operation failed"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Stringer("policy", c.policy), zap.Int("attempts", c.attempts), zap.Bool("critical", c.critical), zap.Error(err))
	}
}

// invoke calls fn once, turning a panic into ErrPanic and honouring the caller's
// context: a context that already ended runs nothing.
func invoke[T any](ctx context.Context, c *Call, fn func(context.Context) (T, error)) (v T, err error) {
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
	if err != nil && c.caller.Err() != nil {
		return v, cancelled(c, c.caller, err)
	}
	return v, err
}

// guard runs f, code the user gave the engine other than the operation itself (a
// Backoff's Delay; classifiers, observers and fallbacks are to run through it too), and
// handles a panic in it as one in the operation: counted, logged and returned as an
// error matching ErrPanic. runtime.Goexit in f is counted as a panic and goes on (see
// userExit).
func guard[R any](c *Call, f func() R) (r R, err error) {
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
			err = validatePanicked(p, r)
		}
	}()
	return p.Validate()
}

// validateBatch is validate for the policy of a batch, which needs no plan for None and a
// plain Retry: nil, or the error to fail every entry with.
func validateBatch(env *Env, p policy.Policy) error {
	var err error
	switch pp := p.(type) {
	case policy.NonePolicy:
		err = validate(p)
	case policy.RetryPolicy:
		if plainRetry(&pp) {
			err = validate(p)
			break
		}
		err = env.plans.get(env, p).err
	default:
		err = env.plans.get(env, p).err
	}
	if err != nil {
		return InvalidPolicy("", err)
	}
	return nil
}

// userExit handles user code that did not return, from the deferred function of
// invoke or guard; r is what recover returned there. A panic becomes ErrPanic. A nil r
// is runtime.Goexit (t.FailNow, require.*), which cannot be stopped or turned into a
// return: it is counted as a panic, the call leaves the gate here as a failed
// operation (execute is never returned to; a Timeout stage accounts for its
// goroutine's copy itself), the call is marked exited so that the stages it unwinds
// through release what they hold, and Goexit goes on.
func (c *Call) userExit(r any) error {
	if r != nil {
		return c.panicked(r)
	}
	c.exited = true
	c.env.Counters.Panics.Add(1)
	c.env.Log.Error("operation called runtime.Goexit", zap.String("op", c.id), zap.ByteString("stack", debug.Stack()))
	err := c.GoexitErr()
	if !c.detached {
		c.finishSlow(err)
	}
	return err
}

// panicked counts and logs a panic of the function, with its stack, and returns the
// call's error. This is the panic's only log line: finishSlow does not log it again.
func (c *Call) panicked(r any) error {
	c.env.Counters.Panics.Add(1)
	c.env.Log.Error("operation panicked", zap.String("op", c.id), zap.Stringer("policy", c.policy), zap.Int("attempts", c.attempts),
		zap.Bool("critical", c.critical), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
	return &policy.Error{Kind: policy.ErrPanic, Op: c.id, Attempts: c.attempts, Err: &panicValue{value: r}}
}

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Invalid is the error for bad input to the engine, such as a nil function: a
// *policy.Error of Kind ErrInvalidPolicy for the operation op, whose cause reads why.
func Invalid(op, why string) error {
	return &policy.Error{Kind: policy.ErrInvalidPolicy, Op: op, Err: errors.New(why)}
}

// InvalidPolicy is the error for a policy that does not validate; err says why.
func InvalidPolicy(op string, err error) error {
	return &policy.Error{Kind: policy.ErrInvalidPolicy, Op: op, Err: err}
}

// validatePanicked is the cause of ErrInvalidPolicy for a policy whose Validate panicked.
func validatePanicked(p policy.Policy, r any) error {
	return fmt.Errorf("validating %T panicked: %v", p, r)
}

// Shutdown is the error of a call refused because Shutdown began.
func Shutdown(op string) error {
	return &policy.Error{Kind: policy.ErrShutdown, Op: op}
}

// shutDown is the error of a call that Shutdown stopped between attempts; cause is the
// last attempt's error.
func (c *Call) shutDown(cause error) error {
	return &policy.Error{Kind: policy.ErrShutdown, Op: c.id, Attempts: c.attempts, Err: cause}
}

// failure returns err, a call's failure, as a *policy.Error: a stage's error is one
// already; the function's own error, which no stage acted on, becomes a plain failure
// (Kind nil). It is the one allocation of a plain failure.
func (c *Call) failure(err error) error {
	if _, ok := err.(*policy.Error); ok {
		return err
	}
	return &policy.Error{Op: c.id, Attempts: c.attempts, Err: err}
}

// cancelled is the error for a caller whose context ended; cause is what fn returned,
// if anything.
func cancelled(c *Call, ctx context.Context, cause error) error {
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

// Error reads "first: second".
func (j *causes) Error() string { return j.first.Error() + ": " + j.second.Error() }

// Unwrap returns both causes.
func (j *causes) Unwrap() []error { return []error{j.first, j.second} }

// panicValue is the cause of an ErrPanic error: what the function panicked with. Its
// message is the value's, so the error reads "panic: boom"; a panic with an error value
// unwraps to it.
type panicValue struct{ value any }

// Error is the panic value, printed.
func (p *panicValue) Error() string { return fmt.Sprint(p.value) }

// Unwrap returns the panic value when it is an error.
func (p *panicValue) Unwrap() error {
	err, _ := p.value.(error)
	return err
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

// errGoexit is the cause of the error of an attempt that called runtime.Goexit.
var errGoexit = errors.New("the function called runtime.Goexit")

// GoexitErr is the error of an attempt whose goroutine exited through runtime.Goexit.
func (c *Call) GoexitErr() error {
	return &policy.Error{Kind: policy.ErrPanic, Op: c.id, Attempts: c.attempts, Err: errGoexit}
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

// circuitOpen is the error of a call an open breaker refused; retry after wait.
func (c *Call) circuitOpen(wait time.Duration) error {
	return &policy.Error{Kind: policy.ErrCircuitOpen, Op: c.id, Attempts: c.attempts, After: wait}
}

// forcedOpen is the error of a call a breaker forced open by hand refused; it matches
// ErrCircuitForcedOpen and ErrCircuitOpen. wait is the time left of a ForceOpen for a
// while, 0 for one until ResetBreaker.
func (c *Call) forcedOpen(wait time.Duration) error {
	return &policy.Error{Kind: policy.ErrCircuitForcedOpen, Op: c.id, Attempts: c.attempts, After: wait}
}

// rateLimited is the error of a call a limiter refused; retry after wait. It counts a
// rate-limit hit.
func (c *Call) rateLimited(wait time.Duration) error {
	if !c.handle {
		c.env.Counters.RateLimitHits.Add(1)
	}
	return &policy.Error{Kind: policy.ErrRateLimited, Op: c.id, Attempts: c.attempts, After: wait}
}

// rejected turns an actor's refusal into the caller's error.
func (c *Call) rejected(r *messages.Rejected) error {
	switch r.Reason {
	case messages.CircuitOpen:
		return c.circuitOpen(r.RetryAfter)
	case messages.CircuitForcedOpen:
		return c.forcedOpen(r.RetryAfter)
	case messages.RateLimited:
		return c.rateLimited(r.RetryAfter)
	case messages.Cancelled:
		return cancelled(c, c.caller, nil)
	case messages.Stopping:
		if c.env.Closed() {
			return Shutdown(c.id)
		}
		return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New("actor stopping")}
	}
	return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New("actor crashed while deciding; it was restarted")}
}

// noAnswer turns an abandoned ask into the caller's error.
func (c *Call) noAnswer(ctx context.Context, err error) error {
	switch err {
	case inbox.Cancelled:
		return cancelled(c, ctx, nil)
	case inbox.Shutdown:
		return Shutdown(c.id)
	}
	return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: err}
}

// overloaded refuses to queue behind a mailbox of depth, when it is at or past the
// mailbox limit.
func (c *Call) overloaded(depth int64) error {
	if c.env.pastLimit(depth) {
		return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Attempts: c.attempts,
			Err: errors.New("actor mailbox is full")}
	}
	return nil
}

// keepsStopping is the error of a call whose breaker or limiter stopped each time it
// was asked.
func (c *Call) keepsStopping(kind, name string) error {
	return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New(kind + " " + name + " keeps stopping")}
}

// timedOut is the error of an attempt a Timeout stage ended; it counts a timeout.
func (c *Call) timedOut(s *timeoutStage) error {
	c.env.Counters.Timeouts.Add(1)
	if ce := c.env.Log.Check(zap.DebugLevel, "timeout"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Duration("timeout", s.timeout))
	}
	return &policy.Error{Kind: policy.ErrTimeout, Op: c.id, Attempts: c.attempts, Err: s.expired}
}

// deadlinePassed is the cause of a Timeout stage's error: the limit that passed. It
// matches policy.ErrTimeout, so the error reads "timeout 200ms" rather than "timeout:
// context deadline exceeded", and context.DeadlineExceeded.
type deadlinePassed time.Duration

// Error reads "timeout 200ms".
func (d deadlinePassed) Error() string { return "timeout " + time.Duration(d).String() }

// Is reports whether target is policy.ErrTimeout or context.DeadlineExceeded.
func (d deadlinePassed) Is(target error) bool {
	return target == policy.ErrTimeout || target == context.DeadlineExceeded
}

// Timeout reports true, like context.DeadlineExceeded.
func (d deadlinePassed) Timeout() bool { return true }

package supervisor

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// closedChan is a channel closed for good, returned by Done of a context that ended
// before anybody asked for its channel.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// timeoutCtx is the context a Timeout stage hands to the rest of the pipeline. It ends
// at its deadline (its own timer), when the caller's context ends, or when the stage
// returns. Its Done channel is made only if somebody asks for it.
type timeoutCtx struct {
	parent   context.Context
	deadline time.Time
	done     atomic.Pointer[chan struct{}]
	err      atomic.Pointer[error]
}

var _ context.Context = (*timeoutCtx)(nil)

var errDeadline error = context.DeadlineExceeded

func (t *timeoutCtx) Deadline() (time.Time, bool) {
	if d, ok := t.parent.Deadline(); ok && d.Before(t.deadline) {
		return d, true
	}
	return t.deadline, true
}

func (t *timeoutCtx) Done() <-chan struct{} {
	for {
		if d := t.done.Load(); d != nil {
			return *d
		}
		if t.err.Load() != nil {
			return closedChan
		}
		ch := make(chan struct{})
		if t.done.CompareAndSwap(nil, &ch) {
			if t.err.Load() != nil { // ended while we installed the channel
				t.closeDone()
			}
			return ch
		}
	}
}

func (t *timeoutCtx) Err() error {
	if err := t.err.Load(); err != nil {
		return *err
	}
	return t.parent.Err()
}

func (t *timeoutCtx) Value(key any) any { return t.parent.Value(key) }

// end ends the context with err, once; it reports whether this call ended it.
func (t *timeoutCtx) end(err error) bool {
	if !t.err.CompareAndSwap(nil, &err) {
		return false
	}
	t.closeDone()
	return true
}

func (t *timeoutCtx) closeDone() {
	closed := closedChan
	if d := t.done.Swap(&closed); d != nil && *d != closedChan {
		close(*d)
	}
}

func (t *timeoutCtx) expired() bool {
	err := t.err.Load()
	return err != nil && *err == errDeadline
}

// timeoutRun is one Timeout stage in progress: the rest of the pipeline runs on its own
// goroutine, and the caller waits for it, the deadline, or the caller's context.
type timeoutRun[T any] struct {
	ctx      timeoutCtx
	wake     chan struct{} // cap 1
	state    atomic.Int32  // running, finished, abandoned
	timer    *time.Timer
	v        T
	err      error
	returned bool // run returned (false when fn called runtime.Goexit)
	inner    call // the goroutine's copy of the call
}

const (
	running int32 = iota
	finished
	gaveUp
)

// runTimeout runs the rest of the pipeline under a deadline s.timeout away. At the
// deadline the rest's context ends and runTimeout returns ErrTimeout at once, even if
// the function ignores its context; such a function is counted as abandoned and keeps
// Shutdown waiting until it returns.
func runTimeout[T any](ctx context.Context, c *call, s *stage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	e := c.e
	r := &timeoutRun[T]{wake: make(chan struct{}, 1), inner: *c}
	r.ctx.parent = ctx
	r.ctx.deadline = time.Now().Add(s.timeout)
	r.timer = time.AfterFunc(s.timeout, func() {
		r.ctx.end(errDeadline)
		r.signal()
	})
	go r.work(e, rest, fn)

	if parentDone := ctx.Done(); parentDone == nil {
		<-r.wake
	} else {
		select {
		case <-r.wake:
		case <-parentDone:
		}
	}
	if r.state.CompareAndSwap(running, gaveUp) {
		// The function has not returned: give up on it.
		r.timer.Stop()
		e.abandoned.Add(1)
		e.abandonedLive.Add(1)
		// r.inner belongs to the goroutine still running: its attempts are not read, and
		// the abandoned attempt counts as one.
		c.attempts++
		if ctx.Err() != nil && (r.ctx.end(ctx.Err()) || !r.ctx.expired()) {
			return v, cancelled(c, ctx, nil)
		}
		return v, c.timedOut(s)
	}
	r.timer.Stop()
	expired := r.ctx.expired()
	r.ctx.end(context.Canceled)
	c.attempts += r.inner.attempts
	if !r.returned {
		return v, &policy.Error{Kind: policy.ErrPanic, Op: c.id, Attempts: c.attempts, Err: errGoexit}
	}
	if expired && r.err != nil {
		return r.v, c.timedOut(s)
	}
	return r.v, r.err
}

var errGoexit = errors.New("supervisor: the function called runtime.Goexit")

// work runs on the stage's goroutine.
func (r *timeoutRun[T]) work(e *Engine, rest []stage, fn func(context.Context) (T, error)) {
	defer func() {
		// Also reached through runtime.Goexit in fn.
		if !r.state.CompareAndSwap(running, finished) {
			e.abandonedLive.Add(-1)
			if e.closed.Load() {
				e.wakeDrain()
			}
			return
		}
		r.signal()
	}()
	r.v, r.err = run(&r.ctx, &r.inner, rest, fn)
	r.returned = true
}

func (r *timeoutRun[T]) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (c *call) timedOut(s *stage) error {
	c.e.timeouts.Add(1)
	if ce := c.e.log.Check(zap.DebugLevel, "timeout"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Duration("timeout", s.timeout))
	}
	return &policy.Error{Kind: policy.ErrTimeout, Op: c.id, Attempts: c.attempts, Err: context.DeadlineExceeded}
}

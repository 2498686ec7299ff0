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
var (
	closedChan    = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
	closedChanPtr = &closedChan
)

// How a timeoutCtx ended.
const (
	live int32 = iota
	endDeadline
	endCanceled // the stage returned
	endParent   // the caller's context ended
)

// timeoutCtx is the context a Timeout stage hands to the rest of the pipeline. It ends
// at its deadline, when the caller's context ends, or when the stage returns. Its Done
// channel is made only if somebody asks for it, and ending it allocates nothing.
type timeoutCtx struct {
	parent   context.Context
	deadline time.Time
	done     atomic.Pointer[chan struct{}]
	state    atomic.Int32
}

var _ context.Context = (*timeoutCtx)(nil)

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
		if t.state.Load() != live {
			return closedChan
		}
		ch := make(chan struct{})
		if t.done.CompareAndSwap(nil, &ch) {
			if t.state.Load() != live { // ended while the channel was installed
				t.closeDone()
			}
			return ch
		}
	}
}

func (t *timeoutCtx) Err() error {
	switch t.state.Load() {
	case endDeadline:
		return context.DeadlineExceeded
	case endCanceled:
		return context.Canceled
	}
	return t.parent.Err()
}

func (t *timeoutCtx) Value(key any) any { return t.parent.Value(key) }

// end ends the context, once; it reports whether this call ended it.
func (t *timeoutCtx) end(how int32) bool {
	if !t.state.CompareAndSwap(live, how) {
		return false
	}
	t.closeDone()
	return true
}

func (t *timeoutCtx) closeDone() {
	if d := t.done.Swap(closedChanPtr); d != nil && d != closedChanPtr {
		close(*d)
	}
}

func (t *timeoutCtx) expired() bool { return t.state.Load() == endDeadline }

// timeoutRun is one Timeout stage in progress: the rest of the pipeline runs on its own
// goroutine, and the caller waits for it, the deadline, or the caller's context.
type timeoutRun[T any] struct {
	ctx      timeoutCtx
	wake     chan struct{} // cap 1: the goroutine finished
	state    atomic.Int32  // running, finished, gaveUp
	v        T
	err      error
	returned bool         // run returned (false when fn called runtime.Goexit)
	inner    call         // the goroutine's copy of the call
	started  atomic.Int64 // the call's attempts started, when this is its outermost Timeout stage
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
	sl := e.timeoutSlot(s.timeout)
	r := &timeoutRun[T]{wake: sl.wake, inner: *c}
	r.inner.detached = true
	if c.started == nil {
		// The outermost Timeout stage of the call: every attempt the goroutine starts, in
		// nested stages too, counts here, where this stage can read it when it gives up.
		r.started.Store(int64(c.attempts))
		r.inner.started = &r.started
	}
	started := r.inner.started
	r.ctx.parent = ctx
	r.ctx.deadline = time.Now().Add(s.timeout)
	go r.work(e, rest, fn)

	woke := false
	select {
	case <-sl.wake:
		woke = true
	case <-sl.timer.C:
		r.ctx.end(endDeadline)
	case <-ctx.Done():
		r.ctx.end(endParent)
	}
	sl.timer.Stop()
	abandon := false
	if !woke {
		// Count the function as running abandoned before the goroutine can see that it
		// is: it counts itself down when it returns, and until this call has left the
		// gate, inFlight must not read the two as finished.
		e.abandonedLive.Add(1)
		if abandon = r.state.CompareAndSwap(running, gaveUp); !abandon {
			e.abandonedLive.Add(-1)
			<-sl.wake // the goroutine finished as the deadline came: take its signal
		}
	}
	// The goroutine sends on wake only when it finished first, and that send has been
	// received: the slot is free for the next call either way.
	e.slots.Put(sl)
	if abandon {
		// The function has not returned: give up on it. r.inner belongs to the goroutine
		// still running; the attempts it started are read from the shared count.
		e.abandoned.Add(1)
		c.attempts = int(started.Load())
		if r.ctx.expired() {
			return v, c.timedOut(s)
		}
		return v, cancelled(c, ctx, nil)
	}
	expired := r.ctx.expired()
	r.ctx.end(endCanceled)
	c.attempts = r.inner.attempts // the copy started from c.attempts
	if !r.returned {
		return v, c.goexitErr()
	}
	if expired && r.err != nil {
		return r.v, c.timedOut(s)
	}
	return r.v, r.err
}

var errGoexit = errors.New("the function called runtime.Goexit")

// timeoutSlot is what a Timeout stage needs from one call to the next: its wake channel
// and its timer. The engine recycles slots, so a timeout allocates neither.
type timeoutSlot struct {
	wake  chan struct{} // cap 1
	timer *time.Timer
}

// timeoutSlot returns a free slot whose timer fires d from now.
func (e *Engine) timeoutSlot(d time.Duration) *timeoutSlot {
	if sl, _ := e.slots.Get().(*timeoutSlot); sl != nil {
		sl.timer.Reset(d)
		return sl
	}
	return &timeoutSlot{wake: make(chan struct{}, 1), timer: time.NewTimer(d)}
}

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
		r.wake <- struct{}{}
	}()
	r.v, r.err = run(&r.ctx, &r.inner, rest, fn)
	r.returned = true
}

func (c *call) timedOut(s *stage) error {
	c.e.timeouts.Add(1)
	if ce := c.e.log.Check(zap.DebugLevel, "timeout"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Duration("timeout", s.timeout))
	}
	return &policy.Error{Kind: policy.ErrTimeout, Op: c.id, Attempts: c.attempts, Err: s.expired}
}

// deadlinePassed is the cause of a Timeout stage's error: the limit that passed. It
// matches policy.ErrTimeout, so the error reads "timeout 200ms" rather than "timeout:
// context deadline exceeded", and context.DeadlineExceeded.
type deadlinePassed time.Duration

func (d deadlinePassed) Error() string { return "timeout " + time.Duration(d).String() }

// Is reports whether target is policy.ErrTimeout or context.DeadlineExceeded.
func (d deadlinePassed) Is(target error) bool {
	return target == policy.ErrTimeout || target == context.DeadlineExceeded
}

// Timeout reports true, like context.DeadlineExceeded.
func (d deadlinePassed) Timeout() bool { return true }

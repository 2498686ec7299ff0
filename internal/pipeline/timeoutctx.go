package pipeline

import (
	"context"
	"sync/atomic"
	"time"
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
	after    afterSlot // registered by AfterFunc
}

var _ context.Context = (*timeoutCtx)(nil)

// Deadline is the earlier of the stage's deadline and the parent's.
func (t *timeoutCtx) Deadline() (time.Time, bool) {
	if d, ok := t.parent.Deadline(); ok && d.Before(t.deadline) {
		return d, true
	}
	return t.deadline, true
}

// Done returns a channel closed when the context ends, made on first use.
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

// Err says how the context ended: DeadlineExceeded, Canceled, or the parent's error.
func (t *timeoutCtx) Err() error {
	switch t.state.Load() {
	case endDeadline:
		return context.DeadlineExceeded
	case endCanceled:
		return context.Canceled
	}
	return t.parent.Err()
}

// Value is the parent's value for key.
func (t *timeoutCtx) Value(key any) any { return t.parent.Value(key) }

// AfterFunc arranges for f to run in a goroutine of its own once the context ends, and
// returns the function that cancels that; see afterFuncs for why the context package
// wants it.
func (t *timeoutCtx) AfterFunc(f func()) (stop func() bool) {
	return t.after.add(&t.state, f)
}

// end ends the context, once; it reports whether this call ended it.
func (t *timeoutCtx) end(how int32) bool {
	if !t.state.CompareAndSwap(live, how) {
		return false
	}
	t.closeDone()
	t.after.fire()
	return true
}

func (t *timeoutCtx) closeDone() {
	if d := t.done.Swap(closedChanPtr); d != nil && d != closedChanPtr {
		close(*d)
	}
}

func (t *timeoutCtx) expired() bool { return t.state.Load() == endDeadline }

// overdue reports whether the stage's own deadline has passed by the clock, though its
// timer may not have ended t yet, and the caller's context neither ended nor has an
// earlier deadline. A function that fails then failed because of the deadline: its
// callee may have read the deadline and acted on it first, as a gRPC client does when
// it turns the server's reset into DeadlineExceeded. Only read on a failure.
func (t *timeoutCtx) overdue() bool {
	if d, ok := t.parent.Deadline(); ok && d.Before(t.deadline) {
		return false
	}
	return t.parent.Err() == nil && !time.Now().Before(t.deadline)
}

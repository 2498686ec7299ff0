package pipeline

import (
	"context"
	"sync/atomic"
	"time"
)

// hedgeCtx is the context of one attempt of a Hedge stage: a child of the stage's
// context that ends when the parent does or when the stage cancels the attempt (it lost,
// or the stage returned), and that carries the attempt's number and hedge flag for
// AttemptFromContext without a context.WithValue. Its Done channel is made only if
// somebody asks for it; ending it allocates nothing.
type hedgeCtx struct {
	parent context.Context
	packed int // n<<1 | hedge, as withAttempt packs it
	done   atomic.Pointer[chan struct{}]
	state  atomic.Int32                // live, endCanceled
	stop   atomic.Pointer[func() bool] // unregisters the AfterFunc on the parent's end, once set
	after  afterSlot                   // registered by AfterFunc
}

var _ context.Context = (*hedgeCtx)(nil)

// init readies c as attempt n (hedge for every attempt after the primary) under parent.
func (c *hedgeCtx) init(parent context.Context, n int, hedge bool) {
	c.parent = parent
	c.packed = n << 1
	if hedge {
		c.packed |= 1
	}
}

// Deadline is the parent's.
func (c *hedgeCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done returns a channel closed when the attempt ends, made on first use. The parent's
// end reaches it through context.AfterFunc, registered then too.
func (c *hedgeCtx) Done() <-chan struct{} {
	for {
		if d := c.done.Load(); d != nil {
			return *d
		}
		if c.state.Load() != live || c.parent.Err() != nil {
			return closedChan
		}
		ch := make(chan struct{})
		if c.done.CompareAndSwap(nil, &ch) {
			if c.parent.Done() != nil {
				stop := context.AfterFunc(c.parent, func() { c.end() })
				c.stop.Store(&stop)
			}
			if c.state.Load() != live {
				c.closeDone()
			}
			return ch
		}
	}
}

// Err is Canceled once the stage cancelled the attempt, else the parent's error.
func (c *hedgeCtx) Err() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.state.Load() != live {
		return context.Canceled
	}
	return nil
}

// Value answers the attempt's number for AttemptFromContext, and the parent's values.
func (c *hedgeCtx) Value(key any) any {
	if _, ok := key.(attemptKey); ok {
		return c.packed
	}
	return c.parent.Value(key)
}

// release unregisters the callback on the parent's end, once the attempt returned.
func (c *hedgeCtx) release() {
	if stop := c.stop.Load(); stop != nil {
		(*stop)()
	}
}

// AfterFunc arranges for f to run in a goroutine of its own once the attempt ends (the
// stage cancelled it, or the parent ended), and returns the function that cancels that;
// see afterFuncs.
func (c *hedgeCtx) AfterFunc(f func()) (stop func() bool) {
	c.Done() // watches the parent, whose end ends c
	if c.parent.Err() != nil {
		c.end() // the parent had ended before anything watched it
	}
	return c.after.add(&c.state, f)
}

// end cancels the attempt, once.
func (c *hedgeCtx) end() {
	if c.state.CompareAndSwap(live, endCanceled) {
		c.closeDone()
		c.after.fire()
	}
}

func (c *hedgeCtx) closeDone() {
	if d := c.done.Swap(closedChanPtr); d != nil && d != closedChanPtr {
		close(*d)
	}
}

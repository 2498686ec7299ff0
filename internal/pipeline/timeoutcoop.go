package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// endStopped is how a cooperative timeout's context ends when Shutdown stopped the
// engine's wheel while it ran: its Err is context.Canceled.
const endStopped int32 = endParent + 1

// coopStage is a cooperative Timeout stage: the rest of the pipeline runs on the caller's
// goroutine with a context the engine's wheel ends at the deadline.
type coopStage struct{ timeoutStage }

func compileCoop(p policy.TimeoutPolicy) *coopStage {
	return &coopStage{*compileTimeout(p)}
}

// coopCtx is the context a cooperative Timeout stage hands to the rest of the pipeline:
// a timeoutCtx the wheel ends at its deadline, the stage ends when it returns, and the
// parent's end ends once somebody asked for its Done channel. A context whose Done
// channel nobody asked for, under context.Background or context.TODO, is recycled for
// a later call, so such a call allocates nothing.
type coopCtx struct {
	timeoutCtx
	// The wheel's links; list, prev and next are guarded by the lock of the list
	// they are on. home is the list add put c on, for remove.
	list       *wheelList
	prev, next *coopCtx
	home       *wheelList
	tick       int64  // the deadline's tick
	stripe     uint32 // which stripe of a bucket c goes on: spreads concurrent calls
	// asked is set once Done was called: the channel may be held past the call, so c
	// is not recycled.
	asked atomic.Bool
	// stopWatch stops the context.AfterFunc that ends c with its parent; set by the
	// first Done when the parent has a Done channel. Guarded by watchMu.
	watchMu   sync.Mutex
	stopWatch func() bool
}

var _ context.Context = (*coopCtx)(nil)

// Done returns a channel closed when the context ends. The first call under a parent
// that can end watches the parent with one context.AfterFunc.
func (c *coopCtx) Done() <-chan struct{} {
	ch := c.timeoutCtx.Done()
	if !c.asked.Load() && c.asked.CompareAndSwap(false, true) && c.state.Load() == live && c.parent.Done() != nil {
		c.watchMu.Lock()
		c.stopWatch = context.AfterFunc(c.parent, func() { c.end(endParent) })
		c.watchMu.Unlock()
	}
	return ch
}

// AfterFunc is timeoutCtx's, with the parent watched as Done does it (which also keeps c
// from being recycled while a registration may be held).
func (c *coopCtx) AfterFunc(f func()) (stop func() bool) {
	c.Done()
	return c.timeoutCtx.AfterFunc(f)
}

// Err says how the context ended: DeadlineExceeded at the deadline, Canceled when the
// stage returned or Shutdown stopped the wheel, else the parent's error.
func (c *coopCtx) Err() error {
	if c.state.Load() == endStopped {
		return context.Canceled
	}
	return c.timeoutCtx.Err()
}

// openCoop returns a live cooperative context under parent that the wheel ends d from
// now.
func (env *Env) openCoop(parent context.Context, d time.Duration) *coopCtx {
	c, _ := env.coops.Get().(*coopCtx)
	if c == nil {
		c = &coopCtx{stripe: env.wheel.stripe.Add(1) % wheelStripes}
	}
	c.parent = parent
	c.deadline = time.Now().Add(d)
	env.wheel.add(c)
	return c
}

// closeCoop ends c when its stage returns and says how it had ended before: live, or
// endDeadline, endParent or endStopped. It recycles c when nobody can hold it.
func (env *Env) closeCoop(c *coopCtx) int32 {
	env.wheel.remove(c)
	how := c.state.Load()
	c.end(endCanceled)
	if !c.asked.Load() {
		if c.parent == context.Background() || c.parent == context.TODO() {
			c.parent, c.home = nil, nil
			c.done.Store(nil)
			c.state.Store(live)
			env.coops.Put(c)
		}
		return how
	}
	c.watchMu.Lock()
	if c.stopWatch != nil {
		c.stopWatch()
	}
	c.watchMu.Unlock()
	return how
}

// runCoop runs the rest of the pipeline on the caller's goroutine under a context that
// ends s.timeout from now, and returns when the function returns: ErrTimeout if the
// deadline passed and it failed (also when the wheel had not yet ended its context),
// its result otherwise (a success after the deadline stands).
func runCoop[T any](ctx context.Context, c *Call, s *coopStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	env := c.env
	tc := env.openCoop(ctx, s.timeout)
	returned := false
	defer func() {
		if !returned { // runtime.Goexit in fn: unregister on the way out
			env.closeCoop(tc)
		}
	}()
	v, err = run(tc, c, rest, fn)
	returned = true
	late := err != nil && tc.overdue() // read before closeCoop may recycle tc
	how := env.closeCoop(tc)
	if err != nil {
		switch {
		case how == endDeadline, how == live && late:
			return v, c.timedOut(&s.timeoutStage)
		case how == endStopped:
			if c.caller.Err() == nil { // else it is the caller's cancellation
				return v, c.shutDown(err)
			}
		}
	}
	return v, err
}

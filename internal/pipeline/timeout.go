package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// timeoutStage ends each run of the rest of the pipeline after timeout.
type timeoutStage struct {
	timeout time.Duration
	expired error // the cause of this stage's errors, made once: deadlinePassed
}

func (*timeoutStage) isStage() {}

func compileTimeout(p policy.TimeoutPolicy) *timeoutStage {
	return &timeoutStage{timeout: p.Duration, expired: deadlinePassed(p.Duration)}
}

// timeoutRun is one Timeout stage in progress: the rest of the pipeline runs on its own
// goroutine, and the caller waits for it, the deadline, or the caller's context.
type timeoutRun[T any] struct {
	ctx      timeoutCtx
	wake     chan struct{} // cap 1: the goroutine finished
	state    atomic.Int32  // running, finished, gaveUp
	returned bool          // run returned (false when fn called runtime.Goexit); beside state, in its padding
	v        T
	err      error
	inner    Call         // the goroutine's copy of the call
	started  atomic.Int64 // the call's attempts started, when this is its outermost Timeout stage
	orphan   *orphan      // the permits of outer bulkheads, when the stage gave up
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
func runTimeout[T any](ctx context.Context, c *Call, s *timeoutStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	env := c.env
	sl := env.timeoutSlot(s.timeout)
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
	go r.work(env, rest, fn)

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
		env.Counters.AbandonedLive.Add(1)
		r.orphan = &orphan{prev: c.orphan, out: env.Outbox}
		if abandon = r.state.CompareAndSwap(running, gaveUp); !abandon {
			env.Counters.AbandonedLive.Add(-1)
			<-sl.wake // the goroutine finished as the deadline came: take its signal
		}
	}
	// The goroutine sends on wake only when it finished first, and that send has been
	// received: the slot is free for the next call either way.
	env.slots.Put(sl)
	if abandon {
		// The function has not returned: give up on it. r.inner belongs to the goroutine
		// still running; the attempts it started are read from the shared count.
		env.Counters.Abandoned.Add(1)
		c.orphan = r.orphan
		c.attempts = int(started.Load())
		if r.ctx.expired() {
			return v, c.timedOut(s)
		}
		return v, cancelled(c, ctx, nil)
	}
	expired := r.ctx.expired()
	r.ctx.end(endCanceled)
	c.attempts = r.inner.attempts // the copy started from c.attempts
	c.notified = r.inner.notified
	if !r.returned {
		return v, c.GoexitErr()
	}
	if r.err != nil && (expired || r.ctx.overdue()) {
		return r.v, c.timedOut(s)
	}
	return r.v, r.err
}

// timeoutSlot is what a Timeout stage needs from one call to the next: its wake channel
// and its timer. The engine recycles slots, so a timeout allocates neither.
type timeoutSlot struct {
	wake  chan struct{} // cap 1
	timer *time.Timer
}

// timeoutSlot returns a free slot whose timer fires d from now.
func (env *Env) timeoutSlot(d time.Duration) *timeoutSlot {
	if sl, _ := env.slots.Get().(*timeoutSlot); sl != nil {
		sl.timer.Reset(d)
		return sl
	}
	return &timeoutSlot{wake: make(chan struct{}, 1), timer: time.NewTimer(d)}
}

// work runs on the stage's goroutine.
func (r *timeoutRun[T]) work(env *Env, rest []stage, fn func(context.Context) (T, error)) {
	defer func() {
		// Also reached through runtime.Goexit in fn.
		if !r.state.CompareAndSwap(running, finished) {
			r.orphan.finish()
			env.Counters.AbandonedLive.Add(-1)
			env.WakeDrain()
			return
		}
		r.wake <- struct{}{}
	}()
	r.v, r.err = run(&r.ctx, &r.inner, rest, fn)
	r.returned = true
}

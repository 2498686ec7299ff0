package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// maxHedgeAttempts bounds the attempts of one Hedge stage: the primary and its hedges.
const maxHedgeAttempts = policy.MaxHedges + 1

// hedgeStage runs the rest of the pipeline as a primary attempt and up to total-1
// hedges, each on its own goroutine with its own context, and returns the first result
// it accepts without waiting for the others.
type hedgeStage struct {
	delay      time.Duration
	total      int        // attempts in all, the primary included
	budget     *budgetRef // each hedge withdraws from it; nil: none
	classifier *classifier
}

func (*hedgeStage) isStage() {}

func compileHedge(env *Env, p policy.HedgePolicy) (*hedgeStage, error) {
	cl, err := env.Classifiers.lookup(p.Classifier)
	if err != nil {
		return nil, err
	}
	return &hedgeStage{delay: p.Delay, total: 1 + p.EffectiveMaxHedges(), budget: newBudgetRef(p.Budget), classifier: cl}, nil
}

// hedgeSlot is what a Hedge stage needs from one call to the next: the channel its
// attempts report on and its timer. The engine recycles slots, so the fast path (the
// primary answers before the delay) allocates neither.
type hedgeSlot struct {
	wake  chan int // cap maxHedgeAttempts: each attempt that finished sends its index once
	timer *time.Timer
}

// hedgeSlot returns a free slot with its timer stopped.
func (env *Env) hedgeSlot() *hedgeSlot {
	if sl, _ := env.hedgeSlots.Get().(*hedgeSlot); sl != nil {
		return sl
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &hedgeSlot{wake: make(chan int, maxHedgeAttempts), timer: t}
}

// hedgeAttempt is one attempt in progress: the rest of the pipeline runs on its own
// goroutine with its own context and its own copy of the call.
type hedgeAttempt[T any] struct {
	ctx      hedgeCtx
	inner    Call
	v        T
	err      error
	returned bool         // run returned (false when fn called runtime.Goexit)
	state    atomic.Int32 // running, finished, gaveUp (as a Timeout stage's)
	start    time.Time    // when it started, with an Observer
	mark     uint32       // the call's notified count when it started
}

// hedgeRun is one Hedge stage in progress. The primary attempt is held inline; hedges
// are allocated when they start, off the fast path.
type hedgeRun[T any] struct {
	wake     chan int
	first    hedgeAttempt[T]
	more     [maxHedgeAttempts - 1]*hedgeAttempt[T]
	started  int
	received uint16 // bit i: attempt i's report was taken off wake
	base     int    // the call's attempts before the stage
}

func (r *hedgeRun[T]) attempt(i int) *hedgeAttempt[T] {
	if i == 0 {
		return &r.first
	}
	return r.more[i-1]
}

// start starts attempt r.started under ctx.
func (r *hedgeRun[T]) start(ctx context.Context, c *Call, rest []stage, fn func(context.Context) (T, error)) {
	i := r.started
	a := &r.first
	if i > 0 {
		a = new(hedgeAttempt[T])
		r.more[i-1] = a
		c.env.Counters.HedgesStarted.Add(1)
	}
	r.started++
	a.ctx.init(ctx, i+1, i > 0)
	a.inner = *c
	a.inner.detached = true
	if c.observed() {
		a.start, a.mark = time.Now(), c.notified
	}
	go a.work(c.env, r.wake, i, rest, fn)
}

// work runs on the attempt's goroutine.
func (a *hedgeAttempt[T]) work(env *Env, wake chan<- int, i int, rest []stage, fn func(context.Context) (T, error)) {
	defer func() {
		// Also reached through runtime.Goexit in fn.
		a.ctx.release()
		if !a.state.CompareAndSwap(running, finished) {
			// The stage returned without this attempt: its late value is discarded
			// (the HTTP integration closes its body), and it no longer keeps Shutdown
			// waiting.
			if a.returned {
				discard(&a.inner, &a.ctx, a.v)
			}
			env.Counters.AbandonedLive.Add(-1)
			env.WakeDrain()
			return
		}
		wake <- i
	}()
	a.v, a.err = run(&a.ctx, &a.inner, rest, fn)
	a.returned = true
}

// runHedge starts the primary attempt at once and a hedge each delay after the previous
// start (all at once for delay 0), or at once when an attempt failed retryably. The first
// result it accepts — a success, a non-retryable failure, a classifier's Abort — is
// returned at once and the other attempts' contexts end; an attempt still running is
// counted as abandoned until it returns, and its value then goes to the discard hook.
// When every attempt failed retryably the error matches ErrRetryExhausted (or
// ErrBudgetExhausted, when the budget refused a hedge) and the last failure's error.
// The caller's context ending returns ErrCancelled at once.
func runHedge[T any](ctx context.Context, c *Call, s *hedgeStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	env := c.env
	sl := env.hedgeSlot()
	r := &hedgeRun[T]{wake: sl.wake, base: c.attempts}
	r.start(ctx, c, rest, fn)
	var timer <-chan time.Time
	refused := false // the budget refused a hedge: no more start
	next := func(last error) {
		if r.started >= s.total || refused {
			return
		}
		if s.budget != nil {
			if berr := c.withdraw(ctx, s.budget, last); berr != nil {
				// HG-6: no more hedges; the attempts running go on (FS #141).
				refused = true
				if ce := env.Log.Check(zap.DebugLevel, "hedge not started"); ce != nil {
					ce.Write(zap.String("op", c.id), zap.Int("attempt", r.started+1), zap.Error(berr))
				}
				return
			}
		}
		if env.Stopped() {
			refused = true
			return
		}
		r.start(ctx, c, rest, fn)
	}
	if s.delay == 0 {
		for r.started < s.total && !refused {
			next(nil)
		}
	} else {
		sl.timer.Reset(s.delay)
		timer = sl.timer.C
	}

	var last error
	lastIdx := -1
	for {
		select {
		case i := <-r.wake:
			r.received |= 1 << i
			a := r.attempt(i)
			if !a.returned {
				a.err = a.inner.GoexitErr()
			}
			accept, verdict := s.accepts(c, a.v, a.err)
			if c.observed() && a.inner.notified == a.mark {
				// No stage inside the attempt reported it: the hedge does, on the
				// caller's goroutine, and an enclosing retry does not again.
				c.notifyAttempt(&a.ctx, i+1, i > 0, time.Since(a.start), a.err, verdict)
				c.notified++
			}
			if accept {
				if a.err == nil {
					if i == 0 {
						env.Counters.HedgeWinsPrimary.Add(1)
					} else {
						env.Counters.HedgeWinsHedge.Add(1)
					}
				}
				r.finish(ctx, c, sl, i, lastIdx)
				return a.v, a.err
			}
			if lastIdx >= 0 {
				prev := r.attempt(lastIdx)
				discard(c, ctx, prev.v)
			}
			last, lastIdx = a.err, i
			if r.started < s.total && !refused {
				next(last)
				if r.started < s.total && !refused && s.delay > 0 {
					sl.timer.Reset(s.delay) // the schedule goes on from this start
					timer = sl.timer.C
				}
			}
			if r.running() == 0 {
				r.finish(ctx, c, sl, lastIdx, -1)
				kind := policy.ErrRetryExhausted
				if refused {
					kind = policy.ErrBudgetExhausted
				}
				return r.attempt(lastIdx).v, &policy.Error{Kind: kind, Op: c.id, Attempts: c.attempts, Err: last}
			}
		case <-timer:
			timer = nil
			next(last)
			if r.started < s.total && !refused {
				sl.timer.Reset(s.delay)
				timer = sl.timer.C
			}
		case <-ctx.Done():
			r.finish(ctx, c, sl, -1, lastIdx)
			return v, cancelled(c, ctx, nil)
		}
	}
}

// running returns how many started attempts have not reported yet.
func (r *hedgeRun[T]) running() int {
	n := 0
	for i := range r.started {
		if r.received&(1<<i) == 0 {
			n++
		}
	}
	return n
}

// finish ends every attempt's context and gives up on those still running (counted as
// abandoned), discards the values of the others except keep's, sets the call's attempts
// and recycles the slot. drop, when ≥ 0, is a reported failure whose value is discarded.
func (r *hedgeRun[T]) finish(ctx context.Context, c *Call, sl *hedgeSlot, keep, drop int) {
	env := c.env
	sl.timer.Stop()
	attempts := r.base
	pending := 0
	for i := range r.started {
		a := r.attempt(i)
		a.ctx.end()
		if r.received&(1<<i) == 0 {
			env.Counters.AbandonedLive.Add(1)
			if a.state.CompareAndSwap(running, gaveUp) {
				env.Counters.Abandoned.Add(1)
				attempts++ // it started; how many its inner stages ran is its own
				continue
			}
			// It finished as the stage returned: take its report, below.
			env.Counters.AbandonedLive.Add(-1)
			pending++
			if a.returned {
				discard(c, ctx, a.v)
			}
		} else if i == drop && i != keep {
			discard(c, ctx, a.v)
		}
		attempts += a.inner.attempts - r.base
	}
	for range pending {
		<-sl.wake
	}
	c.attempts = attempts
	env.hedgeSlots.Put(sl)
}

// accepts reports whether the stage returns (v, err), an attempt's outcome, at once: a
// success, a non-retryable failure or an Abort, judged by the precedence every stage
// uses (DESIGN.md, "Outcome classification"); false means it failed retryably and the
// next attempt may start.
func (s *hedgeStage) accepts(c *Call, v any, err error) (bool, policy.Verdict) {
	if err != nil {
		e := lastAttempt(err)
		if s.classifier == nil || c.neutral(e) {
			return !policy.IsRetryable(err), c.defaultVerdict(err)
		}
	} else if s.classifier == nil {
		return true, policy.Success
	}
	verdict := c.verdictOf(s.classifier, v, err)
	switch verdict {
	case policy.Success, policy.Ignore, policy.Abort:
		return true, verdict
	}
	return err != nil && !policy.IsRetryable(err), verdict
}

package pipeline

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// bulkheadStage holds a permit of a named bulkhead while the rest of the pipeline runs.
type bulkheadStage struct {
	policy policy.BulkheadPolicy
	cached atomic.Pointer[actors.BulkheadLink] // the resolved actor of a named bulkhead
}

func (*bulkheadStage) isStage() {}

func compileBulkhead(p policy.BulkheadPolicy) *bulkheadStage {
	return &bulkheadStage{policy: p}
}

// link resolves the bulkhead for c, from the stage's cache when the policy names it.
func (s *bulkheadStage) link(c *Call) (*actors.BulkheadLink, error) {
	if l := s.cached.Load(); l != nil && !l.Retired() { // set only when the policy names it
		return l, nil
	}
	return resolveLink(c, c.env.Registry.Bulkheads, &s.cached, s.policy.Name != "", c.key(s.policy.Name), s.policy)
}

// runBulkhead takes a permit before the rest of the pipeline — from the shared counter
// (one compare-and-swap) while one is free, else from the actor, which refuses, grants
// or queues the caller — and gives it back when the function really returned: when a
// Timeout inside gave up on a function that still runs, the permit goes back when that
// function returns (see orphan).
func runBulkhead[T any](ctx context.Context, c *Call, s *bulkheadStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := c.acquirePermit(ctx, permitSource{bulkhead: s}, "bulkhead")
	if err != nil {
		return v, err
	}
	prev := c.orphan
	c.orphan = nil
	defer c.releasePermit(l, prev)
	return run(ctx, c, rest, fn)
}

// permitSource is the stage that holds a permit of a bulkhead link while the rest of
// the pipeline runs: a bulkhead or an adaptive limit, exactly one set. It is a struct,
// not an interface, so that the calls through it are static and the Call does not
// escape.
type permitSource struct {
	bulkhead *bulkheadStage
	adaptive *adaptiveStage
}

// link resolves the source's bulkhead link for c.
func (s permitSource) link(c *Call) (*actors.BulkheadLink, error) {
	if s.adaptive != nil {
		return s.adaptive.permitLink(c)
	}
	return s.bulkhead.link(c)
}

// acquirePermit takes a permit of s's link for c: from the shared counter (one
// compare-and-swap) while one is free, else from the actor, which refuses, grants or
// queues the caller. A refusal is told to the observer as a rejection by kind.
func (c *Call) acquirePermit(ctx context.Context, s permitSource, kind string) (*actors.BulkheadLink, error) {
	l, err := s.link(c)
	if err != nil {
		return nil, err
	}
	if l.TryAcquire() {
		return l, nil
	}
	name := l.Name()
	if l, err = c.takePermit(ctx, s, l); err != nil {
		if c.observed() && isRejection(err) {
			c.notifyRejected(ctx, kind, name, err)
		}
		return nil, err
	}
	return l, nil
}

// releasePermit gives back the permit of l once the rest of the pipeline returned (or
// unwound through runtime.Goexit), and restores the orphan of the stages outside.
func (c *Call) releasePermit(l *actors.BulkheadLink, prev *orphan) {
	o := c.orphan
	c.orphan = prev
	if o != nil {
		o.hold(l)
		return
	}
	l.Release(c.env.Outbox)
}

// takePermit is the bulkhead's slow path: no permit was free, or callers wait for one.
func (c *Call) takePermit(ctx context.Context, s permitSource, l *actors.BulkheadLink) (_ *actors.BulkheadLink, err error) {
	env := c.env
	for range 3 {
		if l.Retired() {
			if l, err = s.link(c); err != nil {
				return nil, err
			}
			if l.TryAcquire() {
				return l, nil
			}
			continue
		}
		if l.TryRefuse(env.Outbox) {
			return nil, c.concurrencyLimited(l)
		}
		if err := c.overloaded(l.MailboxDepth()); err != nil {
			return nil, err
		}
		deadline, _ := ctx.Deadline()
		ans, err := env.Inbox.Ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
			return &messages.Acquire{Ticket: t, Critical: c.critical, Deadline: deadline}
		}, inbox.UndoToken)
		if err != nil {
			if err == inbox.Stopped {
				continue
			}
			return nil, c.noAnswer(ctx, err)
		}
		switch a := ans.(type) {
		case *messages.Granted:
			if ctx.Err() != nil {
				// Granted just as the caller gave up: the permit goes to the next waiter.
				l.Release(env.Outbox)
				return nil, cancelled(c, ctx, nil)
			}
			return l, nil
		case *messages.Rejected:
			switch {
			case a.Reason == messages.ConcurrencyLimited:
				return nil, c.concurrencyLimited(l)
			case a.Reason == messages.Stopping && !env.Closed():
				continue // passivated meanwhile: look the name up again
			}
			return nil, c.rejected(a)
		}
	}
	return nil, c.keepsStopping("bulkhead", l.Name())
}

// concurrencyLimited is the error of a call the bulkhead l refused; it counts a
// concurrency-limit hit.
func (c *Call) concurrencyLimited(l *actors.BulkheadLink) error {
	c.env.Counters.ConcurrencyLimitHits.Add(1)
	if ce := c.env.Log.Check(zap.DebugLevel, "concurrency limited"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.String("bulkhead", l.Name()))
	}
	return &policy.Error{Kind: policy.ErrConcurrencyLimited, Op: c.id, Attempts: c.attempts}
}

// orphan is a function a Timeout stage gave up on while it still runs. The bulkhead
// stages outside that Timeout hand it their permits (hold), and it gives them back
// when the function returns (finish): a bulkhead counts the work that really runs.
// When the same call abandoned an earlier function too (a Retry between the bulkhead
// and the Timeout), prev is that one: a permit waits for both. The Timeout stage makes
// it, before it tries to give up, with prev the call's orphan until then and out the
// engine's Outbox.
type orphan struct {
	mu   sync.Mutex
	done bool                   // the function returned
	held []*actors.BulkheadLink // permits to give back then
	prev *orphan
	out  actors.Teller
}

// hold gives l's permit back when the function returns, at once if it has.
func (o *orphan) hold(l *actors.BulkheadLink) {
	o.mu.Lock()
	if !o.done {
		o.held = append(o.held, l)
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	o.pass(l)
}

// finish is called by the Timeout stage's goroutine when the abandoned function
// returned.
func (o *orphan) finish() {
	o.mu.Lock()
	o.done = true
	held := o.held
	o.held = nil
	o.mu.Unlock()
	for _, l := range held {
		o.pass(l)
	}
}

// pass gives l's permit back, or to the earlier abandoned function still running.
func (o *orphan) pass(l *actors.BulkheadLink) {
	if o.prev != nil {
		o.prev.hold(l)
		return
	}
	l.Release(o.out)
}

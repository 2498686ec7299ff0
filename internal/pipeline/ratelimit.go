package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// limiterStage takes a token of a named rate limiter before the rest of the pipeline.
type limiterStage struct {
	policy policy.RateLimitPolicy
	cached atomic.Pointer[actors.LimiterLink] // the resolved actor of a named limiter
}

func (*limiterStage) isStage() {}

func compileLimiter(p policy.RateLimitPolicy) *limiterStage {
	return &limiterStage{policy: p}
}

// link resolves the limiter for c, from the stage's cache when the policy names it.
func (s *limiterStage) link(c *Call) (*actors.LimiterLink, error) {
	if l := s.cached.Load(); l != nil && !l.View().Retired { // set only when the policy names it
		return l, nil
	}
	return resolveLink(c, c.env.Registry.Limiters, &s.cached, s.policy.Name != "", c.key(s.policy.Name), s.policy)
}

// runLimiter takes a token before the rest of the pipeline: from the pool the actor
// hands out (one atomic operation), else from the actor, which refuses, grants or, in
// wait mode, queues the caller.
func runLimiter[T any](ctx context.Context, c *Call, s *limiterStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := s.link(c)
	if err != nil {
		return v, err
	}
	if !l.TryTake() {
		if err := c.acquire(ctx, s, l); err != nil {
			if c.observed() && isRejection(err) {
				c.notifyRejected(ctx, "limiter", l.Name(), err)
			}
			return v, err
		}
	}
	return run(ctx, c, rest, fn)
}

// acquire is the limiter's slow path: the pool was empty.
func (c *Call) acquire(ctx context.Context, s *limiterStage, l *actors.LimiterLink) (err error) {
	env := c.env
	for range 3 {
		view := l.View()
		if view.Retired {
			if l, err = s.link(c); err != nil {
				return err
			}
			if l.TryTake() {
				return nil
			}
			continue
		}
		if !view.Wait {
			if wait := time.Until(view.NextToken); wait > 0 {
				l.Refused()
				if ce := env.Log.Check(zap.DebugLevel, "rate limited"); ce != nil {
					ce.Write(zap.String("op", c.id), zap.String("limiter", l.Name()), zap.Duration("retry_after", wait))
				}
				return c.rateLimited(wait)
			}
		}
		if err := c.overloaded(l.MailboxDepth()); err != nil {
			return err
		}
		deadline, _ := ctx.Deadline()
		if c.noWait {
			deadline = time.Now() // any wait would end after it: refused, behind the queue
		}
		ans, err := env.Inbox.Ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
			return &messages.Acquire{Ticket: t, Critical: c.critical, Deadline: deadline}
		}, inbox.UndoToken)
		if err != nil {
			if err == inbox.Stopped {
				continue
			}
			return c.noAnswer(ctx, err)
		}
		switch a := ans.(type) {
		case *messages.Granted:
			if ctx.Err() != nil {
				// Granted just as the caller gave up: the token goes back.
				env.Outbox.Tell(l.PID(), &messages.Refund{GrantedAt: a.At}, nil)
				return cancelled(c, ctx, nil)
			}
			return nil
		case *messages.Rejected:
			return c.rejected(a)
		}
	}
	return c.keepsStopping("limiter", l.Name())
}

package supervisor

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// key returns the actor name for a breaker or limiter: its policy's Name, else the
// operation's ID, else "default".
func (c *call) key(name string) string {
	switch {
	case name != "":
		return name
	case c.id != "":
		return c.id
	}
	c.e.warnOnce("default-name", "a breaker or limiter has no name and the operation no ID: unrelated call sites share the name \"default\"")
	return "default"
}

// breakerLink resolves the breaker for s, from the stage's cache when the policy names it.
func (c *call) breakerLink(s *stage) (*actors.BreakerLink, error) {
	if s.breaker.Name != "" {
		if l := s.breakerLink.Load(); l != nil && !l.View().Retired {
			return l, nil
		}
	}
	l, err := c.e.breaker(c.ctx, c, c.key(s.breaker.Name), s.breaker, false)
	if err == nil && s.breaker.Name != "" {
		s.breakerLink.Store(l)
	}
	return l, err
}

func (c *call) limiterLink(s *stage) (*actors.LimiterLink, error) {
	if s.limiter.Name != "" {
		if l := s.limiterLink.Load(); l != nil && !l.View().Retired {
			return l, nil
		}
	}
	l, err := c.e.limiter(c.ctx, c, c.key(s.limiter.Name), s.limiter, false)
	if err == nil && s.limiter.Name != "" {
		s.limiterLink.Store(l)
	}
	return l, err
}

// runBreaker asks the breaker before the rest of the pipeline and tells it the outcome.
// On the closed path it only reads the published view and, on success, adds to a
// counter; a failure is reported and acknowledged before the call returns, so a single
// sequential caller sees the breaker open exactly after FailureThreshold failures. The
// call is counted in flight on the breaker's link (Enter, then Succeeded or Exit), so
// the breaker is not passivated under it; a function that leaves by runtime.Goexit is
// reported as a failure and ended by reportExit.
func runBreaker[T any](ctx context.Context, c *call, s *stage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := c.breakerLink(s)
	if err != nil {
		return v, err
	}
	if view := l.Enter(); view.Pass {
		defer c.reportExit(ctx, l, view.Generation, false)
		v, err = run(ctx, c, rest, fn)
		if err == nil {
			l.Succeeded()
			return v, nil
		}
		if c.outcome(err) == messages.Failure {
			c.report(ctx, l, view.Generation, messages.Failure, false)
		}
		l.Exit()
		return v, err
	}
	gen, probe, l, err := c.admit(ctx, s, l)
	if err != nil {
		return v, err
	}
	return runAdmitted(ctx, c, l, gen, probe, rest, fn)
}

// runAdmitted runs the rest of the pipeline for a call the breaker's actor admitted in
// generation gen (a half-open probe when probe is set), reports its outcome and ends it
// on the link, also when the function leaves by runtime.Goexit.
func runAdmitted[T any](ctx context.Context, c *call, l *actors.BreakerLink, gen uint64, probe bool, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	defer c.reportExit(ctx, l, gen, probe)
	v, err = run(ctx, c, rest, fn)
	switch outcome := c.outcome(err); {
	case probe:
		c.report(ctx, l, gen, outcome, true)
	case outcome == messages.Success:
		l.Succeeded()
		return v, err
	case outcome == messages.Failure:
		c.report(ctx, l, gen, messages.Failure, false)
	}
	l.Exit()
	return v, err
}

// admit is the breaker's slow path: the view says open, half-open or retired. The call
// entered l; admit returns the link that decided, which differs from l when l was
// retired, with the call entered on it, or an error with the call ended.
func (c *call) admit(ctx context.Context, s *stage, l *actors.BreakerLink) (gen uint64, probe bool, _ *actors.BreakerLink, err error) {
	e := c.e
	for range 3 {
		view := l.View()
		if view.Retired {
			l.Exit()
			if l, err = c.breakerLink(s); err != nil {
				return 0, false, l, err
			}
			if view = l.Enter(); view.Pass {
				return view.Generation, false, l, nil
			}
		}
		if view.State == messages.Open {
			if wait := time.Until(view.OpenUntil); wait > 0 {
				l.Exit()
				l.Refused()
				c.logCircuitOpen(l.Name(), wait)
				return 0, false, l, &policy.Error{Kind: policy.ErrCircuitOpen, Op: c.id, Attempts: c.attempts, After: wait}
			}
		}
		if err := e.overloaded(c, l.MailboxDepth()); err != nil {
			l.Exit()
			return 0, false, l, err
		}
		ans, err := e.inbox.ask(ctx, l.PID(), l.Stopped(), func(t uint64) any { return &messages.Acquire{Ticket: t} }, true, false)
		if err != nil {
			if err == answerStopped {
				continue
			}
			l.Exit()
			return 0, false, l, c.noAnswer(ctx, err)
		}
		switch a := ans.(type) {
		case *messages.Granted:
			return a.Generation, a.Probe, l, nil
		case *messages.Rejected:
			l.Exit()
			if a.Reason == messages.CircuitOpen {
				c.logCircuitOpen(l.Name(), a.RetryAfter)
			}
			return 0, false, l, c.rejected(a)
		}
	}
	l.Exit()
	return 0, false, l, &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New("breaker " + l.Name() + " keeps stopping")}
}

// report tells the breaker an outcome and waits for the acknowledgement, unless the
// caller's context ends first.
//
// Past WithMailboxLimit a closed-state failure does not queue a Report of its own: it
// joins a batch that one Nudge brings to the actor, and the caller waits for the actor
// to take the batch in, as it would for its Report. The call already ran, so it keeps
// its own error: ErrOverloaded would hide the cause, and an outer breaker would count a
// real failure as neutral. The mailbox stays within the limit plus one Nudge, no failure
// is lost, and a sequential caller still sees the thresholds exactly. Probe reports are
// bounded by the probe slots and go as Reports.
func (c *call) report(ctx context.Context, l *actors.BreakerLink, gen uint64, outcome messages.Outcome, probe bool) {
	if outcome == messages.Success && !probe {
		l.Succeeded()
		return
	}
	if !probe && c.e.pastLimit(l.MailboxDepth()) {
		done, nudge := l.FailLater(gen)
		if nudge {
			c.e.tell(l.PID(), &messages.Nudge{}, nil)
		}
		if done != nil {
			select {
			case <-done:
			case <-ctx.Done():
			case <-l.Stopped():
			case <-c.e.done:
			}
		}
		return
	}
	_, _ = c.e.inbox.ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
		return &messages.Report{Ticket: t, Generation: gen, Outcome: outcome, Probe: probe}
	}, false, false)
}

// reportExit, deferred by the breaker stage, reports a failure when fn called
// runtime.Goexit instead of returning (it counts as a panic, and a probe's slot must be
// freed) and ends the call on the link, so the breaker can still be passivated.
func (c *call) reportExit(ctx context.Context, l *actors.BreakerLink, gen uint64, probe bool) {
	if c.exited {
		c.report(ctx, l, gen, messages.Failure, probe)
		l.Exit()
	}
}

// outcome classifies err for a breaker: the caller's cancellation, Permanent errors
// and rejections by other stages are neutral.
func (c *call) outcome(err error) messages.Outcome {
	switch {
	case err == nil:
		return messages.Success
	case policy.IsPermanent(err),
		c.ctx.Err() != nil && (errors.Is(err, policy.ErrCancelled) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)),
		errors.Is(err, policy.ErrRateLimited), errors.Is(err, policy.ErrCircuitOpen),
		errors.Is(err, policy.ErrOverloaded), errors.Is(err, policy.ErrShutdown):
		return messages.Neutral
	}
	return messages.Failure
}

// rejected turns an actor's refusal into the caller's error.
func (c *call) rejected(r *messages.Rejected) error {
	switch r.Reason {
	case messages.CircuitOpen:
		return &policy.Error{Kind: policy.ErrCircuitOpen, Op: c.id, Attempts: c.attempts, After: r.RetryAfter}
	case messages.RateLimited:
		c.e.rateLimitHits.Add(1)
		return &policy.Error{Kind: policy.ErrRateLimited, Op: c.id, Attempts: c.attempts, After: r.RetryAfter}
	case messages.Cancelled:
		return cancelled(c, c.ctx, nil)
	case messages.Stopping:
		if c.e.closed.Load() {
			return shutdownErr(c.id)
		}
		return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New("actor stopping")}
	}
	return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New("actor crashed while deciding; it was restarted")}
}

// noAnswer turns an abandoned ask into the caller's error.
func (c *call) noAnswer(ctx context.Context, err error) error {
	switch err {
	case answerCancelled:
		return cancelled(c, ctx, nil)
	case answerShutdown:
		return shutdownErr(c.id)
	}
	return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: err}
}

// overloaded refuses to queue behind a mailbox deeper than WithMailboxLimit.
func (e *Engine) overloaded(c *call, depth int64) error {
	if e.pastLimit(depth) {
		return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Attempts: c.attempts,
			Err: errors.New("actor mailbox is full")}
	}
	return nil
}

// pastLimit reports whether a mailbox of depth is at or past WithMailboxLimit.
func (e *Engine) pastLimit(depth int64) bool {
	limit := e.cfg.mailboxLimit
	return limit > 0 && depth >= int64(limit)
}

// runLimiter takes a token before the rest of the pipeline: from the pool the actor
// hands out (one atomic operation), else from the actor, which refuses, grants or, in
// wait mode, queues the caller.
func runLimiter[T any](ctx context.Context, c *call, s *stage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := c.limiterLink(s)
	if err != nil {
		return v, err
	}
	if !l.TryTake() {
		if err := c.acquire(ctx, s, l); err != nil {
			return v, err
		}
	}
	return run(ctx, c, rest, fn)
}

// acquire is the limiter's slow path: the pool was empty.
func (c *call) acquire(ctx context.Context, s *stage, l *actors.LimiterLink) (err error) {
	e := c.e
	for range 3 {
		view := l.View()
		if view.Retired {
			if l, err = c.limiterLink(s); err != nil {
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
				e.rateLimitHits.Add(1)
				if ce := e.log.Check(zap.DebugLevel, "rate limited"); ce != nil {
					ce.Write(zap.String("op", c.id), zap.String("limiter", l.Name()), zap.Duration("retry_after", wait))
				}
				return &policy.Error{Kind: policy.ErrRateLimited, Op: c.id, Attempts: c.attempts, After: wait}
			}
		}
		if err := e.overloaded(c, l.MailboxDepth()); err != nil {
			return err
		}
		deadline, _ := ctx.Deadline()
		ans, err := e.inbox.ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
			return &messages.Acquire{Ticket: t, Critical: c.critical, Deadline: deadline}
		}, false, true)
		if err != nil {
			if err == answerStopped {
				continue
			}
			return c.noAnswer(ctx, err)
		}
		switch a := ans.(type) {
		case *messages.Granted:
			if ctx.Err() != nil {
				// Granted just as the caller gave up: the token goes back.
				e.tell(l.PID(), &messages.Refund{GrantedAt: a.At}, nil)
				return cancelled(c, ctx, nil)
			}
			return nil
		case *messages.Rejected:
			return c.rejected(a)
		}
	}
	return &policy.Error{Kind: policy.ErrOverloaded, Op: c.id, Err: errors.New("limiter " + l.Name() + " keeps stopping")}
}

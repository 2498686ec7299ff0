package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// breakerStage asks a named circuit breaker before the rest of the pipeline and tells it
// the outcome.
type breakerStage struct {
	policy policy.CircuitBreakerPolicy
	cached atomic.Pointer[actors.BreakerLink] // the resolved actor of a named breaker
}

func (*breakerStage) isStage() {}

func compileBreaker(p policy.CircuitBreakerPolicy) *breakerStage {
	return &breakerStage{policy: p}
}

// key returns the actor name for a breaker or limiter: its policy's Name, else the
// operation's ID, else "default".
func (c *Call) key(name string) string {
	switch {
	case name != "":
		return name
	case c.id != "":
		return c.id
	}
	c.env.Warn.Once("default-name", "a breaker or limiter has no name and the operation no ID: unrelated call sites share the name \"default\"")
	return "default"
}

// link resolves the breaker for c, from the stage's cache when the policy names it.
func (s *breakerStage) link(c *Call) (*actors.BreakerLink, error) {
	name := s.policy.Name
	if name != "" {
		if l := s.cached.Load(); l != nil && !l.View().Retired {
			return l, nil
		}
	}
	l, err := c.env.Registry.Breakers.Resolve(c.caller, registry.Caller{Op: c.id, Attempts: c.attempts}, c.key(name), s.policy, false)
	if err == nil && name != "" {
		s.cached.Store(l)
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
func runBreaker[T any](ctx context.Context, c *Call, s *breakerStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := s.link(c)
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
func runAdmitted[T any](ctx context.Context, c *Call, l *actors.BreakerLink, gen uint64, probe bool, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
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
func (c *Call) admit(ctx context.Context, s *breakerStage, l *actors.BreakerLink) (gen uint64, probe bool, _ *actors.BreakerLink, err error) {
	for range 3 {
		view := l.View()
		if view.Retired {
			l.Exit()
			if l, err = s.link(c); err != nil {
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
				return 0, false, l, c.circuitOpen(wait)
			}
		}
		if err := c.overloaded(l.MailboxDepth()); err != nil {
			l.Exit()
			return 0, false, l, err
		}
		ans, err := c.env.Inbox.Ask(ctx, l.PID(), l.Stopped(), func(t uint64) any { return &messages.Acquire{Ticket: t} }, inbox.UndoProbe)
		if err != nil {
			if err == inbox.Stopped {
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
	return 0, false, l, c.keepsStopping("breaker", l.Name())
}

// logCircuitOpen logs, at Debug, a call refused by the open breaker named breaker. It
// costs one level check and no allocation when Debug is disabled.
func (c *Call) logCircuitOpen(breaker string, retryAfter time.Duration) {
	if ce := c.env.Log.Check(zap.DebugLevel, "circuit open"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.String("breaker", breaker), zap.Duration("retry_after", retryAfter))
	}
}

// report tells the breaker an outcome and waits for the acknowledgement, unless the
// caller's context ends first.
//
// Past the mailbox limit a closed-state failure does not queue a Report of its own: it
// joins a batch that one Nudge brings to the actor, and the caller waits for the actor
// to take the batch in, as it would for its Report. The call already ran, so it keeps
// its own error: ErrOverloaded would hide the cause, and an outer breaker would count a
// real failure as neutral. The mailbox stays within the limit plus one Nudge, no failure
// is lost, and a sequential caller still sees the thresholds exactly. Probe reports are
// bounded by the probe slots and go as Reports.
func (c *Call) report(ctx context.Context, l *actors.BreakerLink, gen uint64, outcome messages.Outcome, probe bool) {
	env := c.env
	if outcome == messages.Success && !probe {
		l.Succeeded()
		return
	}
	if !probe && env.pastLimit(l.MailboxDepth()) {
		done, nudge := l.FailLater(gen)
		if nudge {
			env.Outbox.Tell(l.PID(), &messages.Nudge{}, nil)
		}
		if done != nil {
			select {
			case <-done:
			case <-ctx.Done():
			case <-l.Stopped():
			case <-env.done:
			}
		}
		return
	}
	_, _ = env.Inbox.Ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
		return &messages.Report{Ticket: t, Generation: gen, Outcome: outcome, Probe: probe}
	}, inbox.UndoNothing)
}

// reportExit, deferred by the breaker stage, reports a failure when fn called
// runtime.Goexit instead of returning (it counts as a panic, and a probe's slot must be
// freed) and ends the call on the link, so the breaker can still be passivated.
func (c *Call) reportExit(ctx context.Context, l *actors.BreakerLink, gen uint64, probe bool) {
	if c.exited {
		c.report(ctx, l, gen, messages.Failure, probe)
		l.Exit()
	}
}

// outcome classifies err for a breaker: the caller's cancellation, Permanent errors
// and rejections by other stages are neutral.
func (c *Call) outcome(err error) messages.Outcome {
	switch {
	case err == nil:
		return messages.Success
	case policy.IsPermanent(err),
		c.caller.Err() != nil && (errors.Is(err, policy.ErrCancelled) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)),
		policy.IsServiceUnavailable(err):
		return messages.Neutral
	}
	return messages.Failure
}

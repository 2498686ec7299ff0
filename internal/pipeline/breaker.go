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

// breakerStage asks a named circuit breaker before the rest of the pipeline and tells it
// the outcome, judged by the policy's classifier.
type breakerStage struct {
	policy     policy.CircuitBreakerPolicy
	classifier *classifier                        // the policy's Classifier; nil: the default
	cached     atomic.Pointer[actors.BreakerLink] // the resolved actor of a named breaker
}

func (*breakerStage) isStage() {}

// compileBreaker returns the stage of p on env, or the error of a policy whose
// classifier is not registered.
func compileBreaker(env *Env, p policy.CircuitBreakerPolicy) (*breakerStage, error) {
	cl, err := env.Classifiers.lookup(p.Classifier)
	if err != nil {
		return nil, err
	}
	return &breakerStage{policy: p, classifier: cl}, nil
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
	if l := s.cached.Load(); l != nil && !l.View().Retired { // set only when the policy names it
		return l, nil
	}
	return resolveLink(c, c.env.Registry.Breakers, &s.cached, s.policy.Name != "", c.key(s.policy.Name), s.policy)
}

// runBreaker asks the breaker before the rest of the pipeline and tells it the outcome.
// On the closed path it only reads the published view and, on success, adds to a
// counter (CountSuccess); a failure, a slow call, and a success while the view says one
// could trip the breaker (CB-7) are reported and acknowledged before the call returns,
// so a single sequential caller sees every threshold exactly. With the view's SlowCall
// set the call is timed (two clock reads); otherwise no clock is read. The call is
// counted in flight on the breaker's link (Enter, then a counted success or Exit), so
// the breaker is not passivated under it; a function that leaves by runtime.Goexit is
// reported as a failure and ended by reportExit.
func runBreaker[T any](ctx context.Context, c *Call, s *breakerStage, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	l, err := s.link(c)
	if err != nil {
		return v, err
	}
	if view := l.Enter(); view.Pass {
		defer c.reportExit(ctx, l, view.Generation, false)
		if view.SlowCall > 0 || s.classifier != nil {
			return runJudged(ctx, c, s, l, view.Generation, view.SlowCall, rest, fn)
		}
		v, err = run(ctx, c, rest, fn)
		if err == nil {
			if !l.CountSuccess() {
				c.finish(ctx, l, view.Generation, messages.Success, false, nil)
			}
			return v, nil
		}
		c.finish(ctx, l, view.Generation, judge(c, nil, v, err), false, err)
		return v, err
	}
	gen, probe, l, err := c.admit(ctx, s, l)
	if err != nil {
		if c.observed() && isRejection(err) {
			c.notifyRejected(ctx, "breaker", l.Name(), err)
		}
		return v, err
	}
	return runAdmitted(ctx, c, s, l, gen, probe, rest, fn)
}

// runJudged runs the rest of the pipeline for a call admitted from a Pass view of
// generation gen when the outcome needs more than the error: timing (slowCall > 0) or
// the stage's classifier. The caller defers reportExit.
func runJudged[T any](ctx context.Context, c *Call, s *breakerStage, l *actors.BreakerLink, gen uint64, slowCall time.Duration, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	var start time.Time
	if slowCall > 0 {
		start = time.Now()
	}
	v, err = run(ctx, c, rest, fn)
	slow := slowCall > 0 && time.Since(start) > slowCall
	c.finish(ctx, l, gen, judge(c, s.classifier, v, err), slow, err)
	return v, err
}

// runAdmitted runs the rest of the pipeline for a call the breaker's actor admitted in
// generation gen (a half-open probe when probe is set), reports its outcome and ends it
// on the link, also when the function leaves by runtime.Goexit.
func runAdmitted[T any](ctx context.Context, c *Call, s *breakerStage, l *actors.BreakerLink, gen uint64, probe bool, rest []stage, fn func(context.Context) (T, error)) (v T, err error) {
	defer c.reportExit(ctx, l, gen, probe)
	slowCall := l.View().SlowCall
	var start time.Time
	if slowCall > 0 {
		start = time.Now()
	}
	v, err = run(ctx, c, rest, fn)
	slow := slowCall > 0 && time.Since(start) > slowCall
	outcome := judge(c, s.classifier, v, err)
	if !probe {
		c.finish(ctx, l, gen, outcome, slow, err)
		return v, err
	}
	// A neutral probe's Report frees its slot and gives no verdict (CB-10).
	c.report(ctx, l, gen, outcome, true, slow && outcome != messages.Neutral, retryAfter(outcome, err))
	l.Exit()
	return v, err
}

// finish tells the breaker the outcome of a call admitted outside half-open in
// generation gen, and ends the call on the link: a fast success is counted on the side
// unless the view asks for it by message; a failure, a slow call, and such a success
// are reported and acknowledged; a neutral outcome, and anything a disabled breaker
// would drop, ends the call with no report.
func (c *Call) finish(ctx context.Context, l *actors.BreakerLink, gen uint64, outcome messages.Outcome, slow bool, err error) {
	switch {
	case outcome == messages.Neutral:
	case outcome == messages.Success && !slow && l.CountSuccess():
		return // counted, and ended
	case l.View().State == messages.Disabled:
		// A disabled breaker records nothing: no report to wait for.
	case outcome == messages.Success && c.env.pastLimit(l.MailboxDepth()):
		// Past the mailbox limit a success is counted on the side, not slow, rather
		// than queue a Report of its own; a sequential caller never gets here.
		l.Succeeded()
		return
	default:
		c.report(ctx, l, gen, outcome, false, slow, retryAfter(outcome, err))
	}
	l.Exit()
}

// retryAfter is the server hint a failure carries (policy.RetryAfter), for a breaker
// under HonorRetryAfter; 0 for other outcomes.
func retryAfter(outcome messages.Outcome, err error) time.Duration {
	if outcome != messages.Failure || err == nil {
		return 0
	}
	d, _ := policy.RetryAfter(err)
	return d
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
		switch view.State {
		case messages.Open:
			if wait := time.Until(view.OpenUntil); wait > 0 {
				l.Exit()
				l.Refused()
				c.logCircuitOpen(l.Name(), wait)
				return 0, false, l, c.circuitOpen(wait)
			}
		case messages.ForcedOpen:
			// Forced open until reset (OpenUntil zero), or for a while: refused from the
			// view. Once the while is up the actor decides (it moves to half-open).
			wait := time.Duration(0)
			if !view.OpenUntil.IsZero() {
				wait = time.Until(view.OpenUntil)
			}
			if view.OpenUntil.IsZero() || wait > 0 {
				l.Exit()
				l.Refused()
				c.logCircuitOpen(l.Name(), wait)
				return 0, false, l, c.forcedOpen(wait)
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
			if a.Reason == messages.CircuitOpen || a.Reason == messages.CircuitForcedOpen {
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

// report tells the breaker an outcome (slow: the call lasted longer than the view's
// SlowCall; retryAfter: a failure's server hint) and waits for the acknowledgement,
// unless the caller's context ends first.
//
// Past the mailbox limit a closed-state failure does not queue a Report of its own: it
// joins a batch that one Nudge brings to the actor, and the caller waits for the actor
// to take the batch in, as it would for its Report. The call already ran, so it keeps
// its own error: ErrOverloaded would hide the cause, and an outer breaker would count a
// real failure as neutral. The mailbox stays within the limit plus one Nudge, no failure
// is lost (it counts as not slow), and a sequential caller still sees the thresholds
// exactly. Probe reports are bounded by the probe slots and go as Reports.
func (c *Call) report(ctx context.Context, l *actors.BreakerLink, gen uint64, outcome messages.Outcome, probe, slow bool, retryAfter time.Duration) {
	env := c.env
	if !probe && outcome == messages.Failure && env.pastLimit(l.MailboxDepth()) {
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
		return &messages.Report{Ticket: t, Generation: gen, Outcome: outcome, Probe: probe, Slow: slow, RetryAfter: retryAfter}
	}, inbox.UndoNothing)
}

// reportExit, deferred by the breaker stage, reports a failure when fn called
// runtime.Goexit instead of returning (it counts as a panic, and a probe's slot must be
// freed) and ends the call on the link, so the breaker can still be passivated.
func (c *Call) reportExit(ctx context.Context, l *actors.BreakerLink, gen uint64, probe bool) {
	if c.exited {
		c.report(ctx, l, gen, messages.Failure, probe, false, 0)
		l.Exit()
	}
}

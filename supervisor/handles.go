package supervisor

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/messages"
)

// Breaker is a handle on one named circuit breaker, for code that cannot hand the
// engine a function: a stream, a callback, a connection pool that checks health itself.
// It is gobreaker's two-step breaker over the engine's breaker actor: Allow admits a
// call exactly as a policy's breaker stage does and returns the function that records
// its outcome. Get one with Engine.Breaker; it is safe for concurrent use.
//
// A handle does not pin its breaker: an idle breaker is passivated as usual, and the
// handle's next use recreates it with the name's configuration. It stays valid across
// RegisterCircuitBreaker and the manual controls. Handle calls are not operations: they
// change the breaker's own stats and Metrics.CircuitBreakerTrips, not the engine's
// operation totals, and no Observer sees them.
type Breaker struct {
	h *pipeline.BreakerHandle
}

// Breaker returns the handle of the breaker name: one that exists (registered, created
// by the first policy that named it, or passivated since). An empty name, one that is
// not valid UTF-8, or a name no breaker has gives an error matching
// policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (e *Engine) Breaker(name string) (*Breaker, error) {
	if err := e.checkHandleName("Breaker", name); err != nil {
		return nil, err
	}
	ok, err := pipeline.LookupBreaker(e.env, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pipeline.Invalid(name, fmt.Sprintf("Breaker: no breaker is named %q (register it, or use it in a policy first)", name))
	}
	return &Breaker{h: pipeline.NewBreakerHandle(e.env, name)}, nil
}

// Allow asks the breaker to admit one call now. When it admits, run the call and then
// call done with its error (nil for a success): the outcome goes through the breaker's
// classifier, as for a call the breaker stage ran, and a call longer than the breaker's
// SlowCall counts as slow. done may be called from any goroutine; calls after the first
// do nothing. An admission whose done is never called holds nothing in the closed state;
// a half-open probe slot is freed, as a neutral outcome, when the half-open period ends
// (MaxHalfOpen) or, with no MaxHalfOpen, RecoveryTimeout after admission.
//
// A refusal is an error matching policy.ErrCircuitOpen (policy.ErrCircuitForcedOpen when
// forced open) whose After is how long until the breaker probes again. A nil ctx gives
// an error matching policy.ErrInvalidPolicy; an ended one, policy.ErrCancelled; after
// Shutdown, policy.ErrShutdown. ctx bounds only the wait for a probe permit: done's
// report does not depend on it, but a ctx that ended before done is called makes a
// context error passed to done a neutral outcome, as in the pipeline.
func (b *Breaker) Allow(ctx context.Context) (done func(err error), err error) {
	return b.h.Allow(ctx)
}

// Stats returns the breaker's stats, as Engine.Metrics().Breakers would show them; the
// zero BreakerStats (closed, nothing counted) while the breaker is passivated.
func (b *Breaker) Stats() messages.BreakerStats {
	if l := b.h.Live(); l != nil {
		return l.Stats()
	}
	return messages.BreakerStats{}
}

// Limiter is a handle on one named rate limiter, for code that takes tokens itself, as
// with x/time/rate's Allow and Wait. Get one with Engine.Limiter; it is safe for
// concurrent use. Like Breaker, it does not pin its actor, stays valid across
// passivation and RegisterRateLimiter, and its calls are not operations (a refusal
// counts in the limiter's stats, not in Metrics.RateLimitHits).
type Limiter struct {
	h *pipeline.LimiterHandle
}

// Limiter returns the handle of the limiter name: one that exists, as for Breaker.
// Errors as Breaker's.
func (e *Engine) Limiter(name string) (*Limiter, error) {
	if err := e.checkHandleName("Limiter", name); err != nil {
		return nil, err
	}
	ok, err := pipeline.LookupLimiter(e.env, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pipeline.Invalid(name, fmt.Sprintf("Limiter: no limiter is named %q (register it, or use it in a policy first)", name))
	}
	return &Limiter{h: pipeline.NewLimiterHandle(e.env, name)}, nil
}

// Allow takes one token now and reports whether it got one. It never waits, in wait
// mode either: a token it would have to wait for (behind the queue, or until the bucket
// refills) is refused. False after Shutdown.
func (l *Limiter) Allow() bool { return l.h.Allow() }

// Wait takes one token, waiting for it in the limiter's queue (first in, first out) up
// to the limiter's MaxWait or until ctx ends. A limiter without MaxWait does not queue:
// Wait then refuses at once when no token is free, as the limiter stage does. A refusal
// is an error matching policy.ErrRateLimited whose After is when a token is due; an
// ended ctx gives policy.ErrCancelled (a token granted as it ended goes back); a nil ctx,
// policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (l *Limiter) Wait(ctx context.Context) error { return l.h.Wait(ctx) }

// Stats returns the limiter's stats, as Engine.Metrics().Limiters would show them; the
// zero LimiterStats while the limiter is passivated.
func (l *Limiter) Stats() messages.LimiterStats {
	if ll := l.h.Live(); ll != nil {
		return ll.Stats()
	}
	return messages.LimiterStats{}
}

// checkHandleName is the check of a handle's name by method.
func (e *Engine) checkHandleName(method, name string) error {
	switch {
	case name == "":
		return pipeline.Invalid("", method+": name is empty")
	case !utf8.ValidString(name):
		return pipeline.Invalid("", fmt.Sprintf("%s: name %q is not valid UTF-8", method, name))
	case e.env.Closed():
		return pipeline.Shutdown(name)
	}
	return nil
}

package supervisor

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// ForceOpen forces the breaker name open by hand: every call that uses it is refused
// without running, with an error matching policy.ErrCircuitForcedOpen (and
// policy.ErrCircuitOpen), for d (its RetryAfter is the time left; then the breaker moves
// to half-open and probes as after a trip), or until ResetBreaker when d is 0. The
// manual state is sticky: RegisterCircuitBreaker keeps it, and the breaker is not
// passivated while in it. Forcing a breaker open is not a trip (CircuitBreakerTrips).
//
// name is in the breakers' namespace, as for RegisterCircuitBreaker. A name no breaker
// has yet is created in that state, configured by registry.Placeholder
// (CircuitBreaker(5, 30s)) until the first policy that names it, or a registration,
// supplies its thresholds; a passivated name comes back with its own. An empty name, one
// that is not valid UTF-8, or a negative d gives an error matching
// policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (e *Engine) ForceOpen(name string, d time.Duration) error {
	return e.setBreakerMode("ForceOpen", name, messages.ForcedOpen, d)
}

// DisableBreaker makes the breaker name admit every call and record nothing, until
// ResetBreaker (or another manual state). See ForceOpen for names and errors.
func (e *Engine) DisableBreaker(name string) error {
	return e.setBreakerMode("DisableBreaker", name, messages.Disabled, 0)
}

// MetricsOnly makes the breaker name admit every call and record outcomes as usual, but
// never open: each time its window crosses a threshold it would open on, subscribers get
// one BreakerThresholdExceeded event. Until ResetBreaker (or another manual state). See
// ForceOpen for names and errors.
func (e *Engine) MetricsOnly(name string) error {
	return e.setBreakerMode("MetricsOnly", name, messages.MetricsOnly, 0)
}

// ResetBreaker puts the breaker name back in automatic mode, closed, with its window
// cleared and its count of trips since it closed at 0. Resetting a name that has no live
// breaker does nothing (a breaker created later starts so). See ForceOpen for names and
// errors.
func (e *Engine) ResetBreaker(name string) error {
	return e.setBreakerMode("ResetBreaker", name, messages.Closed, 0)
}

// setBreakerMode validates a manual control for the breaker name and applies it: it
// creates the breaker if needed (not for a reset) and waits until its actor has set the
// mode.
func (e *Engine) setBreakerMode(method, name string, mode messages.BreakerState, d time.Duration) error {
	switch {
	case name == "":
		return pipeline.Invalid("", method+": name is empty")
	case !utf8.ValidString(name):
		return pipeline.Invalid("", fmt.Sprintf("%s: name %q is not valid UTF-8", method, name))
	case d < 0:
		return pipeline.Invalid(name, fmt.Sprintf("%s: duration must be ≥ 0, got %v", method, d))
	}
	switch mode {
	case messages.ForcedOpen:
	case messages.Closed, messages.Disabled, messages.MetricsOnly:
		if d != 0 {
			return pipeline.Invalid(name, fmt.Sprintf("%s: a duration applies to ForcedOpen only, got %v for %v", method, d, mode))
		}
	default:
		return pipeline.Invalid(name, fmt.Sprintf("%s: mode must be forced_open, disabled, metrics_only or closed (reset), got %v", method, mode))
	}
	if e.env.Closed() {
		return pipeline.Shutdown(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), askBound)
	defer cancel()
	f := e.env.Registry.Breakers
	who := registry.Caller{Op: name}
	for range 3 {
		l := f.Get(name)
		if l == nil || l.Retired() {
			if mode == messages.Closed {
				return nil // nothing to reset
			}
			var err error
			if l, err = f.Provide(ctx, who, name); err != nil {
				return err
			}
		}
		_, err := e.env.Inbox.Ask(ctx, l.PID(), l.Stopped(), func(t uint64) any {
			return &messages.SetBreakerMode{Ticket: t, Name: name, Mode: mode, For: d}
		}, inbox.UndoNothing)
		switch err {
		case nil:
			return nil
		case inbox.Stopped:
			continue // passivated under us: the name's next actor takes the mode
		case inbox.Shutdown:
			return pipeline.Shutdown(name)
		}
		return &policy.Error{Kind: policy.ErrOverloaded, Op: name, Err: fmt.Errorf("%s: breaker %q did not answer: %w", method, name, err)}
	}
	return &policy.Error{Kind: policy.ErrOverloaded, Op: name, Err: fmt.Errorf("%s: breaker %q keeps stopping", method, name)}
}

// breakerModeMessage applies an actor client's messages.SetBreakerMode and answers its
// sender, if any, with a *messages.Result whose ID is the breaker's name and whose Err
// is nil or why the mode was refused. It runs on a goroutine of its own, holding a place
// in the shutdown gate.
func (e *Engine) breakerModeMessage(m messages.SetBreakerMode, sender *actor.PID) {
	if !e.env.Enter() {
		if sender != nil {
			e.root.Send(sender, &messages.Result{ID: m.Name, Err: pipeline.Shutdown(m.Name)})
		}
		return
	}
	go func() {
		defer e.env.LeaveRefused()
		err := e.setBreakerMode("SetBreakerMode", m.Name, m.Mode, m.For)
		if sender != nil {
			e.root.Send(sender, &messages.Result{ID: m.Name, Err: err})
		}
	}()
}

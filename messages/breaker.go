package messages

import (
	"strconv"
	"time"
)

// BreakerState is the state of a circuit breaker. The zero value is Closed.
type BreakerState int

// The states of a circuit breaker.
const (
	// Closed lets every call through and counts consecutive failures.
	Closed BreakerState = iota
	// Open rejects every call with policy.ErrCircuitOpen until the recovery timeout ends.
	Open
	// HalfOpen lets a limited number of probe calls through to test the service.
	HalfOpen
	// ForcedOpen rejects every call with policy.ErrCircuitForcedOpen, set by hand until
	// reset (or for a set time).
	ForcedOpen
	// Disabled admits every call and records nothing, set by hand until reset.
	Disabled
	// MetricsOnly admits every call and records outcomes but never opens, set by hand
	// until reset.
	MetricsOnly
)

// String returns "closed", "open", "half_open", "forced_open", "disabled" or
// "metrics_only".
func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	case ForcedOpen:
		return "forced_open"
	case Disabled:
		return "disabled"
	case MetricsOnly:
		return "metrics_only"
	}
	return "BreakerState(" + strconv.Itoa(int(s)) + ")"
}

// BreakerStats is a circuit breaker's state and counters. It is the reply of a breaker
// actor to GetStats, and the value in supervisor.Metrics.Breakers. Counters count since
// the breaker actor was created and survive restarts of the actor.
type BreakerStats struct {
	// State is the breaker's current state.
	State BreakerState
	// Successes counts calls the breaker let through that succeeded.
	Successes uint64
	// Failures counts calls the breaker let through that failed and were counted against it.
	Failures uint64
	// Rejected counts calls refused with ErrCircuitOpen.
	Rejected uint64
	// Trips counts moves into Open.
	Trips uint64
	// LastChange is when the state last changed (when the actor started, if never).
	LastChange time.Time
	// Calls and SlowCalls are the calls and slow calls in the current window (windowed
	// breakers; zero in consecutive mode).
	Calls, SlowCalls uint64
	// FailureRate and SlowCallRate are failures/calls and slow calls/calls over the
	// current window (zero when it is empty or in consecutive mode).
	FailureRate, SlowCallRate float64
	// OpenUntil is when an open breaker becomes due for half-open (zero otherwise, and
	// for a breaker forced open until reset).
	OpenUntil time.Time
	// ConsecutiveTrips counts trips since the breaker last closed (the n of OpenBackoff).
	ConsecutiveTrips int
	// TotalSlowCalls counts the slow calls the breaker recorded since its actor was
	// created (windowed breakers with SlowCall set); unlike SlowCalls it never goes down.
	TotalSlowCalls uint64
	// ConsecutiveFailures is the failures in a row a breaker in consecutive mode has
	// counted towards its FailureThreshold while closed (or metrics-only); zero in window
	// modes and in the other states.
	ConsecutiveFailures int
}

// Report tells a breaker actor the outcome of a call it admitted: a probe's outcome, or
// a failure in the closed state (which may trip the breaker). With a non-zero Ticket the
// actor answers *Acked once the report is applied, so a caller that waits for the
// answer sees the new state on its next call. Reports whose Generation is older than
// the breaker's are acknowledged and dropped.
type Report struct {
	// Ticket, when not zero, asks for an *Acked.
	Ticket uint64
	// Generation is the generation the call was admitted in.
	Generation uint64
	// Outcome is the call's outcome.
	Outcome Outcome
	// Probe is true for a call admitted by a Granted half-open permit.
	Probe bool
	// Slow is true when the call lasted longer than the breaker's SlowCall.
	Slow bool
	// RetryAfter is the failure's server hint (policy.RetryAfter), for HonorRetryAfter.
	RetryAfter time.Duration
}

// SetBreakerMode sets a named breaker's manual state, from Go (Engine.ForceOpen,
// DisableBreaker, MetricsOnly, ResetBreaker) or from an actor client sent to the engine's
// PID: Mode ForcedOpen (for For, or until reset when For is 0), Disabled, MetricsOnly, or
// Closed, which resets the breaker to automatic mode, closed, its window cleared. An actor
// client gets a *Result whose Err is nil or the reason it was refused. The breaker
// actor itself answers *Acked when Ticket is set.
type SetBreakerMode struct {
	// Ticket, when not zero, asks the breaker actor for an *Acked once the mode is set
	// (the engine sets it when it forwards the message to the actor).
	Ticket uint64
	// Name is the breaker's name.
	Name string
	// Mode is the manual state to set, or Closed to reset.
	Mode BreakerState
	// For bounds a ForcedOpen state; 0 means until reset.
	For time.Duration
}

// Nudge tells a breaker actor that callers counted closed-state failures without a
// Report each, because its mailbox was past the engine's limit: the actor takes them in,
// as it does before handling any message. No answer.
type Nudge struct{}

// StateChanged is published by a breaker actor when its state changes. Not a request.
type StateChanged struct {
	// Name is the breaker's name.
	Name string
	// From and To are the old and new states.
	From, To BreakerState
	// At is when the change happened.
	At time.Time
	// Reason says why: consecutive_failures, failure_count, failure_rate,
	// slow_call_rate, probe_failed, probe_timeout, probes_succeeded, manual or
	// recovery_elapsed.
	Reason string
	// Calls, Failures and SlowCalls are the window's counts at the change.
	Calls, Failures, SlowCalls uint64
}

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
)

// String returns "closed", "open" or "half_open".
func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
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
}

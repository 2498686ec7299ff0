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

// LimiterStats is a rate limiter's bucket and counters. It is the reply of a limiter
// actor to GetStats, and the value in supervisor.Metrics.Limiters.
type LimiterStats struct {
	// Tokens is the number of tokens available now (fractional tokens included).
	Tokens float64
	// Allowed counts admitted calls.
	Allowed uint64
	// Rejected counts calls refused with ErrRateLimited.
	Rejected uint64
	// Waiting is the number of callers queued for a token (wait mode only).
	Waiting int
}

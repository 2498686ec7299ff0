package supervisor

import (
	"maps"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
)

// BreakerStats is a breaker's state and counters (see messages.BreakerStats).
type BreakerStats = messages.BreakerStats

// LimiterStats is a limiter's bucket and counters (see messages.LimiterStats).
type LimiterStats = messages.LimiterStats

// Metrics is a snapshot of the engine's counters and of every live named actor. It
// reflects every call that returned before Metrics was called.
type Metrics struct {
	// TotalOperations counts operations: calls that ran, whatever their attempts. Calls
	// refused for an invalid policy or after Shutdown are not operations.
	// TotalOperations = SuccessfulOperations + FailedOperations.
	TotalOperations uint64
	// SuccessfulOperations counts operations that returned no error.
	SuccessfulOperations uint64
	// FailedOperations counts operations that returned an error, including rejections by
	// a breaker or limiter, cancellations and panics.
	FailedOperations uint64
	// RetryAttempts counts attempts after the first.
	RetryAttempts uint64
	// CircuitBreakerTrips counts every move of a breaker into open.
	CircuitBreakerTrips uint64
	// RateLimitHits counts attempts refused by a limiter (a wait that ends admitted is
	// not a hit).
	RateLimitHits uint64
	// TimeoutCount counts attempts ended by a Timeout policy.
	TimeoutCount uint64
	// AbandonedCalls counts functions a timeout or cancellation returned from while they
	// were still running.
	AbandonedCalls uint64
	// Panics counts functions that panicked.
	Panics uint64
	// ActorRestarts counts restarts of breaker and limiter actors after a panic.
	ActorRestarts uint64
	// DroppedEvents counts events not delivered because a subscriber's buffer was full.
	DroppedEvents uint64
	// Breakers maps each live breaker's name to its stats.
	Breakers map[string]BreakerStats
	// Limiters maps each live limiter's name to its stats.
	Limiters map[string]LimiterStats
}

// Metrics returns a snapshot of the engine's counters and of every live named breaker
// and limiter. It reads published views and counters; it never waits for an actor.
func (e *Engine) Metrics() Metrics {
	ok, fail := e.succeeded.Load(), e.failed.Load()
	m := Metrics{
		TotalOperations:      ok + fail,
		SuccessfulOperations: ok,
		FailedOperations:     fail,
		RetryAttempts:        e.retries.Load(),
		CircuitBreakerTrips:  e.trips.Load(),
		RateLimitHits:        e.rateLimitHits.Load(),
		TimeoutCount:         e.timeouts.Load(),
		AbandonedCalls:       e.abandoned.Load(),
		Panics:               e.panics.Load(),
		ActorRestarts:        e.restarts.Load(),
		DroppedEvents:        e.eventsDropped.Load(),
		Breakers:             map[string]BreakerStats{},
		Limiters:             map[string]LimiterStats{},
	}
	e.breakers.Range(func(name string, l *actors.BreakerLink) bool {
		if !l.View().Retired {
			m.Breakers[name] = l.Stats()
		}
		return true
	})
	e.limiters.Range(func(name string, l *actors.LimiterLink) bool {
		if !l.View().Retired {
			m.Limiters[name] = l.Stats()
		}
		return true
	})
	return m
}

// engineStats is the supervisor's answer to messages.GetStats.
func (e *Engine) engineStats() messages.EngineStats {
	m := e.Metrics()
	return messages.EngineStats{
		TotalOperations:      m.TotalOperations,
		SuccessfulOperations: m.SuccessfulOperations,
		FailedOperations:     m.FailedOperations,
		Breakers:             maps.Clone(m.Breakers),
		Limiters:             maps.Clone(m.Limiters),
	}
}

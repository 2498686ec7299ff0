package supervisor

import (
	"github.com/bulwark-go/bulwark/internal/telemetry"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/prometheus/client_golang/prometheus"
)

// BreakerStats is a breaker's state and counters (see messages.BreakerStats).
type BreakerStats = messages.BreakerStats

// LimiterStats is a limiter's bucket and counters (see messages.LimiterStats).
type LimiterStats = messages.LimiterStats

// BulkheadStats is a bulkhead's permits, queue and counters (see messages.BulkheadStats).
type BulkheadStats = messages.BulkheadStats

// AdaptiveStats is an adaptive limit's limit, permits and sample counters (see
// messages.AdaptiveStats).
type AdaptiveStats = messages.AdaptiveStats

// BudgetStats is a retry budget's balance and counters (see messages.BudgetStats).
type BudgetStats = messages.BudgetStats

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
	// CircuitBreakerTrips counts every move of a breaker into open; forcing one open by
	// hand (ForceOpen) is not a trip.
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
	// Fallbacks counts failed outcomes a Fallback replaced (the operation counts as a
	// success when the fallback's value or function rescued it).
	Fallbacks uint64
	// Breakers maps each live breaker's name to its stats.
	Breakers map[string]BreakerStats
	// Limiters maps each live limiter's name to its stats.
	Limiters map[string]LimiterStats
	// ConcurrencyLimitHits counts attempts refused by a bulkhead or an adaptive limit
	// (ErrConcurrencyLimited).
	ConcurrencyLimitHits uint64
	// Bulkheads maps each live bulkhead's name to its stats.
	Bulkheads map[string]BulkheadStats
	// Budgets maps each live retry budget's name to its stats.
	Budgets map[string]BudgetStats
	// HedgesStarted counts hedges started by hedge policies (primary attempts are not
	// hedges).
	HedgesStarted uint64
	// AdaptiveLimits maps each live adaptive concurrency limit's name to its stats.
	AdaptiveLimits map[string]AdaptiveStats
}

// Metrics returns a snapshot of the engine's counters and of every live named breaker
// and limiter. It reads published views and counters; it never waits for an actor.
func (e *Engine) Metrics() Metrics {
	c := &e.env.Counters
	ok, fail := c.Succeeded.Load(), c.Failed.Load()
	return Metrics{
		TotalOperations:      ok + fail,
		SuccessfulOperations: ok,
		FailedOperations:     fail,
		RetryAttempts:        c.Retries.Load(),
		CircuitBreakerTrips:  c.Trips.Load(),
		RateLimitHits:        c.RateLimitHits.Load(),
		TimeoutCount:         c.Timeouts.Load(),
		AbandonedCalls:       c.Abandoned.Load(),
		Panics:               c.Panics.Load(),
		ActorRestarts:        c.Restarts.Load(),
		DroppedEvents:        c.EventsDropped.Load(),
		Fallbacks:            c.Fallbacks.Load(),
		Breakers:             e.env.Registry.Breakers.Stats(),
		Limiters:             e.env.Registry.Limiters.Stats(),
		ConcurrencyLimitHits: c.ConcurrencyLimitHits.Load(),
		Bulkheads:            e.env.Registry.Bulkheads.Stats(),
		Budgets:              e.env.Registry.Budgets.Stats(),
		HedgesStarted:        c.HedgesStarted.Load(),
		AdaptiveLimits:       e.env.Registry.AdaptiveLimits.Stats(),
	}
}

// Collector returns a prometheus.Collector that exports the engine's counters and the
// state of every live named breaker, limiter and actor. Register it on your own
// registry; the engine never touches prometheus.DefaultRegisterer and never serves
// HTTP. Each scrape reads a fresh snapshot (atomic loads of counters and of the views
// the actors publish); it never waits for an actor, so a scrape cannot stall the
// engine and a busy engine cannot stall a scrape.
//
// Per-breaker, per-limiter and per-actor series are read from the live actors at scrape
// time: an actor passivated by WithIdleTimeout, or stopped by Shutdown, drops out of the
// next scrape, and its counters start again from zero if its name is used again.
// Names are label values as they are: the engine refuses a name that is not valid UTF-8
// (policy.ErrInvalidPolicy), so every live name is a distinct, valid label value.
// The series:
//
//   - engine-wide counters: bulwark_operations_total{result="success|failure"},
//     bulwark_retry_attempts_total, bulwark_timeouts_total, bulwark_abandoned_calls_total,
//     bulwark_panics_total, bulwark_rate_limit_hits_total,
//     bulwark_circuit_breaker_trips_total, bulwark_dropped_events_total, and the gauge
//     bulwark_abandoned_calls_running; the counters equal the fields of Metrics;
//   - per breaker (label name): the gauge bulwark_breaker_state (0 closed, 1 open,
//     2 half-open, 3 forced open, 4 disabled, 5 metrics only),
//     bulwark_breaker_calls_total{outcome="success|failure|rejected"},
//     bulwark_breaker_trips_total, the gauges bulwark_breaker_failure_rate and
//     bulwark_breaker_slow_call_rate (over the current window, 0 to 1), and
//     bulwark_breaker_slow_calls_total;
//   - per limiter (label name): bulwark_limiter_admitted_total,
//     bulwark_limiter_rejected_total, and the gauges bulwark_limiter_waiting and
//     bulwark_limiter_tokens;
//   - per bulkhead (label name): the gauges bulwark_bulkhead_limit,
//     bulwark_bulkhead_in_flight and bulwark_bulkhead_queued, and
//     bulwark_bulkhead_admitted_total and bulwark_bulkhead_rejected_total; over all
//     bulkheads and adaptive limits, bulwark_concurrency_limit_hits_total;
//   - per adaptive concurrency limit (label name): the gauges bulwark_adaptive_limit
//     (the limit its algorithm published last) and bulwark_adaptive_inflight;
//   - per actor (labels kind = breaker, limiter, bulkhead or supervisor, and name): the gauge
//     bulwark_actor_mailbox_depth and bulwark_actor_restarts_total;
//   - bulwark_operation_duration_seconds, a histogram, only for an engine built with
//     WithDurationHistogram.
//
// The metric names are fixed, so two engines registered on one registry collide: wrap
// the registerer, e.g. prometheus.WrapRegistererWith(prometheus.Labels{"engine": "a"}, reg).
// The collector is safe for concurrent use and may be called after Shutdown.
func (e *Engine) Collector() prometheus.Collector {
	r := e.env.Registry
	c := telemetry.NewCollector(&e.env.Counters, e.env.Hist, r.Families(), r.Supervisor)
	if extra, ok := r.Backend().(prometheus.Collector); ok {
		return backendCollector{c, extra}
	}
	return c
}

// EventKind says what an Event reports.
type EventKind = telemetry.EventKind

// The kinds of Event.
const (
	// BreakerStateChanged: a breaker moved From one state To another.
	BreakerStateChanged = telemetry.BreakerStateChanged
	// LimiterSaturated: a limiter ran out of tokens and refuses or queues calls.
	LimiterSaturated = telemetry.LimiterSaturated
	// LimiterRecovered: a saturated limiter has tokens again.
	LimiterRecovered = telemetry.LimiterRecovered
	// BreakerThresholdExceeded: a breaker in MetricsOnly mode met a threshold it would
	// have opened on (Reason, with the window's counts); once per crossing.
	BreakerThresholdExceeded = telemetry.BreakerThresholdExceeded
	// SharedDegraded: a shared breaker or limiter (cluster mode) lost its owner and
	// runs on its fallback; Family is "breaker" or "limiter", Reason why.
	SharedDegraded = telemetry.SharedDegraded
	// SharedRestored: a degraded shared name's owner answered again.
	SharedRestored = telemetry.SharedRestored
	// OwnerMoved: a shared name's owner is another activation than before.
	OwnerMoved = telemetry.OwnerMoved
	// BulkheadSaturated: a bulkhead is full and queues or refuses calls.
	BulkheadSaturated = telemetry.BulkheadSaturated
	// BulkheadRecovered: a saturated bulkhead has a free permit and nobody waiting.
	BulkheadRecovered = telemetry.BulkheadRecovered
	// LimitChanged: a closed sampling window moved an adaptive limit from Old to New.
	LimitChanged = telemetry.LimitChanged
)

// Event is a state change of a named breaker or limiter, delivered to subscribers. Each
// kind uses only its own fields: Kind, Name and At always; From, To, Reason (why:
// consecutive_failures, failure_count, failure_rate, slow_call_rate, probe_failed,
// probe_timeout, probes_succeeded, manual, recovery_elapsed) and Calls, Failures and
// SlowCalls (the window at that moment) for BreakerStateChanged and
// BreakerThresholdExceeded. String and MarshalLogObject (for zap.Object or zap.Any) show
// just those.
type Event = telemetry.Event

// Subscribe returns a channel that receives breaker state changes, MetricsOnly
// threshold crossings and limiter saturation changes, and a cancel function that stops the subscription and closes the
// channel. Events are delivered asynchronously: the engine never waits for a subscriber,
// and an event that does not fit the buffer (buffer < 1 means 1) is dropped and counted
// in Metrics().DroppedEvents. The channel is closed at Shutdown as well.
func (e *Engine) Subscribe(buffer int) (events <-chan Event, cancel func()) {
	return e.events.Subscribe(buffer, e.env.Stopped())
}

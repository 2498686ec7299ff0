package supervisor

import (
	"github.com/bulwark-go/bulwark/actors"
	"github.com/prometheus/client_golang/prometheus"
)

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
//     2 half-open), bulwark_breaker_calls_total{outcome="success|failure|rejected"},
//     bulwark_breaker_trips_total;
//   - per limiter (label name): bulwark_limiter_admitted_total,
//     bulwark_limiter_rejected_total, and the gauges bulwark_limiter_waiting and
//     bulwark_limiter_tokens;
//   - per actor (labels kind = breaker, limiter or supervisor, and name): the gauge
//     bulwark_actor_mailbox_depth and bulwark_actor_restarts_total;
//   - bulwark_operation_duration_seconds, a histogram, only for an engine built with
//     WithDurationHistogram.
//
// The metric names are fixed, so two engines registered on one registry collide: wrap
// the registerer, e.g. prometheus.WrapRegistererWith(prometheus.Labels{"engine": "a"}, reg).
// The collector is safe for concurrent use and may be called after Shutdown.
func (e *Engine) Collector() prometheus.Collector {
	return &collector{e: e, d: newDescs(e.hist != nil)}
}

// Label values of the engine's own metrics.
const (
	resultSuccess = "success"
	resultFailure = "failure"

	outcomeSuccess  = "success"
	outcomeFailure  = "failure"
	outcomeRejected = "rejected"

	kindBreaker    = "breaker"
	kindLimiter    = "limiter"
	kindSupervisor = "supervisor"

	// supervisorName is the name label of the supervisor actor's series.
	supervisorName = "supervisor"
)

// descs are the descriptions of every series the collector exports.
type descs struct {
	operations, retries, timeouts, abandoned, abandonedRunning, panics *prometheus.Desc
	rateLimitHits, trips, droppedEvents, duration                      *prometheus.Desc

	breakerState, breakerCalls, breakerTrips                  *prometheus.Desc
	limiterAdmitted, limiterRejected, limiterWait, limiterTok *prometheus.Desc
	actorDepth, actorRestarts                                 *prometheus.Desc
}

func newDescs(histogram bool) descs {
	d := descs{
		operations: prometheus.NewDesc("bulwark_operations_total",
			"Operations the engine ran, by result (success or failure); rejections, cancellations and panics are failures.",
			[]string{"result"}, nil),
		retries: prometheus.NewDesc("bulwark_retry_attempts_total",
			"Attempts made by retry policies after the first attempt of an operation.", nil, nil),
		timeouts: prometheus.NewDesc("bulwark_timeouts_total",
			"Attempts ended by a timeout policy.", nil, nil),
		abandoned: prometheus.NewDesc("bulwark_abandoned_calls_total",
			"Functions the engine returned from while they were still running, after a timeout or a cancellation.", nil, nil),
		abandonedRunning: prometheus.NewDesc("bulwark_abandoned_calls_running",
			"Abandoned functions that have not returned yet.", nil, nil),
		panics: prometheus.NewDesc("bulwark_panics_total",
			"Operation functions that panicked; each panic was recovered and returned as an error.", nil, nil),
		rateLimitHits: prometheus.NewDesc("bulwark_rate_limit_hits_total",
			"Attempts refused by a rate limiter, over all limiters.", nil, nil),
		trips: prometheus.NewDesc("bulwark_circuit_breaker_trips_total",
			"Moves of any circuit breaker into the open state, over all breakers.", nil, nil),
		droppedEvents: prometheus.NewDesc("bulwark_dropped_events_total",
			"State-change events not delivered because a subscriber's buffer was full.", nil, nil),

		breakerState: prometheus.NewDesc("bulwark_breaker_state",
			"State of a circuit breaker: 0 closed, 1 open, 2 half-open.",
			[]string{"name"}, nil),
		breakerCalls: prometheus.NewDesc("bulwark_breaker_calls_total",
			"Calls that reached a circuit breaker, by outcome: success and failure for calls it let through, rejected for calls it refused.",
			[]string{"name", "outcome"}, nil),
		breakerTrips: prometheus.NewDesc("bulwark_breaker_trips_total",
			"Moves of a circuit breaker into the open state.",
			[]string{"name"}, nil),
		limiterAdmitted: prometheus.NewDesc("bulwark_limiter_admitted_total",
			"Calls a rate limiter admitted.",
			[]string{"name"}, nil),
		limiterRejected: prometheus.NewDesc("bulwark_limiter_rejected_total",
			"Calls a rate limiter refused.",
			[]string{"name"}, nil),
		limiterWait: prometheus.NewDesc("bulwark_limiter_waiting",
			"Callers queued for a token of a rate limiter in wait mode.",
			[]string{"name"}, nil),
		limiterTok: prometheus.NewDesc("bulwark_limiter_tokens",
			"Tokens a rate limiter holds, as of its latest activity; fractions count.",
			[]string{"name"}, nil),
		actorDepth: prometheus.NewDesc("bulwark_actor_mailbox_depth",
			"Messages queued for an actor of the engine, the one in progress included.",
			[]string{"kind", "name"}, nil),
		actorRestarts: prometheus.NewDesc("bulwark_actor_restarts_total",
			"Restarts of an actor of the engine after a panic.",
			[]string{"kind", "name"}, nil),
	}
	if histogram {
		d.duration = prometheus.NewDesc("bulwark_operation_duration_seconds",
			"Time an operation took from entry to return, all its attempts and waits included.", nil, nil)
	}
	return d
}

// collector is the engine's prometheus.Collector.
type collector struct {
	e *Engine
	d descs
}

var _ prometheus.Collector = (*collector)(nil)

// Describe sends the description of every series the collector may export.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.d
	for _, desc := range []*prometheus.Desc{
		d.operations, d.retries, d.timeouts, d.abandoned, d.abandonedRunning, d.panics,
		d.rateLimitHits, d.trips, d.droppedEvents,
		d.breakerState, d.breakerCalls, d.breakerTrips,
		d.limiterAdmitted, d.limiterRejected, d.limiterWait, d.limiterTok,
		d.actorDepth, d.actorRestarts,
	} {
		ch <- desc
	}
	if d.duration != nil {
		ch <- d.duration
	}
}

// Collect sends a fresh snapshot of every series.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	e, d := c.e, &c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	// The same reading order as Metrics, so the two agree.
	ok, fail := e.succeeded.Load(), e.failed.Load()
	counter(d.operations, ok, resultSuccess)
	counter(d.operations, fail, resultFailure)
	counter(d.retries, e.retries.Load())
	counter(d.timeouts, e.timeouts.Load())
	counter(d.abandoned, e.abandoned.Load())
	gauge(d.abandonedRunning, float64(max(e.abandonedLive.Load(), 0)))
	counter(d.panics, e.panics.Load())
	counter(d.rateLimitHits, e.rateLimitHits.Load())
	counter(d.trips, e.trips.Load())
	counter(d.droppedEvents, e.eventsDropped.Load())

	e.breakers.Range(func(name string, l *actors.BreakerLink) bool {
		if l.View().Retired {
			return true
		}
		s := l.Stats()
		gauge(d.breakerState, float64(s.State), name)
		counter(d.breakerCalls, s.Successes, name, outcomeSuccess)
		counter(d.breakerCalls, s.Failures, name, outcomeFailure)
		counter(d.breakerCalls, s.Rejected, name, outcomeRejected)
		counter(d.breakerTrips, s.Trips, name)
		gauge(d.actorDepth, float64(max(l.MailboxDepth(), 0)), kindBreaker, name)
		counter(d.actorRestarts, l.Restarts(), kindBreaker, name)
		return true
	})
	e.limiters.Range(func(name string, l *actors.LimiterLink) bool {
		if l.View().Retired {
			return true
		}
		s := l.Stats()
		counter(d.limiterAdmitted, s.Allowed, name)
		counter(d.limiterRejected, s.Rejected, name)
		gauge(d.limiterWait, float64(s.Waiting), name)
		gauge(d.limiterTok, s.Tokens, name)
		gauge(d.actorDepth, float64(max(l.MailboxDepth(), 0)), kindLimiter, name)
		counter(d.actorRestarts, l.Restarts(), kindLimiter, name)
		return true
	})
	gauge(d.actorDepth, float64(max(e.supDepth.Depth(), 0)), kindSupervisor, supervisorName)
	counter(d.actorRestarts, e.supRestarts.Load(), kindSupervisor, supervisorName)

	if d.duration != nil && e.hist != nil {
		buckets, count, sum := e.hist.snapshot()
		ch <- prometheus.MustNewConstHistogram(d.duration, count, sum, buckets)
	}
}

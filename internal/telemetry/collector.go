package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Family is what the collector reads of one family of named actors (breakers,
// limiters, ...): its own per-name series, and for every live actor the series all
// actors share.
type Family interface {
	// Describe sends the descriptions of the family's own per-name series.
	Describe(ch chan<- *prometheus.Desc)
	// Collect sends the family's series of every live actor, and calls actor once for
	// each with its kind label, name, mailbox depth and restarts.
	Collect(ch chan<- prometheus.Metric, actor func(kind, name string, depth int64, restarts uint64))
}

// Supervisor reads the supervisor actor's mailbox depth and restarts.
type Supervisor func() (depth int64, restarts uint64)

// Label values of the engine's own metrics.
const (
	resultSuccess = "success"
	resultFailure = "failure"

	kindSupervisor = "supervisor"
	// supervisorName is the name label of the supervisor actor's series.
	supervisorName = "supervisor"
)

// descs are the descriptions of the engine-wide series and of the series every actor
// has.
type descs struct {
	operations, retries, timeouts, abandoned, abandonedRunning, panics *prometheus.Desc
	rateLimitHits, trips, droppedEvents, duration                      *prometheus.Desc
	actorDepth, actorRestarts                                          *prometheus.Desc
	concurrencyLimitHits                                               *prometheus.Desc
	hedgesStarted, hedgeWins                                           *prometheus.Desc
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
		actorDepth: prometheus.NewDesc("bulwark_actor_mailbox_depth",
			"Messages queued for an actor of the engine, the one in progress included.",
			[]string{"kind", "name"}, nil),
		actorRestarts: prometheus.NewDesc("bulwark_actor_restarts_total",
			"Restarts of an actor of the engine after a panic.",
			[]string{"kind", "name"}, nil),
		hedgesStarted: prometheus.NewDesc("bulwark_hedges_started_total",
			"Hedges started by hedge policies, besides the primary attempts.", nil, nil),
		hedgeWins: prometheus.NewDesc("bulwark_hedge_wins_total",
			"Hedged calls that succeeded, by the attempt that won: the primary or a hedge.",
			[]string{"winner"}, nil),
	}
	d.concurrencyLimitHits = prometheus.NewDesc("bulwark_concurrency_limit_hits_total",
		"Attempts refused by a bulkhead, over all bulkheads.", nil, nil)
	if histogram {
		d.duration = prometheus.NewDesc("bulwark_operation_duration_seconds",
			"Time an operation took from entry to return, all its attempts and waits included.", nil, nil)
	}
	return d
}

// collector is the engine's prometheus.Collector.
type collector struct {
	c        *Counters
	hist     *Histogram // nil: no duration histogram
	families []Family
	sup      Supervisor
	d        descs
}

var _ prometheus.Collector = (*collector)(nil)

// NewCollector returns a collector of the counters c, the histogram hist (nil for
// none), the families' series and the supervisor actor's. Each Collect reads a fresh
// snapshot and never waits for an actor.
func NewCollector(c *Counters, hist *Histogram, families []Family, sup Supervisor) prometheus.Collector {
	return &collector{c: c, hist: hist, families: families, sup: sup, d: newDescs(hist != nil)}
}

// Describe sends the description of every series the collector may export.
func (col *collector) Describe(ch chan<- *prometheus.Desc) {
	d := &col.d
	for _, desc := range []*prometheus.Desc{
		d.operations, d.retries, d.timeouts, d.abandoned, d.abandonedRunning, d.panics,
		d.rateLimitHits, d.trips, d.droppedEvents, d.actorDepth, d.actorRestarts,
		d.concurrencyLimitHits,
		d.hedgesStarted, d.hedgeWins,
	} {
		ch <- desc
	}
	for _, f := range col.families {
		f.Describe(ch)
	}
	if d.duration != nil {
		ch <- d.duration
	}
}

// Collect sends a fresh snapshot of every series.
func (col *collector) Collect(ch chan<- prometheus.Metric) {
	c, d := col.c, &col.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	// The same reading order as the engine's Metrics, so the two agree.
	ok, fail := c.Succeeded.Load(), c.Failed.Load()
	counter(d.operations, ok, resultSuccess)
	counter(d.operations, fail, resultFailure)
	counter(d.retries, c.Retries.Load())
	counter(d.timeouts, c.Timeouts.Load())
	counter(d.abandoned, c.Abandoned.Load())
	gauge(d.abandonedRunning, float64(max(c.AbandonedLive.Load(), 0)))
	counter(d.panics, c.Panics.Load())
	counter(d.rateLimitHits, c.RateLimitHits.Load())
	counter(d.concurrencyLimitHits, c.ConcurrencyLimitHits.Load())
	counter(d.trips, c.Trips.Load())
	counter(d.droppedEvents, c.EventsDropped.Load())
	counter(d.hedgesStarted, c.HedgesStarted.Load())
	counter(d.hedgeWins, c.HedgeWinsPrimary.Load(), "primary")
	counter(d.hedgeWins, c.HedgeWinsHedge.Load(), "hedge")

	actor := func(kind, name string, depth int64, restarts uint64) {
		gauge(d.actorDepth, float64(max(depth, 0)), kind, name)
		counter(d.actorRestarts, restarts, kind, name)
	}
	for _, f := range col.families {
		f.Collect(ch, actor)
	}
	depth, restarts := col.sup()
	actor(kindSupervisor, supervisorName, depth, restarts)

	if d.duration != nil {
		buckets, count, sum := col.hist.Snapshot()
		ch <- prometheus.MustNewConstHistogram(d.duration, count, sum, buckets)
	}
}

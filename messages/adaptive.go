package messages

import "time"

// AdaptiveStats is an adaptive concurrency limit's limit, permits, queue and sample
// counters. It is the value in supervisor.Metrics.AdaptiveLimits.
type AdaptiveStats struct {
	// Limit is the limit the algorithm published last.
	Limit int
	// InFlight is the number of permits held; after the limit dropped it may exceed
	// Limit for a while.
	InFlight int
	// Queued is the number of callers waiting for a permit.
	Queued int
	// Samples counts the completed calls that gave an RTT sample (successes and drops).
	Samples uint64
	// Drops counts the samples that were drops: ErrTimeout, a deadline the caller did not
	// set, or an overload error carrying a RetryAfter.
	Drops uint64
	// Ignored counts the completed calls that gave no sample (the caller's cancellation,
	// other errors).
	Ignored uint64
	// Rejected counts calls refused with ErrConcurrencyLimited.
	Rejected uint64
}

// LimitChanged is what an adaptive limit actor reports when a closed sampling window
// moved its limit from Old to New, with the window's inputs.
type LimitChanged struct {
	// Name is the adaptive limit's name.
	Name string
	// Old and New are the limit before and after the window.
	Old, New int
	// RTT is the window's average RTT, InFlight its maximum in-flight count, Samples
	// and Drops its sample counts.
	RTT      time.Duration
	InFlight int
	Samples  uint64
	Drops    uint64
	// At is when it happened.
	At time.Time
}

package telemetry

import "sync/atomic"

// Counters are the engine-wide counters, all plain atomics. The four that every call
// touches (the shutdown gate's) each sit on their own cache line, so callers that count
// different outcomes at once do not share one; the others move on slow paths only. The
// zero value is ready to use.
type Counters struct {
	// The shutdown gate: every call that passed it is Entered and, once it returned,
	// Succeeded, Failed or Refused (it entered, then turned out not to be an operation).
	Entered, Succeeded, Failed, Refused lineCounter

	Retries       atomic.Uint64 // attempts after the first
	Timeouts      atomic.Uint64 // attempts ended by a Timeout stage
	RateLimitHits atomic.Uint64 // attempts refused by a limiter
	Trips         atomic.Uint64 // moves of any breaker into open
	Abandoned     atomic.Uint64 // functions returned from while still running
	Panics        atomic.Uint64 // functions (and user code) that panicked or called Goexit
	Restarts      atomic.Uint64 // restarts of breaker and limiter actors
	EventsDropped atomic.Uint64 // events that did not fit a subscriber's buffer
	SupRestarts   atomic.Uint64 // panics the supervisor actor recovered from

	// AbandonedLive counts abandoned functions that have not returned yet.
	AbandonedLive atomic.Int64
}

// lineCounter is an atomic.Uint64 followed by the rest of its 64-byte cache line, so the
// next field starts on another line.
type lineCounter struct {
	atomic.Uint64
	_ [56]byte
}

package telemetry

import (
	"sync/atomic"

	"github.com/bulwark-go/bulwark/internal/stripe"
)

// Counters are the engine-wide counters. The four that every call touches (the shutdown
// gate's) are striped, so concurrent callers do not share a cache line; the others move
// on slow paths only and are plain atomics. The zero value is ready to use.
type Counters struct {
	// The shutdown gate: every call that passed it is Entered and, once it returned,
	// Succeeded, Failed or Refused (it entered, then turned out not to be an operation).
	Entered, Succeeded, Failed, Refused stripe.Counter

	Retries       atomic.Uint64 // attempts after the first
	Timeouts      atomic.Uint64 // attempts ended by a Timeout stage
	RateLimitHits atomic.Uint64 // attempts refused by a limiter
	Trips         atomic.Uint64 // moves of any breaker into open
	Abandoned     atomic.Uint64 // functions returned from while still running
	Panics        atomic.Uint64 // functions (and user code) that panicked or called Goexit
	Restarts      atomic.Uint64 // restarts of breaker and limiter actors
	EventsDropped atomic.Uint64 // events that did not fit a subscriber's buffer
	SupRestarts   atomic.Uint64 // panics the supervisor actor recovered from

	ConcurrencyLimitHits atomic.Uint64 // attempts refused by a bulkhead
	HedgesStarted        atomic.Uint64 // hedges started (primary attempts not counted)
	HedgeWinsPrimary     atomic.Uint64 // hedged calls the primary attempt won
	HedgeWinsHedge       atomic.Uint64 // hedged calls a hedge won

	// AbandonedLive counts abandoned functions that have not returned yet.
	AbandonedLive atomic.Int64
}

package messages

import (
	"context"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// Execute asks the engine to run Fn under Policy. Send it, as a value or a pointer, to
// supervisor.Engine.PID with a sender (ctx.Request from an actor, or
// RequestWithCustomSender); the engine answers the sender with a *Result carrying the
// same ID. Fn runs on a goroutine of the engine, never on the sending actor's, so the
// sender stays free to process other messages while the operation runs. A nil Policy
// means policy.None(). A zero Deadline means none; otherwise the operation's context
// ends at Deadline.
type Execute struct {
	// ID identifies the operation: it names unnamed breakers and limiters, appears in
	// errors and logs, and comes back in Result.ID.
	ID string
	// Policy is the resilience policy to apply; nil means policy.None().
	Policy policy.Policy
	// Fn is the operation. It must honour its context.
	Fn func(context.Context) (any, error)
	// Critical puts the operation first in a limiter's wait queue and logs its failure at
	// Error level.
	Critical bool
	// Deadline bounds the whole operation; zero means none.
	Deadline time.Time
}

// Result is the engine's reply to Execute.
type Result struct {
	// ID is the Execute's ID.
	ID string
	// Value is what Fn returned on success.
	Value any
	// Err is nil on success, otherwise an error classified as the policy package
	// describes (errors.Is with the policy sentinels works on it).
	Err error
	// Attempts is the number of times Fn was started, the first included.
	Attempts int
}

// GetStats asks any actor of the engine for its stats. A breaker actor answers with a
// *BreakerStats, a limiter actor with a *LimiterStats, a bulkhead actor with a *BulkheadStats, the supervisor with an
// *EngineStats. The answer goes to the sender (ctx.Respond), or, when Ticket is not
// zero, carries the Ticket inside a *Stats.
type GetStats struct {
	// Ticket, when not zero, asks for the answer wrapped in a *Stats with this Ticket.
	Ticket uint64
}

// Stats is the answer to a GetStats that carried a Ticket. Exactly one of Breaker,
// Limiter and Bulkhead is set.
type Stats struct {
	// Ticket is the request's Ticket.
	Ticket uint64
	// Name is the breaker's or limiter's name.
	Name string
	// Breaker holds a breaker's stats.
	Breaker *BreakerStats
	// Limiter holds a limiter's stats.
	Limiter *LimiterStats
	// Bulkhead holds a bulkhead's stats.
	Bulkhead *BulkheadStats
	// Adaptive holds an adaptive limit's stats.
	Adaptive *AdaptiveStats
}

// EngineStats is the supervisor's answer to GetStats: the engine's counters and every
// live named actor's stats.
type EngineStats struct {
	// TotalOperations counts operations that ran (refused calls excluded).
	TotalOperations uint64
	// SuccessfulOperations counts operations that returned no error.
	SuccessfulOperations uint64
	// FailedOperations counts operations that returned an error.
	FailedOperations uint64
	// Breakers maps each live breaker's name to its stats.
	Breakers map[string]BreakerStats
	// Limiters maps each live limiter's name to its stats.
	Limiters map[string]LimiterStats
	// Bulkheads maps each live bulkhead's name to its stats.
	Bulkheads map[string]BulkheadStats
}

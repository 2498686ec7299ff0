package messages

import (
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// Acquire asks a breaker actor for a half-open probe permit, or a limiter actor for a
// token that its published view could not grant. The actor answers with *Granted or
// *Rejected carrying the same Ticket. A limiter in wait mode may hold the request in
// its queue and answer later; the caller that gives up sends Cancel.
type Acquire struct {
	// Ticket routes the answer back to the caller; it must not be zero.
	Ticket uint64
	// Critical puts the request ahead of non-critical waiters in a limiter's queue.
	Critical bool
	// Deadline is the caller's deadline (zero: none). A limiter refuses at once a wait
	// that would end after it.
	Deadline time.Time
}

// Granted answers Acquire: the caller may run the operation.
type Granted struct {
	// Ticket is the Acquire's Ticket.
	Ticket uint64
	// Generation is the breaker generation the permit belongs to; the caller's Report
	// carries it back, and reports from an older generation are dropped. Limiters set 0.
	Generation uint64
	// Probe is true when the permit is a half-open probe slot (its outcome must be
	// reported); false when the breaker was closed and the call is an ordinary one.
	Probe bool
	// At is when a limiter granted the token (zero from breakers); a Refund echoes it.
	At time.Time
}

// Reason says why an actor refused a request.
type Reason int

// Reasons for a Rejected answer.
const (
	// CircuitOpen: the breaker is open, or half-open with every probe slot taken.
	CircuitOpen Reason = iota + 1
	// RateLimited: the limiter has no token, and waiting is off or would last too long.
	RateLimited
	// Stopping: the actor is stopping (engine shutdown or passivation).
	Stopping
	// Crashed: the actor panicked while handling the request and was restarted.
	Crashed
	// Cancelled: the caller sent Cancel while its request was queued.
	Cancelled
	// CircuitForcedOpen: the breaker is forced open by hand (policy.ErrCircuitForcedOpen).
	CircuitForcedOpen
	// NotFound: the registry has no actor of that name and remembers no configuration for
	// it (the answer to a lookup by a handle).
	NotFound
	// ConcurrencyLimited: the bulkhead is full and its queue too, or the wait reached
	// MaxWait (policy.ErrConcurrencyLimited).
	ConcurrencyLimited
	// BudgetExhausted: the retry budget holds no retry (policy.ErrBudgetExhausted).
	BudgetExhausted
)

// String names the reason.
func (r Reason) String() string {
	switch r {
	case CircuitOpen:
		return "circuit_open"
	case RateLimited:
		return "rate_limited"
	case Stopping:
		return "stopping"
	case Crashed:
		return "crashed"
	case Cancelled:
		return "cancelled"
	case CircuitForcedOpen:
		return "circuit_forced_open"
	case NotFound:
		return "not_found"
	case ConcurrencyLimited:
		return "concurrency_limited"
	case BudgetExhausted:
		return "budget_exhausted"
	}
	return "unknown"
}

// Rejected answers Acquire (or Report, when the actor crashed while handling it): the
// caller must not run the operation.
type Rejected struct {
	// Ticket is the request's Ticket.
	Ticket uint64
	// Reason says why.
	Reason Reason
	// RetryAfter is how long until a retry may succeed (0: unknown).
	RetryAfter time.Duration
}

// Acked answers Report and Reconfigure.
type Acked struct {
	// Ticket is the request's Ticket.
	Ticket uint64
}

// Reconfigure changes a breaker's or limiter's thresholds in place, keeping its state
// and counters. Exactly one of Breaker and Limiter is set, matching the actor. With a
// non-zero Ticket the actor answers *Acked. Bulkhead is set for a bulkhead actor.
type Reconfigure struct {
	// Ticket, when not zero, asks for an *Acked.
	Ticket uint64
	// Breaker is the new breaker configuration.
	Breaker *policy.CircuitBreakerPolicy
	// Limiter is the new limiter configuration.
	Limiter *policy.RateLimitPolicy
	// Bulkhead is the new bulkhead configuration: a live resize.
	Bulkhead *policy.BulkheadPolicy
	// Budget is the new retry budget configuration.
	Budget *policy.BudgetPolicy
	// Adaptive is the new adaptive limit configuration: its bounds and queue; the limit
	// learnt so far is kept, clamped to the new bounds.
	Adaptive *policy.AdaptiveLimitPolicy
}

// Tick is the timer message a breaker or limiter actor sends itself: open→half-open
// when the recovery timeout ends, or waking limiter waiters when their tokens are due.
// Ticks from an older Generation are ignored. No answer.
type Tick struct {
	// Generation is the actor's timer generation when the tick was armed.
	Generation uint64
}

// Passivate asks an idle, unregistered breaker or limiter actor to stop. The actor
// answers *Acked when it agreed and is stopping, or *Rejected with Reason Stopping when
// it is not idle — a call it admitted is still running, a request is queued behind the
// Passivate, or the name was registered meanwhile — and then it stays.
type Passivate struct {
	// Ticket routes the answer.
	Ticket uint64
}

// Outcome is what a call's result means to a breaker.
type Outcome int

// Outcomes carried by Report.
const (
	// Success counts toward closing a half-open breaker and resets the failure count.
	Success Outcome = iota + 1
	// Failure counts toward opening the breaker.
	Failure
	// Neutral neither succeeds nor fails (the caller cancelled, a Permanent error, or a
	// rejection by another stage); it only frees a probe slot.
	Neutral
)

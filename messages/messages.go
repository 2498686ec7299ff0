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
// *BreakerStats, a limiter actor with a *LimiterStats, the supervisor with an
// *EngineStats. The answer goes to the sender (ctx.Respond), or, when Ticket is not
// zero, carries the Ticket inside a *Stats.
type GetStats struct {
	// Ticket, when not zero, asks for the answer wrapped in a *Stats with this Ticket.
	Ticket uint64
}

// Stats is the answer to a GetStats that carried a Ticket. Exactly one of Breaker and
// Limiter is set.
type Stats struct {
	// Ticket is the request's Ticket.
	Ticket uint64
	// Name is the breaker's or limiter's name.
	Name string
	// Breaker holds a breaker's stats.
	Breaker *BreakerStats
	// Limiter holds a limiter's stats.
	Limiter *LimiterStats
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
}

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

// Report tells a breaker actor the outcome of a call it admitted: a probe's outcome, or
// a failure in the closed state (which may trip the breaker). With a non-zero Ticket the
// actor answers *Acked once the report is applied, so a caller that waits for the
// answer sees the new state on its next call. Reports whose Generation is older than
// the breaker's are acknowledged and dropped.
type Report struct {
	// Ticket, when not zero, asks for an *Acked.
	Ticket uint64
	// Generation is the generation the call was admitted in.
	Generation uint64
	// Outcome is the call's outcome.
	Outcome Outcome
	// Probe is true for a call admitted by a Granted half-open permit.
	Probe bool
}

// Acked answers Report and Reconfigure.
type Acked struct {
	// Ticket is the request's Ticket.
	Ticket uint64
}

// Cancel tells a limiter actor that the caller behind a queued Acquire gave up (its
// context ended). When the request is still queued the actor drops it and answers the
// Acquire with *Rejected (Reason Cancelled); when it was answered already, Cancel is
// ignored — the caller's side then undoes a Granted with Refund.
type Cancel struct {
	// Ticket is the abandoned Acquire's Ticket.
	Ticket uint64
}

// Refund gives a limiter back a token it granted to a caller that gave up before using
// it. The limiter takes it back only if its bucket did not fill up in the meantime (a
// full bucket has already made up for the token); otherwise the token is simply not
// used. No answer.
type Refund struct {
	// GrantedAt is the At of the Granted being returned.
	GrantedAt time.Time
}

// Reconfigure changes a breaker's or limiter's thresholds in place, keeping its state
// and counters. Exactly one of Breaker and Limiter is set, matching the actor. With a
// non-zero Ticket the actor answers *Acked.
type Reconfigure struct {
	// Ticket, when not zero, asks for an *Acked.
	Ticket uint64
	// Breaker is the new breaker configuration.
	Breaker *policy.CircuitBreakerPolicy
	// Limiter is the new limiter configuration.
	Limiter *policy.RateLimitPolicy
}

// Tick is the timer message a breaker or limiter actor sends itself: open→half-open
// when the recovery timeout ends, or waking limiter waiters when their tokens are due.
// Ticks from an older Generation are ignored. No answer.
type Tick struct {
	// Generation is the actor's timer generation when the tick was armed.
	Generation uint64
}

// Nudge tells a breaker actor that callers counted closed-state failures without a
// Report each, because its mailbox was past the engine's limit: the actor takes them in,
// as it does before handling any message. No answer.
type Nudge struct{}

// Passivate asks an idle, unregistered breaker or limiter actor to stop. The actor
// answers *Acked when it agreed and is stopping, or *Rejected with Reason Stopping when
// it is not idle — a call it admitted is still running, a request is queued behind the
// Passivate, or the name was registered meanwhile — and then it stays.
type Passivate struct {
	// Ticket routes the answer.
	Ticket uint64
}

// StateChanged is published by a breaker actor when its state changes. Not a request.
type StateChanged struct {
	// Name is the breaker's name.
	Name string
	// From and To are the old and new states.
	From, To BreakerState
	// At is when the change happened.
	At time.Time
}

// Saturated is published by a limiter actor when it starts refusing or queueing calls
// (Saturated true) and when it has tokens again (false). Not a request.
type Saturated struct {
	// Name is the limiter's name.
	Name string
	// Saturated is true when the limiter ran out of tokens.
	Saturated bool
	// At is when it happened.
	At time.Time
}

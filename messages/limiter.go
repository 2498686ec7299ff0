package messages

import "time"

// LimiterStats is a rate limiter's bucket and counters. It is the reply of a limiter
// actor to GetStats, and the value in supervisor.Metrics.Limiters.
type LimiterStats struct {
	// Tokens is the number of tokens available now (fractional tokens included).
	Tokens float64
	// Allowed counts admitted calls.
	Allowed uint64
	// Rejected counts calls refused with ErrRateLimited.
	Rejected uint64
	// Waiting is the number of callers queued for a token (wait mode only).
	Waiting int
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

// Package actors holds bulwark's infrastructure actors: the circuit breaker and the
// rate limiter. Each named breaker or limiter is one actor, the only writer of its
// state, built on protoactor-go.
//
// # State machines
//
// The decisions live in plain structs whose methods take the current time: [Circuit]
// (closed → open → half-open → closed) and [Bucket] (a token bucket with a FIFO wait
// queue). They are tested without an actor system.
//
// # Actors and links
//
// [Breaker] and [Limiter] translate messages (package messages) into calls on their
// state machine. Each shares a link with its callers — [BreakerLink], [LimiterLink] —
// through which it publishes an immutable view (an atomic pointer) and receives
// counters that callers add without asking. A call on the success path therefore
// reads the view and adds to a counter; it never waits for the actor. The actor is
// asked only where it must decide: a half-open probe, a token the limiter's pool could
// not give, a failure that may trip the breaker.
//
// # Restarts
//
// The durable state lives in the link, not in the actor struct, so a panic that makes
// the supervisor restart the actor keeps the state: the new incarnation republishes its
// view and re-arms its timers, and the request that was being handled when the actor
// panicked is answered with a Rejected whose Reason is Crashed (or with the answer it was
// given before the panic, which the kept state reflects), so no caller waits forever.
//
// An actor replies, and answers the waiters it served, only after it published the view
// that counts them, so a caller that returns and then reads the engine's Metrics finds
// its call counted.
package actors

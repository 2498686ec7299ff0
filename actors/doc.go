// Package actors holds bulwark's infrastructure actors: the circuit breaker and the
// rate limiter. Each named breaker or limiter is one actor, the only writer of its
// state, built on protoactor-go.
//
// # State machines
//
// The decisions live in plain structs whose methods take the current time: [Circuit]
// (closed → open → half-open → closed, and the manual states) and [Bucket] (a token
// bucket with a FIFO wait queue). A Circuit judges closed calls by a trip rule:
// consecutive failures, or a [Window] (count or time buckets, failure rate, slow calls);
// half-open probes by [Probes] in window modes; its open delay is [OpenDelay]. They are
// tested without an actor system.
//
// # The breaker's protocol with the pipeline
//
// A [BreakerView] with Pass admits a call without a message. When it ends: a fast
// success is counted by [BreakerLink.CountSuccess] (which says when the view wants it
// as a Report instead, specs/breadth.md CB-7); a failure, a slow call (the view's
// SlowCall > 0 asks callers to time calls) and any probe outcome go as a
// messages.Report, with Slow and RetryAfter filled in. A time-window breaker ticks at
// its bucket boundaries and files the successes counted on the side in the bucket that
// just ended. Manual states arrive as messages.SetBreakerMode.
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
// The durable state lives beside the link, not in the actor struct: each link keeps
// what its callers touch (view, counters, PID, the stopped channel) apart from the
// owner's state (the state machine, what the actor has taken in of the counters, the
// timer generation, the hooks), which Producer hands to every incarnation. So a panic
// that makes the supervisor restart the actor keeps the state: the new incarnation republishes its
// view and re-arms its timers, and the request that was being handled when the actor
// panicked is answered with a Rejected whose Reason is Crashed (or with the answer it was
// given before the panic, which the kept state reflects), so no caller waits forever.
//
// The state machines also hand over: [Circuit.Snapshot] and [Bucket.Snapshot] return
// plain, JSON-serialisable structs that Restore reads back into a machine built from the
// receiving owner's policy.
//
// An actor replies, and answers the waiters it served, only after it published the view
// that counts them, so a caller that returns and then reads the engine's Metrics finds
// its call counted.
//
// # Files
//
// circuit.go and bucket.go are the state machines; window.go, windowsnap.go,
// halfopen.go and opendelay.go the breaker's window, its snapshot, the half-open
// verdict and the open delay; breaker.go and limiter.go each hold
// one actor with its link and view; link.go the part of a link both kinds share and
// MailboxDepth; base.go what both actors share (the owner's common state, the request
// in progress, timers, fault injection, passivation).
package actors

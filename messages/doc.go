// Package messages is bulwark's actor protocol: every message the engine's actors
// exchange, and the Execute/Result pair that actor clients send to the engine.
//
// # Conventions
//
// Messages are plain data sent as pointers. Requests are imperative (Acquire, Report,
// GetStats), replies are nouns (Granted, Rejected, Acked, BreakerStats). Every request
// that expects an answer carries a Ticket, and the answer carries the same Ticket back,
// so the answer can be routed to the waiting caller without a future and without a Go
// channel inside the message: the protocol between the engine and its breaker and
// limiter actors is pure data, which keeps those actors movable to a cluster later.
//
// # Actor clients
//
// An actor that wants an operation run under a policy sends [Execute] to the engine's
// PID (supervisor.Engine.PID) with a sender, for example with ctx.Request, and receives
// a [*Result]. Any actor of the engine answers [GetStats] with its stats.
//
// # Breaker and limiter protocol
//
// A caller asks a circuit-breaker actor for a half-open probe, or a rate-limiter actor
// for a token the published view cannot grant, with [Acquire]; the actor answers
// [*Granted] or [*Rejected]. Outcomes of probes and failures that may trip a breaker go
// back as [Report], answered by [*Acked]. A limiter waiter whose caller gave up sends
// [Cancel]. [Reconfigure] changes an actor's thresholds in place.
//
// # Files
//
// client.go holds what an actor client reads first (Execute, Result, GetStats,
// EngineStats); protocol.go the requests and replies every named actor shares (Acquire,
// Granted, Rejected, Acked, Reconfigure, Tick, Passivate, Outcome); breaker.go and
// limiter.go what belongs to one kind of actor (its stats, its own messages, its events).
package messages

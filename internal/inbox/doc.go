// Package inbox carries the engine's own messages to and from its actors without
// futures.
//
// # Outbox
//
// Outbox is the one door the engine sends through. Once Shutdown starts stopping the
// actors it refuses every send, so no message of the engine becomes a dead letter (and
// protoactor starts no dead-letter throttle goroutine that would outlive Shutdown).
//
// # Inbox
//
// Inbox routes the answers of the engine's actors to the Go callers waiting for them. A
// caller registers a waiter under a fresh ticket, sends its request with the inbox's PID
// as sender, and waits on the waiter's channel. The inbox is a protoactor Process, so an
// actor's c.Respond reaches it by a direct call on the actor's goroutine: no mailbox, no
// goroutine, no registry entry per request.
//
// A caller whose context ends stops waiting at once and marks its waiter abandoned; when
// the answer arrives later, the inbox undoes what it granted (Undo says what), so giving
// up never leaks capacity.
package inbox

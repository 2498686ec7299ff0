// Package fault holds bulwark's test-only fault injection: messages that make an
// engine actor fail on purpose, so tests can show the supervisor restarts it and that
// no caller waits forever. Being internal, nothing outside the module can send them.
package fault

// Panic makes a breaker, limiter or supervisor actor panic when it handles this message,
// as a bug in the actor would.
type Panic struct {
	// Reason is the panic's value.
	Reason string
}

// PanicOnNext makes the actor panic while handling the next request it receives after
// this message (Acquire, Report, Reconfigure or GetStats), so that the request's caller
// sees the crash.
type PanicOnNext struct {
	// Reason is the panic's value.
	Reason string
}

// Block makes the actor wait, inside its Receive, until Release is closed — an actor
// stuck in a slow handler, so tests can fill its mailbox.
type Block struct {
	// Release ends the block when closed.
	Release <-chan struct{}
}

package messages

import "time"

// SharedChange says what happened to a shared (cluster mode) breaker or limiter.
type SharedChange int

// The changes of a shared name.
const (
	// OwnerLost: the owner did not answer in time; the name runs on its fallback.
	OwnerLost SharedChange = iota + 1
	// OwnerFound: the owner answered again; the name is coordinated again.
	OwnerFound
	// OwnerChanged: another activation of the owner answered (the owner moved).
	OwnerChanged
)

// String names the change: "owner_lost", "owner_found", "owner_changed".
func (c SharedChange) String() string {
	switch c {
	case OwnerLost:
		return "owner_lost"
	case OwnerFound:
		return "owner_found"
	case OwnerChanged:
		return "owner_changed"
	}
	return "unknown"
}

// SharedChanged reports a change of a shared name's coordination, from a cluster
// replica to the engine's hooks.
type SharedChanged struct {
	// Kind is the name's family: "breaker" or "limiter".
	Kind string
	// Name is the breaker's or limiter's name.
	Name string
	// Change says what happened.
	Change SharedChange
	// At is when it happened.
	At time.Time
	// Reason says why, for the logs: "owner_timeout", "no_owner", "answer".
	Reason string
}

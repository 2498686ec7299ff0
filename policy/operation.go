package policy

import "context"

// Operation is a domain object that declares the resilience it needs (the guide's
// ResilientOperation): the engine reads Policy, runs Execute under it, names breakers and
// limiters after ID when a policy leaves Name empty, and puts Critical operations first in
// a limiter's queue (and logs their failures at Error level). Policy, ID and Critical are
// called from the engine's goroutines and must be safe for concurrent use; Execute must
// honour ctx, since it is cancelled when a timeout passes or the caller gives up.
type Operation[T any] interface {
	// Policy returns the policy to run Execute under; nil means None().
	Policy() Policy
	// Execute does the work once; the engine calls it once per attempt.
	Execute(ctx context.Context) (T, error)
	// ID names the operation in errors, logs and metrics, and keys its breaker and limiter.
	ID() string
	// Critical reports whether the operation goes first in line and logs louder.
	Critical() bool
}

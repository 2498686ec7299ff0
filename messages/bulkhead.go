package messages

// BulkheadStats is a bulkhead's permits, queue and counters. It is the reply of a
// bulkhead actor to GetStats, and the value in supervisor.Metrics.Bulkheads.
type BulkheadStats struct {
	// Limit is the bulkhead's MaxConcurrent now (a registration may have resized it).
	Limit int
	// InFlight is the number of permits held: functions running, including those a
	// Timeout stopped waiting for. After shrinking it may exceed Limit for a while.
	InFlight int
	// Queued is the number of callers waiting for a permit.
	Queued int
	// MaxInFlight is the highest InFlight seen since the bulkhead was created.
	MaxInFlight int
	// Admitted counts calls given a permit, at once or after a wait.
	Admitted uint64
	// Rejected counts calls refused with ErrConcurrencyLimited: a full bulkhead with no
	// room in its queue, or a wait that reached MaxWait.
	Rejected uint64
}

// Release tells a bulkhead actor that a caller gave back a permit while other callers
// were queued for one: the actor hands free permits to its waiters. The caller has
// already given the permit back to the shared counter; the message carries nothing, so
// one value serves every send. No answer.
//
// A bulkhead actor also answers Acquire (*Granted, or *Rejected with Reason
// ConcurrencyLimited, possibly after queueing the caller), Cancel (a queued caller gave
// up: dropped and answered *Rejected with Reason Cancelled), Refund (a permit granted to a
// caller that had given up comes back and goes to the next waiter), Reconfigure with
// Bulkhead set (a live resize), GetStats and Passivate.
type Release struct{}

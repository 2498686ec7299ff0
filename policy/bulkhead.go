package policy

import (
	"strconv"
	"time"
)

// MaxBulkhead bounds a bulkhead's MaxConcurrent and MaxQueue: 1<<30 - 1.
const MaxBulkhead = 1<<30 - 1

// BulkheadPolicy bounds how many calls of one named bulkhead run their function at the
// same time. A call that finds MaxConcurrent calls running waits in the bulkhead's queue
// when MaxQueue > 0 and the queue has room (first in, first out, critical calls first;
// newest first with LIFO), for at most MaxWait (0: until the caller's context ends or the
// engine shuts down); otherwise it is refused at once with ErrConcurrencyLimited and its
// function does not run. A permit is held until the function really returns, also when
// a Timeout stopped waiting for it. MaxConcurrent has no default (zero is invalid); an
// empty Name means the operation's ID, else "default". The value is immutable and safe
// to share between goroutines.
type BulkheadPolicy struct {
	// Name selects the bulkhead actor; "" means the operation's ID, else "default". It
	// must be valid UTF-8. Bulkheads have their own namespace of names.
	Name string
	// MaxConcurrent is how many calls may run at once; 1 to MaxBulkhead.
	MaxConcurrent int
	// MaxQueue is how many calls may wait for a permit; 0 refuses at once when full.
	MaxQueue int
	// MaxWait is the longest a call waits in the queue; 0 (with MaxQueue > 0) waits until
	// the caller's context ends or the engine shuts down. It must be 0 when MaxQueue is.
	MaxWait time.Duration
	// LIFO serves the newest waiter first (critical ones still first) instead of the
	// oldest; it needs MaxQueue > 0.
	LIFO bool
}

func (BulkheadPolicy) isPolicy() {}

// Bulkhead returns a BulkheadPolicy that lets maxConcurrent calls run at once and refuses
// the others at once.
func Bulkhead(maxConcurrent int) BulkheadPolicy {
	return BulkheadPolicy{MaxConcurrent: maxConcurrent}
}

// Named returns a copy of p that uses the bulkhead actor called name.
func (p BulkheadPolicy) Named(name string) BulkheadPolicy {
	p.Name = name
	return p
}

// WithQueue returns a copy of p in which up to n calls wait for a permit, each for at
// most maxWait (0: until its context ends).
func (p BulkheadPolicy) WithQueue(n int, maxWait time.Duration) BulkheadPolicy {
	p.MaxQueue, p.MaxWait = n, maxWait
	return p
}

// WithLIFO returns a copy of p that serves the newest waiter first.
func (p BulkheadPolicy) WithLIFO() BulkheadPolicy {
	p.LIFO = true
	return p
}

// Validate checks 1 ≤ MaxConcurrent ≤ MaxBulkhead, 0 ≤ MaxQueue ≤ MaxBulkhead,
// MaxWait ≥ 0, that MaxWait and LIFO are only set with a queue, and that Name is valid
// UTF-8.
func (p BulkheadPolicy) Validate() error {
	const c = "bulkhead"
	return first(
		atLeast(c, "MaxConcurrent", p.MaxConcurrent, 1),
		atMost(c, "MaxConcurrent", p.MaxConcurrent, MaxBulkhead, "MaxBulkhead", "a bulkhead counts its permits in 30 bits"),
		atLeast(c, "MaxQueue", p.MaxQueue, 0),
		atMost(c, "MaxQueue", p.MaxQueue, MaxBulkhead, "MaxBulkhead", "a bulkhead counts its waiters in 30 bits"),
		notNegative(c, "MaxWait", p.MaxWait),
		queueOnly(p.MaxQueue, p.MaxWait != 0, "MaxWait", p.MaxWait),
		queueOnly(p.MaxQueue, p.LIFO, "LIFO", p.LIFO),
		validName(c, p.Name),
	)
}

// queueOnly refuses field, set to v, on a bulkhead without a queue: no call ever waits.
func queueOnly(maxQueue int, set bool, field string, v any) error {
	if !set || maxQueue > 0 {
		return nil
	}
	return invalidField("bulkhead", field, "unset when MaxQueue is 0 (no call waits; set a queue with WithQueue)", v)
}

// String returns "bulkhead(N)", followed by ".named(...)" when Name is set,
// ".queue(Q, D)" when MaxQueue is set and ".lifo()" when LIFO is:
// bulkhead(10).named("db").queue(50, 100ms).
func (p BulkheadPolicy) String() string {
	s := "bulkhead(" + strconv.Itoa(p.MaxConcurrent) + ")" + named(p.Name)
	if p.MaxQueue != 0 || p.MaxWait != 0 {
		s += chained("queue", strconv.Itoa(p.MaxQueue)+", "+p.MaxWait.String())
	}
	if p.LIFO {
		s += chained("lifo", "")
	}
	return s
}

// bulkheadJSON is a BulkheadPolicy's JSON document.
type bulkheadJSON struct {
	Type          string   `json:"type"`
	Name          string   `json:"name,omitempty"`
	MaxConcurrent int      `json:"max_concurrent"`
	MaxQueue      int      `json:"max_queue,omitempty"`
	MaxWait       duration `json:"max_wait,omitempty"`
	LIFO          bool     `json:"lifo,omitempty"`
}

func encodeBulkhead(p BulkheadPolicy) (any, error) {
	return bulkheadJSON{"bulkhead", p.Name, p.MaxConcurrent, p.MaxQueue, duration(p.MaxWait), p.LIFO}, nil
}

func decodeBulkhead(data []byte, _ int) (BulkheadPolicy, error) {
	return decodeAs(data, func(w bulkheadJSON) BulkheadPolicy {
		return BulkheadPolicy{Name: w.Name, MaxConcurrent: w.MaxConcurrent, MaxQueue: w.MaxQueue, MaxWait: time.Duration(w.MaxWait), LIFO: w.LIFO}
	})
}

// MarshalJSON writes {"type":"bulkhead","name":"db","max_concurrent":10,"max_queue":50,
// "max_wait":"100ms","lifo":true}, leaving out a zero name, max_queue and max_wait and a
// false lifo. It fails for an invalid policy.
func (p BulkheadPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

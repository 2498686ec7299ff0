package actors

import (
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/internal/stripe"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// The permit word packs a bulkhead's shared state into one atomic uint64, so that taking
// a permit, giving one back, queueing a waiter and retiring are each one atomic
// operation on it, and no two of them can miss each other.
const (
	inFlightMask = 1<<32 - 1         // bits 0-31: permits held
	queuedOne    = 1 << 32           // bits 32-61: callers queued with the actor
	queuedMask   = (1<<30 - 1) << 32 //
	watchBit     = 1 << 62           // the actor reported saturation: releases tell it
	retiredBit   = 1 << 63           // the actor passivated: look the name up again
)

func inFlightOf(w uint64) int64 { return int64(w & inFlightMask) }
func queuedOf(w uint64) int64   { return int64((w & queuedMask) >> 32) }

// Permits is a bulkhead's state machine: the permit counter callers share, and the wait
// queue only the actor touches. Callers take a permit with TryAcquire (one compare-and-swap
// while a permit is free and nobody waits) and give it back with Release; everything else
// is the actor's, which passes now where time matters. Waiters are served first in,
// first out (newest first with LIFO), critical ones before the others. Make one with
// NewPermits.
type Permits struct {
	word        atomic.Uint64
	limit       atomic.Int64 // MaxConcurrent now
	maxQueue    atomic.Int64 // MaxQueue now: 0 lets callers refuse without asking
	maxInFlight atomic.Int64
	windowMax   atomic.Int64   // the most permits held since the actor last took it
	admitted    stripe.Counter // by callers and by the actor
	rejected    atomic.Uint64

	// The actor's.
	cfg      policy.BulkheadPolicy
	critical waitQueue
	normal   waitQueue
	tickets  map[uint64]*waiting // the live waiters, by ticket
}

// waiting is one caller queued for a permit.
type waiting struct {
	ticket   uint64
	arrived  time.Time
	deadline time.Time // zero: none (MaxWait 0)
	critical bool      // in the critical queue
	gone     bool      // served, cancelled or expired: skipped when met in its queue
}

// waitQueue is a queue of waiters, oldest at the front. Waiters that left stay in it,
// marked gone, until they reach an end or the queue is compacted.
type waitQueue struct {
	items []*waiting
	head  int
	dead  int // gone waiters between head and the end
}

func (q *waitQueue) push(w *waiting) { q.items = append(q.items, w) }

func (q *waitQueue) live() int { return len(q.items) - q.head - q.dead }

// trim drops gone waiters from both ends, and compacts a queue that is mostly gone.
func (q *waitQueue) trim() {
	for q.head < len(q.items) && q.items[q.head].gone {
		q.items[q.head] = nil
		q.head++
		q.dead--
	}
	for n := len(q.items); n > q.head && q.items[n-1].gone; n = len(q.items) {
		q.items[n-1] = nil
		q.items = q.items[:n-1]
		q.dead--
	}
	if q.head == len(q.items) {
		q.items, q.head, q.dead = q.items[:0], 0, 0
		return
	}
	if q.dead > 32 && q.dead > q.live() {
		kept := q.items[:0]
		for _, w := range q.items[q.head:] {
			if !w.gone {
				kept = append(kept, w)
			}
		}
		clear(q.items[len(kept):])
		q.items, q.head, q.dead = kept, 0, 0
	}
}

// pop takes the oldest (lifo: the newest) live waiter off q.
func (q *waitQueue) pop(lifo bool) *waiting {
	q.trim()
	if q.head == len(q.items) {
		return nil
	}
	var w *waiting
	if lifo {
		w = q.items[len(q.items)-1]
		q.items[len(q.items)-1] = nil
		q.items = q.items[:len(q.items)-1]
	} else {
		w = q.items[q.head]
		q.items[q.head] = nil
		q.head++
	}
	return w
}

// front returns the oldest live waiter, or nil.
func (q *waitQueue) front() *waiting {
	q.trim()
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

// NewPermits returns the permits of a bulkhead configured by p, which must be valid:
// MaxConcurrent free permits and an empty queue.
func NewPermits(p policy.BulkheadPolicy) *Permits {
	ps := &Permits{cfg: p, tickets: map[uint64]*waiting{}}
	ps.limit.Store(int64(p.MaxConcurrent))
	ps.maxQueue.Store(int64(p.MaxQueue))
	return ps
}

// Config returns the configuration in force (the actor's).
func (ps *Permits) Config() policy.BulkheadPolicy { return ps.cfg }

// TryAcquire takes a permit without asking the actor and reports whether it could: a
// permit is free, nobody is queued (who would be first) and the bulkhead is not retired.
// Safe for concurrent use.
func (ps *Permits) TryAcquire() bool {
	for {
		w := ps.word.Load()
		if w&(queuedMask|retiredBit) != 0 || inFlightOf(w) >= ps.limit.Load() {
			return false
		}
		if ps.word.CompareAndSwap(w, w+1) {
			ps.admitted.Add(1)
			ps.noteInFlight(inFlightOf(w) + 1)
			return true
		}
	}
}

// noteInFlight raises MaxInFlight to n.
func (ps *Permits) noteInFlight(n int64) {
	for {
		m := ps.windowMax.Load()
		if n <= m || ps.windowMax.CompareAndSwap(m, n) {
			break
		}
	}
	for {
		m := ps.maxInFlight.Load()
		if n <= m || ps.maxInFlight.CompareAndSwap(m, n) {
			return
		}
	}
}

// TryRefuse refuses a caller TryAcquire turned away without asking the actor, when the
// bulkhead has no queue and is full, and counts the refusal; false means the caller must
// ask the actor (it may queue, a permit came free, or the bulkhead retired). notify is
// set for the first refusal the actor has not heard of: the caller tells the actor
// (messages.Release), which reports the saturation. Safe for concurrent use.
func (ps *Permits) TryRefuse() (refused, notify bool) {
	for {
		w := ps.word.Load()
		if w&retiredBit != 0 || ps.maxQueue.Load() != 0 || inFlightOf(w) < ps.limit.Load() {
			return false, false
		}
		if w&watchBit != 0 {
			ps.rejected.Add(1)
			return true, false
		}
		if ps.word.CompareAndSwap(w, w|watchBit) {
			ps.rejected.Add(1)
			return true, true
		}
	}
}

// watch sets or clears the watch bit: while it is set, every Release tells the actor.
func (ps *Permits) watch(on bool) {
	for {
		w := ps.word.Load()
		n := w &^ watchBit
		if on {
			n |= watchBit
		}
		if n == w || ps.word.CompareAndSwap(w, n) {
			return
		}
	}
}

// Release gives a permit back and reports whether callers are queued, in which case
// the actor must be told (messages.Release) to hand out the free permit. Call it exactly
// once per permit taken. Safe for concurrent use.
func (ps *Permits) Release() (wake bool) {
	w := ps.word.Add(^uint64(0)) // one permit less; the holder's permit keeps the count ≥ 0
	return w&(queuedMask|watchBit) != 0
}

// Acquire handles a caller that asks the actor for a permit at now: it is granted one
// when a permit is free and nobody is queued before it, queued when the queue has room,
// else refused (the refusal is counted).
func (ps *Permits) Acquire(now time.Time, ticket uint64, critical bool) (granted, queued bool) {
	for {
		w := ps.word.Load()
		if w&retiredBit != 0 {
			return false, false
		}
		if queuedOf(w) == 0 && inFlightOf(w) < ps.limit.Load() {
			if ps.word.CompareAndSwap(w, w+1) {
				ps.admitted.Add(1)
				ps.noteInFlight(inFlightOf(w) + 1)
				return true, false
			}
			continue
		}
		if queuedOf(w) >= int64(ps.cfg.MaxQueue) {
			ps.rejected.Add(1)
			return false, false
		}
		if ps.word.CompareAndSwap(w, w+queuedOne) {
			break
		}
	}
	wt := &waiting{ticket: ticket, arrived: now, critical: critical}
	if ps.cfg.MaxWait > 0 {
		wt.deadline = now.Add(ps.cfg.MaxWait)
	}
	ps.tickets[ticket] = wt
	if critical {
		ps.critical.push(wt)
	} else {
		ps.normal.push(wt)
	}
	return false, true
}

// Serve hands free permits to waiters, critical ones first, and returns their tickets
// (appended to into). A waiter is served only while InFlight < Limit.
func (ps *Permits) Serve(into []uint64) []uint64 {
	for {
		w := ps.word.Load()
		if queuedOf(w) == 0 || inFlightOf(w) >= ps.limit.Load() {
			return into
		}
		if !ps.word.CompareAndSwap(w, w+1-queuedOne) {
			continue
		}
		wt := ps.critical.pop(ps.cfg.LIFO)
		if wt == nil {
			wt = ps.normal.pop(ps.cfg.LIFO)
		}
		// The queued count is the number of live waiters, so there is one.
		wt.gone = true
		delete(ps.tickets, wt.ticket)
		ps.admitted.Add(1)
		ps.noteInFlight(inFlightOf(w) + 1)
		into = append(into, wt.ticket)
	}
}

// leave takes the live waiter wt out of its queue.
func (ps *Permits) leave(wt *waiting) {
	wt.gone = true
	delete(ps.tickets, wt.ticket)
	ps.word.Add(^uint64(queuedOne - 1)) // one waiter less
	q := &ps.normal
	if wt.critical {
		q = &ps.critical
	}
	q.dead++
	q.trim()
}

// Cancel drops the waiter behind ticket, whose caller gave up, and reports whether it
// was still queued.
func (ps *Permits) Cancel(ticket uint64) bool {
	wt, ok := ps.tickets[ticket]
	if !ok {
		return false
	}
	ps.leave(wt)
	return true
}

// Expire drops the waiters whose MaxWait has passed at now, counts them as refused and
// returns their tickets (appended to into).
func (ps *Permits) Expire(now time.Time, into []uint64) []uint64 {
	for _, q := range []*waitQueue{&ps.critical, &ps.normal} {
		for {
			wt := q.front()
			if wt == nil || wt.deadline.IsZero() || wt.deadline.After(now) {
				break
			}
			ps.leave(wt)
			ps.rejected.Add(1)
			into = append(into, wt.ticket)
		}
	}
	return into
}

// NextDue returns the earliest deadline of a queued waiter, if any has one. The oldest
// waiter of each queue has its earliest deadline: every waiter waits the same MaxWait.
func (ps *Permits) NextDue() (time.Time, bool) {
	var due time.Time
	for _, q := range []*waitQueue{&ps.critical, &ps.normal} {
		if wt := q.front(); wt != nil && !wt.deadline.IsZero() && (due.IsZero() || wt.deadline.Before(due)) {
			due = wt.deadline
		}
	}
	return due, !due.IsZero()
}

// Resize applies the configuration p (valid) at once: the new limit, queue bound and
// wait. Growing lets Serve admit waiters; shrinking interrupts nobody — no call is
// admitted until InFlight is below the new limit. Waiters keep their place; their
// deadlines follow the new MaxWait from their arrival. A queue longer than the new
// MaxQueue is not cut: only new callers are refused.
func (ps *Permits) Resize(p policy.BulkheadPolicy) {
	old := ps.cfg
	ps.cfg = p
	ps.limit.Store(int64(p.MaxConcurrent))
	ps.maxQueue.Store(int64(p.MaxQueue))
	if old.MaxWait == p.MaxWait {
		return
	}
	for _, wt := range ps.tickets {
		wt.deadline = time.Time{}
		if p.MaxWait > 0 {
			wt.deadline = wt.arrived.Add(p.MaxWait)
		}
	}
}

// takeWindowMax returns the most permits held since the last call and starts the next
// window at the permits held now.
func (ps *Permits) takeWindowMax() int64 {
	return ps.windowMax.Swap(inFlightOf(ps.word.Load()))
}

// Retire marks the bulkhead retired if it is idle — no permit held, nobody queued — and
// reports whether it did. From then on TryAcquire and Acquire refuse: the callers look
// the name up again.
func (ps *Permits) Retire() bool { return ps.word.CompareAndSwap(0, retiredBit) }

// Unretire undoes Retire when the actor decided to stay after all.
func (ps *Permits) Unretire() { ps.word.CompareAndSwap(retiredBit, 0) }

// ForceRetire marks the bulkhead retired whatever it holds (the actor is stopping):
// permits held are still given back, no new one is taken.
func (ps *Permits) ForceRetire() {
	for {
		w := ps.word.Load()
		if ps.word.CompareAndSwap(w, w|retiredBit) {
			return
		}
	}
}

// Retired reports whether Retire succeeded.
func (ps *Permits) Retired() bool { return ps.word.Load()&retiredBit != 0 }

// DropAll empties the queue (the actor is stopping) and returns the waiters' tickets.
func (ps *Permits) DropAll() []uint64 {
	var out []uint64
	for _, q := range []*waitQueue{&ps.critical, &ps.normal} {
		for {
			wt := q.pop(false)
			if wt == nil {
				break
			}
			out = append(out, wt.ticket)
		}
	}
	clear(ps.tickets)
	for {
		w := ps.word.Load()
		if ps.word.CompareAndSwap(w, w&^queuedMask) {
			return out
		}
	}
}

// Idle reports whether no permit is held and nobody waits.
func (ps *Permits) Idle() bool { return ps.word.Load()&(inFlightMask|queuedMask) == 0 }

// Saturated reports whether a caller arriving now would wait or be refused.
func (ps *Permits) Saturated() bool {
	w := ps.word.Load()
	return queuedOf(w) > 0 || inFlightOf(w) >= ps.limit.Load()
}

// Stats returns the permits and counters now. Safe for concurrent use.
func (ps *Permits) Stats() messages.BulkheadStats {
	w := ps.word.Load()
	return messages.BulkheadStats{
		Limit:       int(ps.limit.Load()),
		InFlight:    int(inFlightOf(w)),
		Queued:      int(queuedOf(w)),
		MaxInFlight: int(ps.maxInFlight.Load()),
		Admitted:    ps.admitted.Load(),
		Rejected:    ps.rejected.Load(),
	}
}

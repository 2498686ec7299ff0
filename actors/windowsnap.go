package actors

import "time"

// WindowSnapshot is a Window's outcomes, for CircuitSnapshot: plain data that
// round-trips through encoding/json. Count, Period and Buckets are the window's shape; a
// window of another shape cannot take the outcomes in and starts empty instead.
type WindowSnapshot struct {
	// Count, Period and Buckets are the resolved shape of the window.
	Count   int           `json:"count,omitempty"`
	Period  time.Duration `json:"period,omitempty"`
	Buckets int           `json:"buckets,omitempty"`
	// Seq is how many outcomes a count window recorded since its reset.
	Seq uint64 `json:"seq,omitempty"`
	// Marks are a count window's failures and slow calls, oldest first: each the
	// outcome's sequence number shifted left by 2, with bit 0 for a failure and bit 1 for
	// a slow call.
	Marks []uint64 `json:"marks,omitempty"`
	// Start is when a time window's bucket 0 began, and Current the newest bucket's index.
	Start   time.Time `json:"start,omitzero"`
	Current int64     `json:"current,omitempty"`
	// Slots are a time window's buckets, oldest first, ending with bucket Current.
	Slots []WindowCounts `json:"slots,omitempty"`
}

// Snapshot returns the window's outcomes.
func (w *Window) Snapshot() WindowSnapshot {
	s := WindowSnapshot{Count: w.cfg.Count, Period: w.cfg.Period, Buckets: w.cfg.Buckets}
	if w.cfg.Timed() {
		r := &w.time
		s.Start, s.Current = r.start, r.cur
		n := len(r.b)
		s.Slots = make([]WindowCounts, n)
		for i := range n {
			b := r.b[(r.pos+1+i)%n]
			s.Slots[i] = WindowCounts{Calls: b.calls, Failures: b.failures, SlowCalls: b.slow}
		}
		return s
	}
	r := &w.count
	s.Seq = r.seq
	for i := range r.n {
		s.Marks = append(s.Marks, r.bad[(r.head+i)%len(r.bad)])
	}
	return s
}

// Restore replaces the window's outcomes with s's when s has the window's shape, and
// empties the window at now otherwise.
func (w *Window) Restore(s WindowSnapshot, now time.Time) {
	if s.Count != w.cfg.Count || s.Period != w.cfg.Period || s.Buckets != w.cfg.Buckets {
		w.Reset(now)
		return
	}
	if w.cfg.Timed() {
		r := &w.time
		n := len(r.b)
		if len(s.Slots) != n {
			r.reset(now)
			return
		}
		r.reset(s.Start)
		r.cur = s.Current
		r.pos = int(((s.Current % int64(n)) + int64(n)) % int64(n))
		for i, b := range s.Slots {
			r.b[(r.pos+1+i)%n] = bucket{calls: b.Calls, failures: b.Failures, slow: b.SlowCalls}
			r.total.calls += b.Calls
			r.total.failures += b.Failures
			r.total.slow += b.SlowCalls
		}
		return
	}
	r := &w.count
	r.reset()
	if len(s.Marks) > len(r.bad) {
		return
	}
	r.seq = s.Seq
	for i, e := range s.Marks {
		r.bad[i] = e
		if e&badFailure != 0 {
			r.failures++
		}
		if e&badSlow != 0 {
			r.slow++
		}
	}
	r.n = len(s.Marks)
}

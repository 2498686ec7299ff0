package actors

import "time"

// TransitionReason says why a breaker changed state, or which threshold a window met. Its
// String is the Reason of a BreakerStateChanged event (specs/breadth.md CB-13). The zero
// value, NoReason, means no threshold is met and nothing changed.
type TransitionReason int

// Reasons for a state change. A Window gives ReasonFailureCount, ReasonFailureRate and
// ReasonSlowCallRate; Probes give ReasonProbeFailed and ReasonProbesSucceeded; the others
// are the Circuit's own.
const (
	// NoReason: no threshold is met.
	NoReason TransitionReason = iota
	// ReasonConsecutiveFailures: FailureThreshold failures in a row (consecutive mode).
	ReasonConsecutiveFailures
	// ReasonFailureCount: the window holds FailureThreshold failures and MinimumCalls
	// calls (count-in-window mode, FailureRate 0).
	ReasonFailureCount
	// ReasonFailureRate: the window's failure rate reached FailureRate (rate mode).
	ReasonFailureRate
	// ReasonSlowCallRate: the window's slow-call rate reached SlowCallRate.
	ReasonSlowCallRate
	// ReasonProbeFailed: the half-open probes made reopening certain.
	ReasonProbeFailed
	// ReasonProbeTimeout: no verdict within MaxHalfOpen (CB-9).
	ReasonProbeTimeout
	// ReasonProbesSucceeded: the half-open probes made closing certain.
	ReasonProbesSucceeded
	// ReasonManual: ForceOpen, DisableBreaker, MetricsOnly or ResetBreaker.
	ReasonManual
	// ReasonRecoveryElapsed: the open delay passed and the breaker went half-open.
	ReasonRecoveryElapsed
)

// String returns the reason's event name, such as "failure_rate"; "none" for NoReason.
func (r TransitionReason) String() string {
	switch r {
	case NoReason:
		return "none"
	case ReasonConsecutiveFailures:
		return "consecutive_failures"
	case ReasonFailureCount:
		return "failure_count"
	case ReasonFailureRate:
		return "failure_rate"
	case ReasonSlowCallRate:
		return "slow_call_rate"
	case ReasonProbeFailed:
		return "probe_failed"
	case ReasonProbeTimeout:
		return "probe_timeout"
	case ReasonProbesSucceeded:
		return "probes_succeeded"
	case ReasonManual:
		return "manual"
	case ReasonRecoveryElapsed:
		return "recovery_elapsed"
	}
	return "unknown"
}

// WindowConfig is what a Window needs from a window-mode CircuitBreakerPolicy: the window's
// shape and the closed-state thresholds. Exactly one of Count and Period should be set
// (Period wins when both are). Its zero fields mean the defaults of specs/breadth.md CB-2,
// which Resolve fills in; NewWindow and NewProbes resolve their configuration themselves,
// and Judge expects a resolved one. A WindowConfig is a plain value, safe to copy and share.
type WindowConfig struct {
	// Count sizes a count window: it holds the last Count counted outcomes.
	Count int
	// Period sizes a time window: it holds the outcomes completed in the last Period.
	Period time.Duration
	// Buckets is a time window's resolution; 0 means 10. Ignored for count windows.
	Buckets int
	// FailureThreshold is the minimum number of failures in the window that can trip it;
	// below 1 means 1.
	FailureThreshold int
	// FailureRate in (0, 1] selects rate mode: failures/calls must also reach it. 0 selects
	// count-in-window mode: FailureThreshold failures trip the window on their own.
	FailureRate float64
	// MinimumCalls is how many calls the window must hold before any threshold is judged;
	// 0 means Count for count windows and max(FailureThreshold, 10) for time windows. A
	// count window's MinimumCalls above Count is lowered to Count (a fuller window never
	// exists).
	MinimumCalls int
	// SlowCall says whether slow calls are judged (the policy's SlowCall > 0).
	SlowCall bool
	// SlowCallRate in (0, 1] is the slow-call rate that trips the window; 0 with SlowCall
	// means 1. Ignored without SlowCall.
	SlowCallRate float64
}

// DefaultBuckets is a time window's number of buckets when WindowConfig.Buckets is 0.
const DefaultBuckets = 10

// defaultTimeMinimumCalls is the floor of a time window's default MinimumCalls.
const defaultTimeMinimumCalls = 10

// Resolve returns c with its defaults filled in (specs/breadth.md CB-2): FailureThreshold
// below 1 becomes 1; for a time window (Period > 0) Count becomes 0, Buckets 0 becomes
// DefaultBuckets and MinimumCalls 0 becomes max(FailureThreshold, 10); for a count window
// Count below 1 becomes 1, Buckets becomes 0 and MinimumCalls 0 (or above Count) becomes
// Count; SlowCallRate 0 with SlowCall becomes 1, and SlowCallRate becomes 0 without
// SlowCall. Resolve is idempotent.
func (c WindowConfig) Resolve() WindowConfig {
	c.FailureThreshold = max(c.FailureThreshold, 1)
	if c.Period > 0 {
		c.Count = 0
		if c.Buckets <= 0 {
			c.Buckets = DefaultBuckets
		}
		if c.MinimumCalls <= 0 {
			c.MinimumCalls = max(c.FailureThreshold, defaultTimeMinimumCalls)
		}
	} else {
		c.Period, c.Buckets = 0, 0
		c.Count = max(c.Count, 1)
		if c.MinimumCalls <= 0 || c.MinimumCalls > c.Count {
			c.MinimumCalls = c.Count
		}
	}
	switch {
	case !c.SlowCall:
		c.SlowCallRate = 0
	case c.SlowCallRate <= 0:
		c.SlowCallRate = 1
	}
	return c
}

// Timed reports whether c describes a time window (Period > 0) rather than a count window.
func (c WindowConfig) Timed() bool { return c.Period > 0 }

// Judge returns the threshold that counts n meet under the resolved configuration c, or
// NoReason (specs/breadth.md CB-1, CB-3, CB-4). Nothing is judged below MinimumCalls.
// Then, in count-in-window mode, FailureThreshold failures give ReasonFailureCount; in rate
// mode FailureThreshold failures and failures/calls ≥ FailureRate give ReasonFailureRate;
// and with SlowCall, slow/calls ≥ SlowCallRate gives ReasonSlowCallRate whatever the
// failures say. When both failures and slow calls meet their thresholds the failure reason
// wins. Every comparison is inclusive, and a rate exactly equal to its threshold meets it
// (see rateAtLeast).
func (c WindowConfig) Judge(n WindowCounts) TransitionReason {
	if n.Calls == 0 || n.Calls < uint64(c.MinimumCalls) {
		return NoReason
	}
	if n.Failures >= uint64(c.FailureThreshold) {
		if c.FailureRate == 0 {
			return ReasonFailureCount
		}
		if rateAtLeast(n.Failures, n.Calls, c.FailureRate) {
			return ReasonFailureRate
		}
	}
	if c.SlowCall && rateAtLeast(n.SlowCalls, n.Calls, c.SlowCallRate) {
		return ReasonSlowCallRate
	}
	return NoReason
}

// rateAtLeast reports whether part/whole ≥ rate, for whole > 0, without drift at
// equality. It compares the correctly rounded IEEE-754 quotient with rate, never
// part ≥ rate·whole: a rate the user wrote as a decimal, like 0.3, is stored as the double
// nearest to it, and when part/whole equals that decimal exactly the division rounds to the
// very same double, so equality holds (0.3·10 is 3.0000000000000004 > 3, and 3/10 is 0.3).
// Rounding is monotone, so a larger ratio never compares below a smaller one; and two
// distinct ratios of counts below 2^26 differ by more than 1/whole² ≫ one ulp, so for rates
// with up to six decimals the comparison is exact for any window of practical size.
func rateAtLeast(part, whole uint64, rate float64) bool {
	return float64(part)/float64(whole) >= rate
}

// WindowCounts are the outcomes a window holds at a moment: every counted call, the
// failures among them, and the slow calls among them (slow successes and slow failures).
type WindowCounts struct {
	// Calls counts successes and failures; ignored outcomes never enter a window.
	Calls uint64
	// Failures counts failed calls, slow or not.
	Failures uint64
	// SlowCalls counts calls that took longer than SlowCall, successful or not.
	SlowCalls uint64
}

// FailureRate returns Failures/Calls, or 0 when the window holds no call.
func (n WindowCounts) FailureRate() float64 { return ratio(n.Failures, n.Calls) }

// SlowCallRate returns SlowCalls/Calls, or 0 when the window holds no call.
func (n WindowCounts) SlowCallRate() float64 { return ratio(n.SlowCalls, n.Calls) }

func ratio(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Window is the closed-state sliding window of a window-mode circuit breaker
// (specs/breadth.md CB-1…CB-7): a count window holds the last Count counted outcomes in
// the order they were recorded; a time window holds Buckets buckets of width
// w = Period/Buckets, aligned to multiples of w since the window was created or last
// reset at t0, and an outcome recorded at t falls in bucket ⌊(t−t0)/w⌋; at now the window
// holds the last Buckets buckets, the current one included. So an outcome counts for at
// least Buckets·w − w and at most Buckets·w after it was recorded (Buckets·w is Period when
// Buckets divides it). Ignored outcomes are never recorded.
//
// Every record costs O(1) amortised and allocates nothing, a batch of n successes
// included (RecordSuccesses does not loop over them); a time window expires old buckets
// lazily, when it is next used, at a cost bounded by Buckets. Each record returns the
// threshold the window meets afterwards (Judge), so the caller trips the breaker at the
// exact outcome that meets it.
//
// Methods take the current time and never read the clock (a count window ignores it).
// The zero value is not usable; build one with NewWindow. A Window is not safe for
// concurrent use: the Breaker actor is its only user.
type Window struct {
	cfg   WindowConfig
	count countRing  // count windows
	time  bucketRing // time windows
}

// NewWindow returns an empty window configured by cfg (resolved by NewWindow itself, see
// Resolve) whose time buckets, for a time window, start at now.
func NewWindow(cfg WindowConfig, now time.Time) *Window {
	w := &Window{}
	w.shape(cfg.Resolve(), now)
	return w
}

// shape sizes the window for the resolved cfg and empties it.
func (w *Window) shape(cfg WindowConfig, now time.Time) {
	w.cfg = cfg
	if cfg.Timed() {
		w.count = countRing{}
		w.time.init(cfg.Period, cfg.Buckets, now)
		return
	}
	w.time = bucketRing{}
	w.count.init(cfg.Count)
}

// Config returns the window's resolved configuration.
func (w *Window) Config() WindowConfig { return w.cfg }

// Reconfigure changes the thresholds to cfg's (resolved). When the window's shape (Count,
// or Period and Buckets) is unchanged it keeps every outcome it holds; otherwise it starts
// empty at now, since outcomes cannot be moved into buckets or a ring of another size. The
// caller should Evaluate afterwards: new thresholds may already be met.
func (w *Window) Reconfigure(cfg WindowConfig, now time.Time) {
	cfg = cfg.Resolve()
	old := w.cfg
	if cfg.Count == old.Count && cfg.Period == old.Period && cfg.Buckets == old.Buckets {
		w.cfg = cfg
		return
	}
	w.shape(cfg, now)
}

// Reset empties the window; a time window's buckets start again at now. A breaker resets
// its window when it closes and on ResetBreaker.
func (w *Window) Reset(now time.Time) {
	if w.cfg.Timed() {
		w.time.reset(now)
		return
	}
	w.count.reset()
}

// Record adds one counted outcome at now — a failure or a success, slow or not — and
// returns the threshold the window then meets (Judge), or NoReason. A slow outcome counts
// toward the slow-call rate whether it failed or not; a slow success is still a success
// for the failure rate. In a time window an outcome recorded before the current bucket
// goes into its own bucket while that is still in the window, and is dropped otherwise; a
// time before the window's start counts as its start.
func (w *Window) Record(now time.Time, failure, slow bool) TransitionReason {
	if w.cfg.Timed() {
		w.time.add(now, 1, failure, slow)
		return w.cfg.Judge(w.time.totals())
	}
	w.count.add(failure, slow)
	return w.cfg.Judge(w.count.counts())
}

// RecordSuccesses adds n fast successes at now, in O(1) amortised whatever n (callers
// count closed-state successes without a message and the actor folds them in by the
// batch), and returns the threshold the window then meets, or NoReason. With n 0 it only
// judges the window. As with Record, a time before the current bucket files them in
// their own bucket (see NextBoundary).
func (w *Window) RecordSuccesses(now time.Time, n uint64) TransitionReason {
	if w.cfg.Timed() {
		if n > 0 {
			w.time.add(now, n, false, false)
		}
		return w.cfg.Judge(w.time.counts(now))
	}
	w.count.addSuccesses(n)
	return w.cfg.Judge(w.count.counts())
}

// Counts returns the outcomes the window holds at now.
func (w *Window) Counts(now time.Time) WindowCounts {
	if w.cfg.Timed() {
		return w.time.counts(now)
	}
	return w.count.counts()
}

// Evaluate returns the threshold the window meets at now, or NoReason. Records judge the
// window themselves; Evaluate is for the moments when the window changes without one: a
// time window's buckets expiring (at NextExpiry), which can raise a rate, and Reconfigure.
func (w *Window) Evaluate(now time.Time) TransitionReason { return w.cfg.Judge(w.Counts(now)) }

// SuccessesCanTrip reports whether fast successes alone, with no failure and no slow call
// among them, could trip the window at now (specs/breadth.md CB-7). While it is true the
// breaker must hear of every success by message, so that the success that trips it is
// applied before the next call is admitted; while it is false callers may count successes
// on the shared counter the actor folds in later, because no run of successes can trip it.
//
// A fast success raises no rate, it can only complete MinimumCalls, and every further
// success lowers the rates (or, in a full count window, evicts an older outcome, which
// lowers them as well). So the run most likely to trip is the shortest that reaches
// MinimumCalls (at least one success), and SuccessesCanTrip judges the window after exactly
// that run. Asking only whether the next single success trips is not enough: with Count 4,
// FailureRate 0.5 and outcomes F, F, the next success leaves 3 calls, below MinimumCalls,
// yet S, S trips; a caller that counted the first S on the counter would find the view
// unchanged and count the second there too, and a fifth call would run.
//
// In a time window the answer holds until NextExpiry, when expiry changes the counts; the
// actor re-evaluates then.
func (w *Window) SuccessesCanTrip(now time.Time) bool {
	var n WindowCounts
	if w.cfg.Timed() {
		n = w.time.counts(now)
	} else {
		n = w.count.counts()
	}
	k := uint64(1)
	if m := uint64(w.cfg.MinimumCalls); n.Calls+1 < m {
		k = m - n.Calls
	}
	if w.cfg.Timed() {
		n.Calls += k
	} else {
		n = w.count.countsAfter(k)
	}
	return w.cfg.Judge(n) != NoReason
}

// NextBoundary returns the start of the time window's next bucket after now (ok false for
// a count window). Successes counted on the side carry no time: the actor learns of them
// when it drains the counter, and files them under the time it passes to RecordSuccesses.
// To keep them in the bucket they completed in, the actor ticks at each boundary while
// such successes may be pending and drains them there as of the instant before the
// boundary (RecordSuccesses(boundary-1ns, n)), which lands them in the bucket that just
// ended.
func (w *Window) NextBoundary(now time.Time) (at time.Time, ok bool) {
	if !w.cfg.Timed() {
		return time.Time{}, false
	}
	r := &w.time
	return r.start.Add(time.Duration(r.index(now)+1) * r.width), true
}

// NextExpiry returns the next time after now at which a time window's counts change by
// expiry alone: the end of the oldest bucket that holds a call (a bucket boundary). Expiry
// can raise a rate and can change SuccessesCanTrip, so the actor arms a timer for it and
// then Evaluates. ok is false for a count window and for an empty time window, which no
// expiry can change; the timer is then not needed until the next record.
func (w *Window) NextExpiry(now time.Time) (at time.Time, ok bool) {
	if !w.cfg.Timed() {
		return time.Time{}, false
	}
	return w.time.nextExpiry(now)
}

// countRing is a count window of size outcomes. Successes make up most of them and cost
// no space: the ring keeps the sequence numbers of the failures and slow calls only, in
// the order they were recorded, so a batch of successes is one addition and the outcomes
// it pushes out are found at the ring's head.
type countRing struct {
	size uint64
	seq  uint64   // outcomes recorded since the reset; the window holds [seq-size, seq)
	bad  []uint64 // seq<<2 | flags of each failure or slow call in the window, oldest first
	head int      // index of the oldest entry of bad
	n    int      // entries in bad

	failures, slow uint64 // among the entries
}

// Flags of a countRing entry.
const (
	badFailure = 1 << iota
	badSlow
	badShift = iota
)

func (r *countRing) init(size int) {
	r.size = uint64(size)
	if cap(r.bad) >= size {
		r.bad = r.bad[:size]
	} else {
		r.bad = make([]uint64, size)
	}
	r.reset()
}

func (r *countRing) reset() {
	r.seq, r.head, r.n, r.failures, r.slow = 0, 0, 0, 0, 0
}

func (r *countRing) counts() WindowCounts {
	return WindowCounts{Calls: min(r.seq, r.size), Failures: r.failures, SlowCalls: r.slow}
}

// add records one outcome.
func (r *countRing) add(failure, slow bool) {
	at := r.seq
	r.seq++
	r.expire()
	if !failure && !slow {
		return
	}
	e := at << badShift
	if failure {
		e |= badFailure
		r.failures++
	}
	if slow {
		e |= badSlow
		r.slow++
	}
	i := r.head + r.n
	if i >= len(r.bad) {
		i -= len(r.bad)
	}
	r.bad[i] = e
	r.n++
}

// addSuccesses records n fast successes.
func (r *countRing) addSuccesses(n uint64) {
	if n == 0 {
		return
	}
	r.seq += n
	if r.seq < n { // 2^64 outcomes: the window is all successes
		r.seq = r.size
		r.head, r.n, r.failures, r.slow = 0, 0, 0, 0
		return
	}
	r.expire()
}

// expire drops the entries that fell out of the window.
func (r *countRing) expire() {
	if r.seq <= r.size {
		return
	}
	low := r.seq - r.size
	for r.n > 0 {
		e := r.bad[r.head]
		if e>>badShift >= low {
			return
		}
		r.uncount(e)
		r.head++
		if r.head == len(r.bad) {
			r.head = 0
		}
		r.n--
	}
}

func (r *countRing) uncount(e uint64) {
	if e&badFailure != 0 {
		r.failures--
	}
	if e&badSlow != 0 {
		r.slow--
	}
}

// countsAfter returns the counts the window would hold after k more fast successes,
// without changing it.
func (r *countRing) countsAfter(k uint64) WindowCounts {
	seq := r.seq + k
	n := WindowCounts{Calls: min(seq, r.size), Failures: r.failures, SlowCalls: r.slow}
	if seq <= r.size {
		return n
	}
	low := seq - r.size
	for i, j := 0, r.head; i < r.n; i++ {
		e := r.bad[j]
		if e>>badShift >= low {
			break
		}
		if e&badFailure != 0 {
			n.Failures--
		}
		if e&badSlow != 0 {
			n.SlowCalls--
		}
		if j++; j == len(r.bad) {
			j = 0
		}
	}
	return n
}

// bucket holds the outcomes of one slice of a time window.
type bucket struct{ calls, failures, slow uint64 }

// bucketRing is a time window: len(b) buckets of width, the newest of absolute index cur
// (buckets count from start) in slot pos = cur mod len(b), and the running total of them
// all.
type bucketRing struct {
	start  time.Time
	width  time.Duration
	b      []bucket
	cur    int64
	pos    int
	oldest int64 // no bucket older than this holds a call
	total  bucket

	seen    time.Time // the last time index converted, and its bucket
	seenIdx int64
}

func (r *bucketRing) init(period time.Duration, buckets int, now time.Time) {
	r.width = max(period/time.Duration(buckets), 1)
	if cap(r.b) >= buckets {
		r.b = r.b[:buckets]
	} else {
		r.b = make([]bucket, buckets)
	}
	r.reset(now)
}

func (r *bucketRing) reset(now time.Time) {
	clear(r.b)
	r.start, r.cur, r.pos, r.oldest, r.total = now, 0, 0, 0, bucket{}
	r.seen, r.seenIdx = now, 0
}

// index returns the absolute bucket of time t; a time before the start counts in the
// first bucket. The actor asks about the same now several times per message, so the last
// answer is kept (== on time.Time is exact here: equal fields give equal buckets).
func (r *bucketRing) index(t time.Time) int64 {
	if t == r.seen {
		return r.seenIdx
	}
	i := int64(0)
	if d := t.Sub(r.start); d > 0 {
		i = int64(d / r.width)
	}
	r.seen, r.seenIdx = t, i
	return i
}

// advance makes the bucket of now the newest, emptying those that left the window.
func (r *bucketRing) advance(now time.Time) { r.advanceTo(r.index(now)) }

// advanceTo makes bucket i the newest, if it is newer.
func (r *bucketRing) advanceTo(i int64) {
	if i <= r.cur {
		return
	}
	n := int64(len(r.b))
	if i-r.cur >= n {
		clear(r.b)
		r.total = bucket{}
		r.cur, r.pos = i, int(i%n)
		return
	}
	for r.cur < i {
		r.cur++
		if r.pos++; r.pos == len(r.b) {
			r.pos = 0
		}
		s := &r.b[r.pos]
		r.total.calls -= s.calls
		r.total.failures -= s.failures
		r.total.slow -= s.slow
		*s = bucket{}
	}
}

// add records calls outcomes at t, all failures or all not, all slow or all not.
func (r *bucketRing) add(t time.Time, calls uint64, failure, slow bool) {
	i := r.index(t)
	r.advanceTo(i)
	back := r.cur - i // 0 unless t is before the newest bucket
	if back >= int64(len(r.b)) {
		return // already expired
	}
	slot := r.pos - int(back)
	if slot < 0 {
		slot += len(r.b)
	}
	s := &r.b[slot]
	s.calls += calls
	r.total.calls += calls
	if failure {
		s.failures += calls
		r.total.failures += calls
	}
	if slow {
		s.slow += calls
		r.total.slow += calls
	}
	r.oldest = min(r.oldest, i)
}

func (r *bucketRing) counts(now time.Time) WindowCounts {
	r.advance(now)
	return r.totals()
}

// totals returns the counts as of the newest bucket.
func (r *bucketRing) totals() WindowCounts {
	return WindowCounts{Calls: r.total.calls, Failures: r.total.failures, SlowCalls: r.total.slow}
}

// nextExpiry returns when the oldest bucket holding a call leaves the window.
func (r *bucketRing) nextExpiry(now time.Time) (time.Time, bool) {
	r.advance(now)
	if r.total.calls == 0 {
		return time.Time{}, false
	}
	n := int64(len(r.b))
	i := max(r.oldest, r.cur-n+1)
	for ; i <= r.cur; i++ {
		if r.b[int(i%n)].calls > 0 {
			break
		}
	}
	r.oldest = i
	return r.start.Add(time.Duration(i+n) * r.width), true
}

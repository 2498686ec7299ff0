package actors

import (
	"math"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// Bucket is the token-bucket state machine behind a rate limiter: it holds up to Burst
// tokens and gains RequestsPerSecond tokens a second. In wait mode (MaxWait > 0) callers
// that find no token queue in FIFO order, critical callers ahead of the others.
//
// A limiter hands whole tokens out in advance to a lock-free pool that callers draw
// from without asking the actor (see LimiterLink); every method that refills takes the
// number of tokens still outstanding in that pool. Tokens sitting in the pool count as
// tokens in the bucket, so the bucket stops filling while the pool is full. Callers
// take pool tokens at times the bucket does not see, so it assumes the worst — that
// they were taken as late as possible: until the moment the pool was seen to drain
// (NoteDrained), or until now, the bucket fills only up to Burst minus the pool it
// last handed out. So over any window of length w at most Burst + rate·w calls are
// admitted, even after the pool sat full through a long idle period.
//
// Methods take the current time and never read the clock. The zero value is not usable;
// build one with NewBucket. A Bucket is not safe for concurrent use: the Limiter actor is
// its only user.
type Bucket struct {
	cfg    policy.RateLimitPolicy
	rate   float64
	burst  float64
	tokens float64
	last   time.Time

	queue []Waiter

	poolSeen int64     // pool size when the bucket last looked at it or added to it
	drained  time.Time // when the pool was last seen to run empty (zero: unknown)
	filled   time.Time // when the bucket was last within one token of its ceiling

	granted, released, rejected uint64

	// frozen: the bucket earns nothing with time; its tokens come only from Deposit (a
	// cluster replica holding the owner's leases).
	frozen bool
}

// Waiter is a caller queued in a Bucket for a token.
type Waiter struct {
	// Ticket identifies the caller's request.
	Ticket uint64
	// Critical waiters go ahead of non-critical ones.
	Critical bool
	// Deadline is when the caller gives up (zero: never).
	Deadline time.Time

	expires time.Time // when its MaxWait ends, set when it joins the queue
}

// NewBucket returns a full bucket configured by p (which must be valid) at time now.
func NewBucket(p policy.RateLimitPolicy, now time.Time) *Bucket {
	b := &Bucket{last: now}
	b.Reconfigure(p, now, 0)
	b.tokens = b.burst
	return b
}

// Reconfigure changes rate, burst and wait mode in place, keeping the tokens it has (cut
// to the new burst). Queued waiters stay queued.
func (b *Bucket) Reconfigure(p policy.RateLimitPolicy, now time.Time, outstanding int64) {
	b.refill(now, outstanding)
	b.cfg = p
	b.rate = p.RequestsPerSecond
	b.burst = float64(p.EffectiveBurst())
	b.tokens = math.Min(b.tokens, math.Max(0, b.burst-float64(outstanding)))
}

// Config returns the bucket's configuration.
func (b *Bucket) Config() policy.RateLimitPolicy { return b.cfg }

// Tokens returns the tokens in the bucket itself (not counting those handed out to the
// lock-free pool) as of the last refill.
func (b *Bucket) Tokens() float64 { return b.tokens }

// Waiting returns the number of queued waiters.
func (b *Bucket) Waiting() int { return len(b.queue) }

// Full reports whether the bucket, with the outstanding pool, holds Burst tokens at now
// and nobody waits: a limiter in that state has nothing worth keeping.
func (b *Bucket) Full(now time.Time, outstanding int64) bool {
	b.refill(now, outstanding)
	return len(b.queue) == 0 && b.tokens+float64(outstanding) >= b.burst
}

// Counters returns how many tokens were granted to queued or asking callers, released
// to the lock-free pool, and how many requests were rejected.
func (b *Bucket) Counters() (granted, released, rejected uint64) {
	return b.granted, b.released, b.rejected
}

// ObserveRejections adds n calls that callers refused from the published view.
func (b *Bucket) ObserveRejections(n uint64) { b.rejected += n }

// NoteDrained records that the pool ran empty at t (its last token was taken then).
func (b *Bucket) NoteDrained(t time.Time) {
	if t.After(b.drained) {
		b.drained = t
	}
}

// refill adds the tokens earned since the last refill. While the pool held tokens the
// bucket was, for all it knows, fuller by that many: it earns only up to Burst minus the
// pool it last saw, until the pool's drain time if the pool is empty and that is known.
func (b *Bucket) refill(now time.Time, outstanding int64) {
	if outstanding == 0 && b.poolSeen > 0 && !b.drained.Before(b.last) && !b.drained.After(now) {
		b.accrue(b.drained, b.burst-float64(b.poolSeen))
		b.poolSeen = 0
	}
	b.accrue(now, b.burst-float64(max(b.poolSeen, outstanding)))
	b.poolSeen = outstanding
}

// accrue earns tokens from b.last to t, the bucket holding at most ceiling.
func (b *Bucket) accrue(t time.Time, ceiling float64) {
	if t.After(b.last) {
		if !b.frozen {
			b.tokens += t.Sub(b.last).Seconds() * b.rate
		}
		b.last = t
	}
	if b.tokens > ceiling {
		b.tokens = math.Max(0, ceiling)
	}
	if b.tokens > ceiling-1 {
		b.filled = b.last // no room for a refunded token: see Refund
	}
}

// wait returns how long until the bucket holds n tokens at the current rate.
func (b *Bucket) wait(n float64) time.Duration {
	missing := n - b.tokens
	if missing <= 0 {
		return 0
	}
	secs := missing / b.rate
	if secs >= float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// Acquire asks for one token at now for w. It returns granted true when a token was
// taken; queued true when w joined the wait queue (wait mode); otherwise the request is
// rejected and retryAfter says how long until a token may be free. A wait that would
// pass MaxWait or w.Deadline is rejected at once.
func (b *Bucket) Acquire(now time.Time, w Waiter, outstanding int64) (granted, queued bool, retryAfter time.Duration) {
	b.refill(now, outstanding)
	if len(b.queue) == 0 && b.tokens >= 1 {
		b.tokens--
		b.granted++
		return true, false, 0
	}
	pos := len(b.queue)
	if w.Critical {
		pos = 0
		for pos < len(b.queue) && b.queue[pos].Critical {
			pos++
		}
	}
	wait := b.wait(float64(pos + 1))
	if b.cfg.MaxWait <= 0 || wait > b.cfg.MaxWait || (!w.Deadline.IsZero() && now.Add(wait).After(w.Deadline)) {
		b.rejected++
		return false, false, wait
	}
	// Critical callers may join ahead of w later and push its token back: MaxWait,
	// the longest a call waits, is kept by refusing w when it ends (see Due).
	w.expires = now.Add(b.cfg.MaxWait)
	b.queue = append(b.queue, Waiter{})
	copy(b.queue[pos+1:], b.queue[pos:])
	b.queue[pos] = w
	return false, true, 0
}

// Due refills at now and hands tokens to queued waiters in order. It returns the
// tickets granted, and those dropped because their deadline or their MaxWait passed
// (rejected). Both have left the queue: the caller must answer every one of them.
func (b *Bucket) Due(now time.Time, outstanding int64) (granted, expired []uint64) {
	b.refill(now, outstanding)
	kept := b.queue[:0]
	for _, w := range b.queue {
		switch {
		case len(kept) == 0 && b.tokens >= 1:
			b.tokens--
			b.granted++
			granted = append(granted, w.Ticket)
		case !w.Deadline.IsZero() && !now.Before(w.Deadline), !now.Before(w.expires):
			b.rejected++
			expired = append(expired, w.Ticket)
		default:
			kept = append(kept, w)
		}
	}
	clear(b.queue[len(kept):])
	b.queue = kept
	return granted, expired
}

// NextDue returns how long after the last refill Due has work: the head waiter's token
// is due or a waiter's MaxWait ends, whichever comes first; false when nobody waits.
func (b *Bucket) NextDue() (time.Duration, bool) {
	if len(b.queue) == 0 {
		return 0, false
	}
	d := b.wait(1)
	for _, w := range b.queue {
		d = min(d, max(w.expires.Sub(b.last), 0))
	}
	return d, true
}

// NextToken returns when the bucket will next hold a whole token, as of the last refill.
func (b *Bucket) NextToken() time.Time {
	return b.last.Add(b.wait(1))
}

// Release takes every whole token out of the bucket for the lock-free pool and returns
// how many, provided nobody waits (waiters are served first).
func (b *Bucket) Release(now time.Time, outstanding int64) int64 {
	b.refill(now, outstanding)
	if len(b.queue) > 0 || b.tokens < 1 {
		return 0
	}
	n := math.Floor(b.tokens)
	if n > float64(math.MaxInt32) {
		n = float64(math.MaxInt32)
	}
	b.tokens -= n
	b.released += uint64(n)
	b.poolSeen += int64(n)
	return int64(n)
}

// Reclaim puts back n tokens taken back from the lock-free pool (n ≤ released), which
// is now empty.
func (b *Bucket) Reclaim(n int64) {
	b.poolSeen = 0
	if n <= 0 {
		return
	}
	b.tokens += float64(n)
	b.released -= uint64(n)
}

// Cancel removes the waiter with ticket from the queue and reports whether it was there.
func (b *Bucket) Cancel(ticket uint64) bool {
	for i, w := range b.queue {
		if w.Ticket == ticket {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return true
		}
	}
	return false
}

// Refund returns a token granted at grantedAt whose caller gave up before using it. It
// is kept only if the bucket stayed more than one token below its ceiling since the
// grant: then the bucket and pool never held more than Burst − 1 meanwhile, and the
// returned token cannot let more than Burst + rate·w through. Otherwise the room the
// token left has been filled already and it is dropped. Either way it no longer counts
// as granted.
func (b *Bucket) Refund(now time.Time, outstanding int64, grantedAt time.Time) {
	b.refill(now, outstanding)
	if b.granted > 0 {
		b.granted--
	}
	if b.filled.After(grantedAt) {
		return
	}
	b.tokens = math.Min(b.tokens+1, math.Max(0, b.burst-float64(outstanding)))
}

// DropAll empties the queue and returns the tickets that were waiting.
func (b *Bucket) DropAll() []uint64 {
	out := make([]uint64, len(b.queue))
	for i, w := range b.queue {
		out[i] = w.Ticket
	}
	b.queue = b.queue[:0]
	return out
}

// BucketSnapshot is a Bucket's state and counters, without its configuration: what an
// owner hands to the next one (cluster mode) so the limiter goes on where it was. It is
// plain data and round-trips through encoding/json.
type BucketSnapshot struct {
	// Tokens is the bucket's tokens (the pool's not counted) as of Last.
	Tokens float64 `json:"tokens"`
	// Last is when the bucket last refilled.
	Last time.Time `json:"last"`
	// Queue is the wait queue, head first.
	Queue []WaiterSnapshot `json:"queue,omitempty"`
	// PoolSeen, Drained and Filled are what the bucket knows of the lock-free pool: the
	// pool size it last saw, when the pool was last seen to run empty, and when the bucket
	// was last within one token of its ceiling.
	PoolSeen int64     `json:"pool_seen"`
	Drained  time.Time `json:"drained"`
	Filled   time.Time `json:"filled"`

	// Granted, Released and Rejected are the counters of Counters.
	Granted  uint64 `json:"granted"`
	Released uint64 `json:"released"`
	Rejected uint64 `json:"rejected"`
}

// WaiterSnapshot is a queued Waiter, with the time its MaxWait ends.
type WaiterSnapshot struct {
	// Ticket, Critical and Deadline are the Waiter's.
	Ticket   uint64    `json:"ticket"`
	Critical bool      `json:"critical,omitempty"`
	Deadline time.Time `json:"deadline"`
	// Expires is when the waiter's MaxWait ends.
	Expires time.Time `json:"expires"`
}

// Snapshot returns the bucket's state and counters; the queue is copied.
func (b *Bucket) Snapshot() BucketSnapshot {
	s := BucketSnapshot{
		Tokens: b.tokens, Last: b.last,
		PoolSeen: b.poolSeen, Drained: b.drained, Filled: b.filled,
		Granted: b.granted, Released: b.released, Rejected: b.rejected,
	}
	for _, w := range b.queue {
		s.Queue = append(s.Queue, WaiterSnapshot{w.Ticket, w.Critical, w.Deadline, w.expires})
	}
	return s
}

// Restore replaces the bucket's state and counters with s, keeping its configuration
// (the receiving owner's policy); tokens above its burst are cut to it.
func (b *Bucket) Restore(s BucketSnapshot) {
	b.tokens, b.last = math.Min(s.Tokens, b.burst), s.Last
	b.poolSeen, b.drained, b.filled = s.PoolSeen, s.Drained, s.Filled
	b.granted, b.released, b.rejected = s.Granted, s.Released, s.Rejected
	b.queue = b.queue[:0]
	for _, w := range s.Queue {
		b.queue = append(b.queue, Waiter{Ticket: w.Ticket, Critical: w.Critical, Deadline: w.Deadline, expires: w.Expires})
	}
}

// Freeze stops or restarts the bucket's earning at now: frozen, it gains tokens only by
// Deposit (a cluster replica's leases); thawed, it earns at its rate again from now on.
func (b *Bucket) Freeze(now time.Time, frozen bool, outstanding int64) {
	b.refill(now, outstanding)
	b.frozen = frozen
}

// Frozen reports whether the bucket earns only by Deposit.
func (b *Bucket) Frozen() bool { return b.frozen }

// Deposit adds n tokens to the bucket (a cluster replica's lease), beyond what its rate
// earns; the next Release hands them to the pool, or Due to the waiters.
func (b *Bucket) Deposit(n float64) {
	if n > 0 {
		b.tokens += n
	}
}

// Drain empties the bucket and returns the whole tokens it held: a lease that ended.
func (b *Bucket) Drain() int64 {
	n := int64(math.Floor(b.tokens))
	b.tokens = 0
	return n
}

package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/stripe"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// Replica mode (cluster mode, module github.com/bulwark-go/bulwark/cluster). A shared
// breaker or limiter is still a local link with a local actor, so the callers' fast
// path is unchanged; but its actor is a replica of an owner elsewhere in the fleet. The
// methods below let that replica drive the link: adopt the owner's breaker state, take
// the outcomes callers counted to report them, and hold the owner's token leases in a
// limiter's bucket. Like the rest of a link's owner side, they belong to the link's
// actor (they are called from its Receive), never to callers.

// Adopt makes the breaker's circuit take the owner's state at now — its state,
// generation and open-until time — keeping the local counters, and publishes the view;
// callers then admit by the owner's decision. A change of state is told to the hooks
// with reason. The consecutive count and any half-open probes of the local circuit are
// dropped: the owner judges.
func (l *BreakerLink) Adopt(now time.Time, state messages.BreakerState, generation uint64, openUntil time.Time, reason string) {
	c := l.own.circuit
	from := c.State()
	s := c.Snapshot()
	s.Stats.State, s.Generation, s.OpenUntil = state, generation, openUntil
	s.Consecutive, s.Probes, s.ProbeWins, s.HalfOpenUntil = 0, 0, 0, time.Time{}
	s.ProbeCounts, s.Exceeded, s.Window = WindowCounts{}, false, nil
	if from != state {
		s.Stats.LastChange = now
		if state == messages.Open {
			s.Stats.Trips++
			s.TripsSinceClose++
		}
		if state == messages.Closed {
			s.TripsSinceClose = 0
		}
	}
	c.Restore(s)
	c.at(now)
	l.publish()
	if from != state && l.own.hooks.StateChanged != nil {
		l.own.hooks.StateChanged(messages.StateChanged{Name: l.name, From: from, To: state, At: now, Reason: reason})
	}
}

// Circuit returns a copy of the breaker's circuit state, for a replica that reports
// what it knows to a new owner (state, generation, open-until).
func (l *BreakerLink) Circuit() CircuitSnapshot { return l.own.circuit.Snapshot() }

// TakeSuccesses returns the successes callers counted (Succeeded, CountSuccess) since
// the last take, and counts them in the breaker's stats without judging them: the owner
// does.
func (l *BreakerLink) TakeSuccesses() uint64 {
	s := l.successes.Load()
	n := s - l.own.seenSuccesses
	l.own.seenSuccesses = s
	l.own.circuit.successes += n
	return n
}

// TakeFailures returns the failures callers counted past the mailbox limit (FailLater)
// and a release that the replica calls once it has passed them on: it publishes the view
// and frees their callers. n is 0 and release nil when there are none.
func (l *BreakerLink) TakeFailures() (n uint64, release func()) {
	b := l.batch.Swap(nil)
	if b == nil {
		return 0, nil
	}
	n = b.seal()
	l.own.circuit.failures += n
	return n, func() {
		l.publish()
		close(b.done)
	}
}

// CountOutcome counts one reported outcome in the breaker's stats without judging it:
// the owner does.
func (l *BreakerLink) CountOutcome(outcome messages.Outcome) {
	switch outcome {
	case messages.Success:
		l.own.circuit.successes++
	case messages.Failure:
		l.own.circuit.failures++
	}
}

// CountRejected counts one call the replica refused in the breaker's stats.
func (l *BreakerLink) CountRejected() { l.own.circuit.rejected++ }

// NewSharedLimiterLink returns the shared side of a limiter named name, configured by p
// (which must be valid), whose tokens come from an owner's leases: its bucket starts
// empty and frozen (it earns nothing with time) until Deposit or Localize. Spawn its
// actor with Producer, wrapped by the replica.
func NewSharedLimiterLink(name string, p policy.RateLimitPolicy, now time.Time, hooks Hooks) *LimiterLink {
	own := &limiterOwner{owner: owner{hooks: hooks}, bucket: NewBucket(p, now), senders: map[uint64]*actor.PID{}}
	own.bucket.tokens = 0
	own.bucket.frozen = true
	l := &LimiterLink{link: newLink(name), pool: stripe.NewTokens(), origin: p, own: own, born: now}
	l.lastUsed.Store(now.UnixNano())
	l.publish()
	return l
}

// Deposit puts n leased tokens into the limiter's bucket; the actor's next settle
// hands them to the pool (or to waiters).
func (l *LimiterLink) Deposit(n int64) { l.own.bucket.Deposit(float64(n)) }

// Withdraw takes back every token the limiter holds — the pool's and the bucket's
// whole tokens — and returns how many: the lease they came from ended.
func (l *LimiterLink) Withdraw() int64 {
	l.poolSeq.Add(1)
	n := max(l.pool.Drain(), 0)
	l.released.Add(-uint64(n))
	l.poolSeq.Add(1)
	l.own.bucket.poolSeen = 0
	l.own.bucket.released -= min(uint64(n), l.own.bucket.released)
	n += l.own.bucket.Drain()
	l.publish()
	return n
}

// Held returns the tokens the limiter may still hand out: the pool's and the bucket's
// whole tokens.
func (l *LimiterLink) Held() int64 {
	return max(l.pool.Sum(), 0) + int64(l.own.bucket.tokens)
}

// Localize makes the limiter run on its own with configuration p from now on (a
// cluster replica that lost its owner: a local share of the fleet's limit), starting
// with a full bucket of p's burst; frozen false. Localize with frozen true goes back to
// leases: the tokens are withdrawn and the bucket earns nothing again.
func (l *LimiterLink) Localize(now time.Time, p policy.RateLimitPolicy, frozen bool) {
	l.Withdraw()
	b := l.own.bucket
	b.Freeze(now, frozen, 0)
	b.Reconfigure(p, now, 0)
	b.tokens = 0 // leases only (what time earned up to now went with the old mode)
	if !frozen {
		b.tokens = b.burst
	}
	l.publish()
}

package actors

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/names"
	"github.com/bulwark-go/bulwark/internal/stripe"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// LimiterView is the immutable snapshot a limiter actor publishes after every change.
type LimiterView struct {
	// Wait is true in wait mode (MaxWait > 0): a caller that finds no token asks the actor.
	Wait bool
	// Retired is true once the actor stopped; callers must look the limiter up again.
	Retired bool
	// NextToken is when the bucket will next hold a whole token; before then a caller in
	// reject mode that finds the pool empty is refused without asking the actor.
	NextToken time.Time

	tokens      float64 // bucket tokens, not counting the pool
	granted     uint64
	rejected    uint64
	waiting     int
	seenRefused uint64
}

// LimiterLink is the shared side of one named rate limiter: a pool of tokens the actor
// hands out in advance, which callers take with one atomic operation (the pool is
// striped over one cache line per processor, so concurrent callers do not queue on one
// line), the view the actor
// publishes, and the durable bucket that survives the actor's restarts. Callers may use
// TryTake, View, Refused and Stats concurrently; everything else belongs to the actor.
type LimiterLink struct {
	link
	pool    stripe.Tokens
	epoch   atomic.Uint64             // bumped by the actor after each release into the pool
	drained atomic.Pointer[drainMark] // when a caller took the pool's last token
	born    time.Time                 // the link's creation, with its monotonic reading
	view    atomic.Pointer[LimiterView]
	// released counts the tokens moved into the pool, net of those taken back; it and
	// pool change together under poolSeq (odd while they are being changed), so Stats
	// reads a pair that counts every token taken exactly once.
	released atomic.Uint64
	poolSeq  atomic.Uint64

	origin policy.RateLimitPolicy

	// own is the owner's durable state, handed to every incarnation of the actor by
	// Producer; callers never touch it.
	own *limiterOwner
}

// limiterOwner is a limiter actor's durable state: the bucket, the senders of the queued
// waiters and what the actor has taken in of the callers' counters. It survives restarts;
// only the actor touches it.
type limiterOwner struct {
	owner
	bucket      *Bucket
	senders     map[uint64]*actor.PID // by ticket, the waiters queued in the bucket
	seenRefused uint64                // callers' refusals taken into the bucket
	saturated   bool                  // as last reported to Hooks.Saturated
}

// drainMark records that the pool ran empty at At, taken by a caller that
// saw Epoch before taking: it describes the pool of that release only. A taker that is
// descheduled between its take and its mark could otherwise report an old drain as a
// new one, after the actor refilled the pool.
type drainMark struct {
	Epoch uint64
	At    time.Duration // since the link was made: a monotonic clock reading
}

// NewLimiterLink returns the shared side of a limiter named name, configured by p (which
// must be valid), with a full bucket at now. Spawn its actor with Producer.
func NewLimiterLink(name string, p policy.RateLimitPolicy, now time.Time, hooks Hooks) *LimiterLink {
	own := &limiterOwner{owner: owner{hooks: hooks}, bucket: NewBucket(p, now), senders: map[uint64]*actor.PID{}}
	l := &LimiterLink{link: newLink(name), pool: stripe.NewTokens(), origin: p, own: own, born: now}
	l.lastUsed.Store(now.UnixNano())
	l.release(now, 0)
	l.publish()
	return l
}

// TryTake takes one token from the pool without asking the actor and reports whether
// there was one.
func (l *LimiterLink) TryTake() bool {
	epoch := l.epoch.Load()
	took, emptied := l.pool.Take()
	if emptied {
		// The last token: tell the bucket when the pool ran dry, so it knows from when
		// on it may fill again (one clock read per pool, not per call).
		l.drained.Store(&drainMark{Epoch: epoch, At: time.Since(l.born)})
	}
	return took
}

// sample returns the time and the pool size to refill the bucket with, reading the pool
// first: tokens taken between the two reads were then still counted in the pool, which
// only makes the bucket fill less. Read the other way round, a descheduled actor would
// credit the pool's takes too early and could let more than Burst + rate·w through.
func (l *LimiterLink) sample() (time.Time, int64) {
	pool := l.pool.Sum()
	return time.Now(), pool
}

// release moves the bucket's whole tokens into the pool; only the actor calls it.
func (l *LimiterLink) release(now time.Time, pool int64) {
	if n := l.own.bucket.Release(now, pool); n > 0 {
		l.poolSeq.Add(1)
		l.released.Add(uint64(n))
		l.pool.Add(n)
		l.poolSeq.Add(1)
		l.epoch.Add(1) // after the tokens: a taker that sees this epoch took from them
	}
}

// reclaim takes the pool's tokens back into the bucket; only the actor calls it.
func (l *LimiterLink) reclaim() {
	l.poolSeq.Add(1)
	n := l.pool.Drain()
	l.own.bucket.Reclaim(n)
	l.released.Add(-uint64(max(n, 0)))
	l.poolSeq.Add(1)
}

// taken returns how many pool tokens callers have taken: released minus what is left,
// read as one consistent pair.
func (l *LimiterLink) taken() uint64 {
	for {
		seq := l.poolSeq.Load()
		if seq&1 == 0 {
			released, pool := l.released.Load(), l.pool.Sum()
			if l.poolSeq.Load() == seq {
				if pool > 0 && uint64(pool) <= released {
					return released - uint64(pool)
				}
				return released
			}
		}
		runtime.Gosched() // the actor is between the two writes
	}
}

// Origin returns the configuration the limiter was created with (Reconfigure does not
// change it).
func (l *LimiterLink) Origin() policy.RateLimitPolicy { return l.origin }

// Retired reports whether the actor stopped or is stopping for good; callers must look
// the name up again.
func (l *LimiterLink) Retired() bool { return l.view.Load().Retired || l.retiring() }

// View returns the latest published view.
func (l *LimiterLink) View() *LimiterView { return l.view.Load() }

// Stats returns the limiter's stats as of the latest view plus what callers counted since.
func (l *LimiterLink) Stats() messages.LimiterStats {
	v := l.view.Load()
	taken := l.taken()
	pool := l.pool.Sum()
	return messages.LimiterStats{
		Tokens:   v.tokens + float64(max(pool, 0)),
		Allowed:  v.granted + taken,
		Rejected: v.rejected + l.refused.Load() - v.seenRefused,
		Waiting:  v.waiting,
	}
}

// Producer returns the producer to spawn the limiter's actor with. Every incarnation it
// produces shares this link, so a restart keeps the bucket and its queue.
func (l *LimiterLink) Producer() actor.Producer {
	return func() actor.Actor { return &Limiter{base: base{o: &l.own.owner}, l: l} }
}

func (l *LimiterLink) publish() {
	b := l.own.bucket
	granted, _, rejected := b.Counters()
	l.view.Store(&LimiterView{
		Wait:        b.Config().MaxWait > 0,
		NextToken:   b.NextToken(),
		tokens:      b.Tokens(),
		granted:     granted,
		rejected:    rejected,
		waiting:     b.Waiting(),
		seenRefused: l.own.seenRefused,
	})
}

func (l *LimiterLink) retire() {
	v := *l.view.Load()
	v.Retired, v.Wait = true, true
	l.view.Store(&v)
	l.reclaim()
}

// Limiter is the rate-limiter actor: the only writer of one named token bucket. It
// answers Acquire (a token the pool could not give), keeps the FIFO wait queue in wait
// mode and wakes waiters on its own timer, and answers Cancel, Refund, Reconfigure,
// GetStats and Passivate.
type Limiter struct {
	base
	l      *LimiterLink
	served []served // waiters taken off the queue, answered once the view is published
}

// served is a waiter the bucket granted a token (or refused at its deadline).
type served struct {
	ticket  uint64
	at      time.Time
	granted bool
}

var _ actor.Actor = (*Limiter)(nil)

// Receive handles one message.
func (a *Limiter) Receive(c actor.Context) {
	l := a.l
	switch c.Message().(type) {
	case *actor.Started:
		a.start(c, &l.link, "limiter", zap.Int("waiting", l.own.bucket.Waiting()))
		a.settle(c, time.Now())
		return
	case *actor.Restarting:
		// Waiters served before the crash left the queue with their answer decided.
		a.answerServed(c)
	case *actor.Stopping:
		a.stopTimer()
		l.retire()
		for _, t := range l.own.bucket.DropAll() {
			a.answer(c, t, &messages.Rejected{Ticket: t, Reason: messages.Stopping})
		}
		// The final view counts the dropped waiters and stays retired, so callers holding
		// the link (a compiled plan caches it) look the name up again.
		l.publish()
		l.retire()
		return
	}
	if a.common(c, &l.link) {
		return
	}

	now := time.Now()
	l.touch(c.Message(), now)
	if d := l.drained.Load(); d != nil && d.Epoch == l.epoch.Load() {
		l.own.bucket.NoteDrained(l.born.Add(d.At))
	}
	if r := l.refused.Load(); r != l.own.seenRefused {
		l.own.bucket.ObserveRejections(r - l.own.seenRefused)
		l.own.seenRefused = r
	}

	switch m := c.Message().(type) {
	case *messages.Acquire:
		a.request(c, &l.link, m.Ticket)
		t, pool := l.sample()
		granted, queued, retryAfter := l.own.bucket.Acquire(t, Waiter{Ticket: m.Ticket, Critical: m.Critical, Deadline: m.Deadline}, pool)
		switch {
		case granted:
			a.reply = &messages.Granted{Ticket: m.Ticket, At: t}
		case queued:
			l.own.senders[m.Ticket] = c.Sender()
			l.own.pending.end()
		default:
			a.reply = &messages.Rejected{Ticket: m.Ticket, Reason: messages.RateLimited, RetryAfter: retryAfter}
		}
		if ce := l.own.hooks.logger().Check(zap.DebugLevel, "rate limit decision"); ce != nil {
			ce.Write(zap.String("limiter", l.name), zap.Bool("granted", granted), zap.Bool("queued", queued), zap.Duration("retry_after", retryAfter))
		}
	case *messages.Tick:
		if m.Generation != l.own.timerGen {
			return
		}
	case *messages.Cancel:
		if l.own.bucket.Cancel(m.Ticket) {
			a.answer(c, m.Ticket, &messages.Rejected{Ticket: m.Ticket, Reason: messages.Cancelled})
		}
	case *messages.Refund:
		t, pool := l.sample()
		l.own.bucket.Refund(t, pool, m.GrantedAt)
	case *messages.Reconfigure:
		a.request(c, &l.link, m.Ticket)
		if m.Limiter != nil {
			// Earn what the old rate earned and serve the waiters it made due, then
			// take the pool back.
			t, pool := l.sample()
			a.serve(t, pool)
			l.reclaim()
			l.own.bucket.Reconfigure(*m.Limiter, t, 0)
		}
		a.reply = &messages.Acked{Ticket: m.Ticket}
	case *messages.GetStats:
		a.request(c, &l.link, m.Ticket)
		a.settle(c, now) // refills, so Tokens is current
		stats := l.Stats()
		a.answerStats(c, &l.link, m, &messages.Stats{Limiter: &stats})
		return
	case *messages.Passivate:
		// Take the pool back before judging: a token a caller took from it between the
		// judgement and retirement would be admitted on top of the full bucket the next
		// incarnation starts with. Refused, the actor gives the pool back.
		l.reclaim()
		if !a.passivate(c, &l.link, m, !l.Registered() && l.own.bucket.Full(time.Now(), 0), l.retire) {
			a.settle(c, now)
		}
		return
	default:
		l.own.hooks.logger().Warn("limiter: unknown message", zap.String("limiter", l.name), zap.String("type", names.TypeName(m)))
		return
	}
	a.settle(c, now)
}

// answer sends msg to the waiter behind ticket, if known.
func (a *Limiter) answer(c actor.Context, ticket uint64, msg any) {
	if to, ok := a.l.own.senders[ticket]; ok {
		delete(a.l.own.senders, ticket)
		c.Send(to, msg)
	}
}

// serve takes the waiters whose token is due at t (or whose deadline passed) off the
// queue; they are answered by answerServed, after the view that counts them is published.
func (a *Limiter) serve(t time.Time, pool int64) {
	granted, expired := a.l.own.bucket.Due(t, pool)
	for _, ticket := range granted {
		a.served = append(a.served, served{ticket: ticket, at: t, granted: true})
	}
	for _, ticket := range expired {
		a.served = append(a.served, served{ticket: ticket, at: t})
	}
}

// answerServed answers the waiters serve took off the queue.
func (a *Limiter) answerServed(c actor.Context) {
	for _, s := range a.served {
		if s.granted {
			a.answer(c, s.ticket, &messages.Granted{Ticket: s.ticket, At: s.at})
		} else {
			a.answer(c, s.ticket, &messages.Rejected{Ticket: s.ticket, Reason: messages.RateLimited})
		}
	}
	clear(a.served)
	a.served = a.served[:0]
}

// settle serves due waiters, refills the pool when nobody waits, publishes the view,
// then answers the waiters served and the request in progress (so a caller that
// returns and reads Metrics finds its call counted), re-arms the timer for the next
// waiter and reports saturation changes.
func (a *Limiter) settle(c actor.Context, now time.Time) {
	l := a.l
	a.serve(l.sample())
	l.release(l.sample())
	l.publish()
	a.answerServed(c)
	a.flush(c, &l.link)

	a.stopTimer()
	if d, ok := l.own.bucket.NextDue(); ok {
		l.own.timerGen++
		a.arm(c, max(d, time.Millisecond/10), l.own.timerGen)
	}

	saturated := l.own.bucket.Waiting() > 0 || (l.pool.Sum() == 0 && l.own.bucket.Tokens() < 1)
	if saturated != l.own.saturated {
		l.own.saturated = saturated
		if l.own.hooks.Saturated != nil {
			l.own.hooks.Saturated(messages.Saturated{Name: l.name, Saturated: saturated, At: now})
		}
	}
}

package cluster

import (
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/cluster/internal/pb"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// Replica timer periods of a shared limiter: fast while tokens are being taken or a
// request is out, slow when idle.
const (
	activePoll = 2 * time.Millisecond
	idlePoll   = 25 * time.Millisecond
)

// limiterState is a shared limiter replica's durable state.
type limiterState struct {
	status
	n     *node
	l     *actors.LimiterLink
	hooks actors.Hooks
	p     policy.RateLimitPolicy

	seq        uint64
	inflight   bool
	sentAt     time.Time // when the request in flight was sent (its lease counts from then)
	waiting    time.Time // the oldest request not answered since the last answer
	deadline   time.Time // when the held lease ends (zero: none)
	nextAsk    time.Time // not before: the owner's retry-after
	activation string
	last       *pb.LeaseRequest // the latest request sent
	lastHeld   int64
	lastTaken  uint64
	timerGen   uint64
}

func newLimiterState(n *node, name string, p policy.RateLimitPolicy, l *actors.LimiterLink, hooks actors.Hooks) *limiterState {
	st := &limiterState{n: n, l: l, hooks: hooks, p: p}
	st.kind, st.name = limiterKind, name
	return st
}

// limiterReplica is the actor of a shared limiter on one node. It wraps the local
// limiter actor (inner), whose bucket is frozen: its tokens are the owner's leases,
// deposited as they come, so callers take them from the same lock-free pool as from a
// local limiter, and waiters (wait mode) queue in the same FIFO. The replica asks for a
// lease when the pool runs low, withdraws a lease when it ends, and falls back to a
// local share of the limit when the owner does not answer (FailLocalShare).
type limiterReplica struct {
	st     *limiterState
	inner  actor.Actor
	timers *scheduler.TimerScheduler
}

// Receive handles one message.
func (r *limiterReplica) Receive(c actor.Context) {
	st := r.st
	switch m := c.Message().(type) {
	case *actor.Started:
		r.inner.Receive(c)
		r.timers = scheduler.NewTimerScheduler(c)
		sys, self := c.ActorSystem(), c.Self()
		st.n.attach(&st.status, func(msg any) { sys.Root.Send(self, msg) })
		st.ask(time.Now())
		r.arm(c, activePoll)
		return
	case *actor.Stopping:
		st.n.detach(&st.status)
		r.inner.Receive(c)
		return
	case *fromOwner:
		if g, ok := m.msg.(*pb.LeaseGrant); ok {
			r.grant(c, g)
		}
		return
	case *replicaTick:
		if m.gen == st.timerGen {
			r.arm(c, r.tick(c))
		}
		return
	case *topologyChanged:
		// The owner may have moved: a request in flight may be lost; send it again
		// (same seq: an owner that has it answers once).
		if st.inflight && !st.degraded.Load() {
			st.resend()
		}
		return
	case *messages.Acquire:
		// The pool is empty: ask now rather than at the next tick.
		if now := time.Now(); !st.degraded.Load() && !st.inflight && !now.Before(st.nextAsk) {
			st.ask(now)
		}
	case *messages.Reconfigure:
		if m.Limiter != nil {
			st.p = *m.Limiter
		}
	}
	r.inner.Receive(c)
}

// size returns the lease size: WithLeaseSize, or max(1, min(B/(2N), ceil(R·50ms/N))).
func (st *limiterState) size() int64 {
	if s := st.n.opts.leaseSize; s > 0 {
		return int64(s)
	}
	n := float64(max(st.n.t.members(), 1))
	b := float64(st.p.EffectiveBurst())
	return max(1, int64(math.Min(math.Floor(b/(2*n)), math.Ceil(st.p.RequestsPerSecond*0.05/n))))
}

// ask sends a lease request topping the node up to the lease size, reporting what it
// holds.
func (st *limiterState) ask(now time.Time) {
	o := st.n.opts
	held := int64(0)
	if !st.degraded.Load() && now.Before(st.deadline) {
		held = st.l.Held()
	}
	size := st.size()
	st.seq++
	st.inflight, st.sentAt = true, now
	if st.waiting.IsZero() {
		st.waiting = now
	}
	st.last = &pb.LeaseRequest{
		Name: st.name, Node: st.n.id, Seq: st.seq, Want: max(size-held, 0), Held: held,
		Rate: st.p.RequestsPerSecond, Burst: int64(st.p.EffectiveBurst()),
		TtlMs: o.leaseTTL.Milliseconds(), HoldMs: o.holdMax.Milliseconds(), MinGrant: max(1, size/4),
	}
	st.n.send(&st.status, st.last)
}

// resend sends the request in flight again, unchanged.
func (st *limiterState) resend() {
	if st.last != nil {
		st.n.send(&st.status, st.last)
	}
}

// grant takes an owner's answer: its tokens join the pool (through the frozen bucket)
// until the lease's end, counted from before the request was sent.
func (r *limiterReplica) grant(c actor.Context, g *pb.LeaseGrant) {
	st := r.st
	now := time.Now()
	st.heard.Store(now.UnixNano())
	st.waiting = time.Time{}
	if g.Activation != st.activation {
		if st.activation != "" {
			st.tell(now, messages.OwnerChanged, "activation")
		}
		st.activation = g.Activation
	}
	if st.degraded.Load() {
		// Back from the fail mode: the local share's tokens go, the owner's come.
		st.degraded.Store(false)
		st.l.Localize(now, st.p, true)
		st.deadline = time.Time{}
		st.tell(now, messages.OwnerFound, "answer")
		st.inflight = false
		st.ask(now) // held 0: the owner counts what it leased to this node as used
		return
	}
	if g.Seq != st.seq || !st.inflight {
		return // a late answer to a request given up on
	}
	st.inflight = false
	if g.Granted > 0 || now.Before(st.deadline) {
		st.deadline = st.sentAt.Add(st.n.opts.leaseTTL)
	}
	if g.Granted > 0 {
		st.l.Deposit(g.Granted)
		// The local actor hands the tokens to the pool (or to waiters) when it settles.
		c.Send(c.Self(), &messages.Reconfigure{})
	} else if g.RetryAfterUs > 0 {
		st.nextAsk = now.Add(time.Duration(g.RetryAfterUs) * time.Microsecond)
	}
}

// tick is the replica's timer. It ends an expired lease, asks for a lease when the pool
// is down to half a lease (or the lease is three quarters through), degrades the name when a request
// stayed unanswered for OwnerTimeout, and, degraded, asks again every OwnerTimeout. It
// returns the delay to the next tick.
func (r *limiterReplica) tick(c actor.Context) time.Duration {
	st := r.st
	now := time.Now()
	o := st.n.opts
	if st.degraded.Load() {
		if now.Sub(st.sentAt) >= o.ownerTimeout {
			st.inflight = false
			st.waiting = time.Time{}
			st.ask(now)
		}
		return idlePoll
	}
	if !st.deadline.IsZero() && !now.Before(st.deadline) {
		st.deadline = time.Time{}
		if st.l.Withdraw() > 0 {
			c.Send(c.Self(), &messages.Reconfigure{})
		}
	}
	if st.inflight && now.Sub(st.waiting) > o.ownerTimeout {
		r.degrade(c, now, "owner_timeout")
		return idlePoll
	}
	held := st.l.Held()
	taken := st.l.Stats().Allowed
	active := st.inflight || taken != st.lastTaken || held != st.lastHeld
	st.lastTaken, st.lastHeld = taken, held
	size := st.size()
	renew := !st.deadline.IsZero() && now.After(st.deadline.Add(-o.leaseTTL/4))
	// Low water at half a lease: a top-up arrives before the pool runs dry even when
	// this timer runs late on a busy machine; the owner counts what the node holds, so
	// asking early costs no accuracy.
	if !st.inflight && !now.Before(st.nextAsk) && (held <= size/2 || renew) {
		st.ask(now)
		active = true
	}
	if active {
		return activePoll
	}
	return idlePoll
}

// degrade switches the name to its fail mode.
func (r *limiterReplica) degrade(c actor.Context, now time.Time, reason string) {
	st := r.st
	st.degraded.Store(true)
	st.n.t.invalidate(st.kind, st.name)
	st.tell(now, messages.OwnerLost, reason)
	st.deadline = time.Time{}
	switch st.n.opts.failMode {
	case FailLocalShare:
		st.l.Localize(now, st.share(), false)
	case FailOpen:
		open := st.p
		open.RequestsPerSecond, open.Burst = 1e12, math.MaxInt32
		st.l.Localize(now, open, false)
	case FailClosed:
		st.l.Withdraw()
	}
	c.Send(c.Self(), &messages.Reconfigure{})
}

// share returns the local share of the limit: rate R/N, burst max(1, B/N).
func (st *limiterState) share() policy.RateLimitPolicy {
	n := max(st.n.t.members(), 1)
	p := st.p
	p.RequestsPerSecond = st.p.RequestsPerSecond / float64(n)
	p.Burst = max(1, st.p.EffectiveBurst()/n)
	return p
}

// tell reports a coordination change to the hooks and the log.
func (st *limiterState) tell(now time.Time, change messages.SharedChange, reason string) {
	tellShared(st.hooks, "limiter", st.name, now, change, reason)
}

// arm schedules the next tick after d.
func (r *limiterReplica) arm(c actor.Context, d time.Duration) {
	st := r.st
	st.timerGen++
	r.timers.SendOnce(d, c.Self(), &replicaTick{gen: st.timerGen})
}

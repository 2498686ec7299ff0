package cluster

import (
	"encoding/json"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/cluster/internal/pb"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// breakerState is a shared breaker replica's durable state: it survives the actor's
// restarts, as the link does.
type breakerState struct {
	status
	n      *node
	l      *actors.BreakerLink
	hooks  actors.Hooks
	policy []byte // the policy as JSON, sent with every report

	activation string // the owner activation the adopted view came from ("" before any)
	generation uint64 // the adopted view's generation
	local      bool   // degraded under FailLocalShare: the local actor decides

	ticket    uint64
	waiting   time.Time // the oldest request not answered since the last answer (zero: none)
	lastSent  time.Time
	lastFlush time.Time
	lastPull  time.Time
	succ      uint64                   // successes taken from the link and not yet sent
	pending   map[uint64]pendingCaller // probe and manual requests sent to the owner, by ticket
	timerGen  uint64
}

// pendingCaller is a caller waiting for the owner: a probe permit or a manual state.
type pendingCaller struct {
	to     *actor.PID
	ticket uint64
	probe  bool
	at     time.Time
	msg    any // the caller's message, handed to the local actor if the owner is lost
}

func newBreakerState(n *node, name string, p policy.CircuitBreakerPolicy, l *actors.BreakerLink, hooks actors.Hooks) *breakerState {
	raw, _ := json.Marshal(p)
	st := &breakerState{n: n, l: l, hooks: hooks, policy: raw, pending: map[uint64]pendingCaller{}}
	st.kind, st.name = breakerKind, name
	return st
}

// breakerReplica is the actor of a shared breaker on one node: a replica of the owner's
// circuit. Callers read the link's view as for a local breaker; the replica adopts the
// owner's views, sends failures at once and successes in batches, asks the owner for
// half-open probe permits and manual states, and falls back to the local breaker actor
// it wraps (inner) when the owner does not answer (FailLocalShare).
type breakerReplica struct {
	st     *breakerState
	inner  actor.Actor
	timers *scheduler.TimerScheduler
}

// Receive handles one message.
func (r *breakerReplica) Receive(c actor.Context) {
	st := r.st
	switch m := c.Message().(type) {
	case *actor.Started:
		r.inner.Receive(c)
		r.timers = scheduler.NewTimerScheduler(c)
		sys, self := c.ActorSystem(), c.Self()
		st.n.attach(&st.status, func(msg any) { sys.Root.Send(self, msg) })
		st.pull(time.Now())
		r.arm(c)
		return
	case *actor.Stopping:
		st.flush(time.Now(), true)
		st.n.detach(&st.status)
		r.inner.Receive(c)
		return
	case *fromOwner:
		if v, ok := m.msg.(*pb.BreakerView); ok {
			r.view(c, v)
		}
		return
	case *replicaTick:
		if m.gen == st.timerGen {
			r.tick(c)
			r.arm(c)
		}
		return
	case *topologyChanged:
		// The owner may have moved: register with it now, with the view this node has
		// (a new owner adopts an open state from it).
		st.pull(time.Now())
		return
	}
	if st.local || !st.coordinating() {
		r.inner.Receive(c)
		return
	}
	now := time.Now()
	switch m := c.Message().(type) {
	case *messages.Report:
		r.report(c, now, m)
	case *messages.Acquire:
		r.acquire(c, now, m)
	case *messages.SetBreakerMode:
		st.ticket++
		st.pending[st.ticket] = pendingCaller{to: c.Sender(), ticket: m.Ticket, at: now, msg: m}
		mode := int32(m.Mode) + 1
		st.send(now, &pb.BreakerReport{Ticket: st.ticket, Mode: mode, ModeForNs: int64(m.For)})
	case *messages.Nudge:
		r.takeFailures(now)
	case *messages.Tick:
		// The local actor's timer: it does not judge while the owner does.
	case *messages.Reconfigure:
		if m.Breaker != nil {
			st.policy, _ = json.Marshal(*m.Breaker)
		}
		r.delegate(c, now)
	default:
		r.delegate(c, now)
	}
}

// coordinating reports whether the owner decides: not degraded, or degraded under a
// mode the replica plays itself (FailOpen, FailClosed).
func (st *breakerState) coordinating() bool {
	return !st.degraded.Load() || st.n.opts.failMode != FailLocalShare
}

// delegate hands the message to the local actor for what it does alike in both modes
// (stats, passivation, reconfiguration), after taking the callers' counts so that it
// judges none of them.
func (r *breakerReplica) delegate(c actor.Context, now time.Time) {
	r.st.succ += r.st.l.TakeSuccesses()
	r.takeFailures(now)
	r.inner.Receive(c)
}

// takeFailures sends the failures callers counted past the mailbox limit.
func (r *breakerReplica) takeFailures(now time.Time) {
	st := r.st
	n, release := st.l.TakeFailures()
	if release == nil {
		return
	}
	st.segment(now, n, 0, st.generation)
	release()
}

// report handles a caller's Report: a failure goes to the owner at once, with the
// successes counted before it; a success the view asked for by message joins the next
// batch; a probe's outcome goes at once. The caller is acknowledged at once.
func (r *breakerReplica) report(c actor.Context, now time.Time, m *messages.Report) {
	st := r.st
	st.l.CountOutcome(m.Outcome)
	if st.degraded.Load() && st.n.opts.failMode != FailLocalShare {
		// FailOpen and FailClosed judge nothing until the owner is back.
	} else if m.Probe {
		st.ticket++
		st.send(now, &pb.BreakerReport{
			Ticket: st.ticket, Probe: true, Generation: m.Generation, Activation: st.activation,
			ProbeFailed: m.Outcome == messages.Failure, ProbeNeutral: m.Outcome != messages.Failure && m.Outcome != messages.Success,
			Slow: boolCount(m.Slow),
		})
	} else {
		switch m.Outcome {
		case messages.Failure:
			st.segment(now, 1, boolCount(m.Slow), m.Generation)
		case messages.Success:
			if m.Slow {
				st.succ += st.l.TakeSuccesses()
				st.ticket++
				st.send(now, &pb.BreakerReport{
					Ticket: st.ticket, Successes: st.succ + 1, SlowSuccesses: 1,
					Generation: m.Generation, Activation: st.activation,
				})
				st.succ = 0
			} else {
				st.succ++
			}
		}
	}
	if m.Ticket != 0 {
		c.Send(c.Sender(), &messages.Acked{Ticket: m.Ticket})
	}
}

func boolCount(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// segment sends failures (slow of them slow) with the successes counted before them:
// a run-length segment, so the node's own order is exact at the owner.
func (st *breakerState) segment(now time.Time, failures, slow, generation uint64) {
	st.succ += st.l.TakeSuccesses()
	st.ticket++
	st.send(now, &pb.BreakerReport{
		Ticket: st.ticket, Successes: st.succ, Failures: failures, Slow: slow,
		Generation: generation, Activation: st.activation,
	})
	st.succ = 0
	st.lastFlush = now
}

// acquire answers a caller the view did not admit: from the view when it is open (or
// forced open), else by asking the owner for a half-open probe permit.
func (r *breakerReplica) acquire(c actor.Context, now time.Time, m *messages.Acquire) {
	st := r.st
	v := st.l.View()
	switch {
	case v.Pass:
		c.Send(c.Sender(), &messages.Granted{Ticket: m.Ticket, Generation: v.Generation})
		return
	case st.degraded.Load():
		// FailClosed (FailOpen passes): refused until the owner answers.
		st.l.CountRejected()
		c.Send(c.Sender(), &messages.Rejected{Ticket: m.Ticket, Reason: messages.CircuitOpen, RetryAfter: st.n.opts.ownerTimeout})
		return
	case v.State == messages.Open && v.OpenUntil.After(now):
		st.l.CountRejected()
		c.Send(c.Sender(), &messages.Rejected{Ticket: m.Ticket, Reason: messages.CircuitOpen, RetryAfter: v.OpenUntil.Sub(now)})
		return
	case v.State == messages.ForcedOpen:
		st.l.CountRejected()
		retry := time.Duration(0)
		if !v.OpenUntil.IsZero() {
			retry = max(v.OpenUntil.Sub(now), 0)
		}
		c.Send(c.Sender(), &messages.Rejected{Ticket: m.Ticket, Reason: messages.CircuitForcedOpen, RetryAfter: retry})
		return
	}
	st.ticket++
	st.pending[st.ticket] = pendingCaller{to: c.Sender(), ticket: m.Ticket, probe: true, at: now, msg: m}
	st.send(now, &pb.BreakerReport{Ticket: st.ticket, ProbeRequest: true, Generation: st.generation, Activation: st.activation})
}

// send sends a report with the policy and what the node knows, to the owner.
func (st *breakerState) send(now time.Time, m *pb.BreakerReport) {
	m.Name, m.Node, m.Policy = st.name, st.n.id, st.policy
	if m.Activation == "" {
		m.Activation = st.activation
	}
	cs := st.l.Circuit()
	m.KnownState = int32(cs.Stats.State)
	if !cs.OpenUntil.IsZero() {
		m.KnownOpenUntil = cs.OpenUntil.UnixNano()
	}
	if st.waiting.IsZero() {
		st.waiting = now
	}
	st.lastSent = now
	st.n.send(&st.status, m)
}

// pull asks the owner for its view (also registers the node for pushes).
func (st *breakerState) pull(now time.Time) {
	st.lastPull = now
	st.ticket++
	st.send(now, &pb.BreakerReport{Ticket: st.ticket})
}

// flush sends the successes counted since the last report, if any, or if force.
func (st *breakerState) flush(now time.Time, force bool) {
	st.succ += st.l.TakeSuccesses()
	if st.succ == 0 || (!force && now.Sub(st.lastFlush) < st.n.opts.reportInterval) {
		return
	}
	st.ticket++
	st.send(now, &pb.BreakerReport{Ticket: st.ticket, Successes: st.succ, Generation: st.generation, Activation: st.activation})
	st.succ = 0
	st.lastFlush = now
}

// view takes an owner's view: adopted when it is newer (a higher generation, or another
// activation), answering the caller waiting on its ticket; the first answer after a
// degradation restores coordination.
func (r *breakerReplica) view(c actor.Context, v *pb.BreakerView) {
	st := r.st
	now := time.Now()
	st.waiting = time.Time{}
	st.heard.Store(now.UnixNano())
	if st.degraded.Load() {
		st.degraded.Store(false)
		st.local = false
		st.tell(now, messages.OwnerFound, "answer")
	}
	if v.Activation != st.activation && v.Generation != 0 {
		if st.activation != "" {
			st.tell(now, messages.OwnerChanged, "activation")
		}
		st.activation, st.generation = v.Activation, 0
	}
	if v.Generation != 0 && v.Generation >= st.generation {
		st.generation = v.Generation
		until := time.Time{}
		if v.OpenUntil != 0 {
			until = time.Unix(0, v.OpenUntil)
		}
		st.l.Adopt(now, messages.BreakerState(v.State), v.Generation, until, v.Reason)
	}
	if v.Ticket == 0 {
		return
	}
	p, ok := st.pending[v.Ticket]
	if !ok {
		return
	}
	delete(st.pending, v.Ticket)
	if !p.probe {
		c.Send(p.to, &messages.Acked{Ticket: p.ticket})
		return
	}
	if v.ProbeGranted {
		c.Send(p.to, &messages.Granted{Ticket: p.ticket, Generation: v.Generation, Probe: messages.BreakerState(v.State) == messages.HalfOpen})
		return
	}
	st.l.CountRejected()
	retry := time.Duration(0)
	if v.OpenUntil != 0 {
		retry = max(time.Until(time.Unix(0, v.OpenUntil)), 0)
	}
	reason := messages.CircuitOpen
	if messages.BreakerState(v.State) == messages.ForcedOpen {
		reason = messages.CircuitForcedOpen
	}
	c.Send(p.to, &messages.Rejected{Ticket: p.ticket, Reason: reason, RetryAfter: retry})
}

// tell reports a coordination change to the hooks and the log.
func (st *breakerState) tell(now time.Time, change messages.SharedChange, reason string) {
	tellShared(st.hooks, "breaker", st.name, now, change, reason)
}

// tick is the replica's timer: it flushes successes, pulls the view when the owner has
// been silent for ViewRefresh, and degrades the name when a request stayed unanswered
// for OwnerTimeout (asking again every OwnerTimeout until an answer comes).
func (r *breakerReplica) tick(c actor.Context) {
	st := r.st
	now := time.Now()
	o := st.n.opts
	if !st.waiting.IsZero() && now.Sub(st.waiting) > o.ownerTimeout && !st.degraded.Load() {
		r.degrade(c, now, "owner_timeout")
	}
	if st.degraded.Load() {
		if now.Sub(st.lastSent) >= o.ownerTimeout {
			st.waiting = time.Time{}
			st.pull(now)
		}
		if st.local {
			st.l.TakeSuccesses() // the local actor counted them itself
		}
		return
	}
	st.flush(now, false)
	heard := time.Unix(0, st.heard.Load())
	if st.waiting.IsZero() && now.Sub(heard) >= o.viewRefresh && now.Sub(st.lastPull) >= o.viewRefresh {
		st.pull(now)
	}
}

// degrade switches the name to its fail mode: the owner did not answer.
func (r *breakerReplica) degrade(c actor.Context, now time.Time, reason string) {
	st := r.st
	st.degraded.Store(true)
	st.n.t.invalidate(st.kind, st.name)
	st.tell(now, messages.OwnerLost, reason)
	cs := st.l.Circuit()
	switch st.n.opts.failMode {
	case FailLocalShare:
		st.local = true
		// The local actor takes over with the last view's state; a Reconfigure makes it
		// arm its timer (an open breaker goes half-open locally at its open-until).
		c.Send(c.Self(), &messages.Reconfigure{})
	case FailOpen:
		st.l.Adopt(now, messages.Closed, cs.Generation+1, time.Time{}, "owner_lost")
	case FailClosed:
		st.l.Adopt(now, messages.Open, cs.Generation+1, now.Add(st.n.opts.ownerTimeout), "owner_lost")
	}
	st.generation = 0 // the next view is adopted, from whichever activation
	for t, p := range st.pending {
		delete(st.pending, t)
		if st.local {
			// The local actor answers it now.
			c.RequestWithCustomSender(c.Self(), p.msg, p.to)
			continue
		}
		if p.probe {
			c.Send(p.to, &messages.Rejected{Ticket: p.ticket, Reason: messages.CircuitOpen, RetryAfter: st.n.opts.ownerTimeout})
		} else {
			c.Send(p.to, &messages.Acked{Ticket: p.ticket})
		}
	}
}

// arm schedules the next tick.
func (r *breakerReplica) arm(c actor.Context) {
	st := r.st
	st.timerGen++
	o := st.n.opts
	d := min(o.reportInterval, o.ownerTimeout/10, o.viewRefresh)
	r.timers.SendOnce(max(d, time.Millisecond), c.Self(), &replicaTick{gen: st.timerGen})
}

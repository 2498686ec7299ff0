package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/names"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// releaseNote is the one Release value every caller sends: it carries nothing.
var releaseNote = &messages.Release{}

// BulkheadLink is the shared side of one named bulkhead: the permit counter callers take
// from and give back to with one atomic operation each, and the durable queue state that
// survives the actor's restarts. Callers may use TryAcquire, TryRefuse, Release, Retired
// and Stats concurrently; everything else belongs to the actor.
type BulkheadLink struct {
	link
	permits *Permits
	origin  policy.BulkheadPolicy
	own     *bulkheadOwner
	// adaptive is set for an adaptive limit (NewAdaptiveLink): its sampler and algorithm.
	adaptive *adaptive
}

// bulkheadOwner is a bulkhead actor's durable state: the senders of the queued waiters,
// the admissions seen at the last passivation check, and the saturation last reported.
// Only the actor touches it.
type bulkheadOwner struct {
	owner
	senders      map[uint64]*actor.PID // by ticket, the waiters queued
	seenAdmitted uint64
	saturated    bool
	draining     bool // Drain came: queue nobody

	tickets []uint64 // scratch for Serve and Expire
}

// NewBulkheadLink returns the shared side of the bulkhead name, configured by p (which
// must be valid), created at now. Spawn its actor with Producer.
func NewBulkheadLink(name string, p policy.BulkheadPolicy, now time.Time, hooks Hooks) *BulkheadLink {
	l := &BulkheadLink{
		link:    newLink(name),
		permits: NewPermits(p),
		origin:  p,
		own:     &bulkheadOwner{owner: owner{hooks: hooks}, senders: map[uint64]*actor.PID{}},
	}
	l.lastUsed.Store(now.UnixNano())
	return l
}

// TryAcquire takes a permit without asking the actor: see Permits.TryAcquire.
func (l *BulkheadLink) TryAcquire() bool { return l.permits.TryAcquire() }

// TryRefuse refuses a caller of a full bulkhead without a queue without asking the
// actor, and reports whether it did; it tells the actor of the first refusal it has
// not heard of, for the saturation event.
func (l *BulkheadLink) TryRefuse(out Teller) bool {
	refused, notify := l.permits.TryRefuse()
	if notify {
		out.Tell(l.PID(), releaseNote, nil)
	}
	return refused
}

// Release gives a permit back, and tells the actor when callers wait for one or it
// reported saturation. Call it exactly once per permit, when the function returned.
func (l *BulkheadLink) Release(out Teller) {
	if l.permits.Release() {
		out.Tell(l.PID(), releaseNote, nil)
	}
}

// Teller sends a message to an actor without waiting; the engine's Outbox is one.
type Teller interface {
	Tell(pid *actor.PID, msg any, sender *actor.PID) bool
}

// Origin returns the configuration the bulkhead was created with (Reconfigure does not
// change it).
func (l *BulkheadLink) Origin() policy.BulkheadPolicy { return l.origin }

// Retired reports whether the actor stopped or is stopping for good; callers must look
// the name up again.
func (l *BulkheadLink) Retired() bool { return l.permits.Retired() || l.retiring() }

// Stats returns the bulkhead's permits, queue and counters now.
func (l *BulkheadLink) Stats() messages.BulkheadStats { return l.permits.Stats() }

// Producer returns the producer to spawn the bulkhead's actor with. Every incarnation it
// produces shares this link, so a restart keeps the permits and the queue.
func (l *BulkheadLink) Producer() actor.Producer {
	return func() actor.Actor { return &Bulkhead{base: base{o: &l.own.owner}, l: l} }
}

// Bulkhead is the bulkhead actor: the owner of one named bulkhead's wait queue. Callers
// take free permits from the link without it; it answers Acquire (a caller that found
// no free permit: granted, queued or refused), hands permits given back (Release,
// Refund) to its waiters, ends waits at MaxWait on its own timer, and answers Cancel,
// Reconfigure, GetStats and Passivate.
type Bulkhead struct {
	base
	l *BulkheadLink
}

var _ actor.Actor = (*Bulkhead)(nil)

// Receive handles one message.
func (a *Bulkhead) Receive(c actor.Context) {
	l := a.l
	ps := l.permits
	switch c.Message().(type) {
	case *actor.Started:
		a.start(c, &l.link, "bulkhead", zap.Int("queued", ps.Stats().Queued))
		a.settle(c, time.Now())
		return
	case *actor.Stopping:
		a.stopTimer()
		ps.ForceRetire()
		for _, t := range ps.DropAll() {
			a.answer(c, t, &messages.Rejected{Ticket: t, Reason: messages.Stopping})
		}
		return
	}
	if a.common(c, &l.link) {
		return
	}

	now := time.Now()
	l.touch(c.Message(), now)
	switch m := c.Message().(type) {
	case *messages.Acquire:
		a.request(c, &l.link, m.Ticket)
		granted, queued := false, false
		if l.own.draining {
			granted = ps.TryAcquire()
		} else {
			granted, queued = ps.Acquire(now, m.Ticket, m.Critical)
		}
		switch {
		case granted:
			a.reply = &messages.Granted{Ticket: m.Ticket, At: now}
		case queued:
			l.own.senders[m.Ticket] = c.Sender()
			l.own.pending.end()
		case ps.Retired() || l.own.draining:
			a.reply = &messages.Rejected{Ticket: m.Ticket, Reason: messages.Stopping}
		default:
			a.reply = &messages.Rejected{Ticket: m.Ticket, Reason: messages.ConcurrencyLimited}
		}
		if ce := l.own.hooks.logger().Check(zap.DebugLevel, "bulkhead decision"); ce != nil {
			ce.Write(zap.String("bulkhead", l.name), zap.Bool("granted", granted), zap.Bool("queued", queued))
		}
	case *messages.Release:
	case *messages.Drain:
		l.own.draining = true
		for _, t := range ps.DropAll() {
			a.answer(c, t, &messages.Rejected{Ticket: t, Reason: messages.Stopping})
		}
	case *messages.Tick:
		if m.Generation != l.own.timerGen {
			return
		}
	case *messages.Cancel:
		if ps.Cancel(m.Ticket) {
			a.answer(c, m.Ticket, &messages.Rejected{Ticket: m.Ticket, Reason: messages.Cancelled})
		}
	case *messages.Refund:
		// A permit granted to a caller that had given up: it goes to the next waiter.
		ps.Release()
	case *messages.Reconfigure:
		a.request(c, &l.link, m.Ticket)
		if m.Bulkhead != nil && l.adaptive == nil {
			ps.Resize(*m.Bulkhead)
		}
		if m.Adaptive != nil && l.adaptive != nil {
			a.reconfigureAdaptive(*m.Adaptive)
		}
		a.reply = &messages.Acked{Ticket: m.Ticket}
	case *messages.GetStats:
		a.request(c, &l.link, m.Ticket)
		stats := l.Stats()
		reply := &messages.Stats{Bulkhead: &stats}
		if l.adaptive != nil {
			as := (&AdaptiveLink{BulkheadLink: l}).Stats()
			reply = &messages.Stats{Adaptive: &as}
		}
		a.answerStats(c, &l.link, m, reply)
		return
	case *messages.Passivate:
		a.passivateIfIdle(c, m, now)
		return
	default:
		l.own.hooks.logger().Warn("bulkhead: unknown message", zap.String("bulkhead", l.name), zap.String("type", names.TypeName(m)))
		return
	}
	a.settle(c, now)
}

// passivateIfIdle answers Passivate: the bulkhead retires only when nobody was admitted
// since the last check (callers on the fast path never message the actor, so its
// admissions are its traffic), no permit is held and nobody waits.
func (a *Bulkhead) passivateIfIdle(c actor.Context, m *messages.Passivate, now time.Time) {
	l, ps := a.l, a.l.permits
	admitted := ps.Stats().Admitted
	quiet := admitted == l.own.seenAdmitted
	l.own.seenAdmitted = admitted
	if !quiet {
		l.lastUsed.Store(now.UnixNano())
	}
	idle := quiet && !l.Registered() && ps.Retire()
	if !a.passivate(c, &l.link, m, idle, func() {}) && idle {
		ps.Unretire()
	}
}

// answer sends msg to the waiter behind ticket, if known.
func (a *Bulkhead) answer(c actor.Context, ticket uint64, msg any) {
	if to, ok := a.l.own.senders[ticket]; ok {
		delete(a.l.own.senders, ticket)
		c.Send(to, msg)
	}
}

// settle hands free permits to waiters, ends the waits that reached MaxWait, answers the
// request in progress, re-arms the timer for the next deadline and reports saturation
// changes.
func (a *Bulkhead) settle(c actor.Context, now time.Time) {
	l, ps := a.l, a.l.permits
	own := l.own
	if l.adaptive != nil {
		a.adapt(now)
	}
	own.tickets = ps.Serve(own.tickets[:0])
	for _, t := range own.tickets {
		a.answer(c, t, &messages.Granted{Ticket: t, At: now})
	}
	own.tickets = ps.Expire(now, own.tickets[:0])
	for _, t := range own.tickets {
		a.answer(c, t, &messages.Rejected{Ticket: t, Reason: messages.ConcurrencyLimited})
	}
	a.flush(c, &l.link)

	a.stopTimer()
	if due, ok := ps.NextDue(); ok {
		own.timerGen++
		a.arm(c, max(due.Sub(now), time.Millisecond/10), own.timerGen)
	}

	saturated := ps.Saturated()
	ps.watch(saturated)
	if saturated != own.saturated {
		own.saturated = saturated
		if own.hooks.BulkheadSaturated != nil && l.adaptive == nil {
			own.hooks.BulkheadSaturated(messages.Saturated{Name: l.name, Saturated: saturated, At: now})
		}
	}
}

package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// base is what the breaker and limiter actors share: their timer, and the test-only
// fault injection of package internal/fault.
type base struct {
	o      *owner // the durable state this incarnation inherited
	timers *scheduler.TimerScheduler
	cancel scheduler.CancelFunc
	crash  string // a PanicOnNext reason waiting for the next request
	// reply is the answer decided for the request in progress, sent by flush once the
	// view that reflects the decision is published.
	reply any
}

// flush sends the reply decided for the request in progress.
func (a *base) flush(c actor.Context, l *link) {
	if a.reply != nil {
		a.o.pending.respond(c, a.reply)
		a.reply = nil
	}
}

// common handles the messages both actors treat alike and reports whether m was one.
// Started and Stopping are left to each actor.
func (a *base) common(c actor.Context, l *link) bool {
	switch m := c.Message().(type) {
	case *actor.Restarting:
		// A decision already made is kept in the state the next incarnation inherits:
		// send it rather than Crashed.
		a.flush(c, l)
		a.o.pending.answerCrash(c)
		l.restarts.Add(1)
		l.depth.Crashed()
		a.stopTimer()
	case *actor.Stopped:
		l.markStopped()
	case *fault.Panic:
		panic(m.Reason)
	case *fault.PanicOnNext:
		a.crash = m.Reason
	case *fault.Block:
		<-m.Release
	default:
		return false
	}
	return true
}

// start creates the timer scheduler of a new incarnation and reports a restart.
func (a *base) start(c actor.Context, l *link, kind string, state zap.Field) {
	hooks := &a.o.hooks
	a.timers = scheduler.NewTimerScheduler(c)
	if l.Restarts() == 0 {
		return
	}
	hooks.logger().Warn(kind+" actor restarted after a panic; state kept", zap.String(kind, l.name), state)
	if hooks.Restarted != nil {
		hooks.Restarted(l.name)
	}
}

// request starts handling a request that carries ticket: it is remembered, so the
// caller is answered if the actor panics, and an injected crash fires now.
func (a *base) request(c actor.Context, l *link, ticket uint64) {
	a.o.pending.begin(c, ticket)
	if a.crash != "" {
		reason := a.crash
		a.crash = ""
		panic(reason)
	}
}

// answerStats answers GetStats with stats, wrapped in a *messages.Stats when it carried
// a ticket.
func (a *base) answerStats(c actor.Context, l *link, m *messages.GetStats, stats *messages.Stats) {
	if m.Ticket == 0 {
		switch {
		case stats.Breaker != nil:
			c.Respond(stats.Breaker)
		case stats.Bulkhead != nil:
			c.Respond(stats.Bulkhead)
		default:
			c.Respond(stats.Limiter)
		}
		a.o.pending.end()
		return
	}
	stats.Ticket, stats.Name = m.Ticket, l.name
	a.o.pending.respond(c, stats)
}

// passivate answers Passivate and reports whether the actor is stopping. An actor that
// is idle, has nothing queued behind this Passivate and is not registered retires
// (callers look its name up again), agrees and stops; any other refuses and stays. idle
// must be computed before the call: the mailbox is read after it, so a message a caller
// posted before its call counted as ended is seen here as queued.
func (a *base) passivate(c actor.Context, l *link, m *messages.Passivate, idle bool, retire func()) bool {
	// The Passivate itself is the one message in progress.
	if !idle || l.MailboxDepth() > 1 || !l.fate.CompareAndSwap(linkFree, linkRetiring) {
		c.Respond(&messages.Rejected{Ticket: m.Ticket, Reason: messages.Stopping})
		return false
	}
	retire()
	c.Respond(&messages.Acked{Ticket: m.Ticket})
	c.Stop(c.Self())
	return true
}

// arm schedules a Tick of generation gen after d, replacing any armed one.
func (a *base) arm(c actor.Context, d time.Duration, gen uint64) {
	a.stopTimer()
	a.cancel = a.timers.SendOnce(d, c.Self(), &messages.Tick{Generation: gen})
}

func (a *base) stopTimer() {
	if a.cancel != nil {
		a.cancel()
		a.cancel = nil
	}
}

// owner is the durable state that a named actor keeps beside its state machine: it
// lives as long as the actor's link, every incarnation of the actor shares it, and only
// the actor touches it — never the callers. breakerOwner and limiterOwner embed it.
type owner struct {
	pending  pendingRequest // the request being handled: answered if the actor crashes
	hooks    Hooks
	timerGen uint64 // the generation of the armed Tick; older Ticks are ignored
}

// pendingRequest remembers the request an actor is handling, so that the old
// incarnation can answer it with Crashed when it panics.
type pendingRequest struct {
	sender *actor.PID
	ticket uint64
}

func (p *pendingRequest) begin(c actor.Context, ticket uint64) {
	p.sender, p.ticket = c.Sender(), ticket
}

func (p *pendingRequest) end() { p.sender, p.ticket = nil, 0 }

// answerCrash tells the caller of the request in progress that the actor crashed.
func (p *pendingRequest) answerCrash(c actor.Context) {
	if p.sender != nil && p.ticket != 0 {
		c.Send(p.sender, &messages.Rejected{Ticket: p.ticket, Reason: messages.Crashed})
	}
	p.end()
}

// respond answers the request in progress (when it carried a ticket) and clears it.
func (p *pendingRequest) respond(c actor.Context, msg any) {
	if p.sender != nil && p.ticket != 0 {
		c.Send(p.sender, msg)
	}
	p.end()
}

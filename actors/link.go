package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// Hooks are the engine's callbacks into an actor's life. Each runs inside the actor's
// Receive and must not block; any may be nil.
type Hooks struct {
	// Logger receives the actor's logs; nil means none.
	Logger *zap.Logger
	// StateChanged is called on every breaker state change.
	StateChanged func(messages.StateChanged)
	// Saturated is called when a limiter runs out of tokens, and when it has some again.
	Saturated func(messages.Saturated)
	// Restarted is called by the new incarnation after a panic restarted the actor.
	Restarted func(name string)
}

func (h *Hooks) logger() *zap.Logger {
	if h.Logger == nil {
		return zap.NewNop()
	}
	return h.Logger
}

// link is what a breaker's or limiter's callers share with its actor: the actor's PID,
// counters callers add to without asking, and a channel closed when the actor has
// stopped for good, which releases anybody still waiting for an answer from it.
type link struct {
	name     string
	pid      atomic.Pointer[actor.PID]
	refused  atomic.Uint64 // calls refused from the published view
	stopped  chan struct{}
	restarts atomic.Uint64
	pending  pendingRequest // the request being handled: answered if the actor crashes
	lastUsed atomic.Int64   // unix nanos of the last message handled (passivation)
	depth    MailboxDepth
	// fate is free, registered or retiring. Registering (by the supervisor) and
	// retiring (by the actor, passivating) each take the link from free with one
	// compare-and-swap, so exactly one of them wins: a registered name is never
	// passivated, and a registration never lands on an actor that is going away.
	fate atomic.Int32
}

// The fates of a link.
const (
	linkFree       int32 = iota // may be passivated
	linkRegistered              // registered explicitly: never passivated
	linkRetiring                // passivating: the actor stops for good
)

// SetRegistered marks the actor as registered explicitly, so it is never passivated,
// and reports whether it could: false means the actor is already passivating and will
// stop, so the name needs a new actor. The supervisor calls it.
func (l *link) SetRegistered() bool {
	return l.fate.CompareAndSwap(linkFree, linkRegistered) || l.fate.Load() == linkRegistered
}

// Registered reports whether the actor was registered explicitly.
func (l *link) Registered() bool { return l.fate.Load() == linkRegistered }

// retiring reports whether the actor decided to passivate: it stops for good.
func (l *link) retiring() bool { return l.fate.Load() == linkRetiring }

func newLink(name string) link {
	return link{name: name, stopped: make(chan struct{})}
}

// Name returns the actor's name.
func (l *link) Name() string { return l.name }

// PID returns the actor's PID, or nil before it was spawned.
func (l *link) PID() *actor.PID { return l.pid.Load() }

// SetPID records the PID the actor was spawned with. The supervisor calls it once.
func (l *link) SetPID(pid *actor.PID) { l.pid.Store(pid) }

// Stopped returns a channel closed once the actor has stopped for good.
func (l *link) Stopped() <-chan struct{} { return l.stopped }

// Restarts returns how many times the actor was restarted after a panic.
func (l *link) Restarts() uint64 { return l.restarts.Load() }

// Refused counts one call refused from the published view, without asking the actor.
func (l *link) Refused() { l.refused.Add(1) }

// touch records traffic at now, for passivation: the actor's own timer ticks and the
// supervisor's Passivate and GetStats are not traffic.
func (l *link) touch(m any, now time.Time) {
	switch m.(type) {
	case *messages.Tick, *messages.Passivate, *messages.GetStats:
		return
	}
	l.lastUsed.Store(now.UnixNano())
}

// IdleSince returns when the actor last handled a request from a caller.
func (l *link) IdleSince() time.Time { return time.Unix(0, l.lastUsed.Load()) }

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

// MailboxDepth is a protoactor MailboxMiddleware that counts the messages posted to and
// received by one actor's mailbox; the difference is its depth (queued plus in
// progress). The zero value is ready; give every actor its own. Safe for concurrent use.
type MailboxDepth struct{ posted, received atomic.Int64 }

// MailboxStarted does nothing.
func (d *MailboxDepth) MailboxStarted() {}

// MessagePosted counts a message posted; it runs on the sender's goroutine.
func (d *MailboxDepth) MessagePosted(any) { d.posted.Add(1) }

// MessageReceived counts a message handled.
func (d *MailboxDepth) MessageReceived(any) { d.received.Add(1) }

// MailboxEmpty does nothing.
func (d *MailboxDepth) MailboxEmpty() {}

// Depth returns the messages posted and not yet handled.
func (d *MailboxDepth) Depth() int64 { return d.posted.Load() - d.received.Load() }

// Crashed counts the message an actor panicked on as handled: protoactor does not call
// MessageReceived for it.
func (d *MailboxDepth) Crashed() { d.received.Add(1) }

// Mailbox returns the mailbox producer to spawn the actor with: unbounded, counting its
// depth for MailboxDepth.
func (l *link) Mailbox() actor.MailboxProducer { return actor.Unbounded(&l.depth) }

// MailboxDepth returns the number of messages queued for the actor or in progress.
func (l *link) MailboxDepth() int64 { return l.depth.Depth() }

// base is what the breaker and limiter actors share: their timer, and the test-only
// fault injection of package internal/fault.
type base struct {
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
		l.pending.respond(c, a.reply)
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
		l.pending.answerCrash(c)
		l.restarts.Add(1)
		l.depth.Crashed()
		a.stopTimer()
	case *actor.Stopped:
		close(l.stopped)
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
func (a *base) start(c actor.Context, l *link, hooks *Hooks, kind string, state zap.Field) {
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
	l.pending.begin(c, ticket)
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
		default:
			c.Respond(stats.Limiter)
		}
		l.pending.end()
		return
	}
	stats.Ticket, stats.Name = m.Ticket, l.name
	l.pending.respond(c, stats)
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

package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// Hooks are the engine's callbacks into an actor's life. Each runs inside the actor's
// Receive and must not block; any may be nil.
type Hooks struct {
	// Logger receives the actor's logs; nil means none.
	Logger *zap.Logger
	// StateChanged is called on every breaker state change, with its Reason and the
	// window's counts.
	StateChanged func(messages.StateChanged)
	// ThresholdExceeded is called when a breaker in MetricsOnly mode meets a threshold it
	// would have opened on: once per crossing (again only after the window stopped
	// meeting every threshold). Its StateChanged has From and To both MetricsOnly, Reason
	// the threshold met (failure_rate, slow_call_rate, ...) and the window's counts; the
	// engine turns it into a BreakerThresholdExceeded event.
	ThresholdExceeded func(messages.StateChanged)
	// Saturated is called when a limiter runs out of tokens, and when it has some again.
	Saturated func(messages.Saturated)
	// Restarted is called by the new incarnation after a panic restarted the actor.
	Restarted func(name string)
	// Shared is called by a cluster replica when its shared name loses its owner, finds
	// it again, or sees it moved.
	Shared func(messages.SharedChanged)
	// BulkheadSaturated is called when a bulkhead starts queueing or refusing calls
	// (Saturated true), and when it has a free permit and nobody waiting again (false).
	BulkheadSaturated func(messages.Saturated)
	// LimitChanged is called when a closed sampling window moved an adaptive limit.
	LimitChanged func(messages.LimitChanged)
}

func (h *Hooks) logger() *zap.Logger {
	if h.Logger == nil {
		return zap.NewNop()
	}
	return h.Logger
}

// link is what a breaker's or limiter's callers share with its actor: the actor's PID,
// counters callers add to without asking, and a channel closed when the actor has
// stopped for good, which releases anybody still waiting for an answer from it. The
// owner's durable state is apart from it (owner, breakerOwner, limiterOwner).
type link struct {
	name    string
	pid     atomic.Pointer[actor.PID]
	refused atomic.Uint64 // calls refused from the published view
	// stopped is the channel Stopped returns, made by its first call: most actors are
	// never asked, and an idle one should not carry a channel. dead is set first when
	// the actor stops for good.
	stopped  atomic.Pointer[chan struct{}]
	dead     atomic.Bool
	restarts atomic.Uint64
	lastUsed atomic.Int64 // unix nanos of the last message handled (passivation)
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
	return link{name: name}
}

// Name returns the actor's name.
func (l *link) Name() string { return l.name }

// PID returns the actor's PID, or nil before it was spawned.
func (l *link) PID() *actor.PID { return l.pid.Load() }

// SetPID records the PID the actor was spawned with. The supervisor calls it once.
func (l *link) SetPID(pid *actor.PID) { l.pid.Store(pid) }

// Stopped returns a channel closed once the actor has stopped for good.
func (l *link) Stopped() <-chan struct{} {
	for {
		if p := l.stopped.Load(); p != nil {
			return *p
		}
		if l.dead.Load() {
			return *stoppedClosed
		}
		ch := make(chan struct{})
		if l.stopped.CompareAndSwap(nil, &ch) {
			if l.dead.Load() { // stopped while the channel was installed
				l.closeStopped()
			}
			return ch
		}
	}
}

// markStopped records that the actor stopped for good and closes the channel of
// Stopped, once made: dead is set before the channel is looked at, and Stopped looks at
// dead after it installed one, so one of the two closes it.
func (l *link) markStopped() {
	l.dead.Store(true)
	l.closeStopped()
}

func (l *link) closeStopped() {
	if p := l.stopped.Swap(stoppedClosed); p != nil && p != stoppedClosed {
		close(*p)
	}
}

// stoppedClosed is the channel of every link whose actor stopped before anybody asked.
var stoppedClosed = func() *chan struct{} { c := make(chan struct{}); close(c); return &c }()

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

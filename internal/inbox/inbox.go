package inbox

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// Inbox is the process the engine's actors answer to. Build one with New and register
// it with SetPID; Ask is safe for concurrent use.
type Inbox struct {
	out     *Outbox
	done    <-chan struct{} // closed when the engine stops waiting: releases every Ask
	log     *zap.Logger
	pid     *actor.PID
	tickets atomic.Uint64
	waiters sync.Map // ticket → *waiter
	// free recycles waiters. It belongs to the inbox, not the package, so an engine
	// inside a testing/synctest bubble never shares a channel with one outside it.
	free sync.Pool
}

var _ actor.Process = (*Inbox)(nil)

// New returns an inbox that sends through out, stops every wait when done is closed and
// logs messages it cannot route to log.
func New(out *Outbox, done <-chan struct{}, log *zap.Logger) *Inbox {
	return &Inbox{out: out, done: done, log: log}
}

// SetPID records the PID the inbox was registered under; requests carry it as sender.
func (in *Inbox) SetPID(pid *actor.PID) { in.pid = pid }

// PID returns the PID answers are sent to.
func (in *Inbox) PID() *actor.PID { return in.pid }

// Undo says what an Ask's answer granted that must be given back when its caller gave
// up before the answer arrived.
type Undo uint8

const (
	// UndoNothing: the answer grants nothing (a Report's Acked, a supervisor's answer).
	UndoNothing Undo = iota
	// UndoProbe: a breaker's Acquire; a Granted probe slot is freed with a neutral Report.
	UndoProbe
	// UndoToken: a limiter's Acquire; an abandoned wait is cancelled, and a Granted
	// token is refunded.
	UndoToken
)

const (
	waiting int32 = iota
	delivered
	abandoned
)

// waiter is one caller waiting for one answer.
type waiter struct {
	ticket uint64
	state  atomic.Int32
	reply  chan any   // cap 1
	target *actor.PID // who was asked, for undo
	undo   Undo
}

// NoAnswerError says why an Ask ended without an answer: Cancelled (the caller's
// context ended), Stopped (the asked actor stopped for good) or Shutdown (the engine
// shut down).
type NoAnswerError int

// The reasons an Ask ends without an answer.
const (
	Cancelled NoAnswerError = iota + 1
	Stopped
	Shutdown
)

// noAnswerText is what each NoAnswerError reads.
var noAnswerText = [...]string{Cancelled: "caller gave up", Stopped: "actor stopped", Shutdown: "engine shut down"}

// Error says why, in a few words.
func (e NoAnswerError) Error() string {
	if e < Cancelled || e > Shutdown {
		return "no answer"
	}
	return noAnswerText[e]
}

// SendUserMessage routes an answer to its waiter by ticket. An answer nobody waits for
// any more is undone (see Undo); a message that is not an answer is logged and dropped.
func (in *Inbox) SendUserMessage(_ *actor.PID, message any) {
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message = env.Message
	}
	var ticket uint64
	switch m := message.(type) {
	case *messages.Granted:
		ticket = m.Ticket
	case *messages.Rejected:
		ticket = m.Ticket
	case *messages.Acked:
		ticket = m.Ticket
	default:
		in.log.Warn("inbox: not an answer; dropped", zap.String("type", fmt.Sprintf("%T", message)))
		return
	}
	v, ok := in.waiters.LoadAndDelete(ticket)
	if !ok {
		return
	}
	w := v.(*waiter)
	if w.state.CompareAndSwap(waiting, delivered) {
		w.reply <- message
		return
	}
	in.undo(w, message)
}

// SendSystemMessage ignores system messages: the inbox has no lifecycle.
func (in *Inbox) SendSystemMessage(*actor.PID, any) {}

// Stop does nothing: the engine removes the inbox from the registry at Shutdown.
func (in *Inbox) Stop(*actor.PID) {}

// undo takes back what an abandoned request was granted.
func (in *Inbox) undo(w *waiter, answer any) {
	g, ok := answer.(*messages.Granted)
	if !ok || w.target == nil {
		return
	}
	switch {
	case w.undo == UndoToken:
		in.out.Tell(w.target, &messages.Refund{GrantedAt: g.At}, nil)
	case g.Probe:
		in.out.Tell(w.target, &messages.Report{Generation: g.Generation, Outcome: messages.Neutral, Probe: true}, nil)
	}
}

// Ask sends the message build makes around a fresh ticket to pid and waits for the
// answer, for ctx, for the actor to stop (stopped may be nil), or for the engine to shut
// down; the error is then a NoAnswerError. undo says what to give back if the answer
// comes after the caller stopped waiting.
func (in *Inbox) Ask(ctx context.Context, pid *actor.PID, stopped <-chan struct{}, build func(ticket uint64) any, undo Undo) (any, error) {
	w, _ := in.free.Get().(*waiter)
	if w == nil {
		w = &waiter{reply: make(chan any, 1)}
	}
	w.ticket = in.tickets.Add(1)
	w.state.Store(waiting)
	w.target, w.undo = pid, undo
	in.waiters.Store(w.ticket, w)
	if !in.out.Tell(pid, build(w.ticket), in.pid) {
		in.waiters.Delete(w.ticket)
		in.free.Put(w)
		return nil, Shutdown
	}

	var why NoAnswerError
	select {
	case m := <-w.reply:
		in.free.Put(w)
		return m, nil
	case <-ctx.Done():
		why = Cancelled
	case <-stopped:
		why = Stopped
	case <-in.done:
		why = Shutdown
	}
	return in.abandon(w, why)
}

// abandon gives up on w. If the answer was delivered meanwhile it is returned as if
// nothing happened; otherwise the inbox will undo the answer when it arrives.
func (in *Inbox) abandon(w *waiter, why NoAnswerError) (any, error) {
	if !w.state.CompareAndSwap(waiting, abandoned) {
		m := <-w.reply
		in.free.Put(w)
		return m, nil
	}
	if w.undo == UndoToken && why == Cancelled {
		in.out.Tell(w.target, &messages.Cancel{Ticket: w.ticket}, nil)
	}
	if why != Cancelled {
		in.waiters.Delete(w.ticket)
	}
	return nil, why
}

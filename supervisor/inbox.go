package supervisor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
)

// inbox routes the answers of the engine's actors to the Go callers waiting for them,
// without futures: a caller registers a waiter under a fresh ticket, sends its request
// with the inbox's PID as sender, and waits on the waiter's channel. The inbox is a
// protoactor Process, so an actor's c.Respond reaches it by a direct call on the actor's
// goroutine — no mailbox, no goroutine, no registry entry per request.
//
// A caller whose context ends stops waiting at once and marks the waiter abandoned;
// when the answer arrives later, the inbox undoes what it granted (a limiter token is
// refunded, a half-open probe slot is freed), so giving up never leaks capacity.
type inbox struct {
	e       *Engine
	waiters sync.Map // ticket → *waiter
	pid     *actor.PID
	// free recycles waiters. It belongs to the engine, not the package, so an engine
	// inside a testing/synctest bubble never shares a channel with one outside it.
	free sync.Pool
}

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
	probe  bool       // a breaker Acquire: undo a Granted probe with a neutral Report
	undo   bool       // a limiter Acquire: undo a Granted token with Refund
}

func (in *inbox) SendUserMessage(_ *actor.PID, message any) {
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
	case *messages.Stats:
		ticket = m.Ticket
	default:
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

func (in *inbox) SendSystemMessage(*actor.PID, any) {}
func (in *inbox) Stop(*actor.PID)                   {}

// undo takes back what an abandoned request was granted.
func (in *inbox) undo(w *waiter, answer any) {
	g, ok := answer.(*messages.Granted)
	if !ok || w.target == nil {
		return
	}
	switch {
	case w.undo:
		in.e.tell(w.target, &messages.Refund{GrantedAt: g.At}, nil)
	case g.Probe:
		in.e.tell(w.target, &messages.Report{Generation: g.Generation, Outcome: messages.Neutral, Probe: true}, nil)
	}
}

// errNoAnswer says why an ask ended without an answer.
type errNoAnswer int

const (
	answerCancelled errNoAnswer = iota + 1 // the caller's context ended
	answerStopped                          // the asked actor stopped for good
	answerShutdown                         // the engine shut down
	answerTimeout                          // the internal bound on an answer passed
)

func (e errNoAnswer) Error() string {
	switch e {
	case answerCancelled:
		return "supervisor: caller gave up"
	case answerStopped:
		return "supervisor: actor stopped"
	case answerShutdown:
		return "supervisor: engine shut down"
	}
	return "supervisor: no answer in time"
}

// ask sends msg (built around the fresh ticket) to pid and waits for the answer, for
// ctx, for the actor to stop (stopped may be nil), or for the engine to shut down. On
// a limiter Acquire (limiter true) that is abandoned, a Cancel is sent so the queue
// forgets the caller.
func (in *inbox) ask(ctx context.Context, pid *actor.PID, stopped <-chan struct{}, build func(ticket uint64) any, probe, limiter bool) (any, error) {
	w, _ := in.free.Get().(*waiter)
	if w == nil {
		w = &waiter{reply: make(chan any, 1)}
	}
	w.ticket = in.e.tickets.Add(1)
	w.state.Store(waiting)
	w.target, w.probe, w.undo = pid, probe, limiter
	in.waiters.Store(w.ticket, w)
	if !in.e.tell(pid, build(w.ticket), in.pid) {
		in.waiters.Delete(w.ticket)
		in.free.Put(w)
		return nil, answerShutdown
	}

	var why errNoAnswer
	select {
	case m := <-w.reply:
		in.free.Put(w)
		return m, nil
	case <-ctx.Done():
		why = answerCancelled
	case <-stopped:
		why = answerStopped
	case <-in.e.done:
		why = answerShutdown
	}
	return in.abandon(w, why)
}

// askFor is ask bounded by d instead of a caller's context, for the engine's own
// requests (registration, metrics) that have no context.
func (in *inbox) askFor(d time.Duration, pid *actor.PID, stopped <-chan struct{}, build func(ticket uint64) any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := in.ask(ctx, pid, stopped, build, false, false)
	if err == answerCancelled {
		err = answerTimeout
	}
	return m, err
}

// abandon gives up on w. If the answer was delivered meanwhile it is returned as if
// nothing happened; otherwise the inbox will undo the answer when it arrives.
func (in *inbox) abandon(w *waiter, why errNoAnswer) (any, error) {
	if !w.state.CompareAndSwap(waiting, abandoned) {
		m := <-w.reply
		in.free.Put(w)
		return m, nil
	}
	if w.undo && why == answerCancelled {
		in.e.tell(w.target, &messages.Cancel{Ticket: w.ticket}, nil)
	}
	if why != answerCancelled {
		in.waiters.Delete(w.ticket)
	}
	return nil, why
}

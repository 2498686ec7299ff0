package supervisor

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// entry is the process behind Engine.PID. An actor client's messages.Execute is handled
// on the sender's own goroutine, by a direct call: the operation starts on a goroutine
// of its own at once, without a hop through a mailbox, and its *messages.Result goes
// back to the sender. Every other message is forwarded to the supervisor actor.
type entry struct{ e *Engine }

func (p *entry) SendUserMessage(_ *actor.PID, message any) {
	var sender *actor.PID
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message, sender = env.Message, env.Sender
	}
	switch m := message.(type) {
	case messages.Execute:
		p.e.executeMessage(m, sender)
	case *messages.Execute:
		if m == nil {
			p.e.log.Warn("a nil *messages.Execute was sent to the engine; nothing to run")
			return
		}
		p.e.executeMessage(*m, sender)
	case messages.GetStats:
		p.forward(&m, sender)
	default:
		p.forward(message, sender)
	}
}

// forward passes a message other than Execute to the supervisor actor, keeping its sender.
// Lifecycle messages (PoisonPill, Stopping, Stopped, Restarting, or a system message
// sent as a user one) are dropped: the supervisor would act on them as its own — a
// PoisonPill would stop it and kill the engine for good — and only Shutdown may do that.
func (p *entry) forward(message any, sender *actor.PID) {
	switch message.(type) {
	case nil: // nothing to forward
		return
	case actor.AutoReceiveMessage, actor.SystemMessage:
		p.e.log.Warn("a lifecycle message was sent to the engine's PID; dropped: only Shutdown stops the engine",
			zap.String("type", typeName(message)))
		return
	}
	if !p.e.tell(p.e.sup, message, sender) {
		p.e.log.Warn("a message reached the engine after Shutdown; dropped", zap.String("type", typeName(message)))
	}
}

// SendSystemMessage forwards Watch and Unwatch to the supervisor actor, so a client that
// watches the engine's PID learns when the engine shut down. Every other system message
// (Stop, Restart, ...) is dropped: only Shutdown stops the engine.
func (p *entry) SendSystemMessage(_ *actor.PID, message any) {
	switch message.(type) {
	case *actor.Watch, *actor.Unwatch:
	default:
		p.e.log.Warn("a system message was sent to the engine's PID; dropped: only Shutdown stops the engine",
			zap.String("type", typeName(message)))
		return
	}
	if proc, ok := p.e.sys.ProcessRegistry.Get(p.e.sup); ok {
		proc.SendSystemMessage(p.e.sup, message)
	}
}

// Stop does nothing: a client's Stop(e.PID()) must not stop the engine; Shutdown does.
func (p *entry) Stop(*actor.PID) {}

// executeMessage runs an actor client's operation and answers its sender.
func (e *Engine) executeMessage(m messages.Execute, sender *actor.PID) {
	if sender == nil {
		e.log.Warn("messages.Execute without a sender: nobody would get the result; send it with Request",
			zap.String("op", m.ID))
		return
	}
	// The Result's delivery holds a place in the gate of its own, taken here and given
	// back once the Result is sent, so Shutdown's drain waits for the goroutine below;
	// the call itself passes the gate and is counted in execute, before the Result goes
	// out, so a client that reads the metrics after its Result sees the call.
	if !e.enter() {
		e.root.Send(sender, &messages.Result{ID: m.ID, Err: shutdownErr(m.ID)})
		return
	}
	go e.runMessage(m, sender)
}

// runMessage runs an actor client's operation, sends its Result and gives back the
// delivery's place in the gate (see executeMessage).
func (e *Engine) runMessage(m messages.Execute, sender *actor.PID) {
	c := call{id: m.ID, critical: m.Critical}
	var res *messages.Result
	defer func() {
		if res == nil { // the function called runtime.Goexit; its call counted it
			res = &messages.Result{ID: m.ID, Err: c.goexitErr(), Attempts: c.attempts}
		}
		e.root.Send(sender, res)
		e.leaveRefused()
	}()
	ctx := context.Background()
	if !m.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, m.Deadline)
		defer cancel()
	}
	p := m.Policy
	if p == nil {
		p = policy.None()
	}
	c.ctx = ctx
	v, err := execute(&c, e, p, m.Fn)
	res = &messages.Result{ID: m.ID, Value: v, Err: err, Attempts: c.attempts}
}

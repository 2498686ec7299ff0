package supervisor

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// actorClient is the process behind Engine.PID: the adapter for actor clients. An actor client's messages.Execute is handled
// on the sender's own goroutine, by a direct call: the operation starts on a goroutine
// of its own at once, without a hop through a mailbox, and its *messages.Result goes
// back to the sender. A messages.SetBreakerMode is applied as Engine.ForceOpen and its
// siblings do, and answered with a *messages.Result. Every other message is forwarded
// to the supervisor actor.
type actorClient struct{ e *Engine }

var _ actor.Process = (*actorClient)(nil)

// SendUserMessage runs a messages.Execute, or forwards any other message to the
// supervisor actor.
func (p *actorClient) SendUserMessage(_ *actor.PID, message any) {
	var sender *actor.PID
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message, sender = env.Message, env.Sender
	}
	switch m := message.(type) {
	case messages.Execute:
		p.e.executeMessage(m, sender)
	case *messages.Execute:
		if m == nil {
			p.e.env.Log.Warn("a nil *messages.Execute was sent to the engine; nothing to run")
			return
		}
		p.e.executeMessage(*m, sender)
	case messages.SetBreakerMode:
		p.e.breakerModeMessage(m, sender)
	case *messages.SetBreakerMode:
		if m == nil {
			p.e.env.Log.Warn("a nil *messages.SetBreakerMode was sent to the engine; nothing to set")
			return
		}
		p.e.breakerModeMessage(*m, sender)
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
func (p *actorClient) forward(message any, sender *actor.PID) {
	switch message.(type) {
	case nil: // nothing to forward
		return
	case actor.AutoReceiveMessage, actor.SystemMessage:
		p.e.env.Log.Warn("a lifecycle message was sent to the engine's PID; dropped: only Shutdown stops the engine",
			zap.String("type", fmt.Sprintf("%T", message)))
		return
	}
	if !p.e.tell(p.e.env.Registry.PID(), message, sender) {
		p.e.env.Log.Warn("a message reached the engine after Shutdown; dropped", zap.String("type", fmt.Sprintf("%T", message)))
	}
}

// SendSystemMessage forwards Watch and Unwatch to the supervisor actor, so a client that
// watches the engine's PID learns when the engine shut down. Every other system message
// (Stop, Restart, ...) is dropped: only Shutdown stops the engine.
func (p *actorClient) SendSystemMessage(_ *actor.PID, message any) {
	switch message.(type) {
	case *actor.Watch, *actor.Unwatch:
	default:
		p.e.env.Log.Warn("a system message was sent to the engine's PID; dropped: only Shutdown stops the engine",
			zap.String("type", fmt.Sprintf("%T", message)))
		return
	}
	sup := p.e.env.Registry.PID()
	if proc, ok := p.e.sys.ProcessRegistry.Get(sup); ok {
		proc.SendSystemMessage(sup, message)
	}
}

// Stop does nothing: a client's Stop(e.PID()) must not stop the engine; Shutdown does.
func (p *actorClient) Stop(*actor.PID) {}

// executeMessage runs an actor client's operation and answers its sender.
func (e *Engine) executeMessage(m messages.Execute, sender *actor.PID) {
	if sender == nil {
		e.env.Log.Warn("messages.Execute without a sender: nobody would get the result; send it with Request",
			zap.String("op", m.ID))
		return
	}
	// The Result's delivery holds a place in the gate of its own, taken here and given
	// back once the Result is sent, so Shutdown's drain waits for the goroutine below;
	// the call itself passes the gate and is counted in execute, before the Result goes
	// out, so a client that reads the metrics after its Result sees the call.
	if !e.env.Enter() {
		e.root.Send(sender, &messages.Result{ID: m.ID, Err: pipeline.Shutdown(m.ID)})
		return
	}
	go e.runMessage(m, sender)
}

// runMessage runs an actor client's operation, sends its Result and gives back the
// delivery's place in the gate (see executeMessage). Its frame is kept small: the
// operation runs on a fresh goroutine, whose first stack it must fit in.
func (e *Engine) runMessage(m messages.Execute, sender *actor.PID) {
	ctx, cancel := context.Background(), context.CancelFunc(nil)
	if !m.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, m.Deadline)
	}
	var c pipeline.Call
	c.Init(ctx, m.ID, m.Critical)
	res := &messages.Result{ID: m.ID}
	returned := false
	defer e.deliver(sender, res, &c, &returned)
	if cancel != nil {
		defer cancel()
	}
	p := m.Policy
	if p == nil {
		p = policy.None()
	}
	res.Value, res.Err = pipeline.Execute(&c, e.env, p, m.Fn)
	returned = true
}

// deliver sends an actor client's Result and gives back the delivery's place in the
// gate; when the function called runtime.Goexit (returned is false), the Result carries
// ErrPanic (the call itself counted it).
func (e *Engine) deliver(sender *actor.PID, res *messages.Result, c *pipeline.Call, returned *bool) {
	if !*returned {
		res.Value, res.Err = nil, c.GoexitErr()
	}
	res.Attempts = c.Attempts()
	e.root.Send(sender, res)
	e.env.LeaveRefused()
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Caller is who needs a link: the operation ID and the attempts it has made, for the
// errors of a failed resolution. A registration's Op is the name itself.
type Caller struct {
	Op       string
	Attempts int
}

// Resolve returns the live actor name of the family, asking the supervisor to create
// it (configured by p) when there is none. With register, the supervisor also
// reconfigures an existing actor with p and marks the name as registered. Its errors are
// *policy.Error values for who: ErrShutdown, ErrCancelled when ctx ended (matching ctx's
// own error), ErrOverloaded when the supervisor could not start the actor.
func (f *Family[L, P, S]) Resolve(ctx context.Context, who Caller, name string, p P, register bool) (L, error) {
	var zero L
	r := f.r
	for range 3 {
		if !register {
			if l := f.links.Get(name); l != zero && !l.Retired() {
				if l.Registered() {
					return l, nil
				}
				// A provisional actor (see Provide) takes the first policy's
				// configuration from the supervisor.
				if origin, ok := f.origin(l); ok {
					f.warnIfOther(name, origin, p)
					return l, nil
				}
			}
		}
		ans, err := r.cfg.Inbox.Ask(ctx, r.pid, r.done, func(t uint64) any {
			return &ensure[L, P, S]{f: f, ticket: t, name: name, policy: p, register: register}
		}, inbox.UndoNothing)
		if err := ensured(ctx, who, f.kind, name, ans, err); err != nil {
			return zero, err
		}
		if l := f.links.Get(name); l != zero && (register || !l.Retired()) {
			return l, nil
		}
	}
	return zero, &policy.Error{Kind: policy.ErrOverloaded, Op: who.Op, Err: fmt.Errorf("%s %q keeps stopping", f.kind, name)}
}

// Provide returns the live actor name of the family, creating it when there is none,
// for a manual control (Engine.ForceOpen, ...) that must act on a name before any policy
// used it. A new actor takes the configuration remembered for a passivated name, else
// the family's placeholder; a provisional actor so created takes the configuration of
// the first policy that names it (Resolve reconfigures it), and a registration wins over
// both. Its errors are Resolve's.
func (f *Family[L, P, S]) Provide(ctx context.Context, who Caller, name string) (L, error) {
	var zero L
	r := f.r
	for range 3 {
		if l := f.links.Get(name); l != zero && !l.Retired() {
			return l, nil
		}
		ans, err := r.cfg.Inbox.Ask(ctx, r.pid, r.done, func(t uint64) any {
			return &ensure[L, P, S]{f: f, ticket: t, name: name, policy: f.placeholder, provide: true}
		}, inbox.UndoNothing)
		if err := ensured(ctx, who, f.kind, name, ans, err); err != nil {
			return zero, err
		}
		if l := f.links.Get(name); l != zero && !l.Retired() {
			return l, nil
		}
	}
	return zero, &policy.Error{Kind: policy.ErrOverloaded, Op: who.Op, Err: fmt.Errorf("%s %q keeps stopping", f.kind, name)}
}

// ensured turns the supervisor's answer to an ensure for the actor name of kind into an
// error, if it is one: the actor's kind and name are in its cause.
func ensured(ctx context.Context, who Caller, kind, name string, ans any, err error) error {
	starting := func(cause error) error {
		return fmt.Errorf("starting %s %q: %w", kind, name, cause)
	}
	if err != nil {
		switch err {
		case inbox.Shutdown:
			return &policy.Error{Kind: policy.ErrShutdown, Op: who.Op}
		case inbox.Cancelled:
			// ctx.Err() says how the context ended (cancelled or deadline); a cause given
			// with context.WithCancelCause comes with it.
			cause := ctx.Err()
			if why := context.Cause(ctx); why != nil && !errors.Is(why, cause) {
				cause = errors.Join(cause, why)
			}
			return &policy.Error{Kind: policy.ErrCancelled, Op: who.Op, Attempts: who.Attempts, Err: starting(cause)}
		}
		return &policy.Error{Kind: policy.ErrOverloaded, Op: who.Op, Attempts: who.Attempts, Err: starting(err)}
	}
	if r, ok := ans.(*messages.Rejected); ok {
		return &policy.Error{Kind: policy.ErrOverloaded, Op: who.Op, Attempts: who.Attempts, Err: starting(errors.New("the actor " + r.Reason.String()))}
	}
	return nil
}

// ensure asks the supervisor for the actor name of family f to exist, configured by
// policy if new.
type ensure[L Link[P, S], P Config, S any] struct {
	f      *Family[L, P, S]
	ticket uint64
	name   string
	policy P
	// register makes the name explicit: reconfigure when it exists, and never passivate.
	register bool
	// provide creates the actor, if there is none, with a remembered configuration or
	// else the placeholder policy (see Provide).
	provide bool
}

// request is a message the supervisor handles by asking the message itself: each
// family's ensure.
type request interface {
	handle(s *supervisorActor, c actor.Context)
}

func (m *ensure[L, P, S]) handle(s *supervisorActor, c actor.Context) {
	s.pending = m.ticket
	m.f.ensure(c, m)
}

// ensure is the supervisor's side of an ensure: it answers at once for a live name
// (after reconfiguring it, for register), or spawns the actor, publishes it and
// answers. A name that was passivated, or whose actor is stopping, keeps its
// configuration unless it is registered.
func (f *Family[L, P, S]) ensure(c actor.Context, m *ensure[L, P, S]) {
	r := f.r
	var zero L
	reply := r.cfg.Inbox.PID()
	if _, local := r.cfg.Backend.(Local); local && !m.provide && f.shared != nil && f.shared(m.policy) {
		r.cfg.Warn.Once("shared:"+f.kind+":"+m.name, "a shared "+f.kind+" runs locally: no cluster backend",
			zap.String(f.kind, m.name))
	}
	old := f.links.Get(m.name)
	if old != zero && !old.Retired() {
		adopt, provisional := f.provisional.get(old)
		switch {
		case m.provide:
			c.Send(reply, &messages.Acked{Ticket: m.ticket})
			return
		case !m.register && provisional && adopt.Load() == nil:
			// The first policy to name a provisional actor configures it. The child
			// acknowledges to the waiting caller directly.
			p := m.policy
			adopt.Store(&p)
			c.RequestWithCustomSender(old.PID(), f.reconfigure(m.ticket, m.policy), reply)
			return
		case !m.register:
			c.Send(reply, &messages.Acked{Ticket: m.ticket})
			return
		case old.SetRegistered():
			// The child acknowledges to the waiting caller directly. It is registered,
			// so a Passivate queued before the Reconfigure is refused.
			if provisional {
				p := m.policy
				adopt.Store(&p)
			}
			c.RequestWithCustomSender(old.PID(), f.reconfigure(m.ticket, m.policy), reply)
			return
		}
		// The actor decided to passivate first: it stops; the name gets a new one.
	}
	config := m.policy
	remembered, ok := f.configs.take(m.name)
	placeholder := false
	if !m.register {
		origin, known := config, true
		if old != zero {
			origin, known = f.origin(old) // stopping, not yet forgotten
		}
		switch {
		case old != zero && known:
			config = origin
		case old == zero && ok:
			config = remembered
		case m.provide:
			placeholder = true // no policy has named it yet
		}
		if !m.provide {
			f.warnIfOther(m.name, config, m.policy)
		}
	}
	l, props := f.spawn(r.cfg.Backend, m.name, config, Env{Now: time.Now(), Hooks: r.cfg.Hooks, Dispatcher: r.pool})
	pid, err := c.SpawnNamed(props, r.childName(f.kind, m.name))
	if err != nil {
		r.cfg.Log.Error("supervisor: cannot spawn "+f.kind, zap.String(f.kind, m.name), zap.Error(err))
		c.Send(reply, &messages.Rejected{Ticket: m.ticket, Reason: messages.Crashed})
		return
	}
	l.SetPID(pid)
	// No c.Watch: a parent receives its child's Terminated anyway, and the second one a
	// watch adds can reach a supervisor that already stopped, as a dead letter.
	name := m.name
	r.children[pid.Id] = func() { f.forget(name, l) }
	if placeholder {
		f.provisional.add(l)
	}
	f.links.Store(m.name, l)
	if m.register {
		l.SetRegistered()
	}
	if ce := r.cfg.Log.Check(zap.DebugLevel, f.kind+" created"); ce != nil {
		ce.Write(zap.String(f.kind, m.name), zap.Stringer("policy", config), zap.Bool("registered", m.register))
	}
	c.Send(reply, &messages.Acked{Ticket: m.ticket})
}

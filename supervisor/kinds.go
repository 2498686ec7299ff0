package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// namedLink is what the supervisor needs of a breaker's or a limiter's link.
type namedLink interface {
	comparable
	Retired() bool
	Registered() bool
	SetRegistered() bool
	PID() *actor.PID
	SetPID(*actor.PID)
	Producer() actor.Producer
	Mailbox() actor.MailboxProducer
}

// kind describes one family of named actors — breakers or limiters — so that resolving,
// creating and registering a name is written once for both.
type kind[L namedLink, P interface {
	comparable
	fmt.Stringer
}] struct {
	name        string // "breaker" or "limiter": log fields and actor ids
	links       *linkMap[L]
	create      func(name string, p P, now time.Time, hooks actors.Hooks) L
	reconfigure func(ticket uint64, p P) *messages.Reconfigure
	origin      func(L) P
	unnamed     func(P) P // p without its Name, to compare thresholds
	child       func(l L, name string) child
	// configs remembers the configuration of each passivated name until the name is
	// used again: the first policy that used a name configures it, and passivation must
	// not lose that (the recreated actor would take the next policy's thresholds). Only
	// the supervisor actor touches it.
	configs configMemory[P]
}

// configMemory maps passivated names to their configurations. The configurations are
// interned — names configured alike share one entry of the table — so a passivated name
// costs one small map entry (about 50 bytes with its name), not a policy value. A name's
// configuration is the one thing the engine keeps once its actor is gone.
type configMemory[P comparable] struct {
	byName map[string]uint32 // passivated name → index in table
	table  []P               // distinct configurations, without their Name
	index  map[P]uint32      // configuration → index in table
}

func newConfigMemory[P comparable]() configMemory[P] {
	return configMemory[P]{byName: map[string]uint32{}, index: map[P]uint32{}}
}

// remember records p as the configuration of the passivated name.
func (m *configMemory[P]) remember(name string, p P) {
	i, ok := m.index[p]
	if !ok {
		i = uint32(len(m.table))
		m.table = append(m.table, p)
		m.index[p] = i
	}
	m.byName[name] = i
}

// take returns the configuration remembered for name, if any, and forgets it: the
// name's new actor holds it from now on.
func (m *configMemory[P]) take(name string) (p P, ok bool) {
	i, ok := m.byName[name]
	if !ok {
		return p, false
	}
	delete(m.byName, name)
	return m.table[i], true
}

// ensure asks the supervisor for the actor name of a kind to exist, configured by
// policy if new. Pure data.
type ensure[P any] struct {
	ticket uint64
	name   string
	policy P
	// register makes the name explicit: reconfigure when it exists, and never passivate.
	register bool
}

func breakerKind(e *Engine) *kind[*actors.BreakerLink, policy.CircuitBreakerPolicy] {
	return &kind[*actors.BreakerLink, policy.CircuitBreakerPolicy]{
		name: "breaker", links: &e.breakers, create: actors.NewBreakerLink,
		reconfigure: func(t uint64, p policy.CircuitBreakerPolicy) *messages.Reconfigure {
			return &messages.Reconfigure{Ticket: t, Breaker: &p}
		},
		origin:  (*actors.BreakerLink).Origin,
		unnamed: func(p policy.CircuitBreakerPolicy) policy.CircuitBreakerPolicy { p.Name = ""; return p },
		child:   func(l *actors.BreakerLink, name string) child { return child{breaker: l, name: name} },
		configs: newConfigMemory[policy.CircuitBreakerPolicy](),
	}
}

func limiterKind(e *Engine) *kind[*actors.LimiterLink, policy.RateLimitPolicy] {
	return &kind[*actors.LimiterLink, policy.RateLimitPolicy]{
		name: "limiter", links: &e.limiters, create: actors.NewLimiterLink,
		reconfigure: func(t uint64, p policy.RateLimitPolicy) *messages.Reconfigure {
			return &messages.Reconfigure{Ticket: t, Limiter: &p}
		},
		origin:  (*actors.LimiterLink).Origin,
		unnamed: func(p policy.RateLimitPolicy) policy.RateLimitPolicy { p.Name = ""; return p },
		child:   func(l *actors.LimiterLink, name string) child { return child{limiter: l, name: name} },
		configs: newConfigMemory[policy.RateLimitPolicy](),
	}
}

// resolve returns the live actor name of kind k, asking the supervisor to create it
// (configured by p) when there is none. With register, the supervisor also reconfigures
// an existing actor with p and marks the name as registered. c is the call that needs
// the actor, for its errors; nil for a registration.
func resolve[L namedLink, P interface {
	comparable
	fmt.Stringer
}](ctx context.Context, e *Engine, k *kind[L, P], c *call, name string, p P, register bool) (L, error) {
	var zero L
	for range 3 {
		if !register {
			if l := k.links.Get(name); l != zero && !l.Retired() {
				if !l.Registered() {
					k.warnIfOther(e, name, k.origin(l), p)
				}
				return l, nil
			}
		}
		ans, err := e.inbox.ask(ctx, e.sup, e.supDone, func(t uint64) any {
			return &ensure[P]{ticket: t, name: name, policy: p, register: register}
		}, false, false)
		if err := e.ensured(ctx, c, k.name, name, ans, err); err != nil {
			return zero, err
		}
		if l := k.links.Get(name); l != zero && (register || !l.Retired()) {
			return l, nil
		}
	}
	op := name
	if c != nil {
		op = c.id
	}
	return zero, &policy.Error{Kind: policy.ErrOverloaded, Op: op, Err: fmt.Errorf("supervisor: %s %q keeps stopping", k.name, name)}
}

// warnIfOther logs, once per name, that p names an actor configured otherwise.
func (k *kind[L, P]) warnIfOther(e *Engine, name string, config, p P) {
	if k.unnamed(config) != k.unnamed(p) {
		e.warnOnce("config:"+k.name+":"+name, "a policy names a breaker or limiter that exists with other thresholds; the first configuration wins",
			zap.String("name", name), zap.Stringer("ignored", p))
	}
}

// passivated remembers the configuration of l, which stopped, unless its name is live
// again or the engine is shutting down.
func (k *kind[L, P]) passivated(e *Engine, name string, l L) {
	var zero L
	if e.closed.Load() || l.Registered() || k.links.Get(name) != zero {
		return
	}
	k.configs.remember(name, k.unnamed(k.origin(l)))
}

// spawn is the supervisor's side of ensure: it answers at once for a live name (after
// reconfiguring it, for register), or spawns the actor, publishes it and answers. A
// name that was passivated, or whose actor is stopping, keeps its configuration unless
// it is registered.
func spawn[L namedLink, P interface {
	comparable
	fmt.Stringer
}](s *supervisorActor, c actor.Context, k *kind[L, P], m *ensure[P]) {
	e := s.e
	var zero L
	old := k.links.Get(m.name)
	if old != zero && !old.Retired() {
		switch {
		case !m.register:
			c.Send(e.inbox.pid, &messages.Acked{Ticket: m.ticket})
			return
		case old.SetRegistered():
			// The child acknowledges to the waiting caller directly. It is registered,
			// so a Passivate queued before the Reconfigure is refused.
			c.RequestWithCustomSender(old.PID(), k.reconfigure(m.ticket, m.policy), e.inbox.pid)
			return
		}
		// The actor decided to passivate first: it stops; the name gets a new one.
	}
	config := m.policy
	remembered, ok := k.configs.take(m.name)
	if !m.register {
		switch {
		case old != zero:
			config = k.origin(old) // stopping, not yet forgotten
		case ok:
			config = remembered
		}
		k.warnIfOther(e, m.name, config, m.policy)
	}
	l := k.create(m.name, config, time.Now(), s.hooks())
	props := actor.PropsFromProducer(l.Producer(), actor.WithDispatcher(e.pool), actor.WithMailbox(l.Mailbox()))
	pid, err := c.SpawnNamed(props, s.childName(k.name, m.name))
	if err != nil {
		e.log.Error("supervisor: cannot spawn "+k.name, zap.String(k.name, m.name), zap.Error(err))
		c.Send(e.inbox.pid, &messages.Rejected{Ticket: m.ticket, Reason: messages.Crashed})
		return
	}
	l.SetPID(pid)
	// No c.Watch: a parent receives its child's Terminated anyway, and the second one a
	// watch adds can reach a supervisor that already stopped, as a dead letter.
	e.reg.byPID[pid.Id] = k.child(l, m.name)
	k.links.Store(m.name, l)
	if m.register {
		l.SetRegistered()
	}
	if ce := e.log.Check(zap.DebugLevel, k.name+" created"); ce != nil {
		ce.Write(zap.String(k.name, m.name), zap.Stringer("policy", config), zap.Bool("registered", m.register))
	}
	c.Send(e.inbox.pid, &messages.Acked{Ticket: m.ticket})
}

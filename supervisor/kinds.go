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
	SetRegistered()
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
				if !l.Registered() && k.unnamed(k.origin(l)) != k.unnamed(p) {
					e.warnOnce("config:"+k.name+":"+name, "a policy names a breaker or limiter that exists with other thresholds; the first configuration wins",
						zap.String("name", name), zap.Stringer("ignored", p))
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

// spawn is the supervisor's side of ensure: it answers at once for a live name (after
// reconfiguring it, for register), or spawns the actor, publishes it and answers.
func spawn[L namedLink, P interface {
	comparable
	fmt.Stringer
}](s *supervisorActor, c actor.Context, k *kind[L, P], m *ensure[P]) {
	e := s.e
	var zero L
	if l := k.links.Get(m.name); l != zero && !l.Retired() {
		if m.register {
			l.SetRegistered()
			// The child acknowledges to the waiting caller directly.
			c.RequestWithCustomSender(l.PID(), k.reconfigure(m.ticket, m.policy), e.inbox.pid)
			return
		}
		c.Send(e.inbox.pid, &messages.Acked{Ticket: m.ticket})
		return
	}
	l := k.create(m.name, m.policy, time.Now(), s.hooks())
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
		ce.Write(zap.String(k.name, m.name), zap.Stringer("policy", m.policy), zap.Bool("registered", m.register))
	}
	c.Send(e.inbox.pid, &messages.Acked{Ticket: m.ticket})
}

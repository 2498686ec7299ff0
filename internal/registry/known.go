package registry

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// Known reports whether the family has the actor name: live, or passivated with its
// configuration remembered (a registration, or the first policy that used the name).
// A live name answers without a message; otherwise the supervisor, which alone owns
// the remembered configurations, is asked. Its errors are Resolve's.
func (f *Family[L, P, S]) Known(ctx context.Context, who Caller, name string) (bool, error) {
	var zero L
	if l := f.links.Get(name); l != zero && !l.Retired() {
		return true, nil
	}
	r := f.r
	ans, err := r.cfg.Inbox.Ask(ctx, r.pid, r.done, func(t uint64) any {
		return &lookup[L, P, S]{f: f, ticket: t, name: name}
	}, inbox.UndoNothing)
	if rej, ok := ans.(*messages.Rejected); ok && err == nil && rej.Reason == messages.NotFound {
		return false, nil
	}
	if err := ensured(ctx, who, f.kind, name, ans, err); err != nil {
		return false, err
	}
	if _, ok := ans.(*messages.Acked); !ok {
		return false, &policy.Error{Kind: policy.ErrOverloaded, Op: who.Op, Err: fmt.Errorf("looking up %s %q: unexpected answer %T", f.kind, name, ans)}
	}
	return true, nil
}

// lookup asks the supervisor whether the actor name of family f exists or is
// remembered: it answers *messages.Acked, or *messages.Rejected with Reason NotFound.
type lookup[L Link[P, S], P Config, S any] struct {
	f      *Family[L, P, S]
	ticket uint64
	name   string
}

func (m *lookup[L, P, S]) handle(s *supervisorActor, c actor.Context) {
	s.pending = m.ticket
	f := m.f
	var zero L
	reply := f.r.cfg.Inbox.PID()
	_, remembered := f.configs.byName[m.name]
	if l := f.links.Get(m.name); remembered || l != zero {
		c.Send(reply, &messages.Acked{Ticket: m.ticket})
		return
	}
	c.Send(reply, &messages.Rejected{Ticket: m.ticket, Reason: messages.NotFound})
}

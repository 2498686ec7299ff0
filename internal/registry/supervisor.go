package registry

import (
	"fmt"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// idleScan is the supervisor's own timer message: look for idle actors to passivate.
type idleScan struct{}

// supervisorActor owns the registry of named actors: it spawns a named actor on first
// use, publishes the name → link maps that callers read without asking, restarts a
// child that panics (its state lives in its link and is kept), reconfigures registered
// names, and passivates idle unregistered ones.
type supervisorActor struct {
	r       *Registry
	scanner *time.Timer // the armed idle scan, stopped when the supervisor stops
	pending uint64      // ticket of the request being handled
}

var _ actor.Actor = (*supervisorActor)(nil)

// Receive handles one message. The supervisor recovers its own panics instead of
// letting protoactor restart it, because a restart would stop every child and lose the
// named actors; its state lives in the Registry, so nothing is lost by carrying on. The
// request that panicked is answered as crashed.
func (s *supervisorActor) Receive(c actor.Context) {
	r := s.r
	defer func() {
		if p := recover(); p != nil {
			r.cfg.Counters.SupRestarts.Add(1)
			r.cfg.Log.Error("supervisor actor panicked; recovered, registry and children kept", zap.Any("panic", p))
			if t := s.pending; t != 0 {
				c.Send(r.cfg.Inbox.PID(), &messages.Rejected{Ticket: t, Reason: messages.Crashed})
			}
		}
		s.pending = 0
	}()
	switch m := c.Message().(type) {
	case *actor.Started:
		s.armScan(c.Self())
	case *actor.Stopping:
		if s.scanner != nil {
			s.scanner.Stop()
		}
	case *actor.Stopped:
		close(r.done)
	case request:
		m.handle(s, c)
	case *idleScan:
		cutoff := time.Now().Add(-r.cfg.IdleTimeout)
		for _, f := range r.families {
			f.scan(c, cutoff)
		}
		s.armScan(c.Self())
	case *actor.Terminated:
		if forget, ok := r.children[m.Who.Id]; ok {
			delete(r.children, m.Who.Id)
			forget()
		}
	case *messages.GetStats:
		st := r.cfg.Stats()
		c.Respond(&st)
	case *fault.Panic:
		panic(m.Reason)
	case *fault.Block:
		<-m.Release
	case *actor.ReceiveTimeout:
	case *messages.Acked, *messages.Rejected:
		// answers to Passivate: the child stops itself; Terminated cleans up.
	default:
		r.cfg.Log.Warn("supervisor: unknown message", zap.String("type", fmt.Sprintf("%T", m)))
	}
}

// armScan schedules the next idle scan. The timer sends through the Outbox, which
// refuses once Shutdown has begun stopping the actors, and Stopping stops it: a scan
// never reaches a stopped supervisor as a dead letter in the caller's actor system.
func (s *supervisorActor) armScan(self *actor.PID) {
	r := s.r
	if d := r.cfg.IdleTimeout; d > 0 {
		s.scanner = time.AfterFunc(max(d/2, time.Millisecond), func() { r.cfg.Outbox.Tell(self, &idleScan{}, nil) })
	}
}

// childName returns a fresh actor id for the actor name of kind: a name recreated after
// passivation never collides with its stopping predecessor.
func (r *Registry) childName(kind, name string) string {
	r.seq++
	return kind + "/" + name + "/" + strconv.FormatUint(r.seq, 10)
}

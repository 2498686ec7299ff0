package supervisor

import (
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// registry is the supervisor actor's own state: a sequence that gives every spawned
// child a fresh actor id (so a name recreated after passivation never collides with its
// stopping predecessor), and which child each PID is. It lives in the Engine, outside
// the actor struct; only the supervisor actor touches it. Nothing in it outlives the
// child it describes (the configuration of a passivated name is kept by its kind).
type registry struct {
	seq   uint64
	byPID map[string]child // child actor id → what it is
}

// child names a breaker or limiter actor in the registry.
type child struct {
	breaker *actors.BreakerLink
	limiter *actors.LimiterLink
	name    string
}

func (r *registry) init() {
	r.byPID = map[string]child{}
}

// idleScan is the supervisor's own timer message: look for idle actors to passivate.
type idleScan struct{}

// supervisorActor owns the registry of named actors: it spawns a breaker or limiter
// on first use, publishes the name → link maps that callers read without asking,
// restarts a child that panics (its state lives in its link and is kept), reconfigures
// registered names, and passivates idle unregistered ones.
type supervisorActor struct {
	e       *Engine
	scanner *time.Timer // the armed idle scan, stopped when the supervisor stops
	pending uint64      // ticket of the request being handled
}

// Receive handles one message. The supervisor recovers its own panics instead of
// letting protoactor restart it, because a restart would stop every child and lose the
// breakers' and limiters' live actors; its registry lives in the Engine, so nothing is
// lost by carrying on. The request that panicked is answered as crashed.
func (s *supervisorActor) Receive(c actor.Context) {
	e := s.e
	defer func() {
		if r := recover(); r != nil {
			e.supRestarts.Add(1)
			e.log.Error("supervisor actor panicked; recovered, registry and children kept", zap.Any("panic", r))
			if t := s.pending; t != 0 {
				c.Send(e.inbox.pid, &messages.Rejected{Ticket: t, Reason: messages.Crashed})
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
		close(e.supDone)
	case *ensure[policy.CircuitBreakerPolicy]:
		s.pending = m.ticket
		spawn(s, c, e.breakerKind, m)
	case *ensure[policy.RateLimitPolicy]:
		s.pending = m.ticket
		spawn(s, c, e.limiterKind, m)
	case *idleScan:
		s.scan(c)
		s.armScan(c.Self())
	case *actor.Terminated:
		s.forget(m.Who)
	case *messages.GetStats:
		st := e.engineStats()
		c.Respond(&st)
	case *fault.Panic:
		panic(m.Reason)
	case *fault.Block:
		<-m.Release
	case *actor.ReceiveTimeout:
	case *messages.Acked, *messages.Rejected:
		// answers to Passivate: the child stops itself; Terminated cleans up.
	default:
		e.log.Warn("supervisor: unknown message", zap.String("type", typeName(m)))
	}
}

// armScan schedules the next idle scan. The timer sends through Engine.tell, which
// refuses once Shutdown has begun stopping the actors, and Stopping stops it: a scan
// never reaches a stopped supervisor as a dead letter in the caller's actor system.
func (s *supervisorActor) armScan(self *actor.PID) {
	e := s.e
	if d := e.cfg.idleTimeout; d > 0 {
		s.scanner = time.AfterFunc(max(d/2, time.Millisecond), func() { e.tell(self, &idleScan{}, nil) })
	}
}

func (s *supervisorActor) hooks() actors.Hooks {
	e := s.e
	return actors.Hooks{
		Logger:       e.log,
		StateChanged: e.breakerChanged,
		Saturated:    e.limiterSaturated,
		Restarted: func(string) {
			e.restarts.Add(1)
		},
	}
}

func (s *supervisorActor) childName(kind, name string) string {
	s.e.reg.seq++
	return kind + "/" + name + "/" + strconv.FormatUint(s.e.reg.seq, 10)
}

// scan asks every idle, unregistered actor to passivate.
func (s *supervisorActor) scan(c actor.Context) {
	e := s.e
	cutoff := time.Now().Add(-e.cfg.idleTimeout)
	e.breakers.Range(func(_ string, l *actors.BreakerLink) bool {
		if !l.Registered() && !l.Retired() && l.IdleSince().Before(cutoff) {
			c.Request(l.PID(), &messages.Passivate{})
		}
		return true
	})
	e.limiters.Range(func(_ string, l *actors.LimiterLink) bool {
		if !l.Registered() && !l.Retired() && l.IdleSince().Before(cutoff) {
			c.Request(l.PID(), &messages.Passivate{})
		}
		return true
	})
}

// forget drops a stopped child from the published maps.
func (s *supervisorActor) forget(who *actor.PID) {
	e := s.e
	ch, ok := e.reg.byPID[who.Id]
	if !ok {
		return
	}
	delete(e.reg.byPID, who.Id)
	if ch.breaker != nil {
		e.breakers.Delete(ch.name, ch.breaker)
		e.breakerKind.passivated(e, ch.name, ch.breaker)
		if ce := e.log.Check(zap.DebugLevel, "breaker stopped"); ce != nil {
			ce.Write(zap.String("breaker", ch.name))
		}
		return
	}
	e.limiters.Delete(ch.name, ch.limiter)
	e.limiterKind.passivated(e, ch.name, ch.limiter)
	if ce := e.log.Check(zap.DebugLevel, "limiter stopped"); ce != nil {
		ce.Write(zap.String("limiter", ch.name))
	}
}

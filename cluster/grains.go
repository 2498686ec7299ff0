package cluster

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/bulwark-go/bulwark/cluster/internal/pb"
)

// leaseGrace is how much longer than a lease's ttl the owner counts its tokens: the node
// stops first, and no clocks are compared across machines.
const leaseGrace = 200 * time.Millisecond

// Kinds returns the grain kinds of cluster mode, "bulwark.breaker" and
// "bulwark.limiter", for a cluster you configure yourself: add them with
// cluster.WithKinds before StartMember (protoactor builds a member's kinds once), on
// every member, then call Attach. Start does both. The options are those of Start; the
// kinds use none of them today.
func Kinds(opts ...Option) []*pcluster.Kind {
	return []*pcluster.Kind{
		pcluster.NewKind(breakerKind, actor.PropsFromProducer(func() actor.Actor { return &breakerGrain{} })),
		pcluster.NewKind(limiterKind, actor.PropsFromProducer(func() actor.Actor { return &limiterGrain{} })),
	}
}

// wake is an owner grain's own timer.
type wake struct{ gen uint64 }

// activationID names one activation of a grain: its PID, unique in the fleet.
func activationID(c actor.Context) string { return c.Self().Address + "/" + c.Self().Id }

// limiterGrain is the owner of one shared limiter: a leaseOwner behind a grain. It
// holds requests it cannot serve yet and answers them from its timer.
type limiterGrain struct {
	o      *leaseOwner
	timers *scheduler.TimerScheduler
	cancel scheduler.CancelFunc
	gen    uint64
}

// Receive handles one message.
func (g *limiterGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		g.o = newLeaseOwner(activationID(c), leaseGrace)
		g.timers = scheduler.NewTimerScheduler(c)
	case *actor.Stopping:
		if g.cancel != nil {
			g.cancel()
		}
	case *pb.LeaseRequest:
		g.send(c, g.o.request(time.Now(), m, c.Sender()))
	case *wake:
		if m.gen == g.gen {
			g.cancel = nil
			g.send(c, g.o.wake(time.Now()))
		}
	}
}

// send sends the answers and re-arms the timer for the held head.
func (g *limiterGrain) send(c actor.Context, answers []leaseAnswer) {
	for _, a := range answers {
		if to, ok := a.to.(*actor.PID); ok && to != nil {
			c.Send(to, a.grant)
		}
	}
	if d, ok := g.o.nextWake(time.Now()); ok {
		if g.cancel != nil {
			g.cancel()
		}
		g.gen++
		g.cancel = g.timers.SendOnce(d, c.Self(), &wake{gen: g.gen})
	}
}

// breakerGrain is the owner of one shared breaker: a breakerOwner behind a grain. It
// pushes its view to every node that reported (watching them) on each change, and runs
// the open → half-open timer.
type breakerGrain struct {
	o      *breakerOwner
	subs   map[string]*actor.PID
	timers *scheduler.TimerScheduler
	cancel scheduler.CancelFunc
	armed  time.Time
	gen    uint64
}

// Receive handles one message.
func (g *breakerGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		g.o = newBreakerOwner(activationID(c), time.Now())
		g.subs = map[string]*actor.PID{}
		g.timers = scheduler.NewTimerScheduler(c)
	case *actor.Stopping:
		if g.cancel != nil {
			g.cancel()
		}
	case *actor.Terminated:
		delete(g.subs, m.Who.String())
	case *pb.BreakerReport:
		if s := c.Sender(); s != nil {
			if _, ok := g.subs[s.String()]; !ok {
				g.subs[s.String()] = s
				c.Watch(s)
			}
		}
		answer, changed := g.o.report(time.Now(), m)
		if changed {
			g.push(c, c.Sender())
		}
		if s := c.Sender(); s != nil {
			c.Send(s, answer)
		}
		g.arm(c)
	case *wake:
		if m.gen == g.gen {
			g.cancel, g.armed = nil, time.Time{}
			if g.o.wake(time.Now()) {
				g.push(c, nil)
			}
			g.arm(c)
		}
	}
}

// push sends the view to every subscriber but except (which gets the answer).
func (g *breakerGrain) push(c actor.Context, except *actor.PID) {
	v := g.o.view()
	for _, s := range g.subs {
		if except != nil && s.Equal(except) {
			continue
		}
		c.Send(s, v)
	}
}

// arm schedules the wake for the circuit's next deadline.
func (g *breakerGrain) arm(c actor.Context) {
	now := time.Now()
	at, ok := g.o.nextWake(now)
	if !ok {
		return
	}
	if g.cancel != nil && at.Equal(g.armed) {
		return
	}
	if g.cancel != nil {
		g.cancel()
	}
	g.gen++
	g.armed = at
	g.cancel = g.timers.SendOnce(max(at.Sub(now), 0), c.Self(), &wake{gen: g.gen})
}

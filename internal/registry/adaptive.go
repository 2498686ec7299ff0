package registry

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// AdaptiveLimits is the family of named adaptive concurrency limits. Like bulkheads they
// are always local: they bound what runs in this process.
type AdaptiveLimits = Family[*actors.AdaptiveLink, policy.AdaptiveLimitPolicy, messages.AdaptiveStats]

// AdaptiveLimit returns a local adaptive limit actor.
func (Local) AdaptiveLimit(name string, p policy.AdaptiveLimitPolicy, env Env) (*actors.AdaptiveLink, *actor.Props) {
	l := actors.NewAdaptiveLink(name, p, env.Now, env.Hooks)
	return l, localProps(l.Producer(), l.Mailbox(), env)
}

// DrainAdaptiveLimits tells every live adaptive limit that Shutdown began, as
// DrainBulkheads does.
func (r *Registry) DrainAdaptiveLimits() {
	r.AdaptiveLimits.links.Range(func(_ string, l *actors.AdaptiveLink) bool {
		r.cfg.Outbox.Tell(l.PID(), &messages.Drain{}, nil)
		return true
	})
}

func newAdaptiveLimits(r *Registry) *AdaptiveLimits {
	limit := perName("bulwark_adaptive_limit", "The concurrency an adaptive limit lets run now (the limit its algorithm published last).")
	inFlight := perName("bulwark_adaptive_inflight", "Permits of an adaptive limit held now: functions running, abandoned ones included.")
	return &AdaptiveLimits{
		kind: "adaptive_limit", r: r,
		spawn: func(_ Backend, name string, p policy.AdaptiveLimitPolicy, env Env) (*actors.AdaptiveLink, *actor.Props) {
			return Local{}.AdaptiveLimit(name, p, env)
		},
		reconfigure: func(t uint64, p policy.AdaptiveLimitPolicy) any {
			return &messages.Reconfigure{Ticket: t, Adaptive: &p}
		},
		unnamed:   func(p policy.AdaptiveLimitPolicy) policy.AdaptiveLimitPolicy { p.Name = ""; return p },
		published: func(l *actors.AdaptiveLink) bool { return !l.Retired() },
		descs:     []*prometheus.Desc{limit, inFlight},
		series: func(emit emitter, name string, s messages.AdaptiveStats) {
			emit.gauge(limit, float64(s.Limit), name)
			emit.gauge(inFlight, float64(s.InFlight), name)
		},
		configs: newConfigMemory[policy.AdaptiveLimitPolicy](),
	}
}

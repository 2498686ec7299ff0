package registry

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Limiters is the family of named rate limiters.
type Limiters = Family[*actors.LimiterLink, policy.RateLimitPolicy, messages.LimiterStats]

// Limiter returns a local limiter actor.
func (Local) Limiter(name string, p policy.RateLimitPolicy, env Env) (*actors.LimiterLink, *actor.Props) {
	l := actors.NewLimiterLink(name, p, env.Now, env.Hooks)
	return l, localProps(l.Producer(), l.Mailbox(), env)
}

func newLimiters(r *Registry) *Limiters {
	admitted := perName("bulwark_limiter_admitted_total", "Calls a rate limiter admitted.")
	rejected := perName("bulwark_limiter_rejected_total", "Calls a rate limiter refused.")
	waiting := perName("bulwark_limiter_waiting", "Callers queued for a token of a rate limiter in wait mode.")
	tokens := perName("bulwark_limiter_tokens", "Tokens a rate limiter holds, as of its latest activity; fractions count.")
	return &Limiters{
		kind: "limiter", r: r, spawn: Backend.Limiter,
		reconfigure: func(t uint64, p policy.RateLimitPolicy) any {
			return &messages.Reconfigure{Ticket: t, Limiter: &p}
		},
		unnamed:   func(p policy.RateLimitPolicy) policy.RateLimitPolicy { p.Name = ""; return p },
		published: func(l *actors.LimiterLink) bool { return !l.View().Retired },
		descs:     []*prometheus.Desc{admitted, rejected, waiting, tokens},
		series: func(emit emitter, name string, s messages.LimiterStats) {
			emit.counter(admitted, s.Allowed, name)
			emit.counter(rejected, s.Rejected, name)
			emit.gauge(waiting, float64(s.Waiting), name)
			emit.gauge(tokens, s.Tokens, name)
		},
		configs: newConfigMemory[policy.RateLimitPolicy](),
		shared:  func(p policy.RateLimitPolicy) bool { return p.Shared },
	}
}

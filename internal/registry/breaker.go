package registry

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Breakers is the family of named circuit breakers.
type Breakers = Family[*actors.BreakerLink, policy.CircuitBreakerPolicy, messages.BreakerStats]

// Breaker returns a local breaker actor.
func (Local) Breaker(name string, p policy.CircuitBreakerPolicy, env Env) (*actors.BreakerLink, *actor.Props) {
	l := actors.NewBreakerLink(name, p, env.Now, env.Hooks)
	return l, localProps(l.Producer(), l.Mailbox(), env)
}

// Label values of a breaker's calls series.
const (
	outcomeSuccess  = "success"
	outcomeFailure  = "failure"
	outcomeRejected = "rejected"
)

func newBreakers(r *Registry) *Breakers {
	state := perName("bulwark_breaker_state", "State of a circuit breaker: 0 closed, 1 open, 2 half-open.")
	calls := perName("bulwark_breaker_calls_total",
		"Calls that reached a circuit breaker, by outcome: success and failure for calls it let through, rejected for calls it refused.",
		"outcome")
	trips := perName("bulwark_breaker_trips_total", "Moves of a circuit breaker into the open state.")
	return &Breakers{
		kind: "breaker", r: r, spawn: Backend.Breaker,
		reconfigure: func(t uint64, p policy.CircuitBreakerPolicy) any {
			return &messages.Reconfigure{Ticket: t, Breaker: &p}
		},
		unnamed:   func(p policy.CircuitBreakerPolicy) policy.CircuitBreakerPolicy { p.Name = ""; return p },
		published: func(l *actors.BreakerLink) bool { return !l.View().Retired },
		descs:     []*prometheus.Desc{state, calls, trips},
		series: func(emit emitter, name string, s messages.BreakerStats) {
			emit.gauge(state, float64(s.State), name)
			emit.counter(calls, s.Successes, name, outcomeSuccess)
			emit.counter(calls, s.Failures, name, outcomeFailure)
			emit.counter(calls, s.Rejected, name, outcomeRejected)
			emit.counter(trips, s.Trips, name)
		},
		configs: newConfigMemory[policy.CircuitBreakerPolicy](),
	}
}

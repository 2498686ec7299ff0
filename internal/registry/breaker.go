package registry

import (
	"time"

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

// Placeholder configures a breaker that a manual control (Engine.ForceOpen,
// DisableBreaker, MetricsOnly) created before any policy named it: the consecutive
// breaker CircuitBreaker(5, 30s). The first policy that names the breaker replaces it;
// RegisterCircuitBreaker does too. Its manual state stays.
var Placeholder = policy.CircuitBreaker(5, 30*time.Second)

// Label values of a breaker's calls series.
const (
	outcomeSuccess  = "success"
	outcomeFailure  = "failure"
	outcomeRejected = "rejected"
)

func newBreakers(r *Registry) *Breakers {
	state := perName("bulwark_breaker_state",
		"State of a circuit breaker: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only.")
	calls := perName("bulwark_breaker_calls_total",
		"Calls that reached a circuit breaker, by outcome: success and failure for calls it let through, rejected for calls it refused.",
		"outcome")
	trips := perName("bulwark_breaker_trips_total", "Moves of a circuit breaker into the open state.")
	failureRate := perName("bulwark_breaker_failure_rate",
		"Failures over calls in a windowed circuit breaker's current window, from 0 to 1; 0 when the window is empty or the breaker counts consecutive failures.")
	slowRate := perName("bulwark_breaker_slow_call_rate",
		"Slow calls over calls in a windowed circuit breaker's current window, from 0 to 1; 0 when the window is empty or slow calls are not timed.")
	slowCalls := perName("bulwark_breaker_slow_calls_total",
		"Calls a windowed circuit breaker recorded as slow (longer than its SlowCall), successes and failures alike.")
	return &Breakers{
		kind: "breaker", r: r, spawn: Backend.Breaker,
		reconfigure: func(t uint64, p policy.CircuitBreakerPolicy) any {
			return &messages.Reconfigure{Ticket: t, Breaker: &p}
		},
		unnamed:   func(p policy.CircuitBreakerPolicy) policy.CircuitBreakerPolicy { p.Name = ""; return p },
		published: func(l *actors.BreakerLink) bool { return !l.View().Retired },
		descs:     []*prometheus.Desc{state, calls, trips, failureRate, slowRate, slowCalls},
		series: func(emit emitter, name string, s messages.BreakerStats) {
			emit.gauge(state, float64(s.State), name)
			emit.counter(calls, s.Successes, name, outcomeSuccess)
			emit.counter(calls, s.Failures, name, outcomeFailure)
			emit.counter(calls, s.Rejected, name, outcomeRejected)
			emit.counter(trips, s.Trips, name)
			emit.gauge(failureRate, s.FailureRate, name)
			emit.gauge(slowRate, s.SlowCallRate, name)
			emit.counter(slowCalls, s.TotalSlowCalls, name)
		},
		configs:     newConfigMemory[policy.CircuitBreakerPolicy](),
		placeholder: Placeholder,
		shared:      func(p policy.CircuitBreakerPolicy) bool { return p.Shared },
	}
}

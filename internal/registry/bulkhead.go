package registry

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Bulkheads is the family of named bulkheads. Bulkheads are always local: they bound
// what runs in this process, so cluster mode does not share them and the Backend is not
// asked.
type Bulkheads = Family[*actors.BulkheadLink, policy.BulkheadPolicy, messages.BulkheadStats]

// Bulkhead returns a local bulkhead actor.
func (Local) Bulkhead(name string, p policy.BulkheadPolicy, env Env) (*actors.BulkheadLink, *actor.Props) {
	l := actors.NewBulkheadLink(name, p, env.Now, env.Hooks)
	return l, localProps(l.Producer(), l.Mailbox(), env)
}

func newBulkheads(r *Registry) *Bulkheads {
	limit := perName("bulwark_bulkhead_limit", "Calls a bulkhead lets run at once (its MaxConcurrent now).")
	inFlight := perName("bulwark_bulkhead_in_flight", "Permits of a bulkhead held now: functions running, abandoned ones included.")
	queued := perName("bulwark_bulkhead_queued", "Callers waiting for a permit of a bulkhead.")
	admitted := perName("bulwark_bulkhead_admitted_total", "Calls a bulkhead gave a permit, at once or after a wait.")
	rejected := perName("bulwark_bulkhead_rejected_total", "Calls a bulkhead refused with ErrConcurrencyLimited.")
	return &Bulkheads{
		kind: "bulkhead", r: r,
		spawn: func(_ Backend, name string, p policy.BulkheadPolicy, env Env) (*actors.BulkheadLink, *actor.Props) {
			return Local{}.Bulkhead(name, p, env)
		},
		reconfigure: func(t uint64, p policy.BulkheadPolicy) any {
			return &messages.Reconfigure{Ticket: t, Bulkhead: &p}
		},
		unnamed:   func(p policy.BulkheadPolicy) policy.BulkheadPolicy { p.Name = ""; return p },
		published: func(l *actors.BulkheadLink) bool { return !l.Retired() },
		descs:     []*prometheus.Desc{limit, inFlight, queued, admitted, rejected},
		series: func(emit emitter, name string, s messages.BulkheadStats) {
			emit.gauge(limit, float64(s.Limit), name)
			emit.gauge(inFlight, float64(s.InFlight), name)
			emit.gauge(queued, float64(s.Queued), name)
			emit.counter(admitted, s.Admitted, name)
			emit.counter(rejected, s.Rejected, name)
		},
		configs: newConfigMemory[policy.BulkheadPolicy](),
	}
}

package registry

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Budgets is the family of named retry budgets. A budget is per process in every
// backend, as in Finagle and Envoy: cluster mode shares breakers and limits, not budgets.
type Budgets = Family[*actors.BudgetLink, policy.BudgetPolicy, messages.BudgetStats]

// localBudget returns a local budget actor, whatever the backend.
func localBudget(_ Backend, name string, p policy.BudgetPolicy, env Env) (*actors.BudgetLink, *actor.Props) {
	l := actors.NewBudgetLink(name, p, env.Now, env.Hooks)
	return l, localProps(l.Producer(), l.Mailbox(), env)
}

func newBudgets(r *Registry) *Budgets {
	balance := perName("bulwark_budget_balance", "Retries a retry budget allows now, its reserve included; fractions count.")
	deposits := perName("bulwark_budget_deposits_total", "First attempts that paid into a retry budget.")
	withdrawals := perName("bulwark_budget_withdrawals_total", "Retries and hedges a retry budget allowed.")
	refused := perName("bulwark_budget_refused_total", "Retries and hedges a retry budget refused.")
	return &Budgets{
		kind: "budget", r: r, spawn: localBudget,
		reconfigure: func(t uint64, p policy.BudgetPolicy) any {
			return &messages.Reconfigure{Ticket: t, Budget: &p}
		},
		unnamed:   func(p policy.BudgetPolicy) policy.BudgetPolicy { return p },
		published: func(l *actors.BudgetLink) bool { return !l.View().Retired },
		descs:     []*prometheus.Desc{balance, deposits, withdrawals, refused},
		series: func(emit emitter, name string, s messages.BudgetStats) {
			emit.gauge(balance, s.Balance, name)
			emit.counter(deposits, s.Deposits, name)
			emit.counter(withdrawals, s.Withdrawals, name)
			emit.counter(refused, s.Refused, name)
		},
		configs:     newConfigMemory[policy.BudgetPolicy](),
		placeholder: policy.DefaultBudget(),
	}
}

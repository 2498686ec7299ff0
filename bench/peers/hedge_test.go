package peers

import (
	"testing"

	"github.com/bulwark-go/bulwark/bench"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/budget"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
)

// BenchmarkFailsafeBudgetHedge is BenchmarkBudgetHedge on failsafe-go: a retry policy
// without and with its budget (default max rate 0.2, min concurrency 3), a timeout, and
// a hedge policy whose primary answers before the delay.
func BenchmarkFailsafeBudgetHedge(b *testing.B) {
	for _, c := range []struct {
		name   string
		policy func() failsafe.Policy[int]
	}{
		{bench.CaseRetry, fsRetry},
		{bench.CaseRetryBudget, func() failsafe.Policy[int] {
			return retrypolicy.NewBuilder[int]().WithMaxAttempts(bench.RetryAttempts).WithBudget(budget.New()).Build()
		}},
		{bench.CaseTimeout, func() failsafe.Policy[int] { return timeout.New[int](bench.TimeoutLimit) }},
		{bench.CaseHedge, func() failsafe.Policy[int] { return hedgepolicy.NewWithDelay[int](bench.HedgeDelay) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ex := failsafe.With(c.policy())
			if !ok(ex.Get(bench.WorkNoCtx)) {
				b.Fatal("first call failed")
			}
			bench.RunLevels(b, func() bool { return ok(ex.Get(bench.WorkNoCtx)) })
		})
	}
}

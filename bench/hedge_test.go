package bench

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// BenchmarkBudgetHedge measures the success paths of issue 14 beside the cases they are
// judged against: a retry without and with a retry budget (the budget's cost is one
// striped atomic add per first attempt), and a Timeout beside a Hedge whose primary
// answers before the delay (both run the function on a goroutine of their own).
func BenchmarkBudgetHedge(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		policy policy.Policy
	}{
		{CaseRetry, policy.Retry(RetryAttempts)},
		{CaseRetryBudget, policy.Retry(RetryAttempts).WithBudget("bench-budget")},
		{CaseTimeout, policy.Timeout(TimeoutLimit)},
		{CaseHedge, policy.Hedge(HedgeDelay)},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b)
			pl, err := e.Prepare("bench", c.policy)
			if err != nil {
				b.Fatal(err)
			}
			if v, err := supervisor.ExecutePlan(ctx, pl, Work); err != nil || v != Answer {
				b.Fatalf("%v: got %d, %v", c.policy, v, err)
			}
			RunLevels(b, func() bool {
				v, err := supervisor.ExecutePlan(ctx, pl, Work)
				return err == nil && v == Answer
			})
		})
	}
}

package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Cap retries as a share of first attempts, across every caller of one budget: with no
// reserve and a ratio of 0.1, ten first attempts pay for one retry.
func ExampleEngine_RegisterBudget() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	if err := e.RegisterBudget("backend", policy.BudgetPolicy{Ratio: 0.1, MinPerSecond: 0}); err != nil {
		panic(err)
	}
	plan, err := e.Prepare("fetch", policy.Retry(3).WithBackoff(policy.FixedBackoff{}).WithBudget("backend"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 10 {
		supervisor.RunPlan(ctx, plan, func(context.Context) error { return nil })
	}

	errBackend := errors.New("backend unavailable")
	attempts := 0
	err = supervisor.RunPlan(ctx, plan, func(context.Context) error { attempts++; return errBackend })
	fmt.Println("attempts:", attempts)
	fmt.Println("budget exhausted:", errors.Is(err, policy.ErrBudgetExhausted), "last error kept:", errors.Is(err, errBackend))
	s := e.Metrics().Budgets["backend"]
	fmt.Printf("deposits %d, withdrawals %d, refused %d\n", s.Deposits, s.Withdrawals, s.Refused)
	// Output:
	// attempts: 2
	// budget exhausted: true last error kept: true
	// deposits 11, withdrawals 1, refused 1
}

// Hedge a slow call: a second attempt starts when the first has not answered within
// the delay, and the first answer wins; the loser's context is cancelled.
func Example_hedge() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	v, err := supervisor.ExecuteWithPolicy(context.Background(), e, policy.Hedge(20*time.Millisecond), func(ctx context.Context) (string, error) {
		if _, hedge := supervisor.AttemptFromContext(ctx); !hedge {
			<-ctx.Done() // the primary is stuck until the hedge wins
			return "", ctx.Err()
		}
		return "from the hedge", nil
	})
	fmt.Println(v, err)
	fmt.Println("hedges started:", e.Metrics().HedgesStarted)
	// Output:
	// from the hedge <nil>
	// hedges started: 1
}

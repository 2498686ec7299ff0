package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// A cooperative timeout runs the function on the caller's goroutine and ends its context
// at the deadline; the call returns when the function returns. It suits functions that
// honour their context (net/http, database/sql, gRPC): no goroutine, no timer and no
// allocation per call.
func ExampleExecuteWithPolicy_cooperativeTimeout() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	var p policy.Policy = policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.Timeout(20*time.Millisecond).AsCooperative())
	fmt.Println(p)
	attempt := 0
	v, err := supervisor.ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (string, error) {
		attempt++
		if attempt == 1 { // a slow first attempt that honours its context
			<-ctx.Done()
			fmt.Println("attempt 1:", ctx.Err())
			return "", ctx.Err()
		}
		return "fast", nil
	})
	fmt.Println(v, err, e.Metrics().TimeoutCount)

	_, err = supervisor.ExecuteWithPolicy(context.Background(), e, policy.Timeout(20*time.Millisecond).AsCooperative(), func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	fmt.Println(errors.Is(err, policy.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// combine(retry(2).backoff(fixed(0s)), timeout(20ms).cooperative())
	// attempt 1: context deadline exceeded
	// fast <nil> 1
	// true true
}

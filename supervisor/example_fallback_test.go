package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Fallbacks outermost: a static value when the breaker is open, and a registered
// function for every other failure (the outer one sees what the inner one let through).
func ExampleRegisterFallback() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	type stock struct {
		Item  string `json:"item"`
		Count int    `json:"count"`
	}
	if err := supervisor.RegisterFallback(e, "cached-stock", func(ctx context.Context, err error) (stock, error) {
		return stock{Item: "widget", Count: -1}, nil // -1: unknown, from the cache
	}); err != nil {
		panic(err)
	}
	p := policy.Combine(
		policy.Fallback().WithFunc("cached-stock"),
		policy.Fallback().OnKinds("circuit_open").WithValue(stock{Item: "widget"}),
		policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}),
		policy.CircuitBreaker(5, time.Minute).Named("inventory"),
	)
	pl, err := e.Prepare("stock", p)
	if err != nil {
		panic(err)
	}
	v, err := supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (stock, error) {
		return stock{}, errors.New("inventory: 503")
	})
	fmt.Println(v, err)
	if err := e.ForceOpen("inventory", time.Minute); err != nil {
		panic(err)
	}
	v, err = supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (stock, error) {
		return stock{Item: "widget", Count: 3}, nil
	})
	fmt.Println(v, err, e.Metrics().Fallbacks)
	// Output:
	// {widget -1} <nil>
	// {widget 0} <nil> 2
}

// A retry judges results with a classifier: a 503 value is retried like an error.
func ExampleAttemptFromContext() {
	e, err := supervisor.New(supervisor.WithClassifier("status", func(v any, err error) policy.Verdict {
		if err != nil || v == 503 {
			return policy.Failure
		}
		return policy.Success
	}))
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	p := policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}).WithClassifier("status")
	v, err := supervisor.ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
		attempt, _ := supervisor.AttemptFromContext(ctx)
		fmt.Println("attempt", attempt)
		if attempt < 3 {
			return 503, nil
		}
		return 200, nil
	})
	fmt.Println(v, err)
	// Output:
	// attempt 1
	// attempt 2
	// attempt 3
	// 200 <nil>
}

// retryLogger is an Observer that prints retries; NopObserver supplies the rest.
type retryLogger struct{ supervisor.NopObserver }

func (retryLogger) RetryScheduled(ctx context.Context, r supervisor.RetryInfo) {
	fmt.Printf("attempt %d failed (%v); next in %v\n", r.Attempt, r.Err, r.Delay)
}

func (retryLogger) OperationFinished(ctx context.Context, op supervisor.OperationInfo, err error) {
	fmt.Printf("%s finished: %v\n", op.ID, err)
}

// An Observer sees every retry, with its delay, on the caller's goroutine.
func ExampleWithObserver() {
	e, err := supervisor.New(supervisor.WithObserver(retryLogger{}))
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	pl, err := e.Prepare("payments", policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 2 * time.Millisecond}))
	if err != nil {
		panic(err)
	}
	calls := 0
	_, err = supervisor.ExecutePlan(context.Background(), pl, func(context.Context) (int, error) {
		if calls++; calls < 3 {
			return 0, errors.New("busy")
		}
		return 1, nil
	})
	fmt.Println(err)
	// Output:
	// attempt 1 failed (busy); next in 2ms
	// attempt 2 failed (busy); next in 2ms
	// payments finished: <nil>
	// <nil>
}

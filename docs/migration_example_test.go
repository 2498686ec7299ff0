package docs_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

var errUnavailable = errors.New("inventory unavailable")

// Retry with backoff: failsafe-go's RetryPolicy with a backoff, or a hand-written loop.
// MaxAttempts counts the first attempt, so failsafe-go's WithMaxRetries(2) is Retry(3).
func Example_retryWithBackoff() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	retry := policy.Retry(3).WithBackoff(policy.ExponentialBackoff{
		InitialDelay: time.Millisecond, Multiplier: 2, MaxDelay: 10 * time.Millisecond,
	})
	calls := 0
	n, err := supervisor.ExecuteWithPolicy(context.Background(), e, retry, func(ctx context.Context) (int, error) {
		calls++
		if calls < 3 {
			return 0, errUnavailable
		}
		return 7, nil
	})
	fmt.Println(n, err, calls)
	// Output: 7 <nil> 3
}

// A circuit breaker: gobreaker's CircuitBreaker.Execute, or failsafe-go's
// CircuitBreaker. The breaker is named, so every call site that names "inventory"
// shares it, and ReadyToTrip's "5 consecutive failures" is the threshold.
func Example_breaker() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	cb := policy.CircuitBreaker(5, 30*time.Second).Named("inventory")
	for range 5 {
		_, _ = supervisor.ExecuteWithPolicy(context.Background(), e, cb, func(ctx context.Context) (int, error) {
			return 0, errUnavailable
		})
	}
	_, err := supervisor.ExecuteWithPolicy(context.Background(), e, cb, func(ctx context.Context) (int, error) {
		return 1, nil
	})
	fmt.Println(errors.Is(err, policy.ErrCircuitOpen))
	// Output: true
}

// gobreaker's TwoStepCircuitBreaker: for code that cannot hand bulwark a function (a
// stream, a callback), Engine.Breaker gives the same named breaker as a handle. Allow
// admits or refuses; done records the outcome.
func Example_twoStepBreaker() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())
	_ = e.RegisterCircuitBreaker("inventory", policy.CircuitBreaker(1, 30*time.Second))

	b, _ := e.Breaker("inventory")
	done, err := b.Allow(context.Background())
	if err == nil {
		done(errUnavailable) // the call failed
	}
	_, err = b.Allow(context.Background())
	fmt.Println(errors.Is(err, policy.ErrCircuitOpen), b.Stats().State)
	// Output: true open
}

// x/time/rate's Limiter.Allow and Limiter.Wait: a named limiter as a handle. Allow takes
// a token or refuses at once; Wait queues for one up to the limiter's MaxWait.
func Example_limiterHandle() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())
	_ = e.RegisterRateLimiter("api", policy.RateLimit(1000).WithBurst(2).WithMaxWait(100*time.Millisecond))

	l, _ := e.Limiter("api")
	fmt.Println(l.Allow(), l.Allow())
	fmt.Println(l.Wait(context.Background()))
	// Output:
	// true true
	// <nil>
}

// A limiter wait inside a policy: rate.Limiter.Wait before the call becomes a RateLimit
// with MaxWait in front of the function. A wait that would pass MaxWait, or the caller's
// deadline, is refused at once with ErrRateLimited instead of sleeping past it.
func Example_limiterWait() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	limited := policy.RateLimit(1).WithBurst(1).WithMaxWait(10 * time.Millisecond).Named("slow-api")
	call := func(ctx context.Context) (int, error) { return 1, nil }
	_, first := supervisor.ExecuteWithPolicy(context.Background(), e, limited, call)
	_, second := supervisor.ExecuteWithPolicy(context.Background(), e, limited, call)
	fmt.Println(first, errors.Is(second, policy.ErrRateLimited))
	// Output: <nil> true
}

// A timeout: context.WithTimeout around the call, or failsafe-go's Timeout. bulwark's
// default Timeout returns at the deadline even when the function ignores its context
// (the function goes on in the background and is counted as abandoned).
func Example_timeout() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	_, err := supervisor.ExecuteWithPolicy(context.Background(), e, policy.Timeout(20*time.Millisecond),
		func(ctx context.Context) (int, error) {
			<-ctx.Done() // a well-behaved function returns when its context ends
			return 0, ctx.Err()
		})
	fmt.Println(errors.Is(err, policy.ErrTimeout))
	// Output: true
}

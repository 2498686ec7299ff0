package docs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
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

// A fallback: failsafe-go's fallback.WithResult, or hystrix-go's fallback function. The
// value is JSON, decoded into the call's result type; OnKinds limits it to refusals by
// an open breaker.
func Example_fallback() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	cb := policy.CircuitBreaker(1, 30*time.Second).Named("inventory")
	p := policy.Combine(policy.Fallback().OnKinds("circuit_open").WithValue(0), cb)
	fail := func(ctx context.Context) (int, error) { return 0, errUnavailable }
	_, first := supervisor.ExecuteWithPolicy(context.Background(), e, p, fail)  // trips the breaker
	n, second := supervisor.ExecuteWithPolicy(context.Background(), e, p, fail) // refused: falls back
	fmt.Println(errors.Is(first, errUnavailable), n, second)
	// Output: true 0 <nil>
}

// A hystrix-go command: its Timeout, MaxConcurrentRequests, ErrorPercentThreshold,
// RequestVolumeThreshold and SleepWindow, and its fallback, as one bulwark policy.
func Example_hystrixCommand() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	p := policy.Combine(
		policy.Fallback().WithValue(0),
		policy.CircuitBreaker(1, 5*time.Second).Named("inventory").
			WithTimeWindow(10*time.Second).WithFailureRate(0.5, 20),
		policy.Bulkhead(10).Named("inventory"),
		policy.Timeout(time.Second),
	)
	n, err := supervisor.ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
		return 0, errUnavailable
	})
	fmt.Println(n, err)
	fmt.Println(p)
	// Output:
	// 0 <nil>
	// combine(fallback().value(0), circuit_breaker(1, 5s).named("inventory").time_window(10s).failure_rate(0.5, 20), bulkhead(10).named("inventory"), timeout(1s))
}

// An HTTP client: failsafehttp.NewRoundTripper becomes bulwarkhttp.NewTransport. The
// server's Retry-After is honoured, the discarded responses' bodies are closed, and the
// final response comes back open.
func Example_httpClient() {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls++; calls == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "in stock")
	}))
	defer srv.Close()
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	p := policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}),
		policy.CircuitBreaker(5, 30*time.Second).Named("inventory"),
	)
	client := &http.Client{Transport: bulwarkhttp.NewTransport(e, p, http.DefaultTransport)}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), calls)
	// Output: 200 in stock 2
}

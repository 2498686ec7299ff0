package bulwarkhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Wrap an http.Client: retries with backoff, a breaker per downstream and a timeout per
// attempt, for every request the client sends. The server below fails twice with 503
// before it answers.
func ExampleNewTransport() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "in stock")
	}))
	defer srv.Close()

	engine, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer engine.Shutdown(context.Background())

	client := &http.Client{Transport: bulwarkhttp.NewTransport(engine,
		policy.Combine(
			policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
			policy.CircuitBreaker(5, 30*time.Second).Named("inventory"),
			policy.Timeout(2*time.Second), // per attempt, up to the response headers
		),
		nil)} // nil: http.DefaultTransport

	resp, err := client.Get(srv.URL + "/stock/42")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) // readable after the timeout's stage returned
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "attempts")
	// Output: 200 in stock after 3 attempts
}

// Protect a handler: at most 2 requests a second (429 with Retry-After past that), and
// 503 for a handler that takes longer than a second.
func ExampleMiddleware() {
	engine, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer engine.Shutdown(context.Background())

	protect := bulwarkhttp.Middleware(engine, policy.Combine(
		policy.RateLimit(2).Named("api"),
		policy.Timeout(time.Second),
	))
	srv := httptest.NewServer(protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "hello")
	})))
	defer srv.Close()

	for range 3 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		resp.Body.Close()
		if after := resp.Header.Get("Retry-After"); after != "" {
			fmt.Println(resp.StatusCode, "Retry-After:", after)
			continue
		}
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 200
	// 429 Retry-After: 1
}

package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// errNotFound is what a catalog lookup returns for an item that does not exist: the
// request's answer, not a sign that the catalog is failing.
var errNotFound = errors.New("item not found")

// A classifier says which outcomes count. Registered on the engine by name, it is named
// by the policy, so the policy stays data (JSON: "classifier":"not-found-is-an-answer").
// Here a not-found answer is ignored by the breaker: 100 of them leave it closed with
// no failure counted, and three real failures in a row open it.
func ExampleWithClassifier() {
	notFoundIsAnAnswer := func(_ any, err error) policy.Verdict {
		switch {
		case errors.Is(err, errNotFound):
			return policy.Ignore
		case err != nil:
			return policy.Failure
		}
		return policy.Success
	}
	e, err := supervisor.New(supervisor.WithClassifier("not-found-is-an-answer", notFoundIsAnAnswer))
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	plan, err := e.Prepare("catalog-get", policy.CircuitBreaker(3, time.Minute).Named("catalog").
		WithClassifier("not-found-is-an-answer"))
	if err != nil {
		panic(err)
	}
	for range 100 {
		supervisor.ExecutePlan(context.Background(), plan, func(context.Context) (string, error) {
			return "", errNotFound
		})
	}
	s := e.Metrics().Breakers["catalog"]
	fmt.Printf("after 100 not-found: %s, %d failures counted\n", s.State, s.Failures)

	for range 3 {
		supervisor.ExecutePlan(context.Background(), plan, func(context.Context) (string, error) {
			return "", errors.New("connection refused")
		})
	}
	fmt.Println("after 3 connection errors:", e.Metrics().Breakers["catalog"].State)

	// A policy that names a classifier the engine does not know is refused before
	// anything runs.
	_, err = e.Prepare("catalog-get", policy.CircuitBreaker(3, time.Minute).WithClassifier("no-such-classifier"))
	fmt.Println("unknown classifier:", errors.Is(err, policy.ErrInvalidPolicy))
	// Output:
	// after 100 not-found: closed, 0 failures counted
	// after 3 connection errors: open
	// unknown classifier: true
}

// A classifier sees the value the function returned, too, so an answer that carries its
// failure in the value (an HTTP status, a result code) can count against the breaker
// while the call itself returns no error. RegisterClassifier adds or replaces one on a
// running engine, and plans that name it pick the change up.
func ExampleEngine_RegisterClassifier() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	err := e.RegisterClassifier("status", func(v any, err error) policy.Verdict {
		if code, _ := v.(int); err != nil || code >= 500 {
			return policy.Failure
		}
		return policy.Success
	})
	if err != nil {
		panic(err)
	}
	plan, _ := e.Prepare("quote", policy.CircuitBreaker(2, time.Minute).Named("quotes").WithClassifier("status"))
	for i := 1; i <= 3; i++ {
		code, err := supervisor.ExecutePlan(context.Background(), plan, func(context.Context) (int, error) {
			return 503, nil
		})
		fmt.Printf("call %d: %d %v\n", i, code, err != nil)
	}
	fmt.Println("breaker:", e.Metrics().Breakers["quotes"].State)
	// Output:
	// call 1: 503 false
	// call 2: 503 false
	// call 3: 0 true
	// breaker: open
}

// Manual control: ForceOpen holds a breaker open — for a while, or with 0 until
// ResetBreaker — whatever its calls do. Its refusals match ErrCircuitForcedOpen and
// ErrCircuitOpen, and carry the time left as RetryAfter. ResetBreaker puts it back in
// automatic mode, closed, with its window cleared.
func ExampleEngine_ForceOpen() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	plan, _ := e.Prepare("charge", policy.CircuitBreaker(5, 30*time.Second).Named("payments"))
	charge := func(ran *bool) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			*ran = true
			return "charged", nil
		}
	}

	if err := e.ForceOpen("payments", 10*time.Minute); err != nil {
		panic(err)
	}
	ran := false
	_, err := supervisor.ExecutePlan(context.Background(), plan, charge(&ran))
	after, _ := policy.RetryAfter(err)
	fmt.Printf("%s: ran=%v forced=%v open=%v retry-after≈%v\n", e.Metrics().Breakers["payments"].State,
		ran, errors.Is(err, policy.ErrCircuitForcedOpen), errors.Is(err, policy.ErrCircuitOpen), after.Round(time.Minute))

	if err := e.ResetBreaker("payments"); err != nil {
		panic(err)
	}
	res, err := supervisor.ExecutePlan(context.Background(), plan, charge(&ran))
	fmt.Printf("%s: %s %v\n", e.Metrics().Breakers["payments"].State, res, err)
	// Output:
	// forced_open: ran=false forced=true open=true retry-after≈10m0s
	// closed: charged <nil>
}

// DisableBreaker admits every call and records nothing, until ResetBreaker: for an
// incident where the breaker itself is in the way.
func ExampleEngine_DisableBreaker() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	plan, _ := e.Prepare("flags-fetch", policy.CircuitBreaker(2, time.Minute).Named("flags"))
	if err := e.DisableBreaker("flags"); err != nil {
		panic(err)
	}
	ran := 0
	for range 10 {
		supervisor.ExecutePlan(context.Background(), plan, func(context.Context) (bool, error) {
			ran++
			return false, errors.New("flag service down")
		})
	}
	s := e.Metrics().Breakers["flags"]
	fmt.Printf("%s: %d of 10 calls ran, %d failures recorded\n", s.State, ran, s.Failures)
	// Output:
	// disabled: 10 of 10 calls ran, 0 failures recorded
}

// MetricsOnly is a shadow breaker: every call runs and the window keeps counting, but it
// never opens; instead, each time the window comes to meet a threshold it publishes one
// BreakerThresholdExceeded event. A way to try thresholds on live traffic before letting
// them refuse calls.
func ExampleEngine_MetricsOnly() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	plan, _ := e.Prepare("recommend", policy.CircuitBreaker(1, time.Minute).Named("recommendations").
		WithCountWindow(10).WithFailureRate(0.5, 0))
	if err := e.MetricsOnly("recommendations"); err != nil {
		panic(err)
	}
	events, cancel := e.Subscribe(16)
	defer cancel()

	ran := 0
	for range 20 {
		supervisor.ExecutePlan(context.Background(), plan, func(context.Context) ([]string, error) {
			ran++
			return nil, errors.New("model server timeout")
		})
	}
	fmt.Printf("%s: %d of 20 calls ran\n", e.Metrics().Breakers["recommendations"].State, ran)

	// The event was published while the calls ran; wait a moment for any other.
	quiet := time.After(200 * time.Millisecond)
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.Kind == supervisor.BreakerThresholdExceeded {
				fmt.Printf("threshold exceeded: %s, %d failures in %d calls\n", ev.Reason, ev.Failures, ev.Calls)
			}
		case <-quiet:
			done = true
		}
	}
	// Output:
	// metrics_only: 20 of 20 calls ran
	// threshold exceeded: failure_rate, 10 failures in 10 calls
}

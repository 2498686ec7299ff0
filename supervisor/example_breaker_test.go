package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// callOutcome is one scripted call of the breaker Examples: it fails or succeeds, and
// may take a while first.
type callOutcome struct {
	fail bool
	take time.Duration
}

var (
	ok   = callOutcome{}
	fail = callOutcome{fail: true}
)

// runScript runs one call per outcome under plan, one after another (a sequential
// caller, for whom every breaker mode is exact), and prints for each call whether the
// function ran and, after it, the state of the breaker called name.
func runScript(e *supervisor.Engine, plan *supervisor.Plan, name string, script []callOutcome) {
	for i, o := range script {
		ran := false
		_, err := supervisor.ExecutePlan(context.Background(), plan, func(context.Context) (struct{}, error) {
			ran = true
			time.Sleep(o.take)
			if o.fail {
				return struct{}{}, errors.New("503 service unavailable")
			}
			return struct{}{}, nil
		})
		state := e.Metrics().Breakers[name].State
		switch {
		case errors.Is(err, policy.ErrCircuitOpen):
			fmt.Printf("call %d: refused with ErrCircuitOpen (ran=%v)\n", i+1, ran)
		case err != nil:
			fmt.Printf("call %d: failed, breaker %s\n", i+1, state)
		default:
			fmt.Printf("call %d: ok, breaker %s\n", i+1, state)
		}
	}
}

// The consecutive breaker (no Window): FailureThreshold failures in a row open it, and
// any success in between starts the count again. Here the success of call 3 resets the
// run, so the breaker opens at call 6, the third failure in a row, and call 7 is refused
// without running.
func ExampleExecutePlan_consecutiveBreaker() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	plan, _ := e.Prepare("ledger-write", policy.CircuitBreaker(3, time.Minute).Named("ledger"))
	runScript(e, plan, "ledger", []callOutcome{fail, fail, ok, fail, fail, fail, ok})
	// Output:
	// call 1: failed, breaker closed
	// call 2: failed, breaker closed
	// call 3: ok, breaker closed
	// call 4: failed, breaker closed
	// call 5: failed, breaker closed
	// call 6: failed, breaker open
	// call 7: refused with ErrCircuitOpen (ran=false)
}

// A failure-rate breaker over a count window: it judges the last 4 calls, once the
// window is full (MinimumCalls 0 means Window.Count), and opens when half of them
// failed. No two failures here come in a row, so a consecutive breaker would never
// open; this one opens at call 7, when the window holds F, S, S, F (50%: thresholds are
// inclusive), and refuses call 8. The stats show the window at the trip.
func ExampleExecutePlan_countWindow() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	cb := policy.CircuitBreaker(1, time.Minute).Named("inventory").
		WithCountWindow(4).WithFailureRate(0.5, 0)
	plan, _ := e.Prepare("inventory-lookup", cb)
	fmt.Println(cb)
	runScript(e, plan, "inventory", []callOutcome{ok, ok, ok, fail, ok, ok, fail, ok})

	s := e.Metrics().Breakers["inventory"]
	fmt.Printf("window: %d calls, failure rate %.2f\n", s.Calls, s.FailureRate)
	// Output:
	// circuit_breaker(1, 1m0s).named("inventory").count_window(4).failure_rate(0.5, 0)
	// call 1: ok, breaker closed
	// call 2: ok, breaker closed
	// call 3: ok, breaker closed
	// call 4: failed, breaker closed
	// call 5: ok, breaker closed
	// call 6: ok, breaker closed
	// call 7: failed, breaker open
	// call 8: refused with ErrCircuitOpen (ran=false)
	// window: 4 calls, failure rate 0.50
}

// The success that completes MinimumCalls can trip a rate breaker, and for a sequential
// caller it does so at once: after two failures the window holds too few calls to be
// judged, the two successes fill it to 4 calls with a failure rate of 50%, and the
// breaker opens on call 4, a success. Call 5 is refused. While a success could trip it,
// the breaker's published view asks callers to report successes by message instead of
// adding to a counter, so this costs nothing when no success can trip it.
func ExampleExecutePlan_minimumCalls() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	plan, _ := e.Prepare("inventory-lookup", policy.CircuitBreaker(1, time.Minute).Named("inventory").
		WithCountWindow(4).WithFailureRate(0.5, 0))
	runScript(e, plan, "inventory", []callOutcome{fail, fail, ok, ok, ok})
	// Output:
	// call 1: failed, breaker closed
	// call 2: failed, breaker closed
	// call 3: ok, breaker closed
	// call 4: ok, breaker open
	// call 5: refused with ErrCircuitOpen (ran=false)
}

// A count-in-window breaker over a time window (no FailureRate): it opens when the calls
// that completed in the last minute include FailureThreshold (3) failures, once the
// window holds MinimumCalls calls — by default max(FailureThreshold, 10) for a time
// window. Three failures at once do not open it: the window holds 3 calls of the 10 it
// needs. Call 10 completes the ten, with 4 failures, and opens it; call 11 is refused.
// The window is divided into 10 buckets of 6s, and none expires during this run.
func ExampleExecutePlan_timeWindow() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	cb := policy.CircuitBreaker(3, 30*time.Second).Named("search").WithTimeWindow(time.Minute)
	plan, _ := e.Prepare("search-query", cb)
	fmt.Println(cb, "minimum calls:", cb.EffectiveMinimumCalls())
	runScript(e, plan, "search", []callOutcome{fail, fail, fail, ok, ok, ok, ok, ok, ok, fail, ok})

	s := e.Metrics().Breakers["search"]
	fmt.Printf("window: %d calls, failure rate %.2f\n", s.Calls, s.FailureRate)
	// Output:
	// circuit_breaker(3, 30s).named("search").time_window(1m0s) minimum calls: 10
	// call 1: failed, breaker closed
	// call 2: failed, breaker closed
	// call 3: failed, breaker closed
	// call 4: ok, breaker closed
	// call 5: ok, breaker closed
	// call 6: ok, breaker closed
	// call 7: ok, breaker closed
	// call 8: ok, breaker closed
	// call 9: ok, breaker closed
	// call 10: failed, breaker open
	// call 11: refused with ErrCircuitOpen (ran=false)
	// window: 10 calls, failure rate 0.40
}

// Slow calls, in resilience4j's own scenario: a time window of 20s judged from 5 calls,
// a failure rate and a slow-call rate of 50% each, and calls slower than 100ms slow.
// Slow error, slow success, fast error, fast success, slow success: the breaker opens at
// call 5, a success, because 3 of the 5 calls were slow (60%) although only 2 failed
// (40%). A slow call counts toward the slow-call rate whether it succeeds or fails, and
// a slow success is still a success. Measuring durations costs two clock reads per call,
// and only a breaker with SlowCall set pays it.
func ExampleExecutePlan_slowCalls() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	cb := policy.CircuitBreaker(1, time.Minute).Named("reports").
		WithTimeWindow(20*time.Second).WithFailureRate(0.5, 5).
		WithSlowCalls(100*time.Millisecond, 0.5)
	plan, _ := e.Prepare("report-render", cb)
	fmt.Println(cb)

	slow := 150 * time.Millisecond
	runScript(e, plan, "reports", []callOutcome{
		{fail: true, take: slow}, {take: slow}, fail, ok, {take: slow}, ok,
	})

	s := e.Metrics().Breakers["reports"]
	fmt.Printf("window: %d calls, %d slow, slow-call rate %.2f, failure rate %.2f\n",
		s.Calls, s.SlowCalls, s.SlowCallRate, s.FailureRate)
	// Output:
	// circuit_breaker(1, 1m0s).named("reports").time_window(20s).failure_rate(0.5, 5).slow_calls(100ms, 0.5)
	// call 1: failed, breaker closed
	// call 2: ok, breaker closed
	// call 3: failed, breaker closed
	// call 4: ok, breaker closed
	// call 5: ok, breaker open
	// call 6: refused with ErrCircuitOpen (ran=false)
	// window: 5 calls, 3 slow, slow-call rate 0.60, failure rate 0.40
}

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

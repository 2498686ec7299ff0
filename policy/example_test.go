package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// Build the resilience an outbound call needs, check it, and print it.
func Example() {
	p := policy.Combine(
		policy.Retry(3), // up to 3 attempts, exponential backoff with jitter
		policy.CircuitBreaker(5, 30*time.Second).Named("payments"),
		policy.Timeout(10*time.Second), // per attempt: the timeout sits inside the retry
	)
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p)
	// Output:
	// combine(retry(3), circuit_breaker(5, 30s).named("payments"), timeout(10s))
}

// The guide's short constructors, one per kind of policy.
func ExampleRetry() {
	fmt.Println(policy.None())
	fmt.Println(policy.Retry(3))
	fmt.Println(policy.CircuitBreaker(5, 30*time.Second))
	fmt.Println(policy.RateLimit(100))
	fmt.Println(policy.RateLimit(100).Named("api").WithBurst(20).WithMaxWait(time.Second))
	fmt.Println(policy.Timeout(10 * time.Second))
	// Output:
	// none
	// retry(3)
	// circuit_breaker(5, 30s)
	// rate_limit(100)
	// rate_limit(100).named("api").burst(20).max_wait(1s)
	// timeout(10s)
}

// A failure-rate breaker over the last 20 calls: it opens when at least 10 calls are in the
// window and half of them failed. CircuitBreaker(1, ...) sets no floor of failures.
func ExampleCircuitBreakerPolicy_WithFailureRate() {
	p := policy.CircuitBreaker(1, 30*time.Second).Named("inventory").
		WithCountWindow(20).
		WithFailureRate(0.5, 10)
	fmt.Println(p, p.Validate())
	fmt.Println("judged after", p.EffectiveMinimumCalls(), "calls")

	data, _ := json.Marshal(p)
	fmt.Println(string(data))

	fmt.Println(policy.CircuitBreaker(1, 30*time.Second).WithFailureRate(0.5, 10).Validate())
	// Output:
	// circuit_breaker(1, 30s).named("inventory").count_window(20).failure_rate(0.5, 10) <nil>
	// judged after 10 calls
	// {"type":"circuit_breaker","name":"inventory","failure_threshold":1,"recovery_timeout":"30s","window":{"count":20},"failure_rate":0.5,"minimum_calls":10}
	// policy: circuit_breaker: FailureRate must be 0 without a Window (consecutive mode does not judge it), got 0.5
}

// A time window judges the calls that completed in the last Period, in buckets; with no
// MinimumCalls it waits for max(FailureThreshold, 10) calls.
func ExampleCircuitBreakerPolicy_WithTimeWindow() {
	p := policy.CircuitBreaker(5, time.Minute).WithTimeWindow(10 * time.Second)
	fmt.Println(p, p.Validate())
	fmt.Println("buckets:", p.Window.EffectiveBuckets(), "minimum calls:", p.EffectiveMinimumCalls())

	fine := p.WithTimeWindow(time.Second).WithBuckets(2000)
	fmt.Println(fine.Validate())
	// Output:
	// circuit_breaker(5, 1m0s).time_window(10s) <nil>
	// buckets: 10 minimum calls: 10
	// policy: circuit_breaker: Window.Buckets must be in [0, 1000], got 2000
}

// Slow calls: a call lasting strictly longer than 2s is slow, and the breaker opens when 80%
// of the window's calls were slow, whether they succeeded or not. A rate of 0 means 1.
func ExampleCircuitBreakerPolicy_WithSlowCalls() {
	p := policy.CircuitBreaker(1, 30*time.Second).
		WithTimeWindow(20*time.Second).
		WithFailureRate(0.5, 5).
		WithSlowCalls(2*time.Second, 0.8)
	fmt.Println(p, p.Validate())

	all := p.WithSlowCalls(2*time.Second, 0)
	fmt.Println("slow-call rate:", all.EffectiveSlowCallRate())
	// Output:
	// circuit_breaker(1, 30s).time_window(20s).failure_rate(0.5, 5).slow_calls(2s, 0.8) <nil>
	// slow-call rate: 1
}

// A custom exponential backoff; DelayWith pins the jitter sample to show exact delays.
func ExampleExponentialBackoff() {
	b := policy.ExponentialBackoff{
		InitialDelay: 100 * time.Millisecond,
		Multiplier:   2,
		MaxDelay:     time.Second,
		Jitter:       true,
	}
	p := policy.Retry(5).WithBackoff(b)
	fmt.Println(p)
	for attempt := 1; attempt <= 5; attempt++ {
		fmt.Printf("retry %d: up to %v, at u=0.5 %v\n", attempt, b.DelayWith(attempt, 1), b.DelayWith(attempt, 0.5))
	}
	// Output:
	// retry(5).backoff(exponential(100ms, 2, 1s, jitter))
	// retry 1: up to 99.999999ms, at u=0.5 50ms
	// retry 2: up to 199.999999ms, at u=0.5 100ms
	// retry 3: up to 399.999999ms, at u=0.5 200ms
	// retry 4: up to 799.999999ms, at u=0.5 400ms
	// retry 5: up to 999.999999ms, at u=0.5 500ms
}

// Combine nests in the order listed, the first outermost: where the timeout goes decides
// whether it bounds each attempt or all of them.
func ExampleCombine() {
	perAttempt := policy.Combine(policy.Retry(3), policy.Timeout(time.Second))
	overall := policy.Combine(policy.Timeout(5*time.Second), policy.Retry(3))
	api := policy.Combine(
		policy.RateLimit(100),
		policy.Combine(policy.Retry(2), policy.CircuitBreaker(3, time.Minute)),
	)
	fmt.Println(perAttempt)
	fmt.Println(overall)
	fmt.Println(api)
	// Output:
	// combine(retry(3), timeout(1s))
	// combine(timeout(5s), retry(3))
	// combine(rate_limit(100), combine(retry(2), circuit_breaker(3, 1m0s)))
}

// PaymentProcessor is the guide's domain object: it declares the resilience it needs from
// its own business rules, and knows nothing of how the engine provides it.
type PaymentProcessor struct {
	Amount int64
	Method string
}

// Policy picks the resilience by payment method.
func (p PaymentProcessor) Policy() policy.Policy {
	switch p.Method {
	case "credit_card":
		return policy.Combine(
			policy.Retry(3),                          // retry transient failures
			policy.CircuitBreaker(5, 30*time.Second), // protect against outages
			policy.Timeout(30*time.Second),           // don't wait forever
		)
	case "bank_transfer":
		return policy.Combine(
			policy.Retry(1),                 // transfers are usually atomic
			policy.Timeout(300*time.Second), // but they can take time
		)
	default:
		return policy.Retry(2)
	}
}

// Execute is the business logic, pure of infrastructure.
func (p PaymentProcessor) Execute(ctx context.Context) (string, error) {
	if p.Amount > 10_000 {
		return "", policy.Permanent(errors.New("amount too high")) // never worth a retry
	}
	return fmt.Sprintf("paid %d by %s", p.Amount, p.Method), ctx.Err()
}

// ID names the operation, and keys its breaker and limiter.
func (PaymentProcessor) ID() string { return "payment_processor" }

// Critical marks high-value payments.
func (p PaymentProcessor) Critical() bool { return p.Amount > 1000 }

// An Operation declares its own policy; the business rules can be tested with no engine.
func ExampleOperation() {
	var _ policy.Operation[string] = PaymentProcessor{}

	for _, op := range []PaymentProcessor{
		{Amount: 500, Method: "credit_card"},
		{Amount: 5000, Method: "bank_transfer"},
		{Amount: 20, Method: "voucher"},
	} {
		fmt.Printf("%s %d critical=%v: %v\n", op.Method, op.Amount, op.Critical(), op.Policy())
	}
	_, err := PaymentProcessor{Amount: 50_000, Method: "credit_card"}.Execute(context.Background())
	fmt.Println(err, "retryable:", policy.IsRetryable(err))
	// Output:
	// credit_card 500 critical=false: combine(retry(3), circuit_breaker(5, 30s), timeout(30s))
	// bank_transfer 5000 critical=true: combine(retry(1), timeout(5m0s))
	// voucher 20 critical=false: retry(2)
	// amount too high retryable: false
}

// Classify errors by data, through any %w wrapping.
func ExampleIsRetryable() {
	open := &policy.Error{Kind: policy.ErrCircuitOpen, Op: "payment_processor", After: 12 * time.Second}
	for _, err := range []error{
		fmt.Errorf("charge: %w", &policy.Error{Kind: policy.ErrTimeout, Op: "payment_processor", Attempts: 1}),
		fmt.Errorf("charge: %w", open),
		fmt.Errorf("charge: %w", policy.ErrRateLimited),
		policy.Permanent(errors.New("card declined")),
		errors.New("connection reset"),
	} {
		wait, ok := policy.RetryAfter(err)
		fmt.Printf("%v\n  retryable=%v unavailable=%v retry after=%v,%v\n",
			err, policy.IsRetryable(err), policy.IsServiceUnavailable(err), wait, ok)
	}
	// Output:
	// charge: op "payment_processor": timeout
	//   retryable=true unavailable=false retry after=0s,false
	// charge: op "payment_processor": circuit open (retry after 12s)
	//   retryable=false unavailable=true retry after=12s,true
	// charge: policy: rate limited
	//   retryable=true unavailable=true retry after=0s,false
	// card declined
	//   retryable=false unavailable=false retry after=0s,false
	// connection reset
	//   retryable=true unavailable=false retry after=0s,false
}

// Policies read from configuration are validated on the way in.
func ExampleParseJSON() {
	p, err := policy.ParseJSON([]byte(`{"type":"combine","policies":[
		{"type":"retry","max_attempts":4,"backoff":{"type":"decorrelated","base":"50ms","max":"5s"}},
		{"type":"rate_limit","name":"search","requests_per_second":20,"max_wait":"250ms"}]}`))
	fmt.Println(p, err)

	_, err = policy.ParseJSON([]byte(`{"type":"timeout","duration":"0s"}`))
	fmt.Println(err)
	// Output:
	// combine(retry(4).backoff(decorrelated(50ms, 5s)), rate_limit(20).named("search").max_wait(250ms)) <nil>
	// policy: timeout: Duration must be > 0, got 0s
}

// A Spec keeps a policy inside your own configuration struct.
func ExampleSpec() {
	var cfg struct {
		Payments policy.Spec `json:"payments"`
	}
	err := json.Unmarshal([]byte(`{"payments":{"type":"circuit_breaker","name":"psp","failure_threshold":5,"recovery_timeout":"30s"}}`), &cfg)
	fmt.Println(cfg.Payments.Policy, err)
	// Output:
	// circuit_breaker(5, 30s).named("psp") <nil>
}

// FromLookup reads MAX_RETRIES and OPERATION_TIMEOUT from any source; FromEnv reads the
// environment.
func ExampleFromLookup() {
	settings := map[string]string{"MAX_RETRIES": "5", "OPERATION_TIMEOUT": "1500ms"}
	p, err := policy.FromLookup(func(key string) (string, bool) {
		v, ok := settings[key]
		return v, ok
	})
	fmt.Println(p, err)

	settings["MAX_RETRIES"] = "none"
	_, err = policy.FromLookup(func(key string) (string, bool) {
		v, ok := settings[key]
		return v, ok
	})
	fmt.Println(err)
	// Output:
	// combine(retry(5), timeout(1.5s)) <nil>
	// policy: environment: MAX_RETRIES must be a whole number of attempts ≥ 1, got "none"
}

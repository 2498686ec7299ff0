package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Run a flaky call under retry, a named circuit breaker and a per-attempt timeout, then
// read the engine's metrics.
func Example() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	// Convert the policy to policy.Policy once and reuse it: the engine caches its plan.
	var p policy.Policy = policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
		policy.CircuitBreaker(5, 30*time.Second).Named("inventory"),
		policy.Timeout(time.Second),
	)
	calls := 0
	stock, err := supervisor.ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
		calls++
		if calls < 3 {
			return 0, errors.New("connection reset")
		}
		return 17, nil
	})
	fmt.Println(stock, err)

	m := e.Metrics()
	fmt.Printf("operations=%d successful=%d retries=%d breaker=%s\n",
		m.TotalOperations, m.SuccessfulOperations, m.RetryAttempts, m.Breakers["inventory"].State)
	// Output:
	// 17 <nil>
	// operations=1 successful=1 retries=2 breaker=closed
}

// A breaker opens after its threshold of consecutive failures, and then refuses calls
// at once with ErrCircuitOpen, which carries how long until it half-opens.
func ExampleExecuteWithPolicy_circuitBreaker() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	var p policy.Policy = policy.CircuitBreaker(2, time.Minute).Named("search")
	down := func(context.Context) (string, error) { return "", errors.New("503 from search") }
	for range 3 {
		_, err := supervisor.ExecuteWithPolicy(context.Background(), e, p, down)
		after, _ := policy.RetryAfter(err)
		fmt.Printf("open=%v unavailable=%v retry-after≈%v\n",
			errors.Is(err, policy.ErrCircuitOpen), policy.IsServiceUnavailable(err), after.Round(time.Minute))
	}
	// Output:
	// open=false unavailable=false retry-after≈0s
	// open=false unavailable=false retry-after≈0s
	// open=true unavailable=true retry-after≈1m0s
}

// paymentProcessor declares its own policy by business rule, as the guide's
// ResilientOperation does.
type paymentProcessor struct {
	amount int
	method string
}

func (p paymentProcessor) Policy() policy.Policy {
	switch p.method {
	case "credit_card":
		return creditCard
	case "bank_transfer":
		return bankTransfer
	}
	return other
}

// Hoisted so each call reuses the same boxed policy (and its cached plan).
var (
	creditCard   policy.Policy = policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, 30*time.Second), policy.Timeout(30*time.Second))
	bankTransfer policy.Policy = policy.Combine(policy.Retry(1), policy.Timeout(300*time.Second))
	other        policy.Policy = policy.Retry(2)
)

func (p paymentProcessor) ID() string     { return "payment_processor" }
func (p paymentProcessor) Critical() bool { return p.amount > 1000 }
func (p paymentProcessor) Execute(ctx context.Context) (string, error) {
	if p.amount > 10000 {
		return "", policy.Permanent(errors.New("amount exceeds limit"))
	}
	return fmt.Sprintf("charged %d by %s", p.amount, p.method), nil
}

// Execute runs a domain operation under the policy it declares; its unnamed breaker
// takes the operation's ID as its name.
func ExampleExecute() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	for _, pay := range []paymentProcessor{{500, "credit_card"}, {20000, "bank_transfer"}} {
		res, err := supervisor.Execute(context.Background(), e, policy.Operation[string](pay))
		fmt.Println(res, err, policy.IsRetryable(err))
	}
	_, hasBreaker := e.Metrics().Breakers["payment_processor"]
	fmt.Println("breaker named after the operation:", hasBreaker)
	// Output:
	// charged 500 by credit_card <nil> false
	//  amount exceeds limit false
	// breaker named after the operation: true
}

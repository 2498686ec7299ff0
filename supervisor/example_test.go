package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Run a flaky call under retry, a named circuit breaker and a per-attempt timeout, then
// read the engine's metrics.
func Example() {
	e, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	// Prepare the policy once, at the call site's start-up: validated and compiled, the
	// plan is the fast path, and its ID names the operation in logs and errors.
	plan, err := e.Prepare("inventory-lookup", policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
		policy.CircuitBreaker(5, 30*time.Second).Named("inventory"),
		policy.Timeout(time.Second),
	))
	if err != nil {
		panic(err)
	}
	calls := 0
	stock, err := supervisor.ExecutePlan(context.Background(), plan, func(ctx context.Context) (int, error) {
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
	//  op "payment_processor": amount exceeds limit false
	// breaker named after the operation: true
}

// Register the engine's collector on your own registry and serve it with promhttp; the
// engine itself never touches the default registry or starts a server.
func ExampleEngine_Collector() {
	e, _ := supervisor.New()
	defer e.Shutdown(context.Background())

	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collector())
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	supervisor.ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.CircuitBreaker(5, time.Minute).Named("search")),
		func(context.Context) (int, error) { return 1, nil })

	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `bulwark_operations_total{result="success"}`) || strings.HasPrefix(line, "bulwark_breaker_state{") {
			fmt.Println(line)
		}
	}
	// Output:
	// bulwark_breaker_state{name="search"} 0
	// bulwark_operations_total{result="success"} 1
}

// Embed the engine in your own actor system, with protoactor's logs going to the same
// zap logger through the zapslog bridge. Shutdown stops the engine's actors and leaves
// your system running.
func ExampleWithActorSystem() {
	logger := zap.NewNop() // your logger
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		h := zapslog.NewHandler(logger.Core(), zapslog.WithName("protoactor"))
		return slog.New(h).With("actor_system", s.ID)
	}))
	e, err := supervisor.New(supervisor.WithActorSystem(sys), supervisor.WithLogger(logger))
	if err != nil {
		panic(err)
	}
	fmt.Println(e.System() == sys)
	fmt.Println(e.Shutdown(context.Background()))
	fmt.Println(sys.IsStopped())
	// Output:
	// true
	// <nil>
	// false
}

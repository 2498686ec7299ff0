// Command payment is the payment service of the resilience guide, ported to bulwark.
//
// It shows the three layers the guide separates:
//
//   - the domain (payment.go): PaymentProcessor is a policy.Operation[PaymentResult]
//     that declares its own resilience by payment method — credit_card gets
//     Combine(Retry(3), CircuitBreaker(5, 30s), Timeout(30s)), bank_transfer gets
//     Combine(Retry(1), Timeout(300s)), anything else Retry(2) — and is Critical above
//     1000. An amount over the limit is policy.Permanent(ErrAmountTooHigh): never retried,
//     never counted against the breaker.
//   - the application (service.go): PaymentService runs every dependency call through
//     the engine with the policies of a ResilienceConfig (production() or development()),
//     mails receipts under a policy read from the environment with policy.FromEnv
//     (MAX_RETRIES, OPERATION_TIMEOUT), and maps the engine's errors to its own
//     (ErrPaymentUnavailable for an open breaker or a rate limit, ErrPaymentFailed when
//     retries ran out) with errors.Is.
//   - the infrastructure (infra.go): a simulated, seeded, flaky payment network whose card
//     network goes down halfway through, so the card breaker opens, while bank transfers
//     and PayPal, which have no breaker, keep working.
//
// It takes a fixed list of payments one after another, prints each outcome and then the
// engine's Metrics. The randomness is seeded, so the output is the same on every run.
//
// Usage:
//
//	go run ./examples/payment
//	go run ./examples/payment -profile development
//	MAX_RETRIES=1 OPERATION_TIMEOUT=2s go run ./examples/payment
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// config is what the flags set.
type config struct {
	Profile string // "production" or "development"
	Seed    uint64 // seeds the payment network's transient failures
}

func main() {
	cfg := config{Profile: "production", Seed: 23}
	flag.StringVar(&cfg.Profile, "profile", cfg.Profile, `resilience configuration: "production" or "development"`)
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the simulated payment network's transient failures")
	flag.Parse()
	if err := run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "payment:", err)
		os.Exit(1)
	}
}

// step is one entry of the script: a payment, or the card network going down first.
type step struct {
	cardsDown bool
	req       PaymentRequest
}

// script is the day the service goes through.
var script = []step{
	{req: PaymentRequest{ID: "p-01", Customer: "alice", Method: "credit_card", Amount: 120}},
	{req: PaymentRequest{ID: "p-02", Customer: "bob", Method: "paypal", Amount: 45}},
	{req: PaymentRequest{ID: "p-03", Customer: "carol", Method: "bank_transfer", Amount: 2500}},
	{req: PaymentRequest{ID: "p-04", Customer: "dave", Method: "credit_card", Amount: 15000}},
	{req: PaymentRequest{ID: "p-05", Customer: "erin", Method: "credit_card", Amount: 300}},
	{req: PaymentRequest{ID: "p-06", Customer: "frank", Method: "cash", Amount: 20}},
	{req: PaymentRequest{ID: "p-01", Customer: "alice", Method: "credit_card", Amount: 120}}, // the client retries p-01
	{cardsDown: true, req: PaymentRequest{ID: "p-07", Customer: "frank", Method: "credit_card", Amount: 80}},
	{req: PaymentRequest{ID: "p-08", Customer: "grace", Method: "credit_card", Amount: 1500}},
	{req: PaymentRequest{ID: "p-09", Customer: "heidi", Method: "credit_card", Amount: 60}},
	{req: PaymentRequest{ID: "p-10", Customer: "ivan", Method: "paypal", Amount: 75}},
	{req: PaymentRequest{ID: "p-11", Customer: "judy", Method: "bank_transfer", Amount: 900}},
}

var balances = map[string]int64{
	"alice": 1000, "bob": 500, "carol": 10000, "dave": 50000, "erin": 100,
	"frank": 400, "grace": 5000, "heidi": 300, "ivan": 200, "judy": 2000,
}

// run takes the script's payments through a PaymentService and prints what happened.
func run(ctx context.Context, cfg config, out io.Writer) error {
	var rc ResilienceConfig
	switch cfg.Profile {
	case "production":
		rc = production()
	case "development":
		rc = development()
	default:
		return fmt.Errorf(`unknown profile %q: want "production" or "development"`, cfg.Profile)
	}
	receipts, err := policy.FromEnv()
	if err != nil {
		return err
	}

	eng, err := supervisor.New()
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx) // a second Shutdown, after the one below, returns nil
	}()

	network := NewFlakyProcessor(cfg.Seed, 0.25)
	svc := &PaymentService{
		eng:      eng,
		cfg:      rc,
		receipts: receipts,
		network:  network,
		db:       &accountDB{balances: balances},
		fraud:    &fraudAPI{},
		cache:    &idempotencyCache{done: map[string]PaymentResult{}},
		mail:     &mailer{attempts: map[string]int{}, order: map[string]int{}},
	}

	fmt.Fprintf(out, "payment service, %s profile\n", cfg.Profile)
	fmt.Fprintf(out, "  database      %s\n", rc.DatabasePolicy)
	fmt.Fprintf(out, "  external API  %s\n", rc.ExternalAPIPolicy)
	fmt.Fprintf(out, "  cache         %s\n", rc.CachePolicy)
	fmt.Fprintf(out, "  receipts      %s  (MAX_RETRIES, OPERATION_TIMEOUT)\n", receipts)
	for _, m := range []string{"credit_card", "bank_transfer", "paypal"} {
		fmt.Fprintf(out, "  %-13s %s\n", m, PaymentProcessor{Method: m}.Policy())
	}
	fmt.Fprintln(out)

	for i, st := range script {
		if st.cardsDown {
			network.SetDown("credit_card", true)
			fmt.Fprintln(out, "    -- the card network goes down --")
		}
		p, err := svc.Pay(ctx, st.req)
		fmt.Fprintf(out, "%2d. %-4s %-6s %-13s %6d  %s\n", i+1, st.req.ID, st.req.Customer, st.req.Method, st.req.Amount, outcome(st.req, p, err))
	}
	fmt.Fprintf(out, "\nreceipts: %d sent, %d not sent\n", svc.receiptsSent, svc.receiptsFailed)

	printMetrics(out, eng.Metrics())

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return eng.Shutdown(sctx)
}

// outcome describes how a payment ended, for a caller that knows only the service's
// errors.
func outcome(req PaymentRequest, p Payment, err error) string {
	critical := ""
	if (PaymentProcessor{Amount: req.Amount}).Critical() {
		critical = "  (critical)"
	}
	if err == nil {
		if p.Duplicate {
			return fmt.Sprintf("duplicate  %s, already paid: not charged again", p.TransactionID)
		}
		return fmt.Sprintf("paid       %s after %s%s", p.TransactionID, attempts(p.Attempts), critical)
	}
	var pe *PaymentError
	if !errors.As(err, &pe) {
		return "error      " + err.Error()
	}
	s := fmt.Sprintf("refused    %v [%s", pe.Err, pe.Step)
	switch {
	case pe.Attempts > 0:
		s += ", " + attempts(pe.Attempts)
	case pe.Cause != nil:
		s += ", not attempted" // e.g. the breaker was open
	}
	switch {
	case errors.Is(err, ErrAmountTooHigh):
		s += ", not retried"
	case errors.Is(err, ErrPaymentUnavailable) && pe.RetryAfter > 0:
		s += ", retry later"
	}
	return s + "]" + critical
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// printMetrics prints the engine's counters, as the guide does, and every breaker and
// limiter by name.
func printMetrics(out io.Writer, m supervisor.Metrics) {
	fmt.Fprintln(out, "\nengine metrics")
	fmt.Fprintf(out, "  total operations:       %d\n", m.TotalOperations)
	fmt.Fprintf(out, "  successful operations:  %d\n", m.SuccessfulOperations)
	fmt.Fprintf(out, "  failed operations:      %d\n", m.FailedOperations)
	fmt.Fprintf(out, "  retry attempts:         %d\n", m.RetryAttempts)
	fmt.Fprintf(out, "  circuit breaker trips:  %d\n", m.CircuitBreakerTrips)
	fmt.Fprintf(out, "  rate limit hits:        %d\n", m.RateLimitHits)
	fmt.Fprintf(out, "  timeouts:               %d\n", m.TimeoutCount)
	for _, name := range slices.Sorted(maps.Keys(m.Breakers)) {
		b := m.Breakers[name]
		fmt.Fprintf(out, "  breaker %-19q %-9s successes %d, failures %d, rejected %d, trips %d\n",
			name, b.State, b.Successes, b.Failures, b.Rejected, b.Trips)
	}
	for _, name := range slices.Sorted(maps.Keys(m.Limiters)) {
		l := m.Limiters[name]
		fmt.Fprintf(out, "  limiter %-19q allowed %d, rejected %d\n", name, l.Allowed, l.Rejected)
	}
}

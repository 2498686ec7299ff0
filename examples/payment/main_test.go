package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestMain fails the package if a goroutine outlives the tests: run shuts its engine
// down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestGolden runs the example with each profile and environment and compares its whole
// output with testdata/<name>.golden: the output is deterministic (seeded randomness,
// one payment at a time). Run `go test ./examples/payment -update` to rewrite them.
func TestGolden(t *testing.T) {
	tests := []struct {
		name       string
		cfg        config
		maxRetries string
		timeout    string
	}{
		{"production", config{Profile: "production", Seed: 23}, "", ""},
		{"development", config{Profile: "development", Seed: 23}, "", ""},
		{"production-env", config{Profile: "production", Seed: 23}, "1", "2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MAX_RETRIES", tt.maxRetries)
			t.Setenv("OPERATION_TIMEOUT", tt.timeout)
			var out bytes.Buffer
			if err := run(context.Background(), tt.cfg, &out); err != nil {
				t.Fatalf("run: %v", err)
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Run("unknown profile", func(t *testing.T) {
		if err := run(context.Background(), config{Profile: "staging"}, &bytes.Buffer{}); err == nil {
			t.Fatal("run accepted an unknown profile")
		}
	})
	t.Run("bad MAX_RETRIES", func(t *testing.T) {
		t.Setenv("MAX_RETRIES", "zero")
		err := run(context.Background(), config{Profile: "production"}, &bytes.Buffer{})
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Fatalf("run = %v, want an error matching policy.ErrInvalidPolicy", err)
		}
	})
}

// TestPaymentProcessor tests the domain operation with no engine running, as the
// guide's "testing domain logic in isolation" does.
func TestPaymentProcessor(t *testing.T) {
	t.Run("policy by method", func(t *testing.T) {
		for method, want := range map[string]int{"credit_card": 3, "bank_transfer": 2} {
			c, ok := PaymentProcessor{Method: method}.Policy().(policy.CombinedPolicy)
			if !ok || len(c.Policies) != want {
				t.Errorf("%s: policy %v, want a combination of %d", method, c, want)
			}
		}
		if p := (PaymentProcessor{Method: "paypal"}).Policy(); p.String() != "retry(2)" {
			t.Errorf("paypal: policy %v, want retry(2)", p)
		}
	})
	t.Run("critical above 1000", func(t *testing.T) {
		if (PaymentProcessor{Amount: 1000}).Critical() || !(PaymentProcessor{Amount: 5000}).Critical() {
			t.Error("want Critical exactly when Amount > 1000")
		}
	})
	t.Run("amount too high is permanent", func(t *testing.T) {
		_, err := PaymentProcessor{Amount: 10001, Method: "credit_card", Network: NewFlakyProcessor(1, 0)}.Execute(context.Background())
		if !errors.Is(err, ErrAmountTooHigh) || !policy.IsPermanent(err) || policy.IsRetryable(err) {
			t.Errorf("Execute = %v, want a permanent, non-retryable ErrAmountTooHigh", err)
		}
	})
	t.Run("charges", func(t *testing.T) {
		r, err := PaymentProcessor{Amount: 500, Method: "credit_card", Network: NewFlakyProcessor(1, 0)}.Execute(context.Background())
		if err != nil || r.Amount != 500 || r.TransactionID == "" {
			t.Errorf("Execute = %+v, %v", r, err)
		}
	})
}

// TestMapError checks that every engine error becomes one of the service's errors.
func TestMapError(t *testing.T) {
	transient := fmt.Errorf("processor: %w", errTransient)
	tests := []struct {
		name       string
		err        error
		want       error
		retryAfter bool
	}{
		{"circuit open", &policy.Error{Kind: policy.ErrCircuitOpen, After: 20 * time.Second}, ErrPaymentUnavailable, true},
		{"rate limited", &policy.Error{Kind: policy.ErrRetryExhausted, Err: &policy.Error{Kind: policy.ErrRateLimited, After: time.Second}}, ErrPaymentUnavailable, true},
		{"timeout", &policy.Error{Kind: policy.ErrTimeout}, ErrPaymentTimeout, false},
		{"retries exhausted", &policy.Error{Kind: policy.ErrRetryExhausted, Attempts: 3, Err: transient}, ErrPaymentFailed, false},
		{"amount too high", policy.Permanent(ErrAmountTooHigh), ErrAmountTooHigh, false},
		{"cancelled", &policy.Error{Kind: policy.ErrCancelled, Err: context.Canceled}, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapError("processor", 1, tt.err)
			var pe *PaymentError
			if !errors.As(err, &pe) || !errors.Is(err, tt.want) {
				t.Fatalf("mapError = %v, want a *PaymentError matching %v", err, tt.want)
			}
			if (pe.RetryAfter > 0) != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want > 0: %v", pe.RetryAfter, tt.retryAfter)
			}
		})
	}
	if mapError("processor", 1, nil) != nil {
		t.Error("mapError(nil) != nil")
	}
}

// TestPoliciesFollowTheRecommendedOrder checks that every combined policy the example
// uses nests its stages in the README's recommended order: retry, breaker, rate limit,
// timeout. A timeout outside the rate limit would start its clock while the call waits
// for a token.
func TestPoliciesFollowTheRecommendedOrder(t *testing.T) {
	rank := func(p policy.Policy) int {
		switch p.(type) {
		case policy.RetryPolicy:
			return 0
		case policy.CircuitBreakerPolicy:
			return 1
		case policy.RateLimitPolicy:
			return 2
		case policy.TimeoutPolicy:
			return 3
		}
		return -1
	}
	policies := map[string]policy.Policy{"credit_card": creditCardPolicy, "bank_transfer": bankTransferPolicy}
	for profile, cfg := range map[string]ResilienceConfig{"production": production(), "development": development()} {
		policies[profile+" database"] = cfg.DatabasePolicy
		policies[profile+" external API"] = cfg.ExternalAPIPolicy
		policies[profile+" cache"] = cfg.CachePolicy
	}
	for name, p := range policies {
		c, ok := p.(policy.CombinedPolicy)
		if !ok {
			continue
		}
		last := -1
		for _, stage := range c.Policies {
			r := rank(stage)
			if r < 0 {
				t.Errorf("%s: %v: unexpected stage %v", name, p, stage)
				continue
			}
			if r < last {
				t.Errorf("%s: %v does not follow the order retry, breaker, rate limit, timeout", name, p)
				break
			}
			last = r
		}
	}
}

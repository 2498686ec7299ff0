package main

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// This file is the domain layer: what a payment is, what can go wrong with it, and what
// resilience it needs. It imports policy (plain values) and nothing of the engine.

// The payment service's own errors. Callers match them with errors.Is; none of them
// says anything about retries, breakers or actors.
var (
	// ErrAmountTooHigh: the amount is over the limit. The request is wrong: never retried.
	ErrAmountTooHigh = errors.New("payment amount exceeds limit")
	// ErrInsufficientFunds: the account cannot cover the amount.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrUnsupportedMethod: the payment method is not one the service takes.
	ErrUnsupportedMethod = errors.New("payment method not supported")
	// ErrPaymentUnavailable: the service refused the payment to protect a dependency (an
	// open circuit breaker, a rate limit); the client may try again later.
	ErrPaymentUnavailable = errors.New("payment service temporarily unavailable")
	// ErrPaymentTimeout: the payment did not complete in time.
	ErrPaymentTimeout = errors.New("payment timed out")
	// ErrPaymentFailed: a dependency kept failing after every attempt.
	ErrPaymentFailed = errors.New("payment failed")
)

// maxAmount is the largest amount the service accepts.
const maxAmount = 10000

// PaymentResult is a completed payment.
type PaymentResult struct {
	TransactionID string
	Amount        int64
	Method        string
}

// Charger is what a PaymentProcessor needs from the payment network; the simulated
// processor in infra.go implements it.
type Charger interface {
	Charge(ctx context.Context, amount int64, method string) (PaymentResult, error)
}

// The policies a payment declares, by method, as in the guide. Each is converted to the
// policy.Policy interface once, here: the engine caches what a policy compiles into by
// the identity of the boxed value, so a PaymentProcessor returns the same boxed value on
// every call instead of building a new Combine.
var (
	// A card payment retries transient failures, stops calling a failing card network
	// (the breaker has no name, so it takes the operation's ID, "payment_processor"),
	// and never waits forever.
	creditCardPolicy policy.Policy = policy.Combine(
		policy.Retry(3),
		policy.CircuitBreaker(5, 30*time.Second),
		policy.Timeout(30*time.Second),
	)
	// A bank transfer is usually atomic (one attempt) but may take a while.
	bankTransferPolicy policy.Policy = policy.Combine(
		policy.Retry(1),
		policy.Timeout(300*time.Second),
	)
	// Any other method gets a plain retry.
	otherPaymentPolicy policy.Policy = policy.Retry(2)
)

// PaymentProcessor is one payment as a domain operation (the guide's
// ResilientOperation): it declares the resilience it needs from its method and amount,
// and Execute is pure business logic with no engine in sight. It implements
// policy.Operation[PaymentResult].
type PaymentProcessor struct {
	Amount  int64
	Method  string
	Network Charger
}

var _ policy.Operation[PaymentResult] = PaymentProcessor{}

// Policy chooses the resilience by payment method.
func (p PaymentProcessor) Policy() policy.Policy {
	switch p.Method {
	case "credit_card":
		return creditCardPolicy
	case "bank_transfer":
		return bankTransferPolicy
	}
	return otherPaymentPolicy
}

// Execute charges the payment once; the engine calls it once per attempt.
func (p PaymentProcessor) Execute(ctx context.Context) (PaymentResult, error) {
	if p.Amount > maxAmount {
		// Permanent: the retry policy gives up at once and the breaker does not count it.
		return PaymentResult{}, policy.Permanent(ErrAmountTooHigh)
	}
	return p.Network.Charge(ctx, p.Amount, p.Method)
}

// ID names the operation: its breaker, its errors and its logs.
func (p PaymentProcessor) ID() string { return "payment_processor" }

// Critical reports whether this is a high-value payment: it goes first in a limiter's
// queue and its failures are logged at Error level.
func (p PaymentProcessor) Critical() bool { return p.Amount > 1000 }

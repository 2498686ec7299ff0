package main

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// This file is the application layer: the payment workflow, which runs every call to a
// dependency through the engine and turns the engine's errors into the service's own.

// ResilienceConfig is the resilience each kind of dependency gets, chosen per
// deployment (the guide's service-specific policies). Build it once at start-up with
// production() or development(); the policies are boxed once, here.
type ResilienceConfig struct {
	DatabasePolicy    policy.Policy
	ExternalAPIPolicy policy.Policy
	CachePolicy       policy.Policy
}

// production is the configuration for production: retries, breakers and timeouts on
// the database and the external API, one attempt on the cache (cache failures are
// fast). The guide leaves its breakers unnamed; here each is named after its
// dependency, because an unnamed breaker run through ExecuteWithPolicy is the shared
// "default" breaker, and the database must not trip the external API's breaker.
func production() ResilienceConfig {
	return ResilienceConfig{
		DatabasePolicy: policy.Combine(
			policy.Retry(3),
			policy.CircuitBreaker(5, 30*time.Second).Named("database"),
			policy.Timeout(5*time.Second),
		),
		// The README's recommended order: retry, breaker, rate limit, timeout. Each
		// attempt asks the breaker, then takes a token, and only then starts its 10s, so
		// a wait for a token never eats into the time the fraud API gets.
		ExternalAPIPolicy: policy.Combine(
			policy.Retry(2),
			policy.CircuitBreaker(3, 60*time.Second).Named("fraud_api"),
			policy.RateLimit(100).Named("fraud_api"),
			policy.Timeout(10*time.Second),
		),
		CachePolicy: policy.Retry(1),
	}
}

// development is the configuration for development: fail fast, so problems show.
func development() ResilienceConfig {
	return ResilienceConfig{
		DatabasePolicy:    policy.Retry(1),
		ExternalAPIPolicy: policy.Retry(1),
		CachePolicy:       policy.None(),
	}
}

// PaymentError is a failed payment: Err is one of the service's errors, Step the
// dependency that failed, Attempts how many times it was called, RetryAfter the wait
// the engine advises (0: none), and Cause the engine's own error, if any.
// errors.Is matches both Err and Cause.
type PaymentError struct {
	Err        error
	Step       string
	Attempts   int
	RetryAfter time.Duration
	Cause      error
}

func (e *PaymentError) Error() string {
	if e.Cause == nil {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Cause.Error()
}

// Unwrap returns Err and Cause.
func (e *PaymentError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// mapError turns an error from the engine into the service's own with errors.Is and the
// policy package's classification: the service's callers match ErrPaymentUnavailable
// and friends with errors.Is, or read a *PaymentError with errors.As, and never need to
// know the engine's sentinels.
func mapError(step string, attempts int, err error) error {
	if err == nil {
		return nil
	}
	// The domain's own errors come through the engine untouched (Permanent keeps them
	// matchable): report them as they are.
	for _, domain := range []error{ErrAmountTooHigh, ErrInsufficientFunds} {
		if errors.Is(err, domain) {
			return &PaymentError{Err: domain, Step: step, Attempts: attempts}
		}
	}
	pe := &PaymentError{Step: step, Attempts: attempts, Cause: err}
	pe.RetryAfter, _ = policy.RetryAfter(err) // e.g. the time until an open breaker half-opens
	switch {
	case policy.IsServiceUnavailable(err): // circuit open, rate limited, overloaded, shut down
		pe.Err = ErrPaymentUnavailable
	case errors.Is(err, policy.ErrTimeout):
		pe.Err = ErrPaymentTimeout
	case errors.Is(err, policy.ErrCancelled):
		pe.Err = context.Canceled
	default:
		pe.Err = ErrPaymentFailed
	}
	return pe
}

// PaymentRequest is what a client asks for. ID makes retries by the client idempotent.
type PaymentRequest struct {
	ID       string
	Customer string
	Method   string
	Amount   int64
}

// Payment is a completed payment as the service reports it.
type Payment struct {
	PaymentResult
	Duplicate bool // the request was completed before; nothing was charged again
	Attempts  int  // calls to the payment network
}

// PaymentService takes payments: it checks the idempotency cache, the account balance
// in the database and the fraud score from an external API, charges through the
// payment network, and mails a receipt, each through the engine.
type PaymentService struct {
	eng      *supervisor.Engine
	cfg      ResilienceConfig
	receipts policy.Policy // from the environment: MAX_RETRIES, OPERATION_TIMEOUT

	network Charger
	db      *accountDB
	fraud   *fraudAPI
	cache   *idempotencyCache
	mail    *mailer

	receiptsSent, receiptsFailed int
}

var supportedMethods = map[string]bool{"credit_card": true, "bank_transfer": true, "paypal": true}

// Pay takes one payment.
func (s *PaymentService) Pay(ctx context.Context, req PaymentRequest) (Payment, error) {
	if !supportedMethods[req.Method] {
		return Payment{}, &PaymentError{Err: ErrUnsupportedMethod, Step: "validation"}
	}
	type hit struct {
		r  PaymentResult
		ok bool
	}
	cached, err := call(ctx, s, "cache", s.cfg.CachePolicy, func(ctx context.Context) (hit, error) {
		r, ok, err := s.cache.Get(ctx, req.ID)
		return hit{r, ok}, err
	})
	if err != nil {
		return Payment{}, err
	}
	if cached.ok {
		return Payment{PaymentResult: cached.r, Duplicate: true}, nil
	}

	balance, err := call(ctx, s, "database", s.cfg.DatabasePolicy, func(ctx context.Context) (int64, error) {
		return s.db.Balance(ctx, req.Customer)
	})
	if err != nil {
		return Payment{}, err
	}
	if balance < req.Amount {
		return Payment{}, &PaymentError{Err: ErrInsufficientFunds, Step: "balance check"}
	}
	if _, err := call(ctx, s, "fraud check", s.cfg.ExternalAPIPolicy, func(ctx context.Context) (int, error) {
		return s.fraud.Score(ctx, req.Customer, req.Amount)
	}); err != nil {
		return Payment{}, err
	}

	// The payment itself is a domain operation that declares its own policy.
	op := &counted[PaymentResult]{Operation: PaymentProcessor{Amount: req.Amount, Method: req.Method, Network: s.network}}
	r, err := supervisor.Execute(ctx, s.eng, op)
	if err != nil {
		return Payment{}, mapError("processor", op.attempts(), err)
	}

	if _, err := call(ctx, s, "cache", s.cfg.CachePolicy, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.cache.Put(ctx, req.ID, r)
	}); err != nil {
		return Payment{}, err
	}
	// A receipt that cannot be sent does not undo the payment.
	if err := supervisor.Run(ctx, s.eng, s.receipts, func(ctx context.Context) error {
		return s.mail.SendReceipt(ctx, r)
	}); err != nil {
		s.receiptsFailed++
	} else {
		s.receiptsSent++
	}
	return Payment{PaymentResult: r, Attempts: op.attempts()}, nil
}

// call runs fn under p through the engine, counting its attempts, and maps a failure
// to the service's errors.
func call[T any](ctx context.Context, s *PaymentService, step string, p policy.Policy, fn func(context.Context) (T, error)) (T, error) {
	var n atomic.Int32
	v, err := supervisor.ExecuteWithPolicy(ctx, s.eng, p, func(ctx context.Context) (T, error) {
		n.Add(1)
		return fn(ctx)
	})
	return v, mapError(step, int(n.Load()), err)
}

// counted is an operation that counts the attempts the engine makes of another. It
// keeps the operation's policy, ID and criticality.
type counted[T any] struct {
	policy.Operation[T]
	n atomic.Int32
}

func (c *counted[T]) Execute(ctx context.Context) (T, error) {
	c.n.Add(1)
	return c.Operation.Execute(ctx)
}

func (c *counted[T]) attempts() int { return int(c.n.Load()) }

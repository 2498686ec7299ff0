package supervisor

import (
	"context"
	"time"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/policy"
)

// askBound bounds the engine's own requests to its actors (registration).
const askBound = 10 * time.Second

// RegisterCircuitBreaker creates the breaker name configured by p, or reconfigures it
// in place (keeping its state) if it exists. A registered breaker is never passivated,
// and its configuration wins over the thresholds of any policy that names it. The name
// argument wins over p.Name. An empty name or an invalid p gives an error matching
// policy.ErrInvalidPolicy.
func (e *Engine) RegisterCircuitBreaker(name string, p policy.CircuitBreakerPolicy) error {
	p.Name = name
	return register(e, e.env.Registry.Breakers, "RegisterCircuitBreaker", name, p)
}

// RegisterRateLimiter creates the limiter name configured by p, or reconfigures it in
// place if it exists; see RegisterCircuitBreaker.
func (e *Engine) RegisterRateLimiter(name string, p policy.RateLimitPolicy) error {
	p.Name = name
	return register(e, e.env.Registry.Limiters, "RegisterRateLimiter", name, p)
}

// RegisterBulkhead creates the bulkhead name configured by p, or resizes it in place if
// it exists: growing admits waiters at once; shrinking interrupts no running call, and
// admits nobody until fewer than the new MaxConcurrent run. It never waits for running
// calls. A registered bulkhead is never passivated, and its configuration wins over that
// of any policy that names it. The name argument wins over p.Name; bulkheads have their
// own namespace of names. An empty name or an invalid p gives an error matching
// policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (e *Engine) RegisterBulkhead(name string, p policy.BulkheadPolicy) error {
	p.Name = name
	return register(e, e.env.Registry.Bulkheads, "RegisterBulkhead", name, p)
}

// RegisterAdaptiveLimit creates the adaptive concurrency limit name configured by p, or
// reconfigures it in place if it exists: the new bounds, sampling and queue apply at
// once and the limit learnt so far is kept, clamped to the new bounds. A registered
// adaptive limit is never passivated, and its configuration wins over that of any
// policy that names it. The name argument wins over p.Name; adaptive limits have their
// own namespace of names. An empty name or an invalid p gives an error matching
// policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (e *Engine) RegisterAdaptiveLimit(name string, p policy.AdaptiveLimitPolicy) error {
	p.Name = name
	return register(e, e.env.Registry.AdaptiveLimits, "RegisterAdaptiveLimit", name, p)
}

// RegisterBudget creates the retry budget name configured by p, or reconfigures it in
// place if it exists (keeping the deposits and withdrawals that still count; a new TTL
// starts an empty window). Policies name a budget with RetryPolicy.WithBudget and
// HedgePolicy.WithBudget; a name used before it is registered is created as
// policy.DefaultBudget() (RetryBudget(0.2)). A registered budget is never passivated. A
// budget is per engine (per process in cluster mode). An empty name or an invalid p gives
// an error matching policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (e *Engine) RegisterBudget(name string, p policy.BudgetPolicy) error {
	return register(e, e.env.Registry.Budgets, "RegisterBudget", name, p)
}

// register is a Register method for the family f.
func register[L registry.Link[P, S], P registry.Config, S any](e *Engine, f *registry.Family[L, P, S], method, name string, p P) error {
	if name == "" {
		return pipeline.Invalid("", method+": name is empty")
	}
	if err := p.Validate(); err != nil {
		return pipeline.InvalidPolicy("", err)
	}
	if e.env.Closed() {
		return pipeline.Shutdown(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), askBound)
	defer cancel()
	_, err := f.Resolve(ctx, registry.Caller{Op: name}, name, p, true)
	return err
}

// RegisterClassifier registers fn as the outcome classifier name, or replaces the
// function registered under name: plans and cached policies that name it use fn from
// their next call. A policy that names a classifier (CircuitBreakerPolicy.Classifier)
// is refused with policy.ErrInvalidPolicy, before anything runs, until one of that name
// is registered; "" and "default" are the built-in default (a nil error is a success,
// any other error a failure) and cannot be registered.
//
// A classifier judges one outcome after the rules that come first (DESIGN.md, "Outcome
// classification"): the caller's context ended, a refusal by another stage and a
// Permanent error are neutral whatever it says. It gets the value the function returned
// (boxed as any, which allocates for most non-pointer values; without a classifier
// nothing is boxed) and its error, may be called from many goroutines at once, and must not
// block. Ignore makes the outcome neutral; Abort counts as a failure for a breaker; a
// verdict of another value counts as a failure. A classifier that panics counts the
// outcome as a failure, and its first panic is logged at Error, once per name.
//
// A name that is not valid UTF-8 or a nil fn gives an error matching
// policy.ErrInvalidPolicy; after Shutdown, policy.ErrShutdown.
func (e *Engine) RegisterClassifier(name string, fn policy.Classifier) error {
	if err := pipeline.CheckClassifier(name, fn); err != nil {
		return err
	}
	if e.env.Closed() {
		return pipeline.Shutdown("")
	}
	e.env.Classifiers.Register(name, fn)
	return nil
}

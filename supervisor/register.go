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

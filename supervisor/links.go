package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// breaker returns the live breaker named name, creating it configured by p if needed.
func (e *Engine) breaker(ctx context.Context, name string, p policy.CircuitBreakerPolicy, register bool) (*actors.BreakerLink, error) {
	return resolve(ctx, e, e.breakerKind, name, p, register)
}

// limiter returns the live limiter named name, creating it configured by p if needed.
func (e *Engine) limiter(ctx context.Context, name string, p policy.RateLimitPolicy, register bool) (*actors.LimiterLink, error) {
	return resolve(ctx, e, e.limiterKind, name, p, register)
}

// ensured turns the supervisor's answer into an error, if it is one.
func (e *Engine) ensured(ans any, err error, name string) error {
	if err != nil {
		switch err {
		case answerShutdown:
			return shutdownErr(name)
		case answerCancelled:
			return &policy.Error{Kind: policy.ErrCancelled, Op: name, Err: context.Canceled}
		}
		return &policy.Error{Kind: policy.ErrOverloaded, Op: name, Err: err}
	}
	if r, ok := ans.(*messages.Rejected); ok {
		return &policy.Error{Kind: policy.ErrOverloaded, Op: name, Err: errors.New("supervisor: cannot start actor: " + r.Reason.String())}
	}
	return nil
}

// RegisterCircuitBreaker creates the breaker name configured by p, or reconfigures it
// in place (keeping its state) if it exists. A registered breaker is never passivated,
// and its configuration wins over the thresholds of any policy that names it. The name
// argument wins over p.Name. An empty name or an invalid p gives an error matching
// policy.ErrInvalidPolicy.
func (e *Engine) RegisterCircuitBreaker(name string, p policy.CircuitBreakerPolicy) error {
	p.Name = name
	return register(e, e.breakerKind, "RegisterCircuitBreaker", name, p)
}

// RegisterRateLimiter creates the limiter name configured by p, or reconfigures it in
// place if it exists; see RegisterCircuitBreaker.
func (e *Engine) RegisterRateLimiter(name string, p policy.RateLimitPolicy) error {
	p.Name = name
	return register(e, e.limiterKind, "RegisterRateLimiter", name, p)
}

// register is RegisterCircuitBreaker and RegisterRateLimiter for a kind.
func register[L namedLink, P interface {
	comparable
	fmt.Stringer
	Validate() error
}](e *Engine, k *kind[L, P], method, name string, p P) error {
	if name == "" {
		return invalid("", method+": name is empty")
	}
	if err := p.Validate(); err != nil {
		return invalidPolicy("", err)
	}
	if e.closed.Load() {
		return shutdownErr(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), askBound)
	defer cancel()
	_, err := resolve(ctx, e, k, name, p, true)
	return err
}

package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// breaker returns the live breaker named name for call c, creating it configured by p
// if needed.
func (e *Engine) breaker(ctx context.Context, c *call, name string, p policy.CircuitBreakerPolicy, register bool) (*actors.BreakerLink, error) {
	return resolve(ctx, e, e.breakerKind, c, name, p, register)
}

// limiter returns the live limiter named name for call c, creating it configured by p
// if needed.
func (e *Engine) limiter(ctx context.Context, c *call, name string, p policy.RateLimitPolicy, register bool) (*actors.LimiterLink, error) {
	return resolve(ctx, e, e.limiterKind, c, name, p, register)
}

// ensured turns the supervisor's answer to an ensure for the actor name of kind k into
// an error, if it is one. The error is the call's: Op is c's operation ID (the name
// itself for a registration, c nil), and the actor's kind and name are in its cause. A
// caller whose ctx ended gets ErrCancelled matching ctx's own error.
func (e *Engine) ensured(ctx context.Context, c *call, kind, name string, ans any, err error) error {
	op, attempts := name, 0
	if c != nil {
		op, attempts = c.id, c.attempts
	}
	starting := func(cause error) error {
		return fmt.Errorf("supervisor: starting %s %q: %w", kind, name, cause)
	}
	if err != nil {
		switch err {
		case answerShutdown:
			return shutdownErr(op)
		case answerCancelled:
			// ctx.Err() says how the context ended (cancelled or deadline); a cause given
			// with context.WithCancelCause comes with it.
			cause := ctx.Err()
			if why := context.Cause(ctx); why != nil && !errors.Is(why, cause) {
				cause = errors.Join(cause, why)
			}
			return &policy.Error{Kind: policy.ErrCancelled, Op: op, Attempts: attempts, Err: starting(cause)}
		}
		return &policy.Error{Kind: policy.ErrOverloaded, Op: op, Attempts: attempts, Err: starting(err)}
	}
	if r, ok := ans.(*messages.Rejected); ok {
		return &policy.Error{Kind: policy.ErrOverloaded, Op: op, Attempts: attempts, Err: starting(errors.New("the actor " + r.Reason.String()))}
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
	_, err := resolve(ctx, e, k, nil, name, p, true)
	return err
}

package supervisor

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// breaker returns the live breaker named name, asking the supervisor to create it
// (configured by p) when there is none. With register, the supervisor also
// reconfigures an existing breaker with p and marks the name as registered.
func (e *Engine) breaker(ctx context.Context, name string, p policy.CircuitBreakerPolicy, register bool) (*actors.BreakerLink, error) {
	for range 3 {
		if !register {
			if l := e.breakers.Get(name); l != nil && !l.View().Retired {
				e.checkConfig("b:"+name, !l.Registered() && !sameName(l.Origin(), p, func(q *policy.CircuitBreakerPolicy, n string) { q.Name = n }), name, p)
				return l, nil
			}
		}
		ans, err := e.inbox.ask(ctx, e.sup, e.supDone, func(t uint64) any {
			return &ensureBreaker{ticket: t, name: name, policy: p, register: register}
		}, false, false)
		if err := e.ensured(ans, err, name); err != nil {
			return nil, err
		}
		if l := e.breakers.Get(name); l != nil && (register || !l.View().Retired) {
			return l, nil
		}
	}
	return nil, &policy.Error{Kind: policy.ErrOverloaded, Op: name, Err: errors.New("supervisor: breaker keeps stopping")}
}

// limiter is breaker's counterpart for rate limiters.
func (e *Engine) limiter(ctx context.Context, name string, p policy.RateLimitPolicy, register bool) (*actors.LimiterLink, error) {
	for range 3 {
		if !register {
			if l := e.limiters.Get(name); l != nil && !l.View().Retired {
				e.checkConfig("l:"+name, !l.Registered() && !sameName(l.Origin(), p, func(q *policy.RateLimitPolicy, n string) { q.Name = n }), name, p)
				return l, nil
			}
		}
		ans, err := e.inbox.ask(ctx, e.sup, e.supDone, func(t uint64) any {
			return &ensureLimiter{ticket: t, name: name, policy: p, register: register}
		}, false, false)
		if err := e.ensured(ans, err, name); err != nil {
			return nil, err
		}
		if l := e.limiters.Get(name); l != nil && (register || !l.View().Retired) {
			return l, nil
		}
	}
	return nil, &policy.Error{Kind: policy.ErrOverloaded, Op: name, Err: errors.New("supervisor: limiter keeps stopping")}
}

// sameName reports whether a and b configure the same thresholds, whatever their names.
func sameName[P comparable](a, b P, setName func(*P, string)) bool {
	setName(&a, "")
	setName(&b, "")
	return a == b
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

// checkConfig warns once when a policy names an actor that another configuration
// created: the first configuration wins.
func (e *Engine) checkConfig(key string, differs bool, name string, p policy.Policy) {
	if differs {
		e.warnOnce("config:"+key, "a policy names a breaker or limiter that exists with other thresholds; the first configuration wins",
			zap.String("name", name), zap.Stringer("ignored", p))
	}
}

// RegisterCircuitBreaker creates the breaker name configured by p, or reconfigures it
// in place (keeping its state) if it exists. A registered breaker is never passivated,
// and its configuration wins over the thresholds of any policy that names it. The name
// argument wins over p.Name. An empty name or an invalid p gives an error matching
// policy.ErrInvalidPolicy.
func (e *Engine) RegisterCircuitBreaker(name string, p policy.CircuitBreakerPolicy) error {
	if name == "" {
		return invalid("", "RegisterCircuitBreaker: name is empty")
	}
	p.Name = name
	if err := p.Validate(); err != nil {
		return err
	}
	if e.closed.Load() {
		return shutdownErr(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), askBound)
	defer cancel()
	_, err := e.breaker(ctx, name, p, true)
	return err
}

// RegisterRateLimiter creates the limiter name configured by p, or reconfigures it in
// place if it exists; see RegisterCircuitBreaker.
func (e *Engine) RegisterRateLimiter(name string, p policy.RateLimitPolicy) error {
	if name == "" {
		return invalid("", "RegisterRateLimiter: name is empty")
	}
	p.Name = name
	if err := p.Validate(); err != nil {
		return err
	}
	if e.closed.Load() {
		return shutdownErr(name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), askBound)
	defer cancel()
	_, err := e.limiter(ctx, name, p, true)
	return err
}

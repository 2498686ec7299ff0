package pipeline

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/policy"
)

// stage is one policy of a compiled pipeline: a *retryStage, *breakerStage,
// *limiterStage, *timeoutStage, *coopStage, *bulkheadStage or *fallbackStage. Stages run outermost first; run dispatches on the
// concrete type.
type stage interface{ isStage() }

// Plan is what a policy compiles into: its validation result and its stages. A Plan is
// immutable once made and safe for concurrent use; the link caches of its stages follow
// reconfiguration and passivation of the names they use.
type Plan struct {
	env    *Env
	id     string        // the operation ID of a prepared plan
	policy policy.Policy // what was compiled, for logs; keeps a cached plan's key alive
	stages []stage
	err    error // why the policy is invalid; the caller wraps it in a *policy.Error
	// byID is set when a breaker or limiter has no Name: the operation's ID names it.
	byID bool
	// direct is set for None and a plain Retry, which run without stages: the first
	// attempt runs at once, and the retry loop (attempts, backoff) only after a failure.
	direct   bool
	attempts int
	backoff  policy.Backoff
	budget   *budgetRef // a direct Retry's retry budget; nil: none
	// fallbacks are the plan's Fallback stages, which a call checks its result type
	// against before it enters the engine (checkFallbacks); nil for most plans.
	fallbacks []*fallbackStage
	// outer is a Fallback stage that comes first: execute applies it around the other
	// stages, so that it is not one more stage on the success path; nil for none.
	outer *fallbackStage
}

// ID returns the operation ID the plan was prepared for.
func (pl *Plan) ID() string { return pl.id }

// Prepare validates and compiles p for the operation id ("" for none) once, for
// ExecutePlan: none of the per-call compile or cache work is left. Its error is a
// *policy.Error of Kind ErrInvalidPolicy.
func (env *Env) Prepare(id string, p policy.Policy) (*Plan, error) {
	pl := &Plan{env: env, id: id, policy: p}
	switch pp := p.(type) {
	case nil:
		return nil, Invalid(id, "policy is nil")
	case policy.NonePolicy:
		pl.direct = true
	case policy.RetryPolicy:
		if unbudgeted := withoutBudget(pp); !plainRetry(&unbudgeted) {
			return env.prepareStages(pl, p)
		}
		if err := validate(pp); err != nil {
			return nil, InvalidPolicy(id, err)
		}
		// A plain Retry with a budget stays direct: its first attempt deposits with one
		// atomic add, and the loop withdraws (BG-1).
		pl.direct, pl.attempts, pl.backoff, pl.budget = true, pp.MaxAttempts, pp.Backoff, newBudgetRef(pp.Budget)
	default:
		return env.prepareStages(pl, p)
	}
	return pl, nil
}

// prepareStages is Prepare for a policy that runs through stages: it compiles p into pl.
func (env *Env) prepareStages(pl *Plan, p policy.Policy) (*Plan, error) {
	c := compile(env, p)
	if c.err != nil {
		return nil, InvalidPolicy(pl.id, c.err)
	}
	pl.stages, pl.byID, pl.fallbacks, pl.outer = c.stages, c.byID, c.fallbacks, c.outer
	if pl.byID && pl.id != "" && !utf8.ValidString(pl.id) {
		return nil, Invalid(pl.id, "the operation ID names a breaker or limiter and must be valid UTF-8")
	}
	return pl, nil
}

// compile validates p and flattens it into stages: Combine nests first-outermost, so
// Combine(a, Combine(b, c), d) runs as a(b(c(d(fn)))) — exactly the flat list a, b, c, d.
func compile(env *Env, p policy.Policy) *Plan {
	pl := &Plan{}
	compileInto(env, pl, p)
	return pl
}

// compileInto is compile into pl, which the caller allocated (the plan cache holds its
// plans inline). It holds the one switch from policy kinds to stages. Names of
// classifiers are looked up in env's registrations: an unknown one makes p invalid.
func compileInto(env *Env, pl *Plan, p policy.Policy) {
	pl.policy = p
	if err := validate(p); err != nil {
		pl.err = err
		return
	}
	n := 0
	walk(p, func(q policy.Policy) {
		n++
		if r, ok := q.(policy.RetryPolicy); ok && r.AttemptTimeout > 0 {
			n++
		}
	})
	pl.stages = make([]stage, 0, n)
	retries := 0 // the retry stages so far: a later one is nested
	walk(p, func(q policy.Policy) {
		if pl.err != nil {
			return
		}
		switch q := q.(type) {
		case policy.RetryPolicy:
			s, err := compileRetry(env, q, retries > 0)
			if err != nil {
				pl.stages, pl.byID = nil, false
				pl.err = err
				return
			}
			retries++
			pl.stages = append(pl.stages, s)
			if q.AttemptTimeout > 0 {
				// RT-6: exactly Combine(Retry(n), Timeout(d)).
				pl.stages = append(pl.stages, compileTimeout(policy.Timeout(q.AttemptTimeout)))
			}
		case policy.CircuitBreakerPolicy:
			s, err := compileBreaker(env, q)
			if err != nil {
				pl.stages, pl.byID = nil, false
				pl.err = err
				return
			}
			pl.stages = append(pl.stages, s)
			pl.byID = pl.byID || q.Name == ""
		case policy.RateLimitPolicy:
			pl.stages = append(pl.stages, compileLimiter(q))
			pl.byID = pl.byID || q.Name == ""
		case policy.TimeoutPolicy:
			if q.Cooperative {
				pl.stages = append(pl.stages, compileCoop(q))
				break
			}
			pl.stages = append(pl.stages, compileTimeout(q))
		case policy.BulkheadPolicy:
			pl.stages = append(pl.stages, compileBulkhead(q))
			pl.byID = pl.byID || q.Name == ""
		case policy.FallbackPolicy:
			s, err := compileFallback(env, q)
			if err != nil {
				pl.stages, pl.byID, pl.fallbacks = nil, false, nil
				pl.err = err
				return
			}
			pl.stages = append(pl.stages, s)
			pl.fallbacks = append(pl.fallbacks, s)
		case policy.HedgePolicy:
			s, err := compileHedge(env, q)
			if err != nil {
				pl.stages, pl.byID, pl.fallbacks = nil, false, nil
				pl.err = err
				return
			}
			pl.stages = append(pl.stages, s)
		case policy.AdaptiveLimitPolicy:
			pl.stages = append(pl.stages, compileAdaptive(q))
			pl.byID = pl.byID || q.Name == ""
		case policy.BudgetPolicy:
			pl.stages, pl.byID = nil, false
			pl.err = errBudgetRuns
		default:
			pl.stages, pl.byID = nil, false
			pl.err = fmt.Errorf("unsupported policy type %T: pass a value of one of the policy types", q)
		}
	})
	if pl.err != nil {
		pl.fallbacks = nil
	}
	hoistOuterFallback(pl)
}

// hoistOuterFallback moves a Fallback stage that comes first out of pl's stages into
// pl.outer, for execute to apply.
func hoistOuterFallback(pl *Plan) {
	if pl.err != nil || len(pl.stages) == 0 {
		return
	}
	if fb, ok := pl.stages[0].(*fallbackStage); ok {
		pl.outer, pl.stages = fb, pl.stages[1:]
	}
}

// walk calls f on every non-combined policy in p, in order; a policy.Spec is unwrapped.
// p is valid, so its depth is bounded.
func walk(p policy.Policy, f func(policy.Policy)) {
	switch q := p.(type) {
	case policy.CombinedPolicy:
		for _, r := range q.Policies {
			walk(r, f)
		}
	case policy.Spec:
		walk(q.Policy, f)
	case policy.NonePolicy:
	default:
		f(p)
	}
}

// errBudgetRuns is why a BudgetPolicy given as the policy of a call is invalid.
var errBudgetRuns = errors.New("retry_budget: a retry budget does not run as a policy: register it with Engine.RegisterBudget and name it with RetryPolicy.WithBudget or HedgePolicy.WithBudget")

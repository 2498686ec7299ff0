package supervisor

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/policy"
)

type stageKind uint8

const (
	stageRetry stageKind = iota + 1
	stageBreaker
	stageLimiter
	stageTimeout
)

// stage is one policy of a compiled pipeline. Stages run outermost first.
type stage struct {
	kind     stageKind
	attempts int
	backoff  policy.Backoff
	timeout  time.Duration
	expired  error // the cause of this Timeout stage's errors, made once: deadlinePassed
	breaker  policy.CircuitBreakerPolicy
	limiter  policy.RateLimitPolicy

	// The resolved actor of a named breaker or limiter, cached across calls.
	breakerLink atomic.Pointer[actors.BreakerLink]
	limiterLink atomic.Pointer[actors.LimiterLink]
	checked     atomic.Bool // the configuration mismatch warning was considered
}

// plan is what a policy value compiles into: its validation result and its stages.
type plan struct {
	typ    unsafe.Pointer // the interface's type word: two boxed values of different
	key    unsafe.Pointer // types may share an address (zero values, equal constants)
	policy policy.Policy  // keeps the boxed value, and so key, alive while cached
	stages []stage
	err    error // why p is invalid; the caller wraps it in a *policy.Error
	// byID is set when a breaker or limiter has no Name: the operation's ID names it.
	byID bool
}

// planCache maps the identity of a boxed policy (both words of the interface value) to
// its plan. It is direct-mapped and lock-free: a lookup is one atomic load and a
// pointer compare; a collision replaces the older plan. A plan holds its policy value,
// so the address it is keyed by cannot be reused while it is cached.
type planCache struct {
	slots [planSlots]atomic.Pointer[plan]
}

const planSlots = 1024

// words returns the two words of an interface value: its type and its data pointer.
func words(p policy.Policy) (typ, data unsafe.Pointer) {
	w := (*[2]unsafe.Pointer)(unsafe.Pointer(&p))
	return w[0], w[1]
}

// defaultBackoff is the boxed value policy.DefaultBackoff returns every time.
var defaultBackoff = backoffPointer(policy.DefaultBackoff())

func backoffPointer(b policy.Backoff) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&b))[1]
}

// isDefaultBackoff reports whether b is nil or the very value DefaultBackoff returns.
func isDefaultBackoff(b policy.Backoff) bool {
	return b == nil || backoffPointer(b) == defaultBackoff
}

func (pc *planCache) get(p policy.Policy) *plan {
	typ, key := words(p)
	slot := &pc.slots[(uintptr(key)>>4^uintptr(key)>>14^uintptr(typ)>>5)%planSlots]
	if pl := slot.Load(); pl != nil && pl.key == key && pl.typ == typ {
		return pl
	}
	pl := compile(p)
	pl.typ, pl.key = typ, key
	slot.Store(pl)
	return pl
}

// compile validates p and flattens it into stages: Combine nests first-outermost, so
// Combine(a, Combine(b, c), d) runs as a(b(c(d(fn)))) — exactly the flat list a, b, c, d.
func compile(p policy.Policy) *plan {
	pl := &plan{policy: p}
	if err := validate(p); err != nil {
		pl.err = err
		return pl
	}
	n := 0
	var unknown policy.Policy
	walk(p, func(q policy.Policy) {
		switch q.(type) {
		case policy.RetryPolicy, policy.CircuitBreakerPolicy, policy.RateLimitPolicy, policy.TimeoutPolicy:
			n++
		default:
			unknown = q
		}
	})
	if unknown != nil {
		pl.err = fmt.Errorf("unsupported policy type %T: pass a value of one of the policy types", unknown)
		return pl
	}
	pl.stages = make([]stage, 0, n)
	walk(p, func(q policy.Policy) {
		switch q := q.(type) {
		case policy.RetryPolicy:
			pl.stages = append(pl.stages, stage{kind: stageRetry, attempts: q.MaxAttempts, backoff: q.Backoff})
		case policy.CircuitBreakerPolicy:
			pl.stages = append(pl.stages, stage{kind: stageBreaker, breaker: q})
			pl.byID = pl.byID || q.Name == ""
		case policy.RateLimitPolicy:
			pl.stages = append(pl.stages, stage{kind: stageLimiter, limiter: q})
			pl.byID = pl.byID || q.Name == ""
		case policy.TimeoutPolicy:
			pl.stages = append(pl.stages, stage{kind: stageTimeout, timeout: q.Duration, expired: deadlinePassed(q.Duration)})
		}
	})
	return pl
}

// walk calls f on every non-combined policy in p, in order. p is valid, so its depth is
// bounded.
// A policy.Spec is unwrapped.
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

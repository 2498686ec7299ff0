package policy

import (
	"math"
	"strconv"
	"time"
)

// Policy is one resilience policy: a plain value saying what an operation needs, never how
// it runs. The set is closed: NonePolicy, RetryPolicy, CircuitBreakerPolicy, RateLimitPolicy,
// TimeoutPolicy and CombinedPolicy are the only kinds, so the engine can switch on the type.
// (A Spec, a pointer to a kind, or any type embedding a Policy also satisfies the interface
// by method promotion; where a kind is required, such as inside a CombinedPolicy, the package
// reports them as invalid.) Policy values are immutable and safe to share between goroutines.
type Policy interface {
	// Validate returns nil when the policy can run, or an error matching ErrInvalidPolicy
	// that names the first bad field and its value.
	Validate() error
	// String returns the policy as the constructor calls that build it, such as
	// `circuit_breaker(5, 30s).named("payments")`.
	String() string

	// isPolicy keeps the set of kinds closed to this package.
	isPolicy()
}

// NonePolicy runs an operation once, as it is. Its zero value is its only value, returned
// by None; it is always valid.
type NonePolicy struct{}

// None returns the policy that adds no resilience: the operation runs once.
func None() NonePolicy { return NonePolicy{} }

// Validate always returns nil: NonePolicy has nothing to get wrong.
func (NonePolicy) Validate() error { return nil }

// String returns "none".
func (NonePolicy) String() string { return "none" }

func (NonePolicy) isPolicy() {}

// RetryPolicy runs an operation up to MaxAttempts times in all (the first attempt counts),
// waiting Backoff.Delay(n) before retry n, as long as the error IsRetryable. MaxAttempts has
// no default: zero is invalid. A nil Backoff means DefaultBackoff(). The value is immutable
// and safe to share between goroutines.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included; it must be ≥ 1.
	MaxAttempts int
	// Backoff gives the wait before each retry; nil means DefaultBackoff().
	Backoff Backoff
}

// Retry returns a RetryPolicy of maxAttempts attempts in all, with DefaultBackoff().
// It does not allocate.
func Retry(maxAttempts int) RetryPolicy {
	return RetryPolicy{MaxAttempts: maxAttempts, Backoff: defaultBackoff}
}

// WithBackoff returns a copy of p that waits b between attempts (nil: DefaultBackoff()).
func (p RetryPolicy) WithBackoff(b Backoff) RetryPolicy {
	p.Backoff = b
	return p
}

// EffectiveBackoff returns the backoff the engine applies: p.Backoff, or DefaultBackoff()
// when it is nil.
func (p RetryPolicy) EffectiveBackoff() Backoff {
	if p.Backoff == nil {
		return defaultBackoff
	}
	return p.Backoff
}

// Validate checks MaxAttempts ≥ 1 and, when set, the backoff.
func (p RetryPolicy) Validate() error {
	if err := atLeast("retry", "MaxAttempts", p.MaxAttempts, 1); err != nil {
		return err
	}
	if p.Backoff != nil {
		if err := p.Backoff.Validate(); err != nil {
			return within(err, "retry")
		}
	}
	return nil
}

// String returns "retry(N)", followed by ".backoff(...)" when the backoff is set and is
// not DefaultBackoff().
func (p RetryPolicy) String() string {
	s := "retry(" + strconv.Itoa(p.MaxAttempts) + ")"
	if p.Backoff != nil && !isDefaultBackoff(p.Backoff) {
		s += chained("backoff", backoffString(p.Backoff))
	}
	return s
}

func (RetryPolicy) isPolicy() {}

// CircuitBreakerPolicy stops calling a failing dependency: after FailureThreshold
// consecutive failures the breaker opens and rejects calls with ErrCircuitOpen; after
// RecoveryTimeout it lets probes through (half-open), and SuccessThreshold successful
// probes close it again. FailureThreshold and RecoveryTimeout have no default (zero is
// invalid); a zero SuccessThreshold means 1; an empty Name means the operation's ID, else
// "default". The value is immutable and safe to share between goroutines.
type CircuitBreakerPolicy struct {
	// Name selects the breaker actor; "" means the operation's ID, else "default". It must
	// be valid UTF-8.
	Name string
	// FailureThreshold is the number of consecutive failures that open the breaker; ≥ 1.
	FailureThreshold int
	// RecoveryTimeout is how long the breaker stays open before half-open; > 0.
	RecoveryTimeout time.Duration
	// SuccessThreshold is the number of half-open successes that close it; 0 means 1.
	SuccessThreshold int
}

// CircuitBreaker returns a CircuitBreakerPolicy that opens after failureThreshold
// consecutive failures and half-opens after recoveryTimeout. Name and SuccessThreshold are
// left zero (their defaults).
func CircuitBreaker(failureThreshold int, recoveryTimeout time.Duration) CircuitBreakerPolicy {
	return CircuitBreakerPolicy{FailureThreshold: failureThreshold, RecoveryTimeout: recoveryTimeout}
}

// Named returns a copy of p that uses the breaker actor called name.
func (p CircuitBreakerPolicy) Named(name string) CircuitBreakerPolicy {
	p.Name = name
	return p
}

// WithSuccessThreshold returns a copy of p that closes after n half-open successes.
func (p CircuitBreakerPolicy) WithSuccessThreshold(n int) CircuitBreakerPolicy {
	p.SuccessThreshold = n
	return p
}

// EffectiveSuccessThreshold returns the number of half-open successes that close the
// breaker: SuccessThreshold, or 1 when it is zero.
func (p CircuitBreakerPolicy) EffectiveSuccessThreshold() int {
	if p.SuccessThreshold == 0 {
		return 1
	}
	return p.SuccessThreshold
}

// Validate checks FailureThreshold ≥ 1, RecoveryTimeout > 0, SuccessThreshold ≥ 0 and that
// Name is valid UTF-8.
func (p CircuitBreakerPolicy) Validate() error {
	const c = "circuit_breaker"
	return first(
		atLeast(c, "FailureThreshold", p.FailureThreshold, 1),
		positive(c, "RecoveryTimeout", p.RecoveryTimeout),
		atLeast(c, "SuccessThreshold", p.SuccessThreshold, 0),
		validName(c, p.Name),
	)
}

// String returns "circuit_breaker(N, D)", followed by ".named(...)" when Name is set and
// ".success_threshold(N)" when it is neither 0 nor 1.
func (p CircuitBreakerPolicy) String() string {
	s := "circuit_breaker(" + strconv.Itoa(p.FailureThreshold) + ", " + p.RecoveryTimeout.String() + ")"
	s += named(p.Name)
	if p.EffectiveSuccessThreshold() != 1 {
		s += chained("success_threshold", strconv.Itoa(p.SuccessThreshold))
	}
	return s
}

func (CircuitBreakerPolicy) isPolicy() {}

// maxDefaultBurst caps the default burst, so a huge RequestsPerSecond never overflows int.
const maxDefaultBurst = 1 << 30

// RateLimitPolicy admits calls through a token bucket that refills at RequestsPerSecond
// tokens a second and holds Burst tokens. With no token, a call is rejected with
// ErrRateLimited at once (MaxWait 0) or waits in line up to MaxWait. RequestsPerSecond has
// no default (zero is invalid); a zero Burst means ceil(RequestsPerSecond); an empty Name
// means the operation's ID, else "default". The value is immutable and safe to share
// between goroutines.
type RateLimitPolicy struct {
	// Name selects the limiter actor; "" means the operation's ID, else "default". It must
	// be valid UTF-8.
	Name string
	// RequestsPerSecond is the refill rate in tokens a second; finite and > 0.
	RequestsPerSecond float64
	// Burst is the bucket's capacity in tokens; 0 means ceil(RequestsPerSecond).
	Burst int
	// MaxWait is the longest a call waits for a token; 0 rejects at once.
	MaxWait time.Duration
}

// RateLimit returns a RateLimitPolicy of requestsPerSecond with Burst set to
// ceil(requestsPerSecond), at least 1 and at most 1<<30.
func RateLimit(requestsPerSecond float64) RateLimitPolicy {
	p := RateLimitPolicy{RequestsPerSecond: requestsPerSecond}
	p.Burst = p.EffectiveBurst()
	return p
}

// Named returns a copy of p that uses the limiter actor called name.
func (p RateLimitPolicy) Named(name string) RateLimitPolicy {
	p.Name = name
	return p
}

// WithBurst returns a copy of p whose bucket holds n tokens.
func (p RateLimitPolicy) WithBurst(n int) RateLimitPolicy {
	p.Burst = n
	return p
}

// WithMaxWait returns a copy of p in which a call waits up to d for a token.
func (p RateLimitPolicy) WithMaxWait(d time.Duration) RateLimitPolicy {
	p.MaxWait = d
	return p
}

// EffectiveBurst returns the bucket's capacity in tokens: Burst when it is set, otherwise
// ceil(RequestsPerSecond), clamped to [1, 1<<30] (1 when the rate is not a positive number).
func (p RateLimitPolicy) EffectiveBurst() int {
	if p.Burst != 0 {
		return p.Burst
	}
	rps := p.RequestsPerSecond
	switch {
	case !(rps > 0): // zero, negative or NaN
		return 1
	case rps >= maxDefaultBurst:
		return maxDefaultBurst
	}
	return int(math.Ceil(rps))
}

// Validate checks RequestsPerSecond is finite and > 0, Burst ≥ 0, MaxWait ≥ 0 and that Name
// is valid UTF-8.
func (p RateLimitPolicy) Validate() error {
	const c = "rate_limit"
	rps := p.RequestsPerSecond
	return first(
		holds(rps > 0 && !math.IsInf(rps, 1), c, "RequestsPerSecond", "a finite number > 0", rps),
		atLeast(c, "Burst", p.Burst, 0),
		notNegative(c, "MaxWait", p.MaxWait),
		validName(c, p.Name),
	)
}

// String returns "rate_limit(R)", followed by ".named(...)" when Name is set,
// ".burst(N)" when Burst is set and differs from ceil(R), and ".max_wait(D)" when MaxWait
// is set.
func (p RateLimitPolicy) String() string {
	s := "rate_limit(" + formatFloat(p.RequestsPerSecond) + ")"
	s += named(p.Name)
	if p.Burst != 0 && p.Burst != (RateLimitPolicy{RequestsPerSecond: p.RequestsPerSecond}).EffectiveBurst() {
		s += chained("burst", strconv.Itoa(p.Burst))
	}
	if p.MaxWait != 0 {
		s += chained("max_wait", p.MaxWait.String())
	}
	return s
}

func (RateLimitPolicy) isPolicy() {}

// TimeoutPolicy bounds how long an operation may run: at Duration its context is cancelled
// and the call returns ErrTimeout. Duration has no default: zero is invalid. The value is
// immutable and safe to share between goroutines.
type TimeoutPolicy struct {
	// Duration is the time limit; > 0.
	Duration time.Duration
}

// Timeout returns a TimeoutPolicy of d.
func Timeout(d time.Duration) TimeoutPolicy { return TimeoutPolicy{Duration: d} }

// Validate checks Duration > 0.
func (p TimeoutPolicy) Validate() error { return positive("timeout", "Duration", p.Duration) }

// String returns "timeout(D)".
func (p TimeoutPolicy) String() string { return "timeout(" + p.Duration.String() + ")" }

func (TimeoutPolicy) isPolicy() {}

// chained formats one link of a String chain: ".name(arg)".
func chained(name, arg string) string { return "." + name + "(" + arg + ")" }

// named formats the ".named(...)" link, or nothing for an empty name.
func named(name string) string {
	if name == "" {
		return ""
	}
	return chained("named", strconv.Quote(name))
}

// formatFloat prints f in the shortest form that reads back exactly.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

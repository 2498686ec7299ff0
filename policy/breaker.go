package policy

import (
	"strconv"
	"time"
)

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

func (CircuitBreakerPolicy) isPolicy() {}

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

// circuitBreakerJSON is a CircuitBreakerPolicy's JSON document.
type circuitBreakerJSON struct {
	Type             string   `json:"type"`
	Name             string   `json:"name,omitempty"`
	FailureThreshold int      `json:"failure_threshold"`
	RecoveryTimeout  duration `json:"recovery_timeout"`
	SuccessThreshold int      `json:"success_threshold,omitempty"`
}

func encodeCircuitBreaker(p CircuitBreakerPolicy) (any, error) {
	return circuitBreakerJSON{"circuit_breaker", p.Name, p.FailureThreshold, duration(p.RecoveryTimeout), p.SuccessThreshold}, nil
}

func decodeCircuitBreaker(data []byte, _ int) (CircuitBreakerPolicy, error) {
	return decodeAs(data, func(w circuitBreakerJSON) CircuitBreakerPolicy {
		return CircuitBreakerPolicy{w.Name, w.FailureThreshold, time.Duration(w.RecoveryTimeout), w.SuccessThreshold}
	})
}

// MarshalJSON writes {"type":"circuit_breaker","name":...,"failure_threshold":N,
// "recovery_timeout":"30s","success_threshold":N}, leaving out a zero name and success
// threshold. It fails for an invalid policy.
func (p CircuitBreakerPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

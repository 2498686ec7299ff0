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

	// Window, when set, judges the breaker over the last Window.Count calls or the calls
	// of the last Window.Period instead of consecutive failures. Zero: consecutive mode.
	Window Window
	// FailureRate, in (0, 1], opens a windowed breaker when failures/calls reaches it
	// (and FailureThreshold failures and MinimumCalls calls are in the window). Zero: the
	// rate is not judged, and FailureThreshold failures in the window open it.
	FailureRate float64
	// MinimumCalls is how many calls the window must hold before it is judged; 0 means
	// Window.Count for count windows and max(FailureThreshold, 10) for time windows.
	MinimumCalls int
	// SlowCall, when > 0, makes a call that lasts strictly longer than it a slow call
	// (needs a Window). It costs two clock reads per call.
	SlowCall time.Duration
	// SlowCallRate, in (0, 1], opens the breaker when slow calls/calls reaches it; 0 with
	// SlowCall set means 1.
	SlowCallRate float64
	// HalfOpenCalls is how many probes one half-open period admits; 0 means
	// SuccessThreshold.
	HalfOpenCalls int
	// MaxHalfOpen bounds the time in half-open: with no verdict by then the breaker opens
	// again. 0: no bound.
	MaxHalfOpen time.Duration
	// OpenBackoff, when set, gives the open delay after the n-th consecutive trip as
	// OpenBackoff.Delay(n); nil: RecoveryTimeout after every trip.
	OpenBackoff Backoff
	// HonorRetryAfter lets the tripping error's RetryAfter lengthen the open delay, up to
	// OpenBackoff's maximum delay, else 10 × RecoveryTimeout.
	HonorRetryAfter bool
	// Classifier names a classifier registered on the engine that judges outcomes; ""
	// means the default one.
	Classifier string
	// Shared asks cluster mode for one breaker of this name for the whole fleet; without
	// a cluster the breaker is local.
	Shared bool
}

// Window is the span a windowed circuit breaker judges: the last Count calls (a count
// window), or the calls that completed in the last Period, in Buckets buckets (a time
// window). Exactly one of Count and Period is set; Buckets 0 means 10. The zero Window
// means consecutive mode.
type Window struct {
	// Count is the number of most recent calls a count window holds.
	Count int
	// Period is how far back a time window reaches.
	Period time.Duration
	// Buckets is the time window's resolution; 0 means 10.
	Buckets int
}

// IsZero reports whether w is the zero Window (consecutive mode).
func (w Window) IsZero() bool { return w == Window{} }

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
		return CircuitBreakerPolicy{Name: w.Name, FailureThreshold: w.FailureThreshold, RecoveryTimeout: time.Duration(w.RecoveryTimeout), SuccessThreshold: w.SuccessThreshold}
	})
}

// MarshalJSON writes {"type":"circuit_breaker","name":...,"failure_threshold":N,
// "recovery_timeout":"30s","success_threshold":N}, leaving out a zero name and success
// threshold. It fails for an invalid policy.
func (p CircuitBreakerPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

package bench

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// windowCases are the success-path cases of issue 12's windowed breakers: the closed
// path of a rate-mode breaker over a count window and over a time window, each with and
// without slow-call detection. BenchmarkBulwark runs them after successCases, each on a
// named breaker of its own engine, so they sit in the same run as CaseBreaker, the
// consecutive breaker they are held to (≤ 1.25× its closed path, breadth.md CB-14).
//
// The policies are struct literals so that every field the cases depend on is spelled
// out. FailureThreshold 1 makes them pure rate breakers (CB-1): the rate alone opens
// them, as in failsafe-go's and gobreaker's equivalents in bench/peers.
var windowCases = []struct {
	name   string
	policy func() policy.Policy
}{
	{CaseBreakerRateCount, func() policy.Policy { return rateBreaker("bench-rate-count", countWindow(), 0) }},
	{CaseBreakerRateTime, func() policy.Policy { return rateBreaker("bench-rate-time", timeWindow(), 0) }},
	{CaseBreakerRateCountSlow, func() policy.Policy {
		return rateBreaker("bench-rate-count-slow", countWindow(), SlowCallThreshold)
	}},
	{CaseBreakerRateTimeSlow, func() policy.Policy {
		return rateBreaker("bench-rate-time-slow", timeWindow(), SlowCallThreshold)
	}},
}

// countWindow is the window of the _count cases: the last WindowCount calls.
func countWindow() policy.Window { return policy.Window{Count: WindowCount} }

// timeWindow is the window of the _time cases: the last WindowPeriod, in WindowBuckets
// buckets.
func timeWindow() policy.Window {
	return policy.Window{Period: WindowPeriod, Buckets: WindowBuckets}
}

// rateBreaker returns the named rate-mode breaker of the window cases: it opens when at
// least BreakerMinimumCalls calls are in window w and at least BreakerFailureRate of
// them failed. slowCall > 0 also times every call (two clock reads, CB-14); Work never
// comes near it.
func rateBreaker(name string, w policy.Window, slowCall time.Duration) policy.CircuitBreakerPolicy {
	return policy.CircuitBreakerPolicy{
		Name:             name,
		FailureThreshold: 1,
		RecoveryTimeout:  BreakerRecovery,
		Window:           w,
		FailureRate:      BreakerFailureRate,
		MinimumCalls:     BreakerMinimumCalls,
		SlowCall:         slowCall,
	}
}

// TestWindowCases checks that every window case is a valid windowed breaker, so that
// none of them silently measures the consecutive breaker (a zero Window is consecutive
// mode).
func TestWindowCases(t *testing.T) {
	for _, c := range windowCases {
		p, ok := c.policy().(policy.CircuitBreakerPolicy)
		switch {
		case !ok:
			t.Errorf("%s: %T, want policy.CircuitBreakerPolicy", c.name, c.policy())
			continue
		case p.Window.IsZero():
			t.Errorf("%s: zero Window, which is consecutive mode", c.name)
		case p.FailureRate <= 0:
			t.Errorf("%s: FailureRate %v, want rate mode", c.name, p.FailureRate)
		case c.name != CaseBreakerRateCount && c.name != CaseBreakerRateTime && p.SlowCall <= 0:
			t.Errorf("%s: no SlowCall", c.name)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

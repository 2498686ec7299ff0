package policy_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestConstructorsBuildTheDocumentedValues(t *testing.T) {
	tests := []struct {
		name string
		got  policy.Policy
		want policy.Policy
	}{
		{"none", policy.None(), policy.NonePolicy{}},
		{"retry keeps attempts and takes the default backoff", policy.Retry(3),
			policy.RetryPolicy{MaxAttempts: 3, Backoff: policy.DefaultBackoff()}},
		{"retry with backoff", policy.Retry(5).WithBackoff(policy.FixedBackoff{Interval: time.Second}),
			policy.RetryPolicy{MaxAttempts: 5, Backoff: policy.FixedBackoff{Interval: time.Second}}},
		{"retry with nil backoff", policy.Retry(2).WithBackoff(nil), policy.RetryPolicy{MaxAttempts: 2}},
		{"circuit breaker leaves name and success threshold zero", policy.CircuitBreaker(5, 30*time.Second),
			policy.CircuitBreakerPolicy{FailureThreshold: 5, RecoveryTimeout: 30 * time.Second}},
		{"circuit breaker chained", policy.CircuitBreaker(5, time.Minute).Named("payments").WithSuccessThreshold(3),
			policy.CircuitBreakerPolicy{Name: "payments", FailureThreshold: 5, RecoveryTimeout: time.Minute, SuccessThreshold: 3}},
		{"rate limit burst is ceil(rps)", policy.RateLimit(2.5),
			policy.RateLimitPolicy{RequestsPerSecond: 2.5, Burst: 3}},
		{"rate limit of a whole rate", policy.RateLimit(100),
			policy.RateLimitPolicy{RequestsPerSecond: 100, Burst: 100}},
		{"rate limit below one a second has a burst of 1", policy.RateLimit(0.1),
			policy.RateLimitPolicy{RequestsPerSecond: 0.1, Burst: 1}},
		{"rate limit of a huge rate clamps the burst", policy.RateLimit(1e300),
			policy.RateLimitPolicy{RequestsPerSecond: 1e300, Burst: 1 << 30}},
		{"rate limit chained", policy.RateLimit(100).Named("api").WithBurst(20).WithMaxWait(time.Second),
			policy.RateLimitPolicy{Name: "api", RequestsPerSecond: 100, Burst: 20, MaxWait: time.Second}},
		{"timeout", policy.Timeout(5 * time.Minute), policy.TimeoutPolicy{Duration: 5 * time.Minute}},
		{"combine keeps order and nesting", policy.Combine(policy.Retry(3), policy.Combine(policy.Timeout(time.Second))),
			policy.CombinedPolicy{Policies: []policy.Policy{
				policy.Retry(3),
				policy.CombinedPolicy{Policies: []policy.Policy{policy.Timeout(time.Second)}},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestChainedMethodsReturnCopies(t *testing.T) {
	cb := policy.CircuitBreaker(5, time.Second)
	_ = cb.Named("x").WithSuccessThreshold(4)
	rl := policy.RateLimit(10)
	_ = rl.Named("x").WithBurst(1).WithMaxWait(time.Second)
	r := policy.Retry(3)
	_ = r.WithBackoff(policy.FixedBackoff{})
	if cb != policy.CircuitBreaker(5, time.Second) || rl != policy.RateLimit(10) ||
		!reflect.DeepEqual(r, policy.Retry(3)) {
		t.Fatalf("a chained method modified its receiver: %v %v %v", cb, rl, r)
	}
}

func TestCombineCopiesItsArguments(t *testing.T) {
	ps := []policy.Policy{policy.Retry(3), policy.Timeout(time.Second)}
	c := policy.Combine(ps...)
	ps[0] = policy.None()
	if got := c.String(); got != "combine(retry(3), timeout(1s))" {
		t.Fatalf("changing the caller's slice changed the policy: %s", got)
	}
}

func TestDefaultsAreEffective(t *testing.T) {
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"success threshold 0 means 1", policy.CircuitBreakerPolicy{}.EffectiveSuccessThreshold(), 1},
		{"success threshold set", policy.CircuitBreakerPolicy{SuccessThreshold: 3}.EffectiveSuccessThreshold(), 3},
		{"burst 0 means ceil(rps)", policy.RateLimitPolicy{RequestsPerSecond: 7.2}.EffectiveBurst(), 8},
		{"burst set", policy.RateLimitPolicy{RequestsPerSecond: 7.2, Burst: 2}.EffectiveBurst(), 2},
		{"burst of a tiny rate is 1", policy.RateLimitPolicy{RequestsPerSecond: 1e-9}.EffectiveBurst(), 1},
		{"burst of an infinite rate is clamped", policy.RateLimitPolicy{RequestsPerSecond: posInf}.EffectiveBurst(), 1 << 30},
		{"burst of an invalid rate is 1", policy.RateLimitPolicy{RequestsPerSecond: nan}.EffectiveBurst(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
}

func TestEffectiveBackoff(t *testing.T) {
	if got := (policy.RetryPolicy{MaxAttempts: 1}).EffectiveBackoff(); got != policy.DefaultBackoff() {
		t.Errorf("nil backoff: got %v, want DefaultBackoff()", got)
	}
	fixed := policy.FixedBackoff{Interval: time.Second}
	if got := policy.Retry(1).WithBackoff(fixed).EffectiveBackoff(); got != fixed {
		t.Errorf("set backoff: got %v, want %v", got, fixed)
	}
}

func TestDefaultBackoffIsTheGuidesExponential(t *testing.T) {
	want := policy.ExponentialBackoff{
		InitialDelay: 100 * time.Millisecond, Multiplier: 2, MaxDelay: 30 * time.Second, Jitter: true,
	}
	if got := policy.DefaultBackoff(); got != want {
		t.Fatalf("DefaultBackoff() = %#v, want %#v", got, want)
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	valid := policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Second),
		policy.RateLimit(10), policy.Timeout(time.Second))
	tests := []struct {
		name string
		fn   func()
	}{
		{"Retry", func() { sink = policy.Retry(3) }},
		{"DefaultBackoff", func() { sinkBackoff = policy.DefaultBackoff() }},
		{"Validate of a valid combined policy", func() { sinkErr = valid.Validate() }},
		{"Delay of the default backoff", func() { sinkDelay = policy.DefaultBackoff().Delay(3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}

var (
	sink        policy.RetryPolicy
	sinkBackoff policy.Backoff
	sinkErr     error
	sinkDelay   time.Duration
)

func TestStringReadsLikeTheConstructor(t *testing.T) {
	tests := []struct {
		name string
		p    policy.Policy
		want string
	}{
		{"none", policy.None(), "none"},
		{"retry", policy.Retry(3), "retry(3)"},
		{"retry with nil backoff", policy.RetryPolicy{MaxAttempts: 3}, "retry(3)"},
		{"retry with a custom exponential", policy.Retry(5).WithBackoff(policy.ExponentialBackoff{
			InitialDelay: 200 * time.Millisecond, Multiplier: 1.5, MaxDelay: 10 * time.Second, Jitter: true,
		}), "retry(5).backoff(exponential(200ms, 1.5, 10s, jitter))"},
		{"retry with an uncapped exponential", policy.Retry(2).WithBackoff(policy.ExponentialBackoff{
			InitialDelay: time.Second, Multiplier: 2,
		}), "retry(2).backoff(exponential(1s, 2))"},
		{"retry with fixed", policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: time.Second}),
			"retry(2).backoff(fixed(1s))"},
		{"retry with linear", policy.Retry(2).WithBackoff(policy.LinearBackoff{Initial: time.Second, Step: 500 * time.Millisecond}),
			"retry(2).backoff(linear(1s, 500ms))"},
		{"retry with capped linear", policy.Retry(2).WithBackoff(policy.LinearBackoff{Step: time.Second, Max: 5 * time.Second}),
			"retry(2).backoff(linear(0s, 1s, 5s))"},
		{"retry with decorrelated", policy.Retry(4).WithBackoff(policy.DecorrelatedBackoff{Base: 50 * time.Millisecond}),
			"retry(4).backoff(decorrelated(50ms))"},
		{"retry with capped decorrelated", policy.Retry(4).WithBackoff(policy.DecorrelatedBackoff{Base: time.Second, Max: time.Minute}),
			"retry(4).backoff(decorrelated(1s, 1m0s))"},
		{"retry with a custom backoff", policy.Retry(2).WithBackoff(constantBackoff{}),
			"retry(2).backoff(policy_test.constantBackoff)"},
		{"retry with an incomparable custom backoff", policy.Retry(2).WithBackoff(scheduleBackoff{time.Second}),
			"retry(2).backoff(schedule)"},
		{"circuit breaker", policy.CircuitBreaker(5, 30*time.Second), "circuit_breaker(5, 30s)"},
		{"named circuit breaker", policy.CircuitBreaker(5, 30*time.Second).Named("payments"),
			`circuit_breaker(5, 30s).named("payments")`},
		{"success threshold 1 is the default", policy.CircuitBreaker(5, time.Second).WithSuccessThreshold(1),
			"circuit_breaker(5, 1s)"},
		{"success threshold", policy.CircuitBreaker(5, time.Second).Named("db").WithSuccessThreshold(3),
			`circuit_breaker(5, 1s).named("db").success_threshold(3)`},
		{"name is quoted", policy.CircuitBreaker(1, time.Second).Named(`a "b"`),
			`circuit_breaker(1, 1s).named("a \"b\"")`},
		{"rate limit", policy.RateLimit(100), "rate_limit(100)"},
		{"rate limit with zero burst", policy.RateLimitPolicy{RequestsPerSecond: 100}, "rate_limit(100)"},
		{"fractional rate limit", policy.RateLimit(0.5), "rate_limit(0.5)"},
		{"rate limit with burst", policy.RateLimit(100).WithBurst(20), "rate_limit(100).burst(20)"},
		{"rate limit everything", policy.RateLimit(100).Named("api").WithBurst(20).WithMaxWait(time.Second),
			`rate_limit(100).named("api").burst(20).max_wait(1s)`},
		{"timeout", policy.Timeout(5 * time.Minute), "timeout(5m0s)"},
		{"cooperative timeout", policy.Timeout(time.Second).AsCooperative(), "timeout(1s).cooperative()"},
		{"combine", policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second)),
			"combine(retry(3), timeout(30s))"},
		{"combine of the guide", policy.Combine(policy.Retry(3),
			policy.CircuitBreaker(5, 30*time.Second).Named("payments"), policy.Timeout(10*time.Second)),
			`combine(retry(3), circuit_breaker(5, 30s).named("payments"), timeout(10s))`},
		{"nested combine", policy.Combine(policy.Timeout(time.Minute), policy.Combine(policy.Retry(2), policy.None())),
			"combine(timeout(1m0s), combine(retry(2), none))"},
		{"empty combine", policy.Combine(), "combine()"},
		{"nil inside combine", policy.Combine(nil), "combine(nil)"},
		{"pointer inside combine", policy.Combine(&policy.TimeoutPolicy{}),
			"combine(invalid(*policy.TimeoutPolicy))"},
		{"spec inside combine", policy.Combine(policy.Spec{Policy: policy.None()}), "combine(invalid(policy.Spec))"},
		{"spec", policy.Spec{Policy: policy.Retry(2)}, "retry(2)"},
		{"empty spec", policy.Spec{}, "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
		})
	}
}

// constantBackoff is a custom backoff with no String method.
type constantBackoff struct{}

func (constantBackoff) Delay(int) time.Duration { return time.Second }
func (constantBackoff) Validate() error         { return nil }

// scheduleBackoff is a custom backoff that is not comparable with ==.
type scheduleBackoff []time.Duration

func (s scheduleBackoff) Delay(n int) time.Duration { return s[min(max(n, 1), len(s))-1] }
func (s scheduleBackoff) Validate() error           { return nil }
func (s scheduleBackoff) String() string            { return "schedule" }

package policy_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

// validator is anything with a Validate method: policies and backoffs.
type validator interface{ Validate() error }

func TestValidValuesValidate(t *testing.T) {
	tests := []struct {
		name string
		v    validator
	}{
		{"none", policy.None()},
		{"retry", policy.Retry(1)},
		{"retry with nil backoff", policy.RetryPolicy{MaxAttempts: 3}},
		{"retry with a custom backoff", policy.Retry(2).WithBackoff(constantBackoff{})},
		{"circuit breaker", policy.CircuitBreaker(1, time.Nanosecond)},
		{"circuit breaker with empty name and zero success threshold", policy.CircuitBreakerPolicy{FailureThreshold: 3, RecoveryTimeout: time.Second}},
		{"rate limit", policy.RateLimit(0.001)},
		{"rate limit with zero burst and max wait", policy.RateLimitPolicy{RequestsPerSecond: 5}},
		{"rate limit of a huge rate", policy.RateLimit(math.MaxFloat64)},
		{"timeout", policy.Timeout(time.Nanosecond)},
		{"cooperative timeout", policy.Timeout(time.Nanosecond).AsCooperative()},
		{"combine", policy.Combine(policy.None())},
		{"combine nested MaxDepth deep", nest(policy.MaxDepth, policy.Retry(1))},
		{"fixed zero", policy.FixedBackoff{}},
		{"linear zero", policy.LinearBackoff{}},
		{"linear capped at Initial", policy.LinearBackoff{Initial: time.Second, Step: time.Second, Max: time.Second}},
		{"exponential multiplier 1", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 1}},
		{"exponential capped at InitialDelay", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 3, MaxDelay: time.Second}},
		{"decorrelated", policy.DecorrelatedBackoff{Base: time.Millisecond}},
		{"decorrelated capped", policy.DecorrelatedBackoff{Base: time.Millisecond, Max: time.Second}},
		{"spec", policy.Spec{Policy: policy.Retry(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.v.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestInvalidValuesNameTheFieldAndValue(t *testing.T) {
	fine := policy.Retry(1)
	tests := []struct {
		name string
		v    validator
		want string // the whole message
	}{
		{"zero attempts", policy.Retry(0), "policy: retry: MaxAttempts must be ≥ 1, got 0"},
		{"negative attempts", policy.RetryPolicy{MaxAttempts: -3}, "policy: retry: MaxAttempts must be ≥ 1, got -3"},
		{"invalid backoff inside retry", policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: -time.Second}),
			"policy: retry: fixed backoff: Interval must be ≥ 0, got -1s"},
		{"failing custom backoff inside retry", policy.Retry(2).WithBackoff(failingBackoff{}),
			"policy: retry: custom backoff says no"},
		{"zero failure threshold", policy.CircuitBreaker(0, time.Second),
			"policy: circuit_breaker: FailureThreshold must be ≥ 1, got 0"},
		{"zero recovery timeout", policy.CircuitBreaker(5, 0),
			"policy: circuit_breaker: RecoveryTimeout must be > 0, got 0s"},
		{"negative recovery timeout", policy.CircuitBreaker(5, -time.Second),
			"policy: circuit_breaker: RecoveryTimeout must be > 0, got -1s"},
		{"negative success threshold", policy.CircuitBreaker(5, time.Second).WithSuccessThreshold(-1),
			"policy: circuit_breaker: SuccessThreshold must be ≥ 0, got -1"},
		{"zero rate", policy.RateLimit(0), "policy: rate_limit: RequestsPerSecond must be a finite number > 0, got 0"},
		{"negative rate", policy.RateLimit(-5), "policy: rate_limit: RequestsPerSecond must be a finite number > 0, got -5"},
		{"NaN rate", policy.RateLimit(nan), "policy: rate_limit: RequestsPerSecond must be a finite number > 0, got NaN"},
		{"infinite rate", policy.RateLimit(posInf), "policy: rate_limit: RequestsPerSecond must be a finite number > 0, got +Inf"},
		{"negative burst", policy.RateLimit(5).WithBurst(-1), "policy: rate_limit: Burst must be ≥ 0, got -1"},
		{"negative max wait", policy.RateLimit(5).WithMaxWait(-time.Millisecond),
			"policy: rate_limit: MaxWait must be ≥ 0, got -1ms"},
		{"zero timeout", policy.Timeout(0), "policy: timeout: Duration must be > 0, got 0s"},
		{"negative timeout", policy.Timeout(-time.Hour), "policy: timeout: Duration must be > 0, got -1h0m0s"},
		{"zero cooperative timeout", policy.Timeout(0).AsCooperative(), "policy: timeout: Duration must be > 0, got 0s"},
		{"empty combine", policy.Combine(), "policy: combine: Policies must be a non-empty list, got []"},
		{"nil inside combine", policy.Combine(fine, nil),
			"policy: combine: Policies[1] must be a value of one of the policy types, got <nil>"},
		{"pointer inside combine", policy.Combine(&fine),
			"policy: combine: Policies[0] must be a value of one of the policy types, got *policy.RetryPolicy"},
		{"spec inside combine", policy.Combine(policy.Spec{Policy: fine}),
			"policy: combine: Policies[0] must be a value of one of the policy types, got policy.Spec"},
		{"foreign policy inside combine", policy.Combine(wrapper{fine}),
			"policy: combine: Policies[0] must be a value of one of the policy types, got policy_test.wrapper"},
		{"invalid element names its place", policy.Combine(fine, policy.CircuitBreaker(0, time.Second)),
			"policy: combine[1]: circuit_breaker: FailureThreshold must be ≥ 1, got 0"},
		{"nested place", policy.Combine(fine, policy.Combine(policy.Timeout(time.Second), policy.RateLimit(nan))),
			"policy: combine[1][1]: rate_limit: RequestsPerSecond must be a finite number > 0, got NaN"},
		{"nested empty combine", policy.Combine(policy.Combine()),
			"policy: combine[0]: combine: Policies must be a non-empty list, got []"},
		{"too deep", nest(policy.MaxDepth+1, fine),
			"policy: combine" + strings.Repeat("[0]", policy.MaxDepth) + ": combine: nesting depth must be ≤ 32, got 33"},
		{"empty spec", policy.Spec{}, "policy: spec: Policy must be a value of one of the policy types, got <nil>"},
		{"spec of a pointer", policy.Spec{Policy: &fine},
			"policy: spec: Policy must be a value of one of the policy types, got *policy.RetryPolicy"},
		{"invalid policy in a spec", policy.Spec{Policy: policy.Timeout(0)}, "policy: timeout: Duration must be > 0, got 0s"},
		{"negative fixed interval", policy.FixedBackoff{Interval: -1}, "policy: fixed backoff: Interval must be ≥ 0, got -1ns"},
		{"negative linear initial", policy.LinearBackoff{Initial: -time.Second},
			"policy: linear backoff: Initial must be ≥ 0, got -1s"},
		{"negative linear step", policy.LinearBackoff{Step: -time.Second},
			"policy: linear backoff: Step must be ≥ 0, got -1s"},
		{"negative linear max", policy.LinearBackoff{Max: -time.Second},
			"policy: linear backoff: Max must be 0 (no cap) or ≥ Initial (0s), got -1s"},
		{"linear max below initial", policy.LinearBackoff{Initial: 2 * time.Second, Max: time.Second},
			"policy: linear backoff: Max must be 0 (no cap) or ≥ Initial (2s), got 1s"},
		{"zero exponential initial delay", policy.ExponentialBackoff{Multiplier: 2},
			"policy: exponential backoff: InitialDelay must be > 0, got 0s"},
		{"zero multiplier", policy.ExponentialBackoff{InitialDelay: time.Second},
			"policy: exponential backoff: Multiplier must be a finite number ≥ 1, got 0"},
		{"multiplier below 1", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 0.5},
			"policy: exponential backoff: Multiplier must be a finite number ≥ 1, got 0.5"},
		{"NaN multiplier", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: nan},
			"policy: exponential backoff: Multiplier must be a finite number ≥ 1, got NaN"},
		{"infinite multiplier", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: posInf},
			"policy: exponential backoff: Multiplier must be a finite number ≥ 1, got +Inf"},
		{"negative infinite multiplier", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: negInf},
			"policy: exponential backoff: Multiplier must be a finite number ≥ 1, got -Inf"},
		{"exponential max below initial", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2, MaxDelay: time.Millisecond},
			"policy: exponential backoff: MaxDelay must be 0 (no cap) or ≥ InitialDelay (1s), got 1ms"},
		{"zero decorrelated base", policy.DecorrelatedBackoff{}, "policy: decorrelated backoff: Base must be > 0, got 0s"},
		{"decorrelated max below base", policy.DecorrelatedBackoff{Base: time.Second, Max: time.Millisecond},
			"policy: decorrelated backoff: Max must be 0 (no cap) or ≥ Base (1s), got 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertInvalid(t, tt.v.Validate(), tt.want)
		})
	}
}

// assertInvalid checks that err matches ErrInvalidPolicy and reads exactly want.
func assertInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("error %v does not match ErrInvalidPolicy", err)
	}
	if err.Error() != want {
		t.Fatalf("error message\n got: %s\nwant: %s", err, want)
	}
}

func TestCustomBackoffErrorIsKeptAsCause(t *testing.T) {
	err := policy.Retry(2).WithBackoff(failingBackoff{}).Validate()
	if !errors.Is(err, errCustom) || !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("error %v should match both the custom cause and ErrInvalidPolicy", err)
	}
}

// selfContaining returns a CombinedPolicy whose width elements are all the policy itself,
// built through slice aliasing.
func selfContaining(width int) policy.CombinedPolicy {
	s := make([]policy.Policy, width)
	c := policy.CombinedPolicy{Policies: s}
	for i := range s {
		s[i] = c
	}
	return c
}

// nest wraps p in depth CombinedPolicy values.
func nest(depth int, p policy.Policy) policy.Policy {
	for range depth {
		p = policy.CombinedPolicy{Policies: []policy.Policy{p}}
	}
	return p
}

func TestSelfContainingCombineIsInvalidNotAStackOverflow(t *testing.T) {
	tooDeep := "combine: nesting depth must be ≤ 32, got 33"
	tests := []struct {
		name string
		c    policy.CombinedPolicy
	}{
		{"contains itself", selfContaining(1)},
		{"contains itself twice", selfContaining(2)},
		{"contains itself a hundred times", selfContaining(100)},
		{"contains itself after a valid element", func() policy.CombinedPolicy {
			s := []policy.Policy{policy.Retry(3), nil}
			c := policy.CombinedPolicy{Policies: s}
			s[1] = c
			return c
		}()},
		{"contains itself two levels down", func() policy.CombinedPolicy {
			s := make([]policy.Policy, 1)
			c := policy.CombinedPolicy{Policies: s}
			s[0] = policy.Combine(policy.Timeout(time.Second), c)
			return c
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("Validate", func(t *testing.T) {
				err := tt.c.Validate()
				if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.HasSuffix(err.Error(), tooDeep) {
					t.Fatalf("Validate() = %v, want a nesting depth error", err)
				}
			})
			t.Run("String", func(t *testing.T) {
				s := tt.c.String()
				if !strings.Contains(s, "...") || len(s) > 20_000 {
					t.Fatalf("String() has %d bytes, want a short one that elides: %.200s", len(s), s)
				}
			})
			t.Run("MarshalJSON", func(t *testing.T) {
				_, err := json.Marshal(tt.c)
				if !errors.Is(err, policy.ErrInvalidPolicy) {
					t.Fatalf("json.Marshal error = %v, want one matching ErrInvalidPolicy", err)
				}
			})
		})
	}
}

func TestStringElidesPastMaxDepth(t *testing.T) {
	p := nest(policy.MaxDepth+1, policy.None())
	want := strings.Repeat("combine(", policy.MaxDepth) + "..." + strings.Repeat(")", policy.MaxDepth)
	if got := p.String(); got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
	p = nest(policy.MaxDepth, policy.None())
	want = strings.Repeat("combine(", policy.MaxDepth) + "none" + strings.Repeat(")", policy.MaxDepth)
	if got := p.String(); got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
}

// wrapper is a foreign type that satisfies Policy by embedding one.
type wrapper struct{ policy.Policy }

func TestForeignWrapperAroundItselfIsBounded(t *testing.T) {
	s := make([]policy.Policy, 1)
	c := policy.CombinedPolicy{Policies: s}
	s[0] = wrapper{c}
	if err := c.Validate(); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("Validate() = %v, want ErrInvalidPolicy", err)
	}
	if got := c.String(); got != "combine(invalid(policy_test.wrapper))" {
		t.Fatalf("String() = %s", got)
	}
	if _, err := json.Marshal(c); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("json.Marshal error = %v, want ErrInvalidPolicy", err)
	}
}

var errCustom = errors.New("custom backoff says no")

// failingBackoff is a custom backoff whose Validate fails.
type failingBackoff struct{}

func (failingBackoff) Delay(int) time.Duration { return 0 }
func (failingBackoff) Validate() error         { return errCustom }

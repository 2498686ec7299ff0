package policy_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// cb is the breaker the rows below start from: one failure, 30s open.
var cb = policy.CircuitBreaker(1, 30*time.Second)

func TestBreakerChainedCopiesSetTheirFields(t *testing.T) {
	backoff := policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5}
	tests := []struct {
		name string
		got  policy.CircuitBreakerPolicy
		want policy.CircuitBreakerPolicy
	}{
		{"count window", cb.WithCountWindow(20),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, Window: policy.Window{Count: 20}}},
		{"time window", cb.WithTimeWindow(10 * time.Second),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, Window: policy.Window{Period: 10 * time.Second}}},
		{"buckets then time window keeps the buckets", cb.WithBuckets(20).WithTimeWindow(time.Minute),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, Window: policy.Window{Period: time.Minute, Buckets: 20}}},
		{"a count window replaces a time window", cb.WithTimeWindow(time.Minute).WithBuckets(20).WithCountWindow(5),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, Window: policy.Window{Count: 5}}},
		{"failure rate", cb.WithFailureRate(0.5, 20),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, FailureRate: 0.5, MinimumCalls: 20}},
		{"slow calls", cb.WithSlowCalls(2*time.Second, 0.8),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, SlowCall: 2 * time.Second, SlowCallRate: 0.8}},
		{"half-open calls", cb.WithHalfOpenCalls(10),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, HalfOpenCalls: 10}},
		{"max half-open", cb.WithMaxHalfOpen(time.Minute),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, MaxHalfOpen: time.Minute}},
		{"open backoff", cb.WithOpenBackoff(backoff),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, OpenBackoff: backoff}},
		{"honor retry after", cb.WithHonorRetryAfter(),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, HonorRetryAfter: true}},
		{"classifier", cb.WithClassifier("http"),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, Classifier: "http"}},
		{"shared", cb.AsShared(),
			policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 30 * time.Second, Shared: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if cb != policy.CircuitBreaker(1, 30*time.Second) {
		t.Fatalf("a chained method modified its receiver: %v", cb)
	}
	if got, want := policy.RateLimit(10).AsShared(), (policy.RateLimitPolicy{RequestsPerSecond: 10, Burst: 10, Shared: true}); got != want {
		t.Errorf("RateLimit(10).AsShared() = %#v, want %#v", got, want)
	}
}

func TestBreakerDefaultsAreEffective(t *testing.T) {
	tests := []struct {
		name      string
		got, want any
	}{
		{"minimum calls of a count window is its count", cb.WithCountWindow(20).EffectiveMinimumCalls(), 20},
		{"minimum calls of a time window is at least 10", cb.WithTimeWindow(time.Minute).EffectiveMinimumCalls(), 10},
		{"minimum calls of a time window is at least FailureThreshold",
			policy.CircuitBreaker(25, time.Second).WithTimeWindow(time.Minute).EffectiveMinimumCalls(), 25},
		{"minimum calls set", cb.WithTimeWindow(time.Minute).WithFailureRate(0.5, 3).EffectiveMinimumCalls(), 3},
		{"minimum calls in consecutive mode", cb.EffectiveMinimumCalls(), 0},
		{"buckets 0 means 10", policy.Window{Period: time.Second}.EffectiveBuckets(), 10},
		{"buckets set", policy.Window{Period: time.Second, Buckets: 4}.EffectiveBuckets(), 4},
		{"slow-call rate 0 with SlowCall means 1", cb.WithTimeWindow(time.Minute).WithSlowCalls(time.Second, 0).EffectiveSlowCallRate(), 1.0},
		{"slow-call rate set", cb.WithTimeWindow(time.Minute).WithSlowCalls(time.Second, 0.25).EffectiveSlowCallRate(), 0.25},
		{"slow-call rate without SlowCall is not judged", cb.EffectiveSlowCallRate(), 0.0},
		{"half-open calls 0 means 1 by default", cb.EffectiveHalfOpenCalls(), 1},
		{"half-open calls 0 means SuccessThreshold", cb.WithSuccessThreshold(3).EffectiveHalfOpenCalls(), 3},
		{"half-open calls set", cb.WithSuccessThreshold(3).WithHalfOpenCalls(10).EffectiveHalfOpenCalls(), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestBreakerAdditionsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    policy.CircuitBreakerPolicy
	}{
		{"count window", cb.WithCountWindow(1)},
		{"count window with the floor at its size", policy.CircuitBreaker(5, time.Second).WithCountWindow(5).WithFailureRate(1, 5)},
		{"time window of 10ms in 10 buckets", cb.WithTimeWindow(10 * time.Millisecond)},
		{"time window of 1000 buckets of 1ms", cb.WithTimeWindow(time.Second).WithBuckets(1000)},
		{"rate mode", cb.WithTimeWindow(time.Minute).WithFailureRate(0.5, 20)},
		{"count-in-window mode with a minimum", policy.CircuitBreaker(3, time.Second).WithTimeWindow(time.Minute).WithFailureRate(0, 20)},
		{"rates 0 and 1", cb.WithCountWindow(10).WithFailureRate(1, 0).WithSlowCalls(time.Second, 1)},
		{"slow calls with the default rate", cb.WithCountWindow(10).WithSlowCalls(time.Second, 0)},
		{"half-open bounds in consecutive mode", cb.WithHalfOpenCalls(3).WithMaxHalfOpen(time.Minute)},
		{"every extra", cb.Named("inventory").WithTimeWindow(10*time.Second).WithBuckets(20).WithFailureRate(0.5, 20).
			WithSlowCalls(2*time.Second, 0.8).WithHalfOpenCalls(5).WithMaxHalfOpen(time.Minute).
			WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5}).
			WithHonorRetryAfter().WithClassifier("http").AsShared()},
		{"a custom open backoff", cb.WithOpenBackoff(constantBackoff{})},
		{"default and empty classifier names", cb.WithClassifier("default")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
	if err := policy.RateLimit(5).AsShared().Validate(); err != nil {
		t.Fatalf("shared rate limit: Validate() = %v", err)
	}
}

func TestBreakerAdditionsInvalidNameTheFieldAndValue(t *testing.T) {
	const c = "policy: circuit_breaker: "
	minute := cb.WithTimeWindow(time.Minute)
	tests := []struct {
		name string
		p    policy.CircuitBreakerPolicy
		want string
	}{
		{"neither count nor period", cb.WithBuckets(5),
			c + "Window must be a count window or a time window (exactly one of Count and Period > 0), got {Count:0 Period:0s Buckets:5}"},
		{"both count and period", policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: time.Second, Window: policy.Window{Count: 5, Period: time.Second}},
			c + "Window must be a count window or a time window (exactly one of Count and Period > 0), got {Count:5 Period:1s Buckets:0}"},
		{"negative count", cb.WithCountWindow(-1), c + "Window.Count must be ≥ 0, got -1"},
		{"negative period", cb.WithTimeWindow(-time.Second), c + "Window.Period must be ≥ 0, got -1s"},
		{"negative buckets", minute.WithBuckets(-1), c + "Window.Buckets must be in [0, 1000], got -1"},
		{"too many buckets", minute.WithBuckets(1001), c + "Window.Buckets must be in [0, 1000], got 1001"},
		{"buckets of a count window", cb.WithCountWindow(10).WithBuckets(5),
			c + "Window.Buckets must be 0 with a count window (buckets divide a Period), got 5"},
		{"buckets under 1ms by default", cb.WithTimeWindow(9 * time.Millisecond),
			c + "Window.Period/Buckets must be ≥ 1ms, got 9ms/10 = 900µs"},
		{"buckets under 1ms", cb.WithTimeWindow(time.Second).WithBuckets(1000).WithTimeWindow(999 * time.Millisecond),
			c + "Window.Period/Buckets must be ≥ 1ms, got 999ms/1000 = 999µs"},
		{"negative failure rate", minute.WithFailureRate(-0.1, 0), c + "FailureRate must be in [0, 1], got -0.1"},
		{"failure rate above 1", minute.WithFailureRate(1.5, 0), c + "FailureRate must be in [0, 1], got 1.5"},
		{"NaN failure rate", minute.WithFailureRate(nan, 0), c + "FailureRate must be in [0, 1], got NaN"},
		{"infinite failure rate", minute.WithFailureRate(posInf, 0), c + "FailureRate must be in [0, 1], got +Inf"},
		{"negative minimum calls", minute.WithFailureRate(0.5, -1), c + "MinimumCalls must be ≥ 0, got -1"},
		{"minimum calls above the count", cb.WithCountWindow(4).WithFailureRate(0.5, 5),
			c + "MinimumCalls must be ≤ Window.Count (4), got 5: a window of 4 calls never holds more, so the breaker could never open"},
		{"failure threshold above the count", policy.CircuitBreaker(5, time.Second).WithCountWindow(4),
			c + "FailureThreshold must be ≤ Window.Count (4), got 5: a window of 4 calls never holds more failures, so the breaker could never open"},
		{"failure rate without a window", cb.WithFailureRate(0.5, 0),
			c + "FailureRate must be 0 without a Window (consecutive mode does not judge it), got 0.5"},
		{"minimum calls without a window", cb.WithFailureRate(0, 10),
			c + "MinimumCalls must be 0 without a Window (consecutive mode does not judge it), got 10"},
		{"slow call without a window", cb.WithSlowCalls(time.Second, 0),
			c + "SlowCall must be 0 without a Window (consecutive mode does not judge it), got 1s"},
		{"negative slow call", minute.WithSlowCalls(-time.Second, 0), c + "SlowCall must be ≥ 0, got -1s"},
		{"slow-call rate above 1", minute.WithSlowCalls(time.Second, 1.01), c + "SlowCallRate must be in [0, 1], got 1.01"},
		{"NaN slow-call rate", minute.WithSlowCalls(time.Second, nan), c + "SlowCallRate must be in [0, 1], got NaN"},
		{"slow-call rate without slow call", minute.WithSlowCalls(0, 0.5),
			c + "SlowCallRate must be 0 without SlowCall (no call is slow), got 0.5"},
		{"negative half-open calls", cb.WithHalfOpenCalls(-1), c + "HalfOpenCalls must be ≥ 0, got -1"},
		{"negative max half-open", cb.WithMaxHalfOpen(-time.Second), c + "MaxHalfOpen must be ≥ 0, got -1s"},
		{"invalid open backoff", cb.WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: time.Second}),
			c + "OpenBackoff: exponential backoff: Multiplier must be a finite number ≥ 1, got 0"},
		{"failing custom open backoff", cb.WithOpenBackoff(failingBackoff{}), c + "OpenBackoff: custom backoff says no"},
		{"nil pointer open backoff", cb.WithOpenBackoff((*policy.FixedBackoff)(nil)),
			c + "OpenBackoff must be a backoff value, not a nil pointer, got (*policy.FixedBackoff)(nil)"},
		{"classifier of invalid UTF-8", cb.WithClassifier("http\xff"), c + `Classifier must be valid UTF-8, got "http\xff"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertInvalid(t, tt.p.Validate(), tt.want)
			if _, err := json.Marshal(tt.p); err == nil {
				t.Errorf("json.Marshal accepted the invalid %v", tt.p)
			}
		})
	}
}

func TestBreakerAdditionsString(t *testing.T) {
	tests := []struct {
		name string
		p    policy.Policy
		want string
	}{
		{"the design's example", cb.Named("inventory").WithTimeWindow(10*time.Second).WithFailureRate(0.5, 20),
			`circuit_breaker(1, 30s).named("inventory").time_window(10s).failure_rate(0.5, 20)`},
		{"named comes first whatever the order of the calls", cb.WithCountWindow(20).Named("db"),
			`circuit_breaker(1, 30s).named("db").count_window(20)`},
		{"count window", cb.WithCountWindow(20), "circuit_breaker(1, 30s).count_window(20)"},
		{"buckets", cb.WithTimeWindow(time.Minute).WithBuckets(60), "circuit_breaker(1, 30s).time_window(1m0s).buckets(60)"},
		{"buckets 10 is the default", cb.WithTimeWindow(time.Minute).WithBuckets(10), "circuit_breaker(1, 30s).time_window(1m0s)"},
		{"failure rate with the default minimum", cb.WithCountWindow(10).WithFailureRate(0.5, 0),
			"circuit_breaker(1, 30s).count_window(10).failure_rate(0.5, 0)"},
		{"a minimum without a rate", policy.CircuitBreaker(3, time.Second).WithTimeWindow(time.Minute).WithFailureRate(0, 20),
			"circuit_breaker(3, 1s).time_window(1m0s).failure_rate(0, 20)"},
		{"slow calls", cb.WithTimeWindow(time.Minute).WithSlowCalls(2*time.Second, 0.8),
			"circuit_breaker(1, 30s).time_window(1m0s).slow_calls(2s, 0.8)"},
		{"slow calls at the default rate", cb.WithTimeWindow(time.Minute).WithSlowCalls(2*time.Second, 0),
			"circuit_breaker(1, 30s).time_window(1m0s).slow_calls(2s, 0)"},
		{"half-open calls", cb.WithHalfOpenCalls(10), "circuit_breaker(1, 30s).half_open_calls(10)"},
		{"half-open calls equal to the success threshold are the default", cb.WithSuccessThreshold(3).WithHalfOpenCalls(3),
			"circuit_breaker(1, 30s).success_threshold(3)"},
		{"max half-open", cb.WithMaxHalfOpen(time.Minute), "circuit_breaker(1, 30s).max_half_open(1m0s)"},
		{"open backoff", cb.WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5}),
			"circuit_breaker(1, 30s).open_backoff(exponential(5s, 1.5))"},
		{"custom open backoff", cb.WithOpenBackoff(constantBackoff{}), "circuit_breaker(1, 30s).open_backoff(policy_test.constantBackoff)"},
		{"nil pointer open backoff", cb.WithOpenBackoff((*policy.FixedBackoff)(nil)),
			"circuit_breaker(1, 30s).open_backoff((*policy.FixedBackoff)(nil))"},
		{"honor retry after", cb.WithHonorRetryAfter(), "circuit_breaker(1, 30s).honor_retry_after()"},
		{"classifier", cb.WithClassifier("http"), `circuit_breaker(1, 30s).classifier("http")`},
		{"shared", cb.AsShared(), "circuit_breaker(1, 30s).shared()"},
		{"every extra, in field order", cb.AsShared().WithClassifier("grpc").WithHonorRetryAfter().
			WithOpenBackoff(policy.FixedBackoff{Interval: time.Minute}).WithMaxHalfOpen(time.Minute).WithHalfOpenCalls(4).
			WithSlowCalls(time.Second, 0.5).WithFailureRate(0.25, 50).WithBuckets(20).WithTimeWindow(time.Minute).
			WithSuccessThreshold(2).Named("psp"),
			`circuit_breaker(1, 30s).named("psp").success_threshold(2).time_window(1m0s).buckets(20).failure_rate(0.25, 50)` +
				`.slow_calls(1s, 0.5).half_open_calls(4).max_half_open(1m0s).open_backoff(fixed(1m0s)).honor_retry_after()` +
				`.classifier("grpc").shared()`},
		{"an invalid window shows what is set", policy.CircuitBreakerPolicy{FailureThreshold: 1, RecoveryTimeout: time.Second,
			Window: policy.Window{Count: 5, Period: time.Second, Buckets: 3}},
			"circuit_breaker(1, 1s).count_window(5).time_window(1s).buckets(3)"},
		{"shared rate limit", policy.RateLimit(100).Named("api").WithMaxWait(time.Second).AsShared(),
			`rate_limit(100).named("api").max_wait(1s).shared()`},
		{"inside combine", policy.Combine(policy.Retry(3), cb.WithCountWindow(10).WithFailureRate(0.5, 0)),
			"combine(retry(3), circuit_breaker(1, 30s).count_window(10).failure_rate(0.5, 0))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String()\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestBreakerAdditionsJSONRoundTrip(t *testing.T) {
	tests := []jsonCase{
		{"count window", cb.WithCountWindow(20).WithFailureRate(0.5, 10),
			`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"30s","window":{"count":20},"failure_rate":0.5,"minimum_calls":10}`},
		{"time window", cb.WithTimeWindow(10 * time.Second).WithBuckets(10),
			`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"30s","window":{"period":"10s","buckets":10}}`},
		{"time window with default buckets", cb.WithTimeWindow(10 * time.Second),
			`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"30s","window":{"period":"10s"}}`},
		{"every field", cb.Named("inventory").WithSuccessThreshold(2).WithTimeWindow(time.Minute).WithBuckets(60).
			WithFailureRate(0.5, 20).WithSlowCalls(2*time.Second, 0.8).WithHalfOpenCalls(5).WithMaxHalfOpen(time.Minute).
			WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5, MaxDelay: 5 * time.Minute}).
			WithHonorRetryAfter().WithClassifier("http").AsShared(),
			`{"type":"circuit_breaker","name":"inventory","failure_threshold":1,"recovery_timeout":"30s","success_threshold":2,` +
				`"window":{"period":"1m0s","buckets":60},"failure_rate":0.5,"minimum_calls":20,"slow_call":"2s","slow_call_rate":0.8,` +
				`"half_open_calls":5,"max_half_open":"1m0s",` +
				`"open_backoff":{"type":"exponential","initial_delay":"5s","multiplier":1.5,"max_delay":"5m0s"},` +
				`"honor_retry_after":true,"classifier":"http","shared":true}`},
		{"half-open fields in consecutive mode", cb.WithHalfOpenCalls(3).WithOpenBackoff(policy.FixedBackoff{}),
			`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"30s","half_open_calls":3,"open_backoff":{"type":"fixed"}}`},
		{"shared rate limit", policy.RateLimit(100).AsShared(),
			`{"type":"rate_limit","requests_per_second":100,"burst":100,"shared":true}`},
		{"inside combine", policy.Combine(cb.WithCountWindow(4).WithFailureRate(0.5, 0)),
			`{"type":"combine","policies":[{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"30s","window":{"count":4},"failure_rate":0.5}]}`},
	}
	checkJSONRoundTrip(t, tests)
}

func TestBreakerAdditionsParseJSON(t *testing.T) {
	const head = `{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s",`
	accepted := []struct {
		name string
		doc  string
		want policy.Policy
	}{
		{"a null window is none", head + `"window":null}`, policy.CircuitBreaker(1, time.Second)},
		{"an empty window is none", head + `"window":{}}`, policy.CircuitBreaker(1, time.Second)},
		{"a null open backoff is none", head + `"open_backoff":null}`, policy.CircuitBreaker(1, time.Second)},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.ParseJSON([]byte(tt.doc))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseJSON = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
	rejected := []rejectCase{
		{"a mis-cased window key", head + `"window":{"Count":3}}`, `policy: circuit_breaker: window: json: unknown field "Count"`},
		{"an unknown window key", head + `"window":{"count":3,"size":3}}`, `policy: circuit_breaker: window: json: unknown field "size"`},
		{"a duplicate window key", head + `"window":{"count":3,"count":4}}`,
			`policy: circuit_breaker: window: json: key "count" must be given once, got it twice`},
		{"a window period as a number", head + `"window":{"period":10}}`,
			`policy: circuit_breaker: window: json: duration 10 is not a Go duration string such as "1.5s"`},
		{"a mis-cased breaker key", head + `"Failure_Rate":0.5}`, `policy: json: unknown field "Failure_Rate"`},
		{"a duplicate breaker key", head + `"shared":true,"shared":false}`, `policy: json: key "shared" must be given once, got it twice`},
		{"an unknown open backoff", head + `"open_backoff":{"type":"random"}}`,
			`policy: circuit_breaker: open_backoff: json: backoff "type" must be a known kind, got "random"`},
		{"a mis-cased open backoff key", head + `"open_backoff":{"type":"fixed","Interval":"1s"}}`,
			`policy: circuit_breaker: open_backoff: json: unknown field "Interval"`},
		{"an invalid window is validated", head + `"window":{"count":3,"period":"1s"}}`,
			"policy: circuit_breaker: Window must be a count window or a time window (exactly one of Count and Period > 0), got {Count:3 Period:1s Buckets:0}"},
		{"buckets alone", head + `"window":{"buckets":5}}`,
			"policy: circuit_breaker: Window must be a count window or a time window (exactly one of Count and Period > 0), got {Count:0 Period:0s Buckets:5}"},
		{"a rate out of range is validated", head + `"window":{"count":3},"failure_rate":2}`,
			"policy: circuit_breaker: FailureRate must be in [0, 1], got 2"},
		{"a rate without a window", head + `"failure_rate":0.5}`,
			"policy: circuit_breaker: FailureRate must be 0 without a Window (consecutive mode does not judge it), got 0.5"},
		{"an invalid open backoff is validated", head + `"open_backoff":{"type":"fixed","interval":"-1s"}}`,
			"policy: circuit_breaker: OpenBackoff: fixed backoff: Interval must be ≥ 0, got -1s"},
		{"a shared key of the wrong type", `{"type":"rate_limit","requests_per_second":1,"shared":"yes"}`,
			"policy: json: cannot unmarshal string into Go struct field rateLimitJSON.shared of type bool"},
	}
	checkParseJSONRejects(t, rejected)
}

func TestBreakerWithACustomOpenBackoffDoesNotMarshal(t *testing.T) {
	_, err := cb.WithOpenBackoff(constantBackoff{}).MarshalJSON()
	want := "policy: circuit_breaker: open_backoff: backoff: type must be FixedBackoff, LinearBackoff, ExponentialBackoff or DecorrelatedBackoff to marshal to JSON, got policy_test.constantBackoff"
	assertInvalid(t, err, want)
}

func TestWindowedBreakerValidateDoesNotAllocate(t *testing.T) {
	p := policy.Combine(cb.Named("inventory").WithTimeWindow(10*time.Second).WithFailureRate(0.5, 20).
		WithSlowCalls(time.Second, 0.5).WithOpenBackoff(policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2}).
		WithClassifier("http"), cb.WithCountWindow(10))
	if n := testing.AllocsPerRun(100, func() { sinkErr = p.Validate() }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

func TestRetryWithANilPointerBackoffIsInvalidNotAPanic(t *testing.T) {
	p := policy.Retry(3).WithBackoff((*policy.ExponentialBackoff)(nil))
	assertInvalid(t, p.Validate(), "policy: retry: Backoff must be a backoff value, not a nil pointer, got (*policy.ExponentialBackoff)(nil)")
	if got, want := p.String(), "retry(3).backoff((*policy.ExponentialBackoff)(nil))"; got != want || !strings.Contains(got, "nil") {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

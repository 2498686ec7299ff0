package policy_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestJSONRoundTrip(t *testing.T) {
	tests := []jsonCase{
		{"none", policy.None(), `{"type":"none"}`},
		{"retry with the default backoff", policy.Retry(3),
			`{"type":"retry","max_attempts":3,"backoff":{"type":"exponential","initial_delay":"100ms","multiplier":2,"max_delay":"30s","jitter":true}}`},
		{"retry with nil backoff", policy.RetryPolicy{MaxAttempts: 3}, `{"type":"retry","max_attempts":3}`},
		{"retry with fixed", policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: 1500 * time.Millisecond}),
			`{"type":"retry","max_attempts":2,"backoff":{"type":"fixed","interval":"1.5s"}}`},
		{"retry with zero fixed", policy.Retry(2).WithBackoff(policy.FixedBackoff{}),
			`{"type":"retry","max_attempts":2,"backoff":{"type":"fixed"}}`},
		{"retry with linear", policy.Retry(2).WithBackoff(policy.LinearBackoff{Initial: time.Second, Step: 2 * time.Second, Max: time.Minute}),
			`{"type":"retry","max_attempts":2,"backoff":{"type":"linear","initial":"1s","step":"2s","max":"1m0s"}}`},
		{"retry with zero linear", policy.Retry(2).WithBackoff(policy.LinearBackoff{}),
			`{"type":"retry","max_attempts":2,"backoff":{"type":"linear"}}`},
		{"retry with uncapped exponential", policy.Retry(4).WithBackoff(policy.ExponentialBackoff{InitialDelay: time.Millisecond, Multiplier: 1.5}),
			`{"type":"retry","max_attempts":4,"backoff":{"type":"exponential","initial_delay":"1ms","multiplier":1.5}}`},
		{"retry with decorrelated", policy.Retry(4).WithBackoff(policy.DecorrelatedBackoff{Base: time.Millisecond, Max: time.Second}),
			`{"type":"retry","max_attempts":4,"backoff":{"type":"decorrelated","base":"1ms","max":"1s"}}`},
		{"retry with uncapped decorrelated", policy.Retry(4).WithBackoff(policy.DecorrelatedBackoff{Base: time.Millisecond}),
			`{"type":"retry","max_attempts":4,"backoff":{"type":"decorrelated","base":"1ms"}}`},
		{"circuit breaker", policy.CircuitBreaker(5, 30*time.Second),
			`{"type":"circuit_breaker","failure_threshold":5,"recovery_timeout":"30s"}`},
		{"circuit breaker with everything", policy.CircuitBreaker(5, 30*time.Second).Named("payments").WithSuccessThreshold(2),
			`{"type":"circuit_breaker","name":"payments","failure_threshold":5,"recovery_timeout":"30s","success_threshold":2}`},
		{"rate limit", policy.RateLimit(2.5), `{"type":"rate_limit","requests_per_second":2.5,"burst":3}`},
		{"rate limit with zero burst", policy.RateLimitPolicy{RequestsPerSecond: 100},
			`{"type":"rate_limit","requests_per_second":100}`},
		{"rate limit with everything", policy.RateLimit(100).Named("api").WithBurst(20).WithMaxWait(time.Second),
			`{"type":"rate_limit","name":"api","requests_per_second":100,"burst":20,"max_wait":"1s"}`},
		{"timeout", policy.Timeout(5 * time.Minute), `{"type":"timeout","duration":"5m0s"}`},
		{"timeout of the largest duration", policy.Timeout(maxDuration), `{"type":"timeout","duration":"2562047h47m16.854775807s"}`},
		{"combine", policy.Combine(policy.Retry(1), policy.Timeout(time.Second)),
			`{"type":"combine","policies":[{"type":"retry","max_attempts":1,"backoff":{"type":"exponential","initial_delay":"100ms","multiplier":2,"max_delay":"30s","jitter":true}},{"type":"timeout","duration":"1s"}]}`},
		{"nested combine", policy.Combine(policy.None(), policy.Combine(policy.RateLimit(1), policy.Combine(policy.Timeout(time.Second)))),
			`{"type":"combine","policies":[{"type":"none"},{"type":"combine","policies":[{"type":"rate_limit","requests_per_second":1,"burst":1},{"type":"combine","policies":[{"type":"timeout","duration":"1s"}]}]}]}`},
	}
	checkJSONRoundTrip(t, tests)
}

func TestJSONRoundTripMaxDepth(t *testing.T) {
	p := nest(policy.MaxDepth, policy.Retry(2))
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := policy.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("ParseJSON = %v, want %v", got, p)
	}
}

func TestBackoffJSON(t *testing.T) {
	tests := []struct {
		name string
		b    policy.Backoff
		want string
	}{
		{"fixed", policy.FixedBackoff{Interval: time.Second}, `{"type":"fixed","interval":"1s"}`},
		{"linear", policy.LinearBackoff{Step: time.Second}, `{"type":"linear","step":"1s"}`},
		{"exponential", policy.DefaultBackoff(),
			`{"type":"exponential","initial_delay":"100ms","multiplier":2,"max_delay":"30s","jitter":true}`},
		{"decorrelated", policy.DecorrelatedBackoff{Base: time.Second}, `{"type":"decorrelated","base":"1s"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.b)
			if err != nil || string(data) != tt.want {
				t.Fatalf("Marshal = %s, %v; want %s", data, err, tt.want)
			}
		})
	}
}

func TestMarshalJSONRefuses(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string // a part of the message
	}{
		{"an invalid policy", policy.Retry(0), "retry: MaxAttempts must be ≥ 1, got 0"},
		{"a NaN rate", policy.RateLimit(nan), "RequestsPerSecond must be a finite number > 0, got NaN"},
		{"an invalid element", policy.Combine(policy.None(), nil), "Policies[1] must be a value of one of the policy types"},
		{"an invalid backoff", policy.ExponentialBackoff{InitialDelay: time.Second}, "Multiplier must be a finite number ≥ 1, got 0"},
		{"a custom backoff", policy.Retry(3).WithBackoff(constantBackoff{}),
			"policy: retry: backoff: type must be FixedBackoff, LinearBackoff, ExponentialBackoff or DecorrelatedBackoff to marshal to JSON, got policy_test.constantBackoff"},
		{"a pointer backoff", policy.Retry(3).WithBackoff(&policy.FixedBackoff{}), "got *policy.FixedBackoff"},
		{"a custom backoff deep inside", policy.Combine(policy.None(), policy.Combine(policy.Retry(3).WithBackoff(constantBackoff{}))),
			"policy: combine[1][0]: retry: backoff: type must be"},
		{"a spec of a pointer", policy.Spec{Policy: &policy.NonePolicy{}}, "spec: Policy must be a value of one of the policy types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := json.Marshal(tt.v)
			if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Marshal error = %v, want ErrInvalidPolicy containing %q", err, tt.want)
			}
		})
	}
}

func TestParseJSONRejects(t *testing.T) {
	tests := []rejectCase{
		{"unknown policy type", `{"type":"quarantine"}`, `policy: json: policy "type" must be a known kind, got "quarantine"`},
		{"missing type", `{"max_attempts":3}`, `policy: json: "type" must be present, got an object without it`},
		{"null", `null`, `policy: json: "type" must be present, got an object without it`},
		{"unknown field", `{"type":"timeout","duration":"1s","jitter":true}`, `policy: json: unknown field "jitter"`},
		{"a field of another kind", `{"type":"none","max_attempts":1}`, `policy: json: unknown field "max_attempts"`},
		{"unknown backoff type", `{"type":"retry","max_attempts":3,"backoff":{"type":"random"}}`,
			`policy: retry: backoff: json: backoff "type" must be a known kind, got "random"`},
		{"unknown backoff field", `{"type":"retry","max_attempts":3,"backoff":{"type":"fixed","initial":"1s"}}`,
			`policy: retry: backoff: json: unknown field "initial"`},
		{"duration as a number", `{"type":"timeout","duration":1000000000}`,
			`policy: json: duration 1000000000 is not a Go duration string such as "1.5s"`},
		{"malformed duration", `{"type":"timeout","duration":"soon"}`,
			`policy: json: duration "soon" is not a Go duration string such as "1.5s"`},
		{"trailing data", `{"type":"none"} {"type":"none"}`, `policy: json: invalid character '{' after top-level value`},
		{"syntax error", `{"type":"none"`, `policy: json: unexpected end of JSON input`},
		{"not an object", `[1]`, `policy: json: cannot unmarshal array into Go value of type struct { Type *string "json:\"type\"" }`},
		{"invalid values are validated", `{"type":"retry","max_attempts":0}`, `policy: retry: MaxAttempts must be ≥ 1, got 0`},
		{"missing required field", `{"type":"circuit_breaker","failure_threshold":3}`,
			`policy: circuit_breaker: RecoveryTimeout must be > 0, got 0s`},
		{"empty combine", `{"type":"combine","policies":[]}`, `policy: combine: Policies must be a non-empty list, got []`},
		{"combine without policies", `{"type":"combine"}`, `policy: combine: Policies must be a non-empty list, got []`},
		{"null inside combine", `{"type":"combine","policies":[{"type":"none"},null]}`,
			`policy: combine[1]: json: "type" must be present, got an object without it`},
		{"error inside nested combine names its place", `{"type":"combine","policies":[{"type":"none"},{"type":"combine","policies":[{"type":"timeout","duration":"-1s"}]}]}`,
			`policy: combine[1][0]: timeout: Duration must be > 0, got -1s`},
		{"unknown field inside nested combine", `{"type":"combine","policies":[{"type":"combine","policies":[{"type":"none","x":1}]}]}`,
			`policy: combine[0][0]: json: unknown field "x"`},
		{"too deep", strings.Repeat(`{"type":"combine","policies":[`, policy.MaxDepth+1) + `{"type":"none"}` + strings.Repeat(`]}`, policy.MaxDepth+1),
			"policy: combine" + strings.Repeat("[0]", policy.MaxDepth) + ": combine: nesting depth must be ≤ 32, got 33"},
	}
	checkParseJSONRejects(t, tests)
}

func TestParseJSONKeepsTheJSONErrorAsCause(t *testing.T) {
	_, err := policy.ParseJSON([]byte(`{"type":`))
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		t.Fatalf("error %v does not wrap a *json.SyntaxError", err)
	}
}

func TestParseJSONOfAVeryDeepDocumentFailsQuickly(t *testing.T) {
	const depth = 100_000
	doc := strings.Repeat(`{"type":"combine","policies":[`, depth) + strings.Repeat(`]}`, depth)
	if _, err := policy.ParseJSON([]byte(doc)); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("ParseJSON error = %v, want ErrInvalidPolicy", err)
	}
}

func TestParseJSONAcceptsNullBackoffAsNil(t *testing.T) {
	p, err := policy.ParseJSON([]byte(`{"type":"retry","max_attempts":2,"backoff":null}`))
	if err != nil || !reflect.DeepEqual(p, policy.RetryPolicy{MaxAttempts: 2}) {
		t.Fatalf("ParseJSON = %#v, %v; want a retry with nil backoff", p, err)
	}
}

// config is a user's configuration struct holding policies.
type config struct {
	Service  string      `json:"service"`
	Payments policy.Spec `json:"payments"`
	Cache    policy.Spec `json:"cache,omitzero"`
}

func TestSpecInsideAStruct(t *testing.T) {
	in := config{
		Service: "checkout",
		Payments: policy.Spec{Policy: policy.Combine(policy.Retry(3),
			policy.CircuitBreaker(5, 30*time.Second).Named("payments"), policy.Timeout(10*time.Second))},
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out config
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip = %#v, want %#v", out, in)
	}
	if err := out.Payments.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSpecJSON(t *testing.T) {
	t.Run("nil marshals as null", func(t *testing.T) {
		data, err := json.Marshal(struct{ P policy.Spec }{})
		if err != nil || string(data) != `{"P":null}` {
			t.Fatalf("Marshal = %s, %v", data, err)
		}
	})
	t.Run("null leaves the spec unchanged", func(t *testing.T) {
		c := config{Payments: policy.Spec{Policy: policy.Retry(2)}}
		if err := json.Unmarshal([]byte(`{"payments":null}`), &c); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Payments.Policy, policy.Retry(2)) {
			t.Fatalf("null replaced the policy with %v", c.Payments)
		}
	})
	t.Run("an invalid policy is an error", func(t *testing.T) {
		var c config
		err := json.Unmarshal([]byte(`{"payments":{"type":"retry","max_attempts":-1}}`), &c)
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Fatalf("Unmarshal error = %v, want ErrInvalidPolicy", err)
		}
	})
	t.Run("an unknown type is an error", func(t *testing.T) {
		var c config
		err := json.Unmarshal([]byte(`{"payments":{"type":"no_such_kind"}}`), &c)
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Fatalf("Unmarshal error = %v, want ErrInvalidPolicy", err)
		}
	})
}

// TestParseJSONKeysAreExactAndUnique: encoding/json matches keys to fields without
// regard to case and lets the last of two equal keys win, so {"max_attempts":5,
// "MAX_ATTEMPTS":1} parsed as retry(1). Keys are exact and case-sensitive, and a key
// given twice is an error, at every level of the document.
func TestParseJSONKeysAreExactAndUnique(t *testing.T) {
	tests := []rejectCase{
		{"a mis-cased duplicate", `{"type":"retry","max_attempts":5,"MAX_ATTEMPTS":1}`, `policy: json: unknown field "MAX_ATTEMPTS"`},
		{"a mis-cased key alone", `{"type":"retry","Max_Attempts":5}`, `policy: json: unknown field "Max_Attempts"`},
		{"a mis-cased type", `{"TYPE":"timeout","duration":"1s"}`, `policy: json: "type" must be present, got an object without it`},
		{"a mis-cased type beside the type", `{"type":"none","Type":"none"}`, `policy: json: unknown field "Type"`},
		{"a duplicate key", `{"type":"retry","max_attempts":5,"max_attempts":1}`, `policy: json: key "max_attempts" must be given once, got it twice`},
		{"a duplicate type", `{"type":"timeout","duration":"1s","type":"none"}`, `policy: json: key "type" must be given once, got it twice`},
		{"a duplicate key in a backoff", `{"type":"retry","max_attempts":2,"backoff":{"type":"fixed","interval":"1s","interval":"2s"}}`,
			`policy: retry: backoff: json: key "interval" must be given once, got it twice`},
		{"a mis-cased key in a backoff", `{"type":"retry","max_attempts":2,"backoff":{"type":"fixed","Interval":"1s"}}`,
			`policy: retry: backoff: json: unknown field "Interval"`},
		{"a duplicate key inside combine", `{"type":"combine","policies":[{"type":"rate_limit","requests_per_second":1,"burst":2,"burst":3}]}`,
			`policy: combine[0]: json: key "burst" must be given once, got it twice`},
		{"a duplicate policies list", `{"type":"combine","policies":[{"type":"none"}],"policies":[]}`,
			`policy: json: key "policies" must be given once, got it twice`},
		{"an escaped duplicate", `{"type":"retry","max_attempts":5,"max_attempt\u0073":1}`, `policy: json: key "max_attempts" must be given once, got it twice`},
	}
	checkParseJSONRejects(t, tests)
	var s policy.Spec
	if err := json.Unmarshal([]byte(`{"type":"retry","max_attempts":5,"MAX_ATTEMPTS":1}`), &s); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("Spec.UnmarshalJSON: %v, %v; want ErrInvalidPolicy", s.Policy, err)
	}
	// Escapes in keys are still the same keys.
	if p, err := policy.ParseJSON([]byte(`{"typ\u0065":"retry","max_attempts":2}`)); err != nil || p.String() != "retry(2)" {
		t.Errorf("an escaped key: %v, %v; want retry(2)", p, err)
	}
}

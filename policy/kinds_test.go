package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestKindTablesAgree checks that every listed kind is one Go type and one JSON "type",
// that isKind, String, MarshalJSON and ParseJSON all know it, and that a value read back
// equals the value written.
func TestKindTablesAgree(t *testing.T) {
	samples := map[string]Policy{
		"none":            None(),
		"retry":           Retry(3).WithBackoff(FixedBackoff{Interval: time.Second}),
		"circuit_breaker": CircuitBreaker(5, time.Second).Named("db"),
		"rate_limit":      RateLimit(10).WithMaxWait(time.Second),
		"timeout":         Timeout(time.Second),
		"combine":         Combine(Retry(2), Timeout(time.Second).AsCooperative()),
		"bulkhead":        Bulkhead(4).Named("db").WithQueue(8, time.Second).WithLIFO(),
		"fallback":        Fallback().OnKinds("circuit_open", "timeout").WithValue(map[string]int{"stock": 0}),
		"retry_budget":    RetryBudget(0.2),
		"hedge":           Hedge(50 * time.Millisecond).WithMaxHedges(2).WithBudget("backend"),
		"adaptive_limit":  AdaptiveLimit("aimd").Named("db").WithLimits(10, 1, 50).WithQueue(4, time.Second),
	}
	if len(samples) != len(policyKinds) {
		t.Fatalf("%d samples for %d kinds: give every kind a sample", len(samples), len(policyKinds))
	}
	seen := map[reflect.Type]bool{}
	for _, k := range policyKinds {
		t.Run(k.name, func(t *testing.T) {
			p, ok := samples[k.name]
			if !ok {
				t.Fatalf("no sample for kind %q", k.name)
			}
			if seen[k.typ] || reflect.TypeOf(p) != k.typ {
				t.Fatalf("kind %q: type %v listed twice or not the sample's %T", k.name, k.typ, p)
			}
			seen[k.typ] = true
			if !isKind(p) {
				t.Fatalf("isKind(%v) = false", p)
			}
			if s := Combine(p).String(); s != "combine("+p.String()+")" {
				t.Fatalf("String inside combine = %s", s)
			}
			data, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ Type string }
			if err := json.Unmarshal(data, &head); err != nil || head.Type != k.name {
				t.Fatalf("MarshalJSON wrote type %q (%v); want %q", head.Type, err, k.name)
			}
			back, err := ParseJSON(data)
			if err != nil || !reflect.DeepEqual(back, p) {
				t.Fatalf("ParseJSON(%s) = %#v, %v; want %#v", data, back, err, p)
			}
		})
	}
}

// TestBackoffKindsRoundTrip checks the backoff table the same way.
func TestBackoffKindsRoundTrip(t *testing.T) {
	for _, b := range []Backoff{
		FixedBackoff{Interval: time.Second},
		LinearBackoff{Initial: time.Second, Step: time.Second, Max: 5 * time.Second},
		ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2, Jitter: true},
		DecorrelatedBackoff{Base: time.Second, Max: time.Minute},
	} {
		if _, ok := backoffs.of(b); !ok {
			t.Fatalf("%T is not in backoffKinds", b)
		}
		data, err := encodeBackoff(b)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeBackoff(data)
		if err != nil || back != b {
			t.Fatalf("decodeBackoff(%s) = %#v, %v; want %#v", data, back, err, b)
		}
	}
	if len(backoffKinds) != 4 {
		t.Fatalf("%d backoff kinds; this test knows 4", len(backoffKinds))
	}
}

// TestSentinelTableClassifies checks the lists derived from the sentinel table.
func TestSentinelTableClassifies(t *testing.T) {
	for _, s := range sentinels {
		if got := IsRetryable(s.err); got != s.retryable {
			t.Errorf("IsRetryable(%v) = %v", s.err, got)
		}
		if got := IsServiceUnavailable(s.err); got != s.refusal {
			t.Errorf("IsServiceUnavailable(%v) = %v", s.err, got)
		}
		if got := IsRefusal(s.err); got != s.refusal {
			t.Errorf("IsRefusal(%v) = %v", s.err, got)
		}
		if got := isRefusalKind(s.err); got != s.refusal {
			t.Errorf("isRefusalKind(%v) = %v", s.err, got)
		}
		if one := kindOnly[s.err]; len(one) != 1 || one[0] != s.err {
			t.Errorf("kindOnly[%v] = %v", s.err, one)
		}
	}
}

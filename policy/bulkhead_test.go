package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestBulkheadJSONRoundTrip(t *testing.T) {
	checkJSONRoundTrip(t, []jsonCase{
		{"plain", policy.Bulkhead(10), `{"type":"bulkhead","max_concurrent":10}`},
		{"everything", policy.Bulkhead(10).Named("db").WithQueue(50, 100*time.Millisecond).WithLIFO(),
			`{"type":"bulkhead","name":"db","max_concurrent":10,"max_queue":50,"max_wait":"100ms","lifo":true}`},
		{"queue without a max wait", policy.Bulkhead(2).WithQueue(1, 0),
			`{"type":"bulkhead","max_concurrent":2,"max_queue":1}`},
		{"inside combine", policy.Combine(policy.Retry(1), policy.Bulkhead(1)),
			`{"type":"combine","policies":[{"type":"retry","max_attempts":1,"backoff":{"type":"exponential","initial_delay":"100ms","multiplier":2,"max_delay":"30s","jitter":true}},{"type":"bulkhead","max_concurrent":1}]}`},
	})
}

func TestBulkheadParsesTheContractDocument(t *testing.T) {
	p, err := policy.ParseJSON([]byte(`{"type":"bulkhead","name":"db","max_concurrent":10,"max_queue":50,"max_wait":"100ms","lifo":false}`))
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Bulkhead(10).Named("db").WithQueue(50, 100*time.Millisecond)
	if p != want {
		t.Fatalf("ParseJSON = %#v, want %#v", p, want)
	}
}

func TestBulkheadString(t *testing.T) {
	tests := []struct {
		p    policy.BulkheadPolicy
		want string
	}{
		{policy.Bulkhead(10), "bulkhead(10)"},
		{policy.Bulkhead(10).Named("db").WithQueue(50, 100*time.Millisecond), `bulkhead(10).named("db").queue(50, 100ms)`},
		{policy.Bulkhead(3).WithQueue(5, 0).WithLIFO(), "bulkhead(3).queue(5, 0s).lifo()"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String = %q, want %q", got, tt.want)
		}
		if got := policy.Combine(tt.p).String(); got != "combine("+tt.want+")" {
			t.Errorf("Combine(...).String = %q", got)
		}
	}
}

func TestBulkheadInvalidValuesNameTheField(t *testing.T) {
	tests := []struct {
		name string
		p    policy.BulkheadPolicy
		want string
	}{
		{"zero", policy.BulkheadPolicy{}, "bulkhead: MaxConcurrent must be ≥ 1, got 0"},
		{"negative", policy.Bulkhead(-3), "bulkhead: MaxConcurrent must be ≥ 1, got -3"},
		{"huge", policy.Bulkhead(policy.MaxBulkhead + 1), "bulkhead: MaxConcurrent must be ≤ MaxBulkhead (1073741823), got 1073741824"},
		{"negative queue", policy.Bulkhead(1).WithQueue(-1, 0), "bulkhead: MaxQueue must be ≥ 0, got -1"},
		{"huge queue", policy.Bulkhead(1).WithQueue(policy.MaxBulkhead+1, 0), "bulkhead: MaxQueue must be ≤ MaxBulkhead"},
		{"negative wait", policy.Bulkhead(1).WithQueue(1, -time.Second), "bulkhead: MaxWait must be ≥ 0, got -1s"},
		{"wait without a queue", policy.BulkheadPolicy{MaxConcurrent: 1, MaxWait: time.Second}, "bulkhead: MaxWait must be unset when MaxQueue is 0"},
		{"lifo without a queue", policy.Bulkhead(1).WithLIFO(), "bulkhead: LIFO must be unset when MaxQueue is 0"},
		{"bad name", policy.Bulkhead(1).Named("\xff"), "bulkhead: Name must be valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
			if !errors.Is(err, policy.ErrInvalidPolicy) {
				t.Fatalf("%v does not match ErrInvalidPolicy", err)
			}
			if _, err := policy.Combine(tt.p).MarshalJSON(); !errors.Is(err, policy.ErrInvalidPolicy) {
				t.Fatalf("MarshalJSON of an invalid bulkhead: %v", err)
			}
		})
	}
}

func TestBulkheadParseJSONRefusesBadDocuments(t *testing.T) {
	for _, doc := range []string{
		`{"type":"bulkhead"}`,
		`{"type":"bulkhead","max_concurrent":1,"max_wait":"1s"}`,
		`{"type":"bulkhead","max_concurrent":1,"Max_Queue":1}`,
		`{"type":"bulkhead","max_concurrent":1,"max_queue":1,"max_queue":2}`,
		`{"type":"bulkhead","max_concurrent":1,"queue":1}`,
		`{"type":"bulkhead","max_concurrent":"1"}`,
	} {
		if p, err := policy.ParseJSON([]byte(doc)); !errors.Is(err, policy.ErrInvalidPolicy) || p != nil {
			t.Errorf("ParseJSON(%s) = %v, %v; want an invalid-policy error", doc, p, err)
		}
	}
}

// BH-7: the bulkhead's refusal is retryable, says the service is unavailable, and is a
// refusal breakers ignore.
func TestConcurrencyLimitedIsARetryableRefusal(t *testing.T) {
	err := &policy.Error{Kind: policy.ErrConcurrencyLimited, Op: "db"}
	if !policy.IsRetryable(err) || !policy.IsServiceUnavailable(err) || !policy.IsRefusal(err) {
		t.Fatalf("IsRetryable %v, IsServiceUnavailable %v, IsRefusal %v; want all true",
			policy.IsRetryable(err), policy.IsServiceUnavailable(err), policy.IsRefusal(err))
	}
}

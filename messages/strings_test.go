package messages

import "testing"

func TestStringsNameEveryValue(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"closed", Closed.String(), "closed"},
		{"open", Open.String(), "open"},
		{"half-open", HalfOpen.String(), "half_open"},
		{"unknown state", BreakerState(7).String(), "BreakerState(7)"},
		{"circuit open", CircuitOpen.String(), "circuit_open"},
		{"rate limited", RateLimited.String(), "rate_limited"},
		{"stopping", Stopping.String(), "stopping"},
		{"crashed", Crashed.String(), "crashed"},
		{"cancelled", Cancelled.String(), "cancelled"},
		{"concurrency limited", ConcurrencyLimited.String(), "concurrency_limited"},
		{"unknown reason", Reason(0).String(), "unknown"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: String() = %q; want %q", tt.name, tt.got, tt.want)
		}
	}
}

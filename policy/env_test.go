package policy_test

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		retries string // "-" leaves the variable unset
		timeout string
		want    policy.Policy
	}{
		{"defaults when unset", "-", "-", policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second))},
		{"defaults when empty", "", "", policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second))},
		{"defaults when blank", "  ", " ", policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second))},
		{"attempts", "5", "-", policy.Combine(policy.Retry(5), policy.Timeout(30*time.Second))},
		{"one attempt", "1", "-", policy.Combine(policy.Retry(1), policy.Timeout(30*time.Second))},
		{"timeout in seconds", "-", "30", policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second))},
		{"timeout of 300 seconds", "-", "300", policy.Combine(policy.Retry(3), policy.Timeout(5*time.Minute))},
		{"timeout as a Go duration", "-", "1500ms", policy.Combine(policy.Retry(3), policy.Timeout(1500*time.Millisecond))},
		{"both, with spaces", " 2 ", " 1m30s ", policy.Combine(policy.Retry(2), policy.Timeout(90*time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, "MAX_RETRIES", tt.retries)
			setenv(t, "OPERATION_TIMEOUT", tt.timeout)
			got, err := policy.FromEnv()
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FromEnv = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromEnvRejectsBadValues(t *testing.T) {
	const (
		retryRule   = "policy: environment: MAX_RETRIES must be a whole number of attempts ≥ 1, got "
		timeoutRule = `policy: environment: OPERATION_TIMEOUT must be seconds ("30") or a Go duration ("1500ms") > 0, got `
	)
	tests := []struct {
		name     string
		variable string
		value    string
		want     string
	}{
		{"zero attempts", "MAX_RETRIES", "0", retryRule + `"0"`},
		{"negative attempts", "MAX_RETRIES", "-1", retryRule + `"-1"`},
		{"words", "MAX_RETRIES", "three", retryRule + `"three"`},
		{"fraction", "MAX_RETRIES", "2.5", retryRule + `"2.5"`},
		{"overflowing attempts", "MAX_RETRIES", "99999999999999999999", retryRule + `"99999999999999999999"`},
		{"zero timeout", "OPERATION_TIMEOUT", "0", timeoutRule + `"0"`},
		{"negative seconds", "OPERATION_TIMEOUT", "-5", timeoutRule + `"-5"`},
		{"negative duration", "OPERATION_TIMEOUT", "-5s", timeoutRule + `"-5s"`},
		{"zero duration", "OPERATION_TIMEOUT", "0s", timeoutRule + `"0s"`},
		{"missing unit on a fraction", "OPERATION_TIMEOUT", "1.5", timeoutRule + `"1.5"`},
		{"words", "OPERATION_TIMEOUT", "soon", timeoutRule + `"soon"`},
		{"seconds that overflow a duration", "OPERATION_TIMEOUT", "9223372037", timeoutRule + `"9223372037"`},
		{"seconds that overflow int64", "OPERATION_TIMEOUT", "99999999999999999999", timeoutRule + `"99999999999999999999"`},
		{"duration that overflows", "OPERATION_TIMEOUT", "9999999h", timeoutRule + `"9999999h"`},
	}
	for _, tt := range tests {
		t.Run(tt.variable+" "+tt.name, func(t *testing.T) {
			setenv(t, "MAX_RETRIES", "-")
			setenv(t, "OPERATION_TIMEOUT", "-")
			t.Setenv(tt.variable, tt.value)
			p, err := policy.FromEnv()
			if p != nil {
				t.Errorf("FromEnv returned a policy %v with its error", p)
			}
			assertInvalid(t, err, tt.want)
		})
	}
}

func TestFromEnvLargestTimeoutInSeconds(t *testing.T) {
	setenv(t, "MAX_RETRIES", "-")
	t.Setenv("OPERATION_TIMEOUT", "9223372036")
	p, err := policy.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Combine(policy.Retry(3), policy.Timeout(9223372036*time.Second))
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("FromEnv = %v, want %v", p, want)
	}
}

func TestFromLookup(t *testing.T) {
	tests := []struct {
		name   string
		lookup func(string) (string, bool)
		want   policy.Policy
	}{
		{"nil lookup gives the defaults", nil, policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second))},
		{"a map", mapLookup(map[string]string{"MAX_RETRIES": "4", "OPERATION_TIMEOUT": "2s"}),
			policy.Combine(policy.Retry(4), policy.Timeout(2*time.Second))},
		{"a map without the keys", mapLookup(map[string]string{"OTHER": "1"}),
			policy.Combine(policy.Retry(3), policy.Timeout(30*time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.FromLookup(tt.lookup)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FromLookup = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// setenv sets key to value for the test, or unsets it when value is "-".
func setenv(t *testing.T, key, value string) {
	t.Helper()
	t.Setenv(key, value) // restores the original value after the test
	if value == "-" {
		if err := os.Unsetenv(key); err != nil {
			t.Fatal(err)
		}
	}
}

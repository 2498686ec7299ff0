package policy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/policy"
)

// FuzzParseJSON feeds ParseJSON arbitrary documents. It must never panic; every error must
// match ErrInvalidPolicy; and whatever it accepts must marshal, read back equal, and marshal
// again to the very same bytes.
func FuzzParseJSON(f *testing.F) {
	for _, seed := range []string{
		`{"type":"none"}`,
		`{"type":"retry","max_attempts":3}`,
		`{"type":"retry","max_attempts":3,"backoff":null}`,
		`{"type":"retry","max_attempts":3,"backoff":{"type":"exponential","initial_delay":"100ms","multiplier":2,"max_delay":"30s","jitter":true}}`,
		`{"type":"retry","max_attempts":2,"backoff":{"type":"fixed","interval":"1.5s"}}`,
		`{"type":"retry","max_attempts":2,"backoff":{"type":"linear","initial":"1s","step":"2s","max":"1m"}}`,
		`{"type":"retry","max_attempts":2,"backoff":{"type":"decorrelated","base":"10ms","max":"1h"}}`,
		`{"type":"retry","max_attempts":3,"classifier":"http","max_duration":"10s","max_retry_after":"1m0s","attempt_timeout":"2s"}`,
		`{"type":"retry","max_attempts":3,"attempt_timeout":"-1s"}`,
		`{"type":"fallback","on":["circuit_open","timeout"],"value":{"stock":0}}`,
		`{"type":"fallback","value":[1, 2, "<&>"]}`,
		`{"type":"fallback","func":"cached","classifier":"http","on":["failure"]}`,
		`{"type":"fallback","on":["bogus"],"value":0}`,
		`{"type":"fallback","value":null}`,
		`{"type":"fallback","value":1,"func":"f"}`,
		`{"type":"fallback"}`,
		`{"type":"retry","max_attempts":3,"max_duration":"0s","classifier":""}`,
		`{"type":"retry","max_attempts":3,"max_retry_after":"1h","classifier":"\ud800"}`,
		`{"type":"circuit_breaker","name":"payments","failure_threshold":5,"recovery_timeout":"30s","success_threshold":2}`,
		`{"type":"rate_limit","name":"api","requests_per_second":2.5,"burst":20,"max_wait":"1s"}`,
		`{"type":"rate_limit","requests_per_second":10,"shared":true}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"30s","window":{"count":20},"failure_rate":0.5,"minimum_calls":10}`,
		`{"type":"circuit_breaker","name":"inventory","failure_threshold":1,"recovery_timeout":"30s","success_threshold":2,"window":{"period":"1m0s","buckets":60},"failure_rate":0.5,"minimum_calls":20,"slow_call":"2s","slow_call_rate":0.8,"half_open_calls":5,"max_half_open":"1m0s","open_backoff":{"type":"exponential","initial_delay":"5s","multiplier":1.5,"max_delay":"5m0s"},"honor_retry_after":true,"classifier":"http","shared":true}`,
		`{"type":"circuit_breaker","failure_threshold":3,"recovery_timeout":"1s","window":{"period":"10ms"},"slow_call":"1ms"}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","window":{},"open_backoff":null}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","window":null,"half_open_calls":3,"open_backoff":{"type":"fixed"}}`,
		`{"type":"circuit_breaker","failure_threshold":5,"recovery_timeout":"1s","window":{"count":4}}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","window":{"count":4,"period":"1s"}}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","window":{"period":"9ms","buckets":1000}}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","window":{"Count":4}}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","window":{"count":4},"failure_rate":-0,"slow_call_rate":1e-308}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","failure_rate":0.5}`,
		`{"type":"circuit_breaker","failure_threshold":1,"recovery_timeout":"1s","classifier":"\ud800"}`,
		`{"type":"timeout","duration":"2562047h47m16.854775807s"}`,
		`{"type":"timeout","duration":"1s","cooperative":true}`,
		`{"type":"timeout","duration":"1s","cooperative":"yes"}`,
		`{"type":"combine","policies":[{"type":"retry","max_attempts":3},{"type":"combine","policies":[{"type":"timeout","duration":"1s"}]}]}`,
		`{"type":"combine","policies":[]}`,
		`{"type":"combine","policies":[null]}`,
		`{"type":"timeout","duration":"-1s"}`,
		`{"type":"retry_budget","ratio":0.2,"min_per_second":10,"ttl":"10s"}`,
		`{"type":"retry_budget","ratio":1000.5,"min_per_second":-1,"ttl":"500ms"}`,
		`{"type":"retry","max_attempts":3,"budget":"backend"}`,
		`{"type":"hedge","delay":"50ms","max_hedges":2,"budget":"backend","classifier":"http"}`,
		`{"type":"hedge","delay":"-1ns","max_hedges":11}`,
		`{"type":"combine","policies":[{"type":"hedge","delay":"0s"},{"type":"retry_budget","ratio":0,"min_per_second":0}]}`,
		`{"type":"rate_limit","requests_per_second":1e308}`,
		`{"type":"rate_limit","requests_per_second":5e-324}`,
		`{"type":"retry","max_attempts":3,"backoff":{"type":"exponential","initial_delay":"1ns","multiplier":1e308}}`,
		`{"TYPE":"timeout","Duration":"1s"}`,
		`{"type":"timeout","duration":"1s","type":"none"}`,
		`{"type":"none","extra":1}`,
		`{"type":"bulkhead"}`,
		`{"type":"bulkhead","name":"db","max_concurrent":10,"max_queue":50,"max_wait":"100ms","lifo":true}`,
		`{"type":"bulkhead","max_concurrent":1,"max_wait":"1s"}`,
		`{"type":"bulkhead","max_concurrent":1073741825,"max_queue":-1}`,
		`{"type":"adaptive_limit","algorithm":"gradient2","name":"db"}`,
		`{"type":"adaptive_limit","algorithm":"aimd","initial":20,"min":1,"max":200,"window":"1s","min_samples":10,"timeout":"5s","backoff_ratio":0.9,"max_queue":4,"max_wait":"100ms"}`,
		`{"type":"adaptive_limit","algorithm":"vegas","min":30,"max":10,"backoff_ratio":1}`,
		`{"type":"adaptive_limit","algorithm":"cubic"}`,
		`{"type":"none"} trailing`,
		`[{"type":"none"}]`,
		`null`,
		`"none"`,
		`{"type":"circuit_breaker","name":"\ud800","failure_threshold":1,"recovery_timeout":"1s"}`,
		strings.Repeat(`{"type":"combine","policies":[`, 40) + `{"type":"none"}` + strings.Repeat(`]}`, 40),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.ParseJSON(data)
		if err != nil {
			if !errors.Is(err, policy.ErrInvalidPolicy) {
				t.Fatalf("ParseJSON error %v does not match ErrInvalidPolicy", err)
			}
			if p != nil {
				t.Fatalf("ParseJSON returned %v with its error", p)
			}
			return
		}
		_ = p.String()
		first, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal %#v: %v", data, p, err)
		}
		q, err := policy.ParseJSON(first)
		if err != nil {
			t.Fatalf("cannot read back %s: %v", first, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the policy:\n%#v\n%#v", p, q)
		}
		second, err := json.Marshal(q)
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("marshalling again gave different bytes:\n%s\n%s (%v)", first, second, err)
		}
	})
}

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
		`{"type":"circuit_breaker","name":"payments","failure_threshold":5,"recovery_timeout":"30s","success_threshold":2}`,
		`{"type":"rate_limit","name":"api","requests_per_second":2.5,"burst":20,"max_wait":"1s"}`,
		`{"type":"timeout","duration":"2562047h47m16.854775807s"}`,
		`{"type":"combine","policies":[{"type":"retry","max_attempts":3},{"type":"combine","policies":[{"type":"timeout","duration":"1s"}]}]}`,
		`{"type":"combine","policies":[]}`,
		`{"type":"combine","policies":[null]}`,
		`{"type":"timeout","duration":"-1s"}`,
		`{"type":"rate_limit","requests_per_second":1e308}`,
		`{"type":"rate_limit","requests_per_second":5e-324}`,
		`{"type":"retry","max_attempts":3,"backoff":{"type":"exponential","initial_delay":"1ns","multiplier":1e308}}`,
		`{"TYPE":"timeout","Duration":"1s"}`,
		`{"type":"timeout","duration":"1s","type":"none"}`,
		`{"type":"none","extra":1}`,
		`{"type":"bulkhead"}`,
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

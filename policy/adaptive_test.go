package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestAdaptiveLimitDefaultsResolvePerAlgorithm checks the contract's defaults: aimd and
// gradient2 20/20/200, vegas 20/1/1000, window 1s, 10 samples, timeout 5s, ratio 0.9.
func TestAdaptiveLimitDefaultsResolvePerAlgorithm(t *testing.T) {
	for algo, want := range map[string][3]int{"aimd": {20, 20, 200}, "gradient2": {20, 20, 200}, "vegas": {20, 1, 1000}} {
		i, lo, hi := AdaptiveLimit(algo).Limits()
		if [3]int{i, lo, hi} != want {
			t.Errorf("%s: Limits() = %d/%d/%d; want %v", algo, i, lo, hi, want)
		}
	}
	if i, lo, hi := AdaptiveLimit("aimd").WithLimits(20, 1, 0).Limits(); i != 20 || lo != 1 || hi != 200 {
		t.Errorf("WithLimits(20, 1, 0).Limits() = %d/%d/%d", i, lo, hi)
	}
	w, n, to, r := AdaptiveLimit("aimd").Sampling()
	if w != time.Second || n != 10 || to != 5*time.Second || r != 0.9 {
		t.Errorf("Sampling() = %v %d %v %v", w, n, to, r)
	}
	if p := AdaptiveLimit("vegas"); p != (AdaptiveLimitPolicy{Algorithm: "vegas"}) {
		t.Errorf("the constructor set more than Algorithm: %#v", p)
	}
}

// TestAdaptiveLimitValidateNamesTheField checks that each bad value is refused with an
// ErrInvalidPolicy naming the field.
func TestAdaptiveLimitValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		p     AdaptiveLimitPolicy
		field string
	}{
		{AdaptiveLimit("cubic"), "Algorithm"},
		{AdaptiveLimit(""), "Algorithm"},
		{AdaptiveLimit("aimd").WithLimits(-1, 0, 0), "Initial"},
		{AdaptiveLimit("aimd").WithLimits(0, 300, 0), "Min"},
		{AdaptiveLimit("aimd").WithLimits(10, 0, 0), "Initial"},
		{AdaptiveLimit("vegas").WithLimits(0, 0, 10), "Initial"},
		{AdaptiveLimit("aimd").WithLimits(0, 0, MaxBulkhead+1), "Max"},
		{AdaptiveLimitPolicy{Algorithm: "aimd", Window: -1}, "Window"},
		{AdaptiveLimitPolicy{Algorithm: "aimd", MinSamples: -1}, "MinSamples"},
		{AdaptiveLimitPolicy{Algorithm: "aimd", BackoffRatio: 1}, "BackoffRatio"},
		{AdaptiveLimitPolicy{Algorithm: "aimd", BackoffRatio: 0.4}, "BackoffRatio"},
		{AdaptiveLimitPolicy{Algorithm: "vegas", Timeout: time.Second}, "Timeout"},
		{AdaptiveLimitPolicy{Algorithm: "gradient2", BackoffRatio: 0.8}, "BackoffRatio"},
		{AdaptiveLimit("aimd").WithQueue(-1, 0), "MaxQueue"},
		{AdaptiveLimit("aimd").WithQueue(0, time.Second), "MaxWait"},
		{AdaptiveLimit("aimd").Named("\xff"), "Name"},
	} {
		err := c.p.Validate()
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%#v: Validate() = %v; want ErrInvalidPolicy naming %s", c.p, err, c.field)
		}
	}
	for _, p := range []AdaptiveLimitPolicy{
		AdaptiveLimit("aimd"), AdaptiveLimit("gradient2"), AdaptiveLimit("vegas"),
		AdaptiveLimit("aimd").WithLimits(20, 1, 0), {Algorithm: "aimd", BackoffRatio: 0.5, Timeout: time.Second},
		AdaptiveLimit("vegas").WithQueue(10, time.Second).Named("db"),
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: Validate() = %v", p, err)
		}
	}
}

// TestAdaptiveLimitStringAndJSON checks the contract's String and JSON forms.
func TestAdaptiveLimitStringAndJSON(t *testing.T) {
	p := AdaptiveLimit("gradient2").Named("db")
	if s := p.String(); s != `adaptive_limit("gradient2").named("db")` {
		t.Errorf("String() = %s", s)
	}
	data, err := json.Marshal(p)
	if err != nil || string(data) != `{"type":"adaptive_limit","algorithm":"gradient2","name":"db"}` {
		t.Errorf("MarshalJSON = %s, %v", data, err)
	}
	full := AdaptiveLimitPolicy{Name: "x", Algorithm: "aimd", Initial: 20, Min: 1, Max: 100, Window: 2 * time.Second,
		MinSamples: 5, Timeout: time.Second, BackoffRatio: 0.8, MaxQueue: 3, MaxWait: time.Millisecond}
	if s := full.String(); s != `adaptive_limit("aimd").named("x").limits(20, 1, 100).window(2s, 5).timeout(1s).backoff_ratio(0.8).queue(3, 1ms)` {
		t.Errorf("String() = %s", s)
	}
	data, err = json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"algorithm", "name", "initial", "min", "max", "window", "min_samples", "timeout", "backoff_ratio", "max_queue", "max_wait"} {
		if !strings.Contains(string(data), `"`+key+`":`) {
			t.Errorf("%s lacks key %s", data, key)
		}
	}
	back, err := ParseJSON(data)
	if err != nil || back != full {
		t.Errorf("ParseJSON(%s) = %#v, %v", data, back, err)
	}
	if _, err := ParseJSON([]byte(`{"type":"adaptive_limit","algorithm":"aimd","limit":3}`)); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("an unknown key: %v", err)
	}
}

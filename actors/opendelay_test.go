package actors

import (
	"math"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestOpenDelay(t *testing.T) {
	s := time.Second
	r4j := policy.ExponentialBackoff{InitialDelay: 5 * s, Multiplier: 1.5}
	tests := []struct {
		name     string
		trips    int
		backoff  policy.Backoff
		recovery time.Duration
		honor    bool
		ra       time.Duration
		want     time.Duration
	}{
		{"no backoff: RecoveryTimeout on the first trip", 1, nil, 30 * s, false, 0, 30 * s},
		{"no backoff: RecoveryTimeout on every trip", 7, nil, 30 * s, false, 0, 30 * s},
		{"trips below 1 count as 1", 0, r4j, 30 * s, false, 0, 5 * s},
		{"exponential: first trip", 1, r4j, 30 * s, false, 0, 5 * s},
		{"exponential: second trip", 2, r4j, 30 * s, false, 0, 7500 * time.Millisecond},
		{"exponential: third trip", 3, r4j, 30 * s, false, 0, 11250 * time.Millisecond},
		{"RetryAfter ignored without HonorRetryAfter", 1, nil, 5 * s, false, 20 * s, 5 * s},
		{"RetryAfter lengthens the delay", 1, nil, 5 * s, true, 20 * s, 20 * s},
		{"RetryAfter shorter than the delay changes nothing", 1, nil, 5 * s, true, s, 5 * s},
		{"negative RetryAfter changes nothing", 1, nil, 5 * s, true, -s, 5 * s},
		{"RetryAfter capped at 10 × RecoveryTimeout", 1, nil, 5 * s, true, 2 * time.Minute, 50 * s},
		{"RetryAfter capped at ExponentialBackoff.MaxDelay", 1, policy.ExponentialBackoff{InitialDelay: 5 * s, Multiplier: 2, MaxDelay: 30 * s}, 5 * s, true, time.Minute, 30 * s},
		{"RetryAfter capped at a pointer's MaxDelay", 1, &policy.ExponentialBackoff{InitialDelay: 5 * s, Multiplier: 2, MaxDelay: 20 * s}, 5 * s, true, time.Minute, 20 * s},
		{"RetryAfter capped at LinearBackoff.Max", 2, policy.LinearBackoff{Initial: s, Step: s, Max: 4 * s}, s, true, time.Minute, 4 * s},
		{"RetryAfter capped at DecorrelatedBackoff.Max", 1, policy.DecorrelatedBackoff{Base: s, Max: 3 * s}, s, true, time.Minute, 3 * s},
		{"a fixed backoff has no cap of its own", 1, policy.FixedBackoff{Interval: 2 * s}, s, true, time.Minute, 10 * s},
		{"the cap never shortens the backoff's own delay", 10, r4j, 5 * s, true, time.Hour, time.Duration(float64(5*s) * math.Pow(1.5, 9))},
		{"the cap saturates", 1, nil, math.MaxInt64 / 2, true, math.MaxInt64, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OpenDelay(tt.trips, tt.backoff, tt.recovery, tt.honor, tt.ra); got != tt.want {
				t.Fatalf("OpenDelay = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOpenDelayFollowsTripsSinceClose is CB-11's check (resilience4j
// shouldTransitionToHalfOpenAfterWaitInterval): ExponentialBackoff{5s, 1.5, 0, false}
// gives 5s on a trip from closed, 7.5s after a failed half-open period, and 5s again after
// the breaker closed in between.
func TestOpenDelayFollowsTripsSinceClose(t *testing.T) {
	backoff := policy.ExponentialBackoff{InitialDelay: 5 * time.Second, Multiplier: 1.5}
	trips := 0 // trips since the breaker last closed, as the Circuit keeps it
	var got []time.Duration
	for _, event := range []string{"trip", "probe failed", "probes succeeded", "trip"} {
		if event == "probes succeeded" {
			trips = 0
			continue
		}
		trips++
		got = append(got, OpenDelay(trips, backoff, 30*time.Second, false, 0))
	}
	want := []time.Duration{5 * time.Second, 7500 * time.Millisecond, 5 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
}

func TestRetryAfterCapOfJitteredBackoffBoundsEveryDelay(t *testing.T) {
	b := policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2, MaxDelay: 8 * time.Second, Jitter: true}
	for trips := 1; trips <= 20; trips++ {
		if d := OpenDelay(trips, b, time.Second, true, time.Hour); d != 8*time.Second {
			t.Fatalf("trip %d: %v, want the 8s cap", trips, d)
		}
		if d := OpenDelay(trips, b, time.Second, false, 0); d < 0 || d > 8*time.Second {
			t.Fatalf("trip %d: jittered delay %v outside [0, 8s]", trips, d)
		}
	}
}

package policy_test

import (
	"math"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

const maxDuration = time.Duration(math.MaxInt64)

func TestFixedBackoffDelay(t *testing.T) {
	tests := []struct {
		name    string
		b       policy.FixedBackoff
		attempt int
		want    time.Duration
	}{
		{"first retry", policy.FixedBackoff{Interval: time.Second}, 1, time.Second},
		{"tenth retry", policy.FixedBackoff{Interval: time.Second}, 10, time.Second},
		{"zero interval", policy.FixedBackoff{}, 3, 0},
		{"attempt 0 counts as 1", policy.FixedBackoff{Interval: time.Second}, 0, time.Second},
		{"a negative interval never gives a negative delay", policy.FixedBackoff{Interval: -time.Second}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.attempt); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestLinearBackoffDelay(t *testing.T) {
	b := policy.LinearBackoff{Initial: 100 * time.Millisecond, Step: 50 * time.Millisecond, Max: 300 * time.Millisecond}
	tests := []struct {
		name    string
		b       policy.LinearBackoff
		attempt int
		want    time.Duration
	}{
		{"first retry waits Initial", b, 1, 100 * time.Millisecond},
		{"second retry adds a step", b, 2, 150 * time.Millisecond},
		{"fifth retry reaches the cap", b, 5, 300 * time.Millisecond},
		{"later retries stay at the cap", b, 50, 300 * time.Millisecond},
		{"attempt 0 counts as 1", b, 0, 100 * time.Millisecond},
		{"negative attempt counts as 1", b, -7, 100 * time.Millisecond},
		{"no cap", policy.LinearBackoff{Initial: time.Second, Step: time.Second}, 10, 10 * time.Second},
		{"zero value waits nothing", policy.LinearBackoff{}, 10, 0},
		{"no cap saturates instead of overflowing",
			policy.LinearBackoff{Initial: time.Second, Step: time.Hour}, 1_000_000_000_000, maxDuration},
		{"huge step saturates", policy.LinearBackoff{Initial: maxDuration, Step: maxDuration}, 2, maxDuration},
		{"huge step with a cap", policy.LinearBackoff{Step: maxDuration, Max: time.Minute}, 1_000_000, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.attempt); got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestExponentialBackoffDelayWith(t *testing.T) {
	plain := policy.ExponentialBackoff{InitialDelay: 100 * time.Millisecond, Multiplier: 2, MaxDelay: 30 * time.Second}
	jittered := plain
	jittered.Jitter = true
	tests := []struct {
		name    string
		b       policy.ExponentialBackoff
		attempt int
		u       float64
		want    time.Duration
	}{
		{"first retry waits InitialDelay", plain, 1, 0.3, 100 * time.Millisecond},
		{"second retry doubles", plain, 2, 0.3, 200 * time.Millisecond},
		{"ninth retry", plain, 9, 0, 25600 * time.Millisecond},
		{"tenth retry is capped", plain, 10, 0, 30 * time.Second},
		{"attempt 0 counts as 1", plain, 0, 0, 100 * time.Millisecond},
		{"full jitter scales by u", jittered, 3, 0.5, 200 * time.Millisecond},
		{"full jitter at u = 0 waits nothing", jittered, 3, 0, 0},
		{"full jitter applies to the capped delay", jittered, 20, 0.25, 7500 * time.Millisecond},
		{"u ≥ 1 stays below the delay", jittered, 1, 1, 100*time.Millisecond - 1},
		{"negative u counts as 0", jittered, 1, -1, 0},
		{"NaN u counts as 0", jittered, 1, nan, 0},
		{"multiplier 1.5", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 1.5}, 3, 0, 2250 * time.Millisecond},
		{"multiplier 1 is constant", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 1}, 1_000_000, 0, time.Second},
		{"no cap saturates", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2}, 1_000_000, 0, maxDuration},
		{"no cap with jitter stays below the ceiling",
			policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2, Jitter: true}, 1_000_000, 0.5,
			time.Duration(1 << 62)},
		{"huge initial delay saturates", policy.ExponentialBackoff{InitialDelay: maxDuration, Multiplier: 10}, 3, 0, maxDuration},
		{"huge cap is kept", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: 2, MaxDelay: maxDuration}, 1_000_000, 0, maxDuration},
		{"an invalid zero initial delay waits nothing", policy.ExponentialBackoff{Multiplier: 2}, 1_000_000, 0, 0},
		{"an invalid NaN multiplier waits nothing", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: nan}, 2, 0, 0},
		{"an invalid negative multiplier never goes negative", policy.ExponentialBackoff{InitialDelay: time.Second, Multiplier: -2}, 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.DelayWith(tt.attempt, tt.u); got != tt.want {
				t.Errorf("DelayWith(%d, %v) = %v, want %v", tt.attempt, tt.u, got, tt.want)
			}
		})
	}
}

func TestDecorrelatedBackoffDelayWith(t *testing.T) {
	// Expected values from the documented formula, computed independently:
	// Base · (f(n-1+u) - f(n-2+u)) / 1.4 with f(t) = 2^t · tanh(√(4t)), truncated to ns.
	b := policy.DecorrelatedBackoff{Base: 100 * time.Millisecond}
	tests := []struct {
		name    string
		b       policy.DecorrelatedBackoff
		attempt int
		u       float64
		want    time.Duration
	}{
		{"first retry at u = 0 waits nothing", b, 1, 0, 0},
		{"first retry at the median sample is about Base", b, 1, 0.5, 89740493},
		{"second retry at u = 0", b, 2, 0, 137718225},
		{"third retry", b, 3, 0.25, 172043828},
		{"tenth retry", b, 10, 0.5, 25859893298},
		{"first retry near u = 1", policy.DecorrelatedBackoff{Base: time.Millisecond}, 1, 0.999, 1376127},
		{"attempt 0 counts as 1", b, 0, 0.5, 89740493},
		{"the cap applies", policy.DecorrelatedBackoff{Base: 100 * time.Millisecond, Max: time.Second}, 10, 0.5, time.Second},
		{"attempt 1,000,000 saturates", b, 1_000_000, 0.5, maxDuration},
		{"attempt 1,000,000 with a cap", policy.DecorrelatedBackoff{Base: time.Nanosecond, Max: time.Hour}, 1_000_000, 0, time.Hour},
		{"huge base saturates", policy.DecorrelatedBackoff{Base: maxDuration}, 2, 0.5, maxDuration},
		{"an invalid zero base waits nothing", policy.DecorrelatedBackoff{}, 5, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.DelayWith(tt.attempt, tt.u); got != tt.want {
				t.Errorf("DelayWith(%d, %v) = %v (%d), want %v (%d)", tt.attempt, tt.u, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestDecorrelatedBackoffGrows(t *testing.T) {
	b := policy.DecorrelatedBackoff{Base: time.Second}
	prev := time.Duration(0)
	for n := 1; n <= 30; n++ {
		d := b.DelayWith(n, 0.5)
		if d <= prev {
			t.Fatalf("DelayWith(%d, 0.5) = %v, not above DelayWith(%d, 0.5) = %v", n, d, n-1, prev)
		}
		prev = d
	}
}

// TestRandomDelaysStayInRange draws real samples: whatever they are, each delay lies within
// the range the pure form covers for u in [0, 1), found on a fine grid of samples.
func TestRandomDelaysStayInRange(t *testing.T) {
	tests := []struct {
		name string
		b    interface {
			policy.Backoff
			DelayWith(int, float64) time.Duration
		}
	}{
		{"default backoff", policy.DefaultBackoff().(policy.ExponentialBackoff)},
		{"exponential without jitter", policy.ExponentialBackoff{InitialDelay: time.Millisecond, Multiplier: 3, MaxDelay: time.Minute}},
		{"decorrelated", policy.DecorrelatedBackoff{Base: 10 * time.Millisecond, Max: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []int{-1, 0, 1, 2, 3, 10, 30, 1_000_000} {
				lo, hi := sampleRange(tt.b.DelayWith, n)
				for range 50 {
					if d := tt.b.Delay(n); d < lo || d > hi {
						t.Fatalf("Delay(%d) = %v, outside [%v, %v]", n, d, lo, hi)
					}
				}
			}
		})
	}
}

// sampleRange returns the range of delay(n, u) over u in [0, 1), widened by 0.1% to cover
// the gaps between grid points.
func sampleRange(delay func(int, float64) time.Duration, n int) (lo, hi time.Duration) {
	lo, hi = maxDuration, 0
	const steps = 10_000
	for i := range steps + 1 {
		d := delay(n, float64(i)/steps)
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo - lo/1000, hi + min(hi/1000, maxDuration-hi)
}

// TestNoDelayOverflowsOrGoesNegative sweeps every kind over extreme fields and attempts.
func TestNoDelayOverflowsOrGoesNegative(t *testing.T) {
	durations := []time.Duration{-maxDuration - 1, -1, 0, 1, time.Second, maxDuration / 2, maxDuration}
	floats := []float64{nan, negInf, -2, 0, 0.5, 1, 2, 1e300, posInf}
	attempts := []int{math.MinInt, -1, 0, 1, 2, 63, 64, 1000, 1_000_000, math.MaxInt}
	samples := []float64{nan, -1, 0, 0.5, math.Nextafter(1, 0), 1, 2}
	var backoffs []interface {
		DelayWith(int, float64) time.Duration
	}
	for _, d1 := range durations {
		for _, d2 := range durations {
			backoffs = append(backoffs, pure{policy.FixedBackoff{Interval: d1}}, pure{policy.LinearBackoff{Initial: d1, Step: d2, Max: d1}},
				pure{policy.LinearBackoff{Initial: d1, Step: d2}}, policy.DecorrelatedBackoff{Base: d1, Max: d2})
			for _, f := range floats {
				backoffs = append(backoffs,
					policy.ExponentialBackoff{InitialDelay: d1, Multiplier: f, MaxDelay: d2},
					policy.ExponentialBackoff{InitialDelay: d1, Multiplier: f, MaxDelay: d2, Jitter: true})
			}
		}
	}
	for _, b := range backoffs {
		for _, n := range attempts {
			for _, u := range samples {
				if d := b.DelayWith(n, u); d < 0 {
					t.Fatalf("%#v.DelayWith(%d, %v) = %v, negative", b, n, u, d)
				}
			}
		}
	}
}

// pure gives the deterministic kinds the DelayWith shape of the jittered ones.
type pure struct{ policy.Backoff }

func (p pure) DelayWith(n int, _ float64) time.Duration { return p.Delay(n) }

package peers

import (
	"testing"

	"github.com/bulwark-go/bulwark/bench"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"
)

// The peers of bench's windowed-breaker cases (issue 12), on the same work: the closed
// path of a failure-rate breaker over the last bench.WindowCount calls or the last
// bench.WindowPeriod. Neither failsafe-go nor gobreaker detects slow calls, so the
// _slow cases have no peer here.

// fsRateCount is failsafe-go's count-based failure-ratio breaker, the closest it has to
// bulwark's rate mode over a count window: it opens when 50 of the last 100 calls
// failed. failsafe-go documents a failure rate and a minimum number of calls for time
// windows only, so here the window is judged from its first call by the absolute
// count: bulwark's count case can open after 20 calls at 50 %, this one after 50
// failures. Both keep the last 100 outcomes, so the closed path does the same work.
func fsRateCount() circuitbreaker.CircuitBreaker[int] {
	return circuitbreaker.NewBuilder[int]().
		WithFailureThresholdRatio(uint(bench.BreakerFailureRate*bench.WindowCount), bench.WindowCount).
		WithDelay(bench.BreakerRecovery).
		Build()
}

// fsRateTime is failsafe-go's time-based failure-rate breaker: at least
// bench.BreakerMinimumCalls calls in the last bench.WindowPeriod, and a failure rate of
// at least bench.BreakerFailureRate. Its window has 10 buckets, a fixed number
// (bench.WindowBuckets matches it); the same rule as bulwark's time case.
func fsRateTime() circuitbreaker.CircuitBreaker[int] {
	return circuitbreaker.NewBuilder[int]().
		WithFailureRateThreshold(bench.BreakerFailureRate, bench.BreakerMinimumCalls, bench.WindowPeriod).
		WithDelay(bench.BreakerRecovery).
		Build()
}

// fsWindowCases are the windowed-breaker cases of BenchmarkFailsafe.
var fsWindowCases = []struct {
	name     string
	policies func() []failsafe.Policy[int]
}{
	{bench.CaseBreakerRateCount, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsRateCount()} }},
	{bench.CaseBreakerRateTime, func() []failsafe.Policy[int] { return []failsafe.Policy[int]{fsRateTime()} }},
}

// gbRateTime is gobreaker v2's rolling window: Interval bench.WindowPeriod in buckets of
// BucketPeriod (bench.WindowBuckets of them), with ReadyToTrip judging the failure
// ratio once bench.BreakerMinimumCalls requests are in the window. gobreaker has no
// count window, so it has no breaker_rate_count case.
func gbRateTime(name string) *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:         name,
		Interval:     bench.WindowPeriod,
		BucketPeriod: bench.WindowPeriod / bench.WindowBuckets,
		Timeout:      bench.BreakerRecovery,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= bench.BreakerMinimumCalls &&
				float64(c.TotalFailures) >= bench.BreakerFailureRate*float64(c.Requests)
		},
	})
}

// gbWindowCases runs the windowed-breaker cases of BenchmarkGobreaker.
func gbWindowCases(b *testing.B) {
	b.Run(bench.CaseBreakerRateTime, func(b *testing.B) {
		cb := gbRateTime("bench-rate-time")
		bench.RunLevels(b, func() bool { return ok(cb.Execute(bench.WorkNoCtx)) })
	})
}

// TestPeerWindowBreakers checks that the peer configurations mean what the benchmarks
// say: each stays closed one failure short of its threshold and opens on that failure.
// The benchmarks only ever take the closed path; this is the rule they would apply.
func TestPeerWindowBreakers(t *testing.T) {
	fsCount, fsTime := fsRateCount(), fsRateTime()
	fsCountEx, fsTimeEx := failsafe.With[int](fsCount), failsafe.With[int](fsTime)
	gb := gbRateTime("test-rate-time")
	tests := []struct {
		name                string
		successes, failures int // then one more failure opens it
		call                func(fn func() (int, error))
		open                func() bool
	}{
		{"failsafe count: 50 of the last 100", 50, 49,
			func(fn func() (int, error)) { _, _ = fsCountEx.Get(fn) }, fsCount.IsOpen},
		{"failsafe time: 50 % of at least 20", 10, 9,
			func(fn func() (int, error)) { _, _ = fsTimeEx.Get(fn) }, fsTime.IsOpen},
		{"gobreaker rolling: 50 % of at least 20", 10, 9,
			func(fn func() (int, error)) { _, _ = gb.Execute(fn) },
			func() bool { return gb.State() == gobreaker.StateOpen }},
	}
	fail := func() (int, error) { return 0, errBoom }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range tt.successes {
				tt.call(bench.WorkNoCtx)
			}
			for range tt.failures {
				tt.call(fail)
			}
			if tt.open() {
				t.Fatalf("open after %d successes and %d failures", tt.successes, tt.failures)
			}
			tt.call(fail)
			if !tt.open() {
				t.Fatalf("closed after %d successes and %d failures", tt.successes, tt.failures+1)
			}
		})
	}
}

package bench

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// The workload every success-path benchmark wraps, on both sides of the comparison.
// Each is a package-level func value, so the call goes through a func value and cannot
// be inlined into the benchmark loop.
var (
	// Work is the trivial successful operation for APIs that pass a context.
	Work = func(context.Context) (int, error) { return Answer, nil }
	// WorkNoCtx is Work for APIs whose function takes no context (gobreaker,
	// failsafe-go's Get).
	WorkNoCtx = func() (int, error) { return Answer, nil }
	// WorkAny is Work for the message API, whose functions return any. Answer is a
	// small integer, so boxing it does not allocate.
	WorkAny = func(context.Context) (any, error) { return Answer, nil }
)

// Answer is the value Work returns.
const Answer = 42

// The policy parameters shared by bulwark and its peers (notes/peers.md). Only the
// success path is measured, so the thresholds never come into play; they are shared so
// both sides are configured alike.
const (
	// RetryAttempts is the retry policy's attempt count, the first included.
	RetryAttempts = 3
	// BreakerFailures is how many consecutive failures open a breaker.
	BreakerFailures = 5
	// BreakerRecovery is how long a breaker stays open before half-open.
	BreakerRecovery = 30 * time.Second
	// LimiterRate is the admitting rate limiter's rate, in requests per second: high
	// enough that no benchmark ever runs out of tokens.
	LimiterRate = 1e9
	// LimiterBurst is the admitting limiter's burst for peers that take one explicitly
	// (bulwark's default is ceil(LimiterRate)).
	LimiterBurst = 1 << 30
	// TimeoutLimit is the timeout policy's limit: never reached by Work.
	TimeoutLimit = 10 * time.Second
	// OpenRecovery is how long the breaker tripped for the rejection benchmarks stays
	// open: longer than any run.
	OpenRecovery = time.Hour
	// IdleActors is how many idle named breakers (and limiters) the memory benchmarks
	// create.
	IdleActors = 10_000
	// BulkSize is how many functions one bulk operation runs.
	BulkSize = 100
	// BlockTime is how long each function of the blocking bulk benchmark blocks.
	BlockTime = time.Millisecond
)

// The windowed breakers of issue 12 (bench/breaker_test.go and its peers): a rate-mode
// breaker over a count window or a time window. As above, only the closed path is
// measured, so the thresholds are never reached; they are shared so every side judges
// the same window.
const (
	// WindowCount is the count window's size: the last WindowCount calls.
	WindowCount = 100
	// WindowPeriod is how far back the time window reaches.
	WindowPeriod = 10 * time.Second
	// WindowBuckets is the time window's resolution (failsafe-go's fixed bucket count).
	WindowBuckets = 10
	// BreakerFailureRate is the failure rate, failures ÷ calls in the window, that opens
	// a rate-mode breaker.
	BreakerFailureRate = 0.5
	// BreakerMinimumCalls is how many calls the window must hold before it is judged.
	BreakerMinimumCalls = 20
	// SlowCallThreshold is the slow-call threshold of the _slow cases: never reached
	// by Work, so every call is fast and only the cost of timing it is measured.
	SlowCallThreshold = time.Second
)

// Case names: the second element of every benchmark name, the same on both sides, so a
// ratio table can pair BenchmarkBulwark/<case>/<level> with BenchmarkFailsafe/<case>/<level>.
const (
	CaseNone                     = "none"
	CaseRetry                    = "retry"
	CaseBreaker                  = "breaker"
	CaseRateLimit                = "ratelimit"
	CaseTimeout                  = "timeout"
	CaseRetryBreakerTimeout      = "retry+breaker+timeout"
	CaseRetryBreakerRateLimit    = "retry+breaker+ratelimit"
	CaseRetryBreakerRateLimitTmo = "retry+breaker+ratelimit+timeout"
	CaseBreakerOpen              = "breaker_open"
	CaseRateLimited              = "ratelimit_rejected"
	// CaseBreakerHandle is a two-step breaker: Allow, the work, then done (bulwark's
	// supervisor.Breaker, gobreaker's TwoStepCircuitBreaker), closed.
	CaseBreakerHandle = "breaker_handle"
	// CaseLimiterHandle is a limiter's Allow and then the work, on a limiter that never
	// runs dry (bulwark's supervisor.Limiter, x/time/rate's Limiter.Allow).
	CaseLimiterHandle = "limiter_handle"
	// CaseBulkhead is the admitted path of a bulkhead that is never full.
	CaseBulkhead = "bulkhead"
	// CaseFallback is a static-value Fallback outside a Retry, on the success path (the
	// fallback never answers): what an idle fallback costs beside its peer's.
	CaseFallback = "fallback"
	// CaseAdaptive is the admitted path of an adaptive concurrency limit that is never
	// full (its limit pinned at BulkheadLimit).
	CaseAdaptive = "adaptive"
	// CaseMessage is one messages.Execute→*messages.Result round trip from a goroutine
	// that waits on a reply channel.
	CaseMessage = "message"
	// CaseMessageActor is one round trip from an actor client: request with c.Request,
	// answer in the client's mailbox.
	CaseMessageActor = "message_actor"
	// CaseFloor is issue 17's yardstick floor (bench/peers' BenchmarkFloor): a direct
	// call of Work plus two uncontended atomic adds, the least an engine pays per call.
	CaseFloor = "floor"
)

// The cooperative-timeout cases of issue 13: CaseTimeout and CaseRetryBreakerTimeout with
// policy.Timeout(TimeoutLimit).AsCooperative(), the function on the caller's goroutine.
// Their peer rows are failsafe-go's timeout cases, measured again under these names so
// that each pairs with them; compare the pessimistic cases with the goroutine-timeout
// yardstick of bench/peers.
const (
	CaseTimeoutCoop             = "timeout-coop"
	CaseRetryBreakerTimeoutCoop = "retry+breaker+timeout-coop"
)

// The windowed-breaker cases of issue 12 (bench/breaker_test.go): the closed path of a
// rate-mode breaker, each case on one named breaker shared by every goroutine. Compare
// them with CaseBreaker, the consecutive breaker, measured in the same run.
const (
	// CaseBreakerRateCount is the closed path of a rate-mode breaker over a count window
	// (WindowCount, BreakerFailureRate, BreakerMinimumCalls).
	CaseBreakerRateCount = "breaker_rate_count"
	// CaseBreakerRateTime is the closed path of a rate-mode breaker over a time window
	// (WindowPeriod in WindowBuckets buckets, BreakerFailureRate, BreakerMinimumCalls).
	CaseBreakerRateTime = "breaker_rate_time"
	// CaseBreakerRateCountSlow is CaseBreakerRateCount with SlowCallThreshold set: the
	// cost of timing every call. No peer detects slow calls, so it has no peer row.
	CaseBreakerRateCountSlow = "breaker_rate_count_slow"
	// CaseBreakerRateTimeSlow is CaseBreakerRateTime with SlowCallThreshold set.
	CaseBreakerRateTimeSlow = "breaker_rate_time_slow"
)

// Concurrency level names: the third element of every benchmark name.
const (
	// LevelSeq is a plain b.N loop on the benchmark's goroutine.
	LevelSeq = "seq"
	// LevelPar is b.RunParallel with default parallelism: GOMAXPROCS goroutines.
	LevelPar = "par"
	// LevelPar128 is b.RunParallel with 128 goroutines (at least; rounded up to a
	// multiple of GOMAXPROCS).
	LevelPar128 = "par128"
)

// Contended is the goroutine count of LevelPar128.
const Contended = 128

// Parallelism returns the b.SetParallelism argument that gives at least n goroutines.
func Parallelism(n int) int {
	procs := runtime.GOMAXPROCS(0)
	return (n + procs - 1) / procs
}

// Goroutines returns how many goroutines a level runs: 1, GOMAXPROCS or Contended
// (rounded up to a multiple of GOMAXPROCS).
func Goroutines(level string) int {
	switch level {
	case LevelSeq:
		return 1
	case LevelPar:
		return runtime.GOMAXPROCS(0)
	}
	return Parallelism(Contended) * runtime.GOMAXPROCS(0)
}

// Levels lists the concurrency levels in the order they run.
var Levels = []string{LevelSeq, LevelPar, LevelPar128}

// RunLevels runs op as three sub-benchmarks, one per level of Levels, with allocation
// reporting on. op performs one operation and reports whether its outcome was the
// expected one; the first unexpected outcome fails the benchmark. op must be safe for
// concurrent use: at the parallel levels many goroutines call it at once on whatever
// shared breaker or limiter it closes over.
func RunLevels(b *testing.B, op func() bool) {
	b.Helper()
	RunLevelsPer(b, func() func() bool { return op })
}

// RunLevelsPer is RunLevels for operations that need state of their own on each
// goroutine (a reusable reply channel, say): newOp is called once per goroutine, and
// the op it returns is called only on that goroutine.
func RunLevelsPer(b *testing.B, newOp func() func() bool) {
	b.Helper()
	b.Run(LevelSeq, func(b *testing.B) {
		op := newOp()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if !op() {
				b.Fatal("unexpected outcome")
			}
		}
	})
	parallel := func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			op := newOp()
			for pb.Next() {
				if !op() {
					b.Error("unexpected outcome")
					return
				}
			}
		})
	}
	b.Run(LevelPar, parallel)
	b.Run(LevelPar128, func(b *testing.B) {
		b.SetParallelism(Parallelism(Contended))
		parallel(b)
	})
}

// Split divides n operations among k workers as evenly as possible: worker i runs
// Split(n, k)[i] of them.
func Split(n, k int) []int {
	shares := make([]int, k)
	for i := range shares {
		shares[i] = n / k
		if i < n%k {
			shares[i]++
		}
	}
	return shares
}

package peers

import (
	"testing"

	"github.com/bulwark-go/bulwark/bench"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// BenchmarkHandlePeers runs the two-step forms bulwark's handles are compared with:
// gobreaker v2's TwoStepCircuitBreaker (Allow, the work, done) closed, and x/time/rate's
// Limiter.Allow before the work on a limiter that never runs dry.
func BenchmarkHandlePeers(b *testing.B) {
	b.Run(bench.CaseBreakerHandle, func(b *testing.B) {
		cb := gobreaker.NewTwoStepCircuitBreaker[int](gobreaker.Settings{
			Name:    "bench",
			Timeout: bench.BreakerRecovery,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= bench.BreakerFailures
			},
		})
		bench.RunLevels(b, func() bool {
			done, err := cb.Allow()
			if err != nil {
				return false
			}
			_, err = bench.WorkNoCtx()
			done(err)
			return err == nil
		})
	})
	b.Run(bench.CaseLimiterHandle, func(b *testing.B) {
		l := rate.NewLimiter(bench.LimiterRate, bench.LimiterBurst)
		bench.RunLevels(b, func() bool { return l.Allow() && ok(bench.WorkNoCtx()) })
	})
}

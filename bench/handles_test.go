package bench

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/supervisor"
)

// BenchmarkHandles measures the handles for code that cannot hand bulwark a function:
// Breaker.Allow, the work and done on a closed breaker, and Limiter.Allow and the work on
// a limiter that never runs dry, each at every concurrency level. Compare them with the
// breaker and ratelimit cases of BenchmarkBulwark (the same stage inside a pipeline) and
// with bench/peers' gobreaker two-step breaker and x/time/rate Allow.
func BenchmarkHandles(b *testing.B) {
	e := newEngine(b)
	ctx := context.Background()
	if _, err := supervisor.ExecuteWithPolicy(ctx, e, benchBreaker(), Work); err != nil {
		b.Fatal(err)
	}
	if _, err := supervisor.ExecuteWithPolicy(ctx, e, benchLimiter(), Work); err != nil {
		b.Fatal(err)
	}
	br, err := e.Breaker(benchBreaker().Name)
	if err != nil {
		b.Fatal(err)
	}
	li, err := e.Limiter(benchLimiter().Name)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(CaseBreakerHandle, func(b *testing.B) {
		RunLevels(b, func() bool {
			done, err := br.Allow(ctx)
			if err != nil {
				return false
			}
			_, err = WorkNoCtx()
			done(err)
			return err == nil
		})
	})
	b.Run(CaseLimiterHandle, func(b *testing.B) {
		RunLevels(b, func() bool {
			if !li.Allow() {
				return false
			}
			_, err := WorkNoCtx()
			return err == nil
		})
	})
}

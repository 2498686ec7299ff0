package bench

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// BenchmarkFallback measures what a Fallback adds to the success path: the prepared
// retry+breaker plan (no limiter, whose refills would dominate the difference), without and with a Fallback outermost (a static value
// and a registered function), run in the same process so their difference is the
// fallback's cost (the bound: ≤ 5 ns). The plan checks its fallbacks against
// the result type on every call; the stage itself tests one field.
func BenchmarkFallback(b *testing.B) {
	ctx := context.Background()
	inner := func() []policy.Policy {
		return []policy.Policy{policy.Retry(RetryAttempts), benchBreaker()}
	}
	cases := []struct {
		name string
		p    policy.Policy
	}{
		{"without", policy.Combine(inner()...)},
		{"value", policy.Combine(append([]policy.Policy{policy.Fallback().WithValue(0)}, inner()...)...)},
		{"func", policy.Combine(append([]policy.Policy{policy.Fallback().WithFunc("bench")}, inner()...)...)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b)
			if err := supervisor.RegisterFallback(e, "bench", func(context.Context, error) (int, error) { return 0, nil }); err != nil {
				b.Fatal(err)
			}
			pl, err := e.Prepare("bench-fallback", c.p)
			if err != nil {
				b.Fatal(err)
			}
			if v, err := supervisor.ExecutePlan(ctx, pl, Work); err != nil || v != Answer {
				b.Fatalf("%v: got %d, %v", c.p, v, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if v, err := supervisor.ExecutePlan(ctx, pl, Work); err != nil || v != Answer {
					b.Fatal("unexpected outcome")
				}
			}
		})
	}
}

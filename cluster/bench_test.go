package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// The fast path of a shared name is the local one: callers read the replica's published
// view (breaker) or take from its lock-free pool (limiter), and no message goes to the
// owner per call. These benchmarks run a closed breaker and a limiter with tokens, local
// and shared (over the in-memory transport, whose owner is never on the call's path
// anyway), in one run, so their ns/op compare as a ratio; "owner-msgs/op" counts the
// messages the node sent to owners per call (lease top-ups and success batches,
// amortised). Compare with:
//
//	go test -run '^$' -bench 'FastPath' -benchmem -count 6 ./  (then benchstat)

// benchEngine returns an engine on a one-node in-memory fleet and its owners.
func benchEngine(b *testing.B) (*supervisor.Engine, *memOwners) {
	b.Helper()
	o := newMemOwners()
	cfg, err := build(nil)
	if err != nil {
		b.Fatal(err)
	}
	tr := &memTransport{o: o}
	nd := newNode("bench", cfg, tr)
	tr.n = nd
	o.nodes = append(o.nodes, nd)
	e, err := supervisor.New(supervisor.WithBackend(backend{nd}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
		o.stop()
	})
	return e, o
}

func benchPlan(b *testing.B, e *supervisor.Engine, p policy.Policy) *supervisor.Plan {
	b.Helper()
	pl, err := e.Prepare("bench", p)
	if err != nil {
		b.Fatal(err)
	}
	return pl
}

func noop(context.Context) error { return nil }

// runFastPath measures RunPlan on pl, after a warm-up that lets leases and views arrive.
func runFastPath(b *testing.B, pl *supervisor.Plan, o *memOwners) {
	for range 1000 {
		_ = supervisor.RunPlan(context.Background(), pl, noop)
	}
	time.Sleep(50 * time.Millisecond)
	before := o.requests.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := supervisor.RunPlan(context.Background(), pl, noop); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(o.requests.Load()-before)/float64(b.N), "owner-msgs/op")
}

// BenchmarkFastPath compares the closed breaker and the limiter with tokens, local and
// shared.
func BenchmarkFastPath(b *testing.B) {
	breaker := policy.CircuitBreaker(5, 30*time.Second).Named("bench-breaker")
	limiter := policy.RateLimit(1e9).Named("bench-limiter").WithBurst(1 << 24)
	b.Run("breaker/local", func(b *testing.B) {
		e, o := benchEngine(b)
		runFastPath(b, benchPlan(b, e, breaker), o)
	})
	b.Run("breaker/shared", func(b *testing.B) {
		e, o := benchEngine(b)
		runFastPath(b, benchPlan(b, e, breaker.AsShared()), o)
	})
	b.Run("limiter/local", func(b *testing.B) {
		e, o := benchEngine(b)
		runFastPath(b, benchPlan(b, e, limiter), o)
	})
	b.Run("limiter/shared", func(b *testing.B) {
		e, o := benchEngine(b)
		runFastPath(b, benchPlan(b, e, limiter.AsShared()), o)
	})
}

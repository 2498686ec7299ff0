package peers

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/bench"
)

// BenchmarkGoroutineTimeout is the goroutine-timeout yardstick of issue 17: the timeout a
// Go user writes by hand around a function that takes a context. Each call makes a
// context.WithTimeout of bench.TimeoutLimit, runs the function on a new goroutine that
// answers on a buffered channel, and selects on that channel and the context's Done;
// the cancel function runs when the call returns. bulwark's pessimistic Timeout does the
// same job (and returns at the deadline even if the function ignores its context), so
// BenchmarkBulwark/timeout is compared with this row.
func BenchmarkGoroutineTimeout(b *testing.B) {
	b.Run(bench.CaseTimeout, func(b *testing.B) {
		bench.RunLevels(b, func() bool { return ok(goroutineTimeout(context.Background(), bench.Work)) })
	})
}

// result is one answer of a function run on its own goroutine.
type result struct {
	v   int
	err error
}

// goroutineTimeout runs fn under a deadline bench.TimeoutLimit from now, the way the
// yardstick's doc comment describes.
func goroutineTimeout(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, bench.TimeoutLimit)
	defer cancel()
	ch := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

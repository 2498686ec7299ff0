package stripe

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCounterSumsConcurrentAdds(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 1000 {
				c.Add(1)
			}
		})
	}
	wg.Wait()
	if got := c.Load(); got != 64000 {
		t.Fatalf("Load = %d; want 64000", got)
	}
}

func TestCounterSpreadsGoroutines(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() { c.Add(1) })
	}
	wg.Wait()
	used := 0
	for i := range c.slots {
		if c.slots[i].n.Load() > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("64 goroutines used %d slot(s); want them spread", used)
	}
}

// BenchmarkAdd compares Counter with a plain atomic.Uint64 adding to one counter from one
// goroutine (seq), from GOMAXPROCS goroutines (procs) and from 128 goroutines (par128): the
// stripe earns its place only if it wins under contention.
func BenchmarkAdd(b *testing.B) {
	for _, g := range []struct {
		name        string
		parallelism int // goroutines per GOMAXPROCS; 0: sequential
	}{{"seq", 0}, {"procs", 1}, {"par128", 128}} {
		b.Run("stripe/"+g.name, func(b *testing.B) {
			var c Counter
			bench(b, g.parallelism, func() { c.Add(1) })
		})
		b.Run("atomic/"+g.name, func(b *testing.B) {
			var c atomic.Uint64
			bench(b, g.parallelism, func() { c.Add(1) })
		})
	}
}

// bench runs add b.N times: sequentially when goroutines is 0, otherwise from about
// goroutines goroutines in all (at least one per GOMAXPROCS).
func bench(b *testing.B, goroutines int, add func()) {
	b.ReportAllocs()
	if goroutines == 0 {
		for b.Loop() {
			add()
		}
		return
	}
	b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			add()
		}
	})
}

package stripe

import (
	"sync"
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

func BenchmarkCounterAdd(b *testing.B) {
	var c Counter
	b.Run("seq", func(b *testing.B) {
		for b.Loop() {
			c.Add(1)
		}
	})
	b.Run("par128", func(b *testing.B) {
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
	})
}

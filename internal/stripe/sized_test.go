package stripe

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// TestSizedSumsConcurrentAdds checks that a Sized counts every add, with one line and
// with many, and that its lines follow GOMAXPROCS.
func TestSizedSumsConcurrentAdds(t *testing.T) {
	for _, procs := range []int{1, 2, 5, 64} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			c := NewSized()
			if want := min(Stripes, nextPow2(procs)); c.Lines() != want {
				t.Errorf("Lines = %d; want %d", c.Lines(), want)
			}
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
		})
	}
}

// TestSizedSpreadsGoroutines checks that goroutines land on more than one line when
// there are several.
func TestSizedSpreadsGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	c := NewSized()
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
		t.Fatalf("64 goroutines used %d of %d lines", used, c.Lines())
	}
}

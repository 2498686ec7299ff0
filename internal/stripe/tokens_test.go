package stripe

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTokensTakeEveryTokenOnce checks that concurrent takers get exactly the tokens put
// in, wherever their goroutines hash, and that the pool is then empty.
func TestTokensTakeEveryTokenOnce(t *testing.T) {
	for _, procs := range []int{1, 3, 16} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			takeEveryTokenOnce(t)
		})
	}
}

func takeEveryTokenOnce(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 1000} {
		p := NewTokens()
		if want := min(Stripes, nextPow2(runtime.GOMAXPROCS(0))); p.Lines() != want {
			t.Errorf("Lines = %d; want %d", p.Lines(), want)
		}
		p.Add(n)
		var took, emptied atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for {
					ok, empty := p.Take()
					if !ok {
						return
					}
					took.Add(1)
					if empty {
						emptied.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if took.Load() != n {
			t.Errorf("n=%d: took %d tokens", n, took.Load())
		}
		if n > 0 && emptied.Load() == 0 {
			t.Errorf("n=%d: no take reported the pool emptied", n)
		}
		if s := p.Sum(); s != 0 {
			t.Errorf("n=%d: %d left", n, s)
		}
	}
}

// TestTokensTakeLooksAtEveryLine checks that a single token is found from any line.
func TestTokensTakeLooksAtEveryLine(t *testing.T) {
	p := NewTokens()
	for i := range p.slots {
		p.slots[i].n.Store(0)
	}
	last := len(p.slots) - 1
	p.slots[last].n.Store(1)
	if ok, emptied := p.Take(); !ok || !emptied {
		t.Fatalf("Take = %v, %v; want the token on line %d and the pool emptied", ok, emptied, last)
	}
	if ok, _ := p.Take(); ok {
		t.Fatal("took a token from an empty pool")
	}
}

func TestTokensAddSpreadsAndDrainTakesAll(t *testing.T) {
	p := NewTokens()
	if want := min(Stripes, nextPow2(runtime.GOMAXPROCS(0))); p.Lines() != want {
		t.Errorf("Lines = %d; want %d", p.Lines(), want)
	}
	p.Add(10)
	for i := range p.slots {
		n, want := p.slots[i].n.Load(), int64(10/len(p.slots))
		if int64(i) < int64(10%len(p.slots)) {
			want++
		}
		if n != want {
			t.Errorf("line %d holds %d; want %d", i, n, want)
		}
	}
	if s := p.Sum(); s != 10 {
		t.Errorf("Sum = %d; want 10", s)
	}
	if d := p.Drain(); d != 10 || p.Sum() != 0 {
		t.Errorf("Drain = %d, then Sum = %d; want 10, 0", d, p.Sum())
	}
}

func nextPow2(n int) int {
	k := 1
	for k < n {
		k <<= 1
	}
	return k
}

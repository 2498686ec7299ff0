package stripe

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Tokens is a pool of tokens spread over a few cache lines, one per processor up to
// Stripes: one owner puts tokens in (Add) and takes them all back (Drain); many callers
// take one at a time (Take), each from the line its goroutine's stack address picks
// first, so callers on different cores mostly do not fight over one line. A caller whose
// line is empty looks at the others before it gives up, so Take fails only when every
// line was seen empty. Make one with NewTokens; safe for concurrent use.
type Tokens struct {
	slots []tokenSlot // len a power of two
	mask  uintptr
	shift uint // 64 - log2(len)
}

type tokenSlot struct {
	n atomic.Int64
	_ [56]byte
}

// NewTokens returns an empty pool with one line per processor (GOMAXPROCS now, rounded
// up to a power of two), at most Stripes.
func NewTokens() Tokens {
	k := min(Stripes, 1<<bits.Len(uint(max(runtime.GOMAXPROCS(0), 1)-1)))
	return Tokens{slots: make([]tokenSlot, k), mask: uintptr(k - 1), shift: uint(64 - bits.TrailingZeros(uint(k)))}
}

// Lines returns how many cache lines the pool spreads over.
func (t *Tokens) Lines() int { return len(t.slots) }

// first returns the line the calling goroutine tries first.
//
//go:nosplit
func (t *Tokens) first() uintptr {
	if t.mask == 0 {
		return 0
	}
	var marker byte
	addr := uintptr(unsafe.Pointer(&marker))
	return ((addr >> 10) * 0x9E3779B97F4A7C15) >> t.shift
}

// Take takes one token and reports whether there was one; emptied reports that the pool
// looked empty right after this take (the caller may then note when the pool ran dry).
// Of the takes that leave the pool empty, the last one always reports emptied.
func (t *Tokens) Take() (took, emptied bool) {
	i := t.first()
	for range len(t.slots) {
		s := &t.slots[i].n
		for {
			n := s.Load()
			if n <= 0 {
				break
			}
			if s.CompareAndSwap(n, n-1) {
				return true, n == 1 && t.Sum() <= 0
			}
		}
		i = (i + 1) & t.mask
	}
	return false, false
}

// Add puts n ≥ 0 tokens into the pool, spread evenly over the lines.
func (t *Tokens) Add(n int64) {
	k := int64(len(t.slots))
	each, rest := n/k, n%k
	for i := range t.slots {
		d := each
		if int64(i) < rest {
			d++
		}
		if d != 0 {
			t.slots[i].n.Add(d)
		}
	}
}

// Sum returns the tokens in the pool. While callers take, it may count a token taken
// during the call as still there, never the other way round (only the owner adds).
func (t *Tokens) Sum() int64 {
	var sum int64
	for i := range t.slots {
		sum += t.slots[i].n.Load()
	}
	return sum
}

// Drain empties the pool and returns how many tokens it held.
func (t *Tokens) Drain() int64 {
	var sum int64
	for i := range t.slots {
		sum += t.slots[i].n.Swap(0)
	}
	return sum
}

package stripe

import (
	"math/bits"
	"runtime"
	"unsafe"
)

// Sized is a Counter whose cache lines follow the machine: one per processor
// (GOMAXPROCS when it is made, rounded up to a power of two), at most Stripes. A
// Counter always spreads over Stripes lines (512 bytes); a Sized on a 2-processor
// machine takes 128, which matters for what every one of thousands of named actors
// holds. Make one with NewSized; it must not be copied after first use. Safe for
// concurrent use.
type Sized struct {
	slots []slot // len a power of two
	shift uint   // 64 - log2(len): the top bits of the hash pick the line
}

// NewSized returns a zero counter with one line per processor, at most Stripes.
func NewSized() Sized {
	k := min(Stripes, 1<<bits.Len(uint(max(runtime.GOMAXPROCS(0), 1)-1)))
	return Sized{slots: make([]slot, k), shift: uint(64 - bits.TrailingZeros(uint(k)))}
}

// Add adds delta to the counter, on the line the calling goroutine's stack picks.
//
//go:nosplit
func (c *Sized) Add(delta uint64) {
	var marker byte
	addr := uintptr(unsafe.Pointer(&marker))
	// As Counter.Add; with one line the shift is 64 and the index 0.
	c.slots[((addr>>10)*0x9E3779B97F4A7C15)>>c.shift].n.Add(delta)
}

// Load returns the sum of the lines, each read atomically; increments that happen during
// Load may or may not be included.
func (c *Sized) Load() uint64 {
	var sum uint64
	for i := range c.slots {
		sum += c.slots[i].n.Load()
	}
	return sum
}

// Lines returns how many cache lines the counter spreads over.
func (c *Sized) Lines() int { return len(c.slots) }

// Package stripe holds counters spread over several cache lines, so goroutines that
// count at the same time on different cores do not fight over one line.
package stripe

import (
	"sync/atomic"
	"unsafe"
)

// Stripes is the number of cache lines a Counter spreads over.
const Stripes = 1 << stripeBits

const stripeBits = 3

// Counter is a monotonic counter whose increments go to one of Stripes padded slots,
// chosen by the calling goroutine's stack address: a goroutine keeps hitting the same
// slot, and different goroutines mostly hit different ones. The zero value is ready to
// use; a Counter must not be copied after first use. Safe for concurrent use.
type Counter struct {
	slots [Stripes]slot
}

type slot struct {
	n atomic.Uint64
	_ [56]byte
}

// Add adds delta to the counter.
//
//go:nosplit
func (c *Counter) Add(delta uint64) {
	var marker byte
	addr := uintptr(unsafe.Pointer(&marker))
	// Fibonacci hashing of the stack's 1 KiB page: goroutine stacks sit at multiples
	// of a few KiB, and the multiply spreads those evenly over the slots.
	c.slots[((addr>>10)*0x9E3779B97F4A7C15)>>(64-stripeBits)].n.Add(delta)
}

// Load returns the sum of the slots. Each slot is read atomically; increments that
// happen during Load may or may not be included.
func (c *Counter) Load() uint64 {
	var sum uint64
	for i := range c.slots {
		sum += c.slots[i].n.Load()
	}
	return sum
}

// Package stripe holds counters spread over several cache lines, so goroutines that
// count at the same time on different cores do not fight over one line.
package stripe

import (
	"sync/atomic"
	"unsafe"
)

// Stripes is the number of cache lines a Counter spreads over.
const Stripes = 8

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
	c.slots[(addr>>11^addr>>17)%Stripes].n.Add(delta)
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

package telemetry

import (
	"sync/atomic"
	"time"
)

// histogramBounds are the upper bounds, in seconds, of the duration histogram's buckets.
var histogramBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Histogram is a lock-free fixed-bucket histogram of operation durations. Build one with
// NewHistogram.
type Histogram struct {
	counts []atomic.Uint64 // per bucket, plus +Inf last
	sumNs  atomic.Uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]atomic.Uint64, len(histogramBounds)+1)}
}

// Observe records one duration; a negative one counts as zero in the sum.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(histogramBounds) && s > histogramBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

// Snapshot returns the cumulative bucket counts by upper bound, the total count and the
// sum in seconds.
func (h *Histogram) Snapshot() (buckets map[float64]uint64, count uint64, sum float64) {
	buckets = make(map[float64]uint64, len(histogramBounds))
	var cum uint64
	for i, ub := range histogramBounds {
		cum += h.counts[i].Load()
		buckets[ub] = cum
	}
	count = cum + h.counts[len(histogramBounds)].Load()
	return buckets, count, float64(h.sumNs.Load()) / float64(time.Second)
}

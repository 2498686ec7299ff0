package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// An adaptive limit is a bulkhead whose limit its actor moves: the same permits, queue
// and actor (Bulkhead), plus a sampler callers feed one sample per completed call and
// the algorithm the actor runs when a window closes.

// The open window's sample word: bits 42-63 count the samples, bits 0-41 sum their RTT
// in microseconds (about 51 days in all); one atomic add records a sample.
const (
	sampleOne   = 1 << 42
	rttMask     = sampleOne - 1
	maxSampleUS = int64(time.Hour / time.Microsecond) // one sample's RTT counts at most 1h
)

// SampleKind is how a completed call counts for an adaptive limit.
type SampleKind uint8

// The kinds of sample.
const (
	// SampleIgnored gives no sample: the caller's cancellation, a refusal by another
	// stage, an error that says nothing of the dependency's load.
	SampleIgnored SampleKind = iota
	// SampleSuccess is an RTT sample.
	SampleSuccess
	// SampleDrop is an RTT sample that signals overload: a timeout, a deadline the
	// caller did not set, an error carrying a RetryAfter.
	SampleDrop
)

// adaptive is the sampling side of an adaptive limit's BulkheadLink.
type adaptive struct {
	// The callers'.
	word      atomic.Uint64 // the open window's samples
	drops     atomic.Uint64 // the open window's drops
	ignored   atomic.Uint64 // all calls ignored
	windowEnd atomic.Int64  // UnixNano before which the open window does not close
	due       atomic.Bool   // a caller told the actor the window may close

	// Published by the actor.
	samples    atomic.Uint64 // samples of the closed windows
	dropsTotal atomic.Uint64 // drops of the closed windows
	minSamples uint64

	// The actor's.
	cfg    policy.AdaptiveLimitPolicy
	window time.Duration
	algo   LimitAlgorithm
}

// newAlgorithm returns p's algorithm at initial (p is valid).
func newAlgorithm(p policy.AdaptiveLimitPolicy, initial int) LimitAlgorithm {
	_, lo, hi := p.Limits()
	initial = min(hi, max(lo, initial))
	_, _, timeout, ratio := p.Sampling()
	switch p.Algorithm {
	case policy.AlgorithmGradient2:
		return NewGradient2(initial, lo, hi)
	case policy.AlgorithmVegas:
		return NewVegas(VegasConfig{Initial: initial, Min: lo, Max: hi})
	}
	return NewAIMD(initial, lo, hi, ratio, timeout)
}

// bulkheadOf is the bulkhead an adaptive limit's permits are configured as.
func bulkheadOf(p policy.AdaptiveLimitPolicy, limit int) policy.BulkheadPolicy {
	return policy.BulkheadPolicy{Name: p.Name, MaxConcurrent: limit, MaxQueue: p.MaxQueue, MaxWait: p.MaxWait}
}

// AdaptiveLink is the shared side of one named adaptive limit: a BulkheadLink (its
// permits, queue and actor) whose limit the actor moves after each sampling window.
// Callers take and give back permits as with a bulkhead and Record one sample per
// completed call.
type AdaptiveLink struct {
	*BulkheadLink
	origin policy.AdaptiveLimitPolicy
}

// NewAdaptiveLink returns the shared side of the adaptive limit name, configured by p
// (which must be valid), created at now. Spawn its actor with Producer.
func NewAdaptiveLink(name string, p policy.AdaptiveLimitPolicy, now time.Time, hooks Hooks) *AdaptiveLink {
	initial, _, _ := p.Limits()
	l := NewBulkheadLink(name, bulkheadOf(p, initial), now, hooks)
	window, minSamples, _, _ := p.Sampling()
	ad := &adaptive{cfg: p, window: window, minSamples: uint64(minSamples), algo: newAlgorithm(p, initial)}
	ad.windowEnd.Store(now.Add(window).UnixNano())
	l.adaptive = ad
	return &AdaptiveLink{BulkheadLink: l, origin: p}
}

// Origin returns the configuration the adaptive limit was created with.
func (l *AdaptiveLink) Origin() policy.AdaptiveLimitPolicy { return l.origin }

// Bulkhead returns the bulkhead link that holds the permits and the queue.
func (l *AdaptiveLink) Bulkhead() *BulkheadLink { return l.BulkheadLink }

// Record counts, for an adaptive limit's permits (a plain bulkhead ignores it), one
// completed call of kind, whose function ran for rtt and ended at
// now: a success or a drop is one atomic add to the open window, and the first sample
// that finds the window long and full enough tells the actor to close it. Safe for
// concurrent use; it allocates nothing.
func (l *BulkheadLink) Record(kind SampleKind, rtt time.Duration, now time.Time, out Teller) {
	ad := l.adaptive
	if ad == nil {
		return
	}
	if kind == SampleIgnored {
		ad.ignored.Add(1)
		return
	}
	if kind == SampleDrop {
		ad.drops.Add(1)
	}
	us := min(max(int64(rtt/time.Microsecond), 0), maxSampleUS)
	w := ad.word.Add(sampleOne + uint64(us))
	if w/sampleOne >= ad.minSamples && now.UnixNano() >= ad.windowEnd.Load() && !ad.due.Load() && ad.due.CompareAndSwap(false, true) {
		out.Tell(l.PID(), releaseNote, nil)
	}
}

// Stats returns the adaptive limit's limit, permits, queue and counters now.
func (l *AdaptiveLink) Stats() messages.AdaptiveStats {
	ad := l.adaptive
	b := l.permits.Stats()
	open := ad.word.Load() / sampleOne
	return messages.AdaptiveStats{
		Limit: b.Limit, InFlight: b.InFlight, Queued: b.Queued,
		Samples:  ad.samples.Load() + open,
		Drops:    ad.dropsTotal.Load() + ad.drops.Load(),
		Ignored:  ad.ignored.Load(),
		Rejected: b.Rejected,
	}
}

// adapt closes the open window when it is at least Window long and holds at least
// MinSamples samples: it feeds the algorithm the window's average RTT, maximum
// in-flight count and whether any call dropped, and applies the new limit to the
// permits (Serve, which follows, admits waiters when it grew). The actor's.
func (a *Bulkhead) adapt(now time.Time) {
	l := a.l
	ad := l.adaptive
	ad.due.Store(false)
	if now.UnixNano() < ad.windowEnd.Load() || ad.word.Load()/sampleOne < ad.minSamples {
		return
	}
	w := ad.word.Swap(0)
	drops := ad.drops.Swap(0)
	inFlight := int(l.permits.takeWindowMax())
	n := w / sampleOne
	ad.samples.Add(n)
	ad.dropsTotal.Add(drops)
	ad.windowEnd.Store(now.Add(ad.window).UnixNano())
	rtt := time.Duration((w&rttMask)/n) * time.Microsecond
	old := ad.algo.Limit()
	next := min(max(ad.algo.Update(LimitSample{RTT: rtt, InFlight: inFlight, Dropped: drops > 0}), 1), policy.MaxBulkhead)
	if next == int(l.permits.limit.Load()) {
		return
	}
	cur := int(l.permits.limit.Load())
	l.permits.Resize(bulkheadOf(ad.cfg, next))
	hooks := &l.own.hooks
	if ce := hooks.logger().Check(zap.DebugLevel, "adaptive limit changed"); ce != nil {
		ce.Write(zap.String("adaptive_limit", l.name), zap.String("algorithm", ad.cfg.Algorithm),
			zap.Int("old", cur), zap.Int("new", next), zap.Int("algorithm_old", old), zap.Duration("rtt", rtt),
			zap.Int("max_in_flight", inFlight), zap.Uint64("samples", n), zap.Uint64("drops", drops))
	}
	if hooks.LimitChanged != nil {
		hooks.LimitChanged(messages.LimitChanged{Name: l.name, Old: cur, New: next, RTT: rtt, InFlight: inFlight, Samples: n, Drops: drops, At: now})
	}
}

// reconfigureAdaptive applies p (valid): the new bounds, sampling and queue, keeping the
// limit learnt so far clamped to the new bounds. The actor's.
func (a *Bulkhead) reconfigureAdaptive(p policy.AdaptiveLimitPolicy) {
	ad := a.l.adaptive
	window, minSamples, _, _ := p.Sampling()
	ad.cfg, ad.window, ad.minSamples = p, window, uint64(minSamples)
	ad.algo = newAlgorithm(p, ad.algo.Limit())
	a.l.permits.Resize(bulkheadOf(p, ad.algo.Limit()))
}

// Producer returns the producer to spawn the adaptive limit's actor with.
func (l *AdaptiveLink) Producer() actor.Producer { return l.BulkheadLink.Producer() }

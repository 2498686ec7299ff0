package actors

import (
	"math"
	"math/rand/v2"
	"time"
)

// LimitSample is what a closed sampling window feeds a LimitAlgorithm: the window's
// average RTT, the most calls in flight at any admission in it, and whether any call in
// it was dropped (timed out or refused by an overloaded dependency).
type LimitSample struct {
	RTT      time.Duration
	InFlight int
	Dropped  bool
}

// LimitAlgorithm is a pure concurrency-limit state machine: Update takes one window's
// sample and returns the new limit, which Limit reports until the next Update. It is not
// safe for concurrent use; the adaptive limit actor owns one.
type LimitAlgorithm interface {
	Update(s LimitSample) int
	Limit() int
}

// AIMD is Netflix concurrency-limits' AIMDLimit: a drop, or an RTT above the timeout,
// multiplies the limit by the backoff ratio (truncated); otherwise, when the window used
// at least half the limit, the limit grows by one; the result is clamped to [min, max].
type AIMD struct {
	limit, min, max int
	backoffRatio    float64
	timeout         time.Duration
}

// NewAIMD returns an AIMD at initial, clamped to [minimum, maximum] after each update,
// that multiplies by backoffRatio on a drop or an RTT above timeout.
func NewAIMD(initial, minimum, maximum int, backoffRatio float64, timeout time.Duration) *AIMD {
	return &AIMD{limit: initial, min: minimum, max: maximum, backoffRatio: backoffRatio, timeout: timeout}
}

// Update applies one window's sample and returns the new limit.
func (a *AIMD) Update(s LimitSample) int {
	l := a.limit
	if s.Dropped || s.RTT > a.timeout {
		l = int(float64(l) * a.backoffRatio)
	} else if s.InFlight*2 >= l {
		l++
	}
	a.limit = min(a.max, max(a.min, l))
	return a.limit
}

// Limit returns the current limit.
func (a *AIMD) Limit() int { return a.limit }

// Gradient2 is Netflix concurrency-limits' Gradient2Limit with its defaults (smoothing
// 0.2, queue size 4, long window 600 with 10 warm-up samples, RTT tolerance 1.5): the
// gradient max(0.5, min(1, 1.5·longRTT/shortRTT)) scales the limit, plus the queue size,
// smoothed, clamped to [min, max]; the limit does not move while in-flight is below half
// of it (app-limited), though the long RTT still learns.
type Gradient2 struct {
	estimate float64
	min, max int
	long     expAvg
}

// Gradient2's fixed parameters, as Netflix concurrency-limits' defaults.
const (
	gradient2Smoothing = 0.2
	gradient2Queue     = 4
	gradient2Tolerance = 1.5
	gradient2Long      = 600
	gradient2Warmup    = 10
)

// NewGradient2 returns a Gradient2 at initial, clamped to [minimum, maximum].
func NewGradient2(initial, minimum, maximum int) *Gradient2 {
	return &Gradient2{estimate: float64(initial), min: minimum, max: maximum, long: expAvg{window: gradient2Long, warmup: gradient2Warmup}}
}

// Update applies one window's sample and returns the new limit. A sample with an RTT of
// 0 or less leaves the limit alone.
func (g *Gradient2) Update(s LimitSample) int {
	if s.RTT <= 0 {
		return int(g.estimate)
	}
	est := g.estimate
	short := float64(s.RTT)
	long := g.long.add(short)
	if long/short > 2 {
		g.long.value *= 0.95
	}
	if float64(s.InFlight) < est/2 {
		return int(est)
	}
	gradient := math.Max(0.5, math.Min(1.0, gradient2Tolerance*long/short))
	next := est*gradient + gradient2Queue
	next = est*(1-gradient2Smoothing) + next*gradient2Smoothing
	next = math.Max(float64(g.min), math.Min(float64(g.max), next))
	g.estimate = next
	return int(next)
}

// Limit returns the current limit.
func (g *Gradient2) Limit() int { return int(g.estimate) }

// LongRTT returns the long-term (no-load) RTT estimate.
func (g *Gradient2) LongRTT() time.Duration { return time.Duration(g.long.value) }

// expAvg is Netflix concurrency-limits' ExpAvgMeasurement: the plain mean of the first
// warmup samples, then an exponential average with factor 2/(window+1).
type expAvg struct {
	value, sum     float64
	window, warmup int
	count          int
}

func (e *expAvg) add(v float64) float64 {
	if e.count < e.warmup {
		e.count++
		e.sum += v
		e.value = e.sum / float64(e.count)
	} else {
		f := 2.0 / float64(e.window+1)
		e.value = e.value*(1-f) + v*f
	}
	return e.value
}

// VegasConfig configures a Vegas. Zero fields take Netflix concurrency-limits' defaults.
type VegasConfig struct {
	// Initial, Min and Max bound the limit (NCL: 20, 1, 1000).
	Initial, Min, Max int
	// Alpha and Beta, when not 0, replace 3·log10(limit) and 6·log10(limit).
	Alpha, Beta int
	// Smoothing weighs the new limit against the old; 0 means 1 (no smoothing).
	Smoothing float64
	// Decrease, when set, replaces limit − log10(limit).
	Decrease func(limit float64) float64
	// Jitter, when set, replaces the uniform draw in [0.5, 1) that spaces the no-load RTT
	// probes.
	Jitter func() float64
}

// Vegas is Netflix concurrency-limits' VegasLimit: it keeps the lowest RTT seen as the
// no-load RTT (re-probed after about 30·limit samples), estimates the queue as
// ceil(limit·(1 − noLoad/rtt)) and grows the limit by beta when the queue is at most
// log10(limit), by log10(limit) when below alpha, shrinks it on a drop or a queue above
// beta, and holds it while in-flight is below half of it.
type Vegas struct {
	cfg        VegasConfig
	estimate   float64
	noLoad     time.Duration
	probeCount int
	jitter     float64
}

// vegasProbeMultiplier is NCL's probeMultiplier.
const vegasProbeMultiplier = 30

// NewVegas returns a Vegas configured by cfg.
func NewVegas(cfg VegasConfig) *Vegas {
	if cfg.Initial == 0 {
		cfg.Initial = 20
	}
	if cfg.Min == 0 {
		cfg.Min = 1
	}
	if cfg.Max == 0 {
		cfg.Max = 1000
	}
	if cfg.Smoothing == 0 {
		cfg.Smoothing = 1
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func() float64 { return 0.5 + rand.Float64()/2 }
	}
	v := &Vegas{cfg: cfg, estimate: float64(cfg.Initial)}
	v.jitter = cfg.Jitter()
	return v
}

// log10Int is NCL's Log10RootIntFunction: max(1, ⌊log10 t⌋) below 1000, ⌊log10 t⌋ above.
func log10Int(t int) int {
	if t < 1000 {
		if t < 10 {
			return 1
		}
		return max(1, int(math.Log10(float64(t))))
	}
	return int(math.Log10(float64(t)))
}

// Update applies one window's sample and returns the new limit. A sample with an RTT of
// 0 or less leaves the limit alone.
func (v *Vegas) Update(s LimitSample) int {
	if s.RTT <= 0 {
		return int(v.estimate)
	}
	v.probeCount++
	if v.jitter*vegasProbeMultiplier*v.estimate <= float64(v.probeCount) {
		v.jitter, v.probeCount, v.noLoad = v.cfg.Jitter(), 0, s.RTT
		return int(v.estimate)
	}
	if v.noLoad == 0 || s.RTT < v.noLoad {
		v.noLoad = s.RTT
		return int(v.estimate)
	}
	est := v.estimate
	queue := int(math.Ceil(est * (1 - float64(v.noLoad)/float64(s.RTT))))
	var next float64
	switch {
	case s.Dropped:
		next = v.decrease(est)
	case float64(s.InFlight*2) < est:
		return int(est)
	default:
		l := int(est)
		alpha, beta, threshold := 3*log10Int(l), 6*log10Int(l), log10Int(l)
		if v.cfg.Alpha != 0 {
			alpha = v.cfg.Alpha
		}
		if v.cfg.Beta != 0 {
			beta = v.cfg.Beta
		}
		switch {
		case queue <= threshold:
			next = est + float64(beta)
		case queue < alpha:
			next = est + float64(log10Int(l))
		case queue > beta:
			next = v.decrease(est)
		default:
			return int(est)
		}
	}
	next = math.Max(float64(v.cfg.Min), math.Min(float64(v.cfg.Max), next))
	next = (1-v.cfg.Smoothing)*est + v.cfg.Smoothing*next
	v.estimate = next
	return int(next)
}

func (v *Vegas) decrease(est float64) float64 {
	if v.cfg.Decrease != nil {
		return v.cfg.Decrease(est)
	}
	return est - float64(log10Int(int(est)))
}

// Limit returns the current limit.
func (v *Vegas) Limit() int { return int(v.estimate) }

// NoLoadRTT returns the RTT Vegas takes as the dependency's latency without queueing.
func (v *Vegas) NoLoadRTT() time.Duration { return v.noLoad }

package main

import (
	"math/rand/v2"
	"time"
)

// phase is one stretch of the downstream service's life.
type phase int

// The phases, in the order they happen.
const (
	healthy phase = iota
	failing
	slow
	recovering
	numPhases
)

var phaseNames = [numPhases]string{"healthy", "failing", "slow", "recovering"}

// String returns the phase's name.
func (p phase) String() string {
	if p < 0 || p >= numPhases {
		return "unknown"
	}
	return phaseNames[p]
}

// share is the fraction of the run each phase lasts. The recovering phase is the longest,
// so the breaker has time to half-open (after its one-second recovery timeout) and close.
var share = [numPhases]float64{0.2, 0.3, 0.2, 0.3}

// story says what each phase does, for the start of the run.
var story = [numPhases]string{
	"1% errors, 5-20ms",
	"every call fails with HTTP 500",
	"latency climbs from 40ms to 300ms, past the 200ms timeout, until timeouts trip the breaker",
	"1% errors, 5-20ms",
}

// schedule places the phases on the wall clock: the run starts at start and lasts total.
type schedule struct {
	start time.Time
	total time.Duration
}

// at returns the phase at t and how far through it t is, from 0 to 1.
func (s schedule) at(t time.Time) (phase, float64) {
	f := float64(t.Sub(s.start)) / float64(s.total)
	from := 0.0
	for p := healthy; p < numPhases; p++ {
		if f < from+share[p] || p == numPhases-1 {
			progress := (f - from) / share[p]
			return p, min(max(progress, 0), 1)
		}
		from += share[p]
	}
	return recovering, 1
}

// phaseAt returns the phase at t.
func (s schedule) phaseAt(t time.Time) phase {
	p, _ := s.at(t)
	return p
}

// behaviour is what the downstream does with one request during phase p, progress of
// the way through it: how long it takes and whether it fails.
func behaviour(p phase, progress float64) (latency time.Duration, fail bool) {
	between := func(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo) }
	switch p {
	case failing:
		return between(2*time.Millisecond, 10*time.Millisecond), true
	case slow:
		// The base latency ramps up through the phase, ±25%.
		base := 40*time.Millisecond + time.Duration(progress*float64(260*time.Millisecond))
		return between(base*3/4, base*5/4), rand.Float64() < 0.02
	default:
		return between(5*time.Millisecond, 20*time.Millisecond), rand.Float64() < 0.01
	}
}

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

// share is the fraction of the run each phase lasts. The phases are sized in units of
// the breaker's recovery timeout, which is a twelfth of the run (see recoveryTimeout):
// healthy 2.4 of them, failing 3, slow 3, recovering 3.6. So the story is the same for
// every -duration: the breaker, open at the end of the failing phase, half-opens and
// closes in the first third of the slow phase, while the latency still holds; and the
// recovering phase leaves it room to half-open, and to try a second probe, before the run
// ends.
var share = [numPhases]float64{0.2, 0.25, 0.25, 0.3}

// loadFactor is how many times the base rate each phase offers: the recovering phase
// doubles it, the refused clients coming back, and the limiter sheds what passes its
// rate. The other phases offer the base rate, under the limiter's (see defaultConfig).
var loadFactor = [numPhases]float64{1, 1, 1, 2}

// story says what each phase does, for the start of the run.
var story = [numPhases]string{
	"1% errors, 5-20ms",
	"every call fails with HTTP 500",
	"latency holds at 40ms, then climbs to 300ms, past the 200ms timeout, until timeouts trip the breaker",
	"1% errors, 5-20ms; clients come back at twice the rate, and the limiter sheds what passes its own",
}

// The shape of the slow phase's latency: it holds at slowFrom until slowHold of the way
// through the phase (time for the breaker, open since the failing phase, to half-open
// and close: it half-opens within the first third), climbs to slowTo by slowPeak, and
// stays there, so every attempt from then on times out and five of them in a row trip
// the breaker well before the phase ends.
const (
	slowFrom = 40 * time.Millisecond
	slowTo   = 300 * time.Millisecond
	slowHold = 0.4
	slowPeak = 0.6
)

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
		// The base latency holds, then ramps up through the phase; each call takes it ±25%.
		// No errors: the timeouts are this phase's failures.
		ramp := min(max((progress-slowHold)/(slowPeak-slowHold), 0), 1)
		base := slowFrom + time.Duration(ramp*float64(slowTo-slowFrom))
		return between(base*3/4, base*5/4), false
	default:
		return between(5*time.Millisecond, 20*time.Millisecond), rand.Float64() < 0.01
	}
}

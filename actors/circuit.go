package actors

import (
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// Circuit is the circuit-breaker state machine: its trip rule (today consecutive
// failures, see tripRule) opens it, the recovery timeout moves it to half-open,
// SuccessThreshold probe successes close it and any probe failure opens it again. Its methods take the current time and never read the
// clock, so it is tested without actors or sleeps.
//
// The zero value is not usable; build one with NewCircuit. A Circuit is not safe for
// concurrent use: the Breaker actor is its only user.
type Circuit struct {
	cfg        policy.CircuitBreakerPolicy
	threshold  int      // successes needed in half-open, at least 1
	rule       tripRule // when a closed circuit opens
	state      messages.BreakerState
	generation uint64
	lastChange time.Time
	openUntil  time.Time

	probes    int // probes in flight while half-open
	probeWins int // probe successes in this half-open period

	successes, failures, rejected, trips uint64
}

// NewCircuit returns a closed circuit configured by p (which must be valid) at time now.
func NewCircuit(p policy.CircuitBreakerPolicy, now time.Time) *Circuit {
	c := &Circuit{lastChange: now, generation: 1, rule: &consecutiveRule{}}
	c.Reconfigure(p)
	return c
}

// Reconfigure changes the thresholds and recovery timeout, keeping state and counters.
// A closed circuit whose consecutive failures already reach the new threshold stays
// closed until its next failure.
func (c *Circuit) Reconfigure(p policy.CircuitBreakerPolicy) {
	c.cfg = p
	c.threshold = p.EffectiveSuccessThreshold()
	c.rule.reconfigure(p)
}

// State returns the current state.
func (c *Circuit) State() messages.BreakerState { return c.state }

// Generation returns the current generation; it grows on every state change, and
// outcomes reported for an older generation are ignored.
func (c *Circuit) Generation() uint64 { return c.generation }

// OpenUntil returns when an open circuit becomes due for half-open (zero otherwise).
func (c *Circuit) OpenUntil() time.Time { return c.openUntil }

// Idle reports whether the circuit holds nothing worth keeping: closed, with no
// failures pending.
func (c *Circuit) Idle() bool { return c.state == messages.Closed && c.rule.idle() }

// Stats returns the circuit's counters. Successes that callers counted outside the
// circuit (see ObserveSuccesses) are included only once observed.
func (c *Circuit) Stats() messages.BreakerStats {
	return messages.BreakerStats{
		State: c.state, Successes: c.successes, Failures: c.failures,
		Rejected: c.rejected, Trips: c.trips, LastChange: c.lastChange,
	}
}

// ObserveSuccesses records n successes of closed-state calls that callers counted
// without asking the actor. Any success resets the consecutive failure count of a closed
// circuit, which is what makes the failure threshold count consecutive failures.
func (c *Circuit) ObserveSuccesses(n uint64) {
	if n == 0 {
		return
	}
	c.successes += n
	if c.state == messages.Closed {
		c.rule.succeeded(n)
	}
}

// ObserveRejections adds n calls that callers refused from the published view.
func (c *Circuit) ObserveRejections(n uint64) { c.rejected += n }

// ObserveFailures records n failures of closed-state calls that callers counted without
// a Report each, as n Reports of the current generation, and reports whether the state
// changed. A circuit that is not closed ignores them, as it ignores Reports of a closed
// generation it has left; so do the failures left over once they trip it.
func (c *Circuit) ObserveFailures(now time.Time, n uint64) bool {
	for ; n > 0 && c.state == messages.Closed; n-- {
		if c.Record(now, c.generation, messages.Failure, false) {
			return true
		}
	}
	return false
}

// Advance moves an open circuit to half-open once its recovery timeout has passed. It
// reports whether the state changed.
func (c *Circuit) Advance(now time.Time) bool {
	if c.state != messages.Open || now.Before(c.openUntil) {
		return false
	}
	c.moveTo(messages.HalfOpen, now)
	return true
}

// Acquire asks for a half-open probe permit at now. It returns the generation the
// permit belongs to, or ok false and how long until a retry may succeed. A closed
// circuit grants without counting a probe; an open circuit due for half-open moves there
// first.
func (c *Circuit) Acquire(now time.Time) (generation uint64, retryAfter time.Duration, ok bool) {
	c.Advance(now)
	switch c.state {
	case messages.Closed:
		return c.generation, 0, true
	case messages.HalfOpen:
		if c.probes < c.threshold-c.probeWins {
			c.probes++
			return c.generation, 0, true
		}
		c.rejected++
		return 0, 0, false
	default:
		c.rejected++
		return 0, c.openUntil.Sub(now), false
	}
}

// Record applies the outcome of a call admitted in generation at now and reports
// whether the state changed. Outcomes of an older generation are ignored, except that a
// probe from the current half-open period frees its slot. probe says whether the call
// held a half-open permit.
func (c *Circuit) Record(now time.Time, generation uint64, outcome messages.Outcome, probe bool) bool {
	if generation != c.generation {
		return false
	}
	if probe && c.state == messages.HalfOpen && c.probes > 0 {
		c.probes--
	}
	switch outcome {
	case messages.Success:
		c.successes++
		switch c.state {
		case messages.Closed:
			c.rule.succeeded(1)
		case messages.HalfOpen:
			if probe {
				c.probeWins++
				if c.probeWins >= c.threshold {
					c.moveTo(messages.Closed, now)
					return true
				}
			}
		}
	case messages.Failure:
		c.failures++
		switch c.state {
		case messages.Closed:
			if c.rule.failed() {
				c.trip(now)
				return true
			}
		case messages.HalfOpen:
			c.trip(now)
			return true
		}
	}
	return false
}

func (c *Circuit) trip(now time.Time) {
	c.trips++
	c.openUntil = now.Add(c.cfg.RecoveryTimeout)
	c.moveTo(messages.Open, now)
}

func (c *Circuit) moveTo(s messages.BreakerState, now time.Time) {
	c.state = s
	c.generation++
	c.lastChange = now
	c.probes, c.probeWins = 0, 0
	c.rule.reset()
	if s != messages.Open {
		c.openUntil = time.Time{}
	}
}

// CircuitSnapshot is a Circuit's state and counters, without its configuration: what an
// owner hands to the next one (cluster mode) so the breaker goes on where it was. It is
// plain data and round-trips through encoding/json.
type CircuitSnapshot struct {
	// Stats is the state, when it last changed, and the counters.
	Stats messages.BreakerStats `json:"stats"`
	// Generation is the circuit's generation: Reports of older ones are dropped.
	Generation uint64 `json:"generation"`
	// OpenUntil is when an open circuit becomes due for half-open (zero otherwise).
	OpenUntil time.Time `json:"open_until"`
	// Consecutive is the consecutive failures counted while closed (the trip rule's state).
	Consecutive int `json:"consecutive"`
	// Probes and ProbeWins are the probes in flight and the probe successes of the
	// current half-open period.
	Probes    int `json:"probes"`
	ProbeWins int `json:"probe_wins"`
}

// Snapshot returns the circuit's state and counters.
func (c *Circuit) Snapshot() CircuitSnapshot {
	s := CircuitSnapshot{Stats: c.Stats(), Generation: c.generation, OpenUntil: c.openUntil, Probes: c.probes, ProbeWins: c.probeWins}
	c.rule.save(&s)
	return s
}

// Restore replaces the circuit's state and counters with s, keeping its configuration
// (the receiving owner's policy). A restored circuit behaves as the one s was taken from.
func (c *Circuit) Restore(s CircuitSnapshot) {
	st := s.Stats
	c.state, c.lastChange = st.State, st.LastChange
	c.successes, c.failures, c.rejected, c.trips = st.Successes, st.Failures, st.Rejected, st.Trips
	c.generation, c.openUntil, c.probes, c.probeWins = s.Generation, s.OpenUntil, s.Probes, s.ProbeWins
	c.rule.load(s)
}

// tripRule decides when a closed circuit opens. The circuit calls it only while closed
// and resets it on every state change; it runs inside the breaker actor, off the callers'
// path, so an interface costs nothing that matters. A new rule (count or time windows,
// failure rates) is a new type in its own file, chosen in NewCircuit.
type tripRule interface {
	// reconfigure takes the thresholds of p, keeping what the rule counted.
	reconfigure(p policy.CircuitBreakerPolicy)
	// succeeded records n closed-state successes.
	succeeded(n uint64)
	// failed records one closed-state failure and reports whether the circuit must open.
	failed() bool
	// reset forgets what the rule counted (the state changed).
	reset()
	// idle reports whether the rule counted nothing worth keeping.
	idle() bool
	// save writes the rule's state into s, and load reads it back.
	save(s *CircuitSnapshot)
	load(s CircuitSnapshot)
}

// consecutiveRule opens the circuit after FailureThreshold consecutive failures: any
// success starts the count again.
type consecutiveRule struct {
	threshold int
	count     int
}

var _ tripRule = (*consecutiveRule)(nil)

func (r *consecutiveRule) reconfigure(p policy.CircuitBreakerPolicy) {
	r.threshold = p.FailureThreshold
}
func (r *consecutiveRule) succeeded(uint64)        { r.count = 0 }
func (r *consecutiveRule) reset()                  { r.count = 0 }
func (r *consecutiveRule) idle() bool              { return r.count == 0 }
func (r *consecutiveRule) save(s *CircuitSnapshot) { s.Consecutive = r.count }
func (r *consecutiveRule) load(s CircuitSnapshot)  { r.count = s.Consecutive }

func (r *consecutiveRule) failed() bool {
	r.count++
	return r.count >= r.threshold
}

package actors

import (
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// Circuit is the circuit-breaker state machine. Closed, its trip rule opens it: in
// consecutive mode (the zero Window) FailureThreshold failures in a row; in window modes
// a Window's thresholds (count-in-window, failure rate, slow-call rate; specs/breadth.md
// CB-1…CB-7). Open, it waits its open delay (OpenDelay over the trips since it last
// closed, CB-11) and moves to half-open. Half-open, it admits probes: in consecutive mode
// SuccessThreshold probe successes close it and any probe failure reopens it; in window
// modes Probes give the verdict as soon as it is certain (CB-8); MaxHalfOpen bounds the
// wait for a verdict (CB-9). The manual states (SetMode, CB-12) are sticky: ForcedOpen
// refuses every call, Disabled admits every call and records nothing, MetricsOnly admits
// every call, records, and signals each threshold crossing instead of opening.
//
// Its methods take the current time and never read the clock, so it is tested without
// actors or sleeps. Every state change is kept as a Transition until Transitions takes it.
//
// The zero value is not usable; build one with NewCircuit. A Circuit is not safe for
// concurrent use: the Breaker actor is its only user.
type Circuit struct {
	cfg       policy.CircuitBreakerPolicy
	threshold int      // successes needed in half-open (consecutive mode), at least 1
	halfOpen  int      // probes per half-open period, at least 1
	windowed  bool     // window mode: rule is a *windowRule
	rule      tripRule // when a closed circuit opens
	state     messages.BreakerState
	// generation grows on every state change; Reports of older ones are dropped.
	generation    uint64
	lastChange    time.Time
	openUntil     time.Time // open, or forced open for a while: when it goes half-open
	halfOpenUntil time.Time // half-open with MaxHalfOpen: when it reopens without a verdict
	now           time.Time // the latest time the circuit was given

	probes    int    // probes in flight while half-open
	probeWins int    // probe successes in this half-open period (consecutive mode)
	judge     Probes // the probes' verdict (window modes)

	tripsSinceClose int  // trips since the circuit last closed (OpenBackoff's n)
	exceeded        bool // MetricsOnly: a threshold is met and was signalled

	changes []Transition // state changes and signals not yet taken

	successes, failures, rejected, trips uint64
	slowCalls                            uint64 // slow calls recorded, ever (TotalSlowCalls)
}

// Transition is one state change of a Circuit, or (Exceeded) one threshold crossing of a
// circuit in MetricsOnly mode, which does not change its state.
type Transition struct {
	// From and To are the states before and after (both MetricsOnly for a crossing).
	From, To messages.BreakerState
	// At is when it happened.
	At time.Time
	// Reason says why.
	Reason TransitionReason
	// Counts are the window's counts at that moment: the closed window's, or the probes'
	// when the change ends a half-open period. In consecutive mode Calls and Failures
	// are the consecutive failures counted.
	Counts WindowCounts
	// Exceeded marks a threshold crossing in MetricsOnly mode rather than a state change.
	Exceeded bool
}

// maxTransitions bounds the transitions a Circuit keeps for Transitions: a user that never
// takes them loses the oldest.
const maxTransitions = 8

// NewCircuit returns a closed circuit configured by p (which must be valid) at time now.
func NewCircuit(p policy.CircuitBreakerPolicy, now time.Time) *Circuit {
	c := &Circuit{lastChange: now, generation: 1, now: now}
	c.Reconfigure(p)
	return c
}

// Reconfigure changes the thresholds, the window and the delays, keeping the state, the
// counters and the manual mode. In consecutive mode a closed circuit whose consecutive
// failures already reach the new threshold stays closed until its next failure. A window
// of the same shape keeps its outcomes, and its new thresholds are judged at the next
// Advance or record; a window of another shape, or a change between consecutive and
// window modes, starts empty.
func (c *Circuit) Reconfigure(p policy.CircuitBreakerPolicy) {
	c.cfg = p
	c.threshold = p.EffectiveSuccessThreshold()
	c.halfOpen = p.HalfOpenCalls
	if c.halfOpen <= 0 {
		c.halfOpen = c.threshold
	}
	windowed := !p.Window.IsZero()
	if c.rule == nil || windowed != c.windowed {
		c.windowed = windowed
		if windowed {
			c.rule = &windowRule{w: NewWindow(windowConfig(p), c.now)}
		} else {
			c.rule = &consecutiveRule{}
		}
	}
	c.rule.reconfigure(p, c.now)
}

// windowConfig returns the Window configuration of a window-mode policy.
func windowConfig(p policy.CircuitBreakerPolicy) WindowConfig {
	return WindowConfig{
		Count: p.Window.Count, Period: p.Window.Period, Buckets: p.Window.Buckets,
		FailureThreshold: p.FailureThreshold, FailureRate: p.FailureRate, MinimumCalls: p.MinimumCalls,
		SlowCall: p.SlowCall > 0, SlowCallRate: p.SlowCallRate,
	}.Resolve()
}

// State returns the current state.
func (c *Circuit) State() messages.BreakerState { return c.state }

// Generation returns the current generation; it grows on every state change, and
// outcomes reported for an older generation are ignored.
func (c *Circuit) Generation() uint64 { return c.generation }

// OpenUntil returns when an open circuit becomes due for half-open, or a circuit forced
// open for a while moves to half-open (zero otherwise).
func (c *Circuit) OpenUntil() time.Time { return c.openUntil }

// Windowed reports whether the circuit judges a window (the policy's Window is set).
func (c *Circuit) Windowed() bool { return c.windowed }

// Timed reports whether the circuit judges a time window.
func (c *Circuit) Timed() bool { return c.windowed && c.cfg.Window.Period > 0 }

// SlowCall returns the duration past which callers must report a call as slow, or 0
// when slow calls are not judged (consecutive mode, no SlowCall, or Disabled).
func (c *Circuit) SlowCall() time.Duration {
	if !c.windowed || c.state == messages.Disabled {
		return 0
	}
	return c.cfg.SlowCall
}

// Admits reports whether the state admits every call without asking: closed, disabled
// or metrics-only.
func (c *Circuit) Admits() bool {
	switch c.state {
	case messages.Closed, messages.Disabled, messages.MetricsOnly:
		return true
	}
	return false
}

// Manual reports whether the circuit is in a manual state (ForcedOpen, Disabled,
// MetricsOnly), which only SetMode leaves (or, for ForcedOpen with a duration, time).
func (c *Circuit) Manual() bool {
	switch c.state {
	case messages.ForcedOpen, messages.Disabled, messages.MetricsOnly:
		return true
	}
	return false
}

// Idle reports whether the circuit holds nothing worth keeping at its latest time:
// closed (so automatic), with no failure pending in consecutive mode, and no failure or
// slow call in the window in window modes.
func (c *Circuit) Idle() bool { return c.state == messages.Closed && c.rule.idle(c.now) }

// Counts returns the closed window's counts at now (zero in consecutive mode).
func (c *Circuit) Counts(now time.Time) WindowCounts {
	if !c.windowed {
		return WindowCounts{}
	}
	return c.rule.counts(now)
}

// Stats returns the circuit's counters, and the window's counts as of the latest time
// the circuit was given. Successes that callers counted outside the circuit (see
// ObserveSuccesses) are included only once observed.
func (c *Circuit) Stats() messages.BreakerStats {
	s := messages.BreakerStats{
		State: c.state, Successes: c.successes, Failures: c.failures,
		Rejected: c.rejected, Trips: c.trips, LastChange: c.lastChange,
		OpenUntil: c.openUntil, ConsecutiveTrips: c.tripsSinceClose, TotalSlowCalls: c.slowCalls,
	}
	if c.windowed {
		n := c.rule.counts(c.now)
		s.Calls, s.SlowCalls = n.Calls, n.SlowCalls
		s.FailureRate, s.SlowCallRate = n.FailureRate(), n.SlowCallRate()
	} else if c.state == messages.Closed || c.state == messages.MetricsOnly {
		s.ConsecutiveFailures = int(c.rule.counts(c.now).Failures)
	}
	return s
}

// Transitions returns the state changes (and MetricsOnly crossings) since the last call,
// oldest first, and forgets them. The slice is valid until the next change.
func (c *Circuit) Transitions() []Transition {
	t := c.changes
	c.changes = c.changes[:0]
	return t
}

func (c *Circuit) note(t Transition) {
	if len(c.changes) == maxTransitions {
		copy(c.changes, c.changes[1:])
		c.changes = c.changes[:maxTransitions-1]
	}
	c.changes = append(c.changes, t)
}

func (c *Circuit) at(now time.Time) {
	if now.After(c.now) {
		c.now = now
	}
}

// ObserveSuccesses records n successes of closed-state calls that callers counted
// without asking the actor, at the latest time the circuit was given
// (ObserveSuccessesAt). Any success resets the consecutive failure count of a closed
// circuit, which is what makes the failure threshold count consecutive failures.
func (c *Circuit) ObserveSuccesses(n uint64) { c.ObserveSuccessesAt(c.now, n) }

// ObserveSuccessesAt records n successes that callers counted without asking the actor,
// as completed at now, and reports whether the state changed: in window modes the
// success that completes MinimumCalls can trip a closed circuit (CB-7). A disabled
// circuit records nothing; one in another state counts them in Successes only.
func (c *Circuit) ObserveSuccessesAt(now time.Time, n uint64) bool {
	c.at(now)
	if n == 0 || c.state == messages.Disabled {
		return false
	}
	c.successes += n
	switch c.state {
	case messages.Closed:
		if r := c.rule.successes(now, n); r != NoReason {
			c.trip(now, r, 0)
			return true
		}
	case messages.MetricsOnly:
		c.signal(now, c.rule.successes(now, n))
	}
	return false
}

// ObserveRejections adds n calls that callers refused from the published view.
func (c *Circuit) ObserveRejections(n uint64) { c.rejected += n }

// ObserveFailures records n failures of closed-state calls that callers counted without
// a Report each, as n Reports of the current generation, and reports whether the state
// changed. A circuit that is neither closed nor metrics-only ignores them, as it ignores
// Reports of a closed generation it has left; so do the failures left over once they
// trip it.
func (c *Circuit) ObserveFailures(now time.Time, n uint64) bool {
	for ; n > 0 && (c.state == messages.Closed || c.state == messages.MetricsOnly); n-- {
		if c.Record(now, c.generation, messages.Failure, false) {
			return true
		}
	}
	return false
}

// Advance applies what time alone changes at now, and reports whether the state changed:
// an open circuit whose delay has passed, or one forced open for a while whose time is
// up, moves to half-open; a half-open circuit past MaxHalfOpen without a verdict opens
// again (CB-9); a closed time window whose old buckets expired is judged again, which can
// trip it (a MetricsOnly one signals instead).
func (c *Circuit) Advance(now time.Time) bool {
	c.at(now)
	switch c.state {
	case messages.Open:
		if now.Before(c.openUntil) {
			return false
		}
		c.moveTo(messages.HalfOpen, now, ReasonRecoveryElapsed)
		return true
	case messages.ForcedOpen:
		if c.openUntil.IsZero() || now.Before(c.openUntil) {
			return false
		}
		c.moveTo(messages.HalfOpen, now, ReasonRecoveryElapsed)
		return true
	case messages.HalfOpen:
		if c.halfOpenUntil.IsZero() || now.Before(c.halfOpenUntil) {
			return false
		}
		c.trip(now, ReasonProbeTimeout, 0)
		return true
	case messages.Closed:
		if c.windowed {
			if r := c.rule.evaluate(now); r != NoReason {
				c.trip(now, r, 0)
				return true
			}
		}
	case messages.MetricsOnly:
		if c.windowed {
			c.signal(now, c.rule.evaluate(now))
		}
	}
	return false
}

// NextDeadline returns the next time after which Advance may change something: the end
// of the open delay (or of a ForcedOpen duration), the MaxHalfOpen bound, or the next
// expiry of a closed time window's buckets. ok is false when only a call or SetMode can
// change the circuit.
func (c *Circuit) NextDeadline(now time.Time) (at time.Time, ok bool) {
	switch c.state {
	case messages.Open, messages.ForcedOpen:
		return c.openUntil, !c.openUntil.IsZero()
	case messages.HalfOpen:
		return c.halfOpenUntil, !c.halfOpenUntil.IsZero()
	case messages.Closed, messages.MetricsOnly:
		if c.windowed {
			return c.rule.nextExpiry(now)
		}
	}
	return time.Time{}, false
}

// NextBoundary returns the start of a time window's next bucket after now: the actor
// drains the successes callers counted on the side there (see Window.NextBoundary). ok
// is false for consecutive mode and count windows.
func (c *Circuit) NextBoundary(now time.Time) (at time.Time, ok bool) {
	if !c.Timed() {
		return time.Time{}, false
	}
	return c.rule.(*windowRule).w.NextBoundary(now)
}

// SuccessesCanTrip reports whether successes alone could trip the closed circuit at now
// (Window.SuccessesCanTrip, CB-7): while true, callers must report every success by
// message. Always false in consecutive mode and outside the closed state.
func (c *Circuit) SuccessesCanTrip(now time.Time) bool {
	return c.state == messages.Closed && c.windowed && c.rule.successesCanTrip(now)
}

// Acquire asks for a half-open probe permit at now. It returns the generation the
// permit belongs to, or ok false and how long until a retry may succeed (0: unknown, as
// for a circuit forced open until reset). A circuit that admits every call (closed,
// disabled, metrics-only) grants without counting a probe; an open circuit due for
// half-open moves there first.
func (c *Circuit) Acquire(now time.Time) (generation uint64, retryAfter time.Duration, ok bool) {
	c.Advance(now)
	switch c.state {
	case messages.Closed, messages.Disabled, messages.MetricsOnly:
		return c.generation, 0, true
	case messages.HalfOpen:
		if c.probes < c.probeSlots() {
			c.probes++
			return c.generation, 0, true
		}
		c.rejected++
		return 0, 0, false
	default:
		c.rejected++
		if c.openUntil.IsZero() {
			return 0, 0, false
		}
		return 0, max(c.openUntil.Sub(now), 0), false
	}
}

// probeSlots returns how many probes may be in flight: in window modes as many as a
// verdict may still need, in consecutive mode as many as closing still needs, at most
// HalfOpenCalls.
func (c *Circuit) probeSlots() int {
	if c.windowed {
		return c.judge.Remaining()
	}
	return min(c.halfOpen, c.threshold-c.probeWins)
}

// Record applies the outcome of a call admitted in generation at now and reports
// whether the state changed; it is Apply without Slow and RetryAfter.
func (c *Circuit) Record(now time.Time, generation uint64, outcome messages.Outcome, probe bool) bool {
	return c.Apply(now, &messages.Report{Generation: generation, Outcome: outcome, Probe: probe})
}

// Apply applies the outcome r reports, of a call admitted in r.Generation, at now, and
// reports whether the state changed. Outcomes of an older generation are ignored, except
// that a probe from the current half-open period frees its slot; so is a Neutral outcome
// (CB-10). r.Slow counts the call toward the slow-call rate (window modes), and a failure
// that trips the circuit lengthens its open delay to r.RetryAfter under HonorRetryAfter.
// A disabled circuit records nothing.
func (c *Circuit) Apply(now time.Time, r *messages.Report) bool {
	c.at(now)
	if r.Generation != c.generation {
		return false
	}
	if r.Probe && c.state == messages.HalfOpen && c.probes > 0 {
		c.probes--
	}
	if c.state == messages.Disabled || (r.Outcome != messages.Success && r.Outcome != messages.Failure) {
		return false
	}
	failure := r.Outcome == messages.Failure
	slow := r.Slow && c.windowed
	if failure {
		c.failures++
	} else {
		c.successes++
	}
	if slow {
		c.slowCalls++
	}
	switch c.state {
	case messages.Closed:
		if reason := c.rule.record(now, failure, slow); reason != NoReason {
			c.trip(now, reason, r.RetryAfter)
			return true
		}
	case messages.MetricsOnly:
		c.signal(now, c.rule.record(now, failure, slow))
	case messages.HalfOpen:
		if c.windowed {
			if !r.Probe && !failure {
				return false
			}
			switch c.judge.Record(failure, slow) {
			case ReasonProbeFailed:
				c.trip(now, ReasonProbeFailed, r.RetryAfter)
				return true
			case ReasonProbesSucceeded:
				c.close(now, ReasonProbesSucceeded)
				return true
			}
			return false
		}
		if failure {
			c.trip(now, ReasonProbeFailed, r.RetryAfter)
			return true
		}
		if r.Probe {
			c.probeWins++
			if c.probeWins >= c.threshold {
				c.close(now, ReasonProbesSucceeded)
				return true
			}
		}
	}
	return false
}

// SetMode sets the manual state mode at now (CB-12) and reports whether the state
// changed: ForcedOpen refuses every call, until SetMode again when d is 0, else for d and
// then half-open; Disabled admits every call and records nothing; MetricsOnly admits
// every call, records, and signals each threshold crossing (a Transition with Exceeded)
// instead of opening; Closed resets the circuit: automatic, closed, window emptied, trips
// since close 0. A circuit keeps its manual state across Reconfigure. Any other mode is
// an error, and changes nothing.
func (c *Circuit) SetMode(now time.Time, mode messages.BreakerState, d time.Duration) (bool, error) {
	c.at(now)
	from := c.state
	switch mode {
	case messages.Closed:
		c.close(now, ReasonManual)
	case messages.ForcedOpen:
		c.moveTo(messages.ForcedOpen, now, ReasonManual)
		if d > 0 {
			c.openUntil = now.Add(d)
		}
	case messages.Disabled, messages.MetricsOnly:
		c.moveTo(mode, now, ReasonManual)
	default:
		return false, fmt.Errorf("actors: breaker mode %v is not a manual state", mode)
	}
	return c.state != from, nil
}

// signal notes a MetricsOnly threshold crossing: once when the window first meets a
// threshold, again only after it stopped meeting every one.
func (c *Circuit) signal(now time.Time, r TransitionReason) {
	if r == NoReason {
		c.exceeded = false
		return
	}
	if !c.exceeded {
		c.exceeded = true
		c.note(Transition{From: c.state, To: c.state, At: now, Reason: r, Counts: c.ruleCounts(now), Exceeded: true})
	}
}

func (c *Circuit) trip(now time.Time, reason TransitionReason, retryAfter time.Duration) {
	c.trips++
	c.tripsSinceClose++
	delay := OpenDelay(c.tripsSinceClose, c.cfg.OpenBackoff, c.cfg.RecoveryTimeout, c.cfg.HonorRetryAfter, retryAfter)
	c.moveTo(messages.Open, now, reason)
	c.openUntil = now.Add(delay)
}

func (c *Circuit) close(now time.Time, reason TransitionReason) {
	c.tripsSinceClose = 0
	c.moveTo(messages.Closed, now, reason)
}

// ruleCounts returns the counts an event carries: the window's, or in consecutive mode
// the consecutive failures as calls and failures.
func (c *Circuit) ruleCounts(now time.Time) WindowCounts { return c.rule.counts(now) }

// eventCounts returns the counts a transition out of the current state for reason
// carries.
func (c *Circuit) eventCounts(now time.Time, reason TransitionReason) WindowCounts {
	if c.state != messages.HalfOpen {
		return c.ruleCounts(now)
	}
	if c.windowed {
		return c.judge.Counts()
	}
	n := WindowCounts{Calls: uint64(c.probeWins)}
	if reason == ReasonProbeFailed {
		n.Calls++
		n.Failures = 1
	}
	return n
}

func (c *Circuit) moveTo(s messages.BreakerState, now time.Time, reason TransitionReason) {
	from := c.state
	counts := c.eventCounts(now, reason)
	c.state = s
	c.generation++
	c.lastChange = now
	c.probes, c.probeWins = 0, 0
	c.exceeded = false
	c.halfOpenUntil = time.Time{}
	if s == messages.HalfOpen {
		if c.windowed {
			c.judge = NewProbes(windowConfig(c.cfg), c.halfOpen)
		}
		if c.cfg.MaxHalfOpen > 0 {
			c.halfOpenUntil = now.Add(c.cfg.MaxHalfOpen)
		}
	}
	c.openUntil = time.Time{}
	if !c.windowed || s == messages.Closed {
		c.rule.reset(now)
	}
	if from != s {
		c.note(Transition{From: from, To: s, At: now, Reason: reason, Counts: counts})
	}
}

// CircuitSnapshot is a Circuit's state and counters, without its configuration: what an
// owner hands to the next one (cluster mode) so the breaker goes on where it was. It is
// plain data and round-trips through encoding/json. A manual state is in Stats.State.
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
	// HalfOpenUntil is when a half-open circuit reopens without a verdict (MaxHalfOpen).
	HalfOpenUntil time.Time `json:"half_open_until,omitzero"`
	// ProbeCounts are the probe outcomes of the current half-open period (window modes).
	ProbeCounts WindowCounts `json:"probe_counts,omitzero"`
	// TripsSinceClose counts the trips since the circuit last closed.
	TripsSinceClose int `json:"trips_since_close,omitempty"`
	// Exceeded is true when a MetricsOnly circuit has signalled a crossing it is still past.
	Exceeded bool `json:"exceeded,omitempty"`
	// Window is the closed window's outcomes (window modes).
	Window *WindowSnapshot `json:"window,omitempty"`
}

// Snapshot returns the circuit's state and counters.
func (c *Circuit) Snapshot() CircuitSnapshot {
	s := CircuitSnapshot{
		Stats: c.Stats(), Generation: c.generation, OpenUntil: c.openUntil, Probes: c.probes, ProbeWins: c.probeWins,
		HalfOpenUntil: c.halfOpenUntil, TripsSinceClose: c.tripsSinceClose, Exceeded: c.exceeded,
	}
	if c.windowed && c.state == messages.HalfOpen {
		s.ProbeCounts = c.judge.Counts()
	}
	c.rule.save(&s)
	return s
}

// Restore replaces the circuit's state and counters with s, keeping its configuration
// (the receiving owner's policy). A restored circuit behaves as the one s was taken from;
// a window of another shape than the receiver's starts empty.
func (c *Circuit) Restore(s CircuitSnapshot) {
	st := s.Stats
	c.state, c.lastChange = st.State, st.LastChange
	c.at(st.LastChange)
	c.successes, c.failures, c.rejected, c.trips = st.Successes, st.Failures, st.Rejected, st.Trips
	c.slowCalls = st.TotalSlowCalls
	c.generation, c.openUntil, c.probes, c.probeWins = s.Generation, s.OpenUntil, s.Probes, s.ProbeWins
	c.halfOpenUntil, c.tripsSinceClose, c.exceeded = s.HalfOpenUntil, s.TripsSinceClose, s.Exceeded
	if c.windowed && c.state == messages.HalfOpen {
		c.judge = NewProbes(windowConfig(c.cfg), c.halfOpen)
		c.judge.counts = s.ProbeCounts
	}
	c.rule.load(s, c.now)
}

// tripRule decides when a closed circuit opens. The circuit calls it while closed (or
// metrics-only); consecutive mode resets it on every state change, window modes when the
// circuit closes. It runs inside the breaker actor, off the callers' path, so an
// interface costs nothing that matters. Each rule returns the threshold it meets after
// each record, or NoReason.
type tripRule interface {
	// reconfigure takes the thresholds of p at now, keeping what the rule counted.
	reconfigure(p policy.CircuitBreakerPolicy, now time.Time)
	// record records one closed-state outcome.
	record(now time.Time, failure, slow bool) TransitionReason
	// successes records n fast closed-state successes.
	successes(now time.Time, n uint64) TransitionReason
	// evaluate judges the rule at now without a record (time windows expire).
	evaluate(now time.Time) TransitionReason
	// counts returns what the rule counts at now, for events and stats.
	counts(now time.Time) WindowCounts
	// successesCanTrip reports whether successes alone could trip it (CB-7).
	successesCanTrip(now time.Time) bool
	// nextExpiry returns when time alone next changes the counts.
	nextExpiry(now time.Time) (time.Time, bool)
	// reset forgets what the rule counted.
	reset(now time.Time)
	// idle reports whether the rule counted nothing worth keeping.
	idle(now time.Time) bool
	// save writes the rule's state into s, and load reads it back.
	save(s *CircuitSnapshot)
	load(s CircuitSnapshot, now time.Time)
}

// consecutiveRule opens the circuit after FailureThreshold consecutive failures: any
// success starts the count again.
type consecutiveRule struct {
	threshold int
	count     int
}

var _ tripRule = (*consecutiveRule)(nil)

func (r *consecutiveRule) reconfigure(p policy.CircuitBreakerPolicy, _ time.Time) {
	r.threshold = p.FailureThreshold
}

func (r *consecutiveRule) record(_ time.Time, failure, _ bool) TransitionReason {
	if !failure {
		r.count = 0
		return NoReason
	}
	r.count++
	if r.count >= r.threshold {
		return ReasonConsecutiveFailures
	}
	return NoReason
}

func (r *consecutiveRule) successes(_ time.Time, n uint64) TransitionReason {
	if n > 0 {
		r.count = 0
	}
	return NoReason
}

func (r *consecutiveRule) counts(time.Time) WindowCounts {
	return WindowCounts{Calls: uint64(r.count), Failures: uint64(r.count)}
}

func (r *consecutiveRule) evaluate(time.Time) TransitionReason    { return NoReason }
func (r *consecutiveRule) successesCanTrip(time.Time) bool        { return false }
func (r *consecutiveRule) nextExpiry(time.Time) (time.Time, bool) { return time.Time{}, false }
func (r *consecutiveRule) reset(time.Time)                        { r.count = 0 }
func (r *consecutiveRule) idle(time.Time) bool                    { return r.count == 0 }
func (r *consecutiveRule) save(s *CircuitSnapshot)                { s.Consecutive = r.count }
func (r *consecutiveRule) load(s CircuitSnapshot, _ time.Time)    { r.count = s.Consecutive }

// windowRule opens the circuit when its Window meets a threshold (CB-1…CB-7).
type windowRule struct{ w *Window }

var _ tripRule = (*windowRule)(nil)

func (r *windowRule) reconfigure(p policy.CircuitBreakerPolicy, now time.Time) {
	r.w.Reconfigure(windowConfig(p), now)
}

func (r *windowRule) record(now time.Time, failure, slow bool) TransitionReason {
	return r.w.Record(now, failure, slow)
}

func (r *windowRule) successes(now time.Time, n uint64) TransitionReason {
	return r.w.RecordSuccesses(now, n)
}

func (r *windowRule) evaluate(now time.Time) TransitionReason    { return r.w.Evaluate(now) }
func (r *windowRule) counts(now time.Time) WindowCounts          { return r.w.Counts(now) }
func (r *windowRule) successesCanTrip(now time.Time) bool        { return r.w.SuccessesCanTrip(now) }
func (r *windowRule) nextExpiry(now time.Time) (time.Time, bool) { return r.w.NextExpiry(now) }
func (r *windowRule) reset(now time.Time)                        { r.w.Reset(now) }

func (r *windowRule) idle(now time.Time) bool {
	n := r.w.Counts(now)
	return n.Failures == 0 && n.SlowCalls == 0
}

func (r *windowRule) save(s *CircuitSnapshot) {
	ws := r.w.Snapshot()
	s.Window = &ws
}

func (r *windowRule) load(s CircuitSnapshot, now time.Time) {
	if s.Window == nil {
		r.w.Reset(now)
		return
	}
	r.w.Restore(*s.Window, now)
}

package actors

// Probes judges the probes of one half-open period of a window-mode breaker
// (specs/breadth.md CB-8). The probes form a count window of HalfOpenCalls outcomes judged
// with the closed-state thresholds, except that MinimumCalls is HalfOpenCalls and the
// FailureThreshold floor is capped at HalfOpenCalls. The verdict comes as soon as it is
// certain: reopen once the outcomes recorded meet a threshold even if every remaining
// probe succeeds fast; close once no threshold can be met even if every remaining probe
// fails slowly. So with HalfOpenCalls 10 and FailureRate 0.5, five failed probes reopen
// the breaker at once, and six successful ones close it.
//
// Probes count outcomes only: ignored outcomes are never recorded (they free their slot,
// which is the Circuit's business), and consecutive mode keeps the Circuit's own rule
// (SuccessThreshold successes close, any failure reopens). Remaining says how many more
// outcomes a verdict may need, which bounds the probes worth admitting.
//
// The zero value is not usable; build one with NewProbes for each half-open period. Probes
// are not safe for concurrent use: the Breaker actor is their only user.
type Probes struct {
	cfg    WindowConfig // closed thresholds with Count = MinimumCalls = HalfOpenCalls
	counts WindowCounts
}

// NewProbes returns the judge of a half-open period of halfOpenCalls probes (below 1
// means 1) under the closed-state configuration cfg (resolved by NewProbes itself, see
// WindowConfig.Resolve).
func NewProbes(cfg WindowConfig, halfOpenCalls int) Probes {
	n := max(halfOpenCalls, 1)
	c := cfg.Resolve()
	c.Period, c.Buckets = 0, 0
	c.Count, c.MinimumCalls = n, n
	c.FailureThreshold = min(c.FailureThreshold, n)
	return Probes{cfg: c}
}

// Config returns the configuration the probes are judged by: the closed thresholds with
// Count and MinimumCalls set to HalfOpenCalls and FailureThreshold capped at it.
func (p *Probes) Config() WindowConfig { return p.cfg }

// Counts returns the probe outcomes recorded so far.
func (p *Probes) Counts() WindowCounts { return p.counts }

// Remaining returns how many more probe outcomes a verdict may need: HalfOpenCalls minus
// those recorded. The Circuit admits a probe while fewer than Remaining are in flight.
func (p *Probes) Remaining() int { return p.cfg.MinimumCalls - int(p.counts.Calls) }

// Record adds one probe outcome and returns the verdict: ReasonProbeFailed when reopening
// is certain, ReasonProbesSucceeded when closing is certain, NoReason while undecided. A
// slow probe counts toward the slow-call rate whether it failed or not. Once all
// HalfOpenCalls outcomes are in a verdict has been given, and further outcomes are not
// counted (Record repeats the verdict).
func (p *Probes) Record(failure, slow bool) TransitionReason {
	if p.Remaining() > 0 {
		p.counts.Calls++
		if failure {
			p.counts.Failures++
		}
		if slow {
			p.counts.SlowCalls++
		}
	}
	return p.Verdict()
}

// Verdict returns the verdict the outcomes recorded so far make certain, as Record does.
func (p *Probes) Verdict() TransitionReason {
	n := uint64(p.cfg.MinimumCalls)
	best := WindowCounts{Calls: n, Failures: p.counts.Failures, SlowCalls: p.counts.SlowCalls}
	if p.cfg.Judge(best) != NoReason {
		return ReasonProbeFailed
	}
	left := n - p.counts.Calls
	worst := WindowCounts{Calls: n, Failures: best.Failures + left, SlowCalls: best.SlowCalls + left}
	if p.cfg.Judge(worst) == NoReason {
		return ReasonProbesSucceeded
	}
	return NoReason
}

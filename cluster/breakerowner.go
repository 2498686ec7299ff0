package cluster

import (
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/cluster/internal/pb"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// seedWindow is how long a new breaker owner adopts an open state a node reports
// ("open wins"): the nodes' first reports after a move come within a report interval or
// a view refresh.
const seedWindow = 2 * time.Second

// breakerOwner is the owner side of one shared breaker: the fleet's circuit (the same
// state machine a local breaker runs), fed with the nodes' outcome segments in arrival
// order. It is pure (no actors, no clock): the owner grain and the tests' fake
// transport drive it.
type breakerOwner struct {
	name       string
	activation string
	born       time.Time
	circuit    *actors.Circuit
	policy     policy.CircuitBreakerPolicy
	reason     string // why the state last changed
}

func newBreakerOwner(activation string, now time.Time) *breakerOwner {
	return &breakerOwner{activation: activation, born: now}
}

// configure takes the policy a report carries: the first creates the circuit, a
// different one reconfigures it.
func (o *breakerOwner) configure(now time.Time, raw []byte) bool {
	if len(raw) == 0 {
		return o.circuit != nil
	}
	p, err := decodeBreaker(raw)
	if err != nil {
		return o.circuit != nil
	}
	switch {
	case o.circuit == nil:
		o.policy = p
		o.circuit = actors.NewCircuit(p, now)
	case p != o.policy:
		o.policy = p
		o.circuit.Reconfigure(p)
	}
	return true
}

// report applies r at now and returns the answer; changed is true when the state
// changed, so every subscriber gets the new view.
func (o *breakerOwner) report(now time.Time, r *pb.BreakerReport) (answer *pb.BreakerView, changed bool) {
	o.name = r.Name
	if !o.configure(now, r.Policy) {
		return &pb.BreakerView{Name: r.Name, Ticket: r.Ticket, Activation: o.activation}, false
	}
	c := o.circuit
	before := c.Generation()
	c.Advance(now)
	o.seed(now, r)
	granted := false
	switch {
	case r.Mode != 0:
		_, _ = c.SetMode(now, messages.BreakerState(r.Mode-1), time.Duration(r.ModeForNs))
	case r.ProbeRequest:
		_, _, granted = c.Acquire(now)
	case r.Probe:
		outcome := messages.Success
		switch {
		case r.ProbeNeutral:
			outcome = messages.Neutral
		case r.ProbeFailed:
			outcome = messages.Failure
		}
		c.Apply(now, &messages.Report{Generation: o.generation(r), Outcome: outcome, Probe: true, Slow: r.Slow > 0})
	default:
		gen := o.generation(r)
		fast := r.Successes - min(r.SlowSuccesses, r.Successes)
		if fast > 0 {
			c.ObserveSuccessesAt(now, fast)
		}
		for i := fast; i < r.Successes; i++ {
			c.Apply(now, &messages.Report{Generation: gen, Outcome: messages.Success, Slow: true})
		}
		for i := uint64(0); i < r.Failures; i++ {
			slow := i < r.Slow
			if c.Apply(now, &messages.Report{Generation: gen, Outcome: messages.Failure, Slow: slow}) {
				break
			}
		}
	}
	changed = o.note(c) || c.Generation() != before
	v := o.view()
	v.Ticket, v.ProbeGranted = r.Ticket, granted
	return v, changed
}

// generation returns the generation r's outcomes count in: theirs, or — for a node
// whose view came from another activation — the current one.
func (o *breakerOwner) generation(r *pb.BreakerReport) uint64 {
	if r.Activation != o.activation {
		return o.circuit.Generation()
	}
	return r.Generation
}

// seed adopts an open state a node knew of, while the owner is new: open wins, and the
// open timer runs to the node's open-until.
func (o *breakerOwner) seed(now time.Time, r *pb.BreakerReport) {
	c := o.circuit
	if now.Sub(o.born) > seedWindow || r.Activation == o.activation {
		return
	}
	until := time.Unix(0, r.KnownOpenUntil)
	if messages.BreakerState(r.KnownState) != messages.Open || !until.After(now) {
		return
	}
	if c.State() == messages.Open && !c.OpenUntil().Before(until) {
		return
	}
	if s := c.State(); s != messages.Closed && s != messages.Open && s != messages.HalfOpen {
		return // a manual state set on the new owner stays
	}
	s := c.Snapshot()
	s.Stats.State, s.Stats.LastChange = messages.Open, now
	s.Generation++
	s.OpenUntil = until
	s.Consecutive, s.Probes, s.ProbeWins = 0, 0, 0
	c.Restore(s)
	o.reason = "owner_moved"
}

// note records the reason of the circuit's latest transition and reports whether there
// was one.
func (o *breakerOwner) note(c *actors.Circuit) bool {
	ts := c.Transitions()
	for _, t := range ts {
		if !t.Exceeded {
			o.reason = t.Reason.String()
		}
	}
	return len(ts) > 0
}

// wake applies what time changes at now (open → half-open, MaxHalfOpen, window expiry)
// and reports whether the state changed.
func (o *breakerOwner) wake(now time.Time) bool {
	if o.circuit == nil {
		return false
	}
	before := o.circuit.Generation()
	o.circuit.Advance(now)
	return o.note(o.circuit) || o.circuit.Generation() != before
}

// nextWake returns when wake may change something.
func (o *breakerOwner) nextWake(now time.Time) (time.Time, bool) {
	if o.circuit == nil {
		return time.Time{}, false
	}
	return o.circuit.NextDeadline(now)
}

// view returns the owner's current view.
func (o *breakerOwner) view() *pb.BreakerView {
	v := &pb.BreakerView{Name: o.name, Activation: o.activation, Reason: o.reason}
	if o.circuit == nil {
		return v
	}
	v.State = int32(o.circuit.State())
	v.Generation = o.circuit.Generation()
	if t := o.circuit.OpenUntil(); !t.IsZero() {
		v.OpenUntil = t.UnixNano()
	}
	return v
}

// decodeBreaker decodes a breaker policy sent as JSON.
func decodeBreaker(raw []byte) (policy.CircuitBreakerPolicy, error) {
	p, err := policy.ParseJSON(raw)
	if err != nil {
		return policy.CircuitBreakerPolicy{}, err
	}
	cb, ok := p.(policy.CircuitBreakerPolicy)
	if !ok {
		return policy.CircuitBreakerPolicy{}, errNotBreaker
	}
	return cb, cb.Validate()
}

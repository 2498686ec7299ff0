package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/names"
	"github.com/bulwark-go/bulwark/internal/stripe"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// BreakerView is the immutable snapshot a breaker actor publishes after every change.
// Callers read it to decide admission without asking the actor.
type BreakerView struct {
	// Pass is true when a call may go ahead without asking the actor: the breaker is
	// closed, disabled or metrics-only, and the actor is live. A call admitted so still
	// reports its failures (and, see ReportSuccesses and SlowCall, some successes); a
	// Disabled breaker drops every report, so callers may skip them.
	Pass bool
	// ReportSuccesses is true while a success may trip the breaker (specs/breadth.md
	// CB-7: the success that completes MinimumCalls): callers then report each success
	// by a Report with a Ticket and wait for its Acked, instead of counting it with
	// CountSuccess. CountSuccess reads it for them.
	ReportSuccesses bool
	// SlowCall, when > 0, asks callers to time each call (admitted from the view or as a
	// probe) and to report one that lasted strictly longer than SlowCall as slow: a
	// Report with Slow set, a success as well as a failure. 0: do not time calls.
	SlowCall time.Duration
	// Retired is true once the actor stopped (passivation or shutdown); callers must
	// look the breaker up again.
	Retired bool
	// State is the breaker's state when the view was published. A ForcedOpen view
	// refuses like an Open one, with policy.ErrCircuitForcedOpen; its OpenUntil is zero
	// when it is forced open until reset.
	State messages.BreakerState
	// Generation is the circuit's generation when the view was published.
	Generation uint64
	// OpenUntil is when an open breaker becomes due for half-open, or a breaker forced
	// open for a while moves to half-open.
	OpenUntil time.Time

	stats         messages.BreakerStats
	seenSuccesses uint64
	seenRefused   uint64
}

// BreakerLink is the shared side of one named circuit breaker: the view its actor
// publishes, the counters callers add to without asking, and the durable state that
// survives the actor's restarts. Callers may use Enter, View, Succeeded, Exit, Refused
// and Stats concurrently; everything else belongs to the actor.
//
// Every call the breaker admits is counted in flight from Enter until Succeeded or Exit,
// so that the actor is not passivated while a call it admitted is still running: that
// call's failure would reach a stopped actor and be lost.
type BreakerLink struct {
	link
	view      atomic.Pointer[BreakerView]
	_         [64]byte      // keeps the view, read by every call, off the counters' lines
	started   stripe.Sized  // calls that entered (Enter); one line per processor
	successes stripe.Sized  // successes counted by callers; each ends a call that entered
	ended     atomic.Uint64 // calls that entered and ended otherwise (Exit)

	origin policy.CircuitBreakerPolicy  // the configuration it was created with
	batch  atomic.Pointer[failureBatch] // failures counted past the mailbox limit

	// own is the owner's durable state, handed to every incarnation of the actor by
	// Producer; callers never touch it.
	own *breakerOwner
}

// breakerOwner is a breaker actor's durable state: the circuit and what the actor has
// taken in of the callers' counters. It survives restarts; only the actor touches it.
type breakerOwner struct {
	owner
	circuit       *Circuit
	seenSuccesses uint64    // callers' successes taken into the circuit
	seenRefused   uint64    // callers' refusals taken into the circuit
	activityMark  uint64    // calls started as of the last Passivate check
	armed         time.Time // when the armed Tick is due (zero: none)
	boundary      bool      // the armed Tick is a time window's bucket boundary
}

// NewBreakerLink returns the shared side of a breaker named name, configured by p (which
// must be valid), closed at now. Spawn its actor with Producer.
func NewBreakerLink(name string, p policy.CircuitBreakerPolicy, now time.Time, hooks Hooks) *BreakerLink {
	own := &breakerOwner{owner: owner{hooks: hooks}, circuit: NewCircuit(p, now)}
	l := &BreakerLink{link: newLink(name), started: stripe.NewSized(), successes: stripe.NewSized(), origin: p, own: own}
	l.lastUsed.Store(now.UnixNano())
	l.publish()
	return l
}

// Origin returns the configuration the breaker was created with (Reconfigure does not
// change it).
func (l *BreakerLink) Origin() policy.CircuitBreakerPolicy { return l.origin }

// Retired reports whether the actor stopped or is stopping for good; callers must look
// the name up again.
func (l *BreakerLink) Retired() bool { return l.view.Load().Retired || l.retiring() }

// View returns the latest published view.
func (l *BreakerLink) View() *BreakerView { return l.view.Load() }

// Enter counts a call in flight and returns the view to admit it by. Every Enter is
// ended by exactly one Succeeded or Exit, whether the view admitted the call or not.
// It counts before it reads the view: a Passivate that closes the view and then finds
// no call in flight knows every later caller reads the closed view.
func (l *BreakerLink) Enter() *BreakerView {
	l.started.Add(1)
	return l.view.Load()
}

// Succeeded counts one successful call admitted by the breaker in the closed state, and
// ends it (see Enter). Callers of a breaker whose view may set ReportSuccesses use
// CountSuccess instead.
func (l *BreakerLink) Succeeded() { l.successes.Add(1) }

// CountSuccess counts one fast successful call admitted from a Pass view and ends it,
// unless the latest view asks for successes by message (ReportSuccesses): then it counts
// nothing and returns false, and the caller must send a Report (Outcome Success, with a
// Ticket, waiting for its Acked) and then Exit. Read the view when the call ends, as
// CountSuccess does, not the one the call was admitted by. A slow success is always
// reported, never counted.
func (l *BreakerLink) CountSuccess() bool {
	if l.view.Load().ReportSuccesses {
		return false
	}
	l.successes.Add(1)
	return true
}

// Exit ends a call that entered and did not end with Succeeded: it failed, was refused,
// or its outcome was reported to the actor.
func (l *BreakerLink) Exit() { l.ended.Add(1) }

// inFlight returns the calls that entered and have not ended. It reads the ends before
// the starts: a call seen ended was seen started, so the result never undercounts the
// calls that started before it was read.
func (l *BreakerLink) inFlight() int64 {
	ended := l.successes.Load() + l.ended.Load()
	return int64(l.started.Load() - ended)
}

// Stats returns the breaker's stats as of the latest view plus the calls callers have
// counted since.
func (l *BreakerLink) Stats() messages.BreakerStats {
	v := l.view.Load()
	s := v.stats
	if v.State != messages.Disabled { // a disabled breaker records nothing
		if unseen := l.successes.Load() - v.seenSuccesses; unseen > 0 {
			s.Successes += unseen
			s.ConsecutiveFailures = 0 // a success the circuit has not taken yet ends the run
		}
	}
	s.Rejected += l.refused.Load() - v.seenRefused
	return s
}

// FailLater counts one failure of a call admitted from a closed view of generation gen
// without a Report of its own, for a caller that found the actor's mailbox past its
// limit: it joins the batch of such failures that one messages.Nudge brings to the
// actor. It returns a channel closed once the actor has taken the batch in and published
// the view that reflects it (so a sequential caller that waits for it sees thresholds
// exactly), and nudge true when this caller started the batch and must send the Nudge.
// A failure of a generation the breaker has left is dropped, as its Report would be,
// and done is nil.
func (l *BreakerLink) FailLater(gen uint64) (done <-chan struct{}, nudge bool) {
	if l.view.Load().Generation != gen {
		return nil, false
	}
	for {
		b := l.batch.Load()
		if b != nil && b.join() {
			return b.done, false
		}
		nb := &failureBatch{done: make(chan struct{})}
		nb.n.Store(1)
		if l.batch.CompareAndSwap(b, nb) {
			return nb.done, true
		}
	}
}

// failureBatch gathers the failures callers count with FailLater until the actor
// takes them in.
type failureBatch struct {
	n    atomic.Uint64 // failures joined; the sealed bit is set when the actor takes it
	done chan struct{} // closed once the actor took the batch in and published its view
}

const batchSealed = 1 << 63

// join adds one failure unless the actor has sealed the batch.
func (b *failureBatch) join() bool {
	for {
		n := b.n.Load()
		if n&batchSealed != 0 {
			return false
		}
		if b.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// seal closes the batch to new failures and returns how many it holds.
func (b *failureBatch) seal() uint64 { return b.n.Or(batchSealed) &^ batchSealed }

// Producer returns the producer to spawn the breaker's actor with. Every incarnation
// it produces shares this link, so a restart keeps the breaker's state.
func (l *BreakerLink) Producer() actor.Producer {
	return func() actor.Actor { return &Breaker{base: base{o: &l.own.owner}, l: l} }
}

// publish replaces the view; only the actor (or the constructor) calls it.
func (l *BreakerLink) publish() {
	c := l.own.circuit
	now := c.now
	l.view.Store(&BreakerView{
		Pass:            c.Admits(),
		ReportSuccesses: c.SuccessesCanTrip(now),
		SlowCall:        c.SlowCall(),
		State:           c.State(),
		Generation:      c.Generation(),
		OpenUntil:       c.OpenUntil(),
		stats:           c.Stats(),
		seenSuccesses:   l.own.seenSuccesses,
		seenRefused:     l.own.seenRefused,
	})
}

func (l *BreakerLink) retire() {
	v := *l.view.Load()
	v.Pass, v.Retired = false, true
	l.view.Store(&v)
}

// Breaker is the circuit-breaker actor: the only writer of one named breaker's state.
// It answers Acquire (half-open probes), Report (probe outcomes, closed-state failures,
// slow calls and the successes its view asks for), SetBreakerMode (manual states),
// Reconfigure, GetStats and Passivate, and runs its own timer: open→half-open, the end of
// a ForcedOpen duration, the MaxHalfOpen bound, and a time window's bucket boundaries,
// where it takes in the successes callers counted during the bucket that ended and
// judges the window again.
type Breaker struct {
	base
	l      *BreakerLink
	report *messages.Report // the Report being handled, for a crash in the middle of it
	taking *failureBatch    // the failure batch being taken in, for a crash likewise
}

var _ actor.Actor = (*Breaker)(nil)

// Receive handles one message.
func (b *Breaker) Receive(c actor.Context) {
	l := b.l
	switch c.Message().(type) {
	case *actor.Started:
		b.started(c)
		return
	case *actor.Stopping:
		b.stopTimer()
		l.own.armed = time.Time{}
		l.retire()
		return
	case *actor.Restarting:
		// A probe whose report crashed the actor still holds its half-open slot: free it,
		// counting the outcome as unknown, or the breaker would stay half-open for good.
		if r := b.report; r != nil && r.Probe {
			l.own.circuit.Record(time.Now(), r.Generation, messages.Neutral, true)
		}
		// The failures of a batch being taken in are recorded: release their callers.
		if batch := b.taking; batch != nil {
			b.taking = nil
			close(batch.done)
		}
		l.own.armed = time.Time{}
	}
	if b.common(c, &l.link) {
		return
	}

	now := time.Now()
	l.touch(c.Message(), now)
	// Successes counted on the side carry no time. At a bucket boundary they are filed
	// in the bucket that just ended (Window.NextBoundary); otherwise at now.
	at := now
	tick, isTick := c.Message().(*messages.Tick)
	if isTick && tick.Generation == l.own.timerGen && l.own.boundary && !now.Before(l.own.armed) {
		at = l.own.armed.Add(-time.Nanosecond)
		// A message handled after the boundary, before this late Tick, already took in
		// what was counted until then: what is left came later.
		if seen := l.own.circuit.now; at.Before(seen) {
			at = seen
		}
	}
	l.observe(at)
	if batch := l.batch.Swap(nil); batch != nil {
		// Failures counted past the mailbox limit: record them and publish before
		// anything else, then release their callers.
		b.taking = batch
		l.own.circuit.ObserveFailures(now, batch.seal())
		b.settle(c, now)
		b.taking = nil
		close(batch.done)
	}

	switch m := c.Message().(type) {
	case *messages.Acquire:
		b.request(c, &l.link, m.Ticket)
		gen, retryAfter, ok := l.own.circuit.Acquire(now)
		switch {
		case ok:
			b.reply = &messages.Granted{Ticket: m.Ticket, Generation: gen, Probe: l.own.circuit.State() == messages.HalfOpen}
		case l.own.circuit.State() == messages.ForcedOpen:
			b.reply = &messages.Rejected{Ticket: m.Ticket, Reason: messages.CircuitForcedOpen, RetryAfter: retryAfter}
		default:
			b.reply = &messages.Rejected{Ticket: m.Ticket, Reason: messages.CircuitOpen, RetryAfter: retryAfter}
		}
	case *messages.Report:
		b.report = m
		b.request(c, &l.link, m.Ticket)
		l.own.circuit.Apply(now, m)
		b.report = nil
		b.settle(c, now)
		l.own.pending.respond(c, &messages.Acked{Ticket: m.Ticket})
		return
	case *messages.SetBreakerMode:
		b.request(c, &l.link, m.Ticket)
		if _, err := l.own.circuit.SetMode(now, m.Mode, m.For); err != nil {
			l.own.hooks.logger().Warn("breaker: SetBreakerMode refused", zap.String("breaker", l.name), zap.Error(err))
		}
		b.reply = &messages.Acked{Ticket: m.Ticket}
	case *messages.Tick:
		if m.Generation != l.own.timerGen {
			return
		}
		l.own.armed = time.Time{} // fired
		l.own.circuit.Advance(now)
	case *messages.Nudge:
		// Its failures were taken in above.
	case *messages.Reconfigure:
		b.request(c, &l.link, m.Ticket)
		if m.Breaker != nil {
			l.own.circuit.Reconfigure(*m.Breaker)
			l.own.circuit.Advance(now)
		}
		b.reply = &messages.Acked{Ticket: m.Ticket}
	case *messages.GetStats:
		b.request(c, &l.link, m.Ticket)
		l.publish()
		stats := l.Stats()
		b.answerStats(c, &l.link, m, &messages.Stats{Breaker: &stats})
	case *messages.Passivate:
		b.passivateIfIdle(c, m)
		return
	default:
		l.own.hooks.logger().Warn("breaker: unknown message", zap.String("breaker", l.name), zap.String("type", names.TypeName(m)))
		return
	}
	b.settle(c, now)
}

// passivateIfIdle answers Passivate: the breaker stops when its circuit holds nothing
// (closed, no failure counted), no call started since the last Passivate, and none is
// in flight. Calls admitted from the view never touch the actor, so the view is closed
// first (Pass false: callers ask the actor, and those requests queue behind this one)
// and the calls in flight are counted after: a caller that entered too late to be
// counted reads the closed view.
func (b *Breaker) passivateIfIdle(c actor.Context, m *messages.Passivate) {
	l := b.l
	started := l.started.Load()
	quiet := started == l.own.activityMark
	l.own.activityMark = started
	if !quiet || !l.own.circuit.Idle() || l.Registered() {
		b.passivate(c, &l.link, m, false, nil)
		return
	}
	v := *l.view.Load()
	v.Pass = false
	l.view.Store(&v)
	if !b.passivate(c, &l.link, m, l.inFlight() == 0, l.retire) {
		l.publish() // busy after all: open the view again
	}
}

func (b *Breaker) started(c actor.Context) {
	l := b.l
	b.start(c, &l.link, "breaker", zap.Stringer("state", l.own.circuit.State()))
	now := time.Now()
	l.own.circuit.Advance(now)
	b.tell(now)
	b.armTimer(c, now)
	l.publish()
}

// observe takes in the successes and refusals callers counted since the last message,
// the successes as completed at at.
func (l *BreakerLink) observe(at time.Time) {
	if s := l.successes.Load(); s != l.own.seenSuccesses {
		l.own.circuit.ObserveSuccessesAt(at, s-l.own.seenSuccesses)
		l.own.seenSuccesses = s
	}
	if r := l.refused.Load(); r != l.own.seenRefused {
		l.own.circuit.ObserveRejections(r - l.own.seenRefused)
		l.own.seenRefused = r
	}
}

// settle tells the hooks of the state changes (and MetricsOnly crossings), re-arms the
// timer for the circuit's next deadline, and publishes the view; then it sends the reply
// decided for the request in progress, so a caller that returns and reads Metrics finds
// its call counted.
func (b *Breaker) settle(c actor.Context, now time.Time) {
	l := b.l
	b.tell(now)
	b.armTimer(c, now)
	l.publish()
	b.flush(c, &l.link)
}

// tell hands the circuit's transitions to the log and the hooks.
func (b *Breaker) tell(now time.Time) {
	l := b.l
	for _, t := range l.own.circuit.Transitions() {
		ev := messages.StateChanged{
			Name: l.name, From: t.From, To: t.To, At: t.At, Reason: t.Reason.String(),
			Calls: t.Counts.Calls, Failures: t.Counts.Failures, SlowCalls: t.Counts.SlowCalls,
		}
		if t.Exceeded {
			if ce := l.own.hooks.logger().Check(zap.InfoLevel, "breaker threshold exceeded (metrics only)"); ce != nil {
				ce.Write(zap.String("breaker", l.name), zap.String("reason", ev.Reason))
			}
			if l.own.hooks.ThresholdExceeded != nil {
				l.own.hooks.ThresholdExceeded(ev)
			}
			continue
		}
		if ce := l.own.hooks.logger().Check(zap.InfoLevel, "breaker state change"); ce != nil {
			ce.Write(zap.String("breaker", l.name), zap.Stringer("from", t.From), zap.Stringer("to", t.To), zap.String("reason", ev.Reason))
		}
		if l.own.hooks.StateChanged != nil {
			l.own.hooks.StateChanged(ev)
		}
	}
}

// armTimer schedules the next Tick: at the circuit's next deadline (open delay,
// ForcedOpen duration, MaxHalfOpen, window expiry) or, for a time window that admits
// calls, at the next bucket boundary, whichever comes first. A Tick already armed for
// that time is left alone.
func (b *Breaker) armTimer(c actor.Context, now time.Time) {
	l := b.l
	circuit := l.own.circuit
	at, ok := circuit.NextDeadline(now)
	boundary := false
	if s := circuit.State(); s == messages.Closed || s == messages.MetricsOnly {
		if bt, bok := circuit.NextBoundary(now); bok && (!ok || !at.Before(bt)) {
			at, ok, boundary = bt, true, true
		}
	}
	if !ok {
		b.stopTimer()
		l.own.armed = time.Time{}
		return
	}
	if b.cancel != nil && at.Equal(l.own.armed) {
		l.own.boundary = boundary
		return
	}
	l.own.armed, l.own.boundary = at, boundary
	l.own.timerGen++
	b.arm(c, max(at.Sub(now), 0), l.own.timerGen)
}

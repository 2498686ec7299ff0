package telemetry

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// BreakerStateChanged: a breaker moved From one state To another.
	BreakerStateChanged EventKind = iota + 1
	// LimiterSaturated: a limiter ran out of tokens and refuses or queues calls.
	LimiterSaturated
	// LimiterRecovered: a saturated limiter has tokens again.
	LimiterRecovered
	// BreakerThresholdExceeded: a breaker in MetricsOnly mode met a threshold it would
	// have opened on (Reason, with the window's counts); once per crossing.
	BreakerThresholdExceeded
	// SharedDegraded: a shared (cluster mode) breaker or limiter lost its owner and runs
	// on its fallback (Family says which; Reason why).
	SharedDegraded
	// SharedRestored: a degraded shared name's owner answered again.
	SharedRestored
	// OwnerMoved: a shared name's owner is another activation than before.
	OwnerMoved
	// BulkheadSaturated: a bulkhead is full and queues or refuses calls.
	BulkheadSaturated
	// BulkheadRecovered: a saturated bulkhead has a free permit and nobody waiting.
	BulkheadRecovered
	// LimitChanged: a closed sampling window moved an adaptive limit from Old to New.
	LimitChanged
)

// String names the kind: "breaker_state_changed", "limiter_saturated",
// "limiter_recovered", "breaker_threshold_exceeded", "bulkhead_saturated",
// "bulkhead_recovered".
func (k EventKind) String() string {
	switch k {
	case BreakerStateChanged:
		return "breaker_state_changed"
	case BreakerThresholdExceeded:
		return "breaker_threshold_exceeded"
	case LimiterSaturated:
		return "limiter_saturated"
	case LimiterRecovered:
		return "limiter_recovered"
	case SharedDegraded:
		return "shared_degraded"
	case SharedRestored:
		return "shared_restored"
	case OwnerMoved:
		return "owner_moved"
	case BulkheadSaturated:
		return "bulkhead_saturated"
	case BulkheadRecovered:
		return "bulkhead_recovered"
	case LimitChanged:
		return "limit_changed"
	}
	return "unknown"
}

// Event is a state change of a named breaker or limiter, delivered to subscribers. Each
// kind uses only its own fields: Kind, Name and At always; From, To, Reason and the
// counts for BreakerStateChanged and BreakerThresholdExceeded. String and
// MarshalLogObject (for zap.Object or zap.Any) show just those.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Name is the breaker's or limiter's name.
	Name string
	// From and To are the breaker states of a BreakerStateChanged event (both
	// metrics_only for a BreakerThresholdExceeded); for other kinds they are zero and
	// mean nothing.
	From, To messages.BreakerState
	// At is when it happened.
	At time.Time
	// Reason says why a breaker changed state or crossed a threshold:
	// consecutive_failures, failure_count, failure_rate, slow_call_rate, probe_failed,
	// probe_timeout, probes_succeeded, manual or recovery_elapsed.
	Reason string
	// Calls, Failures and SlowCalls are the breaker's window at that moment: the closed
	// window's, or the probes' when a half-open period ends; in consecutive mode Calls
	// and Failures are the consecutive failures.
	Calls, Failures, SlowCalls uint64
	// Family is the family of a shared name's event (SharedDegraded, SharedRestored,
	// OwnerMoved): "breaker" or "limiter".
	Family string
	// Old and New are the limits before and after a LimitChanged event.
	Old, New int
}

// breaker reports whether the event is a breaker's, with From, To, Reason and counts.
func (ev Event) breaker() bool {
	return ev.Kind == BreakerStateChanged || ev.Kind == BreakerThresholdExceeded
}

// String describes the event by its own fields: `breaker_state_changed "payments":
// closed -> open (failure_rate)` or `limiter_saturated "api"`.
func (ev Event) String() string {
	s := ev.Kind.String() + " " + strconv.Quote(ev.Name)
	if ev.breaker() {
		s += ": " + ev.From.String() + " -> " + ev.To.String()
		if ev.Reason != "" {
			s += " (" + ev.Reason + ")"
		}
	}
	if ev.Kind == LimitChanged {
		s += ": " + strconv.Itoa(ev.Old) + " -> " + strconv.Itoa(ev.New)
	}
	if ev.shared() {
		s += " " + ev.Family
		if ev.Reason != "" {
			s += " (" + ev.Reason + ")"
		}
	}
	return s
}

// MarshalLogObject writes the event's own fields for zap: kind, name and at, and from,
// to, and (when Reason is set) reason, calls, failures and slow_calls for a breaker's
// event.
func (ev Event) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("kind", ev.Kind.String())
	enc.AddString("name", ev.Name)
	if ev.breaker() {
		enc.AddString("from", ev.From.String())
		enc.AddString("to", ev.To.String())
		if ev.Reason != "" { // every event the engine publishes has one
			enc.AddString("reason", ev.Reason)
			enc.AddUint64("calls", ev.Calls)
			enc.AddUint64("failures", ev.Failures)
			enc.AddUint64("slow_calls", ev.SlowCalls)
		}
	}
	if ev.Kind == LimitChanged {
		enc.AddInt("old", ev.Old)
		enc.AddInt("new", ev.New)
	}
	if ev.shared() {
		enc.AddString("family", ev.Family)
		enc.AddString("reason", ev.Reason)
	}
	enc.AddTime("at", ev.At)
	return nil
}

// shared reports whether the event is a shared name's, with Family and Reason.
func (ev Event) shared() bool {
	return ev.Kind == SharedDegraded || ev.Kind == SharedRestored || ev.Kind == OwnerMoved
}

// Hub fans events out to subscribers. Publishing never blocks: an event that does not
// fit a subscriber's buffer is dropped and counted. Build one with NewHub.
type Hub struct {
	subs    atomic.Pointer[[]*subscriber]
	mu      sync.Mutex // serialises changes to subs and closed
	closed  bool       // guarded by mu: Close was called
	dropped *atomic.Uint64
	warn    *Warner
}

type subscriber struct {
	mu     sync.Mutex // guards ch against a send after close
	ch     chan Event
	closed bool
}

// NewHub returns a hub that counts dropped events in dropped and warns of the first
// through warn.
func NewHub(dropped *atomic.Uint64, warn *Warner) *Hub {
	return &Hub{dropped: dropped, warn: warn}
}

// Subscribe returns a channel that receives every event published from now on and a
// cancel function that stops the subscription and closes the channel; buffer < 1 means
// 1. After Close, or when refuse is set, the channel is closed at once.
func (h *Hub) Subscribe(buffer int, refuse bool) (events <-chan Event, cancel func()) {
	s := &subscriber{ch: make(chan Event, max(buffer, 1))}
	h.mu.Lock()
	if refuse || h.closed {
		h.mu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	}
	var next []*subscriber
	if cur := h.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, s)
	h.subs.Store(&next)
	h.mu.Unlock()
	return s.ch, func() { h.remove(s) }
}

func (h *Hub) remove(s *subscriber) {
	h.mu.Lock()
	if cur := h.subs.Load(); cur != nil {
		next := make([]*subscriber, 0, len(*cur))
		for _, x := range *cur {
			if x != s {
				next = append(next, x)
			}
		}
		h.subs.Store(&next)
	}
	h.mu.Unlock()
	s.close()
}

func (s *subscriber) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
}

// Close closes every subscriber's channel; later subscriptions get a closed channel.
func (h *Hub) Close() {
	h.mu.Lock()
	cur := h.subs.Load()
	h.subs.Store(nil)
	h.closed = true
	h.mu.Unlock()
	if cur != nil {
		for _, s := range *cur {
			s.close()
		}
	}
}

// Publish delivers ev to every subscriber with room for it.
func (h *Hub) Publish(ev Event) {
	cur := h.subs.Load()
	if cur == nil {
		return
	}
	dropped := false
	for _, s := range *cur {
		s.mu.Lock()
		if !s.closed {
			select {
			case s.ch <- ev:
			default:
				h.dropped.Add(1)
				dropped = true
			}
		}
		s.mu.Unlock()
	}
	if dropped {
		h.warn.Once("events-dropped", "an event subscriber's buffer is full: events are dropped and counted in Metrics().DroppedEvents",
			zap.Stringer("kind", ev.Kind), zap.String("name", ev.Name))
	}
}

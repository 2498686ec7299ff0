package telemetry

import (
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// Hooks returns the hooks every named actor gets: a breaker's move into open counts as
// a trip (a move into forced_open, by hand, does not), state changes, MetricsOnly
// threshold crossings and saturation become events on h, a restart is counted. The
// hooks run in the actors.
func Hooks(log *zap.Logger, c *Counters, h *Hub) actors.Hooks {
	return actors.Hooks{
		Logger: log,
		StateChanged: func(m messages.StateChanged) {
			if m.To == messages.Open {
				c.Trips.Add(1)
			}
			h.Publish(breakerEvent(BreakerStateChanged, m))
		},
		ThresholdExceeded: func(m messages.StateChanged) {
			h.Publish(breakerEvent(BreakerThresholdExceeded, m))
		},
		Saturated: func(m messages.Saturated) {
			kind := LimiterRecovered
			if m.Saturated {
				kind = LimiterSaturated
			}
			h.Publish(Event{Kind: kind, Name: m.Name, At: m.At})
		},
		Restarted: func(string) { c.Restarts.Add(1) },
		Shared: func(m messages.SharedChanged) {
			h.Publish(sharedEvent(m))
		},
		BulkheadSaturated: func(m messages.Saturated) {
			kind := BulkheadRecovered
			if m.Saturated {
				kind = BulkheadSaturated
			}
			h.Publish(Event{Kind: kind, Name: m.Name, At: m.At})
		},
		LimitChanged: func(m messages.LimitChanged) {
			h.Publish(Event{Kind: LimitChanged, Name: m.Name, Old: m.Old, New: m.New, At: m.At})
		},
	}
}

// breakerEvent is the event of kind for a breaker's m.
func breakerEvent(kind EventKind, m messages.StateChanged) Event {
	return Event{
		Kind: kind, Name: m.Name, From: m.From, To: m.To, At: m.At,
		Reason: m.Reason, Calls: m.Calls, Failures: m.Failures, SlowCalls: m.SlowCalls,
	}
}

// sharedEvent is the event of a shared name's coordination change m.
func sharedEvent(m messages.SharedChanged) Event {
	kind := OwnerMoved
	switch m.Change {
	case messages.OwnerLost:
		kind = SharedDegraded
	case messages.OwnerFound:
		kind = SharedRestored
	}
	return Event{Kind: kind, Name: m.Name, At: m.At, Reason: m.Reason, Family: m.Kind}
}

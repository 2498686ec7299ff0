package telemetry

import (
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// Hooks returns the hooks every named actor gets: a breaker's move into open counts as
// a trip, state changes and saturation become events on h, a restart is counted. The
// hooks run in the actors.
func Hooks(log *zap.Logger, c *Counters, h *Hub) actors.Hooks {
	return actors.Hooks{
		Logger: log,
		StateChanged: func(m messages.StateChanged) {
			if m.To == messages.Open {
				c.Trips.Add(1)
			}
			h.Publish(Event{Kind: BreakerStateChanged, Name: m.Name, From: m.From, To: m.To, At: m.At})
		},
		Saturated: func(m messages.Saturated) {
			kind := LimiterRecovered
			if m.Saturated {
				kind = LimiterSaturated
			}
			h.Publish(Event{Kind: kind, Name: m.Name, At: m.At})
		},
		Restarted: func(string) { c.Restarts.Add(1) },
	}
}

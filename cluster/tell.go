package cluster

import (
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// tellShared reports a coordination change of the shared name of kind ("breaker" or
// "limiter") to the hooks and the log: what a breaker and a limiter replica both do.
func tellShared(h actors.Hooks, kind, name string, now time.Time, change messages.SharedChange, reason string) {
	if h.Logger != nil {
		h.Logger.Info("shared "+kind+" "+change.String(), zap.String(kind, name), zap.String("reason", reason))
	}
	if h.Shared != nil {
		h.Shared(messages.SharedChanged{Kind: kind, Name: name, Change: change, At: now, Reason: reason})
	}
}

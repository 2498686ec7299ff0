package supervisor

import "github.com/bulwark-go/bulwark/actors"

// liveBulkheads returns the engine's live bulkhead actors by name.
func liveBulkheads(e *Engine) map[string]*actors.BulkheadLink { return e.env.Registry.Bulkheads.Live() }

// bulkheadStats returns the stats of the live bulkhead name, and whether it is live.
func bulkheadStats(e *Engine, name string) (BulkheadStats, bool) {
	s, ok := e.env.Registry.Bulkheads.Stats()[name]
	return s, ok
}

// adaptiveStats returns the stats of the live adaptive limit name, and whether it is live.
func adaptiveStats(e *Engine, name string) (AdaptiveStats, bool) {
	s, ok := e.env.Registry.AdaptiveLimits.Stats()[name]
	return s, ok
}

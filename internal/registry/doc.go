// Package registry holds the engine's named actors: one Family per kind of named actor
// (breakers, limiters; bulkheads and budgets come next), the supervisor actor that
// spawns, restarts and passivates them, and the Backend seam that turns a family's name
// and configuration into the link callers use and the props of the actor behind it.
//
// # Files
//
//   - family.go: Family, generic over a kind's link, policy and stats; the published
//     name → link map; the configurations of passivated names.
//   - resolve.go: the caller's side: a live link, or an ensure request to the supervisor.
//   - supervisor.go: the supervisor actor: spawn, restart hooks, passivation scan, forget.
//   - backend.go: Backend and Local, the backend that runs every actor in this process.
//   - breaker.go, limiter.go: one Family literal per kind: how to reconfigure it, its
//     stats and metric series.
//
// Adding a named kind means a new file here with its Family literal and its Local
// method, a Backend method, a field and an entry in Registry's family list (registry.go).
//
// Callers read the published maps without asking; only the supervisor actor writes
// them, one entry at a time.
package registry

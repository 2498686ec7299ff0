// Package telemetry holds what the engine counts and tells: the hot counters (Counters),
// the duration histogram (Histogram), the state-change events and their subscribers
// (Event, Hub), the hooks that turn actor notifications into counts and events (Hooks),
// warnings logged once (Warner), and the Prometheus collector over the counters and the
// families of named actors (NewCollector).
//
// Everything here is safe for concurrent use, and nothing here waits for an actor.
package telemetry

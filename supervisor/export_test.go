package supervisor

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
)

// The seam tests reach the engine's insides through: a refactor of the engine changes
// these functions, not the tests.

// liveBreakers returns a copy of the engine's published breakers by name.
func liveBreakers(e *Engine) map[string]*actors.BreakerLink { return e.env.Registry.Breakers.Live() }

// liveLimiters returns a copy of the engine's published limiters by name.
func liveLimiters(e *Engine) map[string]*actors.LimiterLink { return e.env.Registry.Limiters.Live() }

// breakerOf returns the published breaker name, or nil.
func breakerOf(e *Engine, name string) *actors.BreakerLink { return e.env.Registry.Breakers.Get(name) }

// limiterOf returns the published limiter name, or nil.
func limiterOf(e *Engine, name string) *actors.LimiterLink { return e.env.Registry.Limiters.Get(name) }

// inject sends m to pid from outside any actor, as a fault or a test message.
func inject(e *Engine, pid *actor.PID, m any) { e.root.Send(pid, m) }

// injectAs sends m to pid with sender as its sender.
func injectAs(e *Engine, pid *actor.PID, m any, sender *actor.PID) {
	e.root.RequestWithCustomSender(pid, m, sender)
}

// supervisorOf returns the supervisor actor's PID.
func supervisorOf(e *Engine) *actor.PID { return e.env.Registry.PID() }

// supervisorDone returns a channel closed when the supervisor actor has stopped.
func supervisorDone(e *Engine) <-chan struct{} { return e.env.Registry.Done() }

// inboxOf returns the PID of the engine's inbox.
func inboxOf(e *Engine) *actor.PID { return e.inboxPID }

// children returns how many child actors the supervisor keeps track of; only while the
// supervisor is idle.
func children(e *Engine) int { return e.env.Registry.Children() }

// rememberedBreakers returns how many passivated breaker names keep a configuration,
// and how many distinct configurations they share; only while the supervisor is idle.
func rememberedBreakers(e *Engine) (names, configs int) { return e.env.Registry.Breakers.Remembered() }

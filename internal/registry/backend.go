package registry

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/policy"
)

// Backend turns a family's name and configuration into the link the engine's callers
// use and the props of the actor the supervisor spawns behind it. The pipeline only
// touches the link (its view, counters, PID and stopped channel), so another backend
// (cluster mode: a local proxy actor in front of a remote owner) changes nothing else.
// Local is today's behaviour. The supervisor calls a Backend from its own actor only.
type Backend interface {
	// Breaker returns the link and actor props of the breaker name, configured by p.
	Breaker(name string, p policy.CircuitBreakerPolicy, env Env) (*actors.BreakerLink, *actor.Props)
	// Limiter returns the link and actor props of the limiter name, configured by p.
	Limiter(name string, p policy.RateLimitPolicy, env Env) (*actors.LimiterLink, *actor.Props)
}

// Env is what a Backend gets to build an actor with: the time it is created at, the
// engine's hooks, and the dispatcher its actor runs on.
type Env struct {
	Now        time.Time
	Hooks      actors.Hooks
	Dispatcher actor.Dispatcher
}

// Local is the Backend that runs every named actor in this process: the link's own
// actor, owning the state.
type Local struct{}

var _ Backend = Local{}

// localProps returns the props of a local actor produced by producer, with its
// mailbox, on env's dispatcher.
func localProps(producer actor.Producer, mailbox actor.MailboxProducer, env Env) *actor.Props {
	return actor.PropsFromProducer(producer, actor.WithDispatcher(env.Dispatcher), actor.WithMailbox(mailbox))
}

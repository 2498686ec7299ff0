package supervisor

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/internal/telemetry"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Engine runs operations under resilience policies. It owns a supervisor actor, which
// owns one actor per named circuit breaker and rate limiter, and applies retry and
// timeout itself on the caller's goroutine. Build one with New, share it, and call
// Shutdown when done. All methods are safe for concurrent use.
type Engine struct {
	// The per-call machinery: the shutdown gate, counters, logs, plan cache; it reaches
	// the named actors through env.Registry and env.Inbox.
	env *pipeline.Env

	// Observability; the counters are env.Counters.
	events *telemetry.Hub

	// The actor system and the engine's processes on it.
	sys       *actor.ActorSystem
	ownSystem bool // sys was created by New: Shutdown stops it
	root      *actor.RootContext
	entry     *actor.PID // Engine.PID: the actor-client adapter
	inboxPID  *actor.PID

	// Lifecycle.
	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds and starts an engine. With no options it creates its own actor system,
// logs nothing and keeps every named actor until Shutdown. An invalid option is an
// error matching policy.ErrInvalidPolicy.
func New(opts ...Option) (*Engine, error) {
	cfg := config{logger: zap.NewNop(), failureLevel: zap.WarnLevel}
	for i, opt := range opts {
		if opt == nil {
			return nil, pipeline.Invalid("", "New: option "+strconv.Itoa(i)+" is nil")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.workers == 0 {
		cfg.workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	env := pipeline.NewEnv()
	e := &Engine{env: env}
	env.Log, env.FailureLevel, env.MailboxLimit = cfg.logger, cfg.failureLevel, cfg.mailboxLimit
	env.Warn = telemetry.NewWarner(cfg.logger)
	for _, cl := range cfg.classifiers {
		env.Classifiers.Register(cl.name, cl.fn)
	}
	if cfg.histogram {
		env.Hist = telemetry.NewHistogram()
	}
	if cfg.observer != nil {
		env.Observer = observerAdapter{cfg.observer}
	}
	e.events = telemetry.NewHub(&env.Counters.EventsDropped, env.Warn)

	e.sys = cfg.system
	if e.sys == nil {
		core := cfg.logger.Core()
		e.sys = actor.NewActorSystem(
			actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
				return slog.New(zapslog.NewHandler(core, zapslog.WithName("protoactor"))).With("actor_system", sys.ID)
			}),
			// protoactor throttles dead-letter logs with a goroutine that lives one
			// interval; keep it short so none outlives Shutdown.
			actor.WithDeadLetterThrottleInterval(deadLetterInterval))
		e.ownSystem = true
	}
	e.root = e.sys.Root

	env.Outbox = inbox.NewOutbox(e.root)
	env.Inbox = inbox.New(env.Outbox, env.Done(), cfg.logger)
	e.inboxPID = e.register(env.Inbox, "bulwark-inbox")
	env.Inbox.SetPID(e.inboxPID)

	env.Registry = registry.New(registry.Options{
		IdleTimeout: cfg.idleTimeout,
		Workers:     cfg.workers,
		Backend:     cfg.backend,
		Log:         cfg.logger,
		Warn:        env.Warn,
		Hooks:       telemetry.Hooks(cfg.logger, &env.Counters, e.events),
		Counters:    &env.Counters,
		Inbox:       env.Inbox,
		Outbox:      env.Outbox,
		Closed:      env.Closed,
		Stats:       e.engineStats,
	})
	env.Registry.Start(e.root)
	e.entry = e.register(&actorClient{e: e}, "bulwark-engine")
	return e, nil
}

// register adds a process under a unique id built from prefix.
func (e *Engine) register(p actor.Process, prefix string) *actor.PID {
	for {
		pid, ok := e.sys.ProcessRegistry.Add(p, prefix+"$"+e.sys.ProcessRegistry.NextId())
		if ok {
			return pid
		}
	}
}

// PID returns the engine's entry point for actor clients: send it messages.Execute
// (with a sender) to run an operation and receive a *messages.Result,
// messages.SetBreakerMode to set a breaker's manual state (as Engine.ForceOpen,
// DisableBreaker, MetricsOnly and ResetBreaker do) and receive a *messages.Result whose
// Err is nil or why it was refused, or messages.GetStats to receive a
// *messages.EngineStats.
func (e *Engine) PID() *actor.PID { return e.entry }

// System returns the actor system the engine runs on.
func (e *Engine) System() *actor.ActorSystem { return e.sys }

// Shutdown stops the engine. New calls get an error matching policy.ErrShutdown at
// once; calls in flight, and functions a timeout abandoned, may finish until ctx ends.
// Then callers still waiting on an actor or in a retry's backoff get ErrShutdown, no
// call starts another attempt (nor a batch another function), the engine's actors and
// goroutines stop, and Shutdown returns nil, or, if ctx cut the drain short, a
// *policy.Error matching both ctx.Err() and policy.ErrCancelled.
// A second Shutdown returns nil. An actor system passed with WithActorSystem is left
// running.
func (e *Engine) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return pipeline.Invalid("", "Shutdown: nil context")
	}
	first := false
	e.shutdownOnce.Do(func() {
		first = true
		e.shutdownErr = e.shutdown(ctx)
	})
	if !first {
		return nil
	}
	return e.shutdownErr
}

func (e *Engine) shutdown(ctx context.Context) error {
	env := e.env
	env.Close()
	env.Registry.DrainBulkheads()
	env.Registry.DrainAdaptiveLimits()
	var err error
	for env.InFlight() > 0 && err == nil {
		select {
		case <-env.Drained():
		case <-ctx.Done():
			err = &policy.Error{Kind: policy.ErrCancelled, Err: ctx.Err()}
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := env.Counters.AbandonedLive.Load(); n > 0 {
		env.Log.Warn("shutdown: functions abandoned by a timeout are still running; they are the caller's",
			zap.Int64("running", n))
	}
	env.StopWaiting()
	env.StopTimers()
	env.Outbox.Close()
	env.Registry.Stop(e.root)
	e.sys.ProcessRegistry.Remove(e.entry)
	e.sys.ProcessRegistry.Remove(e.inboxPID)
	env.Registry.StopDispatcher()
	e.events.Close()
	if e.ownSystem {
		e.sys.Shutdown()
		// protoactor's dead-letter throttle: a goroutine started by a dead letter just now
		// lives one interval; outlive it, so no goroutine of the engine survives Shutdown.
		time.Sleep(2 * deadLetterInterval)
	}
	return err
}

// deadLetterInterval is the dead-letter log throttle period of an engine's own system.
const deadLetterInterval = time.Millisecond

// tell sends msg to one of the engine's actors unless Shutdown is stopping them.
func (e *Engine) tell(pid *actor.PID, msg any, sender *actor.PID) bool {
	return e.env.Outbox.Tell(pid, msg, sender)
}

// engineStats is the supervisor's answer to messages.GetStats.
func (e *Engine) engineStats() messages.EngineStats {
	m := e.Metrics()
	return messages.EngineStats{
		TotalOperations:      m.TotalOperations,
		SuccessfulOperations: m.SuccessfulOperations,
		FailedOperations:     m.FailedOperations,
		Breakers:             m.Breakers,
		Limiters:             m.Limiters,
		Bulkheads:            m.Bulkheads,
	}
}

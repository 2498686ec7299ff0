package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/stripe"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Engine runs operations under resilience policies. It owns a supervisor actor, which
// owns one actor per named circuit breaker and rate limiter, and applies retry and
// timeout itself on the caller's goroutine. Build one with New, share it, and call
// Shutdown when done. All methods are safe for concurrent use.
type Engine struct {
	// Hot counters, each on its own cache line.
	entered   stripe.Counter // calls that passed the shutdown gate
	succeeded stripe.Counter
	failed    paddedCounter
	refused   paddedCounter // calls that entered, then were refused (not operations)
	closed    atomic.Bool

	retries, timeouts, rateLimitHits, trips, abandoned, panics, restarts atomic.Uint64
	abandonedLive                                                        atomic.Int64
	eventsDropped                                                        atomic.Uint64
	supRestarts                                                          atomic.Uint64       // panics the supervisor actor recovered from
	supDepth                                                             actors.MailboxDepth // the supervisor actor's mailbox, for Collector

	cfg       config
	log       *zap.Logger
	sys       *actor.ActorSystem
	ownSystem bool
	root      *actor.RootContext
	pool      *pool
	inbox     *inbox
	entry     *actor.PID
	sup       *actor.PID
	supDone   chan struct{}
	tickets   atomic.Uint64

	breakers    linkMap[*actors.BreakerLink]
	limiters    linkMap[*actors.LimiterLink]
	breakerKind *kind[*actors.BreakerLink, policy.CircuitBreakerPolicy]
	limiterKind *kind[*actors.LimiterLink, policy.RateLimitPolicy]
	reg         registry // owned by the supervisor actor
	plans       planCache
	warned      sync.Map // warnings already logged once
	events      eventHub
	hist        *histogram
	slots       sync.Pool // *timeoutSlot; per engine, so synctest bubbles never share one

	done         chan struct{} // closed when Shutdown gives up waiting: releases waiters
	sendMu       sync.RWMutex  // orders the engine's own sends before its actors stop
	actorsDown   bool          // guarded by sendMu: the engine's actors are stopping
	drain        chan struct{} // cap 1: an in-flight call finished after closed was set
	shutdownOnce sync.Once
	shutdownErr  error
}

type paddedCounter struct {
	atomic.Uint64
	_ [56]byte
}

// askBound bounds the engine's own requests to its actors (registration, stats).
const askBound = 10 * time.Second

// New builds and starts an engine. With no options it creates its own actor system,
// logs nothing and keeps every named actor until Shutdown. An invalid option is an
// error matching policy.ErrInvalidPolicy.
func New(opts ...Option) (*Engine, error) {
	cfg := config{logger: zap.NewNop(), failureLevel: zap.WarnLevel}
	for i, opt := range opts {
		if opt == nil {
			return nil, invalid("", fmt.Sprintf("New: option %d is nil", i))
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.workers == 0 {
		cfg.workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.logger,
		done:    make(chan struct{}),
		drain:   make(chan struct{}, 1),
		supDone: make(chan struct{}),
	}
	e.breakerKind, e.limiterKind = breakerKind(e), limiterKind(e)
	if cfg.histogram {
		e.hist = newHistogram()
	}
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
	e.pool = newPool(cfg.workers, 1024, 300)

	e.inbox = &inbox{e: e}
	e.inbox.pid = e.register(e.inbox, "bulwark-inbox")
	e.reg.init()

	props := actor.PropsFromProducer(func() actor.Actor { return &supervisorActor{e: e} },
		actor.WithDispatcher(e.pool),
		actor.WithMailbox(actor.Unbounded(&e.supDepth)),
		actor.WithSupervisor(actor.NewRestartingStrategy()),
		actor.WithGuardian(actor.NewRestartingStrategy()))
	sup, err := e.root.SpawnPrefix(props, "bulwark-supervisor"), error(nil)
	if err != nil {
		e.pool.stop()
		return nil, err
	}
	e.sup = sup
	e.entry = e.register(&entry{e: e}, "bulwark-engine")
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
// (with a sender) to run an operation and receive a *messages.Result, or
// messages.GetStats to receive a *messages.EngineStats.
func (e *Engine) PID() *actor.PID { return e.entry }

// System returns the actor system the engine runs on.
func (e *Engine) System() *actor.ActorSystem { return e.sys }

// enter admits a call through the shutdown gate.
func (e *Engine) enter() bool {
	e.entered.Add(1)
	if e.closed.Load() {
		e.refused.Add(1)
		e.wakeDrain()
		return false
	}
	return true
}

// stopped reports whether Shutdown stopped waiting for in-flight calls: from then on no
// call starts new work (a retry's next attempt, a batch's next function), and waiting
// callers get ErrShutdown.
func (e *Engine) stopped() bool {
	return e.closed.Load() && isClosed(e.done)
}

// leave records that an admitted call returned.
func (e *Engine) leave(ok bool) {
	if ok {
		e.succeeded.Add(1)
	} else {
		e.failed.Add(1)
	}
	if e.closed.Load() {
		e.wakeDrain()
	}
}

// leaveRefused records that an admitted call turned out not to be an operation, or
// gives back a place in the gate that was not a call (an actor client's delivery).
func (e *Engine) leaveRefused() {
	e.refused.Add(1)
	if e.closed.Load() {
		e.wakeDrain()
	}
}

func (e *Engine) wakeDrain() {
	select {
	case e.drain <- struct{}{}:
	default:
	}
}

// inFlight returns the calls still running plus abandoned functions still running. It
// reads the finished counters before the entered one: a call counted as finished was
// counted as entered before, so the difference never undercounts.
func (e *Engine) inFlight() int64 {
	finished := e.succeeded.Load() + e.failed.Load() + e.refused.Load()
	return int64(e.entered.Load()-finished) + e.abandonedLive.Load()
}

// Shutdown stops the engine. New calls get an error matching policy.ErrShutdown at
// once; calls in flight, and functions a timeout abandoned, may finish until ctx ends.
// Then callers still waiting on an actor or in a retry's backoff get ErrShutdown, no
// call starts another attempt (nor a batch another function), the engine's actors and
// goroutines stop, and Shutdown returns ctx.Err() if the drain was cut short, else nil.
// A second Shutdown returns nil. An actor system passed with WithActorSystem is left
// running.
func (e *Engine) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return invalid("", "Shutdown: nil context")
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
	e.closed.Store(true)
	var err error
	for e.inFlight() > 0 && err == nil {
		select {
		case <-e.drain:
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := e.abandonedLive.Load(); n > 0 {
		e.log.Warn("shutdown: functions abandoned by a timeout are still running; they are the caller's",
			zap.Int64("running", n))
	}
	close(e.done)
	e.sendMu.Lock()
	e.actorsDown = true
	e.sendMu.Unlock()
	e.root.Poison(e.sup)
	<-e.supDone
	e.sys.ProcessRegistry.Remove(e.entry)
	e.sys.ProcessRegistry.Remove(e.inbox.pid)
	e.pool.stop()
	e.events.closeAll()
	if e.ownSystem {
		e.sys.Shutdown()
		// Let a dead-letter throttle goroutine started just now run out (see New).
		time.Sleep(2 * deadLetterInterval)
	}
	return err
}

// deadLetterInterval is the dead-letter log throttle period of an engine's own system.
const deadLetterInterval = time.Millisecond

// tell sends msg to one of the engine's actors, with sender when it is not nil, unless
// the actors are stopping: a message to a stopped actor becomes a dead letter, and
// protoactor starts a goroutine to throttle the dead-letter log — which would outlive
// Shutdown. It reports whether the message was sent. Only slow paths send.
func (e *Engine) tell(pid *actor.PID, msg any, sender *actor.PID) bool {
	e.sendMu.RLock()
	defer e.sendMu.RUnlock()
	if e.actorsDown {
		return false
	}
	if sender != nil {
		e.root.RequestWithCustomSender(pid, msg, sender)
	} else {
		e.root.Send(pid, msg)
	}
	return true
}

// warnOnce logs msg at Warn the first time key is seen.
func (e *Engine) warnOnce(key, msg string, fields ...zap.Field) {
	if _, loaded := e.warned.LoadOrStore(key, struct{}{}); !loaded {
		e.log.Warn(msg, fields...)
	}
}

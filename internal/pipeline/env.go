package pipeline

import (
	"sync"

	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/internal/telemetry"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Env is what every call of one engine runs on. Build it with NewEnv and set its
// collaborators before the first call; a call only reads them.
type Env struct {
	Gate // the shutdown gate: calls in flight, Shutdown's drain

	// Observability.
	Log          *zap.Logger
	Warn         *telemetry.Warner
	Hist         *telemetry.Histogram // nil: durations are not recorded
	FailureLevel zapcore.Level        // of an ordinary failed operation's log line

	// The named actors and the way to talk to them.
	Registry     *registry.Registry
	Inbox        *inbox.Inbox
	Outbox       *inbox.Outbox
	MailboxLimit int // past it, a call that would queue behind an actor gets ErrOverloaded; 0: none

	// Classifiers are the registered outcome classifiers that policies name.
	Classifiers Classifiers

	// Fallbacks are the registered fallback functions that policies name.
	Fallbacks Fallbacks

	// Observer receives the calls' happenings (supervisor.WithObserver); nil: none.
	Observer       Observer
	observerWarned observerWarned

	// Per-call pools and caches.
	plans      planCache
	slots      sync.Pool // *timeoutSlot; per engine, so synctest bubbles never share one
	hedgeSlots sync.Pool // *hedgeSlot, likewise
	wheel      wheel     // the shared deadline timer of cooperative timeouts
	coops      sync.Pool // *coopCtx
	// batches holds a *sync.Pool of *batch[T] per reflect.Type of T.
	batches sync.Map
}

// NewEnv returns an Env with an open gate and zero counters.
func NewEnv() *Env {
	env := &Env{}
	env.Gate.init()
	return env
}

// pastLimit reports whether a mailbox of depth is at or past the mailbox limit.
func (env *Env) pastLimit(depth int64) bool {
	return env.MailboxLimit > 0 && depth >= int64(env.MailboxLimit)
}

// StopTimers stops the shared deadline timer of cooperative timeouts: the contexts of
// cooperative timeouts still running end (Err: context.Canceled), and its goroutine
// exits. Shutdown calls it once it stopped waiting for in-flight calls.
func (env *Env) StopTimers() { env.wheel.stop() }

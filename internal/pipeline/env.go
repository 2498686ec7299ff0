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

	// Observer receives the calls' happenings (supervisor.WithObserver); nil: none.
	Observer       Observer
	observerWarned observerWarned

	// Per-call pools and caches.
	plans      planCache
	slots      sync.Pool // *timeoutSlot; per engine, so synctest bubbles never share one
	hedgeSlots sync.Pool // *hedgeSlot, likewise
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

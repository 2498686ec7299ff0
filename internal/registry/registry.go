package registry

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/inbox"
	"github.com/bulwark-go/bulwark/internal/telemetry"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// Options is what the registry is built with.
type Options struct {
	IdleTimeout time.Duration // passivate idle unregistered actors; 0: never
	Workers     int           // goroutines of the actors' dispatcher
	Backend     Backend       // nil: Local
	Log         *zap.Logger
	Warn        *telemetry.Warner
	Hooks       actors.Hooks // given to every named actor
	Counters    *telemetry.Counters
	Inbox       *inbox.Inbox
	Outbox      *inbox.Outbox
	// Closed reports whether Shutdown has begun: a name passivated from then on keeps
	// no configuration.
	Closed func() bool
	// Stats is the supervisor's answer to messages.GetStats.
	Stats func() messages.EngineStats
}

// Registry is the engine's named actors: one Family per kind, and the supervisor actor
// that owns them. Build one with New and start it with Start.
type Registry struct {
	// The families. Adding a named kind adds a field here and an entry in New's list.
	Breakers  *Breakers
	Limiters  *Limiters
	Bulkheads *Bulkheads
	Budgets   *Budgets
	// AdaptiveLimits are the adaptive concurrency limits.
	AdaptiveLimits *AdaptiveLimits

	families []family
	cfg      Options
	pool     *pool
	pid      *actor.PID
	done     chan struct{} // closed when the supervisor actor stopped
	depth    actors.MailboxDepth

	// Owned by the supervisor actor.
	seq      uint64            // gives every spawned child a fresh actor id
	children map[string]func() // child actor id → forget it, once it stopped
}

// family is what the supervisor and the collector do with every family alike.
type family interface {
	telemetry.Family
	scan(c actor.Context, cutoff time.Time)
}

// New builds a registry and the dispatcher its actors run on; nothing runs until Start.
func New(o Options) *Registry {
	if o.Backend == nil {
		o.Backend = Local{}
	}
	r := &Registry{cfg: o, done: make(chan struct{}), children: map[string]func(){}}
	r.pool = newPool(o.Workers, 1024, 300)
	r.Breakers = newBreakers(r)
	r.Limiters = newLimiters(r)
	r.Bulkheads = newBulkheads(r)
	r.Budgets = newBudgets(r)
	r.AdaptiveLimits = newAdaptiveLimits(r)
	r.families = []family{r.Breakers, r.Limiters, r.Bulkheads, r.Budgets, r.AdaptiveLimits}
	return r
}

// Start spawns the supervisor actor from root.
func (r *Registry) Start(root *actor.RootContext) {
	props := actor.PropsFromProducer(func() actor.Actor { return &supervisorActor{r: r} },
		actor.WithDispatcher(r.pool),
		actor.WithMailbox(actor.Unbounded(&r.depth)),
		actor.WithSupervisor(actor.NewRestartingStrategy()),
		actor.WithGuardian(actor.NewRestartingStrategy()))
	r.pid = root.SpawnPrefix(props, "bulwark-supervisor")
}

// Stop stops the supervisor actor and its children, and waits until they stopped.
func (r *Registry) Stop(root *actor.RootContext) {
	root.Poison(r.pid)
	<-r.done
}

// StopDispatcher lets the dispatcher finish its queued jobs and waits for every
// goroutine of it; after Stop.
func (r *Registry) StopDispatcher() { r.pool.stop() }

// PID returns the supervisor actor's PID.
func (r *Registry) PID() *actor.PID { return r.pid }

// Done returns a channel closed when the supervisor actor has stopped.
func (r *Registry) Done() <-chan struct{} { return r.done }

// Families returns every family, for the collector.
func (r *Registry) Families() []telemetry.Family {
	out := make([]telemetry.Family, len(r.families))
	for i, f := range r.families {
		out[i] = f
	}
	return out
}

// Supervisor returns the supervisor actor's mailbox depth and restarts, for the
// collector.
func (r *Registry) Supervisor() (depth int64, restarts uint64) {
	return r.depth.Depth(), r.cfg.Counters.SupRestarts.Load()
}

// Children returns how many child actors the supervisor keeps track of; only for tests,
// while the supervisor is idle.
func (r *Registry) Children() int { return len(r.children) }

// Backend returns the backend the registry builds its named actors with.
func (r *Registry) Backend() Backend { return r.cfg.Backend }

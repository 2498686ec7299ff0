package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Shared is one member's cluster mode: the protoactor cluster member, the bridge to the
// owners of shared names, and the engine Option that makes shared names replicas. Build
// one with Start or Attach; call Close after the engines that use it are shut down.
type Shared struct {
	c    *pcluster.Cluster
	own  bool // Start made the member: Close stops it
	n    *node
	b    *bridge
	once sync.Once
	err  error
}

// Start starts a cluster member named clusterName on provider (protoactor's test,
// etcd, consul or k8s provider), with disthash as the identity lookup and the bulwark
// kinds, listening on WithAddress (default 127.0.0.1 and a free port), and attaches to
// it. It takes about 1 s (protoactor sleeps 1 s in StartMember): start several members
// in parallel.
func Start(clusterName string, provider pcluster.ClusterProvider, opts ...Option) (*Shared, error) {
	if clusterName == "" || provider == nil {
		return nil, errors.New("cluster: Start needs a cluster name and a provider")
	}
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	logger := o.logger
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	rc := remote.Configure(o.host, o.port)
	// An endpoint writer retries a gone member MaxRetryCount times, 2 s apart, inside
	// its actor, and a Shutdown waits for it: one try keeps a Close after a member left
	// within seconds. Lost messages are asked again by the replicas.
	rc.MaxRetryCount = 1
	cfg := pcluster.Configure(clusterName, provider, disthash.New(), rc,
		pcluster.WithKinds(Kinds(opts...)...),
		pcluster.WithRequestTimeout(o.requestTimeout),
		pcluster.WithHeartbeatExpiration(o.heartbeat))
	c := pcluster.New(sys, cfg)
	if err := startMember(c); err != nil {
		sys.Shutdown()
		return nil, err
	}
	s, err := attach(c, o)
	if err != nil {
		c.Shutdown(true)
		return nil, err
	}
	s.own = true
	return s, nil
}

// startMember runs StartMember, turning its panics (a provider that cannot register,
// a port in use) into an error.
func startMember(c *pcluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cluster: StartMember: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

// Attach plugs cluster mode into a member you started yourself, whose configuration
// has the bulwark kinds (Kinds) on every member. Close then leaves the member running.
func Attach(c *pcluster.Cluster, opts ...Option) (*Shared, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return attach(c, o)
}

func attach(c *pcluster.Cluster, o options) (*Shared, error) {
	if c == nil || c.Remote == nil {
		return nil, errors.New("cluster: Attach needs a started member (StartMember first)")
	}
	for _, k := range []string{breakerKind, limiterKind} {
		if _, ok := c.TryGetClusterKind(k); !ok {
			return nil, fmt.Errorf("cluster: the member has no kind %q: add cluster.Kinds() with cluster.WithKinds before StartMember", k)
		}
	}
	b := newBridge(c)
	n := newNode(c.ActorSystem.ID, o, b)
	b.n.Store(n)
	return &Shared{c: c, n: n, b: b}, nil
}

// Option returns the engine Option of cluster mode: pass it to supervisor.New. Names
// whose policy is shared (AsShared) become replicas of their owner in the fleet; the
// others stay local. The engine may run on its own actor system.
func (s *Shared) Option() supervisor.Option { return supervisor.WithBackend(backend{s.n}) }

// Cluster returns the protoactor cluster member.
func (s *Shared) Cluster() *pcluster.Cluster { return s.c }

// ActorSystem returns the member's actor system.
func (s *Shared) ActorSystem() *actor.ActorSystem { return s.c.ActorSystem }

// Members returns how many members the fleet has, as of the latest topology this
// member saw.
func (s *Shared) Members() int { return s.b.members() }

// Close stops the bridge and, for a member Start made, leaves the cluster gracefully:
// the owners it hosted move to the other members, which rebuild their state (an open
// breaker stays open, a limiter starts empty). That takes about 2 s (protoactor sleeps
// 2 s in a graceful Shutdown). Shut the engines that use s down first. Close returns
// ctx's error if ctx ends first (the leave goes on). A second Close returns the first
// one's result. The test provider leaves a goroutine of its own running, and the etcd
// provider its client's.
func (s *Shared) Close(ctx context.Context) error {
	s.once.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.b.stop()
			if s.own {
				s.c.Shutdown(true)
			}
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.err = ctx.Err()
		}
	})
	return s.err
}

// ownerTimeout returns the configured owner timeout, for tests.
func (s *Shared) ownerTimeout() time.Duration { return s.n.opts.ownerTimeout }

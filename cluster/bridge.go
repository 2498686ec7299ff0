package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/bulwark-go/bulwark/cluster/internal/pb"
	"google.golang.org/protobuf/proto"
)

// maxQueued bounds the messages a bridge keeps for an owner it is still looking up; the
// oldest go first (the replicas ask again).
const maxQueued = 16

// bridge is the transport over protoactor's cluster: one actor per member (named
// "bulwark-cluster") that resolves owner grains and sends to them with itself as the
// sender, so that answers and pushes come back to it; it hands them to the node's
// replicas. It never calls cluster.Request or RequestFuture (package-global options,
// futures that race, a timeout that does not bound disthash's lookup), and never looks
// an owner up on a caller's or an actor's goroutine: the abandoning resolver runs
// cluster.Get on a goroutine of its own, at most one per name, and forgets it when the
// topology changes or the owner does not answer (disthash's lookup blocks 5 s on a dead
// but still listed owner).
type bridge struct {
	c       *pcluster.Cluster
	get     func(name, kind string) *actor.PID // the lookup: cluster.Get, blocking
	cache   pidCache
	root    *actor.RootContext
	pid     *actor.PID
	n       atomic.Pointer[node]
	nodes   atomic.Int64 // members, as of the latest topology
	sub     *eventstream.Subscription
	lookups sync.WaitGroup
}

var _ transport = (*bridge)(nil)

// outbound is a message for the owner of a name.
type outbound struct {
	kind, name string
	msg        proto.Message
}

// invalidation drops what the bridge knows of an owner.
type invalidation struct{ kind, name string }

// resolved is a lookup's result.
type resolved struct {
	kind, name string
	pid        *actor.PID
	gen        uint64
}

// pidCache is what the bridge uses of protoactor's PidCache.
type pidCache interface {
	Get(identity, kind string) (*actor.PID, bool)
	Set(identity, kind string, pid *actor.PID)
	RemoveByValue(identity, kind string, pid *actor.PID)
}

func newBridge(c *pcluster.Cluster) *bridge {
	b := startBridge(c.ActorSystem, c.Get, c.PidCache, c.MemberList.Length())
	b.c = c
	b.sub = c.ActorSystem.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*pcluster.ClusterTopology); ok {
			b.root.Send(b.pid, t)
		}
	})
	return b
}

// startBridge spawns a bridge on sys that looks owners up with get.
func startBridge(sys *actor.ActorSystem, get func(name, kind string) *actor.PID, cache pidCache, members int) *bridge {
	b := &bridge{get: get, cache: cache, root: sys.Root}
	b.nodes.Store(int64(max(members, 1)))
	a := &bridgeActor{b: b, pids: map[string]*actor.PID{}, queued: map[string][]proto.Message{}, inflight: map[string]uint64{}}
	pid, err := b.root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a }), "bulwark-cluster")
	if err != nil {
		pid = b.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	}
	b.pid = pid
	return b
}

func (b *bridge) send(kind, name string, msg proto.Message) {
	b.root.Send(b.pid, &outbound{kind: kind, name: name, msg: msg})
}

func (b *bridge) invalidate(kind, name string) {
	b.root.Send(b.pid, &invalidation{kind: kind, name: name})
}

func (b *bridge) members() int { return int(b.nodes.Load()) }

// stop stops the bridge actor and its topology subscription.
func (b *bridge) stop() {
	if b.sub != nil {
		b.c.ActorSystem.EventStream.Unsubscribe(b.sub)
	}
	_ = b.root.StopFuture(b.pid).Wait()
}

// bridgeActor is the bridge's actor; only it touches its maps.
type bridgeActor struct {
	b        *bridge
	gen      uint64 // grows on every topology change: lookups of an older one are dropped
	pids     map[string]*actor.PID
	queued   map[string][]proto.Message
	inflight map[string]uint64 // lookups under way, by key, with their generation
}

// Receive handles one message.
func (a *bridgeActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *outbound:
		k := key(m.kind, m.name)
		if pid := a.pids[k]; pid != nil {
			c.Request(pid, m.msg)
			return
		}
		if pid, ok := a.b.cache.Get(m.name, m.kind); ok && pid != nil {
			a.pids[k] = pid
			c.Request(pid, m.msg)
			return
		}
		q := append(a.queued[k], m.msg)
		if len(q) > maxQueued {
			q = q[len(q)-maxQueued:]
		}
		a.queued[k] = q
		a.lookup(c, m.kind, m.name)
	case *resolved:
		k := key(m.kind, m.name)
		if g, ok := a.inflight[k]; !ok || g != m.gen || m.gen != a.gen {
			return // abandoned
		}
		delete(a.inflight, k)
		if m.pid == nil {
			return // no owner yet: the replicas ask again
		}
		a.pids[k] = m.pid
		a.b.cache.Set(m.name, m.kind, m.pid)
		for _, msg := range a.queued[k] {
			c.Request(m.pid, msg)
		}
		delete(a.queued, k)
	case *invalidation:
		k := key(m.kind, m.name)
		if pid := a.pids[k]; pid != nil {
			a.b.cache.RemoveByValue(m.name, m.kind, pid)
		}
		delete(a.pids, k)
		delete(a.inflight, k)
	case *pcluster.ClusterTopology:
		a.gen++
		a.b.nodes.Store(int64(max(len(m.Members), 1)))
		for k := range a.pids {
			delete(a.pids, k)
		}
		for k := range a.inflight {
			delete(a.inflight, k)
		}
		for k, q := range a.queued {
			if len(q) > 0 {
				kind, name := splitKey(k)
				a.lookup(c, kind, name)
			}
		}
		if n := a.b.n.Load(); n != nil {
			n.topologyChanged()
		}
	case *pb.LeaseGrant:
		if n := a.b.n.Load(); n != nil {
			n.deliver(limiterKind, m.Name, m)
		}
	case *pb.BreakerView:
		if n := a.b.n.Load(); n != nil {
			n.deliver(breakerKind, m.Name, m)
		}
	}
}

// lookup starts resolving the owner of kind and name on a goroutine of its own, unless
// one is under way for this topology.
func (a *bridgeActor) lookup(c actor.Context, kind, name string) {
	k := key(kind, name)
	if g, ok := a.inflight[k]; ok && g == a.gen {
		return
	}
	gen := a.gen
	a.inflight[k] = gen
	self, root, get := c.Self(), a.b.root, a.b.get
	a.b.lookups.Add(1)
	go func() {
		defer a.b.lookups.Done()
		pid := get(name, kind) // may block 5 s on a dead owner: abandoned meanwhile
		root.Send(self, &resolved{kind: kind, name: name, pid: pid, gen: gen})
	}()
}

// splitKey undoes key.
func splitKey(k string) (kind, name string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

package cluster

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// The grain kinds of shared breakers and limiters; every member hosts both.
const (
	breakerKind = "bulwark.breaker"
	limiterKind = "bulwark.limiter"
)

var errNotBreaker = errors.New("cluster: the policy is not a circuit breaker")

// transport is how a node reaches the owners of its shared names: the bridge over
// protoactor's cluster, or the tests' in-memory fake. send never blocks; answers and
// pushes come back through node.deliver.
type transport interface {
	// send delivers msg to the owner of the shared name of kind.
	send(kind, name string, msg proto.Message)
	// invalidate forgets where the owner of the name is (it did not answer).
	invalidate(kind, name string)
	// members returns how many members the fleet has, as last seen (at least 1).
	members() int
}

// node is one member's side of cluster mode: its id, options, transport, and the
// replicas of shared names, to deliver the owners' answers to.
type node struct {
	id   string
	opts options
	t    transport

	replicas sync.Map // kind + "/" + name → *status
}

func newNode(id string, o options, t transport) *node { return &node{id: id, opts: o, t: t} }

// status is a replica's durable side that the node and the metrics see: where to
// deliver owner messages, and whether the name is coordinated.
type status struct {
	kind, name  string
	post        atomic.Pointer[func(any)]
	degraded    atomic.Bool
	heard       atomic.Int64 // unix nanos of the owner's latest answer or push (0: never)
	requests    atomic.Uint64
	activations atomic.Pointer[string]
}

func key(kind, name string) string { return kind + "/" + name }

// attach makes s the replica of its name, posting owner messages with post.
func (n *node) attach(s *status, post func(any)) {
	s.post.Store(&post)
	n.replicas.Store(key(s.kind, s.name), s)
}

// detach forgets s, unless another replica of the name took its place.
func (n *node) detach(s *status) {
	s.post.Store(nil)
	n.replicas.CompareAndDelete(key(s.kind, s.name), s)
}

// deliver hands an owner's message to the replica of kind and name.
func (n *node) deliver(kind, name string, msg proto.Message) {
	v, ok := n.replicas.Load(key(kind, name))
	if !ok {
		return
	}
	if post := v.(*status).post.Load(); post != nil {
		(*post)(&fromOwner{msg: msg, at: time.Now()})
	}
}

// topologyChanged tells every replica that the members changed: owners may have moved,
// so each re-registers with what it knows (its view, the tokens it holds).
func (n *node) topologyChanged() {
	n.replicas.Range(func(_, v any) bool {
		if post := v.(*status).post.Load(); post != nil {
			(*post)(&topologyChanged{})
		}
		return true
	})
}

// topologyChanged is posted to replicas when the members changed.
type topologyChanged struct{}

// send counts and sends a request to the owner of s's name.
func (n *node) send(s *status, msg proto.Message) {
	s.requests.Add(1)
	n.t.send(s.kind, s.name, msg)
}

// fromOwner is an owner's message, posted to a replica.
type fromOwner struct {
	msg proto.Message
	at  time.Time
}

// replicaTick is a replica's own timer.
type replicaTick struct{ gen uint64 }

// backend is the registry Backend of cluster mode: shared names become replicas, the
// others stay local.
type backend struct{ n *node }

var (
	_ registry.Backend     = backend{}
	_ prometheus.Collector = backend{}
)

// Breaker returns a replica of the shared breaker name, or a local breaker.
func (b backend) Breaker(name string, p policy.CircuitBreakerPolicy, env registry.Env) (*actors.BreakerLink, *actor.Props) {
	if !p.Shared {
		return registry.Local{}.Breaker(name, p, env)
	}
	l := actors.NewBreakerLink(name, p, env.Now, env.Hooks)
	st := newBreakerState(b.n, name, p, l, env.Hooks)
	producer := func() actor.Actor { return &breakerReplica{st: st, inner: l.Producer()()} }
	return l, actor.PropsFromProducer(producer, actor.WithDispatcher(env.Dispatcher), actor.WithMailbox(l.Mailbox()))
}

// Limiter returns a replica of the shared limiter name, or a local limiter.
func (b backend) Limiter(name string, p policy.RateLimitPolicy, env registry.Env) (*actors.LimiterLink, *actor.Props) {
	if !p.Shared {
		return registry.Local{}.Limiter(name, p, env)
	}
	l := actors.NewSharedLimiterLink(name, p, env.Now, env.Hooks)
	st := newLimiterState(b.n, name, p, l, env.Hooks)
	producer := func() actor.Actor { return &limiterReplica{st: st, inner: l.Producer()()} }
	return l, actor.PropsFromProducer(producer, actor.WithDispatcher(env.Dispatcher), actor.WithMailbox(l.Mailbox()))
}

var (
	descCoordinated = prometheus.NewDesc("bulwark_shared_coordinated",
		"Whether a shared breaker or limiter is coordinated by its owner (1) or runs on its fail mode (0).",
		[]string{"kind", "name"}, nil)
	descViewAge = prometheus.NewDesc("bulwark_shared_view_age_seconds",
		"Seconds since a shared breaker's or limiter's owner last answered this node.",
		[]string{"kind", "name"}, nil)
	descOwnerRequests = prometheus.NewDesc("bulwark_shared_owner_requests_total",
		"Requests this node sent to a shared breaker's or limiter's owner.",
		[]string{"kind", "name"}, nil)
)

// Describe sends the descriptions of the shared-name series.
func (b backend) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCoordinated
	ch <- descViewAge
	ch <- descOwnerRequests
}

// Collect sends the shared-name series of every replica of this node.
func (b backend) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	b.n.replicas.Range(func(_, v any) bool {
		s := v.(*status)
		kind := "breaker"
		if s.kind == limiterKind {
			kind = "limiter"
		}
		coordinated := 1.0
		if s.degraded.Load() {
			coordinated = 0
		}
		age := 0.0
		if h := s.heard.Load(); h != 0 {
			age = now.Sub(time.Unix(0, h)).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descCoordinated, prometheus.GaugeValue, coordinated, kind, s.name)
		ch <- prometheus.MustNewConstMetric(descViewAge, prometheus.GaugeValue, age, kind, s.name)
		ch <- prometheus.MustNewConstMetric(descOwnerRequests, prometheus.CounterValue, float64(s.requests.Load()), kind, s.name)
		return true
	})
}

// family returns the family label of a grain kind.
func family(kind string) string {
	if kind == limiterKind {
		return "limiter"
	}
	return "breaker"
}

package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cluster/internal/pb"
	"github.com/bulwark-go/bulwark/supervisor"
	"google.golang.org/protobuf/proto"
)

// memOwners runs the owners of a test fleet in this process: the same state machines
// the grains run, behind a mutex instead of an actor, reached through memTransport. It
// can lose every message (down) and move every owner (move), so the nodes' logic —
// leases, outcome segments, view acceptance, fail-mode switching — runs under -race
// without protoactor's remote.
type memOwners struct {
	mu         sync.Mutex
	gen        int // activation generation: move starts new owners
	leases     map[string]*leaseOwner
	breakers   map[string]*breakerOwner
	subs       map[string]map[*node]bool // breaker name → nodes that reported
	timers     map[string]*time.Timer
	nodes      []*node
	down       atomic.Bool
	requests   atomic.Uint64
	onReceive  func(kind, name string, msg proto.Message) // test hook, under mu
	delivering sync.WaitGroup
}

func newMemOwners() *memOwners {
	o := &memOwners{}
	o.reset()
	return o
}

// reset starts new, empty owners (a move).
func (o *memOwners) reset() {
	o.gen++
	o.leases, o.breakers, o.subs = map[string]*leaseOwner{}, map[string]*breakerOwner{}, map[string]map[*node]bool{}
	for _, t := range o.timers {
		t.Stop()
	}
	o.timers = map[string]*time.Timer{}
}

// move makes every owner a new activation and tells the nodes the topology changed.
func (o *memOwners) move() {
	o.mu.Lock()
	o.reset()
	nodes := append([]*node(nil), o.nodes...)
	o.mu.Unlock()
	for _, n := range nodes {
		n.topologyChanged()
	}
}

// stop stops the owners' timers.
func (o *memOwners) stop() {
	o.mu.Lock()
	for _, t := range o.timers {
		t.Stop()
	}
	o.timers = map[string]*time.Timer{}
	o.mu.Unlock()
}

// memTransport is one node's way to the memOwners.
type memTransport struct {
	o *memOwners
	n *node
}

func (t *memTransport) members() int {
	t.o.mu.Lock()
	defer t.o.mu.Unlock()
	return len(t.o.nodes)
}

func (t *memTransport) invalidate(string, string) {}

func (t *memTransport) send(kind, name string, msg proto.Message) {
	o := t.o
	if o.down.Load() {
		return
	}
	o.requests.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.onReceive != nil {
		o.onReceive(kind, name, msg)
	}
	now := time.Now()
	act := fmt.Sprintf("mem-%d", o.gen)
	switch m := msg.(type) {
	case *pb.LeaseRequest:
		lo := o.leases[name]
		if lo == nil {
			lo = newLeaseOwner(act, leaseGrace)
			o.leases[name] = lo
		}
		o.answerLeases(name, lo.request(now, m, t.n))
	case *pb.BreakerReport:
		bo := o.breakers[name]
		if bo == nil {
			bo = newBreakerOwner(act, now)
			o.breakers[name] = bo
			o.subs[name] = map[*node]bool{}
		}
		o.subs[name][t.n] = true
		answer, changed := bo.report(now, m)
		if changed {
			v := bo.view()
			for n := range o.subs[name] {
				if n != t.n {
					n.deliver(breakerKind, name, v)
				}
			}
		}
		t.n.deliver(breakerKind, name, answer)
		o.armBreaker(name, bo)
	}
}

// answerLeases delivers lease answers and arms the owner's timer; under mu.
func (o *memOwners) answerLeases(name string, answers []leaseAnswer) {
	for _, a := range answers {
		a.to.(*node).deliver(limiterKind, name, a.grant)
	}
	lo := o.leases[name]
	if d, ok := lo.nextWake(time.Now()); ok {
		o.arm("l/"+name, d, func() {
			if lo2 := o.leases[name]; lo2 == lo && !o.down.Load() {
				o.answerLeases(name, lo.wake(time.Now()))
			}
		})
	}
}

// armBreaker arms a breaker owner's timer; under mu.
func (o *memOwners) armBreaker(name string, bo *breakerOwner) {
	at, ok := bo.nextWake(time.Now())
	if !ok {
		return
	}
	o.arm("b/"+name, max(time.Until(at), 0), func() {
		if o.breakers[name] != bo || o.down.Load() {
			return
		}
		if bo.wake(time.Now()) {
			v := bo.view()
			for n := range o.subs[name] {
				n.deliver(breakerKind, name, v)
			}
		}
		o.armBreaker(name, bo)
	})
}

// arm replaces the timer of key; fn runs under mu.
func (o *memOwners) arm(key string, d time.Duration, fn func()) {
	if t := o.timers[key]; t != nil {
		t.Stop()
	}
	o.timers[key] = time.AfterFunc(d, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		fn()
	})
}

// memMember is one node of an in-memory fleet, with its engine.
type memMember struct {
	n *node
	e *supervisor.Engine
}

// memFleet builds n nodes on one memOwners, each with an engine using the cluster
// backend; the test shuts them down.
func memFleet(t *testing.T, n int, opts ...Option) (*memOwners, []*memMember) {
	t.Helper()
	o := newMemOwners()
	cfg, err := build(opts)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]*memMember, n)
	for i := range n {
		tr := &memTransport{o: o}
		nd := newNode(fmt.Sprintf("node-%d", i), cfg, tr)
		tr.n = nd
		o.mu.Lock()
		o.nodes = append(o.nodes, nd)
		o.mu.Unlock()
		e, err := supervisor.New(supervisor.WithBackend(backend{nd}))
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = &memMember{n: nd, e: e}
	}
	t.Cleanup(func() {
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := m.e.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			cancel()
		}
		o.stop()
	})
	return o, ms
}

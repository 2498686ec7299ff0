package cluster

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/bulwark-go/bulwark/cluster/internal/pb"
)

// recorder is an owner stand-in that counts the lease requests it receives.
type recorder struct{ got atomic.Int64 }

func (r *recorder) Receive(c actor.Context) {
	if _, ok := c.Message().(*pb.LeaseRequest); ok {
		r.got.Add(1)
	}
}

// TestResolverAbandonsALookupBlockedOnADeadOwner: disthash's lookup blocks 5 s on a
// dead but still listed owner (specs/cluster.md §4.10 bug 5). The bridge looks owners up
// on a goroutine of its own, so a send never blocks; on a topology change it abandons the
// blocked lookup, the next one finds the new owner and gets the queued message, and the
// abandoned lookup's late answer is ignored.
func TestResolverAbandonsALookupBlockedOnADeadOwner(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	dead, alive := &recorder{}, &recorder{}
	deadPID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return dead }))
	alivePID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return alive }))
	release := make(chan struct{})
	var calls atomic.Int64
	var once sync.Once
	get := func(name, kind string) *actor.PID {
		if calls.Add(1) == 1 {
			<-release // the dead owner's placement actor never answers (5 s in disthash)
			return deadPID
		}
		return alivePID
	}
	b := startBridge(sys, get, pcluster.NewPidCache(), 3)
	defer func() {
		once.Do(func() { close(release) })
		b.stop()
		b.lookups.Wait()
	}()
	start := time.Now()
	b.send(limiterKind, "api", &pb.LeaseRequest{Name: "api"})
	b.send(limiterKind, "api", &pb.LeaseRequest{Name: "api"})
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("send blocked %v on the lookup", d)
	}
	time.Sleep(20 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d lookups for one name under way, want 1", n)
	}
	// The provider notices: a new topology. The blocked lookup is abandoned.
	sys.Root.Send(b.pid, &pcluster.ClusterTopology{Members: make([]*pcluster.Member, 2)})
	eventually(t, time.Second, "the queued requests reach the new owner", func() bool { return alive.got.Load() == 2 })
	if b.members() != 2 {
		t.Fatalf("members %d, want 2 from the topology", b.members())
	}
	once.Do(func() { close(release) })
	b.send(limiterKind, "api", &pb.LeaseRequest{Name: "api"})
	eventually(t, time.Second, "later requests go to the new owner", func() bool { return alive.got.Load() == 3 })
	time.Sleep(20 * time.Millisecond)
	if n := dead.got.Load(); n != 0 {
		t.Fatalf("the abandoned lookup's owner got %d requests", n)
	}
	// A timeout invalidates the owner: the next send looks it up again.
	b.invalidate(limiterKind, "api")
	b.send(limiterKind, "api", &pb.LeaseRequest{Name: "api"})
	eventually(t, time.Second, "a lookup after an invalidation", func() bool { return calls.Load() >= 3 && alive.got.Load() == 4 })
}

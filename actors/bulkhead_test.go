package actors_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// noTeller drops every message: the tests below ask the actor themselves.
type noTeller struct{}

func (noTeller) Tell(*actor.PID, any, *actor.PID) bool { return true }

// spawnBulkhead starts a bulkhead actor for p; it stops with the test. saturation gets
// what its BulkheadSaturated hook saw.
func spawnBulkhead(t *testing.T, p policy.BulkheadPolicy) (*actor.ActorSystem, *actor.PID, *actors.BulkheadLink, func() []bool) {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	var mu sync.Mutex
	var seen []bool
	l := actors.NewBulkheadLink("bh", p, time.Now(), actors.Hooks{BulkheadSaturated: func(m messages.Saturated) {
		mu.Lock()
		seen = append(seen, m.Saturated)
		mu.Unlock()
	}})
	pid := sys.Root.Spawn(actor.PropsFromProducer(l.Producer(), actor.WithMailbox(l.Mailbox())))
	l.SetPID(pid)
	t.Cleanup(func() {
		select {
		case <-l.Stopped(): // passivated
		default:
			if err := sys.Root.StopFuture(pid).Wait(); err != nil {
				t.Error(err)
			}
		}
		sys.Shutdown()
		// protoactor's dead-letter throttle lives one period after a dead letter.
		time.Sleep(2 * time.Second)
	})
	return sys, pid, l, func() []bool { mu.Lock(); defer mu.Unlock(); return append([]bool(nil), seen...) }
}

func TestBulkheadActorAnswersStatsReconfigureAndPassivate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys, pid, l, saturation := spawnBulkhead(t, policy.Bulkhead(1).WithQueue(1, time.Second))
		ask := func(m any) any {
			t.Helper()
			ans, err := sys.Root.RequestFuture(pid, m, time.Minute).Result()
			if err != nil {
				t.Fatalf("%T: %v", m, err)
			}
			return ans
		}
		if !l.TryAcquire() {
			t.Fatal("no free permit")
		}
		// A full bulkhead queues an Acquire; the wait ends at MaxWait.
		f := sys.Root.RequestFuture(pid, &messages.Acquire{Ticket: 7}, time.Minute)
		synctest.Wait()
		if s, ok := ask(&messages.GetStats{}).(*messages.BulkheadStats); !ok || s.Queued != 1 || s.InFlight != 1 {
			t.Fatalf("GetStats = %#v; want 1 queued, 1 in flight", s)
		}
		ans, err := f.Result()
		if r, ok := ans.(*messages.Rejected); err != nil || !ok || r.Reason != messages.ConcurrencyLimited {
			t.Fatalf("the queued Acquire at MaxWait: %#v, %v; want Rejected ConcurrencyLimited", ans, err)
		}
		// Growing hands the permit of a new waiter out at once.
		f = sys.Root.RequestFuture(pid, &messages.Acquire{Ticket: 8}, time.Minute)
		synctest.Wait()
		if _, ok := ask(&messages.Reconfigure{Ticket: 9, Bulkhead: &policy.BulkheadPolicy{MaxConcurrent: 2, MaxQueue: 1}}).(*messages.Acked); !ok {
			t.Fatal("Reconfigure not acked")
		}
		if ans, err := f.Result(); err != nil {
			t.Fatal(err)
		} else if _, ok := ans.(*messages.Granted); !ok {
			t.Fatalf("after growing: %#v; want Granted", ans)
		}
		// With permits held it refuses to passivate.
		if _, ok := ask(&messages.Passivate{Ticket: 10}).(*messages.Rejected); !ok {
			t.Fatal("passivated while permits are held")
		}
		l.Release(noTeller{})
		if !l.TryAcquire() {
			t.Fatal("a released permit could not be taken again")
		}
		// Busy (admitted since the last look, permits held): it stays.
		if _, ok := ask(&messages.Passivate{Ticket: 13}).(*messages.Rejected); !ok {
			t.Fatal("passivated a bulkhead that admitted calls since the last look")
		}
		l.Release(noTeller{})
		l.Release(noTeller{})
		sys.Root.Send(pid, &messages.Release{})
		synctest.Wait()
		if got := saturation(); len(got) != 2 || !got[0] || got[1] {
			t.Fatalf("saturation changes %v; want [true false]", got)
		}
		// No admission since the last Passivate looked, nothing held: it goes.
		if _, ok := ask(&messages.Passivate{Ticket: 11}).(*messages.Acked); !ok {
			t.Fatal("an idle bulkhead refused to passivate")
		}
		if !l.Retired() || l.TryAcquire() {
			t.Fatal("a passivated bulkhead still admits")
		}
	})
}

package actors_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/policy"
)

// BH-1, BH-8: the fast path never lets more than MaxConcurrent hold a permit.
func TestPermitsNeverExceedTheLimit(t *testing.T) {
	ps := actors.NewPermits(policy.Bulkhead(3))
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if !ps.TryAcquire() {
					continue
				}
				n := running.Add(1)
				for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
				}
				running.Add(-1)
				ps.Release()
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Fatalf("peak concurrency %d > 3", p)
	}
	if s := ps.Stats(); s.InFlight != 0 || s.MaxInFlight > 3 || s.MaxInFlight < 1 {
		t.Fatalf("stats %+v", s)
	}
}

// BH-2: no queue → refused at once; with room → queued; queue full → refused.
func TestPermitsQueueAndRefuse(t *testing.T) {
	ps := actors.NewPermits(policy.Bulkhead(2).WithQueue(1, 0))
	for range 2 {
		if !ps.TryAcquire() {
			t.Fatal("a free permit was not taken")
		}
	}
	if ps.TryAcquire() {
		t.Fatal("a third permit was taken")
	}
	if refused, _ := ps.TryRefuse(); refused {
		t.Fatal("TryRefuse refused a caller of a bulkhead with a queue")
	}
	if g, q := ps.Acquire(t0, 1, false); g || !q {
		t.Fatalf("Acquire = %v, %v; want queued", g, q)
	}
	if g, q := ps.Acquire(t0, 2, false); g || q {
		t.Fatalf("Acquire with a full queue = %v, %v; want refused", g, q)
	}
	if s := ps.Stats(); s.InFlight != 2 || s.Queued != 1 || s.Rejected != 1 || s.Admitted != 2 {
		t.Fatalf("stats %+v", s)
	}
	if !ps.Release() {
		t.Fatal("Release with a waiter did not ask to wake the actor")
	}
	if got := ps.Serve(nil); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("Serve = %v, want [1]", got)
	}
	if s := ps.Stats(); s.InFlight != 2 || s.Queued != 0 || s.Admitted != 3 {
		t.Fatalf("stats after Serve %+v", s)
	}

	none := actors.NewPermits(policy.Bulkhead(1))
	none.TryAcquire()
	if refused, notify := none.TryRefuse(); !refused || !notify {
		t.Fatalf("TryRefuse = %v, %v; want refused and notify the first time", refused, notify)
	}
	if refused, notify := none.TryRefuse(); !refused || notify {
		t.Fatalf("second TryRefuse = %v, %v; want refused without a notice", refused, notify)
	}
}

// BH-4: FIFO by arrival with critical first; LIFO newest first, critical still first.
func TestPermitsServeOrder(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    policy.BulkheadPolicy
		want []uint64
	}{
		{"fifo", policy.Bulkhead(1).WithQueue(10, 0), []uint64{3, 1, 2, 4, 5}},
		{"lifo", policy.Bulkhead(1).WithQueue(10, 0).WithLIFO(), []uint64{3, 5, 4, 2, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps := actors.NewPermits(tt.p)
			ps.TryAcquire()
			for i, critical := range []bool{false, false, true, false, false} {
				if _, q := ps.Acquire(t0.Add(time.Duration(i)), uint64(i+1), critical); !q {
					t.Fatalf("waiter %d not queued", i+1)
				}
			}
			var order []uint64
			for range 5 {
				ps.Release()
				order = ps.Serve(order)
			}
			if !slices.Equal(order, tt.want) {
				t.Fatalf("order %v, want %v", order, tt.want)
			}
		})
	}
}

// BH-3: a wait ends at MaxWait; a cancelled waiter frees its place at once; a permit
// given back is never lost.
func TestPermitsExpireAndCancel(t *testing.T) {
	ps := actors.NewPermits(policy.Bulkhead(1).WithQueue(3, time.Second))
	ps.TryAcquire()
	ps.Acquire(t0, 1, false)
	ps.Acquire(t0.Add(100*time.Millisecond), 2, false)
	ps.Acquire(t0.Add(200*time.Millisecond), 3, false)
	if due, ok := ps.NextDue(); !ok || !due.Equal(t0.Add(time.Second)) {
		t.Fatalf("NextDue = %v, %v", due, ok)
	}
	if !ps.Cancel(2) || ps.Cancel(2) {
		t.Fatal("Cancel of a queued waiter must succeed once")
	}
	if got := ps.Expire(t0.Add(999*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	if got := ps.Expire(t0.Add(time.Second), nil); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("Expire = %v, want [1]", got)
	}
	if s := ps.Stats(); s.Queued != 1 || s.Rejected != 1 {
		t.Fatalf("stats %+v", s)
	}
	ps.Release()
	if got := ps.Serve(nil); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("Serve = %v, want [3]", got)
	}
}

// BH-3: many waits cancelled at random leave nothing behind.
func TestPermitsRandomCancellationsLeaveNothing(t *testing.T) {
	ps := actors.NewPermits(policy.Bulkhead(4).WithQueue(actors.MaxQueueForTest, 0))
	r := rand.New(rand.NewPCG(1, 2))
	var held int
	queued := map[uint64]bool{}
	for ticket := uint64(1); ticket <= 10000; ticket++ {
		if ps.TryAcquire() {
			held++
		} else if _, q := ps.Acquire(t0, ticket, r.IntN(5) == 0); q {
			queued[ticket] = true
		}
		switch r.IntN(3) {
		case 0:
			for k := range queued {
				if !ps.Cancel(k) {
					t.Fatalf("queued ticket %d could not be cancelled", k)
				}
				delete(queued, k)
				break
			}
		case 1:
			if held > 0 {
				held--
				ps.Release()
				for _, g := range ps.Serve(nil) {
					delete(queued, g)
					held++
				}
			}
		}
	}
	for k := range queued {
		ps.Cancel(k)
	}
	for ; held > 0; held-- {
		ps.Release()
	}
	if s := ps.Stats(); s.InFlight != 0 || s.Queued != 0 {
		t.Fatalf("stats %+v; want nothing held or queued", s)
	}
	if !ps.Retire() {
		t.Fatal("an idle bulkhead could not retire")
	}
}

// BH-6: shrinking lets the running calls finish; no admission until InFlight < limit.
func TestPermitsShrinkAndGrow(t *testing.T) {
	ps := actors.NewPermits(policy.Bulkhead(4).WithQueue(5, 0))
	for range 4 {
		ps.TryAcquire()
	}
	ps.Resize(policy.Bulkhead(1).WithQueue(5, 0))
	ps.Acquire(t0, 1, false)
	for i := range 3 {
		ps.Release()
		if got := ps.Serve(nil); len(got) != 0 {
			t.Fatalf("admitted after %d releases: %v", i+1, got)
		}
	}
	ps.Release()
	if got := ps.Serve(nil); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after 4 releases Serve = %v, want [1]", got)
	}
	ps.Acquire(t0, 2, false)
	ps.Acquire(t0, 3, false)
	ps.Resize(policy.Bulkhead(3).WithQueue(5, 0))
	if got := ps.Serve(nil); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("growing served %v, want [2 3]", got)
	}
}

func TestPermitsRetireOnlyWhenIdle(t *testing.T) {
	ps := actors.NewPermits(policy.Bulkhead(1))
	ps.TryAcquire()
	if ps.Retire() {
		t.Fatal("retired with a permit held")
	}
	ps.Release()
	if !ps.Retire() || ps.TryAcquire() {
		t.Fatal("a retired bulkhead must refuse the fast path")
	}
	ps.Unretire()
	if !ps.TryAcquire() {
		t.Fatal("unretired bulkhead refused")
	}
}

package actors_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/policy"
)

func TestBucketStartsFullAndRefills(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(3), t0)
	for i := range 3 {
		if ok, _, _ := b.Acquire(t0, actors.Waiter{Ticket: uint64(i + 1)}, 0); !ok {
			t.Fatalf("token %d of the burst refused", i+1)
		}
	}
	ok, queued, after := b.Acquire(t0, actors.Waiter{Ticket: 4}, 0)
	if ok || queued || after != 100*time.Millisecond {
		t.Fatalf("empty bucket: ok %v queued %v after %v, want refused with 100ms", ok, queued, after)
	}
	if ok, _, _ := b.Acquire(t0.Add(100*time.Millisecond), actors.Waiter{Ticket: 5}, 0); !ok {
		t.Fatal("no token 100ms later at 10/s")
	}
	// Refill is capped at Burst.
	b.Due(t0.Add(time.Hour), 0)
	if got := b.Tokens(); got != 3 {
		t.Fatalf("tokens after an hour = %v, want burst 3", got)
	}
}

func TestBucketReleaseKeepsPoolWithinBurst(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(100).WithBurst(10), t0)
	if n := b.Release(t0, 0); n != 10 {
		t.Fatalf("released %d, want 10", n)
	}
	// 10 still outstanding in the pool: a second later the bucket may only fill to 0.
	if n := b.Release(t0.Add(time.Second), 10); n != 0 {
		t.Fatalf("released %d with a full pool outstanding, want 0", n)
	}
	// 4 taken from the pool at times the bucket did not see: for all it knows they were
	// taken just now, so nothing was earned meanwhile.
	if n := b.Release(t0.Add(2*time.Second), 6); n != 0 {
		t.Fatalf("released %d right after 4 unseen takes, want 0", n)
	}
	// A second later the 4 free places have filled.
	if n := b.Release(t0.Add(3*time.Second), 6); n != 4 {
		t.Fatalf("released %d, want 4", n)
	}
	if g, r, _ := b.Counters(); g != 0 || r != 14 {
		t.Fatalf("counters granted %d released %d, want 0 and 14", g, r)
	}
}

// Regression: a pool that sat full through an idle period let the bucket fill as well,
// so draining the pool and asking the actor admitted 2·Burst at one instant.
func TestBucketDoesNotDoubleBurstAfterIdlePool(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(5), t0)
	b.Release(t0, 0) // all 5 in the pool
	drain := t0.Add(10 * time.Second)
	b.NoteDrained(drain) // callers took the 5 after ten idle seconds
	if ok, _, _ := b.Acquire(drain, actors.Waiter{Ticket: 1}, 0); ok {
		t.Fatal("granted a 6th token at the instant the pool drained: 2·Burst admitted")
	}
	// From the drain on the bucket fills as usual: half a second later it is full again.
	b2 := actors.NewBucket(policy.RateLimit(10).WithBurst(5), t0)
	b2.Release(t0, 0)
	b2.NoteDrained(drain)
	later := drain.Add(500 * time.Millisecond)
	for i := range 5 {
		if ok, _, _ := b2.Acquire(later, actors.Waiter{Ticket: uint64(i + 1)}, 0); !ok {
			t.Fatalf("token %d of 5 refused 0.5s after the drain at 10/s", i+1)
		}
	}
	if ok, _, _ := b2.Acquire(later, actors.Waiter{Ticket: 9}, 0); ok {
		t.Fatal("granted more than Burst after the drain")
	}
}

func TestBucketWaitQueueIsFIFOWithCriticalFirst(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(1).WithMaxWait(time.Second), t0)
	b.Acquire(t0, actors.Waiter{Ticket: 100}, 0) // takes the only token
	for _, w := range []actors.Waiter{{Ticket: 1}, {Ticket: 2}, {Ticket: 3, Critical: true}, {Ticket: 4}, {Ticket: 5, Critical: true}} {
		if ok, queued, _ := b.Acquire(t0, w, 0); ok || !queued {
			t.Fatalf("waiter %d: ok %v queued %v, want queued", w.Ticket, ok, queued)
		}
	}
	var granted []uint64
	for i := 1; i <= 5; i++ {
		g, _ := b.Due(t0.Add(time.Duration(i)*100*time.Millisecond), 0)
		granted = append(granted, g...)
	}
	if want := []uint64{3, 5, 1, 2, 4}; !slices.Equal(granted, want) {
		t.Fatalf("grant order %v, want %v", granted, want)
	}
}

func TestBucketRefusesWaitsPastMaxWaitOrDeadline(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(1).WithMaxWait(250*time.Millisecond), t0)
	b.Acquire(t0, actors.Waiter{Ticket: 1}, 0)
	if _, queued, _ := b.Acquire(t0, actors.Waiter{Ticket: 2}, 0); !queued {
		t.Fatal("a 100ms wait was refused")
	}
	if _, queued, _ := b.Acquire(t0, actors.Waiter{Ticket: 3}, 0); !queued {
		t.Fatal("a 200ms wait was refused")
	}
	if _, queued, after := b.Acquire(t0, actors.Waiter{Ticket: 4}, 0); queued || after != 300*time.Millisecond {
		t.Fatalf("a 300ms wait: queued %v after %v, want refused with 300ms", queued, after)
	}
	if _, queued, _ := b.Acquire(t0, actors.Waiter{Ticket: 5, Critical: true, Deadline: t0.Add(50 * time.Millisecond)}, 0); queued {
		t.Fatal("a wait past the caller's deadline was queued")
	}
}

func TestBucketCancelAndRefund(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(1).WithMaxWait(time.Second), t0)
	b.Acquire(t0, actors.Waiter{Ticket: 1}, 0)
	b.Acquire(t0, actors.Waiter{Ticket: 2}, 0)
	b.Acquire(t0, actors.Waiter{Ticket: 3}, 0)
	if !b.Cancel(2) || b.Cancel(2) {
		t.Fatal("Cancel did not remove the waiter exactly once")
	}
	granted, _ := b.Due(t0.Add(100*time.Millisecond), 0)
	if !slices.Equal(granted, []uint64{3}) {
		t.Fatalf("granted %v, want [3]", granted)
	}
	// Ticket 3's caller gave up: its token comes back for the next caller.
	b.Refund(t0.Add(100*time.Millisecond), 0, t0.Add(100*time.Millisecond))
	if ok, _, _ := b.Acquire(t0.Add(100*time.Millisecond), actors.Waiter{Ticket: 4}, 0); !ok {
		t.Fatal("refunded token not available")
	}
}

func TestBucketExpiresWaitersPastDeadline(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(1).WithBurst(1).WithMaxWait(10*time.Second), t0)
	b.Acquire(t0, actors.Waiter{Ticket: 1}, 0)
	b.Acquire(t0, actors.Waiter{Ticket: 2, Critical: true, Deadline: t0.Add(5 * time.Second)}, 0)
	b.Acquire(t0, actors.Waiter{Ticket: 3}, 0)
	// Ticket 2 was queued with a 1s wait; a critical newcomer cannot push it past its
	// deadline unnoticed: when the deadline passes without a token it is dropped.
	_, expired := b.Due(t0.Add(500*time.Millisecond), 0)
	if len(expired) != 0 {
		t.Fatalf("expired %v before any deadline", expired)
	}
	b2 := actors.NewBucket(policy.RateLimit(0.1).WithBurst(1).WithMaxWait(20*time.Second), t0)
	b2.Acquire(t0, actors.Waiter{Ticket: 1}, 0)
	b2.Acquire(t0, actors.Waiter{Ticket: 2, Deadline: t0.Add(15 * time.Second)}, 0) // due at 10s
	b2.Acquire(t0, actors.Waiter{Ticket: 3, Critical: true, Deadline: t0.Add(12 * time.Second)}, 0)
	granted, expired := b2.Due(t0.Add(10*time.Second), 0)
	if !slices.Equal(granted, []uint64{3}) || len(expired) != 0 {
		t.Fatalf("at 10s granted %v expired %v, want [3] and none", granted, expired)
	}
	granted, expired = b2.Due(t0.Add(15*time.Second), 0)
	if len(granted) != 0 || !slices.Equal(expired, []uint64{2}) {
		t.Fatalf("at 15s granted %v expired %v, want none and [2]", granted, expired)
	}
}

// TestBucketNeverOverAdmits drives a bucket and its lock-free pool with random
// arrivals and checks that, over every window, admissions ≤ Burst + rate·w.
func TestBucketNeverOverAdmits(t *testing.T) {
	const rate, burst = 50.0, 5
	b := actors.NewBucket(policy.RateLimit(rate).WithBurst(burst), t0)
	rng := rand.New(rand.NewPCG(1, 2))
	var pool int64
	var admitted []time.Time
	now := t0
	for range 20000 {
		now = now.Add(time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond)))
		switch {
		case pool > 0:
			pool--
			admitted = append(admitted, now)
		default:
			if ok, _, _ := b.Acquire(now, actors.Waiter{Ticket: 1}, pool); ok {
				admitted = append(admitted, now)
			}
			pool += b.Release(now, pool)
		}
	}
	for i := range admitted {
		for j := i; j < len(admitted); j++ {
			w := admitted[j].Sub(admitted[i]).Seconds()
			if w > 2 {
				break
			}
			if n := float64(j - i + 1); n > burst+rate*w+1e-9 {
				t.Fatalf("%v admissions in a window of %vs, more than burst+rate·w = %v", n, w, burst+rate*w)
			}
		}
	}
	if len(admitted) < 1000 {
		t.Fatalf("only %d admissions: the limiter is starving callers", len(admitted))
	}
}

// Regression: a token refunded after the bucket had filled up again came back on top of
// a full bucket, letting Burst + 1 + rate·w through (seen with callers that cancel).
func TestBucketDropsRefundAfterBucketRefilled(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(2), t0)
	b.Acquire(t0, actors.Waiter{Ticket: 1}, 0) // held by a caller that will give up
	b.Acquire(t0, actors.Waiter{Ticket: 2}, 0)
	// A second later the bucket is full again without the held token.
	b.Refund(t0.Add(time.Second), 0, t0)
	n := 0
	for i := range 5 {
		if ok, _, _ := b.Acquire(t0.Add(time.Second), actors.Waiter{Ticket: uint64(10 + i)}, 0); ok {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d tokens after a late refund; want Burst (2): the refund came on top of a full bucket", n)
	}
	// A refund while the bucket stayed more than a token below its ceiling is kept.
	b2 := actors.NewBucket(policy.RateLimit(1).WithBurst(3), t0)
	b2.Acquire(t0, actors.Waiter{Ticket: 1}, 0)
	b2.Acquire(t0, actors.Waiter{Ticket: 2}, 0)
	b2.Refund(t0.Add(100*time.Millisecond), 0, t0)
	if got := b2.Tokens(); math.Abs(got-2.1) > 1e-9 {
		t.Fatalf("tokens %v after an early refund; want 2.1", got)
	}
}

func TestBucketRefusesAWaiterOvertakenPastItsMaxWait(t *testing.T) {
	b := actors.NewBucket(policy.RateLimit(10).WithBurst(1).WithMaxWait(300*time.Millisecond), t0)
	b.Acquire(t0, actors.Waiter{Ticket: 1}, 0)                 // takes the only token
	b.Acquire(t0, actors.Waiter{Ticket: 2}, 0)                 // due at 100ms
	b.Acquire(t0, actors.Waiter{Ticket: 3, Critical: true}, 0) // due at 100ms; ticket 2 now at 200ms
	b.Acquire(t0, actors.Waiter{Ticket: 4, Critical: true}, 0) // ticket 2 now at 300ms
	b.Acquire(t0.Add(50*time.Millisecond), actors.Waiter{Ticket: 5, Critical: true}, 0)
	if d, ok := b.NextDue(); !ok || d != 50*time.Millisecond { // since the last refill, at 50ms
		t.Fatalf("NextDue %v %v, want the head's token at 100ms", d, ok)
	}
	var granted []uint64
	for _, at := range []time.Duration{100, 200, 300} {
		g, expired := b.Due(t0.Add(at*time.Millisecond), 0)
		granted = append(granted, g...)
		if at < 300 && len(expired) != 0 {
			t.Fatalf("at %vms expired %v before MaxWait ended", at, expired)
		}
		if at == 300 && !slices.Equal(expired, []uint64{2}) {
			t.Fatalf("at 300ms expired %v; want [2], whose MaxWait ended", expired)
		}
	}
	if !slices.Equal(granted, []uint64{3, 4, 5}) {
		t.Fatalf("granted %v, want the critical waiters [3 4 5]", granted)
	}
}

// TestBucketSnapshotRoundTripsThroughJSON hands a bucket with a wait queue over to a new
// bucket through JSON: the new one serves the same waiters at the same times.
func TestBucketSnapshotRoundTripsThroughJSON(t *testing.T) {
	p := policy.RateLimit(10).WithBurst(1).WithMaxWait(time.Second)
	b := actors.NewBucket(p, t0)
	if granted, _, _ := b.Acquire(t0, actors.Waiter{Ticket: 1}, 0); !granted {
		t.Fatal("first token refused")
	}
	b.Acquire(t0, actors.Waiter{Ticket: 2}, 0)
	b.Acquire(t0, actors.Waiter{Ticket: 3, Critical: true, Deadline: t0.Add(time.Minute)}, 0)
	s := throughJSON(t, b.Snapshot())
	r := actors.NewBucket(p, t0.Add(time.Hour))
	r.Restore(s)
	if r.Waiting() != 2 || r.Tokens() != b.Tokens() {
		t.Fatalf("restored: %d waiting, %v tokens; want 2 and %v", r.Waiting(), r.Tokens(), b.Tokens())
	}
	for _, at := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		want, _ := b.Due(t0.Add(at), 0)
		got, _ := r.Due(t0.Add(at), 0)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("at t0+%v the restored bucket granted %v; the original %v", at, got, want)
		}
	}
	if gb, _, gr := r.Counters(); gb != 3 || gr != 0 {
		t.Fatalf("restored counters granted %d rejected %d; want 3 and 0", gb, gr)
	}
}

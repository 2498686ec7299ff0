package cluster

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cluster/internal/pb"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func leaseReq(node string, seq uint64, want, held int64) *pb.LeaseRequest {
	return &pb.LeaseRequest{Name: "api", Node: node, Seq: seq, Want: want, Held: held, Rate: 10, Burst: 10,
		TtlMs: 1000, HoldMs: 200, MinGrant: 1}
}

// granted returns the tokens answers give to node.
func granted(answers []leaseAnswer, node string) (int64, bool) {
	for _, a := range answers {
		if a.to == node {
			return a.grant.Granted, true
		}
	}
	return 0, false
}

// TestNewLeaseOwnerStartsEmpty: a new owner (also after a move) has no tokens: it earns
// them at the rate from its first request, so a move cannot add a burst (specs/cluster.md
// §4.6, owner move).
func TestNewLeaseOwnerStartsEmpty(t *testing.T) {
	o := newLeaseOwner("a1", leaseGrace)
	out := o.request(t0, leaseReq("n1", 1, 5, 0), "n1")
	if len(out) != 0 {
		t.Fatalf("a new owner answered %v at once; it starts empty and holds the request", out)
	}
	out = o.wake(t0.Add(100 * time.Millisecond)) // 1 token earned at 10/s
	if n, ok := granted(out, "n1"); !ok || n != 1 {
		t.Fatalf("after 100ms: granted %d (answered %v), want 1", n, ok)
	}
}

// TestLeasedTokensStayCountedUntilReportedOrExpired: tokens a node holds keep the
// bucket's ceiling at Burst − held, so the fleet never has more than Burst tokens to
// spend at once; they leave the count when the node reports it used them, or when the
// lease expires (ttl + grace) (specs/cluster.md §4.6, counted leases).
func TestLeasedTokensStayCountedUntilReportedOrExpired(t *testing.T) {
	o := newLeaseOwner("a1", leaseGrace)
	o.request(t0, leaseReq("n1", 1, 10, 0), "n1")
	now := t0.Add(2 * time.Second) // bucket full: 10
	out := o.wake(now)
	if n, _ := granted(out, "n1"); n != 10 {
		t.Fatalf("granted %d, want 10", n)
	}
	// 2 s later the bucket would be full again, but n1 still holds its 10.
	now = now.Add(500 * time.Millisecond)
	if out := o.request(now, leaseReq("n2", 1, 5, 0), "n2"); len(out) != 0 {
		t.Fatalf("n2 served %v while n1 holds the whole burst", out)
	}
	// n1 reports it used 6 and holds 4: the ceiling becomes 6 and n2 is served.
	now = now.Add(100 * time.Millisecond)
	// Until then the ceiling was 0, so the bucket earned nothing: n2 waits for a token.
	o.request(now, leaseReq("n1", 2, 0, 4), "n1")
	out = o.wake(now.Add(100 * time.Millisecond))
	if n, ok := granted(out, "n2"); !ok || n < 1 {
		t.Fatalf("n2 not served once n1 reported: %v", out)
	}
	if o.outstanding()+o.tokens > o.burst {
		t.Fatalf("outstanding %v + tokens %v > burst %v", o.outstanding(), o.tokens, o.burst)
	}
	// Leases expire at ttl + grace after their last request.
	o.expire(now.Add(time.Second + leaseGrace + 200*time.Millisecond))
	if got := o.outstanding(); got != 0 {
		t.Fatalf("outstanding %v after every lease expired, want 0", got)
	}
}

// TestLeaseRequestRetryGetsTheStoredAnswer: a request repeated with the same seq (a
// resend after a topology change) gets the answer already given, not a second grant
// (the Orleans rule, specs/cluster.md §4.6 step 7).
func TestLeaseRequestRetryGetsTheStoredAnswer(t *testing.T) {
	o := newLeaseOwner("a1", leaseGrace)
	o.request(t0, leaseReq("n1", 1, 5, 0), "n1")
	first := o.wake(t0.Add(time.Second))
	n1, _ := granted(first, "n1")
	again := o.request(t0.Add(time.Second), leaseReq("n1", 1, 5, 0), "n1")
	n2, ok := granted(again, "n1")
	if !ok || n2 != n1 || again[0].grant != first[0].grant {
		t.Fatalf("retry answered %v, want the stored %v", again, first)
	}
	if o.granted != uint64(n1) {
		t.Fatalf("granted %d tokens in all, want %d", o.granted, n1)
	}
}

// TestHeldRequestsAreServedFIFOAndAnsweredEmptyAfterHoldMax: the owner keeps requests it
// cannot serve in arrival order and serves them as tokens accrue; one held for HoldMax
// gets "nothing" with a retry-after (specs/cluster.md §2.4, owner-side holding).
func TestHeldRequestsAreServedFIFOAndAnsweredEmptyAfterHoldMax(t *testing.T) {
	o := newLeaseOwner("a1", leaseGrace)
	o.request(t0, leaseReq("n1", 1, 1, 0), "n1")
	o.request(t0, leaseReq("n2", 1, 1, 0), "n2")
	out := o.wake(t0.Add(100 * time.Millisecond)) // one token
	if len(out) != 1 || out[0].to != "n1" || out[0].grant.Granted != 1 {
		t.Fatalf("first token went to %v, want n1 (FIFO)", out)
	}
	if d, ok := o.nextWake(t0.Add(100 * time.Millisecond)); !ok || d > 100*time.Millisecond {
		t.Fatalf("next wake %v %v, want ≤ 100ms for n2", d, ok)
	}
	// n3 wants 5 with MinGrant 5 and a 200 ms hold: not served in time, answered empty.
	r := leaseReq("n3", 1, 5, 0)
	r.MinGrant = 5
	o2 := newLeaseOwner("a2", leaseGrace)
	o2.request(t0, r, "n3")
	out = o2.wake(t0.Add(250 * time.Millisecond)) // 2.5 tokens < 5, hold over
	if len(out) != 1 || out[0].grant.Granted != 0 || out[0].grant.RetryAfterUs <= 0 {
		t.Fatalf("after HoldMax: %v, want an empty grant with a retry-after", out)
	}
}

package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cluster/internal/pb"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

func breakerPolicy(t *testing.T, p policy.CircuitBreakerPolicy) []byte {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestOutcomeSegmentsCountConsecutiveInArrivalOrder: the owner applies each node's
// segment — successes since its last report, then failures — in arrival order: a
// success batch from another node between two failures resets the count, and the
// breaker trips at the threshold (specs/cluster.md §4.5, what "consecutive" means
// across nodes).
func TestOutcomeSegmentsCountConsecutiveInArrivalOrder(t *testing.T) {
	raw := breakerPolicy(t, policy.CircuitBreaker(3, time.Second).Named("db").AsShared())
	o := newBreakerOwner("a1", t0)
	rep := func(node string, succ, fail uint64) *pb.BreakerView {
		v, _ := o.report(t0, &pb.BreakerReport{Name: "db", Node: node, Policy: raw, Successes: succ, Failures: fail, Generation: 1, Activation: "a1"})
		return v
	}
	rep("A", 0, 2)
	if v := rep("B", 5, 0); messages.BreakerState(v.State) != messages.Closed {
		t.Fatalf("state %v, want closed", v.State)
	}
	if v := rep("A", 0, 2); messages.BreakerState(v.State) != messages.Closed {
		t.Fatalf("B's successes did not reset the count: %v", messages.BreakerState(v.State))
	}
	v := rep("C", 0, 1)
	if messages.BreakerState(v.State) != messages.Open || v.OpenUntil == 0 || v.Reason != "consecutive_failures" {
		t.Fatalf("3 consecutive failures in arrival order: %v until %d (%s), want open", messages.BreakerState(v.State), v.OpenUntil, v.Reason)
	}
	// Failures of the generation the breaker left are dropped.
	before := v.Generation
	if v := rep("A", 0, 5); v.Generation != before {
		t.Fatalf("stale failures changed the generation %d → %d", before, v.Generation)
	}
}

// TestHalfOpenProbesAreGrantedFleetWide: after the owner's open timer, the owner grants
// at most SuccessThreshold probe permits across all nodes; enough probe successes close
// the breaker, a probe failure reopens it (specs/cluster.md §4.5, half-open).
func TestHalfOpenProbesAreGrantedFleetWide(t *testing.T) {
	raw := breakerPolicy(t, policy.CircuitBreaker(1, time.Second).WithSuccessThreshold(2).Named("db").AsShared())
	o := newBreakerOwner("a1", t0)
	o.report(t0, &pb.BreakerReport{Name: "db", Node: "A", Policy: raw, Failures: 1, Generation: 1, Activation: "a1"})
	at, ok := o.nextWake(t0)
	if !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("open timer at %v %v, want %v", at, ok, t0.Add(time.Second))
	}
	now := t0.Add(time.Second)
	if !o.wake(now) || messages.BreakerState(o.view().State) != messages.HalfOpen {
		t.Fatalf("owner's timer: %v, want half-open", messages.BreakerState(o.view().State))
	}
	grants := 0
	var gen uint64
	for _, node := range []string{"A", "B", "C", "A"} {
		v, _ := o.report(now, &pb.BreakerReport{Name: "db", Node: node, Policy: raw, ProbeRequest: true, Activation: "a1"})
		if v.ProbeGranted {
			grants++
			gen = v.Generation
		}
	}
	if grants != 2 {
		t.Fatalf("%d probe permits granted fleet-wide, want SuccessThreshold = 2", grants)
	}
	for range 2 {
		o.report(now, &pb.BreakerReport{Name: "db", Node: "B", Policy: raw, Probe: true, Generation: gen, Activation: "a1"})
	}
	if s := messages.BreakerState(o.view().State); s != messages.Closed {
		t.Fatalf("after 2 probe successes: %v, want closed", s)
	}
}

// TestNewOwnerAdoptsAnOpenStateANodeKnew: a new activation (the owner moved, its state
// lost) seeds itself from a node's last view: open wins, until the node's open-until;
// a node whose view says closed changes nothing (specs/cluster.md §4.5, owner move).
func TestNewOwnerAdoptsAnOpenStateANodeKnew(t *testing.T) {
	raw := breakerPolicy(t, policy.CircuitBreaker(5, 30*time.Second).Named("db").AsShared())
	o := newBreakerOwner("a2", t0)
	v, _ := o.report(t0, &pb.BreakerReport{Name: "db", Node: "B", Policy: raw, Activation: "a1", KnownState: int32(messages.Closed)})
	if messages.BreakerState(v.State) != messages.Closed {
		t.Fatalf("closed knowledge: %v", messages.BreakerState(v.State))
	}
	until := t0.Add(20 * time.Second)
	v, changed := o.report(t0.Add(time.Millisecond), &pb.BreakerReport{Name: "db", Node: "A", Policy: raw, Activation: "a1",
		KnownState: int32(messages.Open), KnownOpenUntil: until.UnixNano()})
	if !changed || messages.BreakerState(v.State) != messages.Open || v.OpenUntil != until.UnixNano() {
		t.Fatalf("new owner: %v until %v (changed %v), want open until %v", messages.BreakerState(v.State), time.Unix(0, v.OpenUntil), changed, until)
	}
	// Past the seed window a node's old knowledge no longer reopens it.
	o.circuit.SetMode(t0.Add(3*time.Second), messages.Closed, 0)
	o.note(o.circuit)
	v, _ = o.report(t0.Add(3*time.Second), &pb.BreakerReport{Name: "db", Node: "C", Policy: raw, Activation: "a1",
		KnownState: int32(messages.Open), KnownOpenUntil: until.UnixNano()})
	if messages.BreakerState(v.State) != messages.Closed {
		t.Fatalf("a reset breaker reopened from stale knowledge after the seed window: %v", messages.BreakerState(v.State))
	}
}

// TestManualStatesAreSetOnTheOwner: a manual state sent by any node is the owner's, so
// every node adopts it (resilience4j#1756's fleet-wide control).
func TestManualStatesAreSetOnTheOwner(t *testing.T) {
	raw := breakerPolicy(t, policy.CircuitBreaker(5, 30*time.Second).Named("db").AsShared())
	o := newBreakerOwner("a1", t0)
	v, changed := o.report(t0, &pb.BreakerReport{Name: "db", Node: "A", Policy: raw, Mode: int32(messages.ForcedOpen) + 1, ModeForNs: int64(time.Minute)})
	if !changed || messages.BreakerState(v.State) != messages.ForcedOpen || v.Reason != "manual" {
		t.Fatalf("forced open: %v (%s), changed %v", messages.BreakerState(v.State), v.Reason, changed)
	}
	v, _ = o.report(t0, &pb.BreakerReport{Name: "db", Node: "B", Policy: raw, Mode: int32(messages.Closed) + 1})
	if messages.BreakerState(v.State) != messages.Closed {
		t.Fatalf("reset from another node: %v", messages.BreakerState(v.State))
	}
}

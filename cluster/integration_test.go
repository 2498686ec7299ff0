//go:build clustertest || etcd

// Multi-member tests: three members on 127.0.0.1 in this process (protoactor's test
// provider and disthash). protoactor's remote and gossip code races under -race on the
// pinned version (specs/cluster.md §2.8), so these run without it, behind the
// clustertest build tag: go test -tags clustertest ./cluster/ (see .ci/steps/30-cluster.sh).
// The bulwark logic they exercise is tested under -race against the in-memory transport.

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"go.uber.org/goleak"
)

// member is one member of a test fleet: its cluster mode and an engine on it.
type member struct {
	s *Shared
	e *supervisor.Engine
}

// fleet is a test fleet on one in-memory provider agent.
type fleet struct {
	agent   *test.InMemAgent
	members []*member
	closes  []time.Duration // how long each member's Close took
}

// startFleet starts n members in parallel (StartMember sleeps 1 s each) and an engine on
// each; the test closes them.
func startFleet(t *testing.T, n int, opts ...Option) *fleet {
	t.Helper()
	f := &fleet{agent: test.NewInMemAgent(), members: make([]*member, n)}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Start("bulwark-test", test.NewTestProvider(f.agent), opts...)
			if err != nil {
				errs[i] = err
				return
			}
			e, err := supervisor.New(s.Option())
			if err != nil {
				errs[i] = err
				return
			}
			f.members[i] = &member{s: s, e: e}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, m := range f.members {
		for m.s.Cluster().MemberList.Length() != n {
			if time.Now().After(deadline) {
				t.Fatalf("membership did not reach %d", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Cleanup(func() { f.close(t) })
	return f
}

// close shuts every engine down and closes every member, in parallel, and returns the
// longest Close.
func (f *fleet) close(t *testing.T) time.Duration {
	t.Helper()
	var mu sync.Mutex
	var longest time.Duration
	var wg sync.WaitGroup
	for _, m := range f.members {
		if m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := m.e.Shutdown(ctx); err != nil {
				t.Errorf("engine Shutdown: %v", err)
			}
			t0 := time.Now()
			if err := m.s.Close(ctx); err != nil {
				t.Errorf("Close: %v after %v", err, time.Since(t0))
			}
			mu.Lock()
			longest = max(longest, time.Since(t0))
			f.closes = append(f.closes, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return longest
}

// owner returns the index of the member that owns the grain of kind and name.
func (f *fleet) owner(t *testing.T, kind, name string) int {
	t.Helper()
	pid := f.members[0].s.Cluster().Get(name, kind)
	if pid == nil {
		t.Fatalf("no owner for %s/%s", kind, name)
	}
	for i, m := range f.members {
		if m.s.ActorSystem().Address() == pid.Address {
			return i
		}
	}
	t.Fatalf("owner %v is no member", pid)
	return -1
}

// maxInWindow returns the most timestamps (sorted) in any window [t, t+w).
func maxInWindow(ts []time.Duration, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i]-ts[j] >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// phase is one part of a load pattern.
type phase struct {
	busy bool
	d    time.Duration
}

// overloadIdle is specs/cluster.md §2.4's pattern: 1.4 s of overload with two idle gaps.
var overloadIdle = []phase{{true, 500 * time.Millisecond}, {false, 300 * time.Millisecond},
	{true, 500 * time.Millisecond}, {false, 300 * time.Millisecond}, {true, 400 * time.Millisecond}}

// loadResult is what a load run admitted.
type loadResult struct {
	admissions []time.Duration // since the start, sorted
	perNode    []int
	requests   uint64 // lease requests the nodes sent
	elapsed    time.Duration
}

// runLimiterLoad runs workers per member against the shared limiter p in the pattern,
// each worker sleeping 100 µs after an admission and 500 µs after a refusal.
func runLimiterLoad(t *testing.T, f *fleet, p policy.RateLimitPolicy, workers int, pattern []phase) loadResult {
	return runLimiterLoadOn(t, f.members, p, workers, pattern, nil)
}

// runLimiterLoadOn is runLimiterLoad on ms, calling warm (if not nil) after the warm-up.
func runLimiterLoadOn(t *testing.T, ms []*member, p policy.RateLimitPolicy, workers int, pattern []phase, warm func()) loadResult {
	t.Helper()
	f := &fleet{members: ms}
	plans := make([]*supervisor.Plan, len(f.members))
	for i, m := range f.members {
		pl, err := m.e.Prepare("load", p)
		if err != nil {
			t.Fatal(err)
		}
		plans[i] = pl
	}
	// Warm up: every node has asked for its first lease and the owner has its config.
	for _, pl := range plans {
		_ = supervisor.RunPlan(context.Background(), pl, func(context.Context) error { return nil })
	}
	time.Sleep(300 * time.Millisecond)
	if warm != nil {
		warm()
	}
	var busy atomic.Bool
	var stop atomic.Bool
	start := time.Now()
	var mu sync.Mutex
	res := loadResult{perNode: make([]int, len(f.members))}
	var wg sync.WaitGroup
	for i, pl := range plans {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for !stop.Load() {
					if !busy.Load() {
						time.Sleep(time.Millisecond)
						continue
					}
					err := supervisor.RunPlan(context.Background(), pl, func(context.Context) error { return nil })
					switch {
					case err == nil:
						mine = append(mine, time.Since(start))
						time.Sleep(100 * time.Microsecond)
					case errors.Is(err, policy.ErrRateLimited):
						time.Sleep(500 * time.Microsecond)
					default:
						t.Errorf("unexpected error: %v", err)
						return
					}
				}
				mu.Lock()
				res.admissions = append(res.admissions, mine...)
				res.perNode[i] += len(mine)
				mu.Unlock()
			}()
		}
	}
	var before uint64
	for _, m := range f.members {
		before += m.s.requestsTo(limiterKind)
	}
	start = time.Now()
	for _, ph := range pattern {
		busy.Store(ph.busy)
		time.Sleep(ph.d)
	}
	busy.Store(false)
	res.elapsed = time.Since(start)
	stop.Store(true)
	wg.Wait()
	for _, m := range f.members {
		res.requests += m.s.requestsTo(limiterKind)
	}
	res.requests -= before
	sort.Slice(res.admissions, func(i, j int) bool { return res.admissions[i] < res.admissions[j] })
	return res
}

// TestCloseOfThreeMembersIsBoundedAndLeaksOnlyTheLibrarysGoroutines: three members that
// shared a limiter and a breaker close in parallel within 2.5 s, and every goroutine
// they started ends, but for protoactor's known leaks, ignored by name
// (specs/cluster.md §4.9, clean shutdown). It runs first: members crashed by later
// tests leave gRPC clients reconnecting to their old peers' ports, which new members
// may reuse, and their connections slow a graceful Shutdown down.
func TestCloseOfThreeMembersIsBoundedAndLeaksOnlyTheLibrarysGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, append(knownLeaks(), goleak.IgnoreCurrent())...)
	f := startFleet(t, 3)
	lp := policy.RateLimit(1000).Named("close-api").WithBurst(100).AsShared()
	bp := policy.CircuitBreaker(5, 30*time.Second).Named("close-ledger").AsShared()
	for range 50 {
		for _, m := range f.members {
			_ = supervisor.Run(context.Background(), m.e, policy.Combine(bp, lp), func(context.Context) error { return nil })
		}
	}
	took := f.close(t)
	sort.Slice(f.closes, func(i, j int) bool { return f.closes[i] < f.closes[j] })
	t.Logf("Close of 3 members in parallel: %v (bound 2.5s for the first; 6.5s for all)", f.closes)
	// A graceful leave is protoactor's 2 s sleep: the first member done is within 2.5 s.
	// protoactor's endpoint writer sleeps 2 s inside its actor after a failed connect,
	// and Remote.Shutdown waits for it: when the parallel leaves drift apart (a starved
	// machine), a member still gossiping reaches one already stopped and its Close takes
	// 2 s more per such writer. Bound the longest at two of them.
	if f.closes[0] > 2500*time.Millisecond {
		t.Errorf("the fastest Close took %v > 2.5s", f.closes[0])
	}
	if took > 6500*time.Millisecond {
		t.Errorf("Close took %v > 6.5s", took)
	}
}

// TestFleetLimitHoldsBurstPlusRateTimesWindow: three members share one limiter of
// R 1000/s and B 100 under 12 overloading workers and an overload/idle pattern. The fleet
// admits at most B + R·w in every window w ∈ {10 ms, 100 ms, 1 s}, at least 95 % of the
// ideal 1700, each node within ±25 % of the mean, with at most 300 owner requests a
// second (specs/cluster.md §4.9, rows 1–4).
func TestFleetLimitHoldsBurstPlusRateTimesWindow(t *testing.T) {
	f := startFleet(t, 3)
	const rate, burst = 1000.0, 100
	ideal := burst + 1400 + 2*100 // the first burst, 1.4 s of overload, two idle refills
	// The bound and the owner traffic hold on every run. Throughput and the split are
	// what the workers manage to ask for: a starved machine (other jobs on 2 cores) can
	// cost a run a few percent, so they must hold on one of two runs.
	var problems []string
	for run := range 2 {
		p := policy.RateLimit(rate).Named(fmt.Sprintf("fleet-api-%d", run)).WithBurst(burst).AsShared()
		res := runLimiterLoad(t, f, p, 4, overloadIdle)
		t.Logf("run %d: admitted %d of an ideal %d; per node %v; %d owner requests in %v (%.0f/s)", run,
			len(res.admissions), ideal, res.perNode, res.requests, res.elapsed, float64(res.requests)/res.elapsed.Seconds())
		for _, w := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, time.Second} {
			got := maxInWindow(res.admissions, w)
			bound := burst + int(rate*w.Seconds())
			t.Logf("run %d: w=%v: max %d, bound %d (excess %+d)", run, w, got, bound, got-bound)
			if got > bound {
				t.Errorf("w=%v: %d admissions > B + R·w = %d", w, got, bound)
			}
		}
		if perSec := float64(res.requests) / res.elapsed.Seconds(); perSec > 300 {
			t.Errorf("%.0f owner requests/s > 300", perSec)
		}
		problems = problems[:0]
		if min := int(0.95 * float64(ideal)); len(res.admissions) < min {
			problems = append(problems, fmt.Sprintf("admitted %d < 95%% of the ideal %d", len(res.admissions), ideal))
		}
		mean := float64(len(res.admissions)) / float64(len(res.perNode))
		for i, n := range res.perNode {
			if d := (float64(n) - mean) / mean; d > 0.25 || d < -0.25 {
				problems = append(problems, fmt.Sprintf("node %d admitted %d, %+.0f%% off the mean %.0f", i, n, 100*d, mean))
			}
		}
		if len(problems) == 0 {
			return
		}
		t.Logf("run %d: %s", run, strings.Join(problems, "; "))
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestTripOnOneNodeOpensTheOthers: five failures on node A open the shared breaker on
// B and C within 100 ms, through the owner's push (specs/cluster.md §4.9 row 5).
func TestTripOnOneNodeOpensTheOthers(t *testing.T) {
	f := startFleet(t, 3)
	bp := policy.CircuitBreaker(5, 30*time.Second).Named("fleet-ledger").AsShared()
	boom := errors.New("downstream down")
	var lat []time.Duration
	for round := range 10 {
		for _, m := range f.members {
			// The policy names the breaker first: a manual control on a name no policy
			// has used yet creates a local placeholder breaker.
			_ = supervisor.Run(context.Background(), m.e, bp, func(context.Context) error { return nil })
		}
		if round > 0 {
			if err := f.members[round%3].e.ResetBreaker("fleet-ledger"); err != nil {
				t.Fatal(err)
			}
		}
		waitAll(t, f, "fleet-ledger", messages.Closed, time.Second)
		// The successes above reach the owner within a report interval: a flush between
		// the failures below would reset their count (consecutive in arrival order).
		time.Sleep(250 * time.Millisecond)
		a := f.members[round%3]
		start := time.Now()
		for range 5 {
			_ = supervisor.Run(context.Background(), a.e, bp, func(context.Context) error { return boom })
		}
		for i, m := range f.members {
			if m == a {
				continue
			}
			d := waitOpen(t, m, "fleet-ledger", start, 100*time.Millisecond)
			lat = append(lat, d)
			err := supervisor.Run(context.Background(), m.e, bp, func(context.Context) error { return nil })
			if !errors.Is(err, policy.ErrCircuitOpen) {
				t.Fatalf("round %d node %d: %v, want ErrCircuitOpen", round, i, err)
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("trip seen on the other nodes: p50 %v, max %v (bound 100ms)", lat[len(lat)/2], lat[len(lat)-1])
}

// waitOpen waits until m's breaker name is open and returns how long after start.
func waitOpen(t *testing.T, m *member, name string, start time.Time, bound time.Duration) time.Duration {
	t.Helper()
	for {
		if m.e.Metrics().Breakers[name].State == messages.Open {
			return time.Since(start)
		}
		if time.Since(start) > bound {
			t.Fatalf("breaker %q not open within %v: %v", name, bound, m.e.Metrics().Breakers[name].State)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// waitAll waits until every member's breaker name is in state.
func waitAll(t *testing.T, f *fleet, name string, state messages.BreakerState, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for _, m := range f.members {
		for m.e.Metrics().Breakers[name].State != state {
			if time.Now().After(deadline) {
				t.Fatalf("breaker %q not %v within %v: %v", name, state, bound, m.e.Metrics().Breakers[name].State)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// nameOwnedBy returns a name with prefix whose grain of kind member i owns.
func (f *fleet) nameOwnedBy(t *testing.T, kind, prefix string, i int) string {
	t.Helper()
	for n := range 200 {
		name := fmt.Sprintf("%s-%d", prefix, n)
		if f.owner(t, kind, name) == i {
			return name
		}
	}
	t.Fatalf("no name of %s owned by member %d", prefix, i)
	return ""
}

// probe is one decision a prober saw.
type probe struct {
	at, took time.Duration
	err      error
}

// probers runs one prober per member in ms, each calling call every 5 ms until stop
// is closed; it returns each member's probes.
func probers(ms []*member, call func(m *member) error, stop <-chan struct{}, start time.Time) [][]probe {
	out := make([][]probe, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				t0 := time.Now()
				err := call(m)
				out[i] = append(out[i], probe{at: t0.Sub(start), took: time.Since(t0), err: err})
			}
		}()
	}
	wg.Wait()
	return out
}

// events collects a member's Shared* events.
type events struct {
	mu  sync.Mutex
	evs []supervisor.Event
}

func collect(t *testing.T, m *member) *events {
	ch, cancel := m.e.Subscribe(256)
	t.Cleanup(cancel)
	ev := &events{}
	go func() {
		for e := range ch {
			ev.mu.Lock()
			ev.evs = append(ev.evs, e)
			ev.mu.Unlock()
		}
	}()
	return ev
}

// first returns the first event of kind for name, and whether there is one.
func (ev *events) first(kind supervisor.EventKind, name string) (supervisor.Event, bool) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.evs {
		if e.Kind == kind && e.Name == name {
			return e, true
		}
	}
	return supervisor.Event{}, false
}

// TestGracefulOwnerLeaveFailsNoDecisionAndKeepsTheBreakerOpen: the member owning an
// open shared breaker and a shared limiter leaves gracefully while two others decide
// every 5 ms. No decision fails or waits (0 failed decisions), no name degrades, the new
// owner activation answers within 100 ms of the leave, and its view is open: open wins
// (specs/cluster.md §4.9 rows 6 and 7).
func TestGracefulOwnerLeaveFailsNoDecisionAndKeepsTheBreakerOpen(t *testing.T) {
	f := startFleet(t, 3)
	bname := f.nameOwnedBy(t, breakerKind, "leave-ledger", 2)
	lname := f.nameOwnedBy(t, limiterKind, "leave-api", 2)
	bp := policy.CircuitBreaker(5, 30*time.Second).Named(bname).AsShared()
	lp := policy.RateLimit(2000).Named(lname).WithBurst(200).AsShared()
	for _, m := range f.members {
		_ = supervisor.Run(context.Background(), m.e, bp, func(context.Context) error { return nil })
		_ = supervisor.Run(context.Background(), m.e, lp, func(context.Context) error { return nil })
	}
	for range 5 {
		_ = supervisor.Run(context.Background(), f.members[0].e, bp, func(context.Context) error { return errors.New("down") })
	}
	waitAll(t, f, bname, messages.Open, time.Second)
	survivors := f.members[:2]
	evs := []*events{collect(t, survivors[0]), collect(t, survivors[1])}
	stop := make(chan struct{})
	start := time.Now()
	var probes [][]probe
	done := make(chan struct{})
	go func() {
		defer close(done)
		probes = probers(survivors, func(m *member) error {
			err := supervisor.Run(context.Background(), m.e, bp, func(context.Context) error { return nil })
			if !errors.Is(err, policy.ErrCircuitOpen) {
				return fmt.Errorf("breaker: %v", err)
			}
			err = supervisor.Run(context.Background(), m.e, lp, func(context.Context) error { return nil })
			if err != nil && !errors.Is(err, policy.ErrRateLimited) {
				return fmt.Errorf("limiter: %v", err)
			}
			return nil
		}, stop, start)
	}()
	time.Sleep(100 * time.Millisecond)
	leaving := f.members[2]
	leaveAt := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leaving.e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	closeStart := time.Now()
	if err := leaving.s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("the leaving member's Close took %v", time.Since(closeStart))
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	failed, n := 0, 0
	var slowest time.Duration
	for _, ps := range probes {
		for _, p := range ps {
			n++
			slowest = max(slowest, p.took)
			if p.err != nil || p.took > 50*time.Millisecond {
				failed++
				t.Errorf("decision at %v failed: took %v, %v", p.at, p.took, p.err)
			}
		}
	}
	t.Logf("%d decisions, %d failed (bound 0), slowest %v", n, failed, slowest)
	for i, ev := range evs {
		if e, ok := ev.first(supervisor.SharedDegraded, bname); ok {
			t.Errorf("survivor %d degraded the breaker: %v", i, e)
		}
		moved, ok := ev.first(supervisor.OwnerMoved, bname)
		if !ok {
			t.Errorf("survivor %d: no OwnerMoved for the breaker", i)
			continue
		}
		after := moved.At.Sub(start) - leaveAt
		t.Logf("survivor %d: new breaker owner answered %v after the leave began (bound 100ms; the leave itself sleeps 2 s)", i, after)
		if s := survivors[i].e.Metrics().Breakers[bname].State; s != messages.Open {
			t.Errorf("survivor %d: breaker %v after the move, want open", i, s)
		}
	}
	f.members[2] = nil // closed
	_ = leaving
}

// crash stops member i's remote and actor system without leaving: what a killed
// process looks like until the provider notices. The member is dropped from the fleet.
func (f *fleet) crash(t *testing.T, i int) string {
	t.Helper()
	m := f.members[i]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.e.Shutdown(ctx)
	c := m.s.Cluster()
	id := c.ActorSystem.ID
	c.Remote.Shutdown(false)
	c.ActorSystem.Shutdown()
	f.members[i] = nil
	return id
}

// TestCrashedOwnerNeverBlocksADecisionAndSharingResumesAfterDetection: the member
// owning a shared limiter and a shared breaker crashes; the provider notices 1.5 s later
// (the test provider never does by itself: the test deregisters it). No decision on the
// survivors waits more than OwnerTimeout + 50 ms, the names degrade to their local
// shares, and sharing resumes within detection + 500 ms (specs/cluster.md §4.9 row 8).
func TestCrashedOwnerNeverBlocksADecisionAndSharingResumesAfterDetection(t *testing.T) {
	f := startFleet(t, 3)
	lname := f.nameOwnedBy(t, limiterKind, "crash-api", 2)
	bname := f.nameOwnedBy(t, breakerKind, "crash-ledger", 2)
	lp := policy.RateLimit(1000).Named(lname).WithBurst(100).AsShared()
	bp := policy.CircuitBreaker(5, 30*time.Second).Named(bname).AsShared()
	survivors := f.members[:2]
	for _, m := range survivors {
		_ = supervisor.Run(context.Background(), m.e, lp, func(context.Context) error { return nil })
		_ = supervisor.Run(context.Background(), m.e, bp, func(context.Context) error { return nil })
	}
	evs := []*events{collect(t, survivors[0]), collect(t, survivors[1])}
	stop := make(chan struct{})
	start := time.Now()
	var probes [][]probe
	done := make(chan struct{})
	go func() {
		defer close(done)
		probes = probers(survivors, func(m *member) error {
			err := supervisor.Run(context.Background(), m.e, lp, func(context.Context) error { return nil })
			if err != nil && !errors.Is(err, policy.ErrRateLimited) {
				return err
			}
			return supervisor.Run(context.Background(), m.e, bp, func(context.Context) error { return nil })
		}, stop, start)
	}()
	time.Sleep(100 * time.Millisecond)
	crashAt := time.Since(start)
	id := f.crash(t, 2)
	time.Sleep(1500 * time.Millisecond)
	detectAt := time.Since(start)
	f.agent.DeregisterService(id)
	time.Sleep(1000 * time.Millisecond)
	close(stop)
	<-done
	bound := survivors[0].s.ownerTimeout() + 50*time.Millisecond
	var slowest time.Duration
	n := 0
	for _, ps := range probes {
		for _, p := range ps {
			n++
			slowest = max(slowest, p.took)
			if p.took > bound {
				t.Errorf("a decision at %v took %v > OwnerTimeout + 50ms = %v", p.at, p.took, bound)
			}
			if p.err != nil {
				t.Errorf("a decision at %v failed: %v", p.at, p.err)
			}
		}
	}
	t.Logf("%d decisions, slowest %v (bound %v)", n, slowest, bound)
	for i, ev := range evs {
		for _, name := range []string{lname, bname} {
			deg, ok := ev.first(supervisor.SharedDegraded, name)
			if !ok {
				if name == lname {
					t.Errorf("survivor %d: %s never degraded", i, name)
				}
				continue
			}
			res, ok := ev.first(supervisor.SharedRestored, name)
			if !ok {
				t.Errorf("survivor %d: %s never restored", i, name)
				continue
			}
			t.Logf("survivor %d %s: degraded %v after the crash, shared again %v after detection (bound 500ms)",
				i, name, deg.At.Sub(start)-crashAt, res.At.Sub(start)-detectAt)
			if after := res.At.Sub(start) - detectAt; after > 500*time.Millisecond {
				t.Errorf("survivor %d: %s shared again %v after detection > 500ms", i, name, after)
			}
		}
	}
}

// TestFailLocalShareHoldsTheFleetBoundWithoutAnOwner: the owner of a shared limiter
// crashes and nobody detects it; every surviving node runs on its local share (R/N,
// B/N with N = 3 members still listed). The fleet's admissions stay within
// B + R·w + N for w ∈ {100 ms, 1 s} (specs/cluster.md §4.7 and §4.9 row 9).
func TestFailLocalShareHoldsTheFleetBoundWithoutAnOwner(t *testing.T) {
	f := startFleet(t, 3)
	const rate, burst = 1000.0, 100
	name := f.nameOwnedBy(t, limiterKind, "failopen-api", 2)
	p := policy.RateLimit(rate).Named(name).WithBurst(burst).AsShared()
	survivors := f.members[:2]
	evs := []*events{collect(t, survivors[0]), collect(t, survivors[1])}
	res := runLimiterLoadOn(t, survivors, p, 4, []phase{{true, 1200 * time.Millisecond}}, func() {
		f.crash(t, 2)
		deadline := time.Now().Add(2 * time.Second)
		for _, ev := range evs {
			for {
				if _, ok := ev.first(supervisor.SharedDegraded, name); ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the limiter did not degrade")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	t.Logf("admitted %d in %v on the local shares; per node %v", len(res.admissions), res.elapsed, res.perNode)
	for _, w := range []time.Duration{100 * time.Millisecond, time.Second} {
		got := maxInWindow(res.admissions, w)
		bound := burst + int(rate*w.Seconds()) + 3
		t.Logf("w=%v: max %d, bound B + R·w + N = %d", w, got, bound)
		if got > bound {
			t.Errorf("w=%v: %d admissions > B + R·w + N = %d", w, got, bound)
		}
	}
	if len(res.admissions) == 0 {
		t.Error("nothing admitted on the local shares")
	}
}

// knownLeaks are the goroutines protoactor leaves behind on this version
// (specs/cluster.md §2.7 and §4.10 bug 9): the test provider's TTL loop never ends, and
// the gossip throttles live for their 60 s period.
func knownLeaks() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster/clusterproviders/test.(*Provider).startTtlReport.func1"),
		// actor.NewThrottle's timer goroutine, inlined into its three callers.
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
	}
}

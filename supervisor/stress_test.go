package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/goleak"
)

// The stress test's knobs. Its load runs for 3s by default (CI, -race, 2 cores), or for
// the soak duration (see relSoak).
const (
	stressDefault  = 3 * time.Second
	stressCallers  = 300
	stressBatch    = 8                     // functions per ExecuteAll
	stressMaxSleep = 20 * time.Millisecond // longest a function runs
	// stressAnswerBound is how far past its deadline (plus its function's own sleep, for
	// functions that ignore their context) a caller may get its answer before the call
	// counts as hung. Generous: the machine is shared and the race detector is on.
	stressAnswerBound = 5 * time.Second
	// stressWindow is the longest window the admission check examines one by one; the
	// whole run is checked as one window too.
	stressWindow = time.Second
	// stressHeapBound is how much the live heap may grow from the start of the load to its
	// end, whatever the number of calls: caches and pools that fill once, not per call.
	stressHeapBound = 16 << 20
)

// TestStressKeepsEveryInvariant runs hundreds of callers against one engine with a mix of
// policies, named and per-operation breakers and limiters (reject and wait mode),
// timeouts and their combinations; functions fail, panic, sleep, ignore their context or
// return Permanent errors; callers give up at random deadlines or cancel; and meanwhile
// actor panics are injected into the breakers, the limiters and the supervisor, and the
// registered names are reconfigured in place. At the end it checks that every call
// returned in time, that the metrics add up to exactly the calls made, that no limiter
// admitted more than Burst + rate·w in any window, that the half-open breaker never ran
// two probes at once, that the heap did not grow with the number of calls, and that no
// goroutine outlives Shutdown.
func TestStressKeepsEveryInvariant(t *testing.T) {
	d := relSoak(t)
	soaking := d > 0
	if !soaking {
		d = stressDefault
	}
	leaks := goleak.IgnoreCurrent()
	s := newStress(t)
	s.run(t, d)
	s.check(t, d, soaking)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after the load: %v", err)
	}
	goleak.VerifyNone(t, leaks)
}

// stress is one stress run: the engine, the workload and what the callers observed.
type stress struct {
	e         *Engine
	seed      uint64
	scenarios []stressScenario
	limiters  map[string]*admissionLog
	probe     probeTracker
	warmUp    Metrics // after the calls that created the actors, before the load

	calls, operations, succeeded, failed, refused atomic.Uint64
	fnPanics                                      atomic.Uint64
	fnRunning                                     atomic.Int64
	hung                                          atomic.Uint64
	worstOvershoot                                atomic.Int64 // ns past the caller's deadline
	kinds                                         sync.Map     // error kind → *atomic.Uint64

	injectedPanics, injectedOnNext, injectedSupervisor atomic.Uint64
	reconfigured, reconfigureRefused                   atomic.Uint64

	peakGoroutines                 atomic.Int64
	heapStart, heapMiddle, heapEnd uint64

	mu         sync.Mutex
	violations []string
}

// stressScenario is one way of calling the engine.
type stressScenario struct {
	name    string
	p       policy.Policy
	limiter string // the limiter whose admissions the function records, if any
	probe   bool   // through the probe breaker: the function tracks concurrent probes
	op      bool   // through Execute with an operation ID from op-0 … op-7
	batch   bool   // through ExecuteAll
	invalid bool   // an invalid call: must be refused and not counted
}

const stressOps = 8

func newStress(t *testing.T) *stress {
	t.Helper()
	e := newEngineNoCleanup(t)
	t.Cleanup(func() { // after a failure; a second Shutdown does nothing
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	s := &stress{e: e, seed: rand.Uint64(), limiters: map[string]*admissionLog{}, probe: probeTracker{name: "s-probe"}}
	fixed := policy.FixedBackoff{Interval: time.Millisecond}
	jitter := policy.ExponentialBackoff{InitialDelay: time.Millisecond, Multiplier: 2, MaxDelay: 5 * time.Millisecond, Jitter: true}

	main := policy.CircuitBreaker(5, 30*time.Millisecond).Named("s-main")
	probe := policy.CircuitBreaker(2, 5*time.Millisecond).WithSuccessThreshold(1).Named("s-probe")
	reg := policy.CircuitBreaker(8, 20*time.Millisecond).WithSuccessThreshold(3).Named("s-reg")
	reject := policy.RateLimit(200).WithBurst(10).Named("l-reject")
	wait := policy.RateLimit(100).WithBurst(5).WithMaxWait(50 * time.Millisecond).Named("l-wait")
	regLimit := policy.RateLimit(300).WithBurst(20).WithMaxWait(20 * time.Millisecond).Named("l-reg")
	perOp := policy.RateLimit(150).WithBurst(4) // unnamed: one limiter per operation ID
	if err := e.RegisterCircuitBreaker("s-reg", reg); err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterRateLimiter("l-reg", regLimit); err != nil {
		t.Fatal(err)
	}
	for _, l := range []policy.RateLimitPolicy{reject, wait, regLimit} {
		s.limiters[l.Name] = newAdmissionLog(l)
	}
	for i := range stressOps {
		s.limiters[fmt.Sprint("op-", i)] = newAdmissionLog(perOp)
	}

	s.scenarios = []stressScenario{
		{name: "none", p: policy.None()},
		{name: "retry", p: policy.Retry(3).WithBackoff(fixed)},
		{name: "timeout", p: policy.Timeout(15 * time.Millisecond)},
		{name: "breaker", p: main},
		{name: "limiter-reject", p: reject, limiter: "l-reject"},
		{name: "limiter-wait", p: wait, limiter: "l-wait"},
		{name: "retry-breaker-timeout", p: policy.Combine(policy.Retry(3).WithBackoff(fixed), main, policy.Timeout(15*time.Millisecond))},
		{name: "timeout-retry-limiter-wait", p: policy.Combine(policy.Timeout(40*time.Millisecond), policy.Retry(4).WithBackoff(jitter), wait), limiter: "l-wait"},
		{name: "registered-breaker-limiter", p: policy.Combine(reg, regLimit), limiter: "l-reg"},
		{name: "retry-limiter-reject-timeout", p: policy.Combine(policy.Retry(2).WithBackoff(fixed), reject, policy.Timeout(10*time.Millisecond)), limiter: "l-reject"},
		{name: "probe", p: probe, probe: true},
		{name: "retry-probe", p: policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), probe), probe: true},
		{name: "timeout-probe", p: policy.Combine(policy.Timeout(30*time.Millisecond), probe), probe: true},
		{name: "per-operation", p: policy.Combine(policy.CircuitBreaker(4, 20*time.Millisecond), perOp), op: true},
		{name: "bulk", p: policy.Combine(policy.Retry(2).WithBackoff(fixed), main, policy.Timeout(15*time.Millisecond)), batch: true},
		{name: "invalid", invalid: true},
	}
	// Create every named actor before measuring the heap.
	for _, sc := range s.scenarios {
		switch {
		case sc.invalid:
		case sc.op:
			for i := range stressOps {
				_, _ = Execute(context.Background(), e, policy.Operation[int](&funcOp{id: fmt.Sprint("op-", i), policy: sc.p, fn: ok42}))
			}
		default:
			_, _ = ExecuteWithPolicy(context.Background(), e, sc.p, ok42)
		}
	}
	s.warmUp = e.Metrics()
	return s
}

// run drives the load for d, with fault injection, reconfiguration, sampling and the
// online admission check running alongside, and returns once every caller returned and
// every function, abandoned ones included, finished.
func (s *stress) run(t *testing.T, d time.Duration) {
	t.Helper()
	s.heapStart = relHeap()
	start := time.Now()
	end := start.Add(d)
	done := make(chan struct{})
	var helpers sync.WaitGroup
	helpers.Go(func() { s.inject(done) })
	helpers.Go(func() { s.reconfigure(done) })
	helpers.Go(func() { s.sample(done, start.Add(d/2)) })
	helpers.Go(func() { s.foldAdmissions(done) })

	// On a loaded machine the probe breaker may see no half-open probe within d (its
	// callers must read the half-open view just before their function starts): the
	// load goes on, up to 20 s more, until one is observed, so the probe check runs.
	last := end.Add(20 * time.Second)
	more := func() bool {
		now := time.Now()
		return now.Before(end) || s.probe.counted.Load() == 0 && now.Before(last)
	}
	var callers sync.WaitGroup
	for i := range stressCallers {
		rng := rand.New(rand.NewPCG(s.seed, uint64(i)))
		callers.Go(func() {
			for more() {
				s.callOnce(rng)
			}
		})
	}
	callers.Wait()
	close(done)
	helpers.Wait()

	// Functions abandoned by a timeout may still be sleeping: wait for them.
	for wait := time.Now(); s.fnRunning.Load() > 0; time.Sleep(time.Millisecond) {
		if time.Since(wait) > 10*time.Second {
			t.Fatalf("%d functions still running 10s after the last call returned", s.fnRunning.Load())
		}
	}
	// Let every actor drain its mailbox (an injected panic may still be queued).
	for wait := time.Now(); s.busyActors() > 0; time.Sleep(time.Millisecond) {
		if time.Since(wait) > 10*time.Second {
			t.Fatalf("%d actors still busy 10s after the load", s.busyActors())
		}
	}
	s.heapEnd = relHeap()
}

func (s *stress) busyActors() int {
	n := 0
	for _, l := range liveBreakers(s.e) {
		if l.MailboxDepth() > 0 {
			n++
		}
	}
	for _, l := range liveLimiters(s.e) {
		if l.MailboxDepth() > 0 {
			n++
		}
	}
	return n
}

// stressBehaviour is what one function does.
type stressBehaviour struct {
	sleep     time.Duration
	ignoreCtx bool // sleeps through its context
	fail      bool // returns errTemporary
	permanent bool // returns Permanent(relErrBadRequest)
	panics    bool
}

func randomBehaviour(rng *rand.Rand) stressBehaviour {
	var b stressBehaviour
	switch r := rng.IntN(100); {
	case r < 50:
	case r < 85:
		b.sleep = time.Duration(rng.Int64N(int64(2 * time.Millisecond)))
	default:
		b.sleep = time.Duration(rng.Int64N(int64(stressMaxSleep)))
	}
	b.ignoreCtx = rng.IntN(5) == 0
	switch r := rng.IntN(100); {
	case r < 25:
		b.fail = true
	case r < 27:
		b.permanent = true
	case r < 28:
		b.panics = true
	}
	return b
}

// fn returns the function a call runs: it records its limiter admission and its probe
// entry, sleeps, and then succeeds with 7, fails or panics.
func (s *stress) fn(b stressBehaviour, lim *admissionLog, probe *probeEntry) func(context.Context) (int, error) {
	var lo time.Duration // when the call started: its admissions came after
	if lim != nil {
		lo = lim.since()
	}
	return func(ctx context.Context) (int, error) {
		s.fnRunning.Add(1)
		defer s.fnRunning.Add(-1)
		if lim != nil {
			lim.record(lo)
		}
		if probe != nil && s.probe.enter(s.e, probe) {
			defer s.probe.exit()
		}
		if b.sleep > 0 {
			if b.ignoreCtx {
				time.Sleep(b.sleep)
			} else {
				t := time.NewTimer(b.sleep)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return 0, ctx.Err()
				}
			}
		}
		switch {
		case b.panics:
			s.fnPanics.Add(1)
			panic("stress: the function panicked")
		case b.fail:
			return 0, errTemporary
		case b.permanent:
			return 0, policy.Permanent(relErrBadRequest)
		}
		return 7, nil
	}
}

// callOnce makes one call (or one batch) with a random scenario, behaviour, deadline
// and, sometimes, an early cancellation, and records what it returned.
func (s *stress) callOnce(rng *rand.Rand) {
	sc := &s.scenarios[rng.IntN(len(s.scenarios))]
	deadline := time.Duration(5+rng.IntN(200)) * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if rng.IntN(10) == 0 {
		stop := time.AfterFunc(time.Duration(rng.Int64N(int64(20*time.Millisecond))), cancel)
		defer stop.Stop()
	}
	b := randomBehaviour(rng)
	var lim *admissionLog
	if sc.limiter != "" {
		lim = s.limiters[sc.limiter]
	}
	var probe *probeEntry
	if sc.probe {
		probe = s.probe.before(s.e)
	}
	start := time.Now()
	switch {
	case sc.invalid:
		var err error
		switch rng.IntN(3) {
		case 0:
			_, err = ExecuteWithPolicy(ctx, s.e, policy.Policy(policy.Retry(0)), s.fn(b, nil, nil))
		case 1:
			_, err = ExecuteWithPolicy[int](ctx, s.e, policy.None(), nil)
		default:
			_, err = ExecuteWithPolicy(ctx, s.e, policy.Policy(policy.Combine(policy.Retry(2), nil)), s.fn(b, nil, nil))
		}
		s.observe(sc, start, deadline, b, 0, err)
	case sc.batch:
		fns := make([]func(context.Context) (int, error), stressBatch)
		bs := make([]stressBehaviour, stressBatch)
		for i := range fns {
			bs[i] = randomBehaviour(rng)
			fns[i] = s.fn(bs[i], nil, nil)
		}
		vals, errs := ExecuteAll(ctx, s.e, sc.p, fns)
		for i := range fns {
			s.observe(sc, start, deadline, bs[i], vals[i], errs[i])
		}
	case sc.op:
		id := rng.IntN(stressOps)
		name := fmt.Sprint("op-", id)
		op := &funcOp{id: name, policy: sc.p, fn: s.fn(b, s.limiters[name], nil)}
		v, err := Execute(ctx, s.e, policy.Operation[int](op))
		s.observe(sc, start, deadline, b, v, err)
	default:
		v, err := ExecuteWithPolicy(ctx, s.e, sc.p, s.fn(b, lim, probe))
		s.observe(sc, start, deadline, b, v, err)
	}
}

// observe checks one answer and counts it.
func (s *stress) observe(sc *stressScenario, start time.Time, deadline time.Duration, b stressBehaviour, v int, err error) {
	elapsed := time.Since(start)
	s.calls.Add(1)
	if over := elapsed - deadline; over > 0 {
		for {
			old := s.worstOvershoot.Load()
			if int64(over) <= old || s.worstOvershoot.CompareAndSwap(old, int64(over)) {
				break
			}
		}
	}
	if elapsed > deadline+stressMaxSleep+stressAnswerBound {
		s.hung.Add(1)
		s.violate("%s: answered after %v with a %v deadline", sc.name, elapsed, deadline)
	}
	s.count(err)
	switch {
	case errors.Is(err, policy.ErrInvalidPolicy):
		s.refused.Add(1)
		if !sc.invalid {
			s.violate("%s: a valid call was refused: %v", sc.name, err)
		}
		return
	case sc.invalid:
		s.violate("%s: an invalid call was not refused: %v", sc.name, err)
	case errors.Is(err, policy.ErrShutdown):
		s.violate("%s: ErrShutdown before Shutdown: %v", sc.name, err)
	}
	s.operations.Add(1)
	switch {
	case err == nil:
		s.succeeded.Add(1)
		if v != 7 {
			s.violate("%s: success with value %d; the function returned 7", sc.name, v)
		}
	default:
		s.failed.Add(1)
		if !relCleanError(err) {
			s.violate("%s: unexpected error %v", sc.name, err)
		}
		if b.panics && errors.Is(err, policy.ErrPanic) && policy.IsRetryable(err) {
			s.violate("%s: a panic is retryable: %v", sc.name, err)
		}
	}
}

// count tallies err by its kind, for the log.
func (s *stress) count(err error) {
	kind := "ok"
	if err != nil {
		kind = "other"
		for _, k := range []error{policy.ErrInvalidPolicy, policy.ErrRetryExhausted, policy.ErrPanic, policy.ErrTimeout,
			policy.ErrCancelled, policy.ErrCircuitOpen, policy.ErrRateLimited, policy.ErrOverloaded, relErrBadRequest, errTemporary} {
			if errors.Is(err, k) {
				kind = k.Error()
				break
			}
		}
	}
	n, _ := s.kinds.LoadOrStore(kind, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
}

func (s *stress) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf(format, args...))
	}
}

// inject sends a panic, or a panic on the next request, to a random breaker or limiter
// every few milliseconds, and now and then a panic to the supervisor. The probe breaker
// gets only plain panics: a crash while it records a probe's outcome wedges it (see
// TestBreakerCrashWhileRecordingProbeDoesNotWedgeHalfOpen), which would end the probe
// check early without being a violation of it.
func (s *stress) inject(done <-chan struct{}) {
	rng := rand.New(rand.NewPCG(s.seed, 1<<32))
	for {
		select {
		case <-done:
			return
		case <-time.After(time.Duration(2+rng.IntN(8)) * time.Millisecond):
		}
		var pids []*actorTarget
		for name, l := range liveBreakers(s.e) {
			pids = append(pids, &actorTarget{name: name, pid: l.PID(), probe: name == s.probe.name})
		}
		for name, l := range liveLimiters(s.e) {
			pids = append(pids, &actorTarget{name: name, pid: l.PID()})
		}
		target := pids[rng.IntN(len(pids))]
		switch {
		case rng.IntN(100) == 0:
			inject(s.e, supervisorOf(s.e), &fault.Panic{Reason: "stress: injected into the supervisor"})
			s.injectedSupervisor.Add(1)
		case rng.IntN(2) == 0 || target.probe:
			inject(s.e, target.pid, &fault.Panic{Reason: "stress: injected"})
			s.injectedPanics.Add(1)
		default:
			inject(s.e, target.pid, &fault.PanicOnNext{Reason: "stress: injected on the next request"})
			s.injectedOnNext.Add(1)
		}
	}
}

type actorTarget struct {
	name  string
	pid   *actor.PID
	probe bool
}

// reconfigure re-registers the registered breaker and limiter with their own
// configuration, so that Reconfigure runs under load.
func (s *stress) reconfigure(done <-chan struct{}) {
	reg := policy.CircuitBreaker(8, 20*time.Millisecond).WithSuccessThreshold(3)
	regLimit := policy.RateLimit(300).WithBurst(20).WithMaxWait(20 * time.Millisecond)
	for {
		select {
		case <-done:
			return
		case <-time.After(20 * time.Millisecond):
		}
		for _, err := range []error{s.e.RegisterCircuitBreaker("s-reg", reg), s.e.RegisterRateLimiter("l-reg", regLimit)} {
			switch {
			case err == nil:
				s.reconfigured.Add(1)
			case errors.Is(err, policy.ErrOverloaded):
				s.reconfigureRefused.Add(1) // the actor crashed on the Reconfigure: retryable
			default:
				s.violate("reconfigure: %v", err)
			}
		}
	}
}

// sample tracks the peak goroutine count and measures the heap once, at middle.
func (s *stress) sample(done <-chan struct{}, middle time.Time) {
	onTicks(done, 5*time.Millisecond, func(now time.Time) {
		if n := int64(runtime.NumGoroutine()); n > s.peakGoroutines.Load() {
			s.peakGoroutines.Store(n)
		}
		if s.heapMiddle == 0 && now.After(middle) {
			s.heapMiddle = relHeap()
		}
	})
}

// foldAdmissions checks the admissions recorded so far, leaving the last half second
// for late records, so the logs stay short however long the run.
func (s *stress) foldAdmissions(done <-chan struct{}) {
	onTicks(done, 100*time.Millisecond, func(time.Time) {
		for _, a := range s.limiters {
			a.fold(time.Since(a.base) - 500*time.Millisecond)
		}
	})
}

// onTicks calls f with the time of each tick of a ticker of period d until done is
// closed.
func onTicks(done <-chan struct{}, d time.Duration, f func(now time.Time)) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			f(now)
		}
	}
}

// check verifies the invariants once the load is over, and logs the figures.
func (s *stress) check(t *testing.T, d time.Duration, soaking bool) {
	t.Helper()
	m := s.e.Metrics()
	// Count only the load's operations.
	m.TotalOperations -= s.warmUp.TotalOperations
	m.SuccessfulOperations -= s.warmUp.SuccessfulOperations
	m.FailedOperations -= s.warmUp.FailedOperations
	violations := 0
	fail := func(format string, args ...any) {
		t.Helper()
		violations++
		t.Errorf(format, args...)
	}

	// Every call returned (the callers finished), and the metrics add up to exactly the
	// calls that were operations.
	if got := s.operations.Load() + s.refused.Load(); got != s.calls.Load() {
		fail("operations %d + refused %d != calls %d", s.operations.Load(), s.refused.Load(), s.calls.Load())
	}
	if m.TotalOperations != m.SuccessfulOperations+m.FailedOperations {
		fail("TotalOperations %d != Successful %d + Failed %d", m.TotalOperations, m.SuccessfulOperations, m.FailedOperations)
	}
	if m.TotalOperations != s.operations.Load() || m.SuccessfulOperations != s.succeeded.Load() || m.FailedOperations != s.failed.Load() {
		fail("metrics total %d ok %d failed %d; callers saw %d operations, %d ok, %d failed",
			m.TotalOperations, m.SuccessfulOperations, m.FailedOperations, s.operations.Load(), s.succeeded.Load(), s.failed.Load())
	}
	if m.Panics != s.fnPanics.Load() {
		fail("Panics %d; functions panicked %d times", m.Panics, s.fnPanics.Load())
	}

	// Limiters: no window ever saw more than Burst + rate·w admissions.
	var admitted, late uint64
	for _, name := range slices.Sorted(maps.Keys(s.limiters)) {
		a := s.limiters[name]
		a.fold(time.Duration(math.MaxInt64))
		admitted += a.total
		late += a.late
		allowed := a.burst
		if a.worst > allowed+1e-9 {
			fail("limiter %s admitted more than Burst + rate·w: %s, %.1f over rate·w; Burst is %.0f, %.0f allowed", name, a.worstAt, a.worst, a.burst, allowed)
		}
		if whole := a.whole(); whole > allowed+1e-9 {
			fail("limiter %s admitted %d in the whole run, %.1f over rate·w; Burst is %.0f, %.0f allowed", name, a.total, whole, a.burst, allowed)
		}
		if a.total == 0 {
			fail("limiter %s admitted nothing: the load did not reach it", name)
		}
		t.Logf("limiter %-8s admitted %7d, worst window %.1f over rate·w (Burst %2.0f: %s), late records %d, stats %+v",
			name, a.total, a.worst, a.burst, a.worstAt, a.late, m.Limiters[name])
	}

	// Half-open: never two probes at once (SuccessThreshold 1).
	if s.probe.peak.Load() > 1 || s.probe.violations.Load() > 0 {
		fail("probe breaker ran %d probes at once (%d times more than 1); SuccessThreshold is 1", s.probe.peak.Load(), s.probe.violations.Load())
	}
	if s.probe.counted.Load() == 0 {
		fail("no half-open probe was observed: the probe check did not run")
	}

	// Restarts: every injected panic restarted its actor; a panic on the next request
	// did when a request came.
	var linkRestarts uint64
	for _, l := range liveBreakers(s.e) {
		linkRestarts += l.Restarts()
	}
	for _, l := range liveLimiters(s.e) {
		linkRestarts += l.Restarts()
	}
	if m.ActorRestarts != linkRestarts {
		fail("ActorRestarts %d; the actors restarted %d times", m.ActorRestarts, linkRestarts)
	}
	if m.ActorRestarts < s.injectedPanics.Load() || m.ActorRestarts > s.injectedPanics.Load()+s.injectedOnNext.Load() {
		fail("ActorRestarts %d; injected %d panics and %d panics on the next request", m.ActorRestarts, s.injectedPanics.Load(), s.injectedOnNext.Load())
	}

	// Heap: bounded, whatever the number of calls.
	growth := relGrowth(s.heapStart, s.heapEnd)
	if growth > stressHeapBound {
		fail("heap grew %.1f MiB during the load (from %.1f to %.1f MiB); bound %.0f MiB",
			relMiB(growth), relMiB(int64(s.heapStart)), relMiB(int64(s.heapEnd)), relMiB(stressHeapBound))
	}

	s.mu.Lock()
	for _, v := range s.violations {
		fail("%s", v)
	}
	s.mu.Unlock()

	var kinds []string
	s.kinds.Range(func(k, v any) bool {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, v.(*atomic.Uint64).Load()))
		return true
	})
	slices.Sort(kinds)
	mode := "short"
	if soaking {
		mode = "soak"
	}
	t.Logf("stress (%s, seed %d): %d calls in %v (%.0f calls/s) by %d callers, GOMAXPROCS %d",
		mode, s.seed, s.calls.Load(), d, float64(s.calls.Load())/d.Seconds(), stressCallers, runtime.GOMAXPROCS(0))
	t.Logf("operations %d (ok %d, failed %d), refused as invalid %d; answers: %v",
		m.TotalOperations, m.SuccessfulOperations, m.FailedOperations, s.refused.Load(), kinds)
	t.Logf("peak goroutines %d; heap after GC: start %.1f MiB, middle %.1f MiB, end %.1f MiB (growth %+.2f MiB)",
		s.peakGoroutines.Load(), relMiB(int64(s.heapStart)), relMiB(int64(s.heapMiddle)), relMiB(int64(s.heapEnd)), relMiB(growth))
	t.Logf("injected: %d panics, %d panics on the next request, %d supervisor panics; ActorRestarts %d; reconfigurations %d (%d refused by a crash)",
		s.injectedPanics.Load(), s.injectedOnNext.Load(), s.injectedSupervisor.Load(), m.ActorRestarts, s.reconfigured.Load(), s.reconfigureRefused.Load())
	t.Logf("retries %d, timeouts %d, abandoned %d, rate-limit hits %d, breaker trips %d, function panics %d; worst answer past its deadline %v",
		m.RetryAttempts, m.TimeoutCount, m.AbandonedCalls, m.RateLimitHits, m.CircuitBreakerTrips, m.Panics, time.Duration(s.worstOvershoot.Load()))
	t.Logf("half-open probes observed %d, most at once %d; limiter admissions %d (late records %d); hung calls %d; invariant violations: %d",
		s.probe.counted.Load(), s.probe.peak.Load(), admitted, late, s.hung.Load(), violations)
}

// admissionLog checks a limiter's admissions against its promise: at most
// Burst + rate·w in any window of length w. An admission happens somewhere between the
// moment its caller called the engine (lo) and the moment the admitted function started
// (hi); both are recorded. For admissions j and the ones before it, in the order of hi,
// back to i, every one of them was admitted inside [min lo, hi_j], so their number must
// not exceed Burst + rate·(hi_j - min lo). That bound needs no allowance for scheduling
// delays: a caller descheduled between its admission and its function only widens its
// own interval, which makes the check looser, never wrong. Windows up to stressWindow
// are checked one by one as admissions come in (memory stays bounded however long the
// run), and the whole run once at the end.
type admissionLog struct {
	name        string
	rate, burst float64
	base        time.Time

	mu       sync.Mutex
	pending  []admission // recorded, not yet checked
	recent   []admission // checked, within stressWindow of the latest: sorted by hi
	frontier time.Duration
	first    time.Duration // the earliest lo
	worst    float64       // the largest count - rate·w over every window checked
	worstAt  string
	late     uint64 // recorded after a later admission was checked: left out of the windows
	total    uint64
}

type admission struct{ lo, hi time.Duration }

func newAdmissionLog(p policy.RateLimitPolicy) *admissionLog {
	return &admissionLog{name: p.Name, rate: p.RequestsPerSecond, burst: float64(p.EffectiveBurst()), base: time.Now(), first: -1}
}

// since returns the time a call started, for its admissions' lo.
func (a *admissionLog) since() time.Duration { return time.Since(a.base) }

// record notes an admission whose call started at lo (from since) and whose function
// starts now.
func (a *admissionLog) record(lo time.Duration) {
	hi := time.Since(a.base)
	a.mu.Lock()
	a.pending = append(a.pending, admission{lo, hi})
	a.total++
	if a.first < 0 || lo < a.first {
		a.first = lo
	}
	a.mu.Unlock()
}

// fold checks, in the order of hi, the admissions whose function started before upTo.
func (a *admissionLog) fold(upTo time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	slices.SortFunc(a.pending, func(x, y admission) int { return cmp.Compare(x.hi, y.hi) })
	k := 0
	for ; k < len(a.pending) && a.pending[k].hi <= upTo; k++ {
		j := a.pending[k]
		if j.hi < a.frontier {
			a.late++
			continue
		}
		minLo := j.lo
		for i := len(a.recent); i >= 0; i-- { // the window of recent[i:] and j
			if i < len(a.recent) {
				minLo = min(minLo, a.recent[i].lo)
			}
			count := float64(len(a.recent) - i + 1)
			if x := count - a.rate*max(j.hi-minLo, 0).Seconds(); x > a.worst {
				a.worst = x
				a.worstAt = fmt.Sprintf("%.0f admissions within %v", count, j.hi-minLo)
			}
		}
		a.frontier = j.hi
		a.recent = append(a.recent, j)
		drop := 0
		for drop < len(a.recent) && a.recent[drop].hi < j.hi-stressWindow {
			drop++
		}
		a.recent = append(a.recent[:0], a.recent[drop:]...)
	}
	a.pending = append(a.pending[:0], a.pending[k:]...)
}

// whole checks the run as one window: every admission happened between the first lo
// and the last hi.
func (a *admissionLog) whole() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.total == 0 {
		return 0
	}
	return float64(a.total) - a.rate*(a.frontier-a.first).Seconds()
}

// probeTracker counts the functions running as half-open probes of one breaker. A
// caller reads the breaker's view before calling (probeEntry); its function, on entry,
// counts itself as a probe when both that view and the view at entry say the breaker is
// not closed and the generation moved by at most one (open → half-open). A call admitted
// while the breaker was closed and still running when it opened cannot pass that test:
// its admission generation is a closed one after the caller's view, so the view at entry
// is at least two generations later. So every function counted is a probe, and more
// than SuccessThreshold (1) counted at once is a violation.
type probeTracker struct {
	name          string
	running, peak atomic.Int32
	counted       atomic.Uint64
	violations    atomic.Uint64
}

type probeEntry struct {
	link *actors.BreakerLink
	view *actors.BreakerView
}

func (p *probeTracker) before(e *Engine) *probeEntry {
	l := liveBreakers(e)[p.name]
	if l == nil {
		return nil
	}
	return &probeEntry{link: l, view: l.View()}
}

func (p *probeTracker) enter(e *Engine, pre *probeEntry) bool {
	l := liveBreakers(e)[p.name]
	if l != pre.link || pre.view.State == messages.Closed {
		return false
	}
	v := l.View()
	if v.State == messages.Closed || v.Generation > pre.view.Generation+1 {
		return false
	}
	n := p.running.Add(1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			break
		}
	}
	if n > 1 {
		p.violations.Add(1)
	}
	p.counted.Add(1)
	return true
}

func (p *probeTracker) exit() { p.running.Add(-1) }

// TestRateLimiterNeverAdmitsMoreThanBurstAfterIdling shows an engine bug found by the
// stress test: a limiter hands whole tokens out to a lock-free pool, and while the pool
// sits full nothing tells the actor, whose bucket keeps accruing. When callers drain the
// pool and the next one asks the actor, the bucket refills for the whole idle period and
// clamps only against the pool as it is now (empty), so it grants a second Burst at the
// same instant: RateLimit(10).WithBurst(5) admits 9 calls at once after 10s idle. DESIGN
// promises at most Burst + rate·w in any window. The accrual must be clamped against
// the pool as it was when the bucket last refilled (the tokens that overflowed while it
// was full are gone).
func TestRateLimiterNeverAdmitsMoreThanBurstAfterIdling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(10).WithBurst(5).Named("idle")
		for _, idle := range []time.Duration{10 * time.Second, time.Hour} {
			// One call: the actor refills its pool (4 tokens left in it). Then nothing
			// for a while, then a burst of callers.
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
				t.Fatal(err)
			}
			time.Sleep(idle)
			admitted := 0
			for range 20 {
				if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err == nil {
					admitted++
				}
			}
			time.Sleep(time.Second) // the bucket is full again
			if admitted > 5 {
				t.Errorf("after %v idle, %d calls admitted at one instant; Burst is 5", idle, admitted)
			}
		}
	})
}

package supervisor

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// onlySeries is col restricted to the series named name.
func onlySeries(col prometheus.Collector, name string) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		all := make(chan prometheus.Metric, 256)
		col.Collect(all)
		close(all)
		for m := range all {
			if strings.Contains(m.Desc().String(), `"`+name+`"`) {
				ch <- m
			}
		}
	})
}

// occupant is a call that holds a bulkhead permit until the test lets it go.
type occupant struct {
	release chan struct{}
	err     chan error
}

// occupy starts a call under p that blocks until its occupant is released.
func occupy(e *Engine, p policy.Policy) *occupant {
	o := &occupant{release: make(chan struct{}), err: make(chan error, 1)}
	go func() {
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			<-o.release
			return 1, nil
		})
		o.err <- err
	}()
	return o
}

// done releases o and returns its call's error.
func (o *occupant) done() error {
	close(o.release)
	return <-o.err
}

// mustStats returns the stats of the live bulkhead name.
func mustStats(t *testing.T, e *Engine, name string) BulkheadStats {
	t.Helper()
	s, ok := bulkheadStats(e, name)
	if !ok {
		t.Fatalf("bulkhead %q is not live", name)
	}
	return s
}

// BH-1: at no instant do more than MaxConcurrent calls run, and under load exactly
// MaxConcurrent do.
func TestBulkheadNeverRunsMoreThanMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Bulkhead(5).Named("bh1").WithQueue(200, 0))
		var running, peak atomic.Int64
		fn := func(context.Context) (int, error) {
			n := running.Add(1)
			for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
			}
			time.Sleep(10 * time.Millisecond)
			running.Add(-1)
			return 1, nil
		}
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				if _, err := ExecuteWithPolicy(context.Background(), e, p, fn); err != nil {
					t.Errorf("call: %v", err)
				}
			})
		}
		wg.Wait()
		if got := peak.Load(); got != 5 {
			t.Fatalf("peak concurrency %d; want exactly MaxConcurrent (5)", got)
		}
		s := mustStats(t, e, "bh1")
		if s.MaxInFlight != 5 || s.Admitted != 200 || s.InFlight != 0 || s.Queued != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// BH-2: a full bulkhead with a full queue (or none) refuses at once, without running
// the function; with room in the queue the call waits.
func TestFullBulkheadRefusesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Bulkhead(2).Named("bh2").WithQueue(1, 0))
		a, b := occupy(e, p), occupy(e, p)
		synctest.Wait()
		waiter := occupy(e, p)
		synctest.Wait()
		if s := mustStats(t, e, "bh2"); s.InFlight != 2 || s.Queued != 1 {
			t.Fatalf("stats %+v; want 2 running and 1 waiting", s)
		}
		start := time.Now()
		ran := false
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { ran = true; return 1, nil })
		if !errors.Is(err, policy.ErrConcurrencyLimited) || ran {
			t.Fatalf("4th call: err %v, ran %v; want ErrConcurrencyLimited and not run", err, ran)
		}
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Fatalf("refusal took %v; want at once", d)
		}
		var pe *policy.Error
		if !errors.As(err, &pe) || pe.Kind != policy.ErrConcurrencyLimited {
			t.Fatalf("error %#v is not a *policy.Error of Kind ErrConcurrencyLimited", err)
		}
		for _, o := range []*occupant{a, b, waiter} {
			if err := o.done(); err != nil {
				t.Fatal(err)
			}
		}
		if m := e.Metrics(); m.ConcurrencyLimitHits != 1 || m.Bulkheads["bh2"].Rejected != 1 || m.Bulkheads["bh2"].Admitted != 3 {
			t.Fatalf("metrics: hits %d, stats %+v", m.ConcurrencyLimitHits, m.Bulkheads["bh2"])
		}

		// Without a queue, a full bulkhead refuses without asking its actor.
		q := policy.Policy(policy.Bulkhead(1).Named("bh2-noqueue"))
		c := occupy(e, q)
		synctest.Wait()
		if _, err := ExecuteWithPolicy(context.Background(), e, q, ok42); !errors.Is(err, policy.ErrConcurrencyLimited) {
			t.Fatalf("no queue: err %v; want ErrConcurrencyLimited", err)
		}
		if err := c.done(); err != nil {
			t.Fatal(err)
		}
	})
}

// BH-3: a wait ends at MaxWait with ErrConcurrencyLimited (not ErrTimeout) — failsafe-go's
// "with maxWaitTime exceeded" and resilience4j's entry timeout — or at the caller's
// context with ErrCancelled, and the place in the queue is freed at once; a permit that
// comes back within the wait is taken (failsafe-go's "should AcquirePermit after wait").
func TestBulkheadWaitEndsAtMaxWaitOrTheCallersContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Bulkhead(1).Named("bh3").WithQueue(5, 100*time.Millisecond))
		holder := occupy(e, p)
		synctest.Wait()

		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrConcurrencyLimited) || errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("wait past MaxWait: %v; want ErrConcurrencyLimited, not ErrTimeout", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("the wait lasted %v; want MaxWait (100ms)", d)
		}

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(ctx, e, p, ok42)
			errc <- err
		}()
		synctest.Wait()
		if s := mustStats(t, e, "bh3"); s.Queued != 1 {
			t.Fatalf("queued %d; want 1", s.Queued)
		}
		time.Sleep(10 * time.Millisecond)
		cancel()
		if err := <-errc; !errors.Is(err, policy.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled wait: %v; want ErrCancelled", err)
		}
		synctest.Wait()
		if s := mustStats(t, e, "bh3"); s.Queued != 0 {
			t.Fatalf("queued %d after the waiter left; want 0", s.Queued)
		}

		// A permit given back within the wait goes to the waiter.
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
			errc <- err
		}()
		synctest.Wait()
		time.Sleep(50 * time.Millisecond)
		if err := holder.done(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("waiter after a release: %v", err)
		}
		if d := time.Since(start); d != 160*time.Millisecond {
			t.Fatalf("admitted at %v; want at the release (160ms)", d)
		}
	})
}

// BH-3: 10 000 waits cancelled at random moments, while permits come and go, leave
// nothing held or queued, and lose no permit.
func TestBulkheadRandomCancellationsLeaveNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		const limit = 4
		p := policy.Policy(policy.Bulkhead(limit).Named("bh3-random").WithQueue(1000, 0))
		r := rand.New(rand.NewPCG(13, 3))
		var wg sync.WaitGroup
		var admitted, cancelled atomic.Int64
		for wave := range 100 {
			for i := range 100 {
				hold := time.Duration(r.IntN(5)) * time.Millisecond
				giveUp := time.Duration(r.IntN(5)) * time.Millisecond
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), giveUp)
					defer cancel()
					_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
						time.Sleep(hold)
						return 1, nil
					})
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.Is(err, policy.ErrCancelled):
						cancelled.Add(1)
					default:
						t.Errorf("wave %d call %d: %v", wave, i, err)
					}
				})
			}
			time.Sleep(time.Millisecond)
		}
		wg.Wait()
		synctest.Wait()
		s := mustStats(t, e, "bh3-random")
		if s.InFlight != 0 || s.Queued != 0 {
			t.Fatalf("stats %+v after every call returned; want nothing held or queued", s)
		}
		if admitted.Load()+cancelled.Load() != 10000 || cancelled.Load() == 0 {
			t.Fatalf("admitted %d, cancelled %d", admitted.Load(), cancelled.Load())
		}
		// No permit was lost: limit calls run at once.
		var holders []*occupant
		for range limit {
			holders = append(holders, occupy(e, p))
		}
		synctest.Wait()
		if s := mustStats(t, e, "bh3-random"); s.InFlight != limit || s.Queued != 0 {
			t.Fatalf("stats %+v; want all %d permits free to take", s, limit)
		}
		for _, o := range holders {
			if err := o.done(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// BH-4: waiters are admitted first in, first out, critical ones first; with LIFO the
// newest first (Netflix LifoBlockingLimiter), critical still first.
func TestBulkheadAdmitsWaitersInOrder(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    policy.BulkheadPolicy
		want []string
	}{
		{"fifo", policy.Bulkhead(1).Named("bh4-fifo").WithQueue(10, 0), []string{"c", "a", "b", "d", "e"}},
		{"lifo", policy.Bulkhead(1).Named("bh4-lifo").WithQueue(10, 0).WithLIFO(), []string{"c", "e", "d", "b", "a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(t)
				p := policy.Policy(tt.p)
				holder := occupy(e, p)
				synctest.Wait()
				var mu sync.Mutex
				var order []string
				var wg sync.WaitGroup
				for _, id := range []string{"a", "b", "c", "d", "e"} {
					op := &funcOp{id: id, critical: id == "c", policy: p, fn: func(context.Context) (int, error) {
						mu.Lock()
						order = append(order, id)
						mu.Unlock()
						return 1, nil
					}}
					wg.Go(func() {
						if _, err := Execute(context.Background(), e, op); err != nil {
							t.Errorf("%s: %v", id, err)
						}
					})
					synctest.Wait() // staged: each arrives after the previous one queued
				}
				if err := holder.done(); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				if !slices.Equal(order, tt.want) {
					t.Fatalf("admission order %v; want %v", order, tt.want)
				}
			})
		})
	}
}

// BH-5: a permit is held until the function really returns — also after a Timeout gave
// up on it (it shows in AbandonedCalls) — and a panicking function frees it.
func TestBulkheadPermitOutlivesAnAbandoningTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Combine(policy.Bulkhead(1).Named("bh5"), policy.Timeout(10*time.Millisecond)))
		stubborn := func(context.Context) (int, error) {
			time.Sleep(100 * time.Millisecond) // ignores its context
			return 1, nil
		}
		if _, err := ExecuteWithPolicy(context.Background(), e, p, stubborn); !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("first call: %v; want ErrTimeout", err)
		}
		if m := e.Metrics(); m.AbandonedCalls != 1 || m.Bulkheads["bh5"].InFlight != 1 {
			t.Fatalf("abandoned %d, stats %+v; want the abandoned call to hold its permit", m.AbandonedCalls, m.Bulkheads["bh5"])
		}
		time.Sleep(40 * time.Millisecond)
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrConcurrencyLimited) {
			t.Fatalf("call while the abandoned function runs: %v; want ErrConcurrencyLimited", err)
		}
		time.Sleep(60 * time.Millisecond)
		synctest.Wait()
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("call after the abandoned function returned: %v", err)
		}

		if _, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { panic("boom") }); !errors.Is(err, policy.ErrPanic) {
			t.Fatalf("panicking call: %v; want ErrPanic", err)
		}
		if s := mustStats(t, e, "bh5"); s.InFlight != 0 {
			t.Fatalf("in flight %d after a panic; want the permit back", s.InFlight)
		}

		// With a retry between the bulkhead and the timeout, the permit waits for every
		// abandoned attempt.
		q := policy.Policy(policy.Combine(policy.Bulkhead(1).Named("bh5-retry"),
			policy.Retry(2).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}), policy.Timeout(10*time.Millisecond)))
		if _, err := ExecuteWithPolicy(context.Background(), e, q, stubborn); !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("retried stubborn call: %v; want ErrTimeout", err)
		}
		if s := mustStats(t, e, "bh5-retry"); s.InFlight != 1 {
			t.Fatalf("in flight %d while two abandoned attempts run; want 1 permit held", s.InFlight)
		}
		time.Sleep(80 * time.Millisecond) // at 101ms: the first attempt returned, the second (until 111ms) not yet
		synctest.Wait()
		if s := mustStats(t, e, "bh5-retry"); s.InFlight != 1 {
			t.Fatalf("in flight %d while the second abandoned attempt runs; want 1", s.InFlight)
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if s := mustStats(t, e, "bh5-retry"); s.InFlight != 0 {
			t.Fatalf("in flight %d after both attempts returned; want 0", s.InFlight)
		}
	})
}

// BH-6: RegisterBulkhead resizes live and never blocks. Shrinking 4 → 1 with 4 running
// admits the waiter only after the 4 released; growing admits waiters at once
// (resilience4j's resize while running or waiting).
func TestRegisterBulkheadResizesLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBulkhead("bh6", policy.Bulkhead(4).WithQueue(10, 0)); err != nil {
			t.Fatal(err)
		}
		p := policy.Policy(policy.Bulkhead(99).Named("bh6"))
		var running []*occupant
		for range 4 {
			running = append(running, occupy(e, p))
		}
		synctest.Wait()
		start := time.Now()
		if err := e.RegisterBulkhead("bh6", policy.Bulkhead(1).WithQueue(10, 0)); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Fatal("shrinking waited for running calls")
		}
		waiter := occupy(e, p)
		synctest.Wait()
		for i, o := range running {
			if err := o.done(); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			s := mustStats(t, e, "bh6")
			if i < 3 && (s.Queued != 1 || s.InFlight != 3-i) {
				t.Fatalf("after %d releases: %+v; want the waiter still queued", i+1, s)
			}
			if i == 3 && (s.Queued != 0 || s.InFlight != 1 || s.Limit != 1) {
				t.Fatalf("after 4 releases: %+v; want the waiter admitted", s)
			}
		}
		var more []*occupant
		for range 3 {
			more = append(more, occupy(e, p))
		}
		synctest.Wait()
		if s := mustStats(t, e, "bh6"); s.Queued != 3 {
			t.Fatalf("%+v; want 3 queued", s)
		}
		if err := e.RegisterBulkhead("bh6", policy.Bulkhead(4).WithQueue(10, 0)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := mustStats(t, e, "bh6"); s.Queued != 0 || s.InFlight != 4 {
			t.Fatalf("after growing to 4: %+v; want every waiter admitted at once", s)
		}
		for _, o := range append(more, waiter) {
			if err := o.done(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// BH-7: inside a retry every attempt takes its own permit, waits its backoff when refused
// and is refused again; a breaker around the bulkhead ignores its refusals.
func TestRetryAroundBulkheadIsRefusedPerAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Combine(
			policy.CircuitBreaker(1, time.Hour).Named("bh7"),
			policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
			policy.Bulkhead(1).Named("bh7")))
		holder := occupy(e, policy.Bulkhead(1).Named("bh7"))
		synctest.Wait()
		start := time.Now()
		ran := false
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { ran = true; return 1, nil })
		if !errors.Is(err, policy.ErrConcurrencyLimited) || !errors.Is(err, policy.ErrRetryExhausted) || ran {
			t.Fatalf("err %v, ran %v; want ErrRetryExhausted matching ErrConcurrencyLimited, not run", err, ran)
		}
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Fatalf("took %v; want the two backoffs (20ms)", d)
		}
		m := e.Metrics()
		if m.ConcurrencyLimitHits != 3 || m.Bulkheads["bh7"].Rejected != 3 {
			t.Fatalf("hits %d, stats %+v; want 3 refusals", m.ConcurrencyLimitHits, m.Bulkheads["bh7"])
		}
		if b := m.Breakers["bh7"]; b.State.String() != "closed" || b.Failures != 0 {
			t.Fatalf("breaker %+v; want it to ignore the refusals", b)
		}
		if err := holder.done(); err != nil {
			t.Fatal(err)
		}
	})
}

// BH-9: stats, events and Prometheus series.
func TestBulkheadReportsEventsAndSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		events, cancel := e.Subscribe(8)
		defer cancel()
		p := policy.Policy(policy.Bulkhead(1).Named("bh9"))
		holder := occupy(e, p)
		synctest.Wait()
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrConcurrencyLimited) {
			t.Fatal(err)
		}
		synctest.Wait()
		if ev := obsNext(t, events); ev.Kind != BulkheadSaturated || ev.Name != "bh9" || ev.Kind.String() != "bulkhead_saturated" {
			t.Fatalf("event %v; want bulkhead_saturated bh9", ev)
		}
		if err := holder.done(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if ev := obsNext(t, events); ev.Kind != BulkheadRecovered || ev.Name != "bh9" || ev.Kind.String() != "bulkhead_recovered" {
			t.Fatalf("event %v; want bulkhead_recovered bh9", ev)
		}
		s := mustStats(t, e, "bh9")
		want := BulkheadStats{Limit: 1, InFlight: 0, Queued: 0, MaxInFlight: 1, Admitted: 1, Rejected: 1}
		if s != want {
			t.Fatalf("stats %+v; want %+v", s, want)
		}
		col := e.Collector()
		for name, v := range map[string]float64{
			"bulwark_bulkhead_limit": 1, "bulwark_bulkhead_in_flight": 0, "bulwark_bulkhead_queued": 0,
			"bulwark_bulkhead_admitted_total": 1, "bulwark_bulkhead_rejected_total": 1,
			"bulwark_concurrency_limit_hits_total": 1,
		} {
			if n := testutil.CollectAndCount(col, name); n != 1 {
				t.Fatalf("%s: %d series; want 1", name, n)
			}
			if got := testutil.ToFloat64(onlySeries(col, name)); got != v {
				t.Fatalf("%s = %v; want %v", name, got, v)
			}
		}
		if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) != 0 {
			t.Fatalf("lint: %v %v", problems, err)
		}
	})
}

// The bulkhead is passivated when idle, like breakers and limiters, but never while a
// permit is held or a caller waits.
func TestIdleBulkheadPassivatesButNeverWhileInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		p := policy.Policy(policy.Bulkhead(1).Named("bh-idle").WithQueue(1, 0))
		holder := occupy(e, p)
		synctest.Wait()
		waiter := occupy(e, p)
		time.Sleep(5 * idle)
		synctest.Wait()
		if _, ok := liveBulkheads(e)["bh-idle"]; !ok {
			t.Fatal("the bulkhead was passivated while a permit was held and a caller waited")
		}
		if err := holder.done(); err != nil {
			t.Fatal(err)
		}
		if err := waiter.done(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * idle)
		synctest.Wait()
		if _, ok := liveBulkheads(e)["bh-idle"]; ok {
			t.Fatal("the bulkhead is still live long after its last call")
		}
		// Used again, it comes back with its configuration.
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatal(err)
		}
		if s := mustStats(t, e, "bh-idle"); s.Limit != 1 || s.Admitted != 1 {
			t.Fatalf("recreated bulkhead %+v", s)
		}
	})
}

// A bulkhead in steady use on its fast path (which never messages the actor) is not
// passivated.
func TestBusyBulkheadIsNotPassivated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		e := newEngine(t, WithIdleTimeout(idle))
		p := policy.Policy(policy.Bulkhead(2).Named("bh-busy"))
		for range 20 {
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
				t.Fatal(err)
			}
			time.Sleep(idle / 4)
			synctest.Wait()
		}
		if s := mustStats(t, e, "bh-busy"); s.Admitted != 20 {
			t.Fatalf("stats %+v; want one bulkhead that admitted all 20 calls", s)
		}
	})
}

// A caller queued with no MaxWait waits until Shutdown, which refuses it.
func TestShutdownReleasesBulkheadWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		p := policy.Policy(policy.Bulkhead(1).Named("bh-down").WithQueue(1, 0))
		release := make(chan struct{})
		go ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { <-release; return 1, nil })
		synctest.Wait()
		errc := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
			errc <- err
		}()
		synctest.Wait()
		done := make(chan error, 1)
		go func() { done <- e.Shutdown(context.Background()) }()
		if err := <-errc; !errors.Is(err, policy.ErrShutdown) {
			t.Fatalf("queued caller at Shutdown: %v; want ErrShutdown", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestRegisterBulkheadRefusesBadInput(t *testing.T) {
	e := newEngine(t)
	for _, tt := range []struct {
		name, bulkhead string
		p              policy.BulkheadPolicy
		want           string
	}{
		{"empty name", "", policy.Bulkhead(1), "RegisterBulkhead: name is empty"},
		{"zero limit", "x", policy.BulkheadPolicy{}, "MaxConcurrent must be ≥ 1"},
		{"wait without queue", "x", policy.BulkheadPolicy{MaxConcurrent: 1, MaxWait: time.Second}, "MaxWait must be unset"},
	} {
		err := e.RegisterBulkhead(tt.bulkhead, tt.p)
		if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want ErrInvalidPolicy saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.Bulkhead(0), ok42); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("invalid bulkhead policy: %v", err)
	}
}

// An unnamed bulkhead takes the operation's ID; bulkheads have their own namespace.
func TestUnnamedBulkheadTakesTheOperationID(t *testing.T) {
	e := newEngine(t)
	pl, err := e.Prepare("orders", policy.Combine(policy.CircuitBreaker(5, time.Second), policy.Bulkhead(3)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExecutePlan(context.Background(), pl, ok42); err != nil {
		t.Fatal(err)
	}
	if s := mustStats(t, e, "orders"); s.Limit != 3 || s.Admitted != 1 {
		t.Fatalf("stats %+v", s)
	}
	if _, ok := liveBreakers(e)["orders"]; !ok {
		t.Fatal("the breaker of the same name is missing: the namespaces must be separate")
	}
}

// The Observer hears of a bulkhead's refusal, with its kind and name, on the caller's
// goroutine (IN-18).
func TestObserverRejectedByBulkhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		e := newEngine(t, WithObserver(rec))
		p := policy.Policy(policy.Bulkhead(1).Named("bh-obs"))
		holder := occupy(e, p)
		synctest.Wait()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrConcurrencyLimited) {
			t.Fatalf("err %v", err)
		}
		if err := holder.done(); err != nil {
			t.Fatal(err)
		}
		rej := rec.of("Rejected")
		if len(rej) != 1 {
			t.Fatalf("Rejected calls %d, want 1: %v", len(rej), rec.methods())
		}
		if r := rej[0].info.(RejectionInfo); r.Kind != "bulkhead" || r.Name != "bh-obs" || r.Err != err {
			t.Fatalf("rejection %+v", r)
		}
	})
}

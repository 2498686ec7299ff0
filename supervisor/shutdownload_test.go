package supervisor

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// shutdownPolicies are the policies the shutdown tests mix: plain, retried, through a
// breaker, queued in a wait-mode limiter, and under a timeout that abandons functions
// which ignore their context.
func shutdownPolicies() []policy.Policy {
	return []policy.Policy{
		policy.None(),
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
		policy.CircuitBreaker(100000, time.Second).Named("sd-breaker"),
		policy.RateLimit(2000).WithBurst(100).WithMaxWait(5 * time.Second).Named("sd-limiter"),
		policy.Combine(policy.Timeout(100*time.Millisecond), policy.CircuitBreaker(100000, time.Second).Named("sd-breaker")),
	}
}

// TestShutdownUnderLoadDrainsThousandsOfCallsThenReturns starts 3000 calls whose
// functions run up to 300ms (some ignoring their context, so a timeout abandons them),
// calls Shutdown at 50ms, and checks that Shutdown returned only once every call and
// every abandoned function had finished, that every call begun before it ran to its
// own end (none got ErrShutdown), and that calls made during the drain got ErrShutdown
// at once without counting as operations.
func TestShutdownUnderLoadDrainsThousandsOfCallsThenReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		policies := shutdownPolicies()
		const calls = 3000
		t0 := time.Now()
		var lastReturn, lastFunction atomic.Int64 // since t0
		later := func(v *atomic.Int64) {
			d := int64(time.Since(t0))
			for {
				old := v.Load()
				if d <= old || v.CompareAndSwap(old, d) {
					return
				}
			}
		}
		var shutdownErrs, unexpected atomic.Uint64
		var wg sync.WaitGroup
		for i := range calls {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			sleep := time.Duration(rng.IntN(300)) * time.Millisecond
			ignore := rng.IntN(3) == 0
			p := policies[i%len(policies)]
			wg.Go(func() {
				_, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
					defer later(&lastFunction)
					if ignore {
						time.Sleep(sleep)
						return 1, nil
					}
					select {
					case <-time.After(sleep):
						return 1, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
				later(&lastReturn)
				switch {
				case errors.Is(err, policy.ErrShutdown):
					shutdownErrs.Add(1)
				case err != nil && !errors.Is(err, policy.ErrTimeout):
					unexpected.Add(1)
					t.Errorf("in-flight call: %v", err)
				}
			})
		}
		synctest.Wait() // every call is in flight

		time.Sleep(50 * time.Millisecond)
		var stopped atomic.Int64
		var atReturn Metrics
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := e.Shutdown(ctx)
			atReturn = e.Metrics()
			later(&stopped)
			shut <- err
		}()
		synctest.Wait()

		// Calls made during the drain are refused at once and are not operations.
		for range 100 {
			start := time.Now()
			if _, err := ExecuteWithPolicy(context.Background(), e, policies[1], ok42); !errors.Is(err, policy.ErrShutdown) || time.Since(start) != 0 {
				t.Fatalf("a call during the drain: %v after %v; want ErrShutdown at once", err, time.Since(start))
			}
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v; want nil, every call finished well before its 10s context", err)
		}
		wg.Wait()
		if shutdownErrs.Load() != 0 {
			t.Errorf("%d calls begun before Shutdown got ErrShutdown; the drain must let them finish", shutdownErrs.Load())
		}
		last := max(lastReturn.Load(), lastFunction.Load())
		if stopped.Load() < last || stopped.Load() > last+int64(10*time.Millisecond) {
			t.Errorf("Shutdown returned at %v; the last call or function finished at %v", time.Duration(stopped.Load()), time.Duration(last))
		}
		if atReturn.TotalOperations != calls || atReturn.SuccessfulOperations+atReturn.FailedOperations != calls {
			t.Errorf("at Shutdown's return: %d operations (%d ok, %d failed); want all %d calls counted, the 100 refused ones not",
				atReturn.TotalOperations, atReturn.SuccessfulOperations, atReturn.FailedOperations, calls)
		}
		t.Logf("%d calls drained; Shutdown returned at %v, the last function ended at %v; %d timed out and were abandoned",
			calls, time.Duration(stopped.Load()), time.Duration(lastFunction.Load()), atReturn.AbandonedCalls)
	})
}

// TestShutdownUnderLoadStopsAtItsContextAndReleasesWaiters starts 2000 calls that
// cannot finish by themselves — functions blocked until released (plain, through a
// breaker, under a long timeout) and callers queued in a limiter that has no token for
// days — and checks that Shutdown returns its context's error exactly when that
// context ends, that the queued callers then get ErrShutdown, that the blocked
// functions' callers get their functions' results once released (a failure's report to
// the stopped breaker does not hang), and that nothing is left running (synctest fails if a
// goroutine of the bubble is left; goleak checks the rest).
func TestShutdownUnderLoadStopsAtItsContextAndReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		blocked := func(context.Context) (int, error) { <-release; return 1, nil }
		var empty policy.Policy = policy.RateLimit(0.001).WithBurst(1).WithMaxWait(365 * 24 * time.Hour).Named("sd-empty")
		ExecuteWithPolicy(context.Background(), e, empty, ok42) // takes the only token
		failAfterRelease := func(context.Context) (int, error) { <-release; return 0, errTemporary }
		kinds := []struct {
			name string
			p    policy.Policy
			fn   func(context.Context) (int, error)
			want error // what the caller gets
		}{
			{"blocked", policy.None(), blocked, nil},
			{"blocked behind a breaker", policy.CircuitBreaker(5000, time.Second).Named("sd-b"), blocked, nil},
			{"blocked behind a breaker, then failing", policy.CircuitBreaker(5000, time.Second).Named("sd-b"), failAfterRelease, errTemporary},
			{"blocked under a timeout", policy.Timeout(time.Hour), blocked, nil},
			{"queued in a limiter", empty, blocked, policy.ErrShutdown},
		}
		const calls = 2000
		results := make([]error, calls)
		returned := make([]time.Duration, calls)
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				k := kinds[i%len(kinds)]
				_, results[i] = ExecuteWithPolicy(context.Background(), e, k.p, k.fn)
				returned[i] = time.Since(t0)
			})
		}
		synctest.Wait()
		if w := e.Metrics().Limiters["sd-empty"].Waiting; w != calls/len(kinds) {
			t.Fatalf("%d callers queued in the limiter; want %d", w, calls/len(kinds))
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Shutdown gives up at 1s, then stops the actors (a few milliseconds of fake time:
		// it lets the actor system's dead-letter throttle run out).
		if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) < time.Second || time.Since(t0) > time.Second+10*time.Millisecond {
			t.Fatalf("Shutdown = %v after %v; want DeadlineExceeded when its 1s context ends", err, time.Since(t0))
		}
		if _, err := ExecuteWithPolicy(context.Background(), e, policy.None(), ok42); !errors.Is(err, policy.ErrShutdown) {
			t.Fatalf("a call after Shutdown: %v; want ErrShutdown", err)
		}
		synctest.Wait()
		for i := range calls {
			if k := kinds[i%len(kinds)]; k.want == policy.ErrShutdown && (!errors.Is(results[i], policy.ErrShutdown) || returned[i] != time.Second) {
				t.Fatalf("%s: %v at %v; want ErrShutdown when Shutdown gave up (1s)", k.name, results[i], returned[i])
			}
		}

		close(release)
		wg.Wait()
		// A failing function's report to its stopped breaker becomes a dead letter, and
		// protoactor logs dead letters through a throttle whose goroutine lives one
		// throttle interval: let it end before the bubble does
		// (TestNoEngineGoroutineStartsAfterShutdown shows it).
		time.Sleep(10 * deadLetterInterval)
		for i := range calls {
			if k := kinds[i%len(kinds)]; k.want != policy.ErrShutdown && !errors.Is(results[i], k.want) {
				t.Fatalf("%s, released after Shutdown: %v; want the function's result (%v)", k.name, results[i], k.want)
			}
		}
		m := e.Metrics()
		if m.TotalOperations != calls+1 || m.FailedOperations != uint64(2*calls/len(kinds)) {
			t.Errorf("operations %d (failed %d); want %d, of which the %d queued and failing callers failed", m.TotalOperations, m.FailedOperations, calls+1, 2*calls/len(kinds))
		}
	})
}

// TestShutdownRacingThousandsOfCallsCountsEachExactlyOnce runs Shutdown while 4000
// calls are being started: each call is either refused with ErrShutdown and not
// counted, or admitted and drained. At Shutdown's return the metrics already count
// every admitted call, nothing hangs, and no goroutine is left. The goroutines race for
// real; the clock is the bubble's, so a loaded machine cannot make the 100ms Timeout
// fire before a function that sleeps at most 20ms returns.
func TestShutdownRacingThousandsOfCallsCountsEachExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		policies := shutdownPolicies()
		const calls = 4000
		var admitted, refused atomic.Int64
		var wg sync.WaitGroup
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var took time.Duration
		var atReturn Metrics
		shut := make(chan error, 1)
		for i := range calls {
			if i == calls/2 {
				go func() {
					start := time.Now()
					err := e.Shutdown(ctx)
					took, atReturn = time.Since(start), e.Metrics()
					shut <- err
				}()
			}
			rng := rand.New(rand.NewPCG(uint64(i), 13))
			sleep := time.Duration(rng.IntN(20)) * time.Millisecond
			p := policies[i%len(policies)]
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := ExecuteWithPolicy(cctx, e, p, func(context.Context) (int, error) {
					time.Sleep(sleep)
					return 1, nil
				})
				switch {
				case errors.Is(err, policy.ErrShutdown):
					refused.Add(1)
				case err == nil:
					admitted.Add(1)
				default:
					admitted.Add(1)
					t.Errorf("admitted call: %v", err)
				}
			})
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("calls still running 30s after Shutdown returned: %d admitted, %d refused so far", admitted.Load(), refused.Load())
		}
		if uint64(admitted.Load()) != atReturn.TotalOperations {
			t.Errorf("%d calls were admitted and drained; Metrics at Shutdown's return counted %d operations", admitted.Load(), atReturn.TotalOperations)
		}
		if admitted.Load()+refused.Load() != calls {
			t.Errorf("admitted %d + refused %d != %d calls", admitted.Load(), refused.Load(), calls)
		}
		t.Logf("Shutdown took %v: %d calls admitted and drained, %d refused with ErrShutdown", took, admitted.Load(), refused.Load())
	})
}

// TestNoEngineGoroutineStartsAfterShutdown shows a minor engine bug: a call still
// running when Shutdown gave up, whose function then fails, reports the failure to its
// breaker, which has stopped. The Report becomes a dead letter, and protoactor starts a
// goroutine (its dead-letter log throttle, living one throttle interval) after Shutdown
// returned. A synctest bubble that ends right after such a call panics with "blocked
// goroutines remain". The engine should not send to its actors once it is shut down
// (inbox.ask could return at once when the engine's done channel or the actor's
// stopped channel is closed).
func TestNoEngineGoroutineStartsAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		done := make(chan error, 1)
		var p policy.Policy = policy.CircuitBreaker(5, time.Second).Named("late")
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				<-release
				return 0, errTemporary
			})
			done <- err
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		close(release)
		if err := <-done; !errors.Is(err, errTemporary) {
			t.Fatalf("the late call: %v", err)
		}
		synctest.Wait()
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		time.Sleep(10 * deadLetterInterval) // let it end, so the bubble can
		if strings.Contains(stacks, "NewThrottle") {
			t.Fatalf("a goroutine of the engine's actor system started after Shutdown returned:\n%s", stacks)
		}
	})
}

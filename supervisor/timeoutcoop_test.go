package supervisor

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/policy"
)

// The cooperative Timeout (DESIGN.md "Timeout: cooperative mode", issue 13): fn on the
// caller's goroutine, its context ended at the deadline by the engine's shared timer,
// the call returning when fn returns.

type ctxKey struct{}

// goroutineID is the number of the calling goroutine, read from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	return string(buf[:bytes.IndexByte(buf, ' ')])
}

// coop is a cooperative Timeout of d.
func coop(d time.Duration) policy.TimeoutPolicy { return policy.Timeout(d).AsCooperative() }

func TestCooperativeTimeoutRunsOnTheCallersGoroutineAndEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		caller := goroutineID()
		parent := context.WithValue(context.Background(), ctxKey{}, "v")
		// 10.5ms: not a multiple of the resolution, so the context ends at the next tick.
		const d = 10*time.Millisecond + 500*time.Microsecond
		start := time.Now()
		var (
			ranOn    string
			deadline time.Time
			hasDL    bool
			value    any
			errAt    error
			ended    time.Duration
		)
		v, err := ExecuteWithPolicy(parent, e, coop(d), func(ctx context.Context) (int, error) {
			ranOn = goroutineID()
			deadline, hasDL = ctx.Deadline()
			value = ctx.Value(ctxKey{})
			if ctx.Err() != nil {
				t.Errorf("ctx.Err() = %v before the deadline", ctx.Err())
			}
			<-ctx.Done()
			ended = time.Since(start)
			errAt = ctx.Err()
			return 0, ctx.Err()
		})
		if ranOn != caller {
			t.Errorf("fn ran on goroutine %s; want the caller's, %s", ranOn, caller)
		}
		if !hasDL || !deadline.Equal(start.Add(d)) {
			t.Errorf("ctx.Deadline() = %v, %v; want %v", deadline, hasDL, start.Add(d))
		}
		if value != "v" {
			t.Errorf("ctx.Value = %v; want the parent's value", value)
		}
		// Never before the deadline, within one resolution after it.
		if ended < d || ended > d+pipeline.CooperativeResolution {
			t.Errorf("the context ended after %v; want within [%v, %v]", ended, d, d+pipeline.CooperativeResolution)
		}
		if errAt != context.DeadlineExceeded {
			t.Errorf("ctx.Err() at the deadline = %v; want context.DeadlineExceeded", errAt)
		}
		if v != 0 || !errors.Is(err, policy.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !policy.IsRetryable(err) {
			t.Errorf("got %d, %v; want a retryable ErrTimeout matching DeadlineExceeded", v, err)
		}
		if m := e.Metrics(); m.TimeoutCount != 1 || m.AbandonedCalls != 0 || m.FailedOperations != 1 {
			t.Errorf("timeouts %d abandoned %d failed %d; want 1, 0, 1", m.TimeoutCount, m.AbandonedCalls, m.FailedOperations)
		}
	})
}

func TestCooperativeTimeoutDeadlineIsExactWithinTheResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		// Deadlines on and off the tick grid, short and past the wheel's turn (256 ticks).
		for _, d := range []time.Duration{time.Nanosecond, time.Millisecond, 1700 * time.Microsecond, 37 * time.Millisecond, 300 * time.Millisecond, 2*time.Second + 300*time.Microsecond} {
			time.Sleep(333 * time.Microsecond) // start off the grid
			start := time.Now()
			_, err := ExecuteWithPolicy(context.Background(), e, coop(d), func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 0, ctx.Err()
			})
			if got := time.Since(start); got < d || got > d+pipeline.CooperativeResolution {
				t.Errorf("timeout %v: returned after %v; want within [%v, %v]", d, got, d, d+pipeline.CooperativeResolution)
			}
			if !errors.Is(err, policy.ErrTimeout) {
				t.Errorf("timeout %v: %v; want ErrTimeout", d, err)
			}
		}
	})
}

func TestCooperativeTimeoutReturnsWhenTheFunctionReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := coop(time.Second)
		ignoring := func(fail bool) func(context.Context) (int, error) {
			return func(context.Context) (int, error) {
				time.Sleep(2 * time.Second) // ignores its context
				if fail {
					return 0, errTemporary
				}
				return 7, nil
			}
		}
		start := time.Now()
		v, err := ExecuteWithPolicy(context.Background(), e, p, ignoring(false))
		if time.Since(start) != 2*time.Second || v != 7 || err != nil {
			t.Fatalf("success after the deadline: %d, %v after %v; want 7, nil after 2s (it stands)", v, err, time.Since(start))
		}
		start = time.Now()
		_, err = ExecuteWithPolicy(context.Background(), e, p, ignoring(true))
		if time.Since(start) != 2*time.Second || !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("failure after the deadline: %v after %v; want ErrTimeout after 2s", err, time.Since(start))
		}
		_, err = ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { return 0, errTemporary })
		if !errors.Is(err, errTemporary) || errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("failure before the deadline: %v; want the function's error, not ErrTimeout", err)
		}
		if m := e.Metrics(); m.TimeoutCount != 1 || m.AbandonedCalls != 0 {
			t.Fatalf("timeouts %d abandoned %d; want 1 and 0", m.TimeoutCount, m.AbandonedCalls)
		}
	})
}

func TestCooperativeTimeoutPerAttemptUnderRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := policy.Combine(policy.Retry(3).WithBackoff(policy.FixedBackoff{}), coop(100*time.Millisecond))
		attempts := 0
		start := time.Now()
		v, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
			attempts++
			if attempts < 3 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			if ctx.Err() != nil {
				t.Errorf("attempt 3 started with an ended context: %v", ctx.Err())
			}
			return 42, nil
		})
		if v != 42 || err != nil || attempts != 3 || time.Since(start) != 200*time.Millisecond {
			t.Fatalf("got %d, %v after %d attempts in %v; want 42 on the third after 200ms", v, err, attempts, time.Since(start))
		}

		attempts = 0
		_, err = ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
			attempts++
			<-ctx.Done()
			return 0, ctx.Err()
		})
		var pe *policy.Error
		if !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, policy.ErrTimeout) || !errors.As(err, &pe) || pe.Attempts != 3 {
			t.Fatalf("%v; want ErrRetryExhausted of 3 timed-out attempts", err)
		}
		if m := e.Metrics(); m.TimeoutCount != 5 {
			t.Fatalf("timeouts %d; want 5 (2 + 3 attempts)", m.TimeoutCount)
		}
	})
}

func TestCooperativeTimeoutUnderAShorterCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		want, _ := ctx.Deadline()
		start := time.Now()
		_, err := ExecuteWithPolicy(ctx, e, coop(time.Hour), func(ctx context.Context) (int, error) {
			if dl, ok := ctx.Deadline(); !ok || !dl.Equal(want) {
				t.Errorf("ctx.Deadline() = %v, %v; want the caller's, %v", dl, ok, want)
			}
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if time.Since(start) != 50*time.Millisecond {
			t.Errorf("returned after %v; want the caller's 50ms", time.Since(start))
		}
		if !errors.Is(err, policy.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("%v; want ErrCancelled with DeadlineExceeded, not ErrTimeout", err)
		}
		if m := e.Metrics(); m.TimeoutCount != 0 {
			t.Fatalf("timeouts %d; the caller's deadline is no Timeout", m.TimeoutCount)
		}
	})
}

func TestCooperativeTimeoutEndsWhenTheCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		var errAt error
		start := time.Now()
		_, err := ExecuteWithPolicy(ctx, e, coop(time.Hour), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			errAt = ctx.Err()
			return 0, ctx.Err()
		})
		if time.Since(start) != 30*time.Millisecond || errAt != context.Canceled {
			t.Errorf("ended after %v with %v; want context.Canceled after 30ms", time.Since(start), errAt)
		}
		if !errors.Is(err, policy.ErrCancelled) || errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("%v; want ErrCancelled, not ErrTimeout", err)
		}
	})
}

func TestCooperativeTimeoutsNest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		// The outer, shorter timeout ends the inner one's context; it is the outer's error.
		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Combine(coop(150*time.Millisecond), coop(time.Second)), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			if ctx.Err() != context.DeadlineExceeded {
				t.Errorf("ctx.Err() = %v; want the outer deadline's DeadlineExceeded", ctx.Err())
			}
			return 0, ctx.Err()
		})
		if time.Since(start) != 150*time.Millisecond || !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("%v after %v; want ErrTimeout after 150ms", err, time.Since(start))
		}
		// A cooperative timeout around a pessimistic one: the pessimistic one returns at
		// its deadline although fn ignores its context.
		release := make(chan struct{})
		start = time.Now()
		_, err = ExecuteWithPolicy(context.Background(), e, policy.Combine(coop(time.Second), policy.Timeout(20*time.Millisecond)), func(context.Context) (int, error) {
			<-release
			return 0, nil
		})
		if time.Since(start) != 20*time.Millisecond || !errors.Is(err, policy.ErrTimeout) {
			t.Fatalf("%v after %v; want the inner pessimistic ErrTimeout after 20ms", err, time.Since(start))
		}
		close(release)
		synctest.Wait()
	})
}

func TestCooperativeTimeoutEndsAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		entered := make(chan struct{})
		errs := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, coop(time.Hour), func(ctx context.Context) (int, error) {
				close(entered)
				<-ctx.Done()
				return 0, ctx.Err()
			})
			errs <- err
		}()
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := e.Shutdown(ctx); !errors.Is(err, policy.ErrCancelled) {
			t.Errorf("Shutdown = %v; want its drain cut short by ctx", err)
		}
		// The wheel stopped: the function's context ended, and the call returns.
		err := <-errs
		if !errors.Is(err, policy.ErrShutdown) || !errors.Is(err, context.Canceled) {
			t.Fatalf("%v; want ErrShutdown carrying context.Canceled", err)
		}
		// synctest.Test fails if the wheel's goroutine outlived Shutdown.
	})
}

func TestCooperativeTimeoutAllocations(t *testing.T) {
	e := newEngine(t)
	var p policy.Policy = coop(time.Minute)
	bg := context.Background()
	if n := testing.AllocsPerRun(200, func() { _, _ = ExecuteWithPolicy(bg, e, p, ok42) }); n != 0 {
		t.Errorf("allocs under context.Background = %v; want 0", n)
	}
	// Under a parent that can end: at most what one context.AfterFunc costs.
	parent, cancel := context.WithCancel(bg)
	defer cancel()
	var fired int
	afterFunc := testing.AllocsPerRun(200, func() { stop := context.AfterFunc(parent, func() { fired++ }); stop() })
	if n := testing.AllocsPerRun(200, func() { _, _ = ExecuteWithPolicy(parent, e, p, ok42) }); n > afterFunc {
		t.Errorf("allocs under a cancellable parent = %v; want at most context.AfterFunc's %v", n, afterFunc)
	}
	// A function that asks for Done also pays for its context, which then cannot be
	// recycled, and the channel (2 allocations: the channel and the cell publishing it).
	done := func(ctx context.Context) (int, error) { _ = ctx.Done(); return 42, nil }
	if n := testing.AllocsPerRun(200, func() { _, _ = ExecuteWithPolicy(parent, e, p, done) }); n > afterFunc+3 {
		t.Errorf("allocs when fn asks for Done = %v; want at most %v", n, afterFunc+3)
	}
}

func TestTimeoutIsPessimisticByDefault(t *testing.T) {
	if policy.Timeout(time.Second).Cooperative {
		t.Fatal("policy.Timeout is cooperative; the pessimistic timeout must stay the default")
	}
	p, err := policy.ParseJSON([]byte(`{"type":"timeout","duration":"1s"}`))
	if err != nil || p.(policy.TimeoutPolicy).Cooperative {
		t.Fatalf("ParseJSON without \"cooperative\" = %v, %v; want a pessimistic timeout", p, err)
	}
}

func TestCooperativeTimeoutConcurrentCalls(t *testing.T) {
	// Many goroutines register and unregister on the shared wheel at once (run with
	// -race): every call that waits for its context gets ErrTimeout, every quick one
	// its value, and none is ended by another call's deadline.
	e := newEngine(t)
	var expiring, quick policy.Policy = coop(time.Millisecond), coop(time.Minute)
	errs := make(chan error, 32)
	for g := range 32 {
		go func() {
			for i := range 100 {
				if (g+i)%4 == 0 {
					_, err := ExecuteWithPolicy(context.Background(), e, expiring, func(ctx context.Context) (int, error) {
						<-ctx.Done()
						return 0, ctx.Err()
					})
					if !errors.Is(err, policy.ErrTimeout) {
						errs <- err
						return
					}
					continue
				}
				v, err := ExecuteWithPolicy(context.Background(), e, quick, func(ctx context.Context) (int, error) {
					if ctx.Err() != nil {
						return 0, ctx.Err()
					}
					return 42, nil
				})
				if v != 42 || err != nil {
					errs <- errors.Join(errors.New("quick call"), err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

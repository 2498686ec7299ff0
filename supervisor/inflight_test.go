package supervisor

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// shutdownGivingUp calls Shutdown with a context of d and fails unless it gives up,
// returning DeadlineExceeded, exactly when that context ends.
func shutdownGivingUp(t *testing.T, e *Engine, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < d || time.Since(start) > d+10*time.Millisecond {
		t.Fatalf("Shutdown = %v after %v; want DeadlineExceeded when its %v context ends", err, time.Since(start), d)
	}
}

// shutdownNow calls Shutdown with a context of 10s and fails unless it drains and
// returns nil.
func shutdownNow(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; want nil: nothing is left running", err)
	}
}

// TestShutdownStopsABatchFromStartingFunctionsAfterItGaveUp runs an ExecuteAll of 400
// functions that block until released, lets Shutdown give up on them, then releases
// them: the functions already running finish with their own results, and no function
// of the batch starts after Shutdown returned — the rest fail with ErrShutdown.
func TestShutdownStopsABatchFromStartingFunctionsAfterItGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		var shutDown atomic.Bool
		var started, startedAfter atomic.Int64
		fns := make([]func(context.Context) (int, error), 400)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) {
				started.Add(1)
				if shutDown.Load() {
					startedAfter.Add(1)
				}
				<-release
				return 1, nil
			}
		}
		var errs []error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, errs = ExecuteAll(context.Background(), e, policy.Policy(policy.None()), fns)
		}()
		synctest.Wait()
		running := started.Load()
		shutdownGivingUp(t, e, time.Second)
		shutDown.Store(true)
		close(release)
		<-done
		if n := startedAfter.Load(); n != 0 {
			t.Errorf("%d functions of the batch started after Shutdown returned; want 0", n)
		}
		var ok, refused int64
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, policy.ErrShutdown):
				refused++
			default:
				t.Errorf("entry %d: %v; want nil or ErrShutdown", i, err)
			}
		}
		if ok != running || ok+refused != int64(len(fns)) {
			t.Errorf("%d entries succeeded and %d got ErrShutdown; want the %d running at Shutdown to succeed and the rest refused", ok, refused, running)
		}
	})
}

// TestShutdownEndsARetryBackoffWithErrShutdown retries a failing function with an hour
// of backoff: when Shutdown gives up, the call returns ErrShutdown at once, carrying the
// failure it was retrying, and the function never runs again.
func TestShutdownEndsARetryBackoffWithErrShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		var calls atomic.Int64
		var p policy.Policy = policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Hour})
		done := make(chan error, 1)
		t0 := time.Now()
		var returned time.Duration
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				calls.Add(1)
				return 0, errTemporary
			})
			returned = time.Since(t0)
			done <- err
		}()
		synctest.Wait()
		shutdownGivingUp(t, e, time.Second)
		err := <-done
		var pe *policy.Error
		if !errors.As(err, &pe) || !errors.Is(err, policy.ErrShutdown) || !errors.Is(err, errTemporary) || pe.Attempts != 1 || returned != time.Second {
			t.Fatalf("the retry in its backoff: %v at %v; want ErrShutdown carrying the failure after 1 attempt, when Shutdown gave up (1s)", err, returned)
		}
		time.Sleep(2 * time.Hour)
		if n := calls.Load(); n != 1 {
			t.Errorf("the function ran %d times; want 1: no attempt starts after Shutdown", n)
		}
	})
}

// TestShutdownRefusesTheNextAttemptOfARetry retries with no backoff a function still
// running when Shutdown gives up: when it then fails, the retry's next attempt does not
// pass the shutdown gate, and the call returns ErrShutdown.
func TestShutdownRefusesTheNextAttemptOfARetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		var calls atomic.Int64
		var p policy.Policy = policy.Retry(3).WithBackoff(policy.FixedBackoff{})
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
				calls.Add(1)
				<-release
				return 0, errTemporary
			})
			done <- err
		}()
		synctest.Wait()
		shutdownGivingUp(t, e, time.Second)
		close(release)
		var pe *policy.Error
		if err := <-done; !errors.As(err, &pe) || !errors.Is(err, policy.ErrShutdown) || !errors.Is(err, errTemporary) || pe.Attempts != 1 {
			t.Errorf("the retry after Shutdown: %v; want ErrShutdown carrying the failure after 1 attempt", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("the function ran %d times; want 1: no attempt starts after Shutdown", n)
		}
	})
}

// TestRetryAttemptsDoesNotCountABackoffCancelledBeforeTheAttempt cancels a caller
// during the backoff after its first failure: no retry attempt ran, so RetryAttempts
// stays 0.
func TestRetryAttemptsDoesNotCountABackoffCancelledBeforeTheAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		var p policy.Policy = policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(500*time.Millisecond, cancel)
		if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, policy.ErrCancelled) {
			t.Fatalf("cancelled in the backoff: %v; want ErrCancelled", err)
		}
		if m := e.Metrics(); m.RetryAttempts != 0 {
			t.Errorf("RetryAttempts = %d; want 0: the backoff was cancelled before the attempt ran", m.RetryAttempts)
		}
		shutdownNow(t, e)
	})
}

// TestAttemptsUnderAnOuterTimeoutCountEveryStartedAttempt runs Combine(Timeout, Retry):
// the first attempt fails, the second ignores its context past the timeout. The
// function started twice, so the timeout error says 2 attempts, and so does an actor
// client's Result.
func TestAttemptsUnderAnOuterTimeoutCountEveryStartedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		release := make(chan struct{})
		var p policy.Policy = policy.Combine(policy.Timeout(time.Second), policy.Retry(3).WithBackoff(policy.FixedBackoff{}))
		var calls atomic.Int64
		fn := func(context.Context) (int, error) {
			if calls.Add(1) == 1 {
				return 0, errTemporary
			}
			<-release
			return 1, nil
		}
		_, err := ExecuteWithPolicy(context.Background(), e, p, fn)
		var pe *policy.Error
		if !errors.As(err, &pe) || !errors.Is(err, policy.ErrTimeout) || pe.Attempts != 2 || calls.Load() != 2 {
			t.Errorf("%v (function started %d times); want ErrTimeout after 2 attempts", err, calls.Load())
		}
		close(release)
		shutdownNow(t, e)
	})
}

// panickyBackoff is a user's Backoff whose Delay panics.
type panickyBackoff struct{}

func (panickyBackoff) Delay(int) time.Duration { panic("backoff boom") }
func (panickyBackoff) Validate() error         { return nil }

// TestPanicInABackoffIsRecoveredAsErrPanic retries with a Backoff that panics, alone
// and inside a Timeout stage (where it used to crash the process): the call returns
// ErrPanic after its one attempt, the panic is counted, and the engine keeps working.
func TestPanicInABackoffIsRecoveredAsErrPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		retry := policy.Retry(3).WithBackoff(panickyBackoff{})
		for i, p := range []policy.Policy{retry, policy.Combine(policy.Timeout(time.Second), retry), policy.Combine(retry, policy.Timeout(time.Second))} {
			_, err := ExecuteWithPolicy(context.Background(), e, p, failing)
			var pe *policy.Error
			if !errors.As(err, &pe) || !errors.Is(err, policy.ErrPanic) || pe.Attempts != 1 {
				t.Errorf("%v: %v; want ErrPanic after 1 attempt", p, err)
			}
			if m := e.Metrics(); m.Panics != uint64(i+1) || m.FailedOperations != uint64(i+1) {
				t.Errorf("%v: %d panics, %d failed operations; want %d of each", p, m.Panics, m.FailedOperations, i+1)
			}
		}
		if v, err := ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.Combine(policy.Timeout(time.Second), retry)), ok42); v != 42 || err != nil {
			t.Errorf("after the panics: %d, %v; want 42", v, err)
		}
		shutdownNow(t, e)
	})
}

// goexitFn calls runtime.Goexit, as t.FailNow and require.* do.
func goexitFn(context.Context) (int, error) {
	runtime.Goexit()
	return 0, nil
}

// TestGoexitInAFunctionIsAFailedOperationAndAPanic calls runtime.Goexit in fn under each
// kind of policy outside a Timeout stage: the call is one failed operation and one
// panic, Shutdown does not wait for it, and a breaker counts it as a failure — a
// half-open probe that exits this way reopens the breaker instead of holding the probe
// slot for good.
func TestGoexitInAFunctionIsAFailedOperationAndAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		policies := []policy.Policy{
			policy.None(),
			policy.Retry(3),
			policy.Combine(policy.Retry(3), policy.CircuitBreaker(1, time.Second).Named("goexit")),
			policy.RateLimit(100).Named("goexit"),
			policy.Combine(policy.Timeout(time.Second), policy.Retry(2)),
		}
		goexit := func(p policy.Policy) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, err := ExecuteWithPolicy(context.Background(), e, p, goexitFn)
				// A Timeout stage runs fn on a goroutine of its own, so its caller returns.
				if !strings.Contains(p.String(), "timeout") || !errors.Is(err, policy.ErrPanic) {
					t.Errorf("%v: ExecuteWithPolicy returned %v after runtime.Goexit", p, err)
				}
			}()
			<-done
		}
		for i, p := range policies {
			goexit(p)
			if m := e.Metrics(); m.TotalOperations != uint64(i+1) || m.FailedOperations != uint64(i+1) || m.Panics != uint64(i+1) {
				t.Errorf("after %v: %d operations, %d failed, %d panics; want %d of each", p, m.TotalOperations, m.FailedOperations, m.Panics, i+1)
			}
		}
		if s := e.Metrics().Breakers["goexit"]; s.State != messages.Open || s.Failures != 1 {
			t.Errorf("breaker after a Goexit: %v with %d failures; want open after 1 failure", s.State, s.Failures)
		}
		time.Sleep(time.Second) // half-open
		synctest.Wait()
		var breaker policy.Policy = policy.CircuitBreaker(1, time.Second).Named("goexit")
		goexit(breaker)
		if s := e.Metrics().Breakers["goexit"]; s.State != messages.Open {
			t.Errorf("breaker after its probe called Goexit: %v; want open again", s.State)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if v, err := ExecuteWithPolicy(context.Background(), e, breaker, ok42); v != 42 || err != nil {
			t.Errorf("the next probe: %d, %v; want 42", v, err)
		}
		shutdownNow(t, e)
	})
}

// TestGoexitInExecuteAllRunsTheRestOfTheBatch runs a batch in which one function calls
// runtime.Goexit: every other function runs exactly once, the batch counts one failed
// operation and one panic, and Shutdown does not wait for it. When the goroutine that
// exited was a helper, ExecuteAll returns ErrPanic for that function and the others'
// results.
func TestGoexitInExecuteAllRunsTheRestOfTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		const n, exiting = 2048, 1000
		ran := make([]atomic.Int32, n)
		fns := make([]func(context.Context) (int, error), n)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				if i == exiting {
					return goexitFn(ctx)
				}
				ran[i].Add(1)
				return i, nil
			}
		}
		var vals []int
		var errs []error
		done := make(chan struct{})
		go func() {
			defer close(done)
			vals, errs = ExecuteAll(context.Background(), e, policy.Policy(policy.None()), fns)
		}()
		<-done
		for i := range ran {
			if got := ran[i].Load(); i != exiting && got != 1 {
				t.Fatalf("function %d ran %d times; want once", i, got)
			}
		}
		if m := e.Metrics(); m.TotalOperations != n || m.FailedOperations != 1 || m.Panics != 1 {
			t.Errorf("%d operations, %d failed, %d panics; want %d, 1, 1", m.TotalOperations, m.FailedOperations, m.Panics, n)
		}
		if errs != nil { // the helper that ran fns[exiting] exited, not the caller
			for i, err := range errs {
				if i == exiting && !errors.Is(err, policy.ErrPanic) || i != exiting && (err != nil || vals[i] != i) {
					t.Errorf("entry %d: %d, %v", i, vals[i], err)
				}
			}
		}
		shutdownNow(t, e)
	})
}

// blockingClient is an actor client's process whose delivery of a Result waits until
// deliver is closed.
type blockingClient struct {
	deliver chan struct{}
	results chan *messages.Result
}

func (c *blockingClient) SendUserMessage(_ *actor.PID, m any) {
	if r, ok := m.(*messages.Result); ok {
		<-c.deliver
		c.results <- r
	}
}
func (c *blockingClient) SendSystemMessage(*actor.PID, any) {}
func (c *blockingClient) Stop(*actor.PID)                   {}

// TestShutdownWaitsUntilAnActorClientsResultIsSent starts an actor client's operation,
// starts Shutdown, and lets the function return: Shutdown does not return while the
// engine's goroutine is still sending the Result.
func TestShutdownWaitsUntilAnActorClientsResultIsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		client := &blockingClient{deliver: make(chan struct{}), results: make(chan *messages.Result, 1)}
		pid, _ := e.System().ProcessRegistry.Add(client, "blocking-client")
		defer e.System().ProcessRegistry.Remove(pid)
		release := make(chan struct{})
		injectAs(e, e.PID(), &messages.Execute{ID: "job", Fn: func(context.Context) (any, error) {
			<-release
			return "done", nil
		}}, pid)
		synctest.Wait()
		var returned atomic.Bool
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			shut <- e.Shutdown(ctx)
			returned.Store(true)
		}()
		synctest.Wait()
		close(release)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if returned.Load() {
			t.Errorf("Shutdown returned while the engine was still sending the actor client's Result")
		}
		close(client.deliver)
		if r := <-client.results; r.Value != "done" || r.Err != nil {
			t.Errorf("result %+v; want done", r)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown = %v; want nil once the Result is sent", err)
		}
	})
}

// TestGoexitInAnActorClientsFunctionIsAnswered runs an actor client's function that
// calls runtime.Goexit: the client gets a Result with ErrPanic instead of waiting
// forever, and Shutdown does not wait for the call.
func TestGoexitInAnActorClientsFunctionIsAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		client := &blockingClient{deliver: make(chan struct{}), results: make(chan *messages.Result, 1)}
		close(client.deliver)
		pid, _ := e.System().ProcessRegistry.Add(client, "goexit-client")
		defer e.System().ProcessRegistry.Remove(pid)
		injectAs(e, e.PID(), &messages.Execute{ID: "job", Fn: func(context.Context) (any, error) {
			runtime.Goexit()
			return nil, nil
		}}, pid)
		synctest.Wait()
		select {
		case r := <-client.results:
			if !errors.Is(r.Err, policy.ErrPanic) || r.Attempts != 1 {
				t.Errorf("result %+v; want ErrPanic after 1 attempt", r)
			}
		default:
			t.Fatal("no Result for a function that called runtime.Goexit")
		}
		shutdownNow(t, e)
	})
}

// panickyValidate is a user's Backoff whose Validate panics.
type panickyValidate struct{ policy.FixedBackoff }

func (panickyValidate) Validate() error { panic("validate boom") }

// TestPanicInABackoffsValidateIsAnInvalidPolicy runs a retry whose Backoff panics in
// Validate, directly, combined, in a batch and from an actor client (on a goroutine of
// the engine, where the panic would end the process): each is refused with
// ErrInvalidPolicy, runs nothing, and is not an operation.
func TestPanicInABackoffsValidateIsAnInvalidPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngineNoCleanup(t)
		retry := policy.Retry(3).WithBackoff(panickyValidate{})
		ran := false
		fn := func(context.Context) (int, error) { ran = true; return 1, nil }
		for _, p := range []policy.Policy{retry, policy.Combine(policy.Timeout(time.Second), retry)} {
			if _, err := ExecuteWithPolicy(context.Background(), e, p, fn); !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "validate boom") {
				t.Errorf("%v: %v; want ErrInvalidPolicy carrying the panic", p, err)
			}
			if _, errs := ExecuteAll(context.Background(), e, p, []func(context.Context) (int, error){fn}); !errors.Is(errs[0], policy.ErrInvalidPolicy) {
				t.Errorf("%v in a batch: %v; want ErrInvalidPolicy", p, errs[0])
			}
		}
		client := &blockingClient{deliver: make(chan struct{}), results: make(chan *messages.Result, 1)}
		close(client.deliver)
		pid, _ := e.System().ProcessRegistry.Add(client, "validate-client")
		defer e.System().ProcessRegistry.Remove(pid)
		injectAs(e, e.PID(), &messages.Execute{ID: "job", Policy: retry, Fn: func(context.Context) (any, error) { return fn(context.Background()) }}, pid)
		synctest.Wait()
		if r := <-client.results; !errors.Is(r.Err, policy.ErrInvalidPolicy) {
			t.Errorf("actor client: %+v; want ErrInvalidPolicy", r)
		}
		if m := e.Metrics(); ran || m.TotalOperations != 0 {
			t.Errorf("ran %v, %d operations; want nothing run and no operation", ran, m.TotalOperations)
		}
		shutdownNow(t, e)
	})
}

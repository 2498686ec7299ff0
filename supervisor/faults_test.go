package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

func TestBreakerActorPanicIsSurvivedWithStateKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(3, time.Hour).Named("fragile")
		ExecuteWithPolicy(ctx, e, p, failing)
		ExecuteWithPolicy(ctx, e, p, failing)
		l := breakerOf(e, "fragile")

		// A panic on an unrelated message: the actor restarts, two failures are kept.
		inject(e, l.PID(), &fault.Panic{Reason: "injected"})
		synctest.Wait()
		if got := l.Restarts(); got != 1 {
			t.Fatalf("restarts = %d; want 1", got)
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
			t.Fatalf("third failure: %v", err)
		}
		if s := e.Metrics().Breakers["fragile"]; s.State != messages.Open || s.Failures != 3 {
			t.Fatalf("breaker %+v; want open with 3 failures (state kept across the restart)", s)
		}
		if m := e.Metrics(); m.ActorRestarts != 1 {
			t.Fatalf("ActorRestarts = %d; want 1", m.ActorRestarts)
		}
	})
}

func TestCallerOfCrashingActorGetsAnAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var p policy.Policy = policy.CircuitBreaker(5, time.Hour).Named("crashy")
		ExecuteWithPolicy(ctx, e, p, ok42)
		l := breakerOf(e, "crashy")
		inject(e, l.PID(), &fault.PanicOnNext{Reason: "injected while reporting"})
		synctest.Wait()

		// The failure report is the request the actor panics on: the caller must still return.
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(ctx, e, p, failing)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, errTemporary) {
				t.Fatalf("err = %v; want the function's own error", err)
			}
		default:
			t.Fatal("the caller is still waiting on a crashed actor")
		}
		if l.Restarts() != 1 {
			t.Fatalf("restarts = %d; want 1", l.Restarts())
		}
	})
}

func TestLimiterActorPanicWhileDecidingGivesOverloaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Minute).Named("crashy")
		ExecuteWithPolicy(context.Background(), e, p, ok42)
		l := limiterOf(e, "crashy")
		inject(e, l.PID(), &fault.PanicOnNext{Reason: "injected"})
		synctest.Wait()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrOverloaded) || !policy.IsRetryable(err) {
			t.Fatalf("err = %v; want a retryable ErrOverloaded", err)
		}
		// The limiter still works after its restart.
		time.Sleep(time.Second)
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func TestSupervisorPanicKeepsRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("kept")
		ExecuteWithPolicy(context.Background(), e, p, failing)
		inject(e, supervisorOf(e), &fault.Panic{Reason: "injected"})
		synctest.Wait()
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("err = %v; want the open breaker to survive the supervisor's restart", err)
		}
		var other policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("new")
		if _, err := ExecuteWithPolicy(context.Background(), e, other, ok42); err != nil {
			t.Fatalf("a new name after the restart: %v", err)
		}
	})
}

func TestIdleActorsArePassivatedAndRecreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		ctx := context.Background()
		if err := e.RegisterCircuitBreaker("pinned", policy.CircuitBreaker(1, time.Hour)); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			op := &funcOp{id: fmt.Sprintf("key-%d", i), policy: policy.CircuitBreaker(3, time.Second), fn: ok42}
			if _, err := Execute(ctx, e, policy.Operation[int](op)); err != nil {
				t.Fatal(err)
			}
		}
		var open policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("open")
		ExecuteWithPolicy(ctx, e, open, failing)
		if n := len(e.Metrics().Breakers); n != 102 {
			t.Fatalf("breakers = %d; want 102", n)
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		got := e.Metrics().Breakers
		if len(got) != 2 {
			t.Fatalf("after idling: breakers %v; want only the registered and the open one", keys(got))
		}
		if _, ok := got["pinned"]; !ok {
			t.Fatal("a registered breaker was passivated")
		}
		if got["open"].State != messages.Open {
			t.Fatal("an open breaker was passivated")
		}
		// Recreated on demand, behaving as new.
		op := &funcOp{id: "key-7", policy: policy.CircuitBreaker(3, time.Second), fn: ok42}
		if _, err := Execute(ctx, e, policy.Operation[int](op)); err != nil {
			t.Fatalf("recreated breaker: %v", err)
		}
		if _, ok := e.Metrics().Breakers["key-7"]; !ok {
			t.Fatal("breaker not recreated on demand")
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMailboxLimitFailsFastWithOverloaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithMailboxLimit(3))
		var p policy.Policy = policy.RateLimit(0.001).WithBurst(1).WithMaxWait(time.Hour).Named("tight")
		ExecuteWithPolicy(context.Background(), e, p, ok42) // creates the actor, takes the token
		l := limiterOf(e, "tight")

		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		for range 5 {
			injectAs(e, l.PID(), &messages.GetStats{}, inboxOf(e))
		}
		synctest.Wait()
		if d := l.MailboxDepth(); d != 6 {
			t.Fatalf("mailbox depth %d; want 6 (the block and 5 queued)", d)
		}
		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrOverloaded) || time.Since(start) != 0 {
			t.Fatalf("err %v after %v; want ErrOverloaded at once", err, time.Since(start))
		}
		close(release)
		synctest.Wait()
		if d := l.MailboxDepth(); d != 0 {
			t.Fatalf("mailbox depth %d after draining; want 0", d)
		}
	})
}

func TestActorClientExecuteAndResult(t *testing.T) {
	e := newEngine(t)
	results := make(chan *messages.Result, 2)
	client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			switch m {
			case "ok":
				c.Request(e.PID(), &messages.Execute{ID: "job-1", Policy: policy.Retry(2).WithBackoff(policy.FixedBackoff{}), Fn: func(context.Context) (any, error) { return "done", nil }})
			case "fail":
				c.Request(e.PID(), messages.Execute{ID: "job-2", Policy: policy.Retry(2).WithBackoff(policy.FixedBackoff{}), Fn: func(context.Context) (any, error) { return nil, errTemporary }})
			}
		case *messages.Result:
			results <- m
		}
	}))
	defer e.System().Root.Stop(client)
	e.System().Root.Send(client, "ok")
	e.System().Root.Send(client, "fail")
	got := receiveResults(t, results, 2)
	if r := got["job-1"]; r == nil || r.Value != "done" || r.Err != nil || r.Attempts != 1 {
		t.Fatalf("job-1 result %+v; want done in 1 attempt", r)
	}
	if r := got["job-2"]; r == nil || !errors.Is(r.Err, policy.ErrRetryExhausted) || r.Attempts != 2 {
		t.Fatalf("job-2 result %+v; want retry exhausted after 2 attempts", r)
	}
}

func TestActorClientGetsEngineStats(t *testing.T) {
	e := newEngine(t)
	ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.CircuitBreaker(1, time.Hour).Named("s")), ok42)
	stats := make(chan *messages.EngineStats, 1)
	client := e.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			c.Request(e.PID(), &messages.GetStats{})
		case *messages.EngineStats:
			stats <- m
		}
	}))
	defer e.System().Root.Stop(client)
	e.System().Root.Send(client, "go")
	select {
	case s := <-stats:
		if s.TotalOperations != 1 || len(s.Breakers) != 1 {
			t.Fatalf("stats %+v; want 1 operation and 1 breaker", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EngineStats within 10s")
	}
}

func TestConcurrentCallersAcrossPoliciesKeepCountsConsistent(t *testing.T) {
	e := newEngine(t)
	policies := []policy.Policy{
		policy.None(),
		policy.Retry(2).WithBackoff(policy.FixedBackoff{}),
		policy.CircuitBreaker(50, time.Millisecond).Named("mix"),
		policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.CircuitBreaker(50, time.Millisecond).Named("mix"), policy.Timeout(time.Second)),
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				p := policies[(g+i)%len(policies)]
				ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
					if (g*i)%7 == 0 {
						return 0, errTemporary
					}
					return 1, nil
				})
			}
		})
	}
	wg.Wait()
	m := e.Metrics()
	if m.TotalOperations != 32*200 || m.SuccessfulOperations+m.FailedOperations != m.TotalOperations {
		t.Fatalf("total %d = %d + %d; want 6400", m.TotalOperations, m.SuccessfulOperations, m.FailedOperations)
	}
}

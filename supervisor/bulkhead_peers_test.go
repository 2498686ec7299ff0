package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// The peers' bulkhead scenarios, re-expressed: failsafe-go test/bulkhead_test.go,
// resilience4j SemaphoreBulkheadTest and Netflix concurrency-limits
// LifoBlockingLimiterTest. The timing ones (max wait, resize while running or waiting,
// LIFO order) are in bulkhead_test.go under the BH rules they check.
func TestBulkheadPeerScenarios(t *testing.T) {
	t.Run("failsafe when not full", func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Bulkhead(2).Named("fs-notfull"))
		if v, err := ExecuteWithPolicy(context.Background(), e, p, ok42); v != 42 || err != nil {
			t.Fatalf("got %d, %v", v, err)
		}
	})

	t.Run("failsafe when full", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			p := policy.Policy(policy.Bulkhead(2).Named("fs-full"))
			a, b := occupy(e, p), occupy(e, p)
			synctest.Wait()
			ran := false
			err := Run(context.Background(), e, p, func(context.Context) error { ran = true; return nil })
			if !errors.Is(err, policy.ErrConcurrencyLimited) || ran {
				t.Fatalf("err %v, ran %v", err, ran)
			}
			if s := mustStats(t, e, "fs-full"); s.Rejected != 1 {
				t.Fatalf("stats %+v; want 1 refusal counted", s)
			}
			a.done()
			b.done()
		})
	})

	// failsafe-go "with permit listeners": the permit is held while the function runs and
	// given back after it, also when it fails.
	t.Run("failsafe permit held during the execution", func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Bulkhead(1).Named("fs-held"))
		_, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			if s := mustStats(t, e, "fs-held"); s.InFlight != 1 {
				t.Errorf("in flight %d during the execution; want 1", s.InFlight)
			}
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrConcurrencyLimited) {
				t.Errorf("nested call while the permit is held: %v", err)
			}
			return 0, errTemporary
		})
		if !errors.Is(err, errTemporary) {
			t.Fatalf("err %v; want the function's own", err)
		}
		if s := mustStats(t, e, "fs-held"); s.InFlight != 0 {
			t.Fatalf("in flight %d after a failed execution; want the permit back", s.InFlight)
		}
	})

	t.Run("failsafe with short maxWaitTime", func(t *testing.T) {
		e := newEngine(t)
		p := policy.Policy(policy.Bulkhead(1).Named("fs-short").WithQueue(1, time.Nanosecond))
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("an empty bulkhead with a tiny wait refused: %v", err)
		}
	})

	// Netflix LifoBlockingLimiterTest rejectWhenBacklogFull / resilience4j
	// tryEnterWithTimeout: a full backlog refuses at once; a waiter that times out leaves
	// the backlog.
	t.Run("netflix reject when the backlog is full", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(t)
			p := policy.Policy(policy.Bulkhead(1).Named("ncl-backlog").WithQueue(2, time.Second).WithLIFO())
			holder := occupy(e, p)
			synctest.Wait()
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrConcurrencyLimited) {
						t.Errorf("backlogged waiter at its timeout: %v", err)
					}
				})
			}
			synctest.Wait()
			start := time.Now()
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); !errors.Is(err, policy.ErrConcurrencyLimited) || time.Since(start) != 0 {
				t.Fatalf("with the backlog full: %v after %v; want an immediate refusal", err, time.Since(start))
			}
			wg.Wait()
			if s := mustStats(t, e, "ncl-backlog"); s.Queued != 0 || s.Rejected != 3 {
				t.Fatalf("stats %+v; want an empty backlog and 3 refusals", s)
			}
			holder.done()
		})
	})
}

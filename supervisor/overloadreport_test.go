package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// TestMailboxLimitBoundsClosedStateFailureReports blocks a closed breaker's actor and
// lets 50 callers fail one after the other, each waiting for its failure to be taken in.
// Past WithMailboxLimit(4) a failure must not queue a Report of its own: the mailbox
// stays at the limit plus one message that carries the rest. No failure is lost: with
// FailureThreshold 50 the breaker opens once the actor catches up.
func TestMailboxLimitBoundsClosedStateFailureReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 4, 50
		e := newEngine(t, WithMailboxLimit(limit))
		var p policy.Policy = policy.CircuitBreaker(callers, time.Minute).Named("flood")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil { // creates the breaker
			t.Fatal(err)
		}
		l := breakerOf(e, "flood")
		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		synctest.Wait()

		errs := make(chan error, callers)
		var peak int64
		for range callers {
			go func() {
				_, err := ExecuteWithPolicy(ctx, e, p, failing)
				errs <- err
			}()
			synctest.Wait() // this caller failed and waits for the actor
			peak = max(peak, l.MailboxDepth())
		}
		if peak > limit+1 {
			t.Errorf("mailbox depth peaked at %d with WithMailboxLimit(%d); want at most %d", peak, limit, limit+1)
		}
		select {
		case err := <-errs:
			t.Fatalf("a caller returned (%v) before the actor took its failure in", err)
		default:
		}
		close(release)
		for range callers {
			if err := <-errs; !errors.Is(err, errTemporary) {
				t.Errorf("a failing call returned %v; want its own error", err)
			}
		}
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
			t.Fatalf("after %d failures with threshold %d: %v; want ErrCircuitOpen (a failure was lost)", callers, callers, err)
		}
		if s := e.Metrics().Breakers["flood"]; s.Failures != callers || s.Trips != 1 {
			t.Fatalf("breaker stats %+v; want %d failures and 1 trip", s, callers)
		}
	})
}

// TestMailboxLimitKeepsThresholdsExactForASequentialCaller keeps a breaker's mailbox at
// WithMailboxLimit(1) with a blocked message while a single caller fails, so its failure
// takes the path past the limit. The caller still returns only once the failure is
// counted: the third failure with threshold 3 opens the breaker before the next call,
// and not earlier.
func TestMailboxLimitKeepsThresholdsExactForASequentialCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithMailboxLimit(1))
		var p policy.Policy = policy.CircuitBreaker(3, time.Minute).Named("seq")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
			t.Fatal(err)
		}
		l := breakerOf(e, "seq")
		for i := 1; i <= 3; i++ {
			release := make(chan struct{})
			inject(e, l.PID(), &fault.Block{Release: release})
			synctest.Wait()
			done := make(chan error, 1)
			go func() {
				_, err := ExecuteWithPolicy(ctx, e, p, failing)
				done <- err
			}()
			synctest.Wait()
			if d := l.MailboxDepth(); d > 2 {
				t.Fatalf("failure %d: mailbox depth %d; want the block and at most one more message", i, d)
			}
			close(release)
			if err := <-done; !errors.Is(err, errTemporary) {
				t.Fatalf("failure %d returned %v; want its own error", i, err)
			}
			// What the next call would see (a call itself would reset the count).
			if want := i == 3; !l.View().Pass != want {
				t.Fatalf("after failure %d the view lets calls pass: %v; want %v", i, l.View().Pass, !want)
			}
		}
	})
}

// TestMailboxLimitLosesNoConcurrentFailure fails 1,280 calls from 64 goroutines on a
// breaker whose mailbox limit is 1, so most failures race past the limit into batches
// while the actor takes earlier ones in. Every failure must be counted once.
func TestMailboxLimitLosesNoConcurrentFailure(t *testing.T) {
	const goroutines, each = 64, 20
	e := newEngine(t, WithMailboxLimit(1))
	var p policy.Policy = policy.CircuitBreaker(1_000_000, time.Minute).Named("race")
	ctx := context.Background()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := ExecuteWithPolicy(ctx, e, p, failing); !errors.Is(err, errTemporary) {
					t.Errorf("a failing call returned %v; want its own error", err)
				}
			}
		})
	}
	wg.Wait()
	if s := e.Metrics().Breakers["race"]; s.Failures != goroutines*each || s.State != messages.Closed {
		t.Fatalf("breaker stats %+v; want %d failures, closed", s, goroutines*each)
	}
}

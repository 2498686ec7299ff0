package supervisor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// TestMailboxLimitBoundsAFloodedActor blocks a breaker or a limiter actor and floods it
// from 64 callers that give up after 10ms and call again, so requests arrive far faster
// than the actor drains them (it drains none). With WithMailboxLimit(n) the mailbox
// stops growing: a call that finds n messages queued fails at once with ErrOverloaded.
//
// The bounds asserted: a caller checks the depth, then posts one request, so at most
// (n-1) + callers requests get in (every caller may pass the check before any posts).
// A breaker's callers post nothing else while it is blocked. A wait-mode limiter's
// caller that gives up also posts a Cancel, which is not gated (it frees a queue slot),
// at most one per request, so its depth stays below 2·(n + callers). Without a limit
// the same flood grows the mailbox by one request per caller every 10ms, which the
// control rows show.
func TestMailboxLimitBoundsAFloodedActor(t *testing.T) {
	const callers, rounds, limit = 64, 40, 32
	tests := []struct {
		name     string
		limit    int
		p        policy.Policy
		maxDepth int64 // the bound asserted; for the control rows, the depth must exceed it
	}{
		{"breaker limited", limit, policy.CircuitBreaker(1, time.Second).Named("flood"), limit + callers},
		{"limiter limited", limit, policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Hour).Named("flood"), 2 * (limit + callers)},
		{"breaker unlimited (control)", 0, policy.CircuitBreaker(1, time.Second).Named("flood"), limit + callers},
		{"limiter unlimited (control)", 0, policy.RateLimit(1).WithBurst(1).WithMaxWait(time.Hour).Named("flood"), 2 * (limit + callers)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var opts []Option
				if tt.limit > 0 {
					opts = append(opts, WithMailboxLimit(tt.limit))
				}
				e := newEngine(t, opts...)
				ctx := context.Background()
				// Bring the actor to where every call must ask it: a half-open breaker, a
				// limiter with no token.
				var depth func() int64
				var target *actor.PID
				switch p := tt.p.(type) {
				case policy.CircuitBreakerPolicy:
					ExecuteWithPolicy(ctx, e, tt.p, failing)
					time.Sleep(time.Second)
					l := liveBreakers(e)[p.Name]
					depth, target = l.MailboxDepth, l.PID()
				case policy.RateLimitPolicy:
					ExecuteWithPolicy(ctx, e, tt.p, ok42)
					l := liveLimiters(e)[p.Name]
					depth, target = l.MailboxDepth, l.PID()
				}
				synctest.Wait()
				heapBefore := relHeap()

				release := make(chan struct{})
				inject(e, target, &fault.Block{Release: release})
				synctest.Wait()

				var peak atomic.Int64
				observe := func() {
					d := depth()
					for {
						old := peak.Load()
						if d <= old || peak.CompareAndSwap(old, d) {
							return
						}
					}
				}
				var overloaded, gaveUp, slowOverload atomic.Uint64
				var other sync.Map
				var wg sync.WaitGroup
				for range callers {
					wg.Go(func() {
						for range rounds {
							cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
							start := time.Now()
							_, err := ExecuteWithPolicy(cctx, e, tt.p, ok42)
							cancel()
							observe()
							switch {
							case errors.Is(err, policy.ErrOverloaded):
								overloaded.Add(1)
								if time.Since(start) != 0 {
									slowOverload.Add(1)
								}
								time.Sleep(time.Millisecond) // a real client would back off
							case errors.Is(err, policy.ErrCancelled):
								gaveUp.Add(1)
							default:
								other.Store(err, true)
							}
						}
					})
				}
				wg.Wait()
				synctest.Wait()
				observe()
				heapFlooded := relHeap()
				other.Range(func(err, _ any) bool {
					t.Errorf("a flooding call got %v; want ErrOverloaded or ErrCancelled", err)
					return true
				})
				t.Logf("depth peak %d (bound %d), %d calls overloaded at once, %d gave up after 10ms, heap %+.1f KiB while flooded",
					peak.Load(), tt.maxDepth, overloaded.Load(), gaveUp.Load(), float64(relGrowth(heapBefore, heapFlooded))/1024)

				if tt.limit == 0 {
					if peak.Load() <= 4*tt.maxDepth {
						t.Fatalf("control: depth peaked at %d; the flood should grow an unlimited mailbox far past %d", peak.Load(), tt.maxDepth)
					}
				} else {
					if peak.Load() > tt.maxDepth {
						t.Errorf("mailbox depth peaked at %d; WithMailboxLimit(%d) with %d callers bounds it at %d", peak.Load(), tt.limit, callers, tt.maxDepth)
					}
					if overloaded.Load() == 0 || slowOverload.Load() > 0 {
						t.Errorf("%d calls got ErrOverloaded, %d of them after waiting; want many, all at once", overloaded.Load(), slowOverload.Load())
					}
					// The queued messages are all that the flood keeps: a few hundred bytes each.
					if g := relGrowth(heapBefore, heapFlooded); g > 1<<20 {
						t.Errorf("heap grew %.1f MiB while flooded; the limit keeps the backlog to %d messages", relMiB(g), tt.maxDepth)
					}
				}

				// Released, the actor drains the backlog, and then serves calls again.
				close(release)
				synctest.Wait()
				if d := depth(); d != 0 {
					t.Errorf("mailbox depth %d after the actor drained; want 0", d)
				}
				time.Sleep(2 * time.Second)
				if _, err := ExecuteWithPolicy(ctx, e, tt.p, ok42); err != nil {
					t.Errorf("after the flood: %v", err)
				}
			})
		})
	}
}

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

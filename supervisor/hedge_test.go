package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// hedgeLog records when each attempt of a hedged call started, by AttemptFromContext.
type hedgeLog struct {
	mu     sync.Mutex
	t0     time.Time
	starts []time.Duration
	hedges []bool
}

func newHedgeLog() *hedgeLog { return &hedgeLog{t0: time.Now()} }

// begin records an attempt and returns its number (1 = primary).
func (l *hedgeLog) begin(ctx context.Context) int {
	n, hedge := AttemptFromContext(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts = append(l.starts, time.Since(l.t0))
	l.hedges = append(l.hedges, hedge)
	return n
}

func (l *hedgeLog) started() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.starts...)
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HG-1: FS "should not hedge when delay not exceeded": a primary answering before the
// delay is the only attempt.
func TestHedgeNotStartedBeforeTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		log := newHedgeLog()
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(100*time.Millisecond), func(ctx context.Context) (int, error) {
			log.begin(ctx)
			time.Sleep(50 * time.Millisecond)
			return 1, nil
		})
		if err != nil || v != 1 {
			t.Fatalf("got %v, %v", v, err)
		}
		synctest.Wait()
		if s := log.started(); len(s) != 1 || e.Metrics().HedgesStarted != 0 {
			t.Fatalf("attempts started at %v, %d hedges; want the primary alone", s, e.Metrics().HedgesStarted)
		}
	})
}

// HG-1: FS "should hedge when delay exceeded": a slow primary gets a hedge at the delay,
// and the hedge's answer wins at once.
func TestHedgeStartsAtTheDelayAndWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		log := newHedgeLog()
		start := time.Now()
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(100*time.Millisecond), func(ctx context.Context) (int, error) {
			if n := log.begin(ctx); n == 1 {
				return 1, sleepCtx(ctx, time.Second)
			}
			time.Sleep(10 * time.Millisecond)
			return 2, nil
		})
		if err != nil || v != 2 {
			t.Fatalf("got %v, %v; want the hedge's 2", v, err)
		}
		if d := time.Since(start); d != 110*time.Millisecond {
			t.Fatalf("returned after %v, want 110ms", d)
		}
		synctest.Wait()
		s := log.started()
		if len(s) != 2 || s[0] != 0 || s[1] != 100*time.Millisecond || log.hedges[0] || !log.hedges[1] {
			t.Fatalf("starts %v hedges %v; want the primary at 0 and a hedge at 100ms", s, log.hedges)
		}
		if m := e.Metrics(); m.HedgesStarted != 1 {
			t.Fatalf("HedgesStarted = %d", m.HedgesStarted)
		}
	})
}

// HG-1: FS "all hedges used": hedge k starts Delay after the previous start, up to
// MaxHedges; HG-4: when every attempt fails, the last failure's error is returned.
func TestHedgeAllHedgesUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		log := newHedgeLog()
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(10*time.Millisecond).WithMaxHedges(3), func(ctx context.Context) (int, error) {
			n := log.begin(ctx)
			time.Sleep(100 * time.Millisecond)
			return 0, fmt.Errorf("attempt %d: %w", n, errBackend)
		})
		want := []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
		if s := log.started(); fmt.Sprint(s) != fmt.Sprint(want) {
			t.Fatalf("starts %v, want %v", s, want)
		}
		var pe *policy.Error
		if !errors.Is(err, policy.ErrRetryExhausted) || !errors.As(err, &pe) || pe.Attempts != 4 || pe.Err.Error() != "attempt 4: backend unavailable" {
			t.Fatalf("err = %v, want retries exhausted after 4 attempts with attempt 4's error", err)
		}
	})
}

// HG-1: Polly ExecuteAsync_ZeroHedgingDelay_EnsureAllTasksSpawnedAtOnce, FS "backup
// executions": Delay 0 starts 1 + MaxHedges attempts at once.
func TestHedgeZeroDelayStartsEveryAttemptAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		log := newHedgeLog()
		var release sync.WaitGroup
		release.Add(1)
		done := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(0).WithMaxHedges(3), func(ctx context.Context) (int, error) {
				log.begin(ctx)
				release.Wait()
				return 1, nil
			})
			done <- err
		}()
		synctest.Wait()
		if s := log.started(); len(s) != 4 {
			t.Fatalf("%d attempts running at once, want 4", len(s))
		}
		for _, d := range log.started() {
			if d != 0 {
				t.Fatalf("an attempt started at %v", d)
			}
		}
		release.Done()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// HG-2: a retryable failure starts the next attempt at once, and the schedule goes on
// from that start.
func TestHedgeRetryableFailureStartsTheNextAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		log := newHedgeLog()
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(time.Second).WithMaxHedges(2), func(ctx context.Context) (int, error) {
			switch log.begin(ctx) {
			case 1:
				time.Sleep(10 * time.Millisecond)
				return 0, errBackend
			case 2:
				return 0, sleepCtx(ctx, 5*time.Second)
			}
			return 3, nil
		})
		if err != nil || v != 3 {
			t.Fatalf("got %v, %v", v, err)
		}
		want := []time.Duration{0, 10 * time.Millisecond, 1010 * time.Millisecond}
		if s := log.started(); fmt.Sprint(s) != fmt.Sprint(want) {
			t.Fatalf("starts %v, want %v", s, want)
		}
	})
}

// HG-3: the winner is returned at once; losers that ignore their context are abandoned
// (counted) and their late values go to the discard hook.
func TestHedgeNeverWaitsForLosers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var mu sync.Mutex
		var discarded []any
		ctx := WithDiscard(context.Background(), func(v any) {
			mu.Lock()
			discarded = append(discarded, v)
			mu.Unlock()
		})
		var cancelled atomic.Int32
		start := time.Now()
		v, err := ExecuteWithPolicy(ctx, e, policy.Hedge(0).WithMaxHedges(2), func(ctx context.Context) (int, error) {
			n, _ := AttemptFromContext(ctx)
			if n == 2 {
				time.Sleep(10 * time.Millisecond)
				return 20, nil
			}
			time.Sleep(500 * time.Millisecond) // ignores ctx
			if ctx.Err() != nil {
				cancelled.Add(1)
			}
			return n * 10, nil
		})
		if err != nil || v != 20 {
			t.Fatalf("got %v, %v", v, err)
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Fatalf("returned after %v, want 10ms: Execute waited for losers", d)
		}
		if m := e.Metrics(); m.AbandonedCalls != 2 {
			t.Fatalf("AbandonedCalls = %d, want the 2 losers", m.AbandonedCalls)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(discarded) != 2 || cancelled.Load() != 2 {
			t.Fatalf("discarded %v, %d losers saw their ctx cancelled; want 10 and 30, both cancelled", discarded, cancelled.Load())
		}
		if got := fmt.Sprint(discarded); got != "[10 30]" && got != "[30 10]" {
			t.Fatalf("discarded %s", got)
		}
	})
}

// HG-3: a non-retryable failure is accepted at once, like a success.
func TestHedgeNonRetryableFailureIsReturnedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		notFound := policy.Permanent(errors.New("not found"))
		start := time.Now()
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(0).WithMaxHedges(1), func(ctx context.Context) (int, error) {
			if n, _ := AttemptFromContext(ctx); n == 1 {
				time.Sleep(5 * time.Millisecond)
				return 0, notFound
			}
			return 0, sleepCtx(ctx, time.Second)
		})
		if !errors.Is(err, notFound) || errors.Is(err, policy.ErrRetryExhausted) || time.Since(start) != 5*time.Millisecond {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
}

// HG-3: a classifier's Abort stops the hedges at once and returns the value.
func TestHedgeClassifierAbortStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithClassifier("neg-aborts", func(v any, err error) policy.Verdict {
			if n, _ := v.(int); n < 0 {
				return policy.Abort
			}
			if err != nil {
				return policy.Failure
			}
			return policy.Success
		}))
		var calls atomic.Int32
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(time.Millisecond).WithMaxHedges(3).WithClassifier("neg-aborts"), func(ctx context.Context) (int, error) {
			calls.Add(1)
			return -1, nil
		})
		if err != nil || v != -1 || calls.Load() != 1 {
			t.Fatalf("got %v, %v after %d attempts", v, err, calls.Load())
		}
		if _, err := e.Prepare("", policy.Hedge(0).WithClassifier("missing")); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Fatalf("an unknown classifier: %v", err)
		}
	})
}

// HG-4: every attempt failing retryably gives ErrRetryExhausted with the error of the
// attempt that failed last (not the last started), and Attempts = attempts started.
func TestHedgeAllFailReturnsTheLastFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		errs := map[int]error{1: errors.New("at 30ms"), 2: errors.New("at 10ms"), 3: errors.New("at 20ms")}
		took := map[int]time.Duration{1: 30 * time.Millisecond, 2: 10 * time.Millisecond, 3: 20 * time.Millisecond}
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(0).WithMaxHedges(2), func(ctx context.Context) (int, error) {
			n, _ := AttemptFromContext(ctx)
			time.Sleep(took[n])
			return 0, errs[n]
		})
		var pe *policy.Error
		if !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, errs[1]) || !errors.As(err, &pe) || pe.Attempts != 3 {
			t.Fatalf("err = %v, want retries exhausted after 3 attempts with the 30ms error", err)
		}
	})
}

// HG-5: the caller's cancellation ends every attempt and returns ErrCancelled at once.
func TestHedgeCallerCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(15*time.Millisecond, cancel)
		var ended atomic.Int32
		start := time.Now()
		_, err := ExecuteWithPolicy(ctx, e, policy.Hedge(10*time.Millisecond).WithMaxHedges(3), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			ended.Add(1)
			return 0, ctx.Err()
		})
		if !errors.Is(err, policy.ErrCancelled) || !errors.Is(err, context.Canceled) || time.Since(start) != 15*time.Millisecond {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		synctest.Wait()
		if ended.Load() != 2 {
			t.Fatalf("%d attempts saw their context end, want the 2 started", ended.Load())
		}
	})
}

// HG-6: FS TestIssue141: a hedge the budget refuses is not started, no later hedge is,
// and the attempt already running goes on and wins.
func TestHedgeRefusedByTheBudgetLeavesRunningAttemptsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBudget("hb", policy.BudgetPolicy{}); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		start := time.Now()
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(10*time.Millisecond).WithMaxHedges(3).WithBudget("hb"), func(ctx context.Context) (int, error) {
			calls.Add(1)
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return 0, err
			}
			return 7, nil
		})
		if err != nil || v != 7 || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("got %v, %v after %v; the primary must go on and win", v, err, time.Since(start))
		}
		m := e.Metrics()
		if calls.Load() != 1 || m.HedgesStarted != 0 || m.Budgets["hb"].Refused != 1 {
			t.Fatalf("%d attempts, %d hedges, budget %+v; want 1 attempt and 1 refusal", calls.Load(), m.HedgesStarted, m.Budgets["hb"])
		}
	})
}

// HG-6: each hedge (not the primary) withdraws one unit; a hedged call deposits nothing.
func TestHedgeWithdrawsPerHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBudget("hw", policy.BudgetPolicy{MinPerSecond: 1, TTL: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(0).WithMaxHedges(3).WithBudget("hw"), func(ctx context.Context) (int, error) {
			calls.Add(1)
			return 0, errBackend
		})
		// A reserve of 2: the primary and 2 hedges; the third hedge is refused.
		if !errors.Is(err, policy.ErrBudgetExhausted) || !errors.Is(err, errBackend) || calls.Load() != 3 {
			t.Fatalf("err = %v after %d attempts", err, calls.Load())
		}
		if s := e.Metrics().Budgets["hw"]; s.Withdrawals != 2 || s.Refused != 1 || s.Deposits != 0 {
			t.Fatalf("budget %+v", s)
		}
	})
}

// HG-7: stages inside a hedge run once per attempt, each with its own context; a
// Timeout outside bounds all attempts together.
func TestHedgeComposition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		var attempts sync.Map
		v, err := ExecuteWithPolicy(ctx, e, policy.Combine(policy.Hedge(10*time.Millisecond), policy.Timeout(30*time.Millisecond)), func(ctx context.Context) (int, error) {
			n, _ := AttemptFromContext(ctx)
			attempts.Store(n, ctx)
			if n == 1 {
				return 0, sleepCtx(ctx, time.Hour) // ended by its own timeout at 30ms
			}
			return 2, sleepCtx(ctx, 25*time.Millisecond)
		})
		if err != nil || v != 2 {
			t.Fatalf("got %v, %v: the hedge's own timeout ends 30ms after it started", v, err)
		}
		c1, _ := attempts.Load(1)
		c2, _ := attempts.Load(2)
		if c1 == nil || c2 == nil || c1 == c2 {
			t.Fatal("the attempts did not run with contexts of their own")
		}
		if m := e.Metrics(); m.TimeoutCount != 1 {
			t.Fatalf("TimeoutCount = %d, want the primary's own timeout", m.TimeoutCount)
		}

		start := time.Now()
		_, err = ExecuteWithPolicy(ctx, e, policy.Combine(policy.Timeout(25*time.Millisecond), policy.Hedge(10*time.Millisecond).WithMaxHedges(5)), func(ctx context.Context) (int, error) {
			return 0, sleepCtx(ctx, time.Hour)
		})
		var pe *policy.Error
		if !errors.Is(err, policy.ErrTimeout) || time.Since(start) != 25*time.Millisecond || !errors.As(err, &pe) || pe.Attempts != 3 {
			t.Fatalf("err = %v (%+v) after %v; want a timeout at 25ms over 3 attempts", err, pe, time.Since(start))
		}
	})
}

// HG-8: hedges started and the winner's kind are counted and exported.
func TestHedgeSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx := context.Background()
		p := policy.Hedge(10 * time.Millisecond)
		ExecuteWithPolicy(ctx, e, p, ok42) // primary wins
		ExecuteWithPolicy(ctx, e, p, func(ctx context.Context) (int, error) {
			if _, hedge := AttemptFromContext(ctx); !hedge {
				return 0, sleepCtx(ctx, time.Second)
			}
			return 1, nil
		})
		got := obsScrape(t, obsRegistry(t, e))
		for series, want := range map[string]float64{
			`bulwark_hedges_started_total`:               1,
			`bulwark_hedge_wins_total{winner="primary"}`: 1,
			`bulwark_hedge_wins_total{winner="hedge"}`:   1,
		} {
			if got[series] != want {
				t.Errorf("%s = %v, want %v", series, got[series], want)
			}
		}
		if m := e.Metrics(); m.HedgesStarted != 1 {
			t.Fatalf("HedgesStarted = %d", m.HedgesStarted)
		}
	})
}

// A panicking attempt is a non-retryable failure: returned at once as ErrPanic.
func TestHedgePanicIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(time.Second), func(context.Context) (int, error) {
			panic("boom")
		})
		if !errors.Is(err, policy.ErrPanic) {
			t.Fatalf("err = %v", err)
		}
	})
}

// HG-8: the Observer hears each attempt that reported, hedges marked, on the caller's
// goroutine; a losing hedge still running when the call returns gets no AttemptFinished.
// A budget's refusal is a Rejected of kind "budget".
func TestHedgeObserverCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		e := newEngine(t, WithObserver(rec))
		if err := e.RegisterBudget("ob", policy.BudgetPolicy{MinPerSecond: 2, TTL: time.Second}); err != nil {
			t.Fatal(err)
		}
		caller := goid()
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(10*time.Millisecond).WithMaxHedges(3).WithBudget("ob"), func(ctx context.Context) (int, error) {
			switch n, _ := AttemptFromContext(ctx); n {
			case 1:
				time.Sleep(15 * time.Millisecond)
				return 0, errBackend
			case 2:
				time.Sleep(time.Second) // still running when the call returns
				return 2, nil
			}
			time.Sleep(20 * time.Millisecond) // the 4th hedge's turn comes at 25ms: refused
			return 3, nil
		})
		if err != nil || v != 3 {
			t.Fatalf("got %v, %v", v, err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var got []string
		for _, r := range rec.of("AttemptFinished") {
			a := r.info.(AttemptInfo)
			if r.goid != caller {
				t.Errorf("AttemptFinished of attempt %d ran off the caller's goroutine", a.Attempt)
			}
			got = append(got, fmt.Sprintf("%d/%v/%v/%v", a.Attempt, a.Hedge, a.Verdict, a.Duration))
		}
		if want := []string{"1/false/failure/15ms", "3/true/success/20ms"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("AttemptFinished %v, want %v", got, want)
		}
		rej := rec.of("Rejected")
		if len(rej) != 1 {
			t.Fatalf("Rejected calls %v, want the budget's one refusal of the 3rd hedge", rej)
		}
		if ri := rej[0].info.(RejectionInfo); ri.Kind != "budget" || ri.Name != "ob" || !errors.Is(ri.Err, policy.ErrBudgetExhausted) {
			t.Fatalf("Rejected %+v", ri)
		}
	})
}

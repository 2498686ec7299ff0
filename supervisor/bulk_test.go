package supervisor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/pipeline"
	"github.com/bulwark-go/bulwark/policy"
)

func TestExecuteAllKeepsOrderAndCountsEachOperation(t *testing.T) {
	e := newEngine(t)
	fns := make([]func(context.Context) (int, error), 50)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) {
			if i%10 == 3 {
				return 0, errTemporary
			}
			return i * i, nil
		}
	}
	vals, errs := ExecuteAll(context.Background(), e, policy.Policy(policy.Retry(2).WithBackoff(policy.FixedBackoff{})), fns)
	for i := range fns {
		if i%10 == 3 {
			if !errors.Is(errs[i], policy.ErrRetryExhausted) {
				t.Errorf("entry %d: err %v; want retry exhausted", i, errs[i])
			}
			continue
		}
		if errs[i] != nil || vals[i] != i*i {
			t.Errorf("entry %d: %d, %v; want %d", i, vals[i], errs[i], i*i)
		}
	}
	if m := e.Metrics(); m.TotalOperations != 50 || m.FailedOperations != 5 || m.RetryAttempts != 5 {
		t.Fatalf("metrics %+v; want 50 operations, 5 failed, 5 retries", m)
	}
}

func TestExecuteAllRunsConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var running, peak atomic.Int32
		fns := make([]func(context.Context) (int, error), 8)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) {
				n := running.Add(1)
				for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
				}
				time.Sleep(time.Second)
				running.Add(-1)
				return i, nil
			}
		}
		start := time.Now()
		_, errs := ExecuteAll(context.Background(), e, policy.None(), fns)
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Helpers join after BatchPatience, while the caller sleeps in the first function.
		if d := time.Since(start); d != time.Second+pipeline.BatchPatience || peak.Load() != 8 {
			t.Fatalf("took %v with peak %d; want 1s + %v with all 8 concurrent", d, peak.Load(), pipeline.BatchPatience)
		}
	})
}

func TestExecuteAllRejectsInvalidBatch(t *testing.T) {
	e := newEngine(t)
	ran := false
	fns := []func(context.Context) (int, error){func(context.Context) (int, error) { ran = true; return 0, nil }, nil}
	_, errs := ExecuteAll(context.Background(), e, policy.Combine(), fns)
	if ran || !errors.Is(errs[0], policy.ErrInvalidPolicy) || !errors.Is(errs[1], policy.ErrInvalidPolicy) {
		t.Fatalf("errs %v ran %v; want every entry invalid and nothing run", errs, ran)
	}
	_, errs = ExecuteAll(context.Background(), e, policy.None(), fns)
	if !errors.Is(errs[1], policy.ErrInvalidPolicy) || errs[0] != nil {
		t.Fatalf("errs %v; want only the nil function refused", errs)
	}
}

func TestExecuteAllOfQuickFunctionsRunsOnTheCallerAlone(t *testing.T) {
	// Issue 17: a batch of quick functions must not pay for helper goroutines. In a
	// synctest bubble no time passes while the caller computes, so the patience timer
	// cannot fire before the batch is done: every function runs on the caller.
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		caller := goroutineID()
		fns := make([]func(context.Context) (int, error), 100)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) {
				if g := goroutineID(); g != caller {
					return 0, errors.New("ran on goroutine " + g + ", not the caller's " + caller)
				}
				return i, nil
			}
		}
		vals, errs := ExecuteAll(context.Background(), e, policy.None(), fns)
		for i, err := range errs {
			if err != nil || vals[i] != i {
				t.Fatalf("entry %d: %d, %v", i, vals[i], err)
			}
		}
		if m := e.Metrics(); m.TotalOperations != 100 {
			t.Fatalf("%d operations; want 100", m.TotalOperations)
		}
	})
}

func TestExecuteAllOfBlockingFunctionsOverlaps(t *testing.T) {
	// Issue 17: 100 functions that block 1 ms under Retry(3) take at most 5 ms together.
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		const block = time.Millisecond
		fns := make([]func(context.Context) (int, error), 100)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) {
				time.Sleep(block)
				return i, nil
			}
		}
		start := time.Now()
		vals, errs := ExecuteAll(context.Background(), e, policy.Retry(3), fns)
		if d := time.Since(start); d > 5*block {
			t.Errorf("took %v; want at most 5 × %v", d, block)
		}
		for i, err := range errs {
			if err != nil || vals[i] != i {
				t.Fatalf("entry %d: %d, %v", i, vals[i], err)
			}
		}
	})
}

// ExecuteAll of quick functions under None allocates only the two slices it returns:
// the batch, its patience timer and the caller's count are recycled.
func TestExecuteAllAllocatesOnlyItsResults(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop recycled batches")
	}
	e := newEngine(t)
	fns := make([]func(context.Context) (int, error), 100)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) { return 1, nil }
	}
	ctx := context.Background()
	var p policy.Policy = policy.None()
	if n := testing.AllocsPerRun(200, func() { _, _ = ExecuteAll(ctx, e, p, fns) }); n > 2 {
		t.Errorf("ExecuteAll allocates %v times per batch; want 2 (the values and the errors)", n)
	}
}

package supervisor

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// goid returns the current goroutine's id, for checks that observers run on the
// caller's goroutine.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	b = b[:bytes.IndexByte(b, ' ')]
	n, _ := strconv.ParseUint(string(b), 10, 64)
	return n
}

// recorded is one observer call.
type recorded struct {
	method  string
	attempt int // the AttemptFromContext of the ctx it got
	info    any
	goid    uint64
}

// recorder records every observer call.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
}

type spanKey struct{}

func (r *recorder) add(ctx context.Context, method string, info any) {
	n, _ := AttemptFromContext(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, recorded{method, n, info, goid()})
	r.mu.Unlock()
}

func (r *recorder) OperationStarted(ctx context.Context, op OperationInfo) context.Context {
	r.add(ctx, "OperationStarted", op)
	return context.WithValue(ctx, spanKey{}, "span")
}
func (r *recorder) AttemptFinished(ctx context.Context, a AttemptInfo) {
	r.add(ctx, "AttemptFinished", a)
}
func (r *recorder) RetryScheduled(ctx context.Context, ri RetryInfo) {
	r.add(ctx, "RetryScheduled", ri)
}
func (r *recorder) Rejected(ctx context.Context, ri RejectionInfo) { r.add(ctx, "Rejected", ri) }
func (r *recorder) FallbackExecuted(ctx context.Context, f FallbackInfo) {
	r.add(ctx, "FallbackExecuted", f)
}
func (r *recorder) OperationFinished(ctx context.Context, op OperationInfo, err error) {
	r.add(ctx, "OperationFinished", err)
}

func (r *recorder) methods() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m []string
	for _, c := range r.calls {
		m = append(m, c.method)
	}
	return m
}

func (r *recorder) of(method string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, c := range r.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestObserverRetrySequence: fail, fail, succeed under Retry(3) gives two RetryScheduled
// with the backoff's delays for attempts 1 and 2 (RT-5), three AttemptFinished with the
// attempt's ctx numbered 1, 2, 3, all on the caller's goroutine (IN-18), and the
// function runs under the context OperationStarted returned.
func TestObserverRetrySequence(t *testing.T) {
	rec := &recorder{}
	e := newEngine(t, WithObserver(rec))
	b := policy.LinearBackoff{Initial: time.Millisecond, Step: 2 * time.Millisecond}
	p := policy.Retry(3).WithBackoff(b)
	caller := goid()
	v, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
		if ctx.Value(spanKey{}) != "span" {
			t.Error("the function does not run under OperationStarted's context")
		}
		if n, _ := AttemptFromContext(ctx); n < 3 {
			return 0, errTemporary
		}
		return 1, nil
	})
	if err != nil || v != 1 {
		t.Fatalf("got (%d, %v), want (1, nil)", v, err)
	}
	want := []string{"OperationStarted", "AttemptFinished", "RetryScheduled", "AttemptFinished", "RetryScheduled", "AttemptFinished", "OperationFinished"}
	if got := rec.methods(); !equalStrings(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	for i, r := range rec.of("RetryScheduled") {
		ri := r.info.(RetryInfo)
		if ri.Attempt != i+1 || ri.Delay != b.Delay(i+1) || !errors.Is(ri.Err, errTemporary) {
			t.Errorf("RetryScheduled %d: %+v, want attempt %d, delay %v", i, ri, i+1, b.Delay(i+1))
		}
		if r.attempt != i+1 {
			t.Errorf("RetryScheduled %d got the ctx of attempt %d", i, r.attempt)
		}
	}
	for i, r := range rec.of("AttemptFinished") {
		a := r.info.(AttemptInfo)
		wantVerdict := policy.Failure
		if i == 2 {
			wantVerdict = policy.Success
		}
		if a.Attempt != i+1 || r.attempt != i+1 || a.Hedge || a.Verdict != wantVerdict || a.Duration < 0 {
			t.Errorf("AttemptFinished %d: %+v (ctx attempt %d)", i, a, r.attempt)
		}
	}
	rec.mu.Lock()
	for _, r := range rec.calls {
		if r.goid != caller {
			t.Errorf("%s ran on goroutine %d, not the caller's %d", r.method, r.goid, caller)
		}
	}
	rec.mu.Unlock()
	if op := rec.of("OperationStarted")[0].info.(OperationInfo); op.Policy != policy.Policy(p) || op.ID != "" || op.Critical {
		t.Fatalf("OperationInfo %+v", op)
	}
}

// TestObserverOperationFinishedGetsTheCallersError: the error OperationFinished gets is
// the one the caller gets; a call with no retry has one AttemptFinished.
func TestObserverOperationFinishedGetsTheCallersError(t *testing.T) {
	rec := &recorder{}
	e := newEngine(t, WithObserver(rec))
	op := &funcOp{id: "inventory", critical: true, policy: policy.Timeout(time.Minute), fn: failing}
	_, err := Execute(context.Background(), e, op)
	want := []string{"OperationStarted", "AttemptFinished", "OperationFinished"}
	if got := rec.methods(); !equalStrings(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	if got := rec.of("OperationFinished")[0].info; got != err {
		t.Fatalf("OperationFinished got %v, the caller %v", got, err)
	}
	if info := rec.of("OperationStarted")[0].info.(OperationInfo); info.ID != "inventory" || !info.Critical {
		t.Fatalf("OperationInfo %+v", info)
	}
	if a := rec.of("AttemptFinished")[0].info.(AttemptInfo); a.Attempt != 1 || a.Verdict != policy.Failure || !errors.Is(a.Err, errTemporary) {
		t.Fatalf("AttemptInfo %+v", a)
	}
}

// TestObserverRejectedByBreakerAndLimiter: an open breaker's and an empty limiter's
// refusals reach Rejected with the stage, its name and the hint; no attempt ran.
func TestObserverRejectedByBreakerAndLimiter(t *testing.T) {
	rec := &recorder{}
	e := newEngine(t, WithObserver(rec))
	if err := e.ForceOpen("payments", time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := ExecuteWithPolicy(context.Background(), e, policy.CircuitBreaker(1, time.Minute).Named("payments"), ok42)
	if !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("err = %v, want ErrCircuitOpen", err)
	}
	var limiter policy.Policy = policy.RateLimit(0.001).Named("quota").WithBurst(1)
	if _, err := ExecuteWithPolicy(context.Background(), e, limiter, ok42); err != nil {
		t.Fatal(err)
	}
	_, err2 := ExecuteWithPolicy(context.Background(), e, limiter, ok42)
	if !errors.Is(err2, policy.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err2)
	}
	rej := rec.of("Rejected")
	if len(rej) != 2 {
		t.Fatalf("Rejected calls %d, want 2: %v", len(rej), rec.methods())
	}
	b, l := rej[0].info.(RejectionInfo), rej[1].info.(RejectionInfo)
	if b.Kind != "breaker" || b.Name != "payments" || b.Err != err || b.RetryAfter <= 0 || b.RetryAfter > time.Hour {
		t.Errorf("breaker rejection %+v", b)
	}
	if l.Kind != "limiter" || l.Name != "quota" || l.Err != err2 || l.RetryAfter <= 0 {
		t.Errorf("limiter rejection %+v", l)
	}
	if n := len(rec.of("AttemptFinished")); n != 1 {
		t.Errorf("AttemptFinished %d times, want 1 (the limiter's admitted call)", n)
	}
}

// panicker panics in every method.
type panicker struct{}

func (panicker) OperationStarted(context.Context, OperationInfo) context.Context { panic("started") }
func (panicker) AttemptFinished(context.Context, AttemptInfo)                    { panic("attempt") }
func (panicker) RetryScheduled(context.Context, RetryInfo)                       { panic("retry") }
func (panicker) Rejected(context.Context, RejectionInfo)                         { panic("rejected") }
func (panicker) FallbackExecuted(context.Context, FallbackInfo)                  { panic("fallback") }
func (panicker) OperationFinished(context.Context, OperationInfo, error)         { panic("finished") }

// TestObserverPanicNeverChangesTheResult: an observer that panics in every method leaves
// every result as it would be, and each method's panic is logged once (IN-18).
func TestObserverPanicNeverChangesTheResult(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	e := newEngine(t, WithLogger(zap.New(core)), WithObserver(panicker{}))
	p := fastRetry(3)
	for range 3 {
		calls := 0
		v, err := ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) {
			calls++
			if calls < 2 {
				return 0, errTemporary
			}
			return 5, nil
		})
		if v != 5 || err != nil {
			t.Fatalf("got (%d, %v), want (5, nil)", v, err)
		}
		if _, err := ExecuteWithPolicy(context.Background(), e, p, failing); !errors.Is(err, policy.ErrRetryExhausted) || !errors.Is(err, errTemporary) {
			t.Fatalf("err = %v, want ErrRetryExhausted and the last error", err)
		}
	}
	if err := e.ForceOpen("x", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := ExecuteWithPolicy(context.Background(), e, policy.CircuitBreaker(1, time.Minute).Named("x"), ok42); !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("err = %v", err)
	}
	for _, m := range []string{"OperationStarted", "AttemptFinished", "RetryScheduled", "Rejected", "OperationFinished"} {
		if n := logs.FilterMessageSnippet("observer panicked").FilterField(zap.String("method", m)).Len(); n != 1 {
			t.Errorf("%s: %d log lines, want 1", m, n)
		}
	}
	if m := e.Metrics(); m.Panics != 0 || m.SuccessfulOperations != 3 || m.FailedOperations != 4 {
		t.Fatalf("metrics %+v: an observer's panic is not the operation's", m)
	}
}

// reentrant calls the engine from inside every method: Metrics, and a nested Execute
// (whose own observer calls see the nesting and stop there).
type reentrant struct {
	e     *Engine
	t     *testing.T
	calls sync.WaitGroup
}

type nestedKey struct{}

func (r *reentrant) use(ctx context.Context) {
	_ = r.e.Metrics()
	if ctx.Value(nestedKey{}) != nil {
		return
	}
	ctx = context.WithValue(ctx, nestedKey{}, true)
	if _, err := ExecuteWithPolicy(ctx, r.e, policy.Combine(policy.CircuitBreaker(5, time.Minute).Named("inner"), fastRetry(2)), ok42); err != nil {
		r.t.Errorf("nested Execute: %v", err)
	}
}

func (r *reentrant) OperationStarted(ctx context.Context, _ OperationInfo) context.Context {
	r.use(ctx)
	return ctx
}
func (r *reentrant) AttemptFinished(ctx context.Context, _ AttemptInfo) { r.use(ctx) }
func (r *reentrant) RetryScheduled(ctx context.Context, _ RetryInfo)    { r.use(ctx) }
func (r *reentrant) Rejected(ctx context.Context, _ RejectionInfo)      { r.use(ctx) }
func (r *reentrant) FallbackExecuted(ctx context.Context, _ FallbackInfo) {
	r.use(ctx)
}
func (r *reentrant) OperationFinished(ctx context.Context, _ OperationInfo, _ error) { r.use(ctx) }

// TestObserverMayCallTheEngine: an observer calling Metrics and Execute from inside
// every method neither deadlocks nor races, with calls on many goroutines (IN-18; run
// under -race).
func TestObserverMayCallTheEngine(t *testing.T) {
	r := &reentrant{t: t}
	e := newEngine(t, WithObserver(r))
	r.e = e
	p := policy.Combine(fastRetry(2), policy.CircuitBreaker(100, time.Minute).Named("outer"), policy.RateLimit(1e6).Named("rl").WithBurst(1000), policy.Timeout(time.Minute))
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					_, _ = ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
						if n, _ := AttemptFromContext(ctx); n == 1 && (g+i)%2 == 0 {
							return 0, errTemporary
						}
						return 1, nil
					})
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("observer calling the engine deadlocked")
	}
	if m := e.Metrics(); m.SuccessfulOperations < 160 {
		t.Fatalf("metrics %+v", m)
	}
}

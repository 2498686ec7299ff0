package supervisor

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// obsFailTwice returns a function that fails twice, then succeeds.
func obsFailTwice() func(context.Context) (int, error) {
	n := 0
	return func(context.Context) (int, error) {
		if n++; n <= 2 {
			return 0, errTemporary
		}
		return n, nil
	}
}

// obsObserved builds an engine that logs into an observer at level.
func obsObserved(t *testing.T, level zapcore.Level) (*Engine, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(level)
	return newEngine(t, WithLogger(zap.New(core))), logs
}

// obsDiscardLogger is a production-style logger at Info that writes JSON to io.Discard.
func obsDiscardLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel))
}

func TestLogsRetrySequence(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	op := &funcOp{
		id:     "charge",
		policy: policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 2 * time.Millisecond}),
		fn:     obsFailTwice(),
	}
	if _, err := Execute(context.Background(), e, policy.Operation[int](op)); err != nil {
		t.Fatal(err)
	}

	applied := logs.FilterMessage("applying policy").FilterField(zap.String("op", "charge")).AllUntimed()
	if len(applied) != 1 || applied[0].Level != zap.DebugLevel {
		t.Fatalf("applying policy entries = %v; want one at Debug", applied)
	}
	if got := applied[0].ContextMap()["policy"]; got != op.policy.String() {
		t.Errorf("applying policy: policy = %v; want %q", got, op.policy.String())
	}

	retries := logs.FilterMessage("retrying").AllUntimed()
	if len(retries) != 2 {
		t.Fatalf("retrying entries = %d; want 2", len(retries))
	}
	for i, entry := range retries {
		f := entry.ContextMap()
		if entry.Level != zap.DebugLevel {
			t.Errorf("retry %d at %v; want Debug", i, entry.Level)
		}
		want := map[string]any{
			"op":           "charge",
			"attempt":      int64(i + 2),
			"max_attempts": int64(3),
			"delay":        2 * time.Millisecond,
			"error":        errTemporary.Error(),
		}
		for k, v := range want {
			if f[k] != v {
				t.Errorf("retry %d: %s = %v (%T); want %v", i, k, f[k], f[k], v)
			}
		}
	}
	if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n != 0 {
		t.Errorf("a retry sequence that succeeded logged %d Warn entries", n)
	}
}

func TestLogsBreakerTrip(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	ctx := context.Background()
	p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
	for range 2 {
		ExecuteWithPolicy(ctx, e, p, failing)
	}
	trips := logs.FilterMessage("breaker state change").FilterField(zap.String("breaker", "x")).AllUntimed()
	if len(trips) != 1 {
		t.Fatalf("state change entries = %v; want one", trips)
	}
	f := trips[0].ContextMap()
	if trips[0].Level != zap.InfoLevel || f["from"] != "closed" || f["to"] != "open" {
		t.Fatalf("state change = %v %v; want Info closed → open", trips[0].Level, f)
	}

	failures := logs.FilterMessage("operation failed").AllUntimed()
	if len(failures) != 2 {
		t.Fatalf("operation failed entries = %d; want 2", len(failures))
	}
	for _, entry := range failures {
		f := entry.ContextMap()
		if entry.Level != zap.WarnLevel || f["policy"] != p.String() || f["attempts"] != int64(1) || f["error"] != errTemporary.Error() {
			t.Errorf("failure entry = %v %v; want Warn with policy, attempts and error", entry.Level, f)
		}
	}

	if _, err := ExecuteWithPolicy(ctx, e, p, ok42); !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("third call: %v; want ErrCircuitOpen", err)
	}
	open := logs.FilterMessage("circuit open").FilterField(zap.String("breaker", "x")).AllUntimed()
	if len(open) != 1 || open[0].Level != zap.DebugLevel {
		t.Fatalf("circuit open entries = %v; want one at Debug", open)
	}
	if d, ok := open[0].ContextMap()["retry_after"].(time.Duration); !ok || d <= 0 || d > time.Hour {
		t.Errorf("circuit open: retry_after = %v; want (0, 1h]", open[0].ContextMap()["retry_after"])
	}
}

func TestLogsCriticalFailureAtError(t *testing.T) {
	e, logs := obsObserved(t, zap.InfoLevel)
	ctx := context.Background()
	for _, critical := range []bool{false, true} {
		op := &funcOp{id: "ledger", critical: critical, policy: policy.None(), fn: failing}
		Execute(ctx, e, policy.Operation[int](op))
	}
	failures := logs.FilterMessage("operation failed").FilterField(zap.String("op", "ledger")).AllUntimed()
	if len(failures) != 2 || failures[0].Level != zap.WarnLevel || failures[1].Level != zap.ErrorLevel {
		t.Fatalf("failures = %v; want Warn for the ordinary one, Error for the critical one", failures)
	}
	if failures[1].ContextMap()["critical"] != true {
		t.Errorf("critical failure without critical=true: %v", failures[1].ContextMap())
	}
}

func TestLogsPanicWithStack(t *testing.T) {
	e, logs := obsObserved(t, zap.InfoLevel)
	ExecuteWithPolicy(context.Background(), e, policy.Policy(policy.None()), func(context.Context) (int, error) {
		panic("kaboom")
	})
	entries := logs.FilterMessage("operation panicked").AllUntimed()
	if len(entries) != 1 || entries[0].Level != zap.ErrorLevel {
		t.Fatalf("panic entries = %v; want one at Error", entries)
	}
	f := entries[0].ContextMap()
	if f["panic"] != "kaboom" {
		t.Errorf("panic = %v; want kaboom", f["panic"])
	}
	if s, _ := f["stack"].(string); len(s) == 0 {
		t.Error("panic logged without a stack")
	}
}

func TestNothingLoggedAtDebugWhenLevelIsInfo(t *testing.T) {
	e, logs := obsObserved(t, zap.InfoLevel)
	ctx := context.Background()
	op := &funcOp{
		id:     "charge",
		policy: policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}),
		fn:     obsFailTwice(),
	}
	if _, err := Execute(ctx, e, policy.Operation[int](op)); err != nil {
		t.Fatal(err)
	}
	p := policy.Policy(policy.CircuitBreaker(2, time.Hour).Named("x"))
	for range 3 {
		ExecuteWithPolicy(ctx, e, p, failing)
	}
	lim := policy.Policy(policy.RateLimit(0.001).Named("y"))
	for range 2 {
		ExecuteWithPolicy(ctx, e, lim, ok42)
	}

	for _, entry := range logs.AllUntimed() {
		if entry.Level < zap.InfoLevel {
			t.Errorf("logged at %v with the level at Info: %q %v", entry.Level, entry.Message, entry.ContextMap())
		}
	}
	for _, msg := range []string{"applying policy", "retrying", "circuit open", "rate limited", "rate limit decision"} {
		if n := logs.FilterMessage(msg).Len(); n != 0 {
			t.Errorf("%q logged %d times at Info", msg, n)
		}
	}
	// The 2 breaker failures; the fast refusals (open breaker, empty limiter) are Debug.
	if n := logs.FilterMessage("operation failed").Len(); n != 2 {
		t.Errorf("operation failed logged %d times; want 2", n)
	}
}

func TestProtoactorLogsGoToTheEngineLogger(t *testing.T) {
	_, logs := obsObserved(t, zap.InfoLevel)
	started := logs.FilterMessage("actor system started").AllUntimed()
	if len(started) != 1 {
		t.Fatalf("protoactor's start line reached the engine's logger %d times; want 1", len(started))
	}
	if started[0].LoggerName != "protoactor" {
		t.Errorf("logger name = %q; want protoactor", started[0].LoggerName)
	}
}

func TestDisabledDebugLoggingAllocatesNothing(t *testing.T) {
	e := newEngine(t, WithLogger(obsDiscardLogger()))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    policy.Policy
	}{
		{"retry", policy.Retry(3)},
		{"breaker", policy.CircuitBreaker(5, time.Minute).Named("bench")},
		{"retry+breaker", policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("bench2"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ExecuteWithPolicy(ctx, e, tc.p, ok42) // create the breaker, compile the plan
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := ExecuteWithPolicy(ctx, e, tc.p, ok42); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per call with an Info logger; want 0", allocs)
			}
		})
	}
}

// BenchmarkDisabledLogger measures the success path with a real logger at Info writing
// to io.Discard: the Debug lines on the path must cost a level check and no allocation.
func BenchmarkDisabledLogger(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    policy.Policy
	}{
		{"retry", policy.Retry(3)},
		{"breaker", policy.CircuitBreaker(5, time.Minute).Named("bench")},
	} {
		for _, lc := range []struct {
			name string
			opt  Option
		}{
			{"nop", WithLogger(zap.NewNop())},
			{"info", WithLogger(obsDiscardLogger())},
		} {
			b.Run(bc.name+"/"+lc.name, func(b *testing.B) {
				e, err := New(lc.opt)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Shutdown(context.Background())
				ctx := context.Background()
				ExecuteWithPolicy(ctx, e, bc.p, ok42)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ExecuteWithPolicy(ctx, e, bc.p, ok42); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestSuccessfulCallsLogNothing: a call that passes straight through — under a Timeout,
// a named breaker, a limiter with tokens, a retry whose first attempt succeeds — logs
// nothing, not even at Debug (it logged "applying policy" on every call with a Timeout).
func TestSuccessfulCallsLogNothing(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	ctx := context.Background()
	for _, p := range []policy.Policy{
		policy.Timeout(time.Minute),
		policy.Combine(policy.Retry(3), policy.Timeout(time.Minute)),
		policy.Combine(policy.Timeout(time.Minute), policy.CircuitBreaker(5, time.Minute).Named("quiet")),
		policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("quiet"), policy.Timeout(time.Minute)),
	} {
		ExecuteWithPolicy(ctx, e, p, ok42) // create the breaker, compile the plan
		logs.TakeAll()
		for range 20 {
			if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil {
				t.Fatal(err)
			}
		}
		for _, entry := range logs.TakeAll() {
			t.Errorf("%v: a successful call logged %v %q %v", p, entry.Level, entry.Message, entry.ContextMap())
		}
	}
}

// TestPanicIsLoggedOnce: a panic is one log line, "operation panicked" at Error with the
// stack and the policy, not that and an "operation failed" besides.
func TestPanicIsLoggedOnce(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	boom := func(context.Context) (int, error) { panic("boom") }
	for _, p := range []policy.Policy{policy.None(), policy.Retry(3), policy.Timeout(time.Minute),
		policy.Combine(policy.Retry(2), policy.Timeout(time.Minute))} {
		logs.TakeAll()
		Execute(context.Background(), e, policy.Operation[int](&funcOp{id: "boom", policy: p, fn: boom}))
		entries := logs.FilterField(zap.String("op", "boom")).AllUntimed()
		if len(entries) != 1 || entries[0].Message != "operation panicked" || entries[0].Level != zap.ErrorLevel {
			t.Errorf("%v: logged %d lines for one panic: %v; want one \"operation panicked\" at Error", p, len(entries), entries)
			continue
		}
		if f := entries[0].ContextMap(); f["policy"] != p.String() || f["panic"] != "boom" || f["stack"] == "" {
			t.Errorf("%v: panic line %v; want the policy, the panic and the stack", p, f)
		}
	}
}

// TestCallersOwnFailuresLogAtDebug: a Permanent error and the caller's cancellation are
// the caller's own, not failures of the engine or the dependency: "operation failed" at
// Debug, even for a critical operation, while an ordinary failure stays at Warn.
func TestCallersOwnFailuresLogAtDebug(t *testing.T) {
	e, logs := obsObserved(t, zap.DebugLevel)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		id       string
		ctx      context.Context
		critical bool
		fn       func(context.Context) (int, error)
		want     zapcore.Level
	}{
		{"ordinary", context.Background(), false, failing, zap.WarnLevel},
		{"permanent", context.Background(), false, func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) }, zap.DebugLevel},
		{"permanent-critical", context.Background(), true, func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) }, zap.DebugLevel},
		{"cancelled", cancelled, false, ok42, zap.DebugLevel},
		{"cancelled-critical", cancelled, true, ok42, zap.DebugLevel},
	}
	for _, tt := range tests {
		op := &funcOp{id: tt.id, critical: tt.critical, policy: policy.Retry(3), fn: tt.fn}
		if _, err := Execute(tt.ctx, e, policy.Operation[int](op)); err == nil {
			t.Fatalf("%s: no error", tt.id)
		}
		entries := logs.FilterMessage("operation failed").FilterField(zap.String("op", tt.id)).AllUntimed()
		if len(entries) != 1 || entries[0].Level != tt.want {
			t.Errorf("%s: %v; want one \"operation failed\" at %v", tt.id, entries, tt.want)
		}
	}
}

// TestWithFailureLogLevelSetsTheLevelOfOrdinaryFailures: a service chooses the level of
// "operation failed"; critical failures stay at Error and the caller's own at Debug.
func TestWithFailureLogLevelSetsTheLevelOfOrdinaryFailures(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e := newEngine(t, WithLogger(zap.New(core)), WithFailureLogLevel(zap.InfoLevel))
	ctx := context.Background()
	Execute(ctx, e, policy.Operation[int](&funcOp{id: "ordinary", policy: policy.None(), fn: failing}))
	Execute(ctx, e, policy.Operation[int](&funcOp{id: "critical", critical: true, policy: policy.None(), fn: failing}))
	Execute(ctx, e, policy.Operation[int](&funcOp{id: "permanent", policy: policy.None(),
		fn: func(context.Context) (int, error) { return 0, policy.Permanent(errTemporary) }}))
	for id, want := range map[string]zapcore.Level{"ordinary": zap.InfoLevel, "critical": zap.ErrorLevel, "permanent": zap.DebugLevel} {
		entries := logs.FilterMessage("operation failed").FilterField(zap.String("op", id)).AllUntimed()
		if len(entries) != 1 || entries[0].Level != want {
			t.Errorf("%s: %v; want one \"operation failed\" at %v", id, entries, want)
		}
	}
	for _, bad := range []zapcore.Level{zap.DPanicLevel, zap.PanicLevel, zap.FatalLevel, zapcore.DebugLevel - 1} {
		if _, err := New(WithFailureLogLevel(bad)); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("WithFailureLogLevel(%v): %v; want ErrInvalidPolicy", bad, err)
		}
	}
}

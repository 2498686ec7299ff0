package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/internal/fault"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestReconfigureAnswersWaiterWhoseTokenIsDue queues a caller in a wait-mode limiter and
// holds the actor until the caller's token has come due, with a live RegisterRateLimiter
// queued ahead of the timer's Tick. Reconfiguration hands the due token to the waiter; the
// waiter must be answered then, not left waiting until its context ends.
func TestReconfigureAnswersWaiterWhoseTokenIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(2 * time.Second).Named("r")
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil { // takes the only token
			t.Fatal(err)
		}
		start, done := time.Now(), make(chan error, 1)
		var took time.Duration
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := ExecuteWithPolicy(ctx, e, p, ok42) // queues; its token is due at 1s
			took = time.Since(start)
			done <- err
		}()
		synctest.Wait()
		l := limiterOf(e, "r")
		release := make(chan struct{})
		inject(e, l.PID(), &fault.Block{Release: release})
		synctest.Wait()
		reg := make(chan error, 1)
		go func() {
			reg <- e.RegisterRateLimiter("r", policy.RateLimit(1).WithBurst(1).WithMaxWait(2*time.Second))
		}()
		synctest.Wait()                     // the Reconfigure is queued behind the block
		time.Sleep(1500 * time.Millisecond) // the waiter comes due; its Tick queues behind the Reconfigure
		close(release)
		if err := <-reg; err != nil {
			t.Fatalf("RegisterRateLimiter: %v", err)
		}
		if err := <-done; err != nil || took != 1500*time.Millisecond {
			t.Fatalf("waiter answered after %v with %v; want admitted at 1.5s, when the actor was released", took, err)
		}
	})
}

// holdCore is a zap core that calls hold on the goroutine that writes an entry whose
// message is msg, and drops every other entry: it stalls an actor at a known point.
type holdCore struct {
	msg  string
	hold func()
}

func (h *holdCore) Enabled(zapcore.Level) bool        { return true }
func (h *holdCore) With([]zapcore.Field) zapcore.Core { return h }
func (h *holdCore) Sync() error                       { return nil }
func (h *holdCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if ent.Message == h.msg {
		return ce.AddCore(ent, h)
	}
	return ce
}
func (h *holdCore) Write(zapcore.Entry, []zapcore.Field) error { h.hold(); return nil }

// TestMetricsCountsALimiterRefusalAlreadyReturned stalls the limiter actor right after it
// decided to refuse a caller (in its decision log) until the test has read Metrics, or
// for a second of the bubble's time. Metrics reflects every call that returned before it
// was called, so a refusal the caller already holds must be in the limiter's Rejected.
func TestMetricsCountsALimiterRefusalAlreadyReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		read := make(chan struct{})
		hold := func() {
			select {
			case <-read:
			case <-time.After(time.Second):
			}
		}
		e := newEngine(t, WithLogger(zap.New(&holdCore{msg: "rate limit decision", hold: hold})))
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).WithMaxWait(500 * time.Millisecond).Named("m")
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil { // takes the only token
			t.Fatal(err)
		}
		// The next token is 1s away, past MaxWait: the actor refuses.
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		m := e.Metrics()
		close(read)
		if !errors.Is(err, policy.ErrRateLimited) {
			t.Fatalf("second call: %v; want ErrRateLimited", err)
		}
		if got := m.Limiters["m"]; got.Rejected != 1 || got.Allowed != 1 || m.FailedOperations != 1 {
			t.Fatalf("Metrics after the refusal returned: limiter %+v, failed %d; want Rejected 1, Allowed 1, failed 1", got, m.FailedOperations)
		}
	})
}

// TestMetricsCountsABreakerRefusalAlreadyReturned holds a half-open breaker's only probe
// slot and sends calls that the actor refuses: after each refusal returns, Metrics must
// already count it in the breaker's Rejected.
func TestMetricsCountsABreakerRefusalAlreadyReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var p policy.Policy = policy.CircuitBreaker(1, time.Second).Named("b")
		ctx := context.Background()
		ExecuteWithPolicy(ctx, e, p, failing) // opens it
		time.Sleep(time.Second)               // its timer moves it to half-open
		release, probing := make(chan struct{}), make(chan struct{})
		probe := make(chan error, 1)
		go func() {
			_, err := ExecuteWithPolicy(ctx, e, p, func(context.Context) (int, error) {
				close(probing)
				<-release
				return 1, nil
			})
			probe <- err
		}()
		<-probing
		for i := range 500 {
			_, err := ExecuteWithPolicy(ctx, e, p, ok42)
			got := e.Metrics().Breakers["b"].Rejected
			if !errors.Is(err, policy.ErrCircuitOpen) || got != uint64(i+1) {
				close(release)
				<-probe
				t.Fatalf("call %d beside the probe: %v, then Metrics counts %d rejected; want ErrCircuitOpen counted", i+1, err, got)
			}
		}
		close(release)
		if err := <-probe; err != nil {
			t.Fatalf("probe: %v", err)
		}
	})
}

// TestMaxWaitBoundsAWaiterThatCriticalCallersOvertake queues a caller within MaxWait,
// then keeps critical callers joining the queue ahead of it for a second. MaxWait is the
// longest a call waits: the overtaken caller must be refused when its MaxWait ends, not
// wait until the critical callers stop.
func TestMaxWaitBoundsAWaiterThatCriticalCallersOvertake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		const maxWait = 300 * time.Millisecond
		var p policy.Policy = policy.RateLimit(10).WithBurst(1).WithMaxWait(maxWait).Named("crowded")
		ctx := context.Background()
		if _, err := ExecuteWithPolicy(ctx, e, p, ok42); err != nil { // takes the only token
			t.Fatal(err)
		}
		type result struct {
			err  error
			took time.Duration
		}
		overtaken := make(chan result, 1)
		go func() {
			start := time.Now()
			_, err := ExecuteWithPolicy(ctx, e, p, ok42) // due in 100ms when it joins
			overtaken <- result{err, time.Since(start)}
		}()
		synctest.Wait()
		var wg sync.WaitGroup
		critical := &funcOp{id: "vip", critical: true, policy: p, fn: ok42}
		for range 20 { // a critical caller every 50ms: each joins ahead of the first caller
			wg.Go(func() { Execute(ctx, e, policy.Operation[int](critical)) })
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		r := <-overtaken
		if !errors.Is(r.err, policy.ErrRateLimited) || r.took != maxWait {
			t.Fatalf("overtaken caller: %v after %v; want ErrRateLimited after MaxWait (%v)", r.err, r.took, maxWait)
		}
	})
}

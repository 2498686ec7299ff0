package supervisor

import (
	"context"
	"errors"
	goflag "flag"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/goleak"
)

var errTemporary = errors.New("temporary failure")

func ok42(context.Context) (int, error) { return 42, nil }

func failing(context.Context) (int, error) { return 0, errTemporary }

// funcOp is an Operation with a fixed ID, policy and function.
type funcOp struct {
	id       string
	critical bool
	policy   policy.Policy
	fn       func(context.Context) (int, error)
}

func (o *funcOp) Policy() policy.Policy                    { return o.policy }
func (o *funcOp) ID() string                               { return o.id }
func (o *funcOp) Critical() bool                           { return o.critical }
func (o *funcOp) Execute(ctx context.Context) (int, error) { return o.fn(ctx) }

// newEngine builds an engine that the test shuts down, failing if Shutdown does.
func newEngine(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}

// newEngineNoCleanup builds an engine whose Shutdown the test calls itself, failing if
// New does.
func newEngineNoCleanup(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// receiveResults waits for n results from an actor client and returns them by ID,
// failing the test if they do not all arrive within 10 s.
func receiveResults(t *testing.T, results <-chan *messages.Result, n int) map[string]*messages.Result {
	t.Helper()
	got := map[string]*messages.Result{}
	for range n {
		select {
		case r := <-results:
			got[r.ID] = r
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d results within 10s: %v", len(got), n, got)
		}
	}
	return got
}

// TestMain fails the package if any goroutine outlives the tests: every test shuts its
// engine down, and no goroutine of the engine may survive Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Helpers shared by the reliability tests: the stress, fault, overload, shutdown-load,
// bad-input, passivation and fuzz tests (stress_test.go, engine_test.go,
// execute_test.go, register_test.go and fuzz_test.go).

// relSoakFlag turns the stress and growth tests into a soak: go test -race -run Stress
// -bulwark.soak=5m ./supervisor/ -v. BULWARK_SOAK=5m does the same.
var relSoakFlag = goflag.Duration("bulwark.soak", 0, "soak mode: run TestStress for this long and TestPerKeyGrowth at full size (also BULWARK_SOAK)")

// relSoak returns the soak duration asked for with -bulwark.soak or BULWARK_SOAK, or 0
// when the tests run at their CI size.
func relSoak(t *testing.T) time.Duration {
	t.Helper()
	if d := *relSoakFlag; d != 0 {
		if d < 0 {
			t.Fatalf("-bulwark.soak=%v: want a positive duration such as 5m", d)
		}
		return d
	}
	v := os.Getenv("BULWARK_SOAK")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("BULWARK_SOAK=%q: want a positive Go duration such as 5m", v)
	}
	return d
}

// relHeap returns the live heap after two full collections, in bytes.
func relHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// relGrowth returns after - before in bytes, negative when the heap shrank.
func relGrowth(before, after uint64) int64 { return int64(after) - int64(before) }

// relMiB formats a byte count in MiB.
func relMiB(n int64) float64 { return float64(n) / (1 << 20) }

// relProcesses counts the processes registered in the engine's actor system: every live
// actor plus the engine's own few.
func relProcesses(e *Engine) int {
	n := 0
	for _, m := range e.System().ProcessRegistry.LocalPIDs.LocalPIDs {
		n += m.Count()
	}
	return n
}

// relCleanError reports whether err is an answer a caller can act on: the function's
// own error (errTemporary, possibly wrapped by retry exhaustion, or a Permanent error),
// or one of the engine's documented sentinels for a call that ran or was refused.
func relCleanError(err error) bool {
	for _, kind := range []error{
		errTemporary, relErrBadRequest,
		policy.ErrPanic, policy.ErrTimeout, policy.ErrCancelled, policy.ErrCircuitOpen,
		policy.ErrRateLimited, policy.ErrOverloaded, policy.ErrRetryExhausted,
	} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// relErrBadRequest is the cause of the Permanent errors the reliability tests' functions
// return.
var relErrBadRequest = errors.New("bad request")

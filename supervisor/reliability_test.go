package supervisor

import (
	"errors"
	goflag "flag"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// Helpers shared by the reliability tests: stress_test.go, faults_test.go,
// overload_test.go, shutdownload_test.go, badinput_test.go, passivation_test.go and
// fuzz_test.go.

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

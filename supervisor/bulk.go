package supervisor

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/policy"
)

// ExecuteAll runs every function of fns under p, as that many concurrent callers of
// ExecuteWithPolicy would, at most 4 × GOMAXPROCS at a time, and returns their values and
// errors in the order of fns. Each function is one operation. The calling goroutine
// works through the batch itself while helper goroutines join it one by one, each taking
// the next function with one atomic increment: a batch of quick functions costs little
// more than calling them in a loop, and slow or blocking ones overlap. p is compiled once for the whole
// batch. An invalid p, nil context or nil engine fails every entry with the same error
// and runs nothing; a nil function fails its own entry.
func ExecuteAll[T any](ctx context.Context, e *Engine, p policy.Policy, fns []func(context.Context) (T, error)) ([]T, []error) {
	vals := make([]T, len(fns))
	errs := make([]error, len(fns))
	if len(fns) == 0 {
		return vals, errs
	}
	if err := precheck(ctx, e, p); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return vals, errs
	}
	var (
		next    atomic.Int64
		helpers atomic.Int64
		wg      sync.WaitGroup
	)
	limit := int64(min(len(fns), 4*runtime.GOMAXPROCS(0)) - 1)
	var work func()
	// recruit starts one more helper, up to the limit, while work remains. Each helper
	// recruits the next as it starts, so helpers multiply only while the batch lasts
	// long enough for them to be scheduled: a batch of quick functions is done by the
	// caller alone before the first helper runs, and pays for one goroutine start.
	recruit := func() {
		if int(next.Load()) < len(fns) && helpers.Add(1) <= limit {
			wg.Go(work)
		}
	}
	work = func() {
		recruit()
		for {
			i := int(next.Add(1) - 1)
			if i >= len(fns) {
				return
			}
			c := call{ctx: ctx}
			vals[i], errs[i] = execute(&c, e, p, fns[i])
		}
	}
	work()
	wg.Wait()
	return vals, errs
}

// precheck validates what every entry of a batch shares.
func precheck(ctx context.Context, e *Engine, p policy.Policy) error {
	switch {
	case e == nil:
		return invalid("", "engine is nil")
	case ctx == nil:
		return invalid("", "context is nil")
	case p == nil:
		return invalid("", "policy is nil")
	}
	switch p.(type) {
	case policy.NonePolicy, policy.RetryPolicy:
		return p.Validate()
	}
	return e.plans.get(p).err
}

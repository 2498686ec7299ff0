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
// errors in the order of fns. Each function is one operation, counted in Metrics when
// ExecuteAll returns. The calling goroutine works through the batch itself while helper
// goroutines join it one by one, each claiming a few functions at a time; the batch
// passes the shutdown gate once and counts its outcomes once, so a batch of quick
// functions costs less than calling them in a loop, and slow or blocking ones overlap. p is compiled once for the whole
// batch. An invalid p, nil context or nil engine fails every entry with the same error
// and runs nothing; a nil function fails its own entry. Functions not yet started when
// Shutdown stops waiting fail with ErrShutdown and are not operations. A function that
// calls runtime.Goexit gets ErrPanic, and the rest of the batch still runs.
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
	n := int64(len(fns))
	if !e.enterBatch(n) {
		for i := range errs {
			errs[i] = shutdownErr("")
		}
		return vals, errs
	}
	limit := min(n, int64(4*runtime.GOMAXPROCS(0))) - 1
	b := &batch[T]{
		ctx: ctx, e: e, p: p, fns: fns, vals: vals, errs: errs, n: n, limit: limit,
		// Each worker claims a few functions at a time, so the shared index is touched
		// once per chunk, not once per function.
		chunk: min(max(n/(4*(limit+1)), 1), 16),
	}
	defer func() {
		// Also reached when a function called runtime.Goexit on this goroutine: a helper
		// runs the rest of the batch (see work), and the batch still leaves the gate once,
		// when all of it is done.
		b.wg.Wait()
		e.leaveBatch(b.total)
	}()
	b.work(0, 0)
	return vals, errs
}

// batch is one ExecuteAll in progress.
type batch[T any] struct {
	ctx     context.Context
	e       *Engine
	p       policy.Policy
	fns     []func(context.Context) (T, error)
	vals    []T
	errs    []error
	n       int64
	limit   int64 // helper goroutines at most
	chunk   int64
	next    atomic.Int64 // the next function to claim
	helpers atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex // guards total
	total   tally
}

// recruit starts one more helper, up to the limit, while work remains. Each helper
// recruits the next as it starts, so helpers multiply only while the batch lasts long
// enough for them to be scheduled: a batch of quick functions is done by the caller
// alone before the first helper runs, and pays for one goroutine start.
func (b *batch[T]) recruit() {
	if b.next.Load() < b.n && b.helpers.Add(1) <= b.limit {
		b.wg.Go(func() { b.work(0, 0) })
	}
}

// work runs the functions from i to end, then claims more until none are left, and
// adds its tally to the total. Once Shutdown has stopped waiting, functions not yet
// started are refused with ErrShutdown. When a function calls runtime.Goexit, its
// entry gets ErrPanic and a new goroutine takes over the rest of the chunk.
func (b *batch[T]) work(i, end int64) {
	b.recruit()
	var t tally
	var c call
	returned := false
	defer func() {
		if !returned { // b.fns[i] called runtime.Goexit; its call counted it
			b.errs[i] = c.goexitErr()
			from, to := i+1, end
			b.wg.Go(func() { b.work(from, to) })
		}
		b.mu.Lock()
		b.total.add(t)
		b.mu.Unlock()
	}()
	for {
		for ; i < end; i++ {
			switch {
			case b.fns[i] == nil:
				t.refused++
				b.errs[i] = invalid("", "function is nil")
				continue
			case b.e.stopped():
				t.refused++
				b.errs[i] = shutdownErr("")
				continue
			}
			c = call{ctx: b.ctx, tally: &t}
			v, err := execute(&c, b.e, b.p, b.fns[i])
			b.vals[i] = v
			if err != nil { // the slices start zeroed: skip the write barrier of a nil
				b.errs[i] = err
			}
		}
		if i = b.next.Add(b.chunk) - b.chunk; i >= b.n {
			break
		}
		end = min(i+b.chunk, b.n)
	}
	returned = true
}

// tally counts the operations of one ExecuteAll worker; only that worker touches it.
type tally struct{ ok, failed, refused uint64 }

func (t *tally) add(u tally) {
	t.ok += u.ok
	t.failed += u.failed
	t.refused += u.refused
}

// enterBatch admits n calls through the shutdown gate at once.
func (e *Engine) enterBatch(n int64) bool {
	e.entered.Add(uint64(n))
	if e.closed.Load() {
		e.refused.Add(uint64(n))
		e.wakeDrain()
		return false
	}
	return true
}

// leaveBatch records a batch's outcomes, once, when the whole batch has returned.
func (e *Engine) leaveBatch(t tally) {
	e.succeeded.Add(t.ok)
	e.failed.Add(t.failed)
	e.refused.Add(t.refused)
	if e.closed.Load() {
		e.wakeDrain()
	}
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
	var err error
	switch p.(type) {
	case policy.NonePolicy, policy.RetryPolicy:
		err = validate(p)
	default:
		err = e.plans.get(p).err
	}
	if err != nil {
		return invalidPolicy("", err)
	}
	return nil
}

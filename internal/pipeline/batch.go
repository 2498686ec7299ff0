package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/policy"
)

// ExecuteAll runs every function of fns under p on env, as described by
// supervisor.ExecuteAll; ctx and p are not nil.
func ExecuteAll[T any](ctx context.Context, env *Env, p policy.Policy, fns []func(context.Context) (T, error)) ([]T, []error) {
	vals := make([]T, len(fns))
	errs := make([]error, len(fns))
	if len(fns) == 0 {
		return vals, errs
	}
	err := validateBatch(env, p)
	if err == nil {
		err = checkBatchFallbacks[T](env, p)
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return vals, errs
	}
	n := int64(len(fns))
	if !env.EnterBatch(n) {
		for i := range errs {
			errs[i] = Shutdown("")
		}
		return vals, errs
	}
	limit := min(n, int64(4*runtime.GOMAXPROCS(0))) - 1
	b := &batch[T]{
		ctx: ctx, env: env, p: p, fns: fns, vals: vals, errs: errs, n: n, limit: limit,
		// Each worker claims a few functions at a time, so the shared index is touched
		// once per chunk, not once per function.
		chunk: min(max(n/(4*(limit+1)), 1), 16),
	}
	defer func() {
		// Also reached when a function called runtime.Goexit on this goroutine: a helper
		// runs the rest of the batch (see work), and the batch still leaves the gate once,
		// when all of it is done.
		b.wg.Wait()
		env.leaveBatch(b.total)
	}()
	b.work(0, 0)
	return vals, errs
}

// batch is one ExecuteAll in progress.
type batch[T any] struct {
	ctx     context.Context
	env     *Env
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
	var c Call
	returned := false
	defer func() {
		if !returned { // b.fns[i] called runtime.Goexit; its call counted it
			b.errs[i] = c.GoexitErr()
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
				b.errs[i] = Invalid("", "function is nil")
				continue
			case b.env.Stopped():
				t.refused++
				b.errs[i] = Shutdown("")
				continue
			}
			c = Call{caller: b.ctx, tally: &t}
			v, err := Execute(&c, b.env, b.p, b.fns[i])
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

// tally counts the operations of one batch worker; only that worker touches it.
type tally struct{ ok, failed, refused uint64 }

func (t *tally) add(u tally) {
	t.ok += u.ok
	t.failed += u.failed
	t.refused += u.refused
}

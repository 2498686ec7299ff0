package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

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
	if err := validateBatch(env, p); err != nil {
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
	b := &batch[T]{ctx: ctx, env: env, p: p, fns: fns, vals: vals, errs: errs, n: n, limit: min(n, BatchLimit()) - 1}
	if b.limit > 0 {
		// Helpers join only a batch that lasts: a batch of quick functions is done by
		// the caller alone before the timer fires, and pays for no goroutine.
		b.wg.Add(1)
		b.patience = time.AfterFunc(BatchPatience, b.helper)
	}
	defer func() {
		// Also reached when a function called runtime.Goexit on this goroutine: a helper
		// runs the rest of the batch (see work), and the batch still leaves the gate once,
		// when all of it is done.
		if b.patience != nil && b.patience.Stop() {
			b.wg.Done() // the first helper never started
		}
		b.wg.Wait()
		env.leaveBatch(b.total)
	}()
	b.work()
	return vals, errs
}

// BatchPatience is how long a batch runs on the calling goroutine alone before helper
// goroutines join it.
const BatchPatience = 20 * time.Microsecond

// BatchLimit is how many goroutines, the caller's included, run one batch's functions
// at most: 4 × GOMAXPROCS, and at least 128 so that functions that block overlap.
func BatchLimit() int64 { return max(128, int64(4*runtime.GOMAXPROCS(0))) }

// batch is one ExecuteAll in progress.
type batch[T any] struct {
	ctx      context.Context
	env      *Env
	p        policy.Policy
	fns      []func(context.Context) (T, error)
	vals     []T
	errs     []error
	n        int64
	limit    int64        // helper goroutines at most
	patience *time.Timer  // starts the first helper after BatchPatience
	next     atomic.Int64 // the next function to claim
	wg       sync.WaitGroup
	mu       sync.Mutex // guards total
	total    tally
}

// helper is the first helper goroutine, started by the patience timer; b.wg counts it
// already. A batch still running then has functions that take a while or block: it
// starts one more helper for every function not yet claimed, up to the limit, so that
// they all overlap.
func (b *batch[T]) helper() {
	defer b.wg.Done()
	for k := min(b.n-b.next.Load(), b.limit) - 1; k > 0; k-- {
		b.wg.Go(b.work)
	}
	b.work()
}

// work claims functions one at a time until none are left, runs them, and adds its
// tally to the total. Once Shutdown has stopped waiting, functions not yet started are
// refused with ErrShutdown. When a function calls runtime.Goexit, its entry gets
// ErrPanic and a new goroutine takes over claiming the rest.
func (b *batch[T]) work() {
	var t tally
	var c Call
	i := int64(-1)
	returned := false
	defer func() {
		if !returned { // b.fns[i] called runtime.Goexit; its call counted it
			b.errs[i] = c.GoexitErr()
			b.wg.Go(b.work)
		}
		b.mu.Lock()
		b.total.add(t)
		b.mu.Unlock()
	}()
	for {
		if i = b.next.Add(1) - 1; i >= b.n {
			break
		}
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
	returned = true
}

// tally counts the operations of one batch worker; only that worker touches it.
type tally struct{ ok, failed, refused uint64 }

func (t *tally) add(u tally) {
	t.ok += u.ok
	t.failed += u.failed
	t.refused += u.refused
}

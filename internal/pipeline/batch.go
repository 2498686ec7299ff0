package pipeline

import (
	"context"
	"math"
	"reflect"
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
	b := getBatch[T](env)
	b.ctx, b.env, b.p, b.fns, b.vals, b.errs, b.n = ctx, env, p, fns, vals, errs, n
	b.limit = min(n, BatchLimit()) - 1
	b.seen = 1 // the caller's first claim, below
	b.compile()
	if b.limit > 0 {
		// Helpers join only a batch that lasts: a batch of quick functions is done by
		// the caller alone before the timer fires, and pays for no goroutine.
		b.wg.Add(1)
		b.patience.Reset(BatchPatience)
	}
	defer func() {
		// Also reached when a function called runtime.Goexit on this goroutine: a helper
		// runs the rest of the batch (see work), and the batch still leaves the gate once,
		// when all of it is done.
		b.finished.Store(true)
		if b.limit > 0 && b.patience.Stop() {
			b.wg.Done() // the first helper never started
		}
		b.wg.Wait()
		env.leaveBatch(b.total)
		b.release()
	}()
	from, to := b.claim(1)
	b.work(from, to, 1, &b.own)
	return vals, errs
}

// getBatch returns a batch for functions returning T, recycled from env's pool for T:
// a batch and its patience timer cost no allocation after the first of each T.
func getBatch[T any](env *Env) *batch[T] {
	key := reflect.TypeFor[T]()
	pool, ok := env.batches.Load(key)
	if !ok {
		pool, _ = env.batches.LoadOrStore(key, new(sync.Pool))
	}
	if b, _ := pool.(*sync.Pool).Get().(*batch[T]); b != nil {
		return b
	}
	b := &batch[T]{pool: pool.(*sync.Pool)}
	// Made stopped, so that b.patience is set before its function can run.
	b.patience = time.AfterFunc(time.Hour, b.helper)
	b.patience.Stop()
	return b
}

// release clears b, whose helpers have all returned, and puts it back in its pool.
func (b *batch[T]) release() {
	b.ctx, b.env, b.p, b.fns, b.vals, b.errs = nil, nil, nil, nil, nil, nil
	b.backoff, b.stages = nil, nil
	b.next.Store(0)
	b.helpers.Store(0)
	b.spare.Store(0)
	b.finished.Store(false)
	b.total, b.own = tally{}, tally{}
	b.pool.Put(b)
}

// BatchPatience is how often a batch still running is looked at: helper goroutines join
// it at the first look that finds the caller stuck in one function since the last.
const BatchPatience = 50 * time.Microsecond

// BatchLimit is how many goroutines, the caller's included, run one batch's functions
// at most: 4 × GOMAXPROCS, and at least 128 so that functions that block overlap.
func BatchLimit() int64 { return max(128, int64(4*runtime.GOMAXPROCS(0))) }

// batch is one ExecuteAll in progress.
type batch[T any] struct {
	ctx context.Context
	env *Env
	p   policy.Policy
	// What every function runs through (see compile).
	direct   bool
	general  bool
	attempts int
	backoff  policy.Backoff
	stages   []stage
	fns      []func(context.Context) (T, error)
	vals     []T
	errs     []error
	n        int64
	limit    int64         // helper goroutines at most
	patience *time.Timer   // starts the first helper after BatchPatience; kept for reuse
	pool     *sync.Pool    // where the batch goes back when it is done
	next     atomic.Int64  // the next function to claim
	helpers  atomic.Int64  // helper goroutines started
	spare    atomic.Uint64 // a range handed back for helpers: from<<32 | to
	seen     int64         // b.next at the patience timer's last look
	finished atomic.Bool   // the caller is done with its share: helpers are pointless
	wg       sync.WaitGroup
	mu       sync.Mutex // guards total
	total    tally
	own      tally // the caller's worker's count, kept here so that it costs no allocation
}

// helper runs on the patience timer's goroutine, which b.wg counts already. A caller
// that claimed more functions since the last look is working through quick ones:
// helpers would only share its cache lines, so it looks again a patience later. A
// caller stuck in one function (it blocks, or computes for long) gets helpers: this
// goroutine becomes the first, and recruits the rest.
func (b *batch[T]) helper() {
	defer b.wg.Done()
	if claimed := b.next.Load(); claimed >= b.n || b.finished.Load() {
		return
	} else if claimed != b.seen {
		b.seen = claimed // only timer callbacks, one after the other, touch seen
		b.wg.Add(1)
		b.patience.Reset(BatchPatience)
		return
	}
	b.helpers.Add(1)
	b.recruit()
	b.work(0, 0, 1, new(tally))
}

// recruit starts two more helpers, up to the limit, while functions are left to claim.
// Each helper recruits as it starts, so their number doubles while the batch lasts long
// enough for them to be scheduled (blocking functions: all of them overlap within a few
// scheduling rounds), and stops growing once every function is claimed.
func (b *batch[T]) recruit() {
	for range 2 {
		if b.next.Load() >= b.n || b.helpers.Add(1) > b.limit {
			return
		}
		b.wg.Go(func() {
			b.recruit()
			b.work(0, 0, 1, new(tally))
		})
	}
}

// work runs the functions from i to end, then claims more until none are left, counting
// them in t, and adds t to the total. A worker alone (the caller before any helper started)
// claims chunks that double up to maxChunk, so a batch of quick functions touches the
// shared index a few times, not once per function; once helpers run, it hands the rest
// of its chunk back for them to share and claims one function at a time, so functions
// that block overlap. Once Shutdown has stopped waiting, functions not yet started are
// refused with ErrShutdown. When a function calls runtime.Goexit, its entry gets
// ErrPanic and a new goroutine takes over the rest of the chunk, and goes on claiming.
//
// Each function runs as one operation counted in the worker's tally, with a Call
// built field by field: a composite literal is built in a temporary and copied in
// 16-byte moves that read its 8-byte stores back, a store-forwarding stall that cost a
// third of a quick function's time.
func (b *batch[T]) work(i, end, chunk int64, t *tally) {
	var c Call
	running := int64(-1) // the function in progress, for a runtime.Goexit in it
	defer func() {
		if running >= 0 { // b.fns[running] called runtime.Goexit; its call counted it
			b.errs[running] = c.GoexitErr()
			from, to := running+1, end
			b.wg.Go(func() { b.work(from, to, 1, new(tally)) })
		}
		b.mu.Lock()
		b.total.add(*t)
		b.mu.Unlock()
	}()
	for {
		for ; i < end; i++ {
			if end-i > 1 && b.helpers.Load() > 0 && b.handBack(i+1, end) {
				end = i + 1
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
			c = Call{}
			c.caller, c.env, c.policy, c.tally = b.ctx, b.env, b.p, t
			running = i
			v, err := b.execute(&c, b.fns[i])
			running = -1
			b.vals[i] = v
			if err != nil { // the slices start zeroed: skip the write barrier of a nil
				b.errs[i] = err
			}
		}
		if b.helpers.Load() > 0 {
			chunk = 1
		} else {
			chunk = min(2*chunk, maxChunk)
		}
		if i, end = b.claim(chunk); i >= end {
			break
		}
	}
}

// compile sets what every function of the batch runs through, once: None and a plain
// Retry run directly; any other policy (valid: validateBatch checked it) through its
// plan, with the plan's stages when it has nothing else to apply, else through Execute
// (an outermost fallback, a retry budget or a direct retry of the plan's own).
func (b *batch[T]) compile() {
	b.direct, b.attempts, b.backoff, b.stages = false, 0, nil, nil
	b.general = b.env.Hist != nil || b.env.Observer != nil
	switch p := b.p.(type) {
	case policy.NonePolicy:
		b.direct = true
		return
	case policy.RetryPolicy:
		if plainRetry(&p) {
			b.direct, b.attempts, b.backoff = true, p.MaxAttempts, p.Backoff
			return
		}
	}
	pl := b.env.plans.get(b.env, b.p)
	if pl.outer != nil || pl.budget != nil || pl.direct {
		b.general = true
		return
	}
	b.stages = pl.stages
}

// execute runs fn as one operation of the batch: execute's work for a call that passed
// the gate with the batch, without its per-call dispatch. A timed engine (a histogram
// of durations), an observed one (an Observer sees every operation) and a plan with
// more than stages go through Execute.
func (b *batch[T]) execute(c *Call, fn func(context.Context) (T, error)) (v T, err error) {
	if b.general {
		return Execute(c, b.env, b.p, fn)
	}
	if b.direct {
		if v, err = invoke(b.ctx, c, fn); err != nil && b.attempts > 0 {
			v, err = retryAfterFailure(b.ctx, b.ctx, c, b.attempts, b.backoff, plainRules, nil, fn, v, err, policy.Failure)
		}
	} else {
		v, err = run(b.ctx, c, b.stages, fn)
	}
	if err == nil {
		c.tally.ok++
		return v, nil
	}
	err = c.failure(err)
	c.finishSlow(err)
	return v, err
}

// maxChunk is the largest chunk a worker alone claims at once.
const maxChunk = 32

// claim returns the next functions to run, [from, to): one from the range handed back,
// if any is left, else up to chunk from the shared index. from ≥ to means none is left.
func (b *batch[T]) claim(chunk int64) (from, to int64) {
	for {
		sp := b.spare.Load()
		f, t := int64(sp>>32), int64(uint32(sp))
		if f >= t {
			break
		}
		if b.spare.CompareAndSwap(sp, uint64(f+1)<<32|uint64(t)) {
			return f, f + 1
		}
	}
	from = b.next.Add(chunk) - chunk
	return from, min(from+chunk, b.n)
}

// handBack offers [from, to), the rest of a chunk, to the helpers; it reports false when
// it could not (a range handed back earlier is not used up yet, or the batch is too
// large to pack), and the worker keeps the chunk.
func (b *batch[T]) handBack(from, to int64) bool {
	if to > math.MaxUint32 {
		return false
	}
	sp := b.spare.Load()
	if f, t := int64(sp>>32), int64(uint32(sp)); f < t {
		return false
	}
	return b.spare.CompareAndSwap(sp, uint64(from)<<32|uint64(to))
}

// tally counts the operations of one batch worker; only that worker touches it.
type tally struct{ ok, failed, refused uint64 }

func (t *tally) add(u tally) {
	t.ok += u.ok
	t.failed += u.failed
	t.refused += u.refused
}

package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/messages"
)

// handleBound bounds a handle's own asks that have no caller's context: a Limiter's
// Allow, and the lookup of a name.
const handleBound = 5 * time.Second

// BreakerHandle is the two-step form of a named breaker, for code that cannot hand the
// engine a function: Allow admits exactly as the breaker stage does, and the done
// function it returns records the outcome. It does not pin the breaker's actor: a
// passivated breaker is recreated with its configuration on the next use. Safe for
// concurrent use.
type BreakerHandle struct {
	env     *Env
	name    string
	current atomic.Pointer[handleBreaker] // the resolved link and the stage built from it
	tickets sync.Pool                     // *breakerTicket
}

// handleBreaker is a resolved breaker link with the stage its configuration compiles
// to (for the classifier and the admission path).
type handleBreaker struct {
	link  *actors.BreakerLink
	stage *breakerStage
}

// NewBreakerHandle returns the handle of the breaker name on env; the caller checked
// that the name exists.
func NewBreakerHandle(env *Env, name string) *BreakerHandle {
	return &BreakerHandle{env: env, name: name}
}

// LookupBreaker reports whether env has the breaker name: live, or passivated with its
// configuration remembered.
func LookupBreaker(env *Env, name string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), handleBound)
	defer cancel()
	return env.Registry.Breakers.Known(ctx, registry.Caller{Op: name}, name)
}

// resolve returns the live link of the breaker and its stage, recreating a passivated
// actor with its remembered configuration.
func (h *BreakerHandle) resolve(ctx context.Context) (*handleBreaker, error) {
	if hb := h.current.Load(); hb != nil && !hb.link.View().Retired {
		return hb, nil
	}
	l, err := h.env.Registry.Breakers.Provide(ctx, registry.Caller{Op: h.name}, h.name)
	if err != nil {
		return nil, err
	}
	return h.adopt(l)
}

// adopt caches l with the stage its configuration compiles to.
func (h *BreakerHandle) adopt(l *actors.BreakerLink) (*handleBreaker, error) {
	p := l.Origin()
	p.Name = h.name
	s, err := compileBreaker(h.env, p)
	if err != nil {
		return nil, InvalidPolicy(h.name, err)
	}
	hb := &handleBreaker{link: l, stage: s}
	h.current.Store(hb)
	return hb, nil
}

// Allow asks the breaker for admission now: from its published view when it admits
// (closed, disabled, metrics-only), else from its actor (a half-open probe, or the
// refusal of an open breaker). It returns the function that records the call's outcome
// through the breaker's classifier; see supervisor.Breaker.Allow.
func (h *BreakerHandle) Allow(ctx context.Context) (func(error), error) {
	if ctx == nil {
		return nil, Invalid(h.name, "context is nil")
	}
	if h.env.Closed() {
		return nil, Shutdown(h.name)
	}
	if hb := h.current.Load(); hb != nil && ctx.Err() == nil {
		if view := hb.link.View(); view.Pass {
			return h.admitted(ctx, hb, view.Generation, view.SlowCall, false, false), nil
		}
	}
	return h.allowSlow(ctx)
}

// allowSlow is Allow when the breaker must be resolved or its view does not admit.
//
//go:noinline
func (h *BreakerHandle) allowSlow(ctx context.Context) (func(error), error) {
	var c Call
	c.Init(ctx, h.name, false)
	c.env, c.handle = h.env, true
	if err := ctx.Err(); err != nil {
		return nil, cancelled(&c, ctx, nil)
	}
	hb, err := h.resolve(ctx)
	if err != nil {
		return nil, err
	}
	l := hb.link
	if view := l.View(); view.Pass {
		return h.admitted(ctx, hb, view.Generation, view.SlowCall, false, false), nil
	}
	l.Enter()
	gen, probe, l, err := c.admit(ctx, hb.stage, l)
	if err != nil {
		return nil, err
	}
	if l != hb.link {
		if hb, err = h.adopt(l); err != nil {
			l.Exit()
			return nil, err
		}
	}
	done := h.admitted(ctx, hb, gen, l.View().SlowCall, true, probe)
	return done, nil
}

// admitted returns the done function of an admission in generation gen: entered when
// the call is counted in flight on the link, probe for a half-open probe.
func (h *BreakerHandle) admitted(ctx context.Context, hb *handleBreaker, gen uint64, slowCall time.Duration, entered, probe bool) func(error) {
	t := h.ticket()
	t.h, t.hb, t.ctx, t.gen, t.slowCall, t.entered, t.probe = h, hb, ctx, gen, slowCall, entered, probe
	if slowCall > 0 {
		t.start = time.Now()
	}
	seq := t.seq.Load()
	if probe {
		t.bound(seq, hb.stage.policy.MaxHalfOpen, hb.stage.policy.RecoveryTimeout)
	}
	return func(err error) { t.end(seq, err, false) }
}

// Live returns the live breaker link, or nil when it is passivated.
func (h *BreakerHandle) Live() *actors.BreakerLink {
	if l := h.env.Registry.Breakers.Get(h.name); l != nil && !l.Retired() {
		return l
	}
	return nil
}

// ticket returns a ticket from the handle's pool.
func (h *BreakerHandle) ticket() *breakerTicket {
	if t, ok := h.tickets.Get().(*breakerTicket); ok {
		return t
	}
	return &breakerTicket{}
}

// breakerTicket is one admission by a BreakerHandle, until its done function is
// called (or its probe slot's bound passed). Tickets are pooled: seq, bumped by the one
// call that ends the admission, tells a done function of an older admission that its
// ticket moved on, so a second call of done is a no-op.
type breakerTicket struct {
	seq      atomic.Uint64
	h        *BreakerHandle
	hb       *handleBreaker
	ctx      context.Context // Allow's context: judges cancellation, as the caller's
	gen      uint64
	start    time.Time     // when a timed call was admitted
	slowCall time.Duration // the view's SlowCall at admission
	entered  bool          // the call is counted in flight on the link (asked the actor)
	probe    bool          // a half-open probe: its slot must be freed
	timer    *time.Timer   // frees a probe slot whose done is never called
}

// bound arms the release of a probe slot whose done is never called: when the breaker
// has a MaxHalfOpen bound, its half-open period ends by itself and frees every slot;
// otherwise the slot is freed as neutral recovery after admission.
func (t *breakerTicket) bound(seq uint64, maxHalfOpen, recovery time.Duration) {
	if maxHalfOpen > 0 {
		return
	}
	t.timer = time.AfterFunc(recovery, func() { t.end(seq, nil, true) })
}

// end ends the admission seq: with its outcome err, or, when expired, as a neutral
// probe. Only the first call for seq does anything.
func (t *breakerTicket) end(seq uint64, err error, expired bool) {
	if !t.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	if !expired && t.timer != nil {
		t.timer.Stop()
	}
	h, hb := t.h, t.hb
	l, s := hb.link, hb.stage
	var c Call
	c.Init(t.ctx, h.name, false)
	c.env, c.handle = h.env, true
	// The report waits for the actor's acknowledgement, not for Allow's context, which
	// may have ended with the call: the actor answers, stops, or the engine shuts down.
	ctx := context.Background()
	slow := t.slowCall > 0 && time.Since(t.start) > t.slowCall
	outcome := messages.Neutral
	if !expired {
		outcome = judge[any](&c, s.classifier, nil, err)
	}
	switch {
	case t.probe:
		c.report(ctx, l, t.gen, outcome, true, slow && outcome != messages.Neutral, retryAfter(outcome, err))
		l.Exit()
	case t.entered:
		c.finish(ctx, l, t.gen, outcome, slow, err)
	default:
		// Admitted from the view without entering, so that an admission whose done is
		// never called does not pin the actor: enter now, on the live link.
		if l.View().Retired {
			if nb, rerr := h.resolve(ctx); rerr == nil {
				l = nb.link
			}
		}
		l.Enter()
		c.finish(ctx, l, t.gen, outcome, slow, err)
	}
	// seq stays: a stale done or timer of this admission compares with it.
	t.h, t.hb, t.ctx, t.timer = nil, nil, nil, nil
	h.tickets.Put(t)
}

// LimiterHandle is a named limiter as a handle, for code that takes tokens itself:
// Allow takes one now or refuses, Wait waits for one in the limiter's FIFO. It does not
// pin the limiter's actor. Safe for concurrent use.
type LimiterHandle struct {
	env     *Env
	name    string
	current atomic.Pointer[handleLimiter]
}

// handleLimiter is a resolved limiter link with the stage its configuration compiles to.
type handleLimiter struct {
	link  *actors.LimiterLink
	stage *limiterStage
}

// NewLimiterHandle returns the handle of the limiter name on env; the caller checked
// that the name exists.
func NewLimiterHandle(env *Env, name string) *LimiterHandle {
	return &LimiterHandle{env: env, name: name}
}

// LookupLimiter reports whether env has the limiter name: live, or passivated with its
// configuration remembered.
func LookupLimiter(env *Env, name string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), handleBound)
	defer cancel()
	return env.Registry.Limiters.Known(ctx, registry.Caller{Op: name}, name)
}

// resolve returns the live link of the limiter and its stage.
func (h *LimiterHandle) resolve(ctx context.Context) (*handleLimiter, error) {
	if hl := h.current.Load(); hl != nil && !hl.link.View().Retired {
		return hl, nil
	}
	l, err := h.env.Registry.Limiters.Provide(ctx, registry.Caller{Op: h.name}, h.name)
	if err != nil {
		return nil, err
	}
	p := l.Origin()
	p.Name = h.name
	hl := &handleLimiter{link: l, stage: compileLimiter(p)}
	h.current.Store(hl)
	return hl, nil
}

// Allow takes a token now, from the pool the actor hands out or from the actor, or
// refuses; it never waits for one, in wait mode either (a request that would have to
// wait is refused, behind the queue). False after Shutdown.
func (h *LimiterHandle) Allow() bool {
	env := h.env
	if env.Closed() {
		return false
	}
	if hl := h.current.Load(); hl != nil && !hl.link.View().Retired && hl.link.TryTake() {
		return true
	}
	return h.allowSlow()
}

// allowSlow is Allow when the pool was empty or the link must be resolved.
func (h *LimiterHandle) allowSlow() bool {
	ctx, cancel := context.WithTimeout(context.Background(), handleBound)
	defer cancel()
	hl, err := h.resolve(ctx)
	if err != nil {
		return false
	}
	if hl.link.TryTake() {
		return true
	}
	var c Call
	c.Init(ctx, h.name, false)
	c.env, c.handle, c.noWait = h.env, true, true
	return c.acquire(ctx, hl.stage, hl.link) == nil
}

// Wait takes a token, waiting in the limiter's FIFO up to its MaxWait or until ctx
// ends; see supervisor.Limiter.Wait for its errors.
func (h *LimiterHandle) Wait(ctx context.Context) error {
	if ctx == nil {
		return Invalid(h.name, "context is nil")
	}
	if h.env.Closed() {
		return Shutdown(h.name)
	}
	var c Call
	c.Init(ctx, h.name, false)
	c.env, c.handle = h.env, true
	if err := ctx.Err(); err != nil {
		return cancelled(&c, ctx, nil)
	}
	hl, err := h.resolve(ctx)
	if err != nil {
		return err
	}
	if hl.link.TryTake() {
		return nil
	}
	return c.acquire(ctx, hl.stage, hl.link)
}

// Live returns the live limiter link, or nil when it is passivated.
func (h *LimiterHandle) Live() *actors.LimiterLink {
	if l := h.env.Registry.Limiters.Get(h.name); l != nil && !l.Retired() {
		return l
	}
	return nil
}

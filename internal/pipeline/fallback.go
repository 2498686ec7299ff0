package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Fallbacks are an engine's registered fallback functions by name. A stage holds the
// *fallbackName of its policy's Func, so a registration that replaces a function reaches
// every plan at once. Names are added and replaced, never removed. Safe for concurrent
// use.
type Fallbacks struct {
	mu sync.Mutex
	m  map[string]*fallbackName // guarded by mu
}

// fallbackName is one registered name and its current function.
type fallbackName struct {
	name string
	cur  atomic.Pointer[fallbackFunc]
}

// fallbackFunc is one registration: the function for its result type, and the same
// function with its result boxed, for calls whose T is any or struct{}.
type fallbackFunc struct {
	typ    reflect.Type
	typed  any // func(context.Context, error) (T, error)
	erased func(context.Context, error) (any, error)
}

// RegisterFallback registers fn as the fallback function name for results of type T
// on env, replacing any function registered before under name: plans that name it use
// fn from their next call. An empty name, one that is not valid UTF-8, or a nil fn is
// an error matching ErrInvalidPolicy.
func RegisterFallback[T any](env *Env, name string, fn func(context.Context, error) (T, error)) error {
	switch {
	case name == "":
		return Invalid("", "RegisterFallback: the name is empty")
	case !utf8.ValidString(name):
		return Invalid("", fmt.Sprintf("RegisterFallback: name %q is not valid UTF-8", name))
	case fn == nil:
		return Invalid("", fmt.Sprintf("RegisterFallback %q: function is nil", name))
	}
	f := &fallbackFunc{
		typ:   reflect.TypeFor[T](),
		typed: fn,
		erased: func(ctx context.Context, err error) (any, error) {
			v, ferr := fn(ctx, err)
			return v, ferr
		},
	}
	fs := &env.Fallbacks
	fs.mu.Lock()
	if fs.m == nil {
		fs.m = map[string]*fallbackName{}
	}
	n := fs.m[name]
	if n == nil {
		n = &fallbackName{name: name}
		fs.m[name] = n
	}
	n.cur.Store(f)
	fs.mu.Unlock()
	// Registrations share the classifiers' generation: a cached plan that named an
	// unknown function is compiled again.
	env.Classifiers.gen.Add(1)
	return nil
}

// lookup returns the registered name for a stage, or an error when none is registered.
func (fs *Fallbacks) lookup(name string) (*fallbackName, error) {
	fs.mu.Lock()
	n := fs.m[name]
	fs.mu.Unlock()
	if n == nil {
		return nil, fmt.Errorf("fallback function %q is not registered: register it with supervisor.RegisterFallback", name)
	}
	return n, nil
}

// fallbackStage replaces a failed outcome of the rest of the pipeline.
type fallbackStage struct {
	policy     policy.FallbackPolicy
	classifier *classifier                 // judges results with a nil error; nil: only errors trigger
	fn         *fallbackName               // nil: the static Value
	last       atomic.Pointer[fallbackFor] // the fallback for the result type seen last
	byType     sync.Map                    // reflect.Type → *fallbackFor, for the others
}

func (*fallbackStage) isStage() {}

// fallbackFor is a fallback stage made ready for one result type T: the value decoded
// into T, or the registered function for T, or why T does not fit.
type fallbackFor struct {
	typ   unsafe.Pointer // typeWord of (*T)(nil): identifies T in one compare
	reg   *fallbackFunc  // the registration it was made from (Func), to notice a new one
	value any            // a T (Value), or nil
	fn    any            // func(context.Context, error) (T, error) (Func with the same T)
	err   error          // T does not fit: the cause of ErrInvalidPolicy
}

func compileFallback(env *Env, p policy.FallbackPolicy) (*fallbackStage, error) {
	cl, err := env.Classifiers.lookup(p.Classifier)
	if err != nil {
		return nil, err
	}
	s := &fallbackStage{policy: p, classifier: cl}
	if p.Func != "" {
		if s.fn, err = env.Fallbacks.lookup(p.Func); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// isUnit and isAny report whether T is struct{} (Run, RunPlan: the value is ignored) or
// any (actor clients: the value is what JSON decodes, the function any registered one).
func isUnit[T any]() bool { _, ok := any((*T)(nil)).(*struct{}); return ok }
func isAny[T any]() bool  { _, ok := any((*T)(nil)).(*any); return ok }

// forType returns the stage made ready for T: one atomic load and a compare of type
// words when T is the type seen last (and, for a Func, one more load).
func forType[T any](s *fallbackStage) *fallbackFor {
	typ := typeWord(any((*T)(nil)))
	if f := s.last.Load(); f != nil && f.typ == typ && (s.fn == nil || f.reg == s.fn.cur.Load()) {
		return f
	}
	return forTypeSlow[T](s, typ)
}

// forTypeSlow prepares s for T (decoding Value into T once), caches it and returns it.
func forTypeSlow[T any](s *fallbackStage, typWord unsafe.Pointer) *fallbackFor {
	typ := reflect.TypeFor[T]()
	var reg *fallbackFunc
	if s.fn != nil {
		reg = s.fn.cur.Load()
	}
	if cached, ok := s.byType.Load(typ); ok {
		if f := cached.(*fallbackFor); f.reg == reg {
			s.last.Store(f)
			return f
		}
	}
	f := &fallbackFor{typ: typWord, reg: reg}
	switch {
	case reg != nil:
		if fn, ok := reg.typed.(func(context.Context, error) (T, error)); ok {
			f.fn = fn
		} else if !isUnit[T]() && !isAny[T]() {
			f.err = fmt.Errorf("fallback function %q is registered for %v, not for the call's result type %v", s.fn.name, reg.typ, typ)
		}
	case isUnit[T]():
		f.value = *new(T)
	default:
		var v T
		dec := json.NewDecoder(bytes.NewReader(s.policy.Value))
		dec.DisallowUnknownFields()
		err := dec.Decode(&v)
		if err == nil {
			if _, extra := dec.Token(); extra != io.EOF {
				err = errors.New("more than one JSON value")
			}
		}
		if err != nil {
			f.err = fmt.Errorf("fallback value %s does not fit the call's result type %v: %v", s.policy.Value, typ, err)
		} else {
			f.value = v
		}
	}
	s.byType.Store(typ, f)
	s.last.Store(f)
	return f
}

// checkFallbacks is the error of a call whose result type T does not fit one of the
// plan's fallback stages (a Value that does not decode into T, a Func registered for
// another T), or nil. It runs before the call enters the engine: such a call is not an
// operation.
func checkFallbacks[T any](id string, stages []*fallbackStage) error {
	for _, s := range stages {
		if f := forType[T](s); f.err != nil {
			return InvalidPolicy(id, f.err)
		}
	}
	return nil
}

// checkBatchFallbacks is checkFallbacks for the policy p of a batch, which validated:
// a batch must refuse a result type that does not fit before it enters the gate, as
// every entry would be refused after entering it.
func checkBatchFallbacks[T any](env *Env, p policy.Policy) error {
	switch pp := p.(type) {
	case policy.NonePolicy:
		return nil
	case policy.RetryPolicy:
		if plainRetry(&pp) {
			return nil
		}
	}
	if pl := env.plans.get(env, p); pl.fallbacks != nil {
		return checkFallbacks[T]("", pl.fallbacks)
	}
	return nil
}

// runFallback runs the rest of the pipeline and replaces its failed outcome when the
// policy selects it (FB-1, FB-5). The success path without a classifier pays one test.
func runFallback[T any](ctx context.Context, c *Call, s *fallbackStage, rest []stage, fn func(context.Context) (T, error)) (T, error) {
	v, err := run(ctx, c, rest, fn)
	if err == nil && s.classifier == nil {
		return v, nil
	}
	return fallBack(ctx, c, s, v, err)
}

// fallBack decides on the outcome (v, err) of the rest of the pipeline and, when the
// fallback applies, replaces it.
func fallBack[T any](ctx context.Context, c *Call, s *fallbackStage, v T, err error) (T, error) {
	if !s.applies(c, v, err) {
		return v, err
	}
	f := forType[T](s)
	if f.err != nil { // checked before the call; a registration changed since
		return v, InvalidPolicy(c.id, f.err)
	}
	c.env.Counters.Fallbacks.Add(1)
	if ce := c.env.Log.Check(zap.DebugLevel, "fallback"); ce != nil {
		ce.Write(zap.String("op", c.id), zap.Error(err))
	}
	c.notifyFallback(ctx, err)
	discard(c, ctx, v)
	var zero T
	if s.fn == nil {
		fv, _ := f.value.(T)
		return fv, nil
	}
	var fv T
	var ferr error
	if typed, ok := f.fn.(func(context.Context, error) (T, error)); ok {
		r, perr := guard(c, func() fallbackResult[T] {
			rv, rerr := typed(ctx, err)
			return fallbackResult[T]{rv, rerr}
		})
		fv, ferr = r.v, r.err
		if perr != nil {
			ferr = perr
		}
	} else { // T is struct{} or any
		r, perr := guard(c, func() fallbackResult[any] {
			rv, rerr := f.reg.erased(ctx, err)
			return fallbackResult[any]{rv, rerr}
		})
		fv, _ = r.v.(T)
		ferr = r.err
		if perr != nil {
			ferr = perr
		}
	}
	if ferr != nil {
		return zero, c.fallbackFailed(ferr, err)
	}
	return fv, nil
}

// fallbackResult is what a fallback function returned, through guard.
type fallbackResult[T any] struct {
	v   T
	err error
}

// applies reports whether the fallback replaces (v, err): a failure the policy selects
// (On), or a result its classifier judges a failure; never the caller's cancellation
// (also when the caller's context ended by now), ErrShutdown or ErrInvalidPolicy.
func (s *fallbackStage) applies(c *Call, v any, err error) bool {
	if c.caller.Err() != nil {
		return false
	}
	if err == nil {
		if s.classifier == nil {
			return false
		}
		verdict := c.verdictOf(s.classifier, v, nil)
		return verdict == policy.Failure || verdict == policy.Abort
	}
	if errors.Is(err, policy.ErrCancelled) || errors.Is(err, policy.ErrShutdown) || errors.Is(err, policy.ErrInvalidPolicy) {
		return false
	}
	return s.policy.Handles(err)
}

// fallbackFailed is the error of a fallback function that failed with ferr after the
// failure cause: it matches both (FB-4), and keeps cause's Kind, attempts and hint.
func (c *Call) fallbackFailed(ferr, cause error) error {
	if pe, ok := cause.(*policy.Error); ok {
		out := *pe
		out.Err = &fallbackError{fallback: ferr, cause: pe.Err}
		return &out
	}
	return &policy.Error{Op: c.id, Attempts: c.attempts, Err: &fallbackError{fallback: ferr, cause: cause}}
}

// fallbackError is the cause of a failed fallback's error: the fallback's own error and
// the failure it was to replace; errors.Is and errors.As see both.
type fallbackError struct{ fallback, cause error }

// Error reads "fallback failed: <fallback's error> (after: <cause>)".
func (e *fallbackError) Error() string {
	if e.cause == nil {
		return "fallback failed: " + e.fallback.Error()
	}
	return "fallback failed: " + e.fallback.Error() + " (after: " + e.cause.Error() + ")"
}

// Unwrap returns both errors.
func (e *fallbackError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.fallback}
	}
	return []error{e.fallback, e.cause}
}

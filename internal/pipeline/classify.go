package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/zap"
)

// Classifiers are an engine's registered outcome classifiers by name. A stage holds the
// *classifier of its policy's name, so a registration that replaces a function reaches
// every plan at once. Names are added and replaced, never removed. Safe for concurrent
// use.
type Classifiers struct {
	mu sync.Mutex
	m  map[string]*classifier // guarded by mu
	// gen grows on every registration: a plan compiled before it that named an unknown
	// classifier is compiled again (planCache.get).
	gen atomic.Uint64
}

// classifier is one registered name: its current function, and whether its panic was
// logged already.
type classifier struct {
	name   string
	fn     atomic.Pointer[policy.Classifier]
	warned atomic.Bool
}

// builtinClassifier reports whether name is a built-in name: "" and "default", rule
// P2.5 (nil error = success, any other error = failure).
func builtinClassifier(name string) bool { return name == "" || name == "default" }

// CheckClassifier is the error of a RegisterClassifier or WithClassifier call that
// cannot register fn under name, or nil.
func CheckClassifier(name string, fn policy.Classifier) error {
	switch {
	case builtinClassifier(name):
		return Invalid("", fmt.Sprintf("classifier name %q is built in and cannot be registered", name))
	case !utf8.ValidString(name):
		return Invalid("", fmt.Sprintf("classifier name %q is not valid UTF-8", name))
	case fn == nil:
		return Invalid("", fmt.Sprintf("classifier %q: function is nil", name))
	}
	return nil
}

// Register sets the classifier name to fn (checked by CheckClassifier), replacing any
// function registered before: plans that name it use fn from their next call.
func (cs *Classifiers) Register(name string, fn policy.Classifier) {
	cs.mu.Lock()
	if cs.m == nil {
		cs.m = map[string]*classifier{}
	}
	cl := cs.m[name]
	if cl == nil {
		cl = &classifier{name: name}
		cs.m[name] = cl
	}
	cl.fn.Store(&fn)
	cs.mu.Unlock()
	cs.gen.Add(1)
}

// lookup returns the classifier name for a stage: nil for a built-in name, or an error
// when no classifier of that name is registered.
func (cs *Classifiers) lookup(name string) (*classifier, error) {
	if builtinClassifier(name) {
		return nil, nil
	}
	cs.mu.Lock()
	cl := cs.m[name]
	cs.mu.Unlock()
	if cl == nil {
		return nil, fmt.Errorf("classifier %q is not registered: register it with supervisor.WithClassifier or Engine.RegisterClassifier", name)
	}
	return cl, nil
}

// judge classifies one outcome of the rest of the pipeline for a breaker, by the
// precedence every stage uses (DESIGN.md, "Outcome classification"): the caller's
// context ended, a refusal by another stage and a Permanent error are neutral; then the
// stage's classifier, if any, gives the verdict (Abort and unknown verdicts count as
// failures, Ignore as neutral); else a nil error is a success and any other a failure.
// An error matching ErrBudgetExhausted is judged by the last attempt's error it carries.
// v is boxed only when a classifier is set.
func judge[T any](c *Call, cl *classifier, v T, err error) messages.Outcome {
	if err == nil && cl == nil {
		return messages.Success
	}
	if err != nil {
		err = lastAttempt(err)
		if c.neutral(err) {
			return messages.Neutral
		}
	}
	if cl == nil {
		if err == nil {
			return messages.Success
		}
		return messages.Failure
	}
	return c.classify(cl, v, err)
}

// neutral reports whether err, a failed outcome, is one no breaker counts: the caller's
// cancellation, a refusal by another stage, or a Permanent error.
func (c *Call) neutral(err error) bool {
	return c.caller.Err() != nil && (errors.Is(err, policy.ErrCancelled) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) ||
		policy.IsRefusal(err) || policy.IsPermanent(err)
}

// lastAttempt returns the last attempt's error that err, a retry budget's refusal,
// carries; any other error is itself.
func lastAttempt(err error) error {
	for {
		pe, ok := err.(*policy.Error)
		if !ok || pe.Kind != policy.ErrBudgetExhausted {
			return err
		}
		if err = pe.Err; err == nil {
			return nil
		}
	}
}

// classify runs the classifier cl on (v, err) and turns its verdict into an outcome. A
// classifier that panics counts as a failure; its first panic is logged (once per name).
// One that calls runtime.Goexit is handled as the operation's would be.
func (c *Call) classify(cl *classifier, v any, err error) messages.Outcome {
	switch c.verdictOf(cl, v, err) {
	case policy.Success:
		return messages.Success
	case policy.Ignore:
		return messages.Neutral
	}
	return messages.Failure // Failure, Abort, and a verdict the engine does not know
}

// verdictOf runs the classifier cl on (v, err) and returns its verdict: Failure for a
// classifier that panics (its first panic is logged, once per name) and for a verdict
// the engine does not know. One that calls runtime.Goexit is handled as the
// operation's would be.
//
//go:noinline
func (c *Call) verdictOf(cl *classifier, v any, err error) (verdict policy.Verdict) {
	returned := false
	defer func() {
		if returned {
			return
		}
		r := recover()
		if r == nil {
			_ = c.userExit(nil) // runtime.Goexit: it goes on
			return
		}
		if cl.warned.CompareAndSwap(false, true) {
			c.env.Log.Error("classifier panicked; its outcomes count as failures (logged once per classifier)",
				zap.String("classifier", cl.name), zap.String("op", c.id), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
		verdict = policy.Failure
	}()
	verdict = (*cl.fn.Load())(v, err)
	returned = true
	switch verdict {
	case policy.Success, policy.Failure, policy.Ignore, policy.Abort:
		return verdict
	}
	return policy.Failure
}

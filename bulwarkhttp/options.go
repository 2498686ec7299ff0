package bulwarkhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Option configures NewTransport or Middleware.
type Option func(*options)

type options struct {
	key        func(*http.Request) string
	bodyBuffer int64
}

// WithKey names each request's operation with key(r): the breakers and rate limiters of
// the policy that have no Name of their own take that name, so one policy gives a
// breaker per route, per tenant or per client. Named stages keep their Name. A key ""
// leaves the operation unnamed (unnamed stages share "default"). Names created so are
// not registered: on an engine built with supervisor.WithIdleTimeout they are
// passivated when idle. key runs on every request and must be safe for concurrent use;
// a nil key is the default, no per-request name.
func WithKey(key func(*http.Request) string) Option {
	return func(o *options) { o.key = key }
}

// WithBodyBuffer lets the transport buffer a request body that has no GetBody, up to
// maxBytes, so that the request can be retried: a longer body is sent once, streamed, and
// never retried. maxBytes ≤ 0, the default, buffers nothing. The middleware ignores it.
func WithBodyBuffer(maxBytes int64) Option {
	return func(o *options) { o.bodyBuffer = maxBytes }
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// runner runs one request's function under the engine's policy: through a Plan when the
// operation has no per-request name, else through Execute with the key as the ID (the
// engine's plan cache finds the compiled policy by the boxed value's identity, which the
// runner keeps).
type runner[T any] struct {
	engine *supervisor.Engine
	policy policy.Policy
	plan   *supervisor.Plan
	key    func(*http.Request) string
	err    error // the construction's error: every call returns it
}

func newRunner[T any](e *supervisor.Engine, p policy.Policy, key func(*http.Request) string) runner[T] {
	r := runner[T]{engine: e, policy: p, key: key}
	if e == nil {
		r.err = &policy.Error{Kind: policy.ErrInvalidPolicy, Err: errNilEngine}
		return r
	}
	// Register the classifier first: a policy naming "http" then compiles.
	if err := e.RegisterClassifier(ClassifierName, Classify); err != nil {
		r.err = err
		return r
	}
	pl, err := e.Prepare("", p)
	if err != nil {
		r.err = err
		return r
	}
	r.plan = pl
	return r
}

// run runs fn for req under the policy, with ctx as the caller's context.
func (r *runner[T]) run(ctx context.Context, req *http.Request, fn func(context.Context) (T, error)) (T, error) {
	if r.err != nil {
		var zero T
		return zero, r.err
	}
	if r.key != nil {
		id, err := keyOf(r.key, req)
		if err != nil {
			var zero T
			return zero, err
		}
		if id != "" {
			return supervisor.Execute[T](ctx, r.engine, &operation[T]{id: id, policy: r.policy, fn: fn})
		}
	}
	return supervisor.ExecutePlan(ctx, r.plan, fn)
}

// keyOf runs the user's key function; a panic in it is the request's ErrPanic error.
func keyOf(key func(*http.Request) string, req *http.Request) (id string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &policy.Error{Kind: policy.ErrPanic, Err: fmt.Errorf("bulwarkhttp: the WithKey function panicked: %v", v)}
		}
	}()
	return key(req), nil
}

// operation is one keyed request as a policy.Operation.
type operation[T any] struct {
	id     string
	policy policy.Policy
	fn     func(context.Context) (T, error)
}

func (o *operation[T]) Policy() policy.Policy                  { return o.policy }
func (o *operation[T]) Execute(ctx context.Context) (T, error) { return o.fn(ctx) }
func (o *operation[T]) ID() string                             { return o.id }
func (o *operation[T]) Critical() bool                         { return false }

var errNilEngine = errors.New("bulwarkhttp: engine is nil")

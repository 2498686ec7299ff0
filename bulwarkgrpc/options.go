package bulwarkgrpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Option configures an interceptor.
type Option func(*options)

type options struct {
	key func(ctx context.Context, fullMethod string) string
}

// WithKey names each call's operation with key(ctx, fullMethod): the breakers and rate
// limiters of the policy that have no Name of their own take that name, so one policy
// gives a breaker per method or per tenant (read from the metadata in ctx). Named stages
// keep their Name; a key "" leaves the call unnamed (unnamed stages share "default").
// Names created so are not registered, so an engine built with
// supervisor.WithIdleTimeout passivates them when idle. key must be safe for concurrent
// use; a nil key is the default: no per-call name.
func WithKey(key func(ctx context.Context, fullMethod string) string) Option {
	return func(o *options) { o.key = key }
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

// runner runs one call's function under the engine's policy: through a Plan when the
// call has no per-call name, else through Execute with the key as the operation ID.
type runner[T any] struct {
	engine *supervisor.Engine
	policy policy.Policy
	plan   *supervisor.Plan
	key    func(ctx context.Context, fullMethod string) string
	err    error // the construction's error: every call returns it
}

func newRunner[T any](e *supervisor.Engine, p policy.Policy, opts []Option) runner[T] {
	o := collect(opts)
	r := runner[T]{engine: e, key: o.key}
	if e == nil {
		r.err = &policy.Error{Kind: policy.ErrInvalidPolicy, Err: errNilEngine}
		return r
	}
	if err := e.RegisterClassifier(ClassifierName, Classify); err != nil {
		r.err = err
		return r
	}
	r.policy = withDefaultClassifier(p, 0)
	pl, err := e.Prepare("", r.policy)
	if err != nil {
		r.err = err
		return r
	}
	r.plan = pl
	return r
}

var errNilEngine = errors.New("bulwarkgrpc: engine is nil")

// run runs fn for the call method under the policy, with ctx the caller's context.
func (r *runner[T]) run(ctx context.Context, method string, fn func(context.Context) (T, error)) (T, error) {
	if r.err != nil {
		var zero T
		return zero, r.err
	}
	if r.key != nil {
		id, err := keyOf(r.key, ctx, method)
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

// keyOf runs the user's key function; a panic in it is the call's ErrPanic error.
func keyOf(key func(context.Context, string) string, ctx context.Context, method string) (id string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &policy.Error{Kind: policy.ErrPanic, Err: fmt.Errorf("bulwarkgrpc: the WithKey function panicked: %v", v)}
		}
	}()
	return key(ctx, method), nil
}

// operation is one keyed call as a policy.Operation.
type operation[T any] struct {
	id     string
	policy policy.Policy
	fn     func(context.Context) (T, error)
}

func (o *operation[T]) Policy() policy.Policy                  { return o.policy }
func (o *operation[T]) Execute(ctx context.Context) (T, error) { return o.fn(ctx) }
func (o *operation[T]) ID() string                             { return o.id }
func (o *operation[T]) Critical() bool                         { return false }

// withStatus gives an engine error a gRPC status when it carries none: a refusal, a
// timeout, a cancellation, a panic or an invalid policy (IN-16's codes). An error that
// carries an attempt's status keeps it.
func withStatus(err error) error {
	if err == nil {
		return nil
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return err
	}
	return &statusError{err: err, code: engineCode(err)}
}

// engineCode is the status code of an error of the engine's own.
func engineCode(err error) codes.Code {
	switch {
	case errors.Is(err, policy.ErrRateLimited):
		return codes.ResourceExhausted
	case errors.Is(err, policy.ErrCircuitOpen), errors.Is(err, policy.ErrConcurrencyLimited),
		errors.Is(err, policy.ErrOverloaded), errors.Is(err, policy.ErrShutdown):
		return codes.Unavailable
	case errors.Is(err, policy.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, policy.ErrCancelled), errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, policy.ErrPanic), errors.Is(err, policy.ErrInvalidPolicy):
		return codes.Internal
	}
	return codes.Unknown
}

// statusError is an engine error with the gRPC status it stands for.
type statusError struct {
	err  error
	code codes.Code
}

func (e *statusError) Error() string { return e.err.Error() }

func (e *statusError) Unwrap() error { return e.err }

// GRPCStatus is the error's status: its code, and its message.
func (e *statusError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }

package bulwarkgrpc

import (
	"context"
	"errors"

	"github.com/bulwark-go/bulwark/internal/keyed"
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

// runner runs one call's function under the engine's policy (keyed.Runner), named per
// call by the WithKey function when there is one.
type runner[T any] struct {
	keyed.Runner[T]
	key func(ctx context.Context, fullMethod string) string
}

func newRunner[T any](e *supervisor.Engine, p policy.Policy, opts []Option) runner[T] {
	o := collect(opts)
	return runner[T]{Runner: keyed.New[T](e, withDefaultClassifier(p, 0), ClassifierName, Classify, errNilEngine), key: o.key}
}

var errNilEngine = errors.New("bulwarkgrpc: engine is nil")

// run runs fn for the call method under the policy, with ctx the caller's context.
func (r *runner[T]) run(ctx context.Context, method string, fn func(context.Context) (T, error)) (T, error) {
	id := ""
	if r.key != nil && r.Err() == nil {
		var err error
		if id, err = keyed.ID("bulwarkgrpc", func() string { return r.key(ctx, method) }); err != nil {
			var zero T
			return zero, err
		}
	}
	return r.Run(ctx, id, fn)
}

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

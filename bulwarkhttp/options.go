package bulwarkhttp

import (
	"context"
	"errors"
	"net/http"

	"github.com/bulwark-go/bulwark/internal/keyed"
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

// runner runs one request's function under the engine's policy (keyed.Runner), named
// per request by the WithKey function when there is one.
type runner[T any] struct {
	keyed.Runner[T]
	key func(*http.Request) string
}

func newRunner[T any](e *supervisor.Engine, p policy.Policy, key func(*http.Request) string) runner[T] {
	return runner[T]{Runner: keyed.New[T](e, p, ClassifierName, Classify, errNilEngine), key: key}
}

// run runs fn for req under the policy, with ctx as the caller's context.
func (r *runner[T]) run(ctx context.Context, req *http.Request, fn func(context.Context) (T, error)) (T, error) {
	id := ""
	if r.key != nil && r.Err() == nil {
		var err error
		if id, err = keyed.ID("bulwarkhttp", func() string { return r.key(req) }); err != nil {
			var zero T
			return zero, err
		}
	}
	return r.Run(ctx, id, fn)
}

var errNilEngine = errors.New("bulwarkhttp: engine is nil")

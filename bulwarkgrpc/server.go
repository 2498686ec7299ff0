package bulwarkgrpc

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// UnaryServerInterceptor returns an interceptor that runs each unary handler under p on
// the engine e. A refusal is answered with IN-16's code (ResourceExhausted for a rate
// limit; Unavailable for an open breaker, a full bulkhead, an overloaded or shut-down
// engine; DeadlineExceeded for a Timeout; Internal for a panic), with a
// grpc-retry-pushback-ms trailer when the refusal says how long to wait. For breakers,
// a handler's error counts as a failure unless its code is one the caller caused
// (InvalidArgument, NotFound, ...; see Classify); the handler's errors go out as they are.
// It registers Classify on e as "grpc". A nil engine, or a nil or invalid policy,
// answers every call Internal.
func UnaryServerInterceptor(e *supervisor.Engine, p policy.Policy, opts ...Option) grpc.UnaryServerInterceptor {
	r := newRunner[any](e, p, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var last lastError
		resp, err := r.run(ctx, info.FullMethod, func(actx context.Context) (any, error) {
			resp, err := handler(actx, req)
			last.set(err)
			return resp, outcome(err, nil)
		})
		if err == nil {
			return resp, nil
		}
		return nil, serverError(err, last.get(), func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	}
}

// StreamServerInterceptor returns an interceptor that runs each stream handler under p
// on the engine e, answering refusals as UnaryServerInterceptor does. The handler gets a
// stream whose Context is the attempt's.
func StreamServerInterceptor(e *supervisor.Engine, p policy.Policy, opts ...Option) grpc.StreamServerInterceptor {
	r := newRunner[struct{}](e, p, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		var last lastError
		_, err := r.run(ss.Context(), info.FullMethod, func(actx context.Context) (struct{}, error) {
			err := handler(srv, &serverStream{ServerStream: ss, ctx: actx})
			last.set(err)
			return struct{}{}, outcome(err, nil)
		})
		if err == nil {
			return nil
		}
		return serverError(err, last.get(), ss.SetTrailer)
	}
}

// serverError is what a server interceptor answers for the engine's error err: the
// handler's own last error when the engine only passed it on, else the refusal's status,
// with a pushback trailer set through trailer when a wait is known (IN-16).
func serverError(err, last error, trailer func(metadata.MD)) error {
	if pe, ok := err.(*policy.Error); ok && pe.Kind == nil && last != nil {
		return last
	}
	if d, ok := policy.RetryAfter(err); ok {
		trailer(metadata.Pairs(PushbackKey, strconv.FormatInt(int64((d+time.Millisecond-1)/time.Millisecond), 10)))
	}
	return withStatus(err)
}

// lastError is the handler's last error, set by attempts that may run concurrently.
type lastError struct {
	mu  sync.Mutex
	err error
}

func (l *lastError) set(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *lastError) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// serverStream is a ServerStream whose Context is the attempt's.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

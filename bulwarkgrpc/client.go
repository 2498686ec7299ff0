package bulwarkgrpc

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// UnaryClientInterceptor returns an interceptor that runs each unary call under p on
// the engine e; see the package doc for how it judges outcomes. Each attempt decodes
// into a fresh message of the reply's type (when the reply is a proto.Message), which is
// copied into reply when the call succeeds, so an abandoned or losing attempt never
// writes to it. It registers Classify on e as the classifier "grpc". A nil engine, or a
// nil or invalid policy, makes every call fail with an error matching
// policy.ErrInvalidPolicy (status Internal).
func UnaryClientInterceptor(e *supervisor.Engine, p policy.Policy, opts ...Option) grpc.UnaryClientInterceptor {
	r := newRunner[any](e, p, opts)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		msg, isProto := reply.(proto.Message)
		v, err := r.run(ctx, method, func(actx context.Context) (any, error) {
			target := reply
			if isProto {
				target = msg.ProtoReflect().New().Interface()
			}
			var trailer metadata.MD
			err := invoker(actx, method, req, target, cc, append(slices.Clip(callOpts), grpc.Trailer(&trailer))...)
			return target, outcome(err, trailer)
		})
		if err != nil {
			return withStatus(err)
		}
		if got, ok := v.(proto.Message); ok && isProto && got != msg {
			proto.Reset(msg)
			proto.Merge(msg, got)
		}
		return nil
	}
}

// StreamClientInterceptor returns an interceptor that runs the start of each stream
// under p on the engine e: the stream is created, the messages the client sent so far
// are sent, and the first response (a header or a message) is awaited, as one
// operation that the policy may retry or hedge; after that first response the stream is
// committed (IN-15) and goes on unguarded. The start runs when the client first asks
// for a response (RecvMsg, Header, or CloseAndRecv's receive), or when it has sent more
// than 64 messages without asking, in which case the stream is committed at that
// point. It registers Classify on e as "grpc"; bad input fails every stream as
// UnaryClientInterceptor's calls fail.
func StreamClientInterceptor(e *supervisor.Engine, p policy.Policy, opts ...Option) grpc.StreamClientInterceptor {
	r := newRunner[grpc.ClientStream](e, p, opts)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := r.Err(); err != nil {
			return nil, withStatus(err)
		}
		return &clientStream{r: &r, caller: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: callOpts}, nil
	}
}

// maxPending is how many messages a stream keeps for replay before it commits.
const maxPending = 64

// clientStream is a stream whose start runs under the engine. Until it is committed it
// keeps what the client sent; after, it passes everything to the committed stream.
type clientStream struct {
	r        *runner[grpc.ClientStream]
	caller   context.Context
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	mu        sync.Mutex // held by the start and by calls before commit
	sent      []any      // sent before commit
	closeSend bool       // CloseSend before commit
	stream    grpc.ClientStream
	release   func() // ends the committed stream's context
	first     any    // the first message, received by the start, not yet handed out
	firstErr  error  // the start's error, or the first receive's
	started   bool
}

func (cs *clientStream) Context() context.Context {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.stream != nil {
		return cs.stream.Context()
	}
	return cs.caller
}

func (cs *clientStream) Header() (metadata.MD, error) {
	if err := cs.start(nil); err != nil {
		return nil, err
	}
	return cs.stream.Header()
}

func (cs *clientStream) Trailer() metadata.MD {
	cs.mu.Lock()
	s := cs.stream
	cs.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Trailer()
}

func (cs *clientStream) CloseSend() error {
	cs.mu.Lock()
	if !cs.started {
		cs.closeSend = true
		cs.mu.Unlock()
		return nil
	}
	s := cs.stream
	cs.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.CloseSend()
}

func (cs *clientStream) SendMsg(m any) error {
	cs.mu.Lock()
	if !cs.started {
		cs.sent = append(cs.sent, m)
		full := len(cs.sent) > maxPending
		cs.mu.Unlock()
		if full {
			return cs.startUnguarded()
		}
		return nil
	}
	s, err := cs.stream, cs.firstErr
	cs.mu.Unlock()
	if s == nil {
		return err
	}
	return s.SendMsg(m)
}

func (cs *clientStream) RecvMsg(m any) error {
	cs.mu.Lock()
	if !cs.started {
		cs.mu.Unlock()
		return cs.startWith(m)
	}
	s, first, firstErr := cs.stream, cs.first, cs.firstErr
	cs.first, cs.firstErr = nil, nil
	cs.mu.Unlock()
	if first != nil {
		return copyInto(m, first)
	}
	if firstErr != nil {
		cs.end()
		return firstErr
	}
	if s == nil {
		return io.EOF
	}
	err := s.RecvMsg(m)
	if err != nil {
		cs.end()
	}
	return err
}

// startWith starts the stream for a RecvMsg into m: the first message goes to m.
func (cs *clientStream) startWith(m any) error {
	if err := cs.start(m); err != nil {
		return err
	}
	cs.mu.Lock()
	first, firstErr := cs.first, cs.firstErr
	cs.first, cs.firstErr = nil, nil
	cs.mu.Unlock()
	if firstErr != nil {
		cs.end()
		return firstErr
	}
	return copyInto(m, first)
}

// start runs the stream's start under the engine once; want is the message type the
// client receives into (nil: a header is enough).
func (cs *clientStream) start(want any) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.started {
		if cs.stream == nil {
			return cs.firstErr
		}
		return nil
	}
	cs.started = true
	// A stream a stage throws away (a losing hedge's) ends at once.
	ctx := supervisor.WithDiscard(cs.caller, func(v any) {
		if a, ok := v.(*attemptStream); ok && a != nil {
			a.end()
		}
	})
	a, err := cs.r.run(ctx, cs.method, func(actx context.Context) (grpc.ClientStream, error) {
		return cs.try(actx, want)
	})
	if err != nil {
		cs.firstErr = withStatus(err)
		return cs.firstErr
	}
	cs.commit(a)
	return nil
}

// startUnguarded commits a stream whose client sent more than maxPending messages
// before asking for a response: it starts it once, sends what was kept, and goes on.
func (cs *clientStream) startUnguarded() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.started = true
	a, err := cs.open(cs.caller)
	if err == nil {
		err = a.replay(cs.sent, cs.closeSend)
	}
	cs.sent = nil
	if err != nil {
		if a != nil {
			a.end()
		}
		cs.firstErr = withStatus(err)
		return cs.firstErr
	}
	cs.stream, cs.release = a.ClientStream, a.end
	return nil
}

// commit keeps the started stream a (the value the engine returned).
func (cs *clientStream) commit(s grpc.ClientStream) {
	a := s.(*attemptStream)
	cs.stream = a.ClientStream
	cs.release = a.end
	cs.sent = nil
	cs.first = a.msg
	if a.recvErr != nil {
		cs.firstErr = a.recvErr
	}
}

// end releases the committed stream's context once it has ended.
func (cs *clientStream) end() {
	cs.mu.Lock()
	release := cs.release
	cs.release = nil
	cs.mu.Unlock()
	if release != nil {
		release()
	}
}

// attemptStream is one attempt at starting the stream, with its context's controls and
// what it received first.
type attemptStream struct {
	grpc.ClientStream
	cancel  context.CancelFunc
	stop    func() bool // stops the caller's cancellation from reaching it
	msg     any         // the first message (when one was asked for)
	recvErr error       // the first receive's error, io.EOF: ended well with no message
}

func (a *attemptStream) end() {
	a.cancel()
	a.stop()
}

// open creates one attempt's stream with a context that carries actx's values, ends
// with the caller's context, and ends with actx until the stream commits.
func (cs *clientStream) open(actx context.Context) (*attemptStream, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(actx))
	stopCaller := context.AfterFunc(cs.caller, cancel)
	s, err := cs.streamer(sctx, cs.desc, cs.cc, cs.method, cs.opts...)
	if err != nil {
		cancel()
		stopCaller()
		return nil, err
	}
	return &attemptStream{ClientStream: s, cancel: cancel, stop: stopCaller}, nil
}

// replay sends the messages kept before commit, and CloseSend if the client closed.
func (a *attemptStream) replay(sent []any, closeSend bool) error {
	for _, m := range sent {
		if err := a.ClientStream.SendMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the stream ended: its status comes with the receive
			}
			return err
		}
	}
	if closeSend {
		return a.ClientStream.CloseSend()
	}
	return nil
}

// try is one attempt at the stream's start.
func (cs *clientStream) try(actx context.Context, want any) (grpc.ClientStream, error) {
	a, err := cs.open(actx)
	if err != nil {
		return nil, outcome(err, nil)
	}
	stopAttempt := context.AfterFunc(actx, a.cancel)
	fail := func(err error) (grpc.ClientStream, error) {
		stopAttempt()
		trailer := a.ClientStream.Trailer()
		a.end()
		return nil, outcome(err, trailer)
	}
	if err := a.replay(cs.sent, cs.closeSend); err != nil {
		return fail(err)
	}
	if want == nil {
		md, err := a.ClientStream.Header()
		if err != nil {
			return fail(err)
		}
		if md == nil {
			// Ended without a header: its status comes with a receive.
			err := a.ClientStream.RecvMsg(&emptypb.Empty{})
			if !errors.Is(err, io.EOF) {
				return fail(err)
			}
			a.recvErr = io.EOF
		}
	} else {
		m := want
		if pm, ok := want.(proto.Message); ok {
			m = pm.ProtoReflect().New().Interface() // a loser never writes to the client's message
		}
		switch err := a.ClientStream.RecvMsg(m); {
		case err == nil:
			a.msg = m
		case errors.Is(err, io.EOF):
			a.recvErr = io.EOF
		default:
			if md, _ := a.ClientStream.Header(); md != nil {
				// A header arrived before the error: the stream was committed (A6), so it
				// is not tried again, and the error is the stream's.
				stopAttempt()
				a.recvErr = err
				return a, nil
			}
			return fail(err)
		}
	}
	if !stopAttempt() {
		// The stage gave up on this attempt as it answered.
		a.end()
		return nil, actx.Err()
	}
	return a, nil
}

// copyInto hands the first message, received into its own value, to the client's m.
func copyInto(m, first any) error {
	if first == nil || first == m {
		return nil
	}
	dst, ok1 := m.(proto.Message)
	src, ok2 := first.(proto.Message)
	if ok1 && ok2 {
		proto.Reset(dst)
		proto.Merge(dst, src)
	}
	return nil
}

package bulwarkgrpc_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkgrpc"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// protectedServer serves h with both server interceptors under p on e, and returns a
// plain client.
func protectedServer(t *testing.T, e *supervisor.Engine, p policy.Policy, h *health) healthpb.HealthClient {
	t.Helper()
	return bufconnClient(t, h, []grpc.ServerOption{
		grpc.UnaryInterceptor(bulwarkgrpc.UnaryServerInterceptor(e, p)),
		grpc.StreamInterceptor(bulwarkgrpc.StreamServerInterceptor(e, p)),
	})
}

func alwaysServing() *health {
	return &health{
		check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
			return serving(), nil
		},
		watch: func(_ int, _ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
			return s.Send(serving())
		},
	}
}

// IN-16: each refusal's code, with a pushback trailer from its RetryAfter; the server
// half of IN-12 for unary and stream handlers.
func TestServerInterceptorsAnswerRefusals(t *testing.T) {
	t.Run("rate limited: ResourceExhausted with pushback", func(t *testing.T) {
		c := protectedServer(t, newEngine(t), policy.RateLimit(0.5).Named("srv-rl").WithBurst(1), alwaysServing())
		if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("first call: %v", err)
		}
		var trailer metadata.MD
		_, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("err = %v, want ResourceExhausted", err)
		}
		d, ok, _ := bulwarkgrpc.ParsePushback(trailer.Get(bulwarkgrpc.PushbackKey))
		if !ok || d <= 0 || d > 2*time.Second {
			t.Errorf("pushback %v (%v), want the wait for the next token, ≤ 2s", trailer.Get(bulwarkgrpc.PushbackKey), d)
		}
		// The stream handler is refused alike.
		stream, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("stream: %v, want ResourceExhausted", err)
		}
	})
	t.Run("circuit open: Unavailable with pushback", func(t *testing.T) {
		e := newEngine(t)
		h := alwaysServing()
		c := protectedServer(t, e, policy.CircuitBreaker(5, time.Minute).Named("srv-cb"), h)
		if err := e.ForceOpen("srv-cb", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		var trailer metadata.MD
		_, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want Unavailable", err)
		}
		d, ok, _ := bulwarkgrpc.ParsePushback(trailer.Get(bulwarkgrpc.PushbackKey))
		if !ok || d < 29*time.Second || d > 30*time.Second {
			t.Errorf("pushback %v, want about 30s", trailer.Get(bulwarkgrpc.PushbackKey))
		}
		if n := len(h.calls()); n != 0 {
			t.Errorf("the handler ran %d times behind an open breaker", n)
		}
	})
	t.Run("timeout: DeadlineExceeded", func(t *testing.T) {
		h := &health{check: func(ctx context.Context, _ int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}}
		c := protectedServer(t, newEngine(t), policy.Timeout(50*time.Millisecond), h)
		if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("shut down: Unavailable", func(t *testing.T) {
		e, err := supervisor.New()
		if err != nil {
			t.Fatal(err)
		}
		c := protectedServer(t, e, policy.CircuitBreaker(5, time.Minute).Named("srv-down"), alwaysServing())
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want Unavailable", err)
		}
	})
	t.Run("a panic: Internal", func(t *testing.T) {
		h := &health{check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
			panic("boom")
		}}
		c := protectedServer(t, newEngine(t), policy.None(), h)
		if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Internal {
			t.Fatalf("err = %v, want Internal", err)
		}
	})
}

// The handler's own errors go out as they are, and only failures of the service count
// for the server's breaker.
func TestServerInterceptorsPassHandlerErrors(t *testing.T) {
	for _, tt := range []struct {
		code    codes.Code
		counted bool
	}{{codes.NotFound, false}, {codes.InvalidArgument, false}, {codes.Unavailable, true}, {codes.Internal, true}} {
		t.Run(tt.code.String(), func(t *testing.T) {
			e := newEngine(t)
			name := "srv-" + strconv.Itoa(int(tt.code))
			h := &health{check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
				return nil, status.Error(tt.code, "the handler's own")
			}}
			c := protectedServer(t, e, policy.CircuitBreaker(100, time.Hour).Named(name), h)
			_, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{})
			if s := status.Convert(err); s.Code() != tt.code || s.Message() != "the handler's own" {
				t.Fatalf("err = %v, want the handler's %v as it is", err, tt.code)
			}
			if counted := e.Metrics().Breakers[name].Failures > 0; counted != tt.counted {
				t.Errorf("counted = %v, want %v", counted, tt.counted)
			}
		})
	}
}

// The stream handler sees the attempt's context, with the call's metadata.
func TestStreamServerInterceptorGivesTheHandlerTheCallsContext(t *testing.T) {
	h := &health{watch: func(_ int, req *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
		if incoming(s.Context(), "x-tenant") != "acme" {
			return status.Error(codes.InvalidArgument, "no tenant")
		}
		return s.Send(serving())
	}}
	c := protectedServer(t, newEngine(t), policy.Timeout(time.Minute), h)
	stream, err := c.Watch(metadata.AppendToOutgoingContext(context.Background(), "x-tenant", "acme"), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("second Recv = %v, want io.EOF", err)
	}
}

package bulwarkgrpc_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkgrpc"
	"github.com/bulwark-go/bulwark/policy"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func quickRetry(n int) policy.RetryPolicy {
	return policy.Retry(n).WithBackoff(policy.FixedBackoff{})
}

// unaryClient is a health client whose unary calls run under p on a fresh engine.
func unaryClient(t *testing.T, h *health, p policy.Policy, opts ...bulwarkgrpc.Option) healthpb.HealthClient {
	t.Helper()
	e := newEngine(t)
	return bufconnClient(t, h, nil,
		grpc.WithUnaryInterceptor(bulwarkgrpc.UnaryClientInterceptor(e, p, opts...)),
		grpc.WithStreamInterceptor(bulwarkgrpc.StreamClientInterceptor(e, p, opts...)))
}

// failsafegrpc's TestClientSuccess.
func TestUnaryClientPassesASuccess(t *testing.T) {
	h := &health{check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		return serving(), nil
	}}
	resp, err := unaryClient(t, h, quickRetry(3)).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING || len(h.calls()) != 1 {
		t.Fatalf("Check = %v, %v after %d calls; want SERVING once", resp, err, len(h.calls()))
	}
}

// IN-13 against a bufconn server: code → (retried?, counted by the breaker?);
// failsafegrpc's TestClientRetryPolicy re-expressed (it retries the server's
// DeadlineExceeded, which bulwark does not: only a per-attempt Timeout's is retried).
func TestUnaryClientClassifiesCodes(t *testing.T) {
	for _, tt := range []struct {
		code    codes.Code
		retried bool
		counted bool
	}{
		{codes.Unavailable, true, true},
		{codes.ResourceExhausted, true, true},
		{codes.DeadlineExceeded, false, true},
		{codes.InvalidArgument, false, false},
		{codes.NotFound, false, false},
		{codes.AlreadyExists, false, false},
		{codes.PermissionDenied, false, false},
		{codes.Unauthenticated, false, false},
		{codes.FailedPrecondition, false, false},
		{codes.OutOfRange, false, false},
		{codes.Unimplemented, false, false},
		{codes.Internal, false, true},
		{codes.Unknown, false, true},
		{codes.DataLoss, false, true},
	} {
		t.Run(tt.code.String(), func(t *testing.T) {
			e := newEngine(t)
			name := "in13-" + tt.code.String()
			p := policy.Combine(quickRetry(3), policy.CircuitBreaker(100, time.Hour).Named(name))
			h := &health{check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
				return nil, status.Error(tt.code, "scripted")
			}}
			c := bufconnClient(t, h, nil, grpc.WithUnaryInterceptor(bulwarkgrpc.UnaryClientInterceptor(e, p)))
			_, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tt.code {
				t.Fatalf("status %v (%v), want %v", got, err, tt.code)
			}
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Errorf("err %v is not a *policy.Error", err)
			}
			if retried := len(h.calls()) > 1; retried != tt.retried {
				t.Errorf("%d calls: retried = %v, want %v", len(h.calls()), retried, tt.retried)
			}
			if counted := e.Metrics().Breakers[name].Failures > 0; counted != tt.counted {
				t.Errorf("counted = %v, want %v", counted, tt.counted)
			}
		})
	}
}

// IN-13: a DeadlineExceeded caused by the policy's per-attempt Timeout is retried.
func TestUnaryClientRetriesAnAttemptTimeout(t *testing.T) {
	h := &health{check: func(ctx context.Context, n int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		if n == 2 || n == 3 {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return serving(), nil // 1: the warm-up call
	}}
	c := unaryClient(t, h, policy.Combine(quickRetry(6), policy.Timeout(200*time.Millisecond)))
	if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING || len(h.calls()) < 4 {
		t.Fatalf("Check = %v, %v after %d calls; want SERVING after the two timed-out attempts", resp, err, len(h.calls()))
	}
}

// IN-13: the caller's own deadline is never retried.
func TestUnaryClientDoesNotRetryTheCallersDeadline(t *testing.T) {
	h := &health{check: func(ctx context.Context, n int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		if n == 1 {
			return serving(), nil // the warm-up call
		}
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}}
	c := unaryClient(t, h, quickRetry(3))
	if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err) // the connection is up before the deadline starts
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
	// The server's DeadlineExceeded may come back before the client's own clock passes
	// the deadline: either way the status is DeadlineExceeded, and nothing is retried.
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v; want DeadlineExceeded", err)
	}
	if n := len(h.calls()); n > 2 {
		t.Errorf("%d calls, want at most 2 (the warm-up and one, not retried)", n)
	}
}

// failsafegrpc's TestClientRetryPolicyWithUnavailableThenSuccess.
func TestUnaryClientRetriesUnavailableThenSucceeds(t *testing.T) {
	h := &health{check: func(_ context.Context, n int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		if n <= 2 {
			return nil, status.Error(codes.Unavailable, "err")
		}
		return serving(), nil
	}}
	resp, err := unaryClient(t, h, quickRetry(3)).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING || len(h.calls()) != 3 {
		t.Fatalf("Check = %v, %v after %d calls; want SERVING after 3", resp, err, len(h.calls()))
	}
}

// IN-14: a grpc-retry-pushback-ms trailer of "250" delays the next attempt at least
// 250 ms; "-1" (or garbage) stops retrying.
func TestUnaryClientHonoursPushback(t *testing.T) {
	pushback := func(value string) func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		return func(ctx context.Context, n int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
			if n == 1 {
				_ = grpc.SetTrailer(ctx, metadata.Pairs(bulwarkgrpc.PushbackKey, value))
				return nil, status.Error(codes.Unavailable, "busy")
			}
			return serving(), nil
		}
	}
	t.Run("250", func(t *testing.T) {
		h := &health{check: pushback("250")}
		if _, err := unaryClient(t, h, quickRetry(3)).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		calls := h.calls()
		if len(calls) != 2 {
			t.Fatalf("%d calls, want 2", len(calls))
		}
		if gap := calls[1].Sub(calls[0]); gap < 250*time.Millisecond {
			t.Errorf("the second attempt came %v after the first, want ≥ 250ms", gap)
		}
	})
	for _, v := range []string{"-1", "soon"} {
		t.Run(v, func(t *testing.T) {
			h := &health{check: pushback(v)}
			_, err := unaryClient(t, h, quickRetry(3)).Check(context.Background(), &healthpb.HealthCheckRequest{})
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("err = %v, want the Unavailable", err)
			}
			if n := len(h.calls()); n != 1 {
				t.Errorf("%d calls, want 1 (the server asked not to retry)", n)
			}
		})
	}
}

// IN-14: ParsePushback's forms.
func TestParsePushback(t *testing.T) {
	for _, tt := range []struct {
		values   []string
		d        time.Duration
		ok, stop bool
	}{
		{nil, 0, false, false},
		{[]string{"250"}, 250 * time.Millisecond, true, false},
		{[]string{"0"}, 0, true, false},
		{[]string{"-1"}, 0, false, true},
		{[]string{"+5"}, 0, false, true},
		{[]string{"1.5"}, 0, false, true},
		{[]string{""}, 0, false, true},
	} {
		d, ok, stop := bulwarkgrpc.ParsePushback(tt.values)
		if d != tt.d || ok != tt.ok || stop != tt.stop {
			t.Errorf("ParsePushback(%q) = %v, %v, %v; want %v, %v, %v", tt.values, d, ok, stop, tt.d, tt.ok, tt.stop)
		}
	}
}

// IN-15: a stream that fails before its first response is tried again; one that sent
// a message, or a header, first is committed: the client sees the error and no second
// stream is opened.
func TestStreamClientRetriesOnlyBeforeTheFirstResponse(t *testing.T) {
	t.Run("fails before anything: retried", func(t *testing.T) {
		h := &health{watch: func(n int, _ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
			if n <= 2 {
				return status.Error(codes.Unavailable, "not yet")
			}
			return s.Send(serving())
		}}
		stream, err := unaryClient(t, h, quickRetry(3)).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "svc"})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := stream.Recv()
		if err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Recv = %v, %v", msg, err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("second Recv = %v, want io.EOF", err)
		}
		if n := h.streams(); n != 3 {
			t.Errorf("%d streams, want 3", n)
		}
	})
	t.Run("a message, then Unavailable: committed", func(t *testing.T) {
		h := &health{watch: func(_ int, _ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
			if err := s.Send(serving()); err != nil {
				return err
			}
			return status.Error(codes.Unavailable, "gone")
		}}
		stream, err := unaryClient(t, h, quickRetry(3)).Watch(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("first Recv: %v", err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("second Recv = %v, want Unavailable", err)
		}
		if n := h.streams(); n != 1 {
			t.Errorf("%d streams, want 1", n)
		}
	})
	t.Run("a header, then Unavailable: committed", func(t *testing.T) {
		h := &health{watch: func(_ int, _ *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
			if err := s.SendHeader(metadata.Pairs("x-started", "1")); err != nil {
				return err
			}
			return status.Error(codes.Unavailable, "gone")
		}}
		stream, err := unaryClient(t, h, quickRetry(3)).Watch(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("Recv = %v, want Unavailable", err)
		}
		if n := h.streams(); n != 1 {
			t.Errorf("%d streams, want 1", n)
		}
	})
	t.Run("the request is sent again on every attempt", func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		h := &health{watch: func(n int, req *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
			mu.Lock()
			seen = append(seen, req.GetService())
			mu.Unlock()
			if n == 1 {
				return status.Error(codes.Unavailable, "not yet")
			}
			return s.Send(serving())
		}}
		stream, err := unaryClient(t, h, quickRetry(3)).Watch(context.Background(), &healthpb.HealthCheckRequest{Service: "orders"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2 || seen[0] != "orders" || seen[1] != "orders" {
			t.Errorf("the server saw requests %q, want orders twice", seen)
		}
	})
}

// IN-17 and failsafegrpc's TestClientWithRequestScopedContexts: sequential calls, each
// with its own context, are not cancelled by an earlier call's.
func TestUnaryClientCallsKeepTheirOwnContexts(t *testing.T) {
	h := &health{check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		return serving(), nil
	}}
	c := unaryClient(t, h, quickRetry(3))
	type key int
	for i := 1; i <= 3; i++ {
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key(i), "foo"))
		_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil {
			t.Fatalf("call %d: %v (cancelled by a previous call's context?)", i, err)
		}
	}
}

// IN-17 and failsafe-go#136: 100 concurrent calls through one interceptor keep their
// own metadata and deadlines.
func TestUnaryClientConcurrentCallsKeepTheirMetadata(t *testing.T) {
	var tried sync.Map
	h := &health{check: func(ctx context.Context, _ int, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		if got := incoming(ctx, "x-call"); got != req.GetService() {
			return nil, status.Errorf(codes.InvalidArgument, "metadata %q with request %q", got, req.GetService())
		}
		if _, ok := ctx.Deadline(); !ok {
			return nil, status.Error(codes.InvalidArgument, "no deadline")
		}
		if _, again := tried.LoadOrStore(req.GetService(), true); !again {
			return nil, status.Error(codes.Unavailable, "flaky") // every call's first attempt
		}
		return serving(), nil
	}}
	c := unaryClient(t, h, policy.Combine(quickRetry(3), policy.Timeout(time.Minute)))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			id := "call-" + strconv.Itoa(i)
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-call", id), time.Minute)
			defer cancel()
			if _, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: id}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// failsafegrpc's TestClientCancelWithContext: a call whose context ends is cancelled at
// once, not retried.
func TestUnaryClientEndsWhenTheCallerCancels(t *testing.T) {
	h := &health{check: func(ctx context.Context, n int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		if n == 1 {
			return serving(), nil // the warm-up call
		}
		select {
		case <-time.After(time.Second):
			return serving(), nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}}
	c := unaryClient(t, h, quickRetry(3))
	if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Canceled || !errors.Is(err, policy.ErrCancelled) {
		t.Fatalf("err = %v; want Canceled matching ErrCancelled", err)
	}
	if time.Since(start) >= time.Second {
		t.Error("the call waited for the server instead of ending at the cancellation")
	}
	if n := len(h.calls()); n > 2 {
		t.Errorf("%d calls, want at most 2 (the warm-up and one)", n)
	}
}

// An open breaker refuses on the client with Unavailable, sending nothing.
func TestUnaryClientOpenBreakerIsUnavailable(t *testing.T) {
	e := newEngine(t)
	h := &health{check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		return serving(), nil
	}}
	p := policy.CircuitBreaker(5, time.Minute).Named("users")
	c := bufconnClient(t, h, nil, grpc.WithUnaryInterceptor(bulwarkgrpc.UnaryClientInterceptor(e, p)))
	if err := e.ForceOpen("users", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable || !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("err = %v; want Unavailable matching ErrCircuitOpen", err)
	}
	if n := len(h.calls()); n != 0 {
		t.Errorf("%d calls reached the server", n)
	}
}

// Bad input fails every call as Internal with ErrInvalidPolicy.
func TestClientInterceptorsWithBadInput(t *testing.T) {
	h := &health{
		check: func(context.Context, int, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
			return serving(), nil
		},
		watch: func(int, *healthpb.HealthCheckRequest, healthpb.Health_WatchServer) error { return nil },
	}
	c := bufconnClient(t, h, nil,
		grpc.WithUnaryInterceptor(bulwarkgrpc.UnaryClientInterceptor(nil, policy.Retry(3))),
		grpc.WithStreamInterceptor(bulwarkgrpc.StreamClientInterceptor(newEngine(t), policy.Retry(0))))
	if _, err := c.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Internal || !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("unary: %v", err)
	}
	if _, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Internal || !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Errorf("stream: %v", err)
	}
}

// failsafegrpc's TestHedgePolicy: a slow primary gets a hedge, whose answer is the
// call's; the loser's reply never reaches the caller's message.
func TestUnaryClientHedges(t *testing.T) {
	h := &health{check: func(ctx context.Context, n int, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		if n == 1 {
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
		}
		return serving(), nil
	}}
	resp, err := unaryClient(t, h, policy.Hedge(20*time.Millisecond)).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check = %v, %v; want the hedge's SERVING", resp, err)
	}
	if n := len(h.calls()); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

package bulwarkgrpc_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkgrpc"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// flaky is a health service that is Unavailable for its first two calls.
type flaky struct {
	healthpb.UnimplementedHealthServer
	calls atomic.Int32
}

func (f *flaky) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if f.calls.Add(1) <= 2 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// Protect a gRPC client: every unary call retries Unavailable, asks a breaker and has
// a timeout per attempt; the server protects itself with a rate limit.
func ExampleUnaryClientInterceptor() {
	engine, err := supervisor.New()
	if err != nil {
		panic(err)
	}
	defer engine.Shutdown(context.Background())

	lis := bufconn.Listen(1 << 20) // in memory; a real server listens on TCP
	svc := &flaky{}
	srv := grpc.NewServer(grpc.UnaryInterceptor(bulwarkgrpc.UnaryServerInterceptor(engine, policy.RateLimit(1000).Named("health-server"))))
	healthpb.RegisterHealthServer(srv, svc)
	go srv.Serve(lis)
	defer srv.Stop()

	p := policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
		policy.CircuitBreaker(5, 30*time.Second).Named("health"),
		policy.Timeout(time.Second),
	)
	conn, err := grpc.NewClient("passthrough:///health",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(bulwarkgrpc.UnaryClientInterceptor(engine, p)),
		grpc.WithStreamInterceptor(bulwarkgrpc.StreamClientInterceptor(engine, p)))
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println(resp.GetStatus(), status.Code(err), "after", svc.calls.Load(), "calls")
	// Output: SERVING OK after 3 calls
}

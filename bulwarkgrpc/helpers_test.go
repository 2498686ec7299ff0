package bulwarkgrpc_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/internal/testkit"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newEngine builds an engine that is shut down when the test ends.
var newEngine = testkit.NewEngine

// health is a scripted grpc.health.v1.Health server: the fixture service, which needs
// no generated code of the test's own.
type health struct {
	healthpb.UnimplementedHealthServer
	check func(ctx context.Context, n int, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error)
	watch func(n int, req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error

	mu     sync.Mutex
	checks []time.Time
	watchs int
}

func (h *health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.mu.Lock()
	h.checks = append(h.checks, time.Now())
	n := len(h.checks)
	h.mu.Unlock()
	return h.check(ctx, n, req)
}

func (h *health) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	h.mu.Lock()
	h.watchs++
	n := h.watchs
	h.mu.Unlock()
	return h.watch(n, req, stream)
}

func (h *health) calls() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.checks...)
}

func (h *health) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.watchs
}

// serving answers SERVING.
func serving() *healthpb.HealthCheckResponse {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
}

// bufconnClient serves h on a bufconn listener with the server options and returns a
// client with the dial options; both stop when the test ends.
func bufconnClient(t *testing.T, h *health, server []grpc.ServerOption, dial ...grpc.DialOption) healthpb.HealthClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(server...)
	healthpb.RegisterHealthServer(srv, h)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	dial = append(dial,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return healthpb.NewHealthClient(conn)
}

// incoming returns the value of key in the call's incoming metadata.
func incoming(ctx context.Context, key string) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

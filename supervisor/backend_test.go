package supervisor

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/internal/registry"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// countingBackend builds every actor locally, counting the shared names it was asked
// for, and exports one series of its own and publishes Shared events through the hooks.
type countingBackend struct {
	registry.Local
	shared atomic.Int64
	hooks  atomic.Pointer[actors.Hooks]
}

func (b *countingBackend) Breaker(name string, p policy.CircuitBreakerPolicy, env registry.Env) (*actors.BreakerLink, *actor.Props) {
	if p.Shared {
		b.shared.Add(1)
		h := env.Hooks
		b.hooks.Store(&h)
	}
	return b.Local.Breaker(name, p, env)
}

func (b *countingBackend) Limiter(name string, p policy.RateLimitPolicy, env registry.Env) (*actors.LimiterLink, *actor.Props) {
	if p.Shared {
		b.shared.Add(1)
	}
	return b.Local.Limiter(name, p, env)
}

var backendDesc = prometheus.NewDesc("bulwark_test_backend", "A backend's own series.", nil, nil)

func (b *countingBackend) Describe(ch chan<- *prometheus.Desc) { ch <- backendDesc }
func (b *countingBackend) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(backendDesc, prometheus.GaugeValue, float64(b.shared.Load()))
}

// TestWithBackendBuildsNamedActorsWithTheBackend: an engine built WithBackend asks the
// backend for its breakers and limiters (cluster mode's seam), does not warn that a
// shared name runs locally, exports a backend's series in its Collector, and publishes
// the backend's Shared events to subscribers.
func TestWithBackendBuildsNamedActorsWithTheBackend(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	b := &countingBackend{}
	e := newEngine(t, WithBackend(b), WithLogger(zap.New(core)))
	events, cancel := e.Subscribe(8)
	defer cancel()
	p := policy.Combine(policy.CircuitBreaker(5, time.Second).Named("db").AsShared(), policy.RateLimit(100).Named("api").AsShared())
	if err := Run(context.Background(), e, p, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := b.shared.Load(); n != 2 {
		t.Fatalf("the backend built %d shared names, want 2", n)
	}
	if n := logs.FilterMessageSnippet("runs locally").Len(); n != 0 {
		t.Fatalf("%d warnings that a shared name runs locally, with a backend", n)
	}
	if err := testutil.CollectAndCompare(e.Collector(), strings.NewReader(`
# HELP bulwark_test_backend A backend's own series.
# TYPE bulwark_test_backend gauge
bulwark_test_backend 2
`), "bulwark_test_backend"); err != nil {
		t.Fatal(err)
	}
	h := b.hooks.Load()
	at := time.Now()
	for _, c := range []messages.SharedChange{messages.OwnerLost, messages.OwnerFound, messages.OwnerChanged} {
		h.Shared(messages.SharedChanged{Kind: "breaker", Name: "db", Change: c, At: at, Reason: "test"})
	}
	for _, want := range []EventKind{SharedDegraded, SharedRestored, OwnerMoved} {
		select {
		case ev := <-events:
			if ev.Kind != want || ev.Name != "db" || ev.Family != "breaker" || ev.Reason != "test" {
				t.Fatalf("event %v, want %v for breaker db", ev, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v event", want)
		}
	}
}

// TestWithBackendNilIsAnError: a nil backend is refused with ErrInvalidPolicy.
func TestWithBackendNilIsAnError(t *testing.T) {
	_, err := New(WithBackend(nil))
	if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "WithBackend") {
		t.Fatalf("New(WithBackend(nil)) = %v, want ErrInvalidPolicy naming WithBackend", err)
	}
}

// TestSharedEventsNameTheirFamily: the Shared* events print and log their family and
// reason.
func TestSharedEventsNameTheirFamily(t *testing.T) {
	ev := Event{Kind: SharedDegraded, Name: "api", Family: "limiter", Reason: "owner_timeout"}
	if got, want := ev.String(), `shared_degraded "api" limiter (owner_timeout)`; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	for k, want := range map[EventKind]string{SharedDegraded: "shared_degraded", SharedRestored: "shared_restored", OwnerMoved: "owner_moved"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
}

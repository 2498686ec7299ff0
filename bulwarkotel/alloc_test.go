package bulwarkotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkotel"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// successPaths are the calls whose allocations are compared: a prepared retry over a
// breaker (the pipeline with stages) and a plain Retry (the direct path).
func successPaths(t testing.TB, e *supervisor.Engine) map[string]func() {
	pl, err := e.Prepare("bench", policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("bench")))
	if err != nil {
		t.Fatal(err)
	}
	var retry policy.Policy = policy.Retry(3)
	ok := func(context.Context) (int, error) { return 1, nil }
	ctx := context.Background()
	return map[string]func(){
		"plan": func() {
			if _, err := supervisor.ExecutePlan(ctx, pl, ok); err != nil {
				t.Fatal(err)
			}
		},
		"retry": func() {
			if _, err := supervisor.ExecuteWithPolicy(ctx, e, retry, ok); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// noopObserver is the Observer with both no-op providers.
func noopObserver(t testing.TB) *bulwarkotel.Observer {
	obs, err := bulwarkotel.NewObserver(metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// IN-19: with no-op providers the Observer adds no allocation per call: a call costs
// what it costs with the engine's NopObserver and with no observer at all.
func TestNoopProvidersAddNoAllocation(t *testing.T) {
	nilObs, err := bulwarkotel.NewObserver(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The global MeterProvider before one is set: its instruments say they are disabled.
	globalObs, err := bulwarkotel.NewObserver(otel.GetMeterProvider(), nil)
	if err != nil {
		t.Fatal(err)
	}
	engines := []struct {
		name string
		opts []supervisor.Option
	}{
		{"no observer", nil},
		{"NopObserver", []supervisor.Option{supervisor.WithObserver(supervisor.NopObserver{})}},
		{"no-op providers", []supervisor.Option{supervisor.WithObserver(noopObserver(t))}},
		{"nil providers", []supervisor.Option{supervisor.WithObserver(nilObs)}},
		{"unset global meter", []supervisor.Option{supervisor.WithObserver(globalObs)}},
	}
	allocs := map[string][]float64{}
	for _, eng := range engines {
		e := newEngine(t, eng.opts...)
		for path, call := range successPaths(t, e) {
			call() // warm the plan and the breaker
			allocs[path] = append(allocs[path], testing.AllocsPerRun(200, call))
		}
	}
	for path, got := range allocs {
		for i, n := range got {
			t.Logf("%s, %s: %v allocs per call", path, engines[i].name, n)
			if i > 0 && n > got[0] {
				t.Errorf("%s with %s: %v allocs per call, want at most the %v of an engine with no observer", path, engines[i].name, n, got[0])
			}
		}
	}
}

// BenchmarkObserver compares the success path of a prepared retry over a breaker without
// an observer, with the Observer on no-op providers, and with the SDK recording (a
// ManualReader and a tracer provider with no processor: spans are made and dropped).
func BenchmarkObserver(b *testing.B) {
	sdk, err := bulwarkotel.NewObserver(
		sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
		sdktrace.NewTracerProvider())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []supervisor.Option
	}{
		{"none", nil},
		{"NopObserver", []supervisor.Option{supervisor.WithObserver(supervisor.NopObserver{})}},
		{"noop", []supervisor.Option{supervisor.WithObserver(noopObserver(b))}},
		{"sdk", []supervisor.Option{supervisor.WithObserver(sdk)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := supervisor.New(bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			call := successPaths(b, e)["plan"]
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}

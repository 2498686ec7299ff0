package bulwarkotel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkotel"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// An engine traced and measured with OpenTelemetry. In an application the providers
// come from your telemetry setup (an OTLP exporter, a Prometheus reader); here they
// record in memory so the example can print what a retried call produced.
func ExampleNewObserver() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	obs, err := bulwarkotel.NewObserver(mp, tp)
	if err != nil {
		panic(err)
	}
	e, err := supervisor.New(supervisor.WithObserver(obs))
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())
	if _, err := obs.ObserveBreakers(e); err != nil { // bulwark.breaker.state
		panic(err)
	}

	pl, err := e.Prepare("charge", policy.Combine(
		policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: time.Millisecond}),
		policy.CircuitBreaker(5, time.Minute).Named("payments"),
	))
	if err != nil {
		panic(err)
	}
	attempt := 0
	v, err := supervisor.ExecutePlan(context.Background(), pl, func(ctx context.Context) (string, error) {
		if attempt++; attempt < 3 {
			return "", errors.New("payments: 503")
		}
		return "paid", nil
	})
	fmt.Println(v, err)

	for _, s := range spans.Ended() {
		fmt.Printf("span %q (%d events)\n", s.Name(), len(s.Events()))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "bulwark.attempts" {
			for _, p := range sum.DataPoints {
				outcome, _ := p.Attributes.Value("bulwark.outcome")
				fmt.Printf("%s{bulwark.outcome=%s} %d\n", m.Name, outcome.AsString(), p.Value)
			}
		}
		if g, ok := m.Data.(metricdata.Gauge[int64]); ok {
			fmt.Printf("%s %d\n", m.Name, g.DataPoints[0].Value)
		}
	}
	// Unordered output:
	// paid <nil>
	// span "bulwark attempt" (0 events)
	// span "bulwark attempt" (0 events)
	// span "bulwark attempt" (0 events)
	// span "bulwark charge" (2 events)
	// bulwark.attempts{bulwark.outcome=failure} 2
	// bulwark.attempts{bulwark.outcome=success} 1
	// bulwark.breaker.state 0
}

package bulwarkotel_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/bulwarkotel"
	"github.com/bulwark-go/bulwark/internal/testkit"
	"github.com/bulwark-go/bulwark/supervisor"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every test shuts its
// engine down, and the in-memory reader and recorder start none.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rig is an engine observed by a bulwarkotel Observer recording into the SDK's in-memory
// reader and span recorder.
type rig struct {
	e      *supervisor.Engine
	obs    *bulwarkotel.Observer
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

// newRig builds a rig; the engine is shut down when the test ends.
func newRig(t *testing.T, opts ...supervisor.Option) *rig {
	t.Helper()
	r := &rig{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	obs, err := bulwarkotel.NewObserver(mp, r.tp)
	if err != nil {
		t.Fatalf("NewObserver: %v", err)
	}
	r.obs = obs
	r.e = newEngine(t, append([]supervisor.Option{supervisor.WithObserver(obs)}, opts...)...)
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = r.tp.Shutdown(context.Background())
	})
	return r
}

// newEngine builds an engine that is shut down when the test ends.
var newEngine = testkit.NewEngine

// metrics collects the reader's metrics by instrument name.
func (r *rig) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != bulwarkotel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, bulwarkotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

// sums returns the points of the counter name, keyed by their attribute sets (attrs).
func sums(t *testing.T, ms map[string]metricdata.Metrics, name string) map[string]int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return nil
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, want an int64 sum", name, m.Data)
	}
	if !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
		t.Errorf("%s: monotonic %v, temporality %v; want a cumulative counter", name, sum.IsMonotonic, sum.Temporality)
	}
	got := map[string]int64{}
	for _, p := range sum.DataPoints {
		got[attrs(p.Attributes.ToSlice())] += p.Value
	}
	return got
}

// counts returns the counts of the histogram name's points, keyed by attribute set.
func counts(t *testing.T, ms map[string]metricdata.Metrics, name string) map[string]uint64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return nil
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, want a float64 histogram", name, m.Data)
	}
	if m.Unit != "s" {
		t.Errorf("%s: unit %q, want s", name, m.Unit)
	}
	got := map[string]uint64{}
	for _, p := range h.DataPoints {
		got[attrs(p.Attributes.ToSlice())] += p.Count
	}
	return got
}

// attrs writes kvs as "k=v k=v", sorted by key: an attribute set that a test compares
// exactly.
func attrs(kvs []attribute.KeyValue) string {
	kvs = slices.Clone(kvs)
	slices.SortFunc(kvs, func(a, b attribute.KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = string(kv.Key) + "=" + kv.Value.Emit()
	}
	return strings.Join(parts, " ")
}

// spanNamed returns the ended spans called name.
func (r *rig) spanNamed(name string) []sdktrace.ReadOnlySpan {
	var got []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			got = append(got, s)
		}
	}
	return got
}

// events returns the events of s as "name{attrs}".
func events(s sdktrace.ReadOnlySpan) []string {
	var got []string
	for _, ev := range s.Events() {
		got = append(got, ev.Name+"{"+attrs(ev.Attributes)+"}")
	}
	return got
}

// allAttributeValues returns every attribute value the rig recorded: on spans, on
// events and on metric points.
func (r *rig) allAttributeValues(t *testing.T) []string {
	t.Helper()
	var vals []string
	add := func(kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			vals = append(vals, kv.Value.Emit())
		}
	}
	for _, s := range r.spans.Ended() {
		add(s.Attributes())
		for _, ev := range s.Events() {
			add(ev.Attributes)
		}
		vals = append(vals, s.Status().Description)
	}
	for _, m := range r.metrics(t) {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				add(p.Attributes.ToSlice())
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				add(p.Attributes.ToSlice())
			}
		case metricdata.Gauge[int64]:
			for _, p := range d.DataPoints {
				add(p.Attributes.ToSlice())
			}
		}
	}
	return vals
}

// attrSet builds an attribute set from key, value pairs (string or bool values).
func attrSet(kv ...any) attribute.Set {
	var kvs []attribute.KeyValue
	for i := 0; i < len(kv); i += 2 {
		k := attribute.Key(kv[i].(string))
		switch v := kv[i+1].(type) {
		case string:
			kvs = append(kvs, k.String(v))
		case bool:
			kvs = append(kvs, k.Bool(v))
		}
	}
	return attribute.NewSet(kvs...)
}

func nan() float64 { return math.NaN() }

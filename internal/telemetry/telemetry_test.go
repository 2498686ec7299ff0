package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestHistogramBucketsAreCumulative(t *testing.T) {
	h := NewHistogram()
	for _, d := range []time.Duration{50 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, time.Minute, -time.Second} {
		h.Observe(d)
	}
	buckets, count, sum := h.Snapshot()
	if count != 5 {
		t.Fatalf("count = %d; want 5", count)
	}
	if want := (50*time.Microsecond + 6*time.Millisecond + time.Minute).Seconds(); sum != want {
		t.Fatalf("sum = %v; want %v (a negative duration adds 0)", sum, want)
	}
	for ub, want := range map[float64]uint64{0.0001: 2, 0.0025: 2, 0.005: 4, 30: 4} {
		if got := buckets[ub]; got != want {
			t.Errorf("bucket le=%v = %d; want %d", ub, got, want)
		}
	}
}

func TestWarnerLogsEachKeyOnce(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	w := NewWarner(zap.New(core))
	w.Once("a", "first")
	w.Once("a", "again")
	w.Once("b", "other")
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d warnings; want 2 (one per key)", n)
	}
}

func TestHubDeliversDropsAndCloses(t *testing.T) {
	var c Counters
	h := NewHub(&c.EventsDropped, NewWarner(zap.NewNop()))
	ev, cancel := h.Subscribe(1, false)
	h.Publish(Event{Kind: LimiterSaturated, Name: "a"})
	h.Publish(Event{Kind: LimiterRecovered, Name: "a"}) // the buffer holds one
	if got := <-ev; got.Kind != LimiterSaturated {
		t.Fatalf("got %v; want the first event", got)
	}
	if n := c.EventsDropped.Load(); n != 1 {
		t.Fatalf("dropped = %d; want 1", n)
	}
	cancel()
	if _, open := <-ev; open {
		t.Fatal("cancel left the channel open")
	}
	late, _ := h.Subscribe(1, true)
	if _, open := <-late; open {
		t.Fatal("a refused subscription got an open channel")
	}
	kept, _ := h.Subscribe(1, false)
	h.Close()
	if _, open := <-kept; open {
		t.Fatal("Close left a subscriber's channel open")
	}
	after, _ := h.Subscribe(1, false)
	if _, open := <-after; open {
		t.Fatal("a subscription after Close got an open channel")
	}
}

func TestHooksCountTripsAndRestartsAndPublish(t *testing.T) {
	var c Counters
	h := NewHub(&c.EventsDropped, NewWarner(zap.NewNop()))
	ev, cancel := h.Subscribe(4, false)
	defer cancel()
	hooks := Hooks(zap.NewNop(), &c, h)
	hooks.StateChanged(messages.StateChanged{Name: "b", From: messages.Closed, To: messages.Open})
	hooks.StateChanged(messages.StateChanged{Name: "b", From: messages.Open, To: messages.HalfOpen})
	hooks.Saturated(messages.Saturated{Name: "l", Saturated: true})
	hooks.Restarted("b")
	if c.Trips.Load() != 1 || c.Restarts.Load() != 1 {
		t.Fatalf("trips %d restarts %d; want 1 and 1", c.Trips.Load(), c.Restarts.Load())
	}
	want := []string{`breaker_state_changed "b": closed -> open`, `breaker_state_changed "b": open -> half_open`, `limiter_saturated "l"`}
	for _, w := range want {
		if got := (<-ev).String(); got != w {
			t.Fatalf("event %q; want %q", got, w)
		}
	}
}

// family is a fake Family with one live actor.
type family struct{ desc *prometheus.Desc }

func (f family) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }
func (f family) Collect(ch chan<- prometheus.Metric, actor func(kind, name string, depth int64, restarts uint64)) {
	ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, 1, "x")
	actor("fake", "x", 3, 2)
}

func TestCollectorExportsCountersFamiliesAndActors(t *testing.T) {
	var c Counters
	c.Succeeded.Add(4)
	c.Failed.Add(1)
	c.Retries.Add(2)
	fam := family{desc: prometheus.NewDesc("bulwark_fake_up", "A fake family's series.", []string{"name"}, nil)}
	col := NewCollector(&c, NewHistogram(), []Family{fam}, func() (int64, uint64) { return 5, 1 })
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	// 2 operations + 9 engine-wide + 3 hedge + 1 family + 2 fake actor + 2 supervisor + 1 histogram.
	if n != 20 {
		t.Fatalf("%d series; want 20", n)
	}
	if v := testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		for m := range collectOnly(col, "bulwark_retry_attempts_total") {
			ch <- m
		}
	})); v != 2 {
		t.Fatalf("retries = %v; want 2", v)
	}
}

// collectOnly returns the metrics of col whose description names name.
func collectOnly(col prometheus.Collector, name string) chan prometheus.Metric {
	all := make(chan prometheus.Metric, 64)
	col.Collect(all)
	close(all)
	out := make(chan prometheus.Metric, 64)
	for m := range all {
		if desc := m.Desc().String(); strings.Contains(desc, `"`+name+`"`) {
			out <- m
		}
	}
	close(out)
	return out
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: run must stop its
// servers, clients, load generator and engine before it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer that the test reads while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var metricsURL = regexp.MustCompile(`metrics\s+(http://127\.0\.0\.1:\d+/metrics)`)

// The series the test wants to see in /metrics at least once during the run.
var wantSeries = map[string]*regexp.Regexp{
	"operations":       regexp.MustCompile(`(?m)^bulwark_operations_total\{result="success"\} [1-9]`),
	"breaker state":    regexp.MustCompile(`(?m)^bulwark_breaker_state\{name="downstream"\} \d`),
	"breaker open":     regexp.MustCompile(`(?m)^bulwark_breaker_state\{name="downstream"\} 1$`),
	"breaker trips":    regexp.MustCompile(`(?m)^bulwark_breaker_trips_total\{name="downstream"\} [1-9]`),
	"limiter rejected": regexp.MustCompile(`(?m)^bulwark_limiter_rejected_total\{name="gateway"\} [1-9]`),
	"limiter admitted": regexp.MustCompile(`(?m)^bulwark_limiter_admitted_total\{name="gateway"\} [1-9]`),
}

// runAndScrape runs the demo with cfg, scrapes /metrics over HTTP every 250ms while it
// runs, and returns what the run did, its output, the wantSeries it saw and the number
// of successful scrapes.
func runAndScrape(t *testing.T, cfg config) (s summary, output string, seen map[string]bool, scrapes int) {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+45*time.Second)
	defer cancel()

	type result struct {
		s   summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := run(ctx, cfg, out)
		done <- result{s, err}
	}()

	// No gzip: the scrapes should take as little CPU from the run as they can.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	seen = map[string]bool{}
	var url string
	var res result
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-tick.C:
		}
		if url == "" {
			m := metricsURL.FindStringSubmatch(out.String())
			if m == nil {
				continue
			}
			url = m[1]
		}
		body, err := scrape(client, url)
		if err != nil {
			t.Logf("scrape: %v", err) // the run may be shutting down
			continue
		}
		scrapes++
		for name, re := range wantSeries {
			if re.MatchString(body) {
				seen[name] = true
			}
		}
	}

	output = out.String()
	t.Logf("output:\n%s", output)
	if res.err != nil {
		t.Fatalf("run: %v", res.err)
	}
	return res.s, output, seen, scrapes
}

// testConfig returns the configuration of the tests' runs: the default one at half the
// load and half the limit, so that a loaded machine under -race has the CPU to answer
// within the gateway's 200ms timeout. The phases' story depends on the ratio of load to
// limit, not on their values. (For the same reason the two runs are not parallel: side
// by side on 2 busy cores, they starved each other into timeouts in the healthy phase.)
func testConfig(d time.Duration) config {
	cfg := defaultConfig()
	cfg.Duration = d
	cfg.RPS /= 2
	cfg.Limit /= 2
	return cfg
}

// demoPlot is the chart of a real run that the README shows; TestRun compares its
// outline with the plot of its own run, and with -update replaces it with that plot
// when the run passed every check.
const demoPlot = "../../docs/demo.svg"

// TestRun runs the demo for the default 12 seconds, scrapes /metrics over HTTP while
// it runs, and checks what the README promises: each phase shows what its story says
// (checkPhases), the limiter rejects some calls, the metrics agree with the run, and
// everything shuts down. The run writes its plot, as -plot does, and the plot must have
// the outline of docs/demo.svg (checkPlot).
func TestRun(t *testing.T) {
	cfg := testConfig(defaultConfig().Duration)
	cfg.Plot = filepath.Join(t.TempDir(), "demo.svg")
	s, output, seen, scrapes := runAndScrape(t, cfg)
	if scrapes == 0 {
		t.Fatalf("no successful scrape of /metrics during the run")
	}
	for name := range wantSeries {
		if !seen[name] {
			t.Errorf("/metrics never showed %s (%v) in %d scrapes", name, wantSeries[name], scrapes)
		}
	}
	checkPhases(t, cfg, s)

	opened, _ := s.opened()
	if s.Limiter.Rejected == 0 {
		t.Errorf("the limiter rejected nothing: %+v", s.Limiter)
	}
	all := total(s.Phases)
	if m := s.Metrics; m.TotalOperations == 0 || m.TotalOperations > all.requests() || m.CircuitBreakerTrips < uint64(opened) {
		t.Errorf("engine metrics disagree with the run: %d operations for %d requests, %d trips for %d opens seen",
			m.TotalOperations, all.requests(), m.CircuitBreakerTrips, opened)
	}
	var timedOut uint64
	for _, n := range s.TimedOut {
		timedOut += n
	}
	if m := s.Metrics; timedOut > 0 && m.TimeoutCount == 0 {
		t.Errorf("the engine counted no timeout, the gateway saw %d attempts cut off", timedOut)
	}

	for _, want := range []string{
		`breaker "downstream": closed -> open`,
		`breaker "downstream": half_open -> closed`,
		"summary after",
		"healthy", "failing", "slow", "recovering", "total",
		`limiter "gateway": admitted`,
		"plot: requests per second by outcome and the breaker's state written to " + cfg.Plot,
		"servers and engine shut down cleanly",
	} {
		if !strings.Contains(output, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(output, "\x1b[") {
		t.Errorf("output to a non-terminal contains ANSI escapes")
	}
	checkPlot(t, cfg, s)
}

// checkPlot checks the plot a run wrote: it is the summary's plot drawn, its numbers
// are the run's (the requests it shows add up to those counted), its band shows every
// state the breaker went through, and its outline (classes and texts without digits) is
// the one of the committed docs/demo.svg, so a change to the chart that leaves that file
// stale fails here (go test -run TestRun -update regenerates it from a new run).
func checkPlot(t *testing.T, cfg config, s summary) {
	t.Helper()
	written, err := os.ReadFile(cfg.Plot)
	if err != nil {
		t.Fatalf("the run wrote no plot: %v", err)
	}
	var drawn bytes.Buffer
	if err := s.Plot.writeSVG(&drawn); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, drawn.Bytes()) {
		t.Errorf("%s is not the summary's plot drawn", cfg.Plot)
	}
	var shown float64
	for _, r := range s.Plot.Rates {
		for _, v := range r {
			shown += v * s.Plot.Slot.Seconds()
		}
	}
	if counted := total(s.Phases).requests(); math.Abs(shown-float64(counted)) > 0.5 {
		t.Errorf("the plot shows %.1f requests, the run counted %d", shown, counted)
	}
	o := checkOutline(t, written)
	for _, tr := range s.Transitions {
		if !slices.Contains(o.classes, "state "+tr.To.String()) {
			t.Errorf("the band does not show the breaker %s (%+v); classes %v", tr.To, tr, o.classes)
		}
	}
	if *update && !t.Failed() {
		if err := os.WriteFile(demoPlot, written, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(demoPlot)
	if err != nil {
		t.Fatalf("%v (go test -run TestRun -update writes it)", err)
	}
	want, err := svgOutline(committed)
	if err != nil {
		t.Fatalf("%s: %v", demoPlot, err)
	}
	if !slices.Equal(o.classes, want.classes) || !slices.Equal(o.texts, want.texts) {
		t.Errorf("%s is stale: the run's plot has classes %v and texts %q, the committed one %v and %q (go test -run TestRun -update regenerates it)",
			demoPlot, o.classes, o.texts, want.classes, want.texts)
	}
}

// TestPhasesHoldAtTheShortestDuration runs the demo for 6 seconds, the shortest run
// the README promises each phase holds its story for; before the phases were sized in
// units of the breaker's recovery timeout, the slow phase could show no timeout at all
// and the breaker could still be open from the failing phase.
func TestPhasesHoldAtTheShortestDuration(t *testing.T) {
	cfg := testConfig(6 * time.Second)
	s, _, _, _ := runAndScrape(t, cfg)
	checkPhases(t, cfg, s)
}

// checkPhases checks that each phase of a run showed what its story says. The bounds
// are proportions and counts, generous enough for a loaded machine under -race, never
// wall-clock times:
//
//   - healthy: (almost) every request succeeds; the load is under the limiter's rate,
//     so (almost) none is rate limited; the breaker does not move;
//   - failing: the breaker opens, and keeps most requests off the downstream;
//   - slow: the breaker, closed again while the latency holds, is tripped by attempts
//     the timeout cut off (the downstream answers no errors in this phase);
//   - recovering: the breaker closes again, and the doubled load meets the limiter.
func checkPhases(t *testing.T, cfg config, s summary) {
	t.Helper()
	moved := func(p phase, to ...messages.BreakerState) bool {
		for _, tr := range s.Transitions {
			if tr.Phase == p && slices.Contains(to, tr.To) {
				return true
			}
		}
		return false
	}
	for p := healthy; p < numPhases; p++ {
		// Sanity: the load generator offered a good part of the phase's load, or the
		// proportions below say nothing.
		offered := cfg.RPS * loadFactor[p] * share[p] * cfg.Duration.Seconds()
		if n := s.Phases[p].requests(); float64(n) < offered/4 {
			t.Errorf("%s: %d requests, want at least a quarter of the %.0f offered", p, n, offered)
		}
	}

	h := s.Phases[healthy]
	if failed := h.requests() - h[kindOK]; failed > 2+h.requests()/20 {
		t.Errorf("healthy: %d of %d requests failed (%v), want (almost) none", failed, h.requests(), h)
	}
	if h[kindRateLimited] > 2+h.requests()/25 {
		t.Errorf("healthy: %d of %d requests rate limited, want (almost) none: the load is under the limit", h[kindRateLimited], h.requests())
	}
	if moved(healthy, messages.Open, messages.HalfOpen, messages.Closed) {
		t.Errorf("healthy: the breaker changed state: %+v", s.Transitions)
	}

	f := s.Phases[failing]
	if !moved(failing, messages.Open) {
		t.Errorf("failing: the breaker never opened; transitions: %+v", s.Transitions)
	}
	if f[kindOK] != 0 {
		t.Errorf("failing: %d requests succeeded against a downstream that fails every call", f[kindOK])
	}
	if f[kindCircuitOpen] < f.requests()*3/4 {
		t.Errorf("failing: %d of %d requests refused by the open breaker, want most", f[kindCircuitOpen], f.requests())
	}
	if s.Downstream[failing] >= f.requests()/2 {
		t.Errorf("failing: %d of %d requests reached the downstream; the breaker should keep most off it", s.Downstream[failing], f.requests())
	}

	sl := s.Phases[slow]
	if !moved(slow, messages.Closed) {
		t.Errorf("slow: the breaker did not close again while the latency held; transitions: %+v", s.Transitions)
	}
	if s.TimedOut[slow] < 5 {
		t.Errorf("slow: %d attempts timed out, want at least the breaker's 5", s.TimedOut[slow])
	}
	tripped := false
	for _, tr := range s.Transitions {
		if tr.Phase == slow && tr.From == messages.Closed && tr.To == messages.Open {
			tripped = true
		}
	}
	if !tripped {
		t.Errorf("slow: timeouts never tripped the closed breaker; transitions: %+v", s.Transitions)
	}
	if sl[kindOK] == 0 || sl[kindCircuitOpen] == 0 {
		t.Errorf("slow: want successes while the latency holds and refusals once the breaker trips, got %v", sl)
	}

	r := s.Phases[recovering]
	if !moved(recovering, messages.Closed) {
		t.Errorf("recovering: the breaker never closed again; transitions: %+v", s.Transitions)
	}
	if s.Breaker.State != messages.Closed {
		t.Errorf("recovering: the breaker ended %s, want closed", s.Breaker.State)
	}
	if r[kindOK] == 0 {
		t.Errorf("recovering: no request succeeded: %v", r)
	}
	if r[kindRateLimited] == 0 {
		t.Errorf("recovering: the limiter shed nothing of the doubled load: %v", r)
	}
}

func scrape(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), nil
}

func TestRunRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]config{
		"zero duration": {RPS: 1, Limit: 1, Workers: 1},
		"zero rps":      {Duration: time.Second, Limit: 1, Workers: 1},
		"zero limit":    {Duration: time.Second, RPS: 1, Workers: 1},
		"no workers":    {Duration: time.Second, RPS: 1, Limit: 1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := run(context.Background(), cfg, io.Discard); err == nil {
				t.Fatal("run accepted a bad config")
			}
		})
	}
}

// TestClassify checks the gateway's mapping of engine errors to HTTP statuses.
func TestClassify(t *testing.T) {
	downstreamFailed := fmt.Errorf("%w: 500 Internal Server Error", errDownstream)
	tests := []struct {
		name       string
		err        error
		status     int
		kind       kind
		retryAfter string
	}{
		{"success", nil, http.StatusOK, kindOK, ""},
		{"circuit open", &policy.Error{Kind: policy.ErrCircuitOpen, After: 700 * time.Millisecond}, http.StatusServiceUnavailable, kindCircuitOpen, "1"},
		{"rate limited after retries", &policy.Error{Kind: policy.ErrRetryExhausted, Attempts: 3,
			Err: &policy.Error{Kind: policy.ErrRateLimited, After: 2500 * time.Millisecond}}, http.StatusServiceUnavailable, kindRateLimited, "3"},
		{"timeout", &policy.Error{Kind: policy.ErrTimeout, Err: context.DeadlineExceeded}, http.StatusGatewayTimeout, kindTimeout, ""},
		{"timeouts exhausted retries", &policy.Error{Kind: policy.ErrRetryExhausted, Attempts: 3,
			Err: &policy.Error{Kind: policy.ErrTimeout}}, http.StatusGatewayTimeout, kindTimeout, ""},
		{"downstream kept failing", &policy.Error{Kind: policy.ErrRetryExhausted, Attempts: 3, Err: downstreamFailed}, http.StatusBadGateway, kindOther, ""},
		{"shut down", &policy.Error{Kind: policy.ErrShutdown}, http.StatusServiceUnavailable, kindOther, ""},
		{"bad request", policy.Permanent(errors.New("404")), http.StatusBadRequest, kindOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, k := classify(tt.err)
			if status != tt.status || k != tt.kind {
				t.Errorf("classify = %d, %v; want %d, %v", status, k, tt.status, tt.kind)
			}
			if tt.err == nil {
				return
			}
			w := &recorder{header: http.Header{}}
			writeError(w, tt.err)
			if w.status != tt.status || w.header.Get(failureHeader) != tt.kind.String() || w.header.Get("Retry-After") != tt.retryAfter {
				t.Errorf("writeError: status %d, %s %q, Retry-After %q; want %d, %q, %q",
					w.status, failureHeader, w.header.Get(failureHeader), w.header.Get("Retry-After"), tt.status, tt.kind, tt.retryAfter)
			}
			if kindOf(tt.kind.String()) != tt.kind {
				t.Errorf("kindOf(%q) = %v", tt.kind, kindOf(tt.kind.String()))
			}
		})
	}
}

// recorder is the least http.ResponseWriter writeError needs.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// TestSchedule checks that the phases follow each other in order and cover the run.
func TestSchedule(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := schedule{start: t0, total: 10 * time.Second}
	tests := []struct {
		at       time.Duration
		phase    phase
		progress float64
	}{
		{-time.Second, healthy, 0},
		{0, healthy, 0},
		{time.Second, healthy, 0.5},
		{2 * time.Second, failing, 0},
		{3 * time.Second, failing, 0.4},
		{5 * time.Second, slow, 0.2},
		{5750 * time.Millisecond, slow, 0.5},
		{7 * time.Second, recovering, 0},
		{8500 * time.Millisecond, recovering, 0.5},
		{10 * time.Second, recovering, 1},
		{20 * time.Second, recovering, 1},
	}
	for _, tt := range tests {
		p, progress := s.at(t0.Add(tt.at))
		if p != tt.phase || progress < tt.progress-1e-9 || progress > tt.progress+1e-9 {
			t.Errorf("at(%v) = %v, %.3f; want %v, %.3f", tt.at, p, progress, tt.phase, tt.progress)
		}
	}
}

// TestSlowPhaseHoldsThenPassesTheTimeout checks the slow phase's shape: while the
// breaker closes again (the first third of the phase and a margin) every call answers
// well within the 200ms timeout; from slowPeak on every call takes longer than it; and
// the phase answers no errors, so its breaker trips come from timeouts alone.
func TestSlowPhaseHoldsThenPassesTheTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for i := range 1000 {
		progress := float64(i%100) / 100
		latency, fail := behaviour(slow, progress)
		if fail {
			t.Fatalf("behaviour(slow, %.2f) failed the call", progress)
		}
		if progress <= slowHold && latency > timeout/2 {
			t.Fatalf("behaviour(slow, %.2f) = %v, want ≤ %v while the latency holds", progress, latency, timeout/2)
		}
		if progress >= slowPeak && latency <= timeout {
			t.Fatalf("behaviour(slow, %.2f) = %v, want past the %v timeout", progress, latency, timeout)
		}
	}
	for _, d := range []time.Duration{6 * time.Second, 12 * time.Second, time.Minute} {
		r := recoveryTimeout(d)
		// The breaker, open at the end of the failing phase, must half-open while the
		// slow phase's latency still holds.
		if hold := time.Duration(slowHold * share[slow] * float64(d)); r >= hold {
			t.Errorf("recoveryTimeout(%v) = %v, want shorter than the slow phase's %v hold", d, r, hold)
		}
	}
	if r := recoveryTimeout(12 * time.Second); r != time.Second {
		t.Errorf("recoveryTimeout(12s) = %v, want the README's 1s", r)
	}
}

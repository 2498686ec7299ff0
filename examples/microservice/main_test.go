package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestRun runs the demo for 8 seconds, scrapes /metrics over HTTP while it runs, and
// checks what the README promises: the breaker opens while the downstream fails and
// closes after it recovers, the limiter rejects some calls, and everything shuts down.
func TestRun(t *testing.T) {
	cfg := defaultConfig()
	cfg.Duration = 8 * time.Second
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
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

	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	seen := map[string]bool{}
	scrapes := 0
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

	output := out.String()
	t.Logf("output:\n%s", output)
	if res.err != nil {
		t.Fatalf("run: %v", res.err)
	}
	if scrapes == 0 {
		t.Fatalf("no successful scrape of %q during the run", url)
	}
	for name := range wantSeries {
		if !seen[name] {
			t.Errorf("/metrics never showed %s (%v) in %d scrapes", name, wantSeries[name], scrapes)
		}
	}

	s := res.s
	opened, closed := s.opened()
	if opened == 0 {
		t.Errorf("the breaker never opened; transitions: %+v", s.Transitions)
	}
	if closed == 0 {
		t.Errorf("the breaker never closed after opening; transitions: %+v", s.Transitions)
	}
	if s.Limiter.Rejected == 0 {
		t.Errorf("the limiter rejected nothing: %+v", s.Limiter)
	}
	all := total(s.Phases)
	if all[kindOK] == 0 || all[kindCircuitOpen] == 0 {
		t.Errorf("want successes and circuit-open refusals, got %v", all)
	}
	if f := s.Phases[failing].requests(); s.Downstream[failing] >= f/2 {
		t.Errorf("the breaker should keep most of the failing phase's %d requests off the downstream; %d reached it", f, s.Downstream[failing])
	}
	if m := s.Metrics; m.TotalOperations == 0 || m.TotalOperations > all.requests() || m.CircuitBreakerTrips < uint64(opened) {
		t.Errorf("engine metrics disagree with the run: %d operations for %d requests, %d trips for %d opens seen",
			m.TotalOperations, all.requests(), m.CircuitBreakerTrips, opened)
	}

	for _, want := range []string{
		`breaker "downstream": closed -> open`,
		`breaker "downstream": half_open -> closed`,
		"summary after",
		"healthy", "failing", "slow", "recovering", "total",
		`limiter "gateway": admitted`,
		"servers and engine shut down cleanly",
	} {
		if !strings.Contains(output, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(output, "\x1b[") {
		t.Errorf("output to a non-terminal contains ANSI escapes")
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
		"zero duration": {RPS: 1, Workers: 1},
		"zero rps":      {Duration: time.Second, Workers: 1},
		"no workers":    {Duration: time.Second, RPS: 1},
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
		{5 * time.Second, slow, 0},
		{6 * time.Second, slow, 0.5},
		{7 * time.Second, recovering, 0},
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

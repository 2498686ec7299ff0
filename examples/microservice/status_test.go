package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
)

var statusURL = regexp.MustCompile(`status\s+(http://127\.0\.0\.1:\d+/debug/bulwark/)`)

// TestRunServesTheStatusPage runs a short demo: it prints the status page's URL, the
// page lists the gateway's breaker and limiter as JSON, and a page left open on its
// event stream does not hold up the demo's shutdown (the stream ends when the server
// shuts down).
func TestRunServesTheStatusPage(t *testing.T) {
	cfg := testConfig(3 * time.Second)
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

	var url string
	for url == "" {
		select {
		case res := <-done:
			t.Fatalf("the run ended before printing the status page's URL: %v\n%s", res.err, out)
		case <-time.After(50 * time.Millisecond):
		}
		if m := statusURL.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()

	body, err := scrape(client, url+"?format=json")
	if err != nil {
		t.Fatalf("GET %s?format=json: %v", url, err)
	}
	var s bulwarkhttp.StatusSnapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("not a status snapshot: %v\n%s", err, body)
	}
	if len(s.Breakers) != 1 || s.Breakers[0].Name != breakerName || len(s.Limiters) != 1 || s.Limiters[0].Name != limiterName {
		t.Fatalf("the status page lists breakers %+v and limiters %+v; want %q and %q", s.Breakers, s.Limiters, breakerName, limiterName)
	}
	if page, err := scrape(client, url); err != nil || !strings.Contains(page, "<title>bulwark status</title>") {
		t.Fatalf("GET %s: %v; want the HTML page", url, err)
	}

	// A page left open until the end.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := 0
	streamEnded := make(chan struct{})
	go func() {
		defer close(streamEnded)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				events++
			}
		}
	}()

	res := <-done
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, out)
	}
	<-streamEnded
	if events == 0 {
		t.Error("the open page received no event")
	}
	if !strings.Contains(out.String(), "servers and engine shut down cleanly") {
		t.Errorf("output lacks the clean shutdown:\n%s", out)
	}
}

package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: run stops the server,
// the client's connections and the engine.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example on 127.0.0.1 and checks what the client and the server saw.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	r, err := run(ctx, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{
		`(?m)^GET /stock/42 +200 item 42: 7 in stock$`,
		`(?m)^POST /orders +503 busy$`,
		`(?m)^POST /orders with Idempotency-Key +201 order created: \{"item":42\}$`,
		`(?m)^GET /slow +503 Service Unavailable$`,
		`(?m)^GET /stock/42 \(breaker open\) +error: circuit open`,
		`(?m)^breaker "shop": open after 7 failures$`, // 2 + 1 + 1 before, then 3 in a row
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("output lacks a line matching %s", want)
		}
	}
	if r.Hits["stock"] != 3 || r.Hits["orders"] != 2 || r.Hits["slow"] != 3 {
		t.Errorf("server hits %v; want stock 3 (two retried 503s), orders 2 (after the reset: one 503, one retry), slow 3", r.Hits)
	}
	if st := r.Metrics.Breakers["shop"].State; st != messages.Open {
		t.Errorf("breaker %v, want open", st)
	}
}

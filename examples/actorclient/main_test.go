package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: run stops the client
// actor, the engine and the actor system.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example and checks every result the actor printed. The results come
// back in any order, so each line is looked for on its own.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	r, err := run(ctx, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{
		`(?m)^-> quote-2 +rate_limit\(0\.2\)\.named\("quotes"\)$`,
		`(?m)^-> nightly-report +none$`,
		`(?m)^<- fetch-price +ok +attempts 3  EUR 42\.00$`,
		`(?m)^<- validate-order +permanent error, not retried +attempts 1  op "validate-order": order has no items$`,
		`(?m)^<- charge-card +timed out +attempts 2  .*timeout`,
		`(?m)^<- quote-1 +ok +attempts 1  quote quote-1`,
		`(?m)^<- quote-2 +rate limited \(retry in ~\d+s\) +attempts 0  .*rate limited`,
		`(?m)^<- nightly-report +cancelled \(deadline passed\) +attempts 1  .*deadline exceeded`,
		`(?m)^engine stats: 6 operations, 2 ok, 4 failed$`,
		`(?m)^  limiter "quotes": 1 allowed, 1 rejected$`,
		`(?m)^engine shut down; stopping the actor system$`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("output lacks a line matching %s", want)
		}
	}
	if r.OK != 2 || r.Failed != 4 || r.Stats.TotalOperations != 6 {
		t.Errorf("report = %+v, want 2 ok, 4 failed, 6 operations", r)
	}
}

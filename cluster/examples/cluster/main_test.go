//go:build clustertest

// The example forms a three-member cluster on 127.0.0.1: it runs with the other
// multi-member tests, without -race (go test -tags clustertest ./..., .ci/steps/30-cluster.sh).

package main

import (
	"strings"
	"testing"
	"time"
)

// TestExampleRunsTheFleetAndExits: the example shows the fleet-wide limit holding and a
// trip on one replica opening the others, and returns.
func TestExampleRunsTheFleetAndExits(t *testing.T) {
	var out strings.Builder
	if err := run(&out, 600*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"fleet limit held", "open on every replica"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want key
		n    int // metrics parsed
		ok   bool
	}{
		{"full", "BenchmarkBulwark/none/seq-2   \t 9114765\t  26.65 ns/op\t  0 B/op\t  0 allocs/op", key{"Bulwark", "none", "seq"}, 3, true},
		{"no procs suffix", "BenchmarkXRate/ratelimit/par128 100 228.2 ns/op", key{"XRate", "ratelimit", "par128"}, 1, true},
		{"dash in case", "BenchmarkBulwark/retry+breaker+ratelimit/seq-16 5 54.18 ns/op", key{"Bulwark", "retry+breaker+ratelimit", "seq"}, 1, true},
		{"window case", "BenchmarkGobreaker/breaker_rate_time/par128-16 100 81.5 ns/op 0 B/op 0 allocs/op", key{"Gobreaker", "breaker_rate_time", "par128"}, 3, true},
		{"custom metric", "BenchmarkIdle/breakers/n10000-2 1 2234081108 ns/op 2776 B/breaker", key{"Idle", "breakers", "n10000"}, 2, true},
		{"two levels only", "BenchmarkBulwark/none-2 5 1 ns/op", key{}, 0, false},
		{"header", "goos: linux", key{}, 0, false},
		{"no iterations", "BenchmarkBulwark/none/seq-2 --- FAIL: x", key{}, 0, false},
		{"odd fields", "BenchmarkBulwark/none/seq-2 5 1 ns/op 3", key{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ms, ok := parseLine(tt.line)
			if ok != tt.ok || k != tt.want || len(ms) != tt.n {
				t.Fatalf("parseLine(%q) = %v, %d metrics, %v; want %v, %d, %v", tt.line, k, len(ms), ok, tt.want, tt.n, tt.ok)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.xs); got != tt.want {
				t.Fatalf("median(%v) = %v, want %v", tt.xs, got, tt.want)
			}
		})
	}
	if !math.IsNaN(median(nil)) {
		t.Fatal("median of nothing is not NaN")
	}
}

func TestPairsAndTargets(t *testing.T) {
	const raw = `goos: linux
BenchmarkBulwark/breaker/seq-2 10 30 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker/seq-2 10 40 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker/seq-2 10 35 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker/par128-2 10 42 ns/op 0 B/op 0 allocs/op
BenchmarkGobreaker/breaker/seq-2 10 160 ns/op 0 B/op 0 allocs/op
BenchmarkFailsafe/breaker/seq-2 10 350 ns/op 384 B/op 14 allocs/op
BenchmarkBulwark/message/seq-2 10 3000 ns/op 200 B/op 3 allocs/op
`
	s := readRaw(t, raw)
	var out bytes.Buffer
	s.pairs(&out, "Bulwark")
	s.scaling(&out, "Bulwark")
	s.unpaired(&out)
	s.targets(&out)
	got := out.String()
	checkContains(t, got, []string{
		"| breaker | seq | Gobreaker | 35 | 160 | 0.22× | 0 | 0 | = |",
		"| breaker | seq | Failsafe | 35 | 350 | 0.10× | 0 | 14 | 0× |",
		"| breaker | 35 | 42 | 1.20× |",
		"| Bulwark/message/seq | 1 | 3000 ns/op, 200 B/op, 3 allocs/op |",
		"| circuit_breaker, closed |",
		"| none | ≤ 10 ns/op, 0 allocs | NaN ns/op, NaN allocs | not measured |",
	})
	if !strings.Contains(got, "| circuit_breaker, closed | ≤ 40 ns/op, 0 allocs; ≥ 4× faster than gobreaker; par128 ≤ 1.5× seq | 35 ns/op, 0 allocs; 35 ÷ 160 = 0.22×; 42 ÷ 35 = 1.20× | reached |") {
		t.Errorf("breaker target not reached:\n%s", got)
	}
}

// TestIssue12 checks the windowed-breaker rows: their peer pairs, their baseline rows
// (window ÷ consecutive breaker, slow-call ÷ plain), and the targets of issue 12 reached,
// missed and not measured.
func TestIssue12(t *testing.T) {
	const raw = `BenchmarkBulwark/breaker/seq-2 10 20 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker_rate_count/seq-2 10 24 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker_rate_count/par128-2 10 30 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker_rate_time/seq-2 10 26 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker_rate_time/par128-2 10 40 ns/op 0 B/op 0 allocs/op
BenchmarkBulwark/breaker_rate_count_slow/seq-2 10 60 ns/op 0 B/op 0 allocs/op
BenchmarkFailsafe/breaker_rate_count/seq-2 10 400 ns/op 384 B/op 14 allocs/op
BenchmarkFailsafe/breaker_rate_time/seq-2 10 500 ns/op 384 B/op 14 allocs/op
BenchmarkGobreaker/breaker_rate_time/seq-2 10 130 ns/op 0 B/op 0 allocs/op
`
	s := readRaw(t, raw)
	var out bytes.Buffer
	s.pairs(&out, "Bulwark")
	s.againstBaselines(&out, "Bulwark")
	s.scaling(&out, "Bulwark")
	s.unpaired(&out)
	s.targets(&out)
	got := out.String()
	checkContains(t, got, []string{
		// Bulwark ÷ peer.
		"| breaker_rate_count | seq | Failsafe | 24 | 400 | 0.06× | 0 | 14 | 0× |",
		"| breaker_rate_time | seq | Failsafe | 26 | 500 | 0.052× | 0 | 14 | 0× |",
		"| breaker_rate_time | seq | Gobreaker | 26 | 130 | 0.20× | 0 | 0 | = |",
		// Against the baselines.
		"| breaker_rate_count | breaker | seq | 24 | 20 | 1.20× | 0 |",
		"| breaker_rate_time | breaker | seq | 26 | 20 | 1.30× | 0 |",
		"| breaker_rate_count_slow | breaker_rate_count | seq | 60 | 24 | 2.50× | 0 |",
		// Contention.
		"| breaker_rate_count | 24 | 30 | 1.25× |",
		// No peer detects slow calls.
		"| Bulwark/breaker_rate_count_slow/seq | 1 | 60 ns/op, 0 B/op, 0 allocs/op |",
		// The targets.
		"### Targets of issue 12 (seq unless the row says otherwise)",
		"| rate breaker, count window, closed | 0 allocs; ≤ 1.25× bulwark's consecutive breaker; ≤ ¼ of failsafe-go's failure-rate breaker | 0 allocs; 24 ÷ 20 = 1.20×; 24 ÷ 400 = 0.06× | reached |",
		"| rate breaker, time window, closed | 0 allocs; ≤ 1.25× bulwark's consecutive breaker; ≤ ¼ of failsafe-go's failure-rate breaker | 0 allocs; 26 ÷ 20 = 1.30×; 26 ÷ 500 = 0.052× | missed |",
		"| rate breaker, count window, 128 goroutines | par128 ≤ 1.5× seq | 30 ÷ 24 = 1.25× | reached |",
		"| rate breaker, time window, 128 goroutines | par128 ≤ 1.5× seq | 40 ÷ 26 = 1.54× | missed |",
		"| rate breaker, count window, SlowCall set | 0 allocs; two clock reads, no more (stated by the implementation, not measured) | 0 allocs; 60 ÷ 24 = 2.50× (shown, not judged) | reached |",
		"| rate breaker, time window, SlowCall set | 0 allocs; two clock reads, no more (stated by the implementation, not measured) | NaN allocs; NaN ÷ 26 = NaN (shown, not judged) | not measured |",
	})
	// A baseline row needs both rows: no breaker_rate_time_slow, no row for it.
	if strings.Contains(got, "| breaker_rate_time_slow | breaker_rate_time |") {
		t.Errorf("baseline row without the case's row:\n%s", got)
	}
}

// TestBaselinesWithoutRows checks that the baseline table is left out when no pair has
// both rows, as in the bulk run that compare.sh feeds with -num ExecuteAll.
func TestBaselinesWithoutRows(t *testing.T) {
	s := readRaw(t, "BenchmarkExecuteAll/none/n100-2 10 2000 ns/op 0 B/op 0 allocs/op\n")
	var out bytes.Buffer
	s.againstBaselines(&out, "ExecuteAll")
	if out.Len() != 0 {
		t.Errorf("baseline table with no pair:\n%s", out.String())
	}
}

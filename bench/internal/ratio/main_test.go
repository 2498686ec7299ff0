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
	s := newResults()
	if err := s.read(strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.pairs(&out, "Bulwark")
	s.scaling(&out, "Bulwark")
	s.unpaired(&out)
	s.targets(&out)
	got := out.String()
	for _, want := range []string{
		"| breaker | seq | Gobreaker | 35 | 160 | 0.22× | 0 | 0 | = |",
		"| breaker | seq | Failsafe | 35 | 350 | 0.10× | 0 | 14 | 0× |",
		"| breaker | 35 | 42 | 1.20× |",
		"| Bulwark/message/seq | 1 | 3000 ns/op, 200 B/op, 3 allocs/op |",
		"| circuit_breaker, closed |",
		"| none | ≤ 10 ns/op, 0 allocs | NaN ns/op, NaN allocs | not measured |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "| circuit_breaker, closed | ≤ 40 ns/op, 0 allocs; ≥ 4× faster than gobreaker; par128 ≤ 1.5× seq | 35 ns/op, 0 allocs; 35 ÷ 160 = 0.22×; 42 ÷ 35 = 1.20× | reached |") {
		t.Errorf("breaker target not reached:\n%s", got)
	}
}

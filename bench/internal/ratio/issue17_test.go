package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestMedianOrders checks the order statistics of the median's 95 % interval against
// the ones go-moremath's QuantileCI(n, 0.5, 0.95), benchstat's, gives for these n.
func TestMedianOrders(t *testing.T) {
	want := map[int][2]int{2: {0, 3}, 5: {0, 5}, 6: {1, 6}, 7: {1, 7}, 8: {1, 7}, 10: {2, 9}, 12: {3, 10}, 20: {6, 15}, 30: {10, 21}}
	for n, w := range want {
		if lo, hi := medianOrders(n); lo != w[0] || hi != w[1] {
			t.Errorf("medianOrders(%d) = %d, %d; want %d, %d", n, lo, hi, w[0], w[1])
		}
	}
}

func TestMedianInterval(t *testing.T) {
	med, lo, hi := medianInterval([]float64{14, 10, 13, 11, 12, 20})
	if med != 12.5 || lo != 10 || hi != 20 {
		t.Errorf("six samples: %v [%v, %v]; want 12.5 [10, 20]", med, lo, hi)
	}
	med, lo, hi = medianInterval([]float64{3, 1, 2})
	if med != 2 || !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Errorf("three samples: %v [%v, %v]; want 2 and infinite bounds", med, lo, hi)
	}
	if med, _, _ := medianInterval(nil); !math.IsNaN(med) {
		t.Errorf("no samples: median %v, want NaN", med)
	}
}

// samples returns n result lines of name with ns/op values from lo to hi.
func samples(name string, allocs int, vals ...float64) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "Benchmark%s-2 100 %g ns/op 0 B/op %d allocs/op\n", name, v, allocs)
	}
	return b.String()
}

// TestIssue17Table checks issue 17's table: a pass, a miss, a verdict within noise,
// an allocation check, the yardstick of another branch found by its name, and a row
// whose benchmark is absent.
func TestIssue17Table(t *testing.T) {
	raw := samples("Floor/floor/seq", 0, 10, 10, 10, 10, 10, 10) +
		samples("Bulwark/none/seq", 0, 14, 14, 14, 14, 14, 14) + // 1.4×: pass
		samples("Bulwark/retry/seq", 0, 15, 16, 17, 17, 18, 19) + // 1.7×: miss
		samples("Failsafe/retry/seq", 14, 600, 600, 600, 600, 600, 600) +
		samples("Bulwark/breaker/seq", 0, 18, 19, 20, 20, 21, 22) + // 2.0×, 1.8–2.2: pass, straddles
		samples("Bulwark/breaker_open/seq", 2, 70, 70, 70, 70, 70, 70) +
		samples("Gobreaker/breaker_open/seq", 0, 80, 80, 80, 80, 80, 80) +
		samples("GoroutineTimeout/timeout/seq", 3, 1000, 1000, 1000, 1000, 1000, 1000) +
		samples("Bulwark/timeout/seq", 2, 700, 700, 700, 700, 700, 700) +
		samples("Plan/plan/seq", 0, 5, 5) + samples("Plan/hoisted/seq", 0, 5, 5, 5) +
		"BenchmarkIdle/breakers/n10000-2 1 3e8 ns/op 2500 B/breaker\n" +
		"BenchmarkIdle/actors/n10000-2 1 1e8 ns/op 1800 B/actor\n"
	s := readRaw(t, raw)
	var out bytes.Buffer
	s.issue17(&out)
	got := out.String()
	checkContains(t, got, []string{
		"| none | ≤ 1.5 × floor | 14 ÷ 10 = 1.40× | 1.40–1.40× | pass |",
		"| none | 0 allocs | 0 allocs/op | – | pass |",
		"| retry(3), success | ≤ 1.6 × floor | 17 ÷ 10 = 1.70× | 1.50–1.90× | miss (the interval straddles the target) |",
		"| retry(3), success | ≤ 1/40 of failsafe-go retry | 17 ÷ 600 = 0.028× | 0.025–0.032× | miss (the interval straddles the target) |",
		"| breaker closed, consecutive | ≤ 2 × floor | 20 ÷ 10 = 2.00× | 1.80–2.20× | pass (the interval straddles the target) |",
		"| breaker closed, consecutive | ≤ 1/4 of gobreaker v2 | no Gobreaker/breaker/seq in this run | – | not measured |",
		"| refusal, open breaker | ≤ 1.0 × gobreaker's refusal | 70 ÷ 80 = 0.88× | 0.88–0.88× | pass |",
		"| refusal, open breaker | ≤ 1 alloc (the *policy.Error) | 2 allocs/op | – | miss |",
		"| timeout (pessimistic, the default) | ≤ 0.8 × goroutine-timeout | 700 ÷ 1000 = 0.70× | 0.70–0.70× | pass |",
		"| timeout (cooperative) | ≤ 1/4 of failsafe-go timeout | no Bulwark/timeout-coop/seq in this run | – | not measured |",
		"| ExecuteAll of 100 functions that block 1 ms, under Retry(3) | wall time ≤ 5 × the block time | no ExecuteAll/<a case that blocks> in this run | – | not measured |",
		// One run of each: the bounds are infinite.
		"| idle named breaker | ≤ max(2 KiB, 1.25 × a bare protoactor actor, same mailbox) | 2500 B/breaker; bare actor 1800 B, limit 2250 B | ∞–∞ B vs limit 2048–∞ B | miss |",
		"| idle named limiter | ≤ max(2 KiB, 1.25 × a bare protoactor actor, same mailbox) | no Idle/limiters/n10000 in this run | – | not measured |",
		// Fewer than 6 runs: an unbounded interval, no straddling.
		"| ExecutePlan with an inline Combine built once | ≤ 1.05 × the same plan hoisted | 5 ÷ 5 = 1.00× | ∞ | pass |",
		"| hedge | no target (shown) | no BudgetHedge/<a hedge case>/seq in this run | – | not measured |",
	})
	// Every row of the issue is printed, measured or not.
	for _, tg := range issue17Targets {
		if !strings.Contains(got, "| "+tg.kase+" |") {
			t.Errorf("no line for %q", tg.kase)
		}
	}
}

// TestIssue17NewKinds checks that a new kind's case is found, under its own name or a
// longer one, in BenchmarkBulwark or in BenchmarkBudgetHedge, paired with failsafe-go's
// same case, and shown without a verdict.
func TestIssue17NewKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want []string
	}{
		{"longer names in BenchmarkBulwark",
			samples("Bulwark/ratelimit/seq", 0, 40, 40, 40, 40, 40, 40) +
				samples("Bulwark/bulkhead_admitted/seq", 0, 50, 50, 50, 50, 50, 50) +
				samples("Failsafe/bulkhead_admitted/seq", 9, 500, 500, 500, 500, 500, 500) +
				samples("Bulwark/retry+budget/seq", 0, 30, 30, 30, 30, 30, 30) +
				samples("Failsafe/retry+budget/seq", 9, 900, 900, 900, 900, 900, 900) +
				samples("Bulwark/hedge/seq", 0, 30, 30, 30, 30, 30, 30) +
				samples("ExecuteAll/retry_block1ms/n100", 9, 2e6, 2e6, 2e6, 2e6, 2e6, 2e6),
			[]string{
				"| bulkhead, admitted | ≤ 1.5 × bulwark's rate limit admitted (BH-8: the same class) | 50 ÷ 40 = 1.25× | 1.25–1.25× | pass |",
				"| bulkhead, admitted | no target (shown) | 50 ÷ 500 (Failsafe/bulkhead_admitted/seq) = 0.10× | 0.10–0.10× | shown |",
				"| retry budget | no target (shown) | 30 ÷ 900 (Failsafe/retry+budget/seq) = 0.033× | 0.033–0.033× | shown |",
				"| hedge | no target (shown) | no Failsafe's benchmark of the same case in this run | – | not measured |",
				"| ExecuteAll of 100 functions that block 1 ms, under Retry(3) | wall time ≤ 5 × the block time | 2000000 ns/op ÷ 1 ms = 2.00× | 2.00–2.00× | pass |",
			}},
		{"BenchmarkBudgetHedge and the fallback case",
			samples("BudgetHedge/hedge/seq", 0, 60, 60, 60, 60, 60, 60) +
				samples("FailsafeBudgetHedge/hedge/seq", 9, 600, 600, 600, 600, 600, 600) +
				samples("BudgetHedge/retry_budget/seq", 0, 40, 40, 40, 40, 40, 40) +
				samples("FailsafeBudgetHedge/retry_budget/seq", 9, 800, 800, 800, 800, 800, 800) +
				samples("Bulwark/fallback/seq", 0, 30, 30, 30, 30, 30, 30) +
				samples("Failsafe/fallback/seq", 9, 300, 300, 300, 300, 300, 300),
			[]string{
				"| hedge | no target (shown) | 60 ÷ 600 (FailsafeBudgetHedge/hedge/seq) = 0.10× | 0.10–0.10× | shown |",
				"| retry budget | no target (shown) | 40 ÷ 800 (FailsafeBudgetHedge/retry_budget/seq) = 0.05× | 0.05–0.05× | shown |",
				"| fallback | no target (shown) | 30 ÷ 300 (Failsafe/fallback/seq) = 0.10× | 0.10–0.10× | shown |",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := readRaw(t, tc.raw)
			var out bytes.Buffer
			s.issue17(&out)
			checkContains(t, out.String(), tc.want)
		})
	}
}

func TestReplaceBetweenMarkers(t *testing.T) {
	doc := "# x\n\nbefore\n" + readmeBegin + "\nold table\n" + readmeEnd + "\nafter\n"
	got, err := replaceBetweenMarkers(doc, "new table")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# x\n\nbefore\n" + readmeBegin + "\nnew table\n" + readmeEnd + "\nafter\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Idempotent: the same block again changes nothing.
	if again, err := replaceBetweenMarkers(got, "new table\n"); err != nil || again != got {
		t.Errorf("second rewrite: %q, %v", again, err)
	}
	for name, bad := range map[string]string{
		"no markers":   "# x\n",
		"no end":       readmeBegin + "\n",
		"two begins":   readmeBegin + readmeBegin + readmeEnd,
		"end is first": readmeEnd + "\n" + readmeBegin + "\n",
	} {
		if _, err := replaceBetweenMarkers(bad, "t"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRewriteReadme checks the file rewrite end to end: the table lands between the
// markers, the rest of the file is kept, and a file without markers is left alone.
func TestRewriteReadme(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/README.md"
	writeFile(t, path, "intro\n"+readmeBegin+"\nstale\n"+readmeEnd+"\noutro\n")
	s := readRaw(t, samples("Floor/floor/seq", 0, 10, 10, 10, 10, 10, 10)+samples("Bulwark/none/seq", 0, 12, 12, 12, 12, 12, 12))
	if err := s.rewriteReadme(path, "Measured on a test."); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	checkContains(t, got, []string{
		"intro\n" + readmeBegin + "\n<!-- Generated by bench/compare.sh",
		"Measured on a test.",
		"| none | ≤ 1.5 × floor | 12 ÷ 10 = 1.20× | 1.20–1.20× | pass |",
		readmeEnd + "\noutro\n",
	})
	if strings.Contains(got, "stale") {
		t.Errorf("old block kept:\n%s", got)
	}
	bare := dir + "/plain.md"
	writeFile(t, bare, "no markers\n")
	if err := s.rewriteReadme(bare, ""); err == nil {
		t.Error("no error for a file without markers")
	}
	if got := readFile(t, bare); got != "no markers\n" {
		t.Errorf("file without markers changed: %q", got)
	}
}

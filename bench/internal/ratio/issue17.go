package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Issue 17 states every target as a ratio against a yardstick or a peer measured in the
// same run, so that it holds on any machine. Its table (issue17Targets) has one line per
// check: a ratio with its limit, or an allocation count. A ratio line shows the two
// medians, the ratio of the medians, the interval of the ratio implied by benchstat's
// 95 % intervals of the two medians, and the verdict on the medians. A line whose
// benchmark is not in the results (it lands with another branch, or the run was a
// subset) reads "not measured", so the table works before and after every merge.

// pick finds the benchmark a check reads.
type pick struct {
	desc string // how the table names it when it is missing
	find func(s *results) (key, bool)
}

// exact picks the benchmark lib/kase/level.
func exact(lib, kase, level string) pick {
	k := bk(lib, kase, level)
	return pick{desc: k.String(), find: func(s *results) (key, bool) {
		_, ok := s.samples[k]
		return k, ok
	}}
}

// firstOf picks the first of ps that is in the results.
func firstOf(desc string, ps ...pick) pick {
	return pick{desc: desc, find: func(s *results) (key, bool) {
		for _, p := range ps {
			if k, ok := p.find(s); ok {
				return k, true
			}
		}
		return key{}, false
	}}
}

// matching picks the first benchmark, in the order the results list them, for which
// match is true.
func matching(desc string, match func(key) bool) pick {
	return pick{desc: desc, find: func(s *results) (key, bool) {
		for _, k := range s.order {
			if match(k) {
				return k, true
			}
		}
		return key{}, false
	}}
}

// The yardsticks of issue 17, in bench/peers.
var (
	// floor is BenchmarkFloor/floor/seq: a direct call plus two uncontended atomic adds.
	floor = exact("Floor", "floor", "seq")
	// goroutineTimeout is the timeout a Go user writes by hand: context.WithTimeout, go
	// fn(ctx), a buffered result channel and a select. Its benchmark comes with the
	// timeout stage's branch; any seq benchmark whose library or case names a goroutine
	// timeout is taken, so the table does not depend on its exact spelling.
	goroutineTimeout = firstOf("goroutine-timeout yardstick",
		exact("GoroutineTimeout", "timeout", "seq"),
		exact("Goroutine", "timeout", "seq"),
		exact("Yardstick", "goroutine-timeout", "seq"),
		matching("", func(k key) bool {
			name := strings.ToLower(k.lib + "/" + k.kase)
			return k.level == "seq" && strings.Contains(name, "goroutine") && strings.Contains(name, "timeout")
		}))
)

// line17 is the outcome of one check: what was measured, the interval, the verdict.
type line17 struct {
	measured, interval string
	verdict            verdict
	straddles          bool // the interval reaches both sides of the limit
}

// check17 is one check of a target of issue 17.
type check17 struct {
	goal string
	eval func(s *results) line17
}

// target17 is one case of issue 17's table and its checks.
type target17 struct {
	kase   string
	checks []check17
}

// stats returns the median of k's unit and its interval; ok is false when k has no
// sample of unit.
func (s *results) stats(k key, unit string) (med, lo, hi float64, ok bool) {
	xs := s.samples[k][unit]
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), false
	}
	med, lo, hi = medianInterval(xs)
	return med, lo, hi, true
}

// missing is the line of a check whose benchmark is absent.
func missing(p pick) line17 {
	return line17{measured: "no " + p.desc + " in this run", interval: "–", verdict: notMeasured}
}

// ratioAtMost checks that the ns/op median of a is at most limit times b's.
func ratioAtMost(goal string, a, b pick, limit float64) check17 {
	return metricRatioAtMost(goal, a, b, "ns/op", "ns/op", limit)
}

// metricRatioAtMost checks that a's median of unitA is at most limit times b's median
// of unitB.
func metricRatioAtMost(goal string, a, b pick, unitA, unitB string, limit float64) check17 {
	return check17{goal: goal, eval: func(s *results) line17 {
		ka, okA := a.find(s)
		kb, okB := b.find(s)
		switch {
		case !okA:
			return missing(a)
		case !okB:
			return missing(b)
		}
		am, alo, ahi, okA := s.stats(ka, unitA)
		bm, blo, bhi, okB := s.stats(kb, unitB)
		if !okA || !okB {
			return line17{measured: "no " + unitA + " or " + unitB, interval: "–", verdict: notMeasured}
		}
		r := am / bm
		lo, hi := ratioInterval(alo, ahi, blo, bhi)
		return line17{
			measured:  fmt.Sprintf("%s ÷ %s = %s", num3(am), num3(bm), ratio(am, bm)),
			interval:  rangeOf(lo, hi),
			verdict:   judge(r <= limit, r),
			straddles: lo <= limit && limit < hi,
		}
	}}
}

// constRatioAtMost checks that a's median of unit, divided by the constant base (named
// baseName), is at most limit: a wall time against the time its functions block.
func constRatioAtMost(goal string, a pick, unit string, base float64, baseName string, limit float64) check17 {
	return check17{goal: goal, eval: func(s *results) line17 {
		ka, ok := a.find(s)
		if !ok {
			return missing(a)
		}
		am, alo, ahi, ok := s.stats(ka, unit)
		if !ok {
			return line17{measured: "no " + unit, interval: "–", verdict: notMeasured}
		}
		r := am / base
		if math.IsInf(alo, 0) || math.IsInf(ahi, 0) {
			alo, ahi = math.Inf(-1), math.Inf(1)
		}
		return line17{
			measured:  fmt.Sprintf("%s %s ÷ %s = %s", num3(am), unit, baseName, ratio(am, base)),
			interval:  rangeOf(alo/base, ahi/base),
			verdict:   judge(r <= limit, r),
			straddles: alo/base <= limit && limit < ahi/base,
		}
	}}
}

// allocsAtMost checks that a's allocs/op median is at most n.
func allocsAtMost(a pick, n float64) check17 {
	goal := "0 allocs"
	if n == 1 {
		goal = "≤ 1 alloc (the *policy.Error)"
	} else if n != 0 {
		goal = "≤ " + num3(n) + " allocs"
	}
	return check17{goal: goal, eval: func(s *results) line17 {
		ka, ok := a.find(s)
		if !ok {
			return missing(a)
		}
		m, _, _, ok := s.stats(ka, "allocs/op")
		if !ok {
			return line17{measured: "no allocs/op (run with -benchmem)", interval: "–", verdict: notMeasured}
		}
		return line17{measured: num3(m) + " allocs/op", interval: "–", verdict: judge(m <= n, m)}
	}}
}

// idleAtMost checks an idle named actor's memory, a's median of unit: at most 2 KiB, or
// 1.25 times a bare protoactor actor with the same mailbox, whichever is larger.
func idleAtMost(a pick, unit string) check17 {
	bare := exact("Idle", "actors", "n10000")
	return check17{goal: "≤ max(2 KiB, 1.25 × a bare protoactor actor, same mailbox)", eval: func(s *results) line17 {
		ka, ok := a.find(s)
		if !ok {
			return missing(a)
		}
		kb, ok := bare.find(s)
		if !ok {
			return missing(bare)
		}
		am, alo, ahi, okA := s.stats(ka, unit)
		bm, blo, bhi, okB := s.stats(kb, "B/actor")
		if !okA || !okB {
			return line17{measured: "no " + unit + " or B/actor", interval: "–", verdict: notMeasured}
		}
		limit, lo, hi := max(2048, 1.25*bm), max(2048, 1.25*blo), max(2048, 1.25*bhi)
		return line17{
			measured:  fmt.Sprintf("%s %s; bare actor %s B, limit %s B", num3(am), unit, num3(bm), num3(limit)),
			interval:  bytesRange(alo, ahi) + " B vs limit " + bytesRange(lo, hi) + " B",
			verdict:   judge(am <= limit, am, bm),
			straddles: !(ahi <= lo || alo > hi),
		}
	}}
}

// shownAgainst prints a ÷ b without judging it (no target is stated): "shown" when
// both were measured.
func shownAgainst(a, b pick) check17 {
	return check17{goal: "no target (shown)", eval: func(s *results) line17 {
		ka, okA := a.find(s)
		kb, okB := b.find(s)
		switch {
		case !okA:
			return missing(a)
		case !okB:
			return missing(b)
		}
		am, alo, ahi, okA := s.stats(ka, "ns/op")
		bm, blo, bhi, okB := s.stats(kb, "ns/op")
		if !okA || !okB {
			return line17{measured: "no ns/op", interval: "–", verdict: notMeasured}
		}
		lo, hi := ratioInterval(alo, ahi, blo, bhi)
		return line17{
			measured: fmt.Sprintf("%s ÷ %s (%s) = %s", num3(am), num3(bm), kb, ratio(am, bm)),
			interval: rangeOf(lo, hi),
			verdict:  shownVerdict,
		}
	}}
}

// shownVerdict marks a line printed without a target.
const shownVerdict verdict = -1

// newKind picks Bulwark's seq benchmark of a kind another branch adds (bulkhead,
// fallback, hedge, budget): the case named kind, or, failing that, the first seq case
// whose name contains kind ("retry+budget", "bulkhead_admitted").
func newKind(kind string) pick {
	return firstOf("Bulwark/<a "+kind+" case>/seq",
		exact("Bulwark", kind, "seq"),
		matching("", func(k key) bool {
			return k.lib == "Bulwark" && k.level == "seq" && strings.Contains(k.kase, kind)
		}))
}

// budgetHedge picks bench's BenchmarkBudgetHedge case named kind, or the first whose name
// contains it ("retry_budget"), at seq; peerOf("Failsafe", ...) pairs it with
// BenchmarkFailsafeBudgetHedge's same case. A Bulwark case of the kind comes first.
func budgetHedge(kind string) pick {
	return firstOf("BudgetHedge/<a "+kind+" case>/seq",
		newKind(kind),
		exact("BudgetHedge", kind, "seq"),
		matching("", func(k key) bool {
			return k.lib == "BudgetHedge" && k.level == "seq" && strings.Contains(k.kase, kind)
		}))
}

// peerOf picks lib's benchmark of the case and level that a picks.
func peerOf(lib string, a pick) pick {
	return pick{desc: lib + "'s benchmark of the same case", find: func(s *results) (key, bool) {
		ka, ok := a.find(s)
		if !ok {
			return key{}, false
		}
		k := bk(lib, ka.kase, ka.level)
		if ka.lib != "Bulwark" {
			k.lib = lib + ka.lib // BenchmarkBudgetHedge's peer is BenchmarkFailsafeBudgetHedge
		}
		_, ok = s.samples[k]
		return k, ok
	}}
}

func bulwark(kase string) pick  { return exact("Bulwark", kase, "seq") }
func failsafe(kase string) pick { return exact("Failsafe", kase, "seq") }

// blockTime is how long each function of the blocking ExecuteAll case blocks.
const blockTime = 1e6 // ns

// issue17Targets is issue 17's table, row by row (sequential unless the goal says).
var issue17Targets = []target17{
	{"none", []check17{
		ratioAtMost("≤ 1.5 × floor", bulwark("none"), floor, 1.5),
		allocsAtMost(bulwark("none"), 0),
	}},
	{"retry(3), success", []check17{
		ratioAtMost("≤ 1.6 × floor", bulwark("retry"), floor, 1.6),
		ratioAtMost("≤ 1/40 of failsafe-go retry", bulwark("retry"), failsafe("retry"), 1.0/40),
		allocsAtMost(bulwark("retry"), 0),
	}},
	{"breaker closed, consecutive", []check17{
		ratioAtMost("≤ 2 × floor", bulwark("breaker"), floor, 2),
		ratioAtMost("≤ 1/4 of gobreaker v2", bulwark("breaker"), exact("Gobreaker", "breaker", "seq"), 0.25),
		allocsAtMost(bulwark("breaker"), 0),
	}},
	{"breaker closed, rate mode (count window)", []check17{
		ratioAtMost("≤ 2 × floor", bulwark("breaker_rate_count"), floor, 2),
		ratioAtMost("≤ 1/4 of gobreaker v2 (rolling window; it has no count window)",
			bulwark("breaker_rate_count"), exact("Gobreaker", "breaker_rate_time", "seq"), 0.25),
		allocsAtMost(bulwark("breaker_rate_count"), 0),
	}},
	{"breaker closed, rate mode (time window)", []check17{
		ratioAtMost("≤ 2 × floor", bulwark("breaker_rate_time"), floor, 2),
		ratioAtMost("≤ 1/4 of gobreaker v2 (rolling window)",
			bulwark("breaker_rate_time"), exact("Gobreaker", "breaker_rate_time", "seq"), 0.25),
		allocsAtMost(bulwark("breaker_rate_time"), 0),
	}},
	{"rate limit admitted", []check17{
		ratioAtMost("≤ 1/2 of x/time/rate Allow", bulwark("ratelimit"), exact("XRate", "ratelimit", "seq"), 0.5),
		ratioAtMost("128 goroutines ≤ 1.5 × its sequential figure",
			exact("Bulwark", "ratelimit", "par128"), bulwark("ratelimit"), 1.5),
		allocsAtMost(bulwark("ratelimit"), 0),
	}},
	{"timeout (pessimistic, the default)", []check17{
		ratioAtMost("≤ 0.8 × goroutine-timeout", bulwark("timeout"), goroutineTimeout, 0.8),
	}},
	{"timeout (cooperative)", []check17{
		ratioAtMost("≤ 1/4 of failsafe-go timeout", bulwark("timeout-coop"), failsafe("timeout"), 0.25),
	}},
	{"retry+breaker+timeout", []check17{
		ratioAtMost("pessimistic ≤ 1/2 of failsafe-go's same",
			bulwark("retry+breaker+timeout"), failsafe("retry+breaker+timeout"), 0.5),
		ratioAtMost("cooperative ≤ 1/4 of failsafe-go's same",
			bulwark("retry+breaker+timeout-coop"), failsafe("retry+breaker+timeout"), 0.25),
	}},
	{"retry+breaker+rate limit", []check17{
		ratioAtMost("≤ 3 × floor", bulwark("retry+breaker+ratelimit"), floor, 3),
		allocsAtMost(bulwark("retry+breaker+ratelimit"), 0),
	}},
	{"ExecutePlan with an inline Combine built once", []check17{
		ratioAtMost("≤ 1.05 × the same plan hoisted", exact("Plan", "plan", "seq"), exact("Plan", "hoisted", "seq"), 1.05),
		allocsAtMost(exact("Plan", "plan", "seq"), 0),
	}},
	{"ExecuteAll of 100 quick functions under None()", []check17{
		ratioAtMost("≤ 0.8 × 100 single calls",
			exact("ExecuteAll", "none", "n100"), exact("ExecuteSingle", "none", "n100"), 0.8),
	}},
	{"ExecuteAll of 100 functions that block 1 ms, under Retry(3)", []check17{
		constRatioAtMost("wall time ≤ 5 × the block time",
			matching("ExecuteAll/<a case that blocks>", func(k key) bool {
				return k.lib == "ExecuteAllBlocking" ||
					k.lib == "ExecuteAll" && (strings.Contains(k.kase, "block") || strings.Contains(k.kase, "sleep"))
			}), "ns/op", blockTime, "1 ms", 5),
	}},
	{"message API round trip", []check17{
		ratioAtMost("≤ 1.5 × bare protoactor Send + reply channel", bulwark("message"), exact("Protoactor", "message", "seq"), 1.5),
	}},
	{"refusal, open breaker", []check17{
		ratioAtMost("≤ 1.0 × gobreaker's refusal", bulwark("breaker_open"), exact("Gobreaker", "breaker_open", "seq"), 1),
		allocsAtMost(bulwark("breaker_open"), 1),
	}},
	{"refusal, empty limiter", []check17{
		ratioAtMost("≤ 1.0 × x/time/rate's refusal", bulwark("ratelimit_rejected"), exact("XRate", "ratelimit_rejected", "seq"), 1),
		allocsAtMost(bulwark("ratelimit_rejected"), 1),
	}},
	{"idle named breaker", []check17{idleAtMost(exact("Idle", "breakers", "n10000"), "B/breaker")}},
	{"idle named limiter", []check17{idleAtMost(exact("Idle", "limiters", "n10000"), "B/limiter")}},
	// The new kinds have peers but no target of issue 17; BH-8 asks the bulkhead's
	// admitted path to be in the rate limiter's class.
	{"bulkhead, admitted", []check17{
		ratioAtMost("≤ 1.5 × bulwark's rate limit admitted (BH-8: the same class)",
			newKind("bulkhead"), bulwark("ratelimit"), 1.5),
		shownAgainst(newKind("bulkhead"), peerOf("Failsafe", newKind("bulkhead"))),
	}},
	{"fallback", []check17{shownAgainst(newKind("fallback"), peerOf("Failsafe", newKind("fallback")))}},
	{"hedge", []check17{shownAgainst(budgetHedge("hedge"), peerOf("Failsafe", budgetHedge("hedge")))}},
	{"retry budget", []check17{shownAgainst(budgetHedge("budget"), peerOf("Failsafe", budgetHedge("budget")))}},
}

// result17 is the text of a verdict in issue 17's table.
func result17(l line17) string {
	var v string
	switch l.verdict {
	case reached:
		v = "pass"
	case missed:
		v = "miss"
	case shownVerdict:
		return "shown"
	default:
		return "not measured"
	}
	if l.straddles && !strings.Contains(l.interval, "∞") {
		v += " (the interval straddles the target)"
	}
	return v
}

// issue17 writes issue 17's table: every row, each check on a line of its own.
func (s *results) issue17(w io.Writer) {
	fmt.Fprintln(w, "### Targets of issue 17 (ratios in one run; seq unless the target says otherwise)")
	fmt.Fprintln(w)
	s.issue17Table(w)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Medians of every run; the interval is the range of the ratio allowed by benchstat's 95 % intervals")
	fmt.Fprintln(w, "of the two medians (∞ with fewer than 6 runs). The verdict is on the medians.")
	fmt.Fprintln(w)
}

// issue17Table writes the table alone, header included.
func (s *results) issue17Table(w io.Writer) {
	fmt.Fprintln(w, "| case | target | measured | 95 % interval | result |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, t := range issue17Targets {
		for _, c := range t.checks {
			l := c.eval(s)
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.kase, c.goal, l.measured, l.interval, result17(l))
		}
	}
}

// rangeOf prints an interval of ratios, lo–hi×, or ∞ when it is unbounded.
func rangeOf(lo, hi float64) string {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return "∞"
	}
	return bound(lo, func(x float64) string { return strings.TrimSuffix(ratio(x, 1), "×") }) + "–" +
		bound(hi, func(x float64) string { return ratio(x, 1) })
}

// bytesRange prints an interval of sizes, lo–hi.
func bytesRange(lo, hi float64) string { return bound(lo, num3) + "–" + bound(hi, num3) }

// bound prints an interval's bound x with format, or ∞.
func bound(x float64, format func(float64) string) string {
	if math.IsInf(x, 0) {
		return "∞"
	}
	return format(x)
}

package main

import (
	"math"
	"slices"
)

// confidence is the level of every interval the tool prints: benchstat's default.
const confidence = 0.95

// minSamples is the fewest samples that give a median a finite interval at confidence
// (benchstat says so too: "need >= 6 samples").
const minSamples = 6

// medianInterval returns the median of xs and the bounds of its distribution-free
// confidence interval at level confidence, as benchstat (x/perf/benchmath's
// AssumeNothing) computes it: two order statistics of the sorted sample, chosen so that
// the binomial(n, ½) probability of the median lying between them reaches the level.
// With fewer than minSamples samples a bound is infinite; with none all three are NaN.
func medianInterval(xs []float64) (med, lo, hi float64) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	med = median(xs)
	loOrder, hiOrder := medianOrders(n)
	lo, hi = math.Inf(-1), math.Inf(1)
	if loOrder >= 1 {
		lo = xs[loOrder-1]
	}
	if hiOrder <= n {
		hi = xs[hiOrder-1]
	}
	return med, lo, hi
}

// medianOrders returns the 1-based order statistics (lo, hi) that bound the median of
// n samples at level confidence; lo 0 or hi n+1 mean the bound is infinite. It grows
// the interval of counts [l, r) around the middle of binomial(n, ½), one count at a
// time on the side of greater probability (the left on a tie), until the probability
// inside reaches the level: the exact method of go-moremath's QuantileCI, which
// benchstat uses for n ≤ 30 (above, it switches to a normal approximation that gives
// the same orders or one closer to the middle).
func medianOrders(n int) (lo, hi int) {
	pmf := func(k int) float64 {
		if k < 0 || k > n {
			return 0
		}
		return binomialHalf(n, k)
	}
	x := int(math.Ceil(float64(n+1)*0.5) - 1)
	accum := pmf(x)
	l, r := x, x+1
	lp, rp := pmf(l-1), pmf(r)
	for accum < confidence && (lp > 0 || rp > 0) {
		if lp >= rp {
			accum += lp
			l--
			lp = pmf(l - 1)
		} else {
			accum += rp
			r++
			rp = pmf(r)
		}
	}
	return max(l, 0), min(r, n+1)
}

// binomialHalf returns C(n, k) / 2^n, the probability of k heads in n fair tosses.
func binomialHalf(n, k int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k) - float64(n)*math.Ln2)
}

// ratioInterval returns the bounds of a ÷ b implied by the two medians' intervals:
// from a's low bound over b's high one to a's high bound over b's low one. It is
// conservative (both medians at their worst at once), which is what a target needs.
// When any bound is infinite (too few runs), so are both.
func ratioInterval(aLo, aHi, bLo, bHi float64) (lo, hi float64) {
	for _, x := range []float64{aLo, aHi, bLo, bHi} {
		if math.IsInf(x, 0) {
			return math.Inf(-1), math.Inf(1)
		}
	}
	return aLo / bHi, aHi / bLo
}

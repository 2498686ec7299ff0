// Command ratio reads the raw output of go test -bench runs and prints, as Markdown,
// the median of every metric and the ratio of one library's benchmarks to every other
// library's benchmark of the same case and concurrency level.
//
// Benchmarks must be named Benchmark<Library>/<case>/<level> (see package bench).
// Lines of any other shape are ignored, so whole go test logs can be fed in.
//
// Usage:
//
//	go run ./bench/internal/ratio [-num Bulwark] [-unpaired] [-targets] file...
//	go run ./bench/internal/ratio -readme README.md [-note text] file...
//
// It prints num ÷ peer for ns/op and allocs/op, each row of num paired with every other
// library's row of the same case and level, num's cases against a baseline case of its
// own (a windowed breaker against the consecutive one, say: see baselines), and the
// contention cost of num (par128 ÷ seq per case). With -unpaired it also lists, with
// all their metrics, the rows that have no row of the same case and level in another
// library (the memory benchmarks, say); with -targets it checks the targets of bulwark's
// issues 17 (every row, ratios with benchstat's intervals), 6 and 12.
//
// With -readme it prints nothing: it rewrites the lines of the named file between
// <!-- bench:begin --> and <!-- bench:end --> with issue 17's table (after -note, a
// line saying where the numbers come from), and fails if the markers are not there
// exactly once each.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	num := flag.String("num", "Bulwark", "the library whose rows are the numerators")
	unpaired := flag.Bool("unpaired", false, "also list the rows of every library that have no row of the same case and level elsewhere")
	targets := flag.Bool("targets", false, "check the targets of issues 17, 6 and 12 (needs the bench and peers runs)")
	readme := flag.String("readme", "", "rewrite this file's generated benchmark table (between the bench:begin and bench:end markers) and print nothing")
	note := flag.String("note", "", "with -readme: a line above the table saying where the numbers come from")
	flag.Parse()
	set := newResults()
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratio:", err)
			os.Exit(1)
		}
		err = set.read(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "ratio: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
	if len(set.order) == 0 {
		fmt.Fprintln(os.Stderr, "ratio: no benchmark results in", flag.Args())
		os.Exit(1)
	}
	if *readme != "" {
		if err := set.rewriteReadme(*readme, *note); err != nil {
			fmt.Fprintln(os.Stderr, "ratio:", err)
			os.Exit(1)
		}
		return
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	set.pairs(w, *num)
	set.againstBaselines(w, *num)
	set.scaling(w, *num)
	if *unpaired {
		set.unpaired(w)
	}
	if *targets {
		set.targets(w)
	}
}

// key identifies one benchmark: Benchmark<lib>/<case>/<level>, less the -GOMAXPROCS
// suffix.
type key struct{ lib, kase, level string }

func (k key) String() string { return k.lib + "/" + k.kase + "/" + k.level }

// results holds every sample of every metric, by benchmark, in the order first seen.
type results struct {
	samples map[key]map[string][]float64
	units   map[key][]string // in the order first seen
	order   []key
}

func newResults() *results {
	return &results{samples: map[key]map[string][]float64{}, units: map[key][]string{}}
}

// read adds the benchmark lines of r.
func (s *results) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, metrics, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		if _, seen := s.samples[k]; !seen {
			s.samples[k] = map[string][]float64{}
			s.order = append(s.order, k)
		}
		for _, m := range metrics {
			if _, seen := s.samples[k][m.unit]; !seen {
				s.units[k] = append(s.units[k], m.unit)
			}
			s.samples[k][m.unit] = append(s.samples[k][m.unit], m.value)
		}
	}
	return sc.Err()
}

type metric struct {
	value float64
	unit  string
}

// parseLine parses one result line of go test -bench:
//
//	BenchmarkBulwark/none/seq-2   	 9114765	  26.65 ns/op	  0 B/op	  0 allocs/op
func parseLine(line string) (key, []metric, bool) {
	fields := strings.Fields(line)
	if len(fields) < 4 || len(fields)%2 != 0 || !strings.HasPrefix(fields[0], "Benchmark") {
		return key{}, nil, false
	}
	if _, err := strconv.ParseUint(fields[1], 10, 64); err != nil {
		return key{}, nil, false
	}
	name := strings.TrimPrefix(fields[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) != 3 {
		return key{}, nil, false
	}
	var metrics []metric
	for i := 2; i+1 < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return key{}, nil, false
		}
		metrics = append(metrics, metric{value: v, unit: fields[i+1]})
	}
	return key{lib: parts[0], kase: parts[1], level: parts[2]}, metrics, true
}

// median returns the median of k's samples of unit, or NaN when there are none.
func (s *results) median(k key, unit string) float64 {
	return median(s.samples[k][unit])
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// count returns how many samples of ns/op k has.
func (s *results) count(k key) int { return len(s.samples[k]["ns/op"]) }

// peersOf returns the rows of other libraries with k's case and level, in the order
// first seen.
func (s *results) peersOf(k key) []key {
	var out []key
	for _, p := range s.order {
		if p.lib != k.lib && p.kase == k.kase && p.level == k.level {
			out = append(out, p)
		}
	}
	return out
}

func (s *results) rowsOf(lib string) []key {
	var out []key
	for _, k := range s.order {
		if k.lib == lib {
			out = append(out, k)
		}
	}
	return out
}

func (s *results) pairs(w io.Writer, num string) {
	fmt.Fprintf(w, "### %s ÷ peer (medians; a ratio below 1 means %s is faster or allocates less)\n\n", num, num)
	fmt.Fprintf(w, "| case | level | peer | %s ns/op | peer ns/op | ns ratio | %s allocs/op | peer allocs/op | allocs ratio |\n", num, num)
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|")
	n := 0
	for _, k := range s.rowsOf(num) {
		for _, p := range s.peersOf(k) {
			bn, pn := s.median(k, "ns/op"), s.median(p, "ns/op")
			ba, pa := s.median(k, "allocs/op"), s.median(p, "allocs/op")
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				k.kase, k.level, p.lib, num3(bn), num3(pn), ratio(bn, pn), num3(ba), num3(pa), ratio(ba, pa))
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(w, "| (no %s row has a peer of the same case and level) ||||||||\n", num)
	}
	fmt.Fprintln(w)
}

// baselines pairs a case with the case of the same library it is measured against, in
// the order the table prints them: issue 12's windowed breakers against the consecutive
// breaker, and each slow-call case against the same breaker without slow calls (the
// cost of timing every call).
var baselines = []struct{ kase, base string }{
	{"breaker_rate_count", "breaker"},
	{"breaker_rate_time", "breaker"},
	{"breaker_rate_count_slow", "breaker_rate_count"},
	{"breaker_rate_time_slow", "breaker_rate_time"},
}

// againstBaselines prints num's case ÷ its baseline case, per level, for every pair of
// baselines that num has both rows of.
func (s *results) againstBaselines(w io.Writer, num string) {
	var rows []string
	for _, bl := range baselines {
		for _, k := range s.rowsOf(num) {
			if k.kase != bl.kase {
				continue
			}
			base := key{lib: num, kase: bl.base, level: k.level}
			if _, ok := s.samples[base]; !ok {
				continue
			}
			kn, bn := s.median(k, "ns/op"), s.median(base, "ns/op")
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |",
				k.kase, bl.base, k.level, num3(kn), num3(bn), ratio(kn, bn), num3(s.median(k, "allocs/op"))))
		}
	}
	writeTable(w, num+" against its own baseline: case ÷ baseline (ns/op medians)",
		"| case | baseline | level | case ns/op | baseline ns/op | ratio | case allocs/op |",
		"|---|---|---|--:|--:|--:|--:|", rows)
}

func (s *results) scaling(w io.Writer, num string) {
	var rows []string
	for _, k := range s.rowsOf(num) {
		if k.level != "seq" {
			continue
		}
		hi := key{lib: k.lib, kase: k.kase, level: "par128"}
		if _, ok := s.samples[hi]; !ok {
			continue
		}
		seq, par := s.median(k, "ns/op"), s.median(hi, "ns/op")
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", k.kase, num3(seq), num3(par), ratio(par, seq)))
	}
	writeTable(w, num+" under contention: par128 ÷ seq (ns/op medians)",
		"| case | seq | par128 | par128 ÷ seq |", "|---|--:|--:|--:|", rows)
}

// writeTable writes a Markdown table of rows under a "### title" heading, header and
// rule, then a blank line; nothing when there are no rows.
func writeTable(w io.Writer, title, header, rule string, rows []string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "### %s\n\n", title)
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, rule)
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintln(w)
}

func (s *results) unpaired(w io.Writer) {
	var rows []key
	for _, k := range s.order {
		if len(s.peersOf(k)) == 0 {
			rows = append(rows, k)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "### Rows without a peer (medians)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | runs | metrics |")
	fmt.Fprintln(w, "|---|--:|---|")
	for _, k := range rows {
		var ms []string
		for _, u := range s.units[k] {
			ms = append(ms, num3(s.median(k, u))+" "+u)
		}
		fmt.Fprintf(w, "| %s | %d | %s |\n", k, s.count(k), strings.Join(ms, ", "))
	}
	fmt.Fprintln(w)
}

// verdict is the outcome of checking one target.
type verdict int

const (
	reached verdict = iota
	missed
	notMeasured // a benchmark it needs is missing
)

func (v verdict) String() string {
	switch v {
	case reached:
		return "reached"
	case missed:
		return "missed"
	}
	return "not measured"
}

// judge returns reached or missed by ok, or notMeasured when any figure is NaN.
func judge(ok bool, figures ...float64) verdict {
	for _, f := range figures {
		if math.IsNaN(f) {
			return notMeasured
		}
	}
	if ok {
		return reached
	}
	return missed
}

// check measures one part of a target: the figure as text, and its verdict.
type check func(s *results) (string, verdict)

// target is one row of an issue's targets table.
type target struct {
	kase, goal string
	check      check
}

func bk(lib, kase, level string) key { return key{lib: lib, kase: kase, level: level} }

// atMost checks that k's ns/op median is at most limit and that it allocates nothing.
func atMost(k key, limit float64) check {
	return func(s *results) (string, verdict) {
		ns, allocs := s.median(k, "ns/op"), s.median(k, "allocs/op")
		return fmt.Sprintf("%s ns/op, %s allocs", num3(ns), num3(allocs)), judge(ns <= limit && allocs == 0, ns, allocs)
	}
}

// fraction checks that a's ns/op median is at most f times b's.
func fraction(a, b key, f float64) check {
	return func(s *results) (string, verdict) {
		x, y := s.median(a, "ns/op"), s.median(b, "ns/op")
		return fmt.Sprintf("%s ÷ %s = %s", num3(x), num3(y), ratio(x, y)), judge(x <= f*y, x, y)
	}
}

// noAllocs checks that k allocates nothing.
func noAllocs(k key) check {
	return func(s *results) (string, verdict) {
		allocs := s.median(k, "allocs/op")
		return num3(allocs) + " allocs", judge(allocs == 0, allocs)
	}
}

// shown prints a's ns/op median ÷ b's without judging it: it is reached whenever both
// are measured, so within all it never changes the verdict.
func shown(a, b key) check {
	return func(s *results) (string, verdict) {
		x, y := s.median(a, "ns/op"), s.median(b, "ns/op")
		return fmt.Sprintf("%s ÷ %s = %s (shown, not judged)", num3(x), num3(y), ratio(x, y)), judge(true, x, y)
	}
}

// metricAtMost checks that k's median of unit is at most limit.
func metricAtMost(k key, unit string, limit float64) check {
	return func(s *results) (string, verdict) {
		v := s.median(k, unit)
		return num3(v) + " " + unit, judge(v <= limit, v)
	}
}

// all checks every part; the worst verdict wins.
func all(checks ...check) check {
	return func(s *results) (string, verdict) {
		var figs []string
		worst := reached
		for _, c := range checks {
			fig, v := c(s)
			figs = append(figs, fig)
			worst = max(worst, v)
		}
		return strings.Join(figs, "; "), worst
	}
}

// targetSet is one issue's targets table.
type targetSet struct {
	issue   string
	targets []target
}

var targetSets = []targetSet{
	{"6", issue6Targets},
	{"12", issue12Targets},
}

var issue6Targets = []target{
	{"none", "≤ 10 ns/op, 0 allocs", atMost(bk("Bulwark", "none", "seq"), 10)},
	{"retry(3), success", "≤ 25 ns/op, 0 allocs; ≥ 40× faster than failsafe-go retry", all(
		atMost(bk("Bulwark", "retry", "seq"), 25),
		fraction(bk("Bulwark", "retry", "seq"), bk("Failsafe", "retry", "seq"), 1.0/40))},
	{"circuit_breaker, closed", "≤ 40 ns/op, 0 allocs; ≥ 4× faster than gobreaker; par128 ≤ 1.5× seq", all(
		atMost(bk("Bulwark", "breaker", "seq"), 40),
		fraction(bk("Bulwark", "breaker", "seq"), bk("Gobreaker", "breaker", "seq"), 1.0/4),
		fraction(bk("Bulwark", "breaker", "par128"), bk("Bulwark", "breaker", "seq"), 1.5))},
	{"rate_limit, admitted", "≤ ½ of x/time/rate Allow",
		fraction(bk("Bulwark", "ratelimit", "seq"), bk("XRate", "ratelimit", "seq"), 0.5)},
	{"timeout", "≤ ½ of failsafe-go's timeout policy",
		fraction(bk("Bulwark", "timeout", "seq"), bk("Failsafe", "timeout", "seq"), 0.5)},
	{"retry+breaker+timeout", "≤ ¼ of failsafe-go's same combination",
		fraction(bk("Bulwark", "retry+breaker+timeout", "seq"), bk("Failsafe", "retry+breaker+timeout", "seq"), 0.25)},
	{"retry+breaker+rate_limit", "≤ 100 ns/op", func(s *results) (string, verdict) {
		v := s.median(bk("Bulwark", "retry+breaker+ratelimit", "seq"), "ns/op")
		return num3(v) + " ns/op", judge(v <= 100, v)
	}},
	{"message API round trip", "≤ 1.5× a bare protoactor Send-with-reply-channel round trip",
		fraction(bk("Bulwark", "message", "seq"), bk("Protoactor", "message", "seq"), 1.5)},
	{"message API, actor client (extra)", "≤ 1.5× a bare protoactor actor-to-actor Request/Respond, same run",
		fraction(bk("Bulwark", "message_actor", "seq"), bk("BareActor", "message_actor", "seq"), 1.5)},
	{"idle named actor", "≤ 4 KiB each", all(
		metricAtMost(bk("Idle", "breakers", "n10000"), "B/breaker", 4096),
		metricAtMost(bk("Idle", "limiters", "n10000"), "B/limiter", 4096))},
}

// issue12Targets are the speed targets of issue 12 (breadth.md CB-14): a rate-mode
// breaker's closed path against bulwark's consecutive breaker and failsafe-go's
// failure-rate breaker on the same window, its contention cost, and what slow-call
// detection adds.
var issue12Targets = []target{
	windowTarget("count"),
	windowTarget("time"),
	contentionTarget("count"),
	contentionTarget("time"),
	slowTarget("count"),
	slowTarget("time"),
}

// windowTarget is the closed-path target of the rate breaker over a window kind
// ("count" or "time").
func windowTarget(kind string) target {
	k := bk("Bulwark", "breaker_rate_"+kind, "seq")
	return target{
		"rate breaker, " + kind + " window, closed",
		"0 allocs; ≤ 1.25× bulwark's consecutive breaker; ≤ ¼ of failsafe-go's failure-rate breaker",
		all(noAllocs(k),
			fraction(k, bk("Bulwark", "breaker", "seq"), 1.25),
			fraction(k, bk("Failsafe", "breaker_rate_"+kind, "seq"), 0.25)),
	}
}

// contentionTarget is the 128-goroutine target of the rate breaker over a window kind.
func contentionTarget(kind string) target {
	kase := "breaker_rate_" + kind
	return target{
		"rate breaker, " + kind + " window, 128 goroutines",
		"par128 ≤ 1.5× seq",
		fraction(bk("Bulwark", kase, "par128"), bk("Bulwark", kase, "seq"), 1.5),
	}
}

// slowTarget is the slow-call row of a window kind: the issue asks for two clock reads
// and no more, which a benchmark cannot count, so only the allocations are judged and
// the cost over the same breaker without SlowCall is shown.
func slowTarget(kind string) target {
	k := bk("Bulwark", "breaker_rate_"+kind+"_slow", "seq")
	return target{
		"rate breaker, " + kind + " window, SlowCall set",
		"0 allocs; two clock reads, no more (stated by the implementation, not measured)",
		all(noAllocs(k), shown(k, bk("Bulwark", "breaker_rate_"+kind, "seq"))),
	}
}

func (s *results) targets(w io.Writer) {
	s.issue17(w)
	for _, set := range targetSets {
		fmt.Fprintf(w, "### Targets of issue %s (seq unless the row says otherwise)\n", set.issue)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| case | target | measured | result |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, t := range set.targets {
			fig, v := t.check(s)
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.kase, t.goal, fig, v)
		}
		fmt.Fprintln(w)
	}
}

// num3 prints x with three significant digits, and integers as integers.
func num3(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case x == math.Trunc(x) && math.Abs(x) < 1e6:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case math.Abs(x) >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

// ratio prints a ÷ b, or why it has none.
func ratio(a, b float64) string {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return "NaN"
	case a == 0 && b == 0:
		return "="
	case b == 0:
		return "∞"
	}
	switch r := a / b; {
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	case r >= 0.1:
		return strconv.FormatFloat(r, 'f', 2, 64) + "×"
	default:
		return strconv.FormatFloat(r, 'g', 2, 64) + "×"
	}
}

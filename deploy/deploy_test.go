package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

// The files under test, relative to this package.
const (
	rulesFile     = "prometheus/bulwark-rules.yml"
	rulesTestFile = "prometheus/bulwark-rules.test.yml"
	dashboardFile = "grafana/bulwark.json"
	promtoolStep  = "../.ci/steps/20-promtool.sh"
)

// TestMain fails the package if the engine the tests build leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	promtoolOnce sync.Once
	promtoolPath string
	promtoolErr  error
)

// promtool returns the path of promtool. Outside CI a missing promtool skips the test;
// under CI (CI set, as .ci/run runs) the test installs it with the CI step that owns it
// and fails if that does not work, so CI never passes without running promtool.
func promtool(t *testing.T) string {
	t.Helper()
	promtoolOnce.Do(func() {
		if promtoolPath, promtoolErr = exec.LookPath("promtool"); promtoolErr == nil || os.Getenv("CI") == "" {
			return
		}
		out, err := exec.Command("bash", promtoolStep, "install").CombinedOutput()
		if err != nil {
			promtoolErr = fmt.Errorf("installing promtool with %s: %v\n%s", promtoolStep, err, out)
			return
		}
		promtoolPath, promtoolErr = exec.LookPath("promtool")
	})
	if promtoolErr != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("promtool not found (%v): install Debian's prometheus package, or run %s, to run this test; under CI it always runs", promtoolErr, promtoolStep)
		}
		t.Fatalf("promtool is needed under CI: %v", promtoolErr)
	}
	return promtoolPath
}

// runPromtool runs promtool with args in dir and fails the test with its output if it
// exits non-zero.
func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRulesPassPromtool checks the rules file and runs its unit tests.
func TestRulesPassPromtool(t *testing.T) {
	out := runPromtool(t, ".", "check", "rules", rulesFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules did not report success:\n%s", out)
	}
	out = runPromtool(t, filepath.Dir(rulesTestFile), "test", "rules", filepath.Base(rulesTestFile))
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules did not report success:\n%s", out)
	}
}

// query is one PromQL expression of the dashboard and where it sits.
type query struct {
	where string // panel title and refId, or the variable's name
	expr  string
}

// grafanaVars are the dashboard variables a query may use, and what they become when the
// query is parsed outside Grafana.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	"${instance}", ".*", "$instance", ".*",
	"${name}", ".*", "$name", ".*",
)

// labelValues matches a variable query label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// dashboardQueries returns every PromQL expression of the dashboard: the targets of
// every panel (also inside collapsed rows) and the selectors of its query variables.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var qs []query
	var walk func([]json.RawMessage)
	walk = func(panels []json.RawMessage) {
		for _, r := range panels {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: a panel: %v", dashboardFile, err)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q, query %s: empty expression", p.Title, tg.RefID)
					continue
				}
				qs = append(qs, query{where: fmt.Sprintf("panel %q, query %s", p.Title, tg.RefID), expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			// Older dashboards store the query as a plain string.
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("variable %q: query: %v", v.Name, err)
			}
		}
		m := labelValues.FindStringSubmatch(strings.TrimSpace(q.Query))
		if m == nil {
			t.Errorf("variable %q: query %q is not label_values(selector, label)", v.Name, q.Query)
			continue
		}
		qs = append(qs, query{where: fmt.Sprintf("variable %q", v.Name), expr: m[1]})
	}
	if len(qs) == 0 {
		t.Fatalf("%s: no query found", dashboardFile)
	}
	return qs
}

// TestDashboardQueriesParse wraps every query of the dashboard in a generated rules file,
// one recording rule each, and has promtool check it: a query that does not parse fails
// the test with the panel it belongs to.
func TestDashboardQueriesParse(t *testing.T) {
	qs := dashboardQueries(t)
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	type group struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	}
	var file struct {
		Groups []group `json:"groups"`
	}
	// One group per query, named after it, so promtool's message says which one failed.
	for i, q := range qs {
		file.Groups = append(file.Groups, group{
			Name:  fmt.Sprintf("%d: %s", i, q.where),
			Rules: []rule{{Record: fmt.Sprintf("dashboard_query_%d", i), Expr: grafanaVars.Replace(q.expr)}},
		})
	}
	// JSON is YAML: promtool reads it as a rules file.
	raw, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPromtool(t, ".", "check", "rules", path)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(qs)); !strings.Contains(out, want) {
		t.Errorf("promtool check rules on the dashboard's %d queries: want %q in\n%s", len(qs), want, out)
	}
}

// metricName matches a name in a PromQL expression: a metric, a recorded series (with
// colons), a function or a keyword. Label values are removed before it is applied.
var (
	metricName   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	quoted       = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	recordedName = regexp.MustCompile(`(?m)^\s*- record:\s*(\S+)\s*$`)
	seriesLine   = regexp.MustCompile(`(?m)^\s*- series:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
)

// referenced returns the bulwark series an expression names, other than those the
// rules file records (names with colons).
func referenced(expr string) []string {
	var names []string
	for _, n := range metricName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1) {
		if strings.HasPrefix(n, "bulwark_") {
			names = append(names, n)
		}
	}
	return names
}

// ruleExprs returns the expressions of a rules file: each `expr:` on one line or as a
// block scalar (`expr: |`) on the lines indented below it.
func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exprs []string
	var block []string
	blockIndent := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		indent := len(line) - len(strings.TrimLeft(line, " "))
		trimmed := strings.TrimSpace(line)
		if blockIndent >= 0 {
			if trimmed == "" || indent > blockIndent {
				block = append(block, trimmed)
				continue
			}
			exprs = append(exprs, strings.Join(block, " "))
			block, blockIndent = nil, -1
		}
		rest, ok := strings.CutPrefix(trimmed, "expr:")
		if !ok {
			continue
		}
		switch rest = strings.TrimSpace(rest); rest {
		case "|", ">", "|-", ">-":
			blockIndent = indent
		default:
			exprs = append(exprs, rest)
		}
	}
	if blockIndent >= 0 {
		exprs = append(exprs, strings.Join(block, " "))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return exprs
}

// fqName reads the metric name out of a Desc's String form.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedNames returns every series name the engine's collector exports: the names of
// every Describe'd metric, with the _bucket, _sum and _count series of histograms and
// summaries. The engine is built with the duration histogram and runs a call through a
// breaker, a limiter, a retry and a timeout first, so every family has a live actor and
// Gather shows each metric's type.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	eng, err := supervisor.New(supervisor.WithDurationHistogram())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	p := policy.Combine(
		policy.Retry(2),
		policy.CircuitBreaker(5, time.Minute).Named("db"),
		policy.RateLimit(100).Named("api"),
		policy.Timeout(time.Second),
	)
	errBoom := errors.New("boom")
	calls := 0
	err = supervisor.Run(context.Background(), eng, p, func(context.Context) error {
		if calls++; calls == 1 {
			return errBoom
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a call through every kind: %v", err)
	}

	col := eng.Collector()
	names := map[string]bool{}
	descs := make(chan *prometheus.Desc)
	go func() {
		col.Describe(descs)
		close(descs)
	}()
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no fqName in %s", d)
		}
		names[m[1]] = true
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatalf("registering the collector: %v", err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range families {
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[mf.GetName()+"_bucket"] = true
			fallthrough
		case dto.MetricType_SUMMARY:
			names[mf.GetName()+"_sum"] = true
			names[mf.GetName()+"_count"] = true
		}
	}
	return names
}

// TestQueriesUseExportedMetrics checks that every bulwark series the dashboard, the
// rules and the rules' unit tests name is one the engine's collector exports, and that
// every recorded series they use is recorded by the rules file. A failure lists exactly
// the names missing, each with where it is used.
// clusterNames returns the series the cluster module's collector declares, read from
// its prometheus.NewDesc calls in cluster/*.go.
func clusterNames(t *testing.T) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "cluster", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	desc := regexp.MustCompile(`prometheus\.NewDesc\(\s*"(bulwark_[a-z_]+)"`)
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range desc.FindAllStringSubmatch(string(src), -1) {
			names[m[1]] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("found no series declared in cluster/*.go")
	}
	return names
}

func TestQueriesUseExportedMetrics(t *testing.T) {
	uses := map[string][]string{} // series name → where it is used
	use := func(where, expr string) {
		for _, n := range referenced(expr) {
			if !slices.Contains(uses[n], where) {
				uses[n] = append(uses[n], where)
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		use(dashboardFile, q.expr)
	}
	exprs := ruleExprs(t, rulesFile)
	if len(exprs) < 20 {
		t.Fatalf("%s: read %d expressions, want every rule's", rulesFile, len(exprs))
	}
	for _, e := range exprs {
		use(rulesFile, e)
	}
	tests, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range seriesLine.FindAllStringSubmatch(string(tests), -1) {
		use(rulesTestFile, m[1])
	}

	exported := exportedNames(t)
	// The shared-name series come from the cluster module's backend (its own go.mod,
	// which this module cannot import): read their names from its collector's source.
	for n := range clusterNames(t) {
		exported[n] = true
	}
	var missing []string
	for n, where := range uses {
		if !exported[n] {
			missing = append(missing, fmt.Sprintf("%s (used in %s)", n, strings.Join(where, ", ")))
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d series are not exported by the engine's collector:\n\t%s", len(missing), strings.Join(missing, "\n\t"))
	}

	// Recorded series the dashboard or the rules use must be recorded by the rules file.
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, m := range recordedName.FindAllStringSubmatch(string(rules), -1) {
		recorded[m[1]] = true
	}
	var all []string
	for _, q := range dashboardQueries(t) {
		all = append(all, q.expr)
	}
	for _, e := range append(all, exprs...) {
		for _, n := range metricName.FindAllString(quoted.ReplaceAllString(e, `""`), -1) {
			if strings.Contains(n, ":") && strings.Contains(n, "bulwark") && !recorded[n] {
				t.Errorf("%s is used but recorded by no rule of %s", n, rulesFile)
			}
		}
	}
}

// TestRulesTestEveryAlert checks that the unit tests make every alert of the rules file
// fire at least once and stay quiet at least once, and name no alert the file lacks.
func TestRulesTestEveryAlert(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`).FindAllStringSubmatch(string(rules), -1)
	if len(alerts) == 0 {
		t.Fatalf("%s has no alert", rulesFile)
	}
	tests, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	// Each case is `alertname: X` followed by `exp_alerts: []` (quiet) or a list (fires).
	cases := regexp.MustCompile(`(?m)^\s*alertname:\s*(\S+)\s*\n\s*exp_alerts:(.*)$`).FindAllStringSubmatch(string(tests), -1)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		if strings.TrimSpace(c[2]) == "[]" {
			quiet[c[1]] = true
		} else {
			fires[c[1]] = true
		}
	}
	defined := map[string]bool{}
	for _, a := range alerts {
		name := a[1]
		defined[name] = true
		if !fires[name] {
			t.Errorf("%s: no unit test makes %s fire", rulesTestFile, name)
		}
		if !quiet[name] {
			t.Errorf("%s: no unit test checks that %s stays quiet", rulesTestFile, name)
		}
	}
	for name := range fires {
		if !defined[name] {
			t.Errorf("%s tests %s, which %s does not define", rulesTestFile, name, rulesFile)
		}
	}
	for name := range quiet {
		if !defined[name] {
			t.Errorf("%s tests %s, which %s does not define", rulesTestFile, name, rulesFile)
		}
	}
}

// TestReferencedSkipsLabelValuesAndRecordedSeries pins the name extraction the metric
// check relies on: names inside quotes (label values), functions, keywords and
// recorded series are not taken for bulwark metrics.
func TestReferencedSkipsLabelValuesAndRecordedSeries(t *testing.T) {
	expr := `sum by (name) (rate(bulwark_breaker_calls_total{name=~"bulwark_fake_total", outcome="rejected"}[5m])) / on (name) name:bulwark_x:rate5m and bulwark_limiter_tokens`
	got := referenced(expr)
	want := []string{"bulwark_breaker_calls_total", "bulwark_limiter_tokens"}
	if !slices.Equal(got, want) {
		t.Errorf("referenced(%q) = %v, want %v", expr, got, want)
	}
}

// TestDashboardShowsEveryKind checks what the dashboard promises: instance and name
// variables; a row per kind; the breaker state as a state timeline with a text for each
// state; the panels an operator looks for first; unique panel ids; and every per-name
// series filtered by the name variable.
func TestDashboardShowsEveryKind(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		ID          int    `json:"id"`
		Title       string `json:"title"`
		Type        string `json:"type"`
		FieldConfig struct {
			Defaults struct {
				Mappings []struct {
					Options map[string]struct {
						Text string `json:"text"`
					} `json:"options"`
				} `json:"mappings"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []target `json:"targets"`
	}
	var dash struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("the dashboard needs a uid and a title for import: %q, %q", dash.UID, dash.Title)
	}
	var vars []string
	for _, v := range dash.Templating.List {
		vars = append(vars, v.Name)
	}
	for _, want := range []string{"datasource", "instance", "name"} {
		if !slices.Contains(vars, want) {
			t.Errorf("no %q variable; variables %v", want, vars)
		}
	}

	rows := map[string]bool{}
	ids := map[int]string{}
	shows := map[string][]string{} // series → types of the panels showing it
	for _, p := range dash.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share the id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			rows[p.Title] = true
			continue
		}
		for _, tg := range p.Targets {
			for _, n := range referenced(tg.Expr) {
				shows[n] = append(shows[n], p.Type)
				// Series with a name label are filtered by the variable.
				perName := !slices.Contains([]string{"bulwark_operations_total", "bulwark_retry_attempts_total", "bulwark_timeouts_total",
					"bulwark_panics_total", "bulwark_abandoned_calls_total", "bulwark_abandoned_calls_running", "bulwark_operation_duration_seconds_bucket",
					"bulwark_actor_mailbox_depth", "bulwark_actor_restarts_total", "bulwark_dropped_events_total", "bulwark_concurrency_limit_hits_total",
					"bulwark_fallbacks_total", "bulwark_hedges_started_total", "bulwark_hedge_wins_total"}, n)
				if perName && !strings.Contains(tg.Expr, `name=~"$name"`) {
					t.Errorf("panel %q: %s is not filtered by the name variable: %s", p.Title, n, tg.Expr)
				}
				if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
					t.Errorf("panel %q: %s is not filtered by the instance variable: %s", p.Title, n, tg.Expr)
				}
			}
		}
		if p.Type == "state-timeline" && slices.ContainsFunc(p.Targets, func(tg target) bool {
			return strings.Contains(tg.Expr, "bulwark_breaker_state")
		}) {
			texts := map[string]string{}
			for _, m := range p.FieldConfig.Defaults.Mappings {
				for v, o := range m.Options {
					texts[v] = o.Text
				}
			}
			for v, want := range map[string]string{"0": "closed", "1": "open", "2": "half-open", "3": "forced open", "4": "disabled", "5": "metrics only"} {
				if texts[v] != want {
					t.Errorf("breaker state timeline: value %s reads %q, want %q", v, texts[v], want)
				}
			}
		}
	}
	for _, row := range []string{"Engine", "Circuit breakers", "Rate limiters", "Bulkheads", "Adaptive concurrency limits", "Fallbacks and hedges", "Retry budgets", "Cluster: shared names"} {
		if !rows[row] {
			t.Errorf("no row %q; rows %v", row, rows)
		}
	}
	for series, panelType := range map[string]string{
		"bulwark_breaker_state":        "state-timeline",
		"bulwark_operations_total":     "timeseries",
		"bulwark_breaker_calls_total":  "timeseries",
		"bulwark_limiter_tokens":       "timeseries",
		"bulwark_limiter_waiting":      "timeseries",
		"bulwark_bulkhead_in_flight":   "timeseries",
		"bulwark_bulkhead_limit":       "timeseries",
		"bulwark_bulkhead_queued":      "timeseries",
		"bulwark_budget_balance":       "timeseries",
		"bulwark_shared_coordinated":   "state-timeline",
		"bulwark_fallbacks_total":      "timeseries",
		"bulwark_hedges_started_total": "timeseries",
	} {
		if !slices.Contains(shows[series], panelType) {
			t.Errorf("no %s panel shows %s (shown in %v)", panelType, series, shows[series])
		}
	}
}

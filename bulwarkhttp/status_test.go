package bulwarkhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// The tests below check the items of issue 21 (the live status page) one by one; the
// browser side is in the nested module bulwarkhttp/browsertest.

var errSecret = errors.New("secret-backend-detail: password=hunter2")

func consecutive(name string) policy.CircuitBreakerPolicy {
	return policy.CircuitBreaker(3, time.Hour).Named(name)
}

// runOnce runs one call under p that returns err.
func runOnce(e *supervisor.Engine, p policy.Policy, err error) {
	_, _ = supervisor.ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { return 1, err })
}

// statusEngine is an engine with a breaker, a limiter, a bulkhead and a budget, all used.
func statusEngine(t *testing.T) *supervisor.Engine {
	t.Helper()
	e := newEngine(t)
	for _, err := range []error{
		e.RegisterCircuitBreaker("payments", consecutive("payments")),
		e.RegisterCircuitBreaker("inventory", consecutive("inventory")),
		e.RegisterRateLimiter("api", policy.RateLimit(10).WithBurst(2).Named("api")),
		e.RegisterBulkhead("db", policy.Bulkhead(4).Named("db")),
		e.RegisterBudget("retries", policy.RetryBudget(0.2)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	runOnce(e, consecutive("payments"), errSecret)
	runOnce(e, consecutive("inventory"), nil)
	for range 3 {
		runOnce(e, policy.RateLimit(10).WithBurst(2).Named("api"), nil)
	}
	runOnce(e, policy.Bulkhead(4).Named("db"), nil)
	runOnce(e, policy.Retry(2).WithBudget("retries"), nil)
	return e
}

func getStatus(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return serve(h, req)
}

func decodeSnapshot(t *testing.T, b []byte) bulwarkhttp.StatusSnapshot {
	t.Helper()
	var s bulwarkhttp.StatusSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("not a StatusSnapshot: %v\n%s", err, b)
	}
	return s
}

var initialData = regexp.MustCompile(`(?s)<script type="application/json" id="bulwark-status">(.*?)</script>`)

// The page: HTML with every breaker, limiter, bulkhead and budget in its initial data,
// its CSS and script inline and allowed by its Content-Security-Policy's hashes, nothing
// loaded from elsewhere.
func TestStatusPageIsSelfContainedHTML(t *testing.T) {
	e := statusEngine(t)
	rec := getStatus(bulwarkhttp.StatusHandler(e), "/debug/bulwark/",
		"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("got %d %q; want 200 text/html", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	m := initialData.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no initial data in the page")
	}
	s := decodeSnapshot(t, []byte(m[1]))
	names := func(n int, name func(int) string) []string {
		var out []string
		for i := range n {
			out = append(out, name(i))
		}
		return out
	}
	if got := names(len(s.Breakers), func(i int) string { return s.Breakers[i].Name }); !slices.Equal(got, []string{"inventory", "payments"}) {
		t.Errorf("breakers %v", got)
	}
	if len(s.Limiters) != 1 || len(s.Bulkheads) != 1 || len(s.Budgets) != 1 {
		t.Errorf("limiters %v bulkheads %v budgets %v; want one each", s.Limiters, s.Bulkheads, s.Budgets)
	}

	csp := rec.Header().Get("Content-Security-Policy")
	for _, tag := range []string{"style", "script"} {
		re := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`)
		inline := re.FindStringSubmatch(body)
		if inline == nil || len(inline[1]) < 100 {
			t.Fatalf("no inline <%s> in the page", tag)
		}
		sum := sha256.Sum256([]byte(inline[1]))
		if want := tag + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Errorf("CSP %q does not allow the page's own %s (%s)", csp, tag, want)
		}
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q: want default-src 'none' and connect-src 'self'", csp)
	}
	for _, external := range []string{"<link", " src=", "http://", "https://", "@import"} {
		if strings.Contains(body, external) {
			t.Errorf("the page holds %q: it must load nothing from elsewhere", external)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", rec.Header().Get("Cache-Control"))
	}
}

// JSON by Accept or by ?format=json, with the documented keys and the engine's numbers.
func TestStatusJSONByAcceptOrFormat(t *testing.T) {
	e := statusEngine(t)
	h := bulwarkhttp.StatusHandler(e)
	for _, rec := range []*httptest.ResponseRecorder{
		getStatus(h, "/debug/bulwark/", "Accept", "application/json"),
		getStatus(h, "/debug/bulwark/?format=json"),
		getStatus(h, "/anything/else?format=json", "Accept", "text/html"), // the query wins
	} {
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %q; want 200 application/json", rec.Code, rec.Header().Get("Content-Type"))
		}
		s := decodeSnapshot(t, rec.Body.Bytes())
		m := e.Metrics()
		pay := s.Breakers[1]
		if s.Version != bulwarkhttp.StatusVersion || s.Controls || pay.Name != "payments" || pay.State != "closed" ||
			pay.Failures != 1 || pay.ConsecutiveFailures != 1 || pay.OpenUntil != nil {
			t.Errorf("snapshot %+v, payments %+v", s, pay)
		}
		if s.Engine.Operations != m.TotalOperations || s.Engine.Failed != m.FailedOperations || s.Engine.Operations == 0 {
			t.Errorf("engine %+v; metrics %+v", s.Engine, m)
		}
		if l := s.Limiters[0]; l.Name != "api" || l.Admitted != m.Limiters["api"].Allowed || l.Rejected != 1 {
			t.Errorf("limiter %+v; want api with 2 admitted and 1 rejected", l)
		}
		if b := s.Bulkheads[0]; b.Name != "db" || b.Limit != 4 || b.Admitted != 1 {
			t.Errorf("bulkhead %+v; want db, limit 4, 1 admitted", b)
		}
		if b := s.Budgets[0]; b.Name != "retries" || b.Deposits != m.Budgets["retries"].Deposits {
			t.Errorf("budget %+v; metrics %+v", b, m.Budgets["retries"])
		}
	}

	// The documented keys, exactly.
	var doc map[string]any
	if err := json.Unmarshal(getStatus(h, "/?format=json").Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string { return slices.Sorted(maps.Keys(v.(map[string]any))) }
	first := func(list string) any { return doc[list].([]any)[0] }
	for _, tt := range []struct {
		what string
		got  []string
		want string
	}{
		{"top", keys(doc), "breakers budgets bulkheads controls engine limiters at version"},
		{"engine", keys(doc["engine"]), "abandoned_calls actor_restarts circuit_breaker_trips concurrency_limit_hits dropped_events failed hedges_started operations panics rate_limit_hits retry_attempts successful timeouts"},
		{"breaker", keys(first("breakers")), "consecutive_failures consecutive_trips failure_rate failures last_change name open_until rejected slow_call_rate state successes trips window_calls window_slow_calls"},
		{"limiter", keys(first("limiters")), "admitted name rejected tokens waiting"},
		{"bulkhead", keys(first("bulkheads")), "admitted in_flight limit max_in_flight name queued rejected"},
		{"budget", keys(first("budgets")), "balance deposits name refused withdrawals"},
	} {
		want := strings.Fields(tt.want)
		slices.Sort(want)
		if !slices.Equal(tt.got, want) {
			t.Errorf("%s keys %v\nwant %v", tt.what, tt.got, want)
		}
	}
}

// An engine with no named actor: every list is [], never null, so a reader can iterate.
func TestStatusJSONListsAreNeverNull(t *testing.T) {
	body := getStatus(bulwarkhttp.StatusHandler(newEngine(t)), "/?format=json").Body.String()
	for _, list := range []string{"breakers", "limiters", "bulkheads", "budgets"} {
		if !strings.Contains(body, `"`+list+`":[]`) {
			t.Errorf("%s is not [] in %s", list, body)
		}
	}
}

// Names are escaped: a breaker named like markup stays data in the page (the JSON in
// the page escapes < and >, so no </script> can end its element), and the page's own
// elements are the only ones.
func TestStatusPageEscapesNames(t *testing.T) {
	e := newEngine(t)
	evil := `</script><script>alert(1)</script><img src=x onerror=alert(2)>`
	if err := e.RegisterCircuitBreaker(evil, consecutive(evil)); err != nil {
		t.Fatal(err)
	}
	body := getStatus(bulwarkhttp.StatusHandler(e), "/").Body.String()
	if n := strings.Count(body, "<script"); n != 2 {
		t.Errorf("%d <script elements; want the page's 2", n)
	}
	if strings.Contains(body, "alert(") && strings.Contains(body, "<img") {
		t.Error("the name reached the page as markup")
	}
	m := initialData.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the initial data element was cut short")
	}
	if s := decodeSnapshot(t, []byte(m[1])); len(s.Breakers) != 1 || s.Breakers[0].Name != evil {
		t.Errorf("breakers %+v; want the one named %q", s.Breakers, evil)
	}
	// The script writes names with textContent only.
	js := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindStringSubmatch(body)[1]
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(js, sink) {
			t.Errorf("the page's script uses %s", sink)
		}
	}
}

// The page and the JSON show names and numbers, never an error's text.
func TestStatusNeverShowsErrorText(t *testing.T) {
	e := statusEngine(t) // its failing call returned errSecret
	for range 3 {
		runOnce(e, consecutive("payments"), errSecret) // and trips the breaker
	}
	h := bulwarkhttp.StatusHandler(e)
	for _, target := range []string{"/", "/?format=json"} {
		if body := getStatus(h, target).Body.String(); strings.Contains(body, "hunter2") || strings.Contains(body, "secret-backend") {
			t.Errorf("%s shows the error's text", target)
		}
	}
}

func TestStatusRefusesOtherMethodsAndFormats(t *testing.T) {
	h := bulwarkhttp.StatusHandler(newEngine(t))
	rec := serve(h, httptest.NewRequest(http.MethodPut, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT: %d Allow %q; want 405 with Allow", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := getStatus(h, "/?format=xml"); rec.Code != http.StatusBadRequest {
		t.Errorf("format=xml: %d, want 400", rec.Code)
	}
	if rec := serve(bulwarkhttp.StatusHandler(nil), httptest.NewRequest(http.MethodGet, "/", nil)); rec.Code != 500 ||
		!strings.Contains(rec.Body.String(), "engine is nil") {
		t.Errorf("nil engine: %d %q; want 500 naming the nil engine", rec.Code, rec.Body)
	}
	head := serve(h, httptest.NewRequest(http.MethodHead, "/?format=events", nil))
	if head.Code != 200 || head.Header().Get("Content-Type") != "text/event-stream" || head.Body.Len() != 0 {
		t.Errorf("HEAD events: %d %q %q; want 200, the stream's type, no body", head.Code, head.Header().Get("Content-Type"), head.Body)
	}
}

// --- the stream ---------------------------------------------------------------------

type sseEvent struct {
	name, data string
	at         time.Time // when the test read it (fake time in a bubble)
}

// readEvent reads the next event of a server-sent event stream; other fields (retry)
// are skipped.
func readEvent(t *testing.T, r *bufio.Reader) (sseEvent, error) {
	t.Helper()
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				ev.at = time.Now()
				return ev, nil
			}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func mustEvent(t *testing.T, r *bufio.Reader, name string) sseEvent {
	t.Helper()
	ev, err := readEvent(t, r)
	if err != nil {
		t.Fatalf("reading event %q: %v", name, err)
	}
	if ev.name != name {
		t.Fatalf("event %q (%s); want %q", ev.name, ev.data, name)
	}
	return ev
}

// openStream serves h in memory, opens its event stream, and returns the stream and a
// channel closed when the handler has returned.
func openStream(t *testing.T, h http.Handler) (*http.Response, *bufio.Reader, <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	tr := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		h.ServeHTTP(w, r)
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://svc/debug/bulwark/", nil)
	req.Header.Set("Accept", "text/event-stream") // as EventSource sends it
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp, bufio.NewReader(resp.Body), done
}

// waitDone fails the test unless the handler returns within a (fake) minute.
func waitDone(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the stream's handler did not return after %s", why)
	}
}

// The stream: a snapshot at once; a breaker's trip as a change event at once and a
// snapshot showing it 100ms later; a snapshot every second besides; and it asks
// EventSource to wait 5s before reconnecting, so a lost connection causes no storm.
func TestStatusStreamPushesChangesAndSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterCircuitBreaker("payments", consecutive("payments")); err != nil {
			t.Fatal(err)
		}
		resp, r, _ := openStream(t, bulwarkhttp.StatusHandler(e))
		if line, _ := r.ReadString('\n'); line != "retry: 5000\n" {
			t.Fatalf("first line %q; want the retry delay", line)
		}
		t0 := time.Now()
		if s := decodeSnapshot(t, []byte(mustEvent(t, r, "snapshot").data)); len(s.Breakers) != 1 || s.Breakers[0].State != "closed" {
			t.Fatalf("first snapshot %+v", s)
		}

		for range 3 {
			runOnce(e, consecutive("payments"), errSecret)
		}
		ch := mustEvent(t, r, "change")
		var c bulwarkhttp.StatusChange
		if err := json.Unmarshal([]byte(ch.data), &c); err != nil {
			t.Fatal(err)
		}
		if c.Kind != "breaker_state_changed" || c.Name != "payments" || c.From != "closed" || c.To != "open" ||
			c.Reason != "consecutive_failures" || strings.Contains(ch.data, "hunter2") || !ch.at.Equal(t0) {
			t.Fatalf("change %s at %v; want payments closed → open (consecutive_failures) at once", ch.data, ch.at.Sub(t0))
		}
		snap := mustEvent(t, r, "snapshot")
		if s := decodeSnapshot(t, []byte(snap.data)); s.Breakers[0].State != "open" || snap.at.Sub(t0) != 100*time.Millisecond {
			t.Fatalf("snapshot after the change at +%v: %+v; want open at +100ms", snap.at.Sub(t0), s.Breakers)
		}
		tick := mustEvent(t, r, "snapshot")
		if d := tick.at.Sub(t0); d != time.Second {
			t.Fatalf("periodic snapshot at +%v; want +1s", d)
		}
		_ = resp.Body.Close()
	})
}

// The stream ends when the client goes away: the handler returns and its subscription
// is cancelled (goleak checks nothing of it is left).
func TestStatusStreamEndsWhenTheClientGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		resp, r, done := openStream(t, bulwarkhttp.StatusHandler(e))
		mustEvent(t, r, "snapshot")
		_ = resp.Body.Close()
		waitDone(t, done, "the client closed the connection")
	})

	// Through ServeHTTP directly: the request's context ends.
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		ctx, cancel := context.WithCancel(context.Background())
		w := &streamRecorder{ResponseRecorder: httptest.NewRecorder()}
		done := make(chan struct{})
		go func() {
			defer close(done)
			bulwarkhttp.StatusHandler(e).ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/?format=events", nil))
		}()
		time.Sleep(2500 * time.Millisecond)
		cancel()
		waitDone(t, done, "the request's context ended")
		if n := strings.Count(w.String(), "event: snapshot\n"); n != 3 {
			t.Errorf("%d snapshots in 2.5s; want 3 (at 0, 1s and 2s)", n)
		}
	})
}

// The stream ends when the engine shuts down, with a last snapshot and a "shutdown"
// event that tells the page to stop reconnecting.
func TestStatusStreamEndsAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		_, r, done := openStream(t, bulwarkhttp.StatusHandler(e))
		mustEvent(t, r, "snapshot")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		mustEvent(t, r, "snapshot")
		mustEvent(t, r, "shutdown")
		if _, err := readEvent(t, r); err != io.EOF {
			t.Fatalf("after shutdown: %v; want the stream to end", err)
		}
		waitDone(t, done, "Shutdown")

		// A page that reconnects to a shut-down engine is told at once.
		_, r2, done2 := openStream(t, bulwarkhttp.StatusHandler(e))
		mustEvent(t, r2, "snapshot")
		mustEvent(t, r2, "snapshot")
		mustEvent(t, r2, "shutdown")
		waitDone(t, done2, "connecting to a shut-down engine")
	})
}

// A graceful http.Server.Shutdown does not wait for open streams (it would, until its
// context ended): they end at once, and the page reconnects after its retry delay.
func TestStatusStreamEndsAtServerShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := bulwarkhttp.StatusHandler(newEngine(t))
		done := make(chan struct{})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(done)
			h.ServeHTTP(w, r)
		})}
		l := newPipeListener()
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = srv.Serve(l)
		}()
		tr := &http.Transport{DialContext: l.dial}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, "http://svc/?format=events", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		mustEvent(t, r, "snapshot")
		drained := make(chan struct{})
		go func() { // a live page keeps reading
			defer close(drained)
			_, _ = io.Copy(io.Discard, r)
		}()

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v after %v; want it to end the stream and return", err, time.Since(start))
		}
		waitDone(t, done, "the server's Shutdown")
		<-served
		<-drained
	})
}

// streamRecorder is an httptest.ResponseRecorder that the test may read while the
// handler writes.
type streamRecorder struct {
	*httptest.ResponseRecorder
	mu sync.Mutex
}

func (s *streamRecorder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ResponseRecorder.Write(p)
}

func (s *streamRecorder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Body.String()
}

// --- the controls -------------------------------------------------------------------

// logged collects the status handler's log records.
type logged struct {
	buf bytes.Buffer
}

func (l *logged) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logged) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func post(h http.Handler, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/debug/bulwark/", strings.NewReader(body))
	req.RemoteAddr = "192.0.2.7:4242"
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return serve(h, req)
}

// Controls: off by default (403, no buttons), 403 unless authorize says yes, applied
// through the engine's manual states when it does; every request logged at Info with
// who asked.
func TestStatusControlsNeedAuthorization(t *testing.T) {
	e := statusEngine(t)
	state := func(name string) string { return e.Metrics().Breakers[name].State.String() }
	force := `{"action":"force_open","name":"payments"}`

	if rec := post(bulwarkhttp.StatusHandler(e), force); rec.Code != http.StatusForbidden {
		t.Fatalf("without WithControls: %d, want 403", rec.Code)
	}
	if s := decodeSnapshot(t, getStatus(bulwarkhttp.StatusHandler(e), "/?format=json").Body.Bytes()); s.Controls {
		t.Fatal("controls reported on without WithControls")
	}

	var log logged
	allow := false
	h := bulwarkhttp.StatusHandler(e, bulwarkhttp.WithStatusLogger(log.logger()),
		bulwarkhttp.WithControls(func(r *http.Request) bool {
			user, pass, _ := r.BasicAuth()
			return allow && user == "oncall" && pass == "letmein"
		}))
	if s := decodeSnapshot(t, getStatus(h, "/?format=json").Body.Bytes()); !s.Controls {
		t.Fatal("controls reported off with WithControls")
	}
	auth := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	if rec := post(h, force, "Authorization", auth("oncall", "letmein")); rec.Code != http.StatusForbidden || state("payments") != "closed" {
		t.Fatalf("authorize said no: %d, payments %s; want 403 and closed", rec.Code, state("payments"))
	}
	allow = true
	if rec := post(h, force, "Authorization", auth("oncall", "wrong")); rec.Code != http.StatusForbidden {
		t.Fatalf("wrong password: %d, want 403", rec.Code)
	}

	for _, tt := range []struct {
		body, want string
	}{
		{`{"action":"force_open","name":"payments"}`, "forced_open"},
		{`{"action":"reset","name":"payments"}`, "closed"},
		{`{"action":"disable","name":"payments"}`, "disabled"},
		{`{"action":"force_open","name":"payments","for":"30s"}`, "forced_open"},
	} {
		rec := post(h, tt.body, "Authorization", auth("oncall", "letmein"))
		var rep map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &rep)
		if rec.Code != 200 || rep["state"] != tt.want || state("payments") != tt.want {
			t.Fatalf("%s: %d %v, engine %s; want 200 and %s", tt.body, rec.Code, rep, state("payments"), tt.want)
		}
	}
	if until := e.Metrics().Breakers["payments"].OpenUntil; until.IsZero() {
		t.Error(`"for":"30s" forced the breaker open until reset`)
	}

	records := log.records(t)
	if len(records) != 6 {
		t.Fatalf("%d log records, want one per control request (6): %v", len(records), records)
	}
	for i, rec := range records {
		if rec["level"] != "INFO" || rec["remote_addr"] != "192.0.2.7:4242" || rec["user"] != "oncall" {
			t.Errorf("record %d %v: want Info with remote_addr and user", i, rec)
		}
	}
	if r := records[2]; r["action"] != "force_open" || r["name"] != "payments" || r["outcome"] != "applied" || r["status"] != float64(200) {
		t.Errorf("the applied ForceOpen was logged as %v", r)
	}
	if r := records[0]; r["status"] != float64(403) || r["outcome"] != "not authorized" {
		t.Errorf("the refused request was logged as %v", r)
	}
	if strings.Contains(log.buf.String(), "letmein") {
		t.Error("the log holds the password")
	}
}

// Bad control requests get a clear 4xx and change nothing; a name no breaker has is not
// created; a panicking authorize and a cross-site request are refused.
func TestStatusControlsRefuseBadRequests(t *testing.T) {
	e := statusEngine(t)
	var log logged
	h := bulwarkhttp.StatusHandler(e, bulwarkhttp.WithStatusLogger(log.logger()),
		bulwarkhttp.WithControls(func(*http.Request) bool { return true }))
	for _, tt := range []struct {
		name   string
		body   string
		header []string
		code   int
	}{
		{"unknown breaker", `{"action":"force_open","name":"nope"}`, nil, http.StatusNotFound},
		{"unknown action", `{"action":"explode","name":"payments"}`, nil, http.StatusBadRequest},
		{"unknown field", `{"action":"reset","name":"payments","x":1}`, nil, http.StatusBadRequest},
		{"two objects", `{"action":"reset","name":"payments"}{}`, nil, http.StatusBadRequest},
		{"not JSON", `action=reset&name=payments`, nil, http.StatusBadRequest},
		{"negative for", `{"action":"force_open","name":"payments","for":"-1s"}`, nil, http.StatusBadRequest},
		{"for on reset", `{"action":"reset","name":"payments","for":"1s"}`, nil, http.StatusBadRequest},
		{"form content type", `{"action":"reset","name":"payments"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"cross-site", `{"action":"force_open","name":"payments"}`, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"too large", `{"action":"reset","name":"` + strings.Repeat("x", 5000) + `"}`, nil, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(h, tt.body, tt.header...)
			var rep map[string]string
			if rec.Code != tt.code || json.Unmarshal(rec.Body.Bytes(), &rep) != nil || rep["error"] == "" {
				t.Fatalf("%d %q; want %d with an error sentence", rec.Code, rec.Body, tt.code)
			}
		})
	}
	m := e.Metrics()
	if _, ok := m.Breakers["nope"]; ok {
		t.Error("a control created a breaker for a name no breaker had")
	}
	if s := m.Breakers["payments"].State.String(); s != "closed" {
		t.Errorf("payments is %s after refused requests, want closed", s)
	}

	panicky := bulwarkhttp.StatusHandler(e, bulwarkhttp.WithStatusLogger(log.logger()),
		bulwarkhttp.WithControls(func(*http.Request) bool { panic("authorize bug") }))
	if rec := post(panicky, `{"action":"force_open","name":"payments"}`); rec.Code != http.StatusForbidden {
		t.Errorf("panicking authorize: %d, want 403", rec.Code)
	}
}

// A control after Shutdown says so with 503, without the engine's error text.
func TestStatusControlAfterShutdown(t *testing.T) {
	e := statusEngine(t)
	var log logged
	h := bulwarkhttp.StatusHandler(e, bulwarkhttp.WithStatusLogger(log.logger()),
		bulwarkhttp.WithControls(func(*http.Request) bool { return true }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rec := post(h, `{"action":"force_open","name":"payments"}`)
	var rep map[string]string
	if rec.Code != http.StatusServiceUnavailable || json.Unmarshal(rec.Body.Bytes(), &rep) != nil || rep["error"] != "the engine is shut down" {
		t.Fatalf("after Shutdown: %d %q; want 503 saying the engine is shut down", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "policy:") {
		t.Errorf("the reply shows the engine's error: %q", rec.Body)
	}
}

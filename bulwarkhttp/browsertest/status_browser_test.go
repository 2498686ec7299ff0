package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// The breakers of the test, named as a service would name them, plus names that would
// run as markup if the page wrote them as HTML.
const (
	payments  = "payments"
	inventory = "inventory"
	ledger    = "ledger"
	search    = "search"
	scriptTag = "<script>window.__pwned=1</script>"
	imgTag    = `<img src=x onerror="window.__pwned=1">`
)

var boom = errors.New("boom")

// TestMain fails the package if a goroutine outlives the tests: the engine's, the
// server's and chromedp's must all end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// chromium finds Debian's chromium: the test skips without it, unless it runs in CI
// (CI set), where .ci/steps/40-chromium.sh installs it and its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium is not installed: apt-get install -y --no-install-recommends chromium to run the browser test (in CI, with CI set, it is a failure)")
	}
	t.Fatal("chromium is not installed, and CI is set: .ci/steps/40-chromium.sh should have installed it")
	return ""
}

// browser starts a headless chromium with the flags this machine needs (no sandbox as
// root, no network but loopback, a fresh profile) and returns a tab's context and a
// function that stops the browser (idempotent; it also runs when the test ends).
func browser(t *testing.T, width, height int) (context.Context, func()) {
	t.Helper()
	path := chromium(t)
	profile, err := os.MkdirTemp("", "bulwark-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// chromium's children may still write there for a moment after it stops.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	)
	ctx, cancelTab := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancelTab()
			cancelAlloc()
		})
	}
	t.Cleanup(stop)
	// The first Run starts the browser; it lives as long as ctx, so no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx, stop
}

// within runs actions with a deadline, so a page that never gets there fails the test
// instead of hanging it.
func within[T any](t *testing.T, ctx context.Context, d time.Duration, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func newEngine(t *testing.T) *supervisor.Engine {
	t.Helper()
	e, err := supervisor.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx) // the test may have shut it down already
	})
	return e
}

func consecutive(name string) policy.CircuitBreakerPolicy {
	return policy.CircuitBreaker(3, time.Hour).Named(name)
}

func call(e *supervisor.Engine, p policy.Policy, err error) {
	_, _ = supervisor.ExecuteWithPolicy(context.Background(), e, p, func(context.Context) (int, error) { return 1, err })
}

// populate gives the engine every kind of named actor the page shows, in several states.
func populate(t *testing.T, e *supervisor.Engine) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{payments, inventory, search, scriptTag, imgTag} {
		must(e.RegisterCircuitBreaker(name, consecutive(name)))
	}
	window := policy.CircuitBreaker(5, time.Hour).WithCountWindow(20).WithFailureRate(0.5, 10).Named(ledger)
	must(e.RegisterCircuitBreaker(ledger, window))
	must(e.RegisterRateLimiter("api", policy.RateLimit(100).WithBurst(20).Named("api")))
	must(e.RegisterBulkhead("db", policy.Bulkhead(8).Named("db")))
	must(e.RegisterBudget("retries", policy.RetryBudget(0.2)))

	call(e, consecutive(payments), boom) // one failure in a row, still closed
	for i := range 30 {
		call(e, consecutive(inventory), nil)
		var err error
		if i%4 == 0 {
			err = boom
		}
		call(e, window, err)
		call(e, policy.RateLimit(100).WithBurst(20).Named("api"), nil)
	}
	for range 3 {
		call(e, consecutive(search), boom)
	}
	must(e.DisableBreaker(inventory))
	call(e, policy.Bulkhead(8).Named("db"), nil)
	call(e, policy.Retry(2).WithBudget("retries"), nil)
}

// load keeps calls flowing through the limiter and the bulkhead until stop is closed,
// so the page's rates and gauges move (for the screenshots; the test asserts none of it).
func load(e *supervisor.Engine, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			call(e, policy.RateLimit(100).WithBurst(20).Named("api"), nil)
			call(e, policy.Bulkhead(8).Named("db"), nil)
			if i%3 == 0 {
				call(e, policy.Retry(2).WithBudget("retries"), nil)
			}
		}
	}()
	return done
}

// pageStates reads every breaker row of the page: name → the state its badge shows.
const pageStates = `Object.fromEntries([...document.querySelectorAll('#breakers tbody tr[data-name]')]
	.map(tr => [tr.dataset.name, tr.querySelector('.badge').dataset.state]))`

// engineStates reads the same from the engine.
func engineStates(e *supervisor.Engine) map[string]string {
	out := map[string]string{}
	for name, s := range e.Metrics().Breakers {
		out[name] = s.State.String()
	}
	return out
}

// The page shows every breaker with its current state, names as text; a breaker that
// trips while the page is open turns "open" without a reload; controls change a
// breaker's state; the filter and the sort work; the page says when the engine stops.
// Screenshots go to the test's artefact directory (go test -artifacts keeps them).
func TestStatusPageInChromium(t *testing.T) {
	ctx, closeBrowser := browser(t, 1280, 900) // first: without chromium the test skips at once
	e := newEngine(t)
	populate(t, e)
	stopLoad := make(chan struct{})
	loadDone := load(e, stopLoad)
	stop := func() {
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
		}
		<-loadDone
	}
	t.Cleanup(stop)
	mux := http.NewServeMux()
	mux.Handle("/debug/bulwark/", bulwarkhttp.StatusHandler(e,
		bulwarkhttp.WithControls(func(*http.Request) bool { return true })))
	srv := httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(srv.Close)
	// Cleanups run last-in first: the browser goes before srv.Close, which would wait
	// for the page's open stream.
	t.Cleanup(closeBrowser)
	url := srv.URL + "/debug/bulwark/"

	within(t, ctx, 60*time.Second, "open the page", chromedp.Navigate(url))
	within(t, ctx, 30*time.Second, "the stream connects", chromedp.Poll[bool](
		`document.querySelector('#conn').dataset.conn === 'live'`))

	// Every breaker, with the state the engine has.
	want := engineStates(e)
	if len(want) != 6 {
		t.Fatalf("engine has %d breakers, want 6: %v", len(want), want)
	}
	got := within(t, ctx, 10*time.Second, "read the breakers", chromedp.Evaluate[map[string]string](pageStates))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("page shows %v\nengine has %v", got, want)
	}
	if got[search] != "open" || got[inventory] != "disabled" || got[payments] != "closed" {
		t.Fatalf("page shows %v; want search open, inventory disabled, payments closed", got)
	}

	// Names are text: the markup in them did not run and made no element.
	escaped := within(t, ctx, 10*time.Second, "read the names", chromedp.Evaluate[map[string]any](`({
		pwned: window.__pwned === 1,
		imgs: document.querySelectorAll('img').length,
		scripts: document.scripts.length,
		names: [...document.querySelectorAll('#breakers td.name')].map(td => td.textContent),
	})`))
	names, _ := escaped["names"].([]any)
	if escaped["pwned"] != false || escaped["imgs"] != float64(0) || escaped["scripts"] != float64(2) ||
		!slices.Contains(names, any(scriptTag)) || !slices.Contains(names, any(imgTag)) {
		t.Fatalf("names not rendered as text: %v", escaped)
	}

	// A trip while the page is open: the badge turns open, the page is not reloaded.
	within(t, ctx, 10*time.Second, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__sameDocument = 42`))
	for range 2 { // payments has one failure already; 3 in a row trip it
		call(e, consecutive(payments), boom)
	}
	if s := e.Metrics().Breakers[payments].State.String(); s != "open" {
		t.Fatalf("payments is %s in the engine, want open", s)
	}
	within(t, ctx, 30*time.Second, "payments turns open on the page", chromedp.Poll[bool](
		`document.querySelector('#breakers tr[data-name="payments"] .badge').dataset.state === 'open'`))
	same := within(t, ctx, 10*time.Second, "check for a reload", chromedp.Evaluate[bool](`window.__sameDocument === 42`))
	if !same {
		t.Fatal("the page was reloaded to show the trip")
	}
	within(t, ctx, 30*time.Second, "the change is listed", chromedp.Poll[bool](
		`[...document.querySelectorAll('#changes li')].some(li => li.textContent.includes('payments') && li.textContent.includes('closed → open'))`))
	shot(t, ctx, "status-page.png")

	// The controls: Force open on ledger, through the page's button.
	within(t, ctx, 10*time.Second, "force ledger open", chromedp.Click(chromedp.CSS(`#breakers tr[data-name="ledger"] button[data-action="force_open"]`)))
	within(t, ctx, 30*time.Second, "ledger turns forced open", chromedp.Poll[bool](
		`document.querySelector('#breakers tr[data-name="ledger"] .badge').dataset.state === 'forced_open'`))
	if s := e.Metrics().Breakers[ledger].State.String(); s != "forced_open" {
		t.Fatalf("ledger is %s in the engine after Force open, want forced_open", s)
	}

	// Sort by name, descending, then filter.
	within(t, ctx, 10*time.Second, "sort by name", chromedp.Click(chromedp.CSS(`#breakers thead th`)))
	order := within(t, ctx, 10*time.Second, "read the order", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#breakers tbody tr[data-name]')].map(tr => tr.dataset.name)`))
	if !slices.IsSortedFunc(order, func(a, b string) int { return -cmpString(a, b) }) || len(order) != 6 {
		t.Fatalf("after one click on Name the order is %q, want all 6 names descending", order)
	}
	within(t, ctx, 10*time.Second, "filter", chromedp.SendKeys(chromedp.ID("filter"), "pay"))
	within(t, ctx, 10*time.Second, "only payments is left", chromedp.Poll[bool](
		`(() => { const r = [...document.querySelectorAll('#breakers tbody tr[data-name]')]; return r.length === 1 && r[0].dataset.name === 'payments'; })()`))

	// On a phone's width the page still shows the breakers, scrolling sideways.
	within(t, ctx, 10*time.Second, "clear the filter", chromedp.Evaluate[chromedp.Void](
		`(() => { const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input')); })()`))
	within(t, ctx, 10*time.Second, "phone viewport", chromedp.EmulateViewport(390, 844))
	shot(t, ctx, "status-page-phone.png")

	// The engine shuts down: the stream ends and the page says so.
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	within(t, ctx, 30*time.Second, "the page says the engine stopped", chromedp.Poll[bool](
		`document.querySelector('#conn').dataset.conn === 'stopped'`))
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// shot writes a full-page PNG screenshot to the test's artefact directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := within(t, ctx, 30*time.Second, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

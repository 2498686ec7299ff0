package bulwarkhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Handler", "yes")
	_, _ = io.WriteString(w, "foo")
}

// failsafehttp's TestServerSuccess: a handler that succeeds runs once and its response
// goes out as written, also when the policy makes the middleware buffer it.
func TestMiddlewarePassesTheHandlersResponse(t *testing.T) {
	for _, p := range []policy.Policy{
		policy.CircuitBreaker(5, time.Minute).Named("pass"),
		policy.Combine(policy.Retry(3), policy.Timeout(time.Minute)),
	} {
		t.Run(p.String(), func(t *testing.T) {
			var runs atomic.Int32
			h := bulwarkhttp.Middleware(newEngine(t), p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				runs.Add(1)
				hello(w, r)
			}))
			rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != 200 || rec.Body.String() != "foo" || rec.Header().Get("X-Handler") != "yes" || runs.Load() != 1 {
				t.Fatalf("got %d %q %v after %d runs; want the handler's 200 foo once", rec.Code, rec.Body, rec.Header(), runs.Load())
			}
		})
	}
}

// IN-8: each refusal's status, and a Retry-After of whole seconds, rounded up, whenever
// the refusal says how long to wait; failsafehttp's TestServerCircuitBreaker (which
// answers 429 with no Retry-After).
func TestMiddlewareAnswersRefusals(t *testing.T) {
	t.Run("rate limited: 429 with Retry-After", func(t *testing.T) {
		e := newEngine(t)
		h := bulwarkhttp.Middleware(e, policy.RateLimit(0.4).Named("rl").WithBurst(1))(http.HandlerFunc(hello))
		if rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil)); rec.Code != 200 {
			t.Fatalf("first request: %d", rec.Code)
		}
		rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", rec.Code)
		}
		// The next token is 2.5 s away (a little less by now): rounded up, 3.
		if got := rec.Header().Get("Retry-After"); got != "3" {
			t.Errorf("Retry-After %q, want 3", got)
		}
	})
	t.Run("circuit open under a retry: 503 with Retry-After, handler not run", func(t *testing.T) {
		e := newEngine(t)
		var runs atomic.Int32
		h := bulwarkhttp.Middleware(e, policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, time.Minute).Named("cb")))(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs.Add(1); hello(w, r) }))
		if err := e.ForceOpen("cb", 90*time.Second); err != nil {
			t.Fatal(err)
		}
		rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusServiceUnavailable || runs.Load() != 0 {
			t.Fatalf("status %d after %d runs, want 503 and none", rec.Code, runs.Load())
		}
		if got := rec.Header().Get("Retry-After"); got != "90" {
			t.Errorf("Retry-After %q, want 90", got)
		}
	})
	t.Run("shut down: 503", func(t *testing.T) {
		e, err := supervisor.New()
		if err != nil {
			t.Fatal(err)
		}
		h := bulwarkhttp.Middleware(e, policy.CircuitBreaker(5, time.Minute).Named("down"))(http.HandlerFunc(hello))
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil)); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
	})
	t.Run("a panic: 500", func(t *testing.T) {
		for _, p := range []policy.Policy{policy.None(), policy.Timeout(time.Minute)} {
			h := bulwarkhttp.Middleware(newEngine(t), p)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
			if rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil)); rec.Code != http.StatusInternalServerError {
				t.Fatalf("%v: status %d, want 500", p, rec.Code)
			}
		}
	})
	t.Run("invalid policy: 500", func(t *testing.T) {
		h := bulwarkhttp.Middleware(newEngine(t), policy.Retry(0))(http.HandlerFunc(hello))
		if rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil)); rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", rec.Code)
		}
	})
}

// failsafehttp's TestServerCancelWithContext: a request whose context already ended does
// not run the handler and is answered 503.
func TestMiddlewareDoesNotRunACancelledRequest(t *testing.T) {
	var runs atomic.Int32
	h := bulwarkhttp.Middleware(newEngine(t), policy.Retry(3))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		hello(w, r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable || runs.Load() != 0 {
		t.Fatalf("status %d after %d runs; want 503 and none", rec.Code, runs.Load())
	}
}

// IN-9 and failsafehttp's TestServerCancelWithTimeout: at the deadline the client gets
// 503, and the handler's later write fails with http.ErrHandlerTimeout, as under
// http.TimeoutHandler (race-free: the detector is on).
func TestMiddlewareTimeoutAnswers503AndFailsLaterWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wrote := make(chan error, 1)
		h := bulwarkhttp.Middleware(newEngine(t), policy.Timeout(50*time.Millisecond))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(200 * time.Millisecond) // ignores its context
			w.Header().Set("X-Late", "1")
			_, err := io.WriteString(w, "late")
			wrote <- err
		}))
		start := time.Now()
		rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("answered after %v, want 50ms", d)
		}
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
		if err := <-wrote; !errors.Is(err, http.ErrHandlerTimeout) {
			t.Errorf("the late write returned %v, want http.ErrHandlerTimeout", err)
		}
		if rec.Header().Get("X-Late") != "" || strings.Contains(rec.Body.String(), "late") {
			t.Error("the late handler reached the response")
		}
	})
}

// IN-9 through a real server (in memory): the client gets the 503 at the deadline.
func TestMiddlewareTimeoutThroughAServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := bulwarkhttp.Middleware(newEngine(t), policy.Timeout(50*time.Millisecond))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-r.Context().Done():
			}
			_, _ = io.WriteString(w, "late")
		}))
		tr := serveInMemory(t, h)
		start := time.Now()
		resp, err := (&http.Client{Transport: tr}).Get("http://svc/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || time.Since(start) != 50*time.Millisecond {
			t.Fatalf("status %d after %v; want 503 after 50ms", resp.StatusCode, time.Since(start))
		}
	})
}

// IN-10: for the middleware's breakers a status of 500 or more, except 501, is a
// failure.
func TestMiddlewareCountsServerErrorsForBreakers(t *testing.T) {
	for _, tt := range []struct {
		code    int
		counted bool
	}{{200, false}, {404, false}, {429, false}, {500, true}, {501, false}, {503, true}, {505, true}} {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			e := newEngine(t)
			name := "in10-" + http.StatusText(tt.code)
			h := bulwarkhttp.Middleware(e, policy.CircuitBreaker(100, time.Hour).Named(name))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.code)
			}))
			rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != tt.code {
				t.Fatalf("status %d, want the handler's %d", rec.Code, tt.code)
			}
			if counted := e.Metrics().Breakers[name].Failures > 0; counted != tt.counted {
				t.Errorf("counted = %v, want %v", counted, tt.counted)
			}
		})
	}
}

// IN-10: a classifier named by the policy overrides the default.
func TestMiddlewareClassifierOverridesTheDefault(t *testing.T) {
	e := newEngine(t, supervisor.WithClassifier("503-is-fine", func(_ any, err error) policy.Verdict {
		var se *bulwarkhttp.StatusError
		if errors.As(err, &se) && se.StatusCode == 503 {
			return policy.Success
		}
		if err != nil {
			return policy.Failure
		}
		return policy.Success
	}))
	h := bulwarkhttp.Middleware(e, policy.CircuitBreaker(1, time.Hour).Named("ovr").WithClassifier("503-is-fine"))(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	for range 3 {
		if rec := serve(h, httptest.NewRequest(http.MethodGet, "/", nil)); rec.Code != 503 {
			t.Fatalf("status %d: the breaker opened on 503s its classifier calls successes", rec.Code)
		}
	}
}

// IN-11: WithKey gives each route its own breaker; names created so passivate when idle.
func TestWithKeyNamesBreakersPerRouteAndTheyPassivate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, supervisor.WithIdleTimeout(time.Minute))
		key := bulwarkhttp.WithKey(func(r *http.Request) string { return "route:" + r.URL.Path })
		p := policy.CircuitBreaker(1, time.Hour)
		h := bulwarkhttp.Middleware(e, p, key)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bad" {
				w.WriteHeader(500)
				return
			}
			hello(w, r)
		}))
		rt := bulwarkhttp.NewTransport(e, p, &fakeNext{respond: statuses(200)}, key)
		serve(h, httptest.NewRequest(http.MethodGet, "/bad", nil))
		if rec := serve(h, httptest.NewRequest(http.MethodGet, "/bad", nil)); rec.Code != 503 {
			t.Fatalf("/bad after a failure: %d, want 503 (its breaker open)", rec.Code)
		}
		if rec := serve(h, httptest.NewRequest(http.MethodGet, "/good", nil)); rec.Code != 200 {
			t.Fatalf("/good: %d, want 200 (its own breaker)", rec.Code)
		}
		resp, err := get(t, rt, "http://svc/client")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		breakers := e.Metrics().Breakers
		for _, name := range []string{"route:/bad", "route:/good", "route:/client"} {
			if _, ok := breakers[name]; !ok {
				t.Errorf("no breaker %q in %v", name, breakers)
			}
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		breakers = e.Metrics().Breakers
		for _, name := range []string{"route:/good", "route:/client"} {
			if _, ok := breakers[name]; ok {
				t.Errorf("the idle breaker %q was not passivated", name)
			}
		}
	})
}

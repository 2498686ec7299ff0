package bulwarkhttp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/bulwarkhttp"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// quickRetry retries n times in all with no wait.
func quickRetry(n int) policy.RetryPolicy {
	return policy.Retry(n).WithBackoff(policy.FixedBackoff{})
}

func get(t *testing.T, rt http.RoundTripper, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rt.RoundTrip(req)
}

// onlyReader hides every method but Read, so http.NewRequest sets no GetBody.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// IN-1, failsafe-go#73 and failsafehttp's TestBodyReader: every attempt sends the whole
// body, replayed through the GetBody that http.NewRequest sets for each of these types.
func TestTransportReplaysTheBodyOnEveryAttempt(t *testing.T) {
	for _, tt := range []struct {
		name string
		body io.Reader
	}{
		{"bytes.Reader", bytes.NewReader([]byte("reader data"))},
		{"bytes.Buffer", bytes.NewBufferString("reader data")},
		{"strings.Reader", strings.NewReader("reader data")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{respond: statuses(503, 503, 200)}
			rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), next)
			req, _ := http.NewRequest(http.MethodPost, "http://svc/orders", tt.body)
			req.Header.Set("Idempotency-Key", "k1")
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
			}
			resp.Body.Close()
			sent := next.requests()
			if len(sent) != 3 {
				t.Fatalf("%d attempts, want 3", len(sent))
			}
			for i, s := range sent {
				if s.body != "reader data" {
					t.Errorf("attempt %d sent body %q, want the whole body", i+1, s.body)
				}
			}
		})
	}
}

// IN-1: a body without GetBody cannot be sent again: one attempt, and the last response
// is returned as it is.
func TestTransportSendsABodyWithoutGetBodyOnce(t *testing.T) {
	next := &fakeNext{respond: statuses(503)}
	rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), next)
	req, _ := http.NewRequest(http.MethodPut, "http://svc/doc", onlyReader{strings.NewReader("streamed")})
	if req.GetBody != nil {
		t.Fatal("the test needs a request without GetBody")
	}
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("RoundTrip = %v, %v; want the 503 response and no error", resp, err)
	}
	resp.Body.Close()
	if sent := next.requests(); len(sent) != 1 || sent[0].body != "streamed" {
		t.Fatalf("sent %+v; want one attempt with the whole body", sent)
	}
}

// IN-1: WithBodyBuffer buffers a body without GetBody up to its limit; a longer one is
// streamed, whole, once.
func TestTransportBuffersBodiesUpToWithBodyBuffer(t *testing.T) {
	for _, tt := range []struct {
		name     string
		body     string
		attempts int
	}{
		{"within the limit: replayed", "0123456789abcdef", 3},
		{"over the limit: sent once", "0123456789abcdef!", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{respond: statuses(503)}
			rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), next, bulwarkhttp.WithBodyBuffer(16))
			req, _ := http.NewRequest(http.MethodPut, "http://svc/doc", onlyReader{strings.NewReader(tt.body)})
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			sent := next.requests()
			if len(sent) != tt.attempts {
				t.Fatalf("%d attempts, want %d", len(sent), tt.attempts)
			}
			for i, s := range sent {
				if s.body != tt.body {
					t.Errorf("attempt %d sent %q, want %q", i+1, s.body, tt.body)
				}
			}
		})
	}
}

// IN-2: only idempotent methods, or requests with an idempotency key, are sent again;
// the others still pass the breaker, once.
func TestTransportRetriesOnlyIdempotentRequests(t *testing.T) {
	for _, tt := range []struct {
		method, header string
		attempts       int
	}{
		{http.MethodGet, "", 3}, {http.MethodHead, "", 3}, {http.MethodOptions, "", 3},
		{http.MethodTrace, "", 3}, {http.MethodPut, "", 3}, {http.MethodDelete, "", 3},
		{http.MethodPost, "", 1}, {http.MethodPatch, "", 1}, {"CONNECT", "", 1},
		{http.MethodPost, "Idempotency-Key", 3}, {http.MethodPost, "X-Idempotency-Key", 3},
	} {
		t.Run(tt.method+" "+tt.header, func(t *testing.T) {
			e := newEngine(t)
			next := &fakeNext{respond: statuses(503)}
			name := "in2-" + tt.method
			rt := bulwarkhttp.NewTransport(e, policy.Combine(quickRetry(3), policy.CircuitBreaker(100, time.Hour).Named(name)), next)
			req, _ := http.NewRequest(tt.method, "http://svc/x", nil)
			if tt.header != "" {
				req.Header.Set(tt.header, "k")
			}
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode != 503 {
				t.Fatalf("RoundTrip = %v, %v; want the 503 response", resp, err)
			}
			resp.Body.Close()
			if n := len(next.requests()); n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
			if f := e.Metrics().Breakers[name].Failures; f != uint64(tt.attempts) {
				t.Errorf("breaker counted %d failures, want %d", f, tt.attempts)
			}
		})
	}
}

// IN-3: the "http" classifier's table, through the transport: status → (retried?,
// counted by the breaker?).
func TestTransportClassifiesStatuses(t *testing.T) {
	for _, tt := range []struct {
		code    int
		retried bool
		counted bool
	}{
		{200, false, false}, {204, false, false}, {301, false, false},
		{400, false, false}, {401, false, false}, {404, false, false}, {409, false, false},
		{408, true, true}, {429, true, false},
		{500, true, true}, {501, false, false}, {502, true, true}, {503, true, true}, {504, true, true},
		{505, false, false},
	} {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			e := newEngine(t)
			next := &fakeNext{respond: statuses(tt.code)}
			name := "in3-" + strconv.Itoa(tt.code)
			rt := bulwarkhttp.NewTransport(e, policy.Combine(quickRetry(3), policy.CircuitBreaker(100, time.Hour).Named(name)), next)
			resp, err := get(t, rt, "http://svc/x")
			if err != nil || resp.StatusCode != tt.code {
				t.Fatalf("RoundTrip = %v, %v; want the %d response", resp, err, tt.code)
			}
			resp.Body.Close()
			attempts := len(next.requests())
			if retried := attempts > 1; retried != tt.retried {
				t.Errorf("%d attempts: retried = %v, want %v", attempts, retried, tt.retried)
			}
			failures := e.Metrics().Breakers[name].Failures
			if counted := failures > 0; counted != tt.counted {
				t.Errorf("breaker failures %d: counted = %v, want %v", failures, counted, tt.counted)
			}
		})
	}
}

// IN-3: Classify on its own, for errors too.
func TestClassifyJudgesResponsesAndErrors(t *testing.T) {
	certErr := fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})
	for _, tt := range []struct {
		name string
		v    any
		err  error
		want policy.Verdict
	}{
		{"nothing", nil, nil, policy.Success},
		{"200", &http.Response{StatusCode: 200}, nil, policy.Success},
		{"404", &http.Response{StatusCode: 404}, nil, policy.Success},
		{"501", &http.Response{StatusCode: 501}, nil, policy.Success},
		{"503", &http.Response{StatusCode: 503}, nil, policy.Failure},
		{"429", &http.Response{StatusCode: 429}, nil, policy.Failure},
		{"a status error", nil, &bulwarkhttp.StatusError{StatusCode: 502}, policy.Failure},
		{"connection refused", nil, syscall.ECONNREFUSED, policy.Failure},
		{"an untrusted certificate", nil, certErr, policy.Ignore},
		{"a permanent error", nil, policy.Permanent(errors.New("bad")), policy.Ignore},
	} {
		if got := bulwarkhttp.Classify(tt.v, tt.err); got != tt.want {
			t.Errorf("%s: Classify = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// IN-3: the transport registers its classifier as "http", so a policy may name it.
func TestTransportRegistersTheHTTPClassifier(t *testing.T) {
	e := newEngine(t)
	p := policy.CircuitBreaker(1, time.Hour).Named("named-http").WithClassifier("http")
	if _, err := e.Prepare("", p); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("before NewTransport, Prepare = %v; want ErrInvalidPolicy (unknown classifier)", err)
	}
	next := &fakeNext{respond: statuses(404)}
	rt := bulwarkhttp.NewTransport(e, p, next)
	for range 3 {
		resp, err := get(t, rt, "http://svc/x")
		if err != nil {
			t.Fatalf("a 404 under the http classifier: %v", err)
		}
		resp.Body.Close()
	}
}

// IN-4: a 503 or 429's Retry-After, else RateLimit-Reset, else X-RateLimit-Reset, sets the
// wait before the next attempt, at least the backoff.
func TestTransportWaitsForTheServersHint(t *testing.T) {
	for _, tt := range []struct {
		name   string
		code   int
		header func(now time.Time) (string, string)
		want   time.Duration
	}{
		{"503 Retry-After seconds", 503, func(time.Time) (string, string) { return "Retry-After", "1" }, time.Second},
		{"429 Retry-After date", 429, func(now time.Time) (string, string) {
			return "Retry-After", now.Add(2 * time.Second).UTC().Format(http.TimeFormat)
		}, 2 * time.Second},
		{"429 RateLimit-Reset", 429, func(time.Time) (string, string) { return "RateLimit-Reset", "3" }, 3 * time.Second},
		{"503 X-RateLimit-Reset", 503, func(now time.Time) (string, string) {
			return "X-RateLimit-Reset", strconv.FormatInt(now.Add(4*time.Second).Unix(), 10)
		}, 4 * time.Second},
		{"a hint below the backoff does not shorten it", 503, func(time.Time) (string, string) { return "Retry-After", "0" }, 10 * time.Millisecond},
		{"a 500's hint is not read", 500, func(time.Time) (string, string) { return "Retry-After", "5" }, 10 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				next := &fakeNext{respond: func(n int, _ *http.Request) (*http.Response, error) {
					if n > 1 {
						return response(200, "ok"), nil
					}
					r := response(tt.code, "later")
					k, v := tt.header(time.Now())
					r.Header.Set(k, v)
					return r, nil
				}}
				rt := bulwarkhttp.NewTransport(newEngine(t), policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}), next)
				resp, err := get(t, rt, "http://svc/x")
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("RoundTrip = %v, %v", resp, err)
				}
				resp.Body.Close()
				sent := next.requests()
				if len(sent) != 2 {
					t.Fatalf("%d attempts, want 2", len(sent))
				}
				if gap := sent[1].at.Sub(sent[0].at); gap != tt.want {
					t.Errorf("second attempt %v after the first, want %v", gap, tt.want)
				}
			})
		})
	}
}

// countingTransport wraps an http.Transport and records, for each response, whether
// its body was closed, and each request's context.
type countingTransport struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies []*closeRecorder
	ctxs   []context.Context
}

type closeRecorder struct {
	io.ReadCloser
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return c.ReadCloser.Close() }

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctxs = append(c.ctxs, req.Context())
	if resp != nil {
		rec := &closeRecorder{ReadCloser: resp.Body}
		resp.Body = rec
		c.bodies = append(c.bodies, rec)
	}
	return resp, err
}

func (c *countingTransport) recorded() ([]*closeRecorder, []context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*closeRecorder(nil), c.bodies...), append([]context.Context(nil), c.ctxs...)
}

// loopback starts an httptest server on 127.0.0.1 that counts its new connections.
func loopback(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// IN-5 and Polly's ExecuteAsync_MultipleRetries_EnsureDiscardedResultsDisposed: every
// discarded body is closed, the final one is returned open, and the keep-alive
// connection serves every attempt.
func TestTransportClosesDiscardedBodiesAndReusesTheConnection(t *testing.T) {
	for _, tt := range []struct {
		name  string
		codes []int
		final int
	}{
		{"fail, fail, succeed", []int{503, 502, 200}, 200},
		{"attempts run out: the last response, no error", []int{503, 503, 503}, 503},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv, conns := loopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				code := tt.codes[min(int(hits.Add(1)), len(tt.codes))-1]
				w.WriteHeader(code)
				fmt.Fprintf(w, "body of a %d", code)
			}))
			inner := &http.Transport{}
			t.Cleanup(inner.CloseIdleConnections)
			counting := &countingTransport{next: inner}
			rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), counting)
			resp, err := get(t, rt, srv.URL)
			if err != nil || resp.StatusCode != tt.final {
				t.Fatalf("RoundTrip = %v, %v; want the %d response and no error", resp, err, tt.final)
			}
			bodies, _ := counting.recorded()
			if len(bodies) != 3 {
				t.Fatalf("%d responses, want 3", len(bodies))
			}
			for i, b := range bodies[:2] {
				if !b.closed.Load() {
					t.Errorf("discarded response %d not closed", i+1)
				}
			}
			if bodies[2].closed.Load() {
				t.Error("the final response was closed before the caller read it")
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil || string(got) != fmt.Sprintf("body of a %d", tt.final) {
				t.Errorf("final body = %q, %v", got, err)
			}
			resp.Body.Close()
			if n := conns.Load(); n != 1 {
				t.Errorf("the server saw %d connections, want 1 (keep-alive reused)", n)
			}
		})
	}
}

// slowReader reads a response body in small pieces, pausing between them.
func readSlowly(r io.Reader, pause time.Duration) (int, error) {
	buf := make([]byte, 64<<10)
	total := 0
	for {
		n, err := r.Read(buf)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		time.Sleep(pause)
	}
}

// IN-6, failsafe-go#65, #123 and failsafehttp's TestContextCancellation: the body can be
// read after RoundTrip returns, long after the policy's Timeout, and closing it ends the
// attempt's context (failsafe-go#134: no context left behind).
func TestTransportKeepsTheAttemptContextUntilTheBodyIsClosed(t *testing.T) {
	large := strings.Repeat("x", 1<<20)
	srv, _ := loopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, large)
	}))
	inner := &http.Transport{}
	t.Cleanup(inner.CloseIdleConnections)
	counting := &countingTransport{next: inner}
	rt := bulwarkhttp.NewTransport(newEngine(t), policy.Combine(quickRetry(5), policy.Timeout(40*time.Millisecond)), counting)
	reqCtx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "foo"))
	defer cancel()
	req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := readSlowly(resp.Body, 5*time.Millisecond)
	if err != nil || n != len(large) {
		t.Fatalf("read %d bytes, %v; want all %d", n, err, len(large))
	}
	if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
		t.Logf("the body was read in %v, within the timeout; the test did not exercise the bug", elapsed)
	}
	_, ctxs := counting.recorded()
	last := ctxs[len(ctxs)-1] // the attempt that answered (an earlier one may have timed out on a loaded machine)
	if last.Err() != nil {
		t.Fatal("the attempt's context ended before the body was closed")
	}
	if last.Value(ctxKey{}) != "foo" {
		t.Error("the attempt's context lost the caller's values")
	}
	resp.Body.Close()
	if last.Err() == nil {
		t.Error("closing the body did not end the attempt's context")
	}
}

// IN-6: body reads are bounded by the caller's context.
func TestTransportBodyReadsEndWithTheCallersContext(t *testing.T) {
	srv, _ := loopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	inner := &http.Transport{}
	t.Cleanup(inner.CloseIdleConnections)
	rt := bulwarkhttp.NewTransport(newEngine(t), policy.Timeout(time.Hour), inner)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("reading after the caller cancelled: %v, want context.Canceled", err)
	}
}

type ctxKey struct{}

// IN-7 and failsafe-go#136: one transport shared by 100 concurrent requests keeps no
// per-request state; each request reaches the server with its own context's value.
func TestTransportSharedByConcurrentRequestsKeepsEachContext(t *testing.T) {
	next := &fakeNext{respond: func(n int, req *http.Request) (*http.Response, error) {
		v, _ := req.Context().Value(ctxKey{}).(string)
		if n%3 == 0 {
			return response(503, v), nil
		}
		return response(200, v), nil
	}}
	rt := bulwarkhttp.NewTransport(newEngine(t), policy.Combine(quickRetry(3), policy.Timeout(time.Minute)), next)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			want := "request-" + strconv.Itoa(i)
			req, _ := http.NewRequestWithContext(context.WithValue(context.Background(), ctxKey{}, want), http.MethodGet, "http://svc/x", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if string(got) != want {
				errs <- fmt.Errorf("request %q got the answer for %q", want, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// failsafehttp's TestClientRetryPolicyWithError: a refused connection is retried, and
// the error says why.
func TestTransportRetriesARefusedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	inner := &http.Transport{}
	t.Cleanup(inner.CloseIdleConnections)
	counting := &countingTransport{next: inner}
	rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), counting)
	_, err = get(t, rt, url)
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, policy.ErrRetryExhausted) {
		t.Fatalf("err = %v; want retries exhausted on connection refused", err)
	}
	if _, ctxs := counting.recorded(); len(ctxs) != 3 {
		t.Errorf("%d attempts, want 3", len(ctxs))
	}
}

// failsafehttp's TestClientRetryPolicyWith429 and ...ThenSuccess.
func TestTransportRetries429(t *testing.T) {
	next := &fakeNext{respond: statuses(429, 429, 200)}
	rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), next)
	resp, err := get(t, rt, "http://svc/x")
	if err != nil || resp.StatusCode != 200 || len(next.requests()) != 3 {
		t.Fatalf("RoundTrip = %v, %v after %d attempts; want 200 after 3", resp, err, len(next.requests()))
	}
	resp.Body.Close()
}

// failsafehttp's TestClientRetryPolicyWithRedirects: redirects are the client's; each
// hop is one request, not retried.
func TestTransportLeavesRedirectsToTheClient(t *testing.T) {
	var hits atomic.Int32
	srv, _ := loopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/", http.StatusFound)
	}))
	inner := &http.Transport{}
	t.Cleanup(inner.CloseIdleConnections)
	client := &http.Client{Transport: bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), inner)}
	_, err := client.Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v; want the client's redirect limit", err)
	}
	if n := hits.Load(); n != 10 {
		t.Errorf("the server saw %d requests, want 10 (one per hop)", n)
	}
}

// failsafehttp's TestClientRetryPolicyWithUnsupportedProtocolScheme: not retried.
func TestTransportDoesNotRetryAnUnsupportedScheme(t *testing.T) {
	inner := &http.Transport{}
	rt := bulwarkhttp.NewTransport(newEngine(t), quickRetry(3), inner)
	_, err := get(t, rt, "rstp://localhost")
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Attempts != 1 || errors.Is(err, policy.ErrRetryExhausted) {
		t.Fatalf("err = %v; want one attempt's error", err)
	}
}

// failsafehttp's TestClientCircuitBreaker: an open breaker refuses before anything is
// sent, also under an outer retry (an open circuit is not retried).
func TestTransportRefusedByAnOpenBreakerSendsNothing(t *testing.T) {
	e := newEngine(t)
	next := &fakeNext{respond: statuses(200)}
	rt := bulwarkhttp.NewTransport(e, policy.Combine(quickRetry(3), policy.CircuitBreaker(5, time.Minute).Named("open")), next)
	if err := e.ForceOpen("open", time.Minute); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, "http://svc/x", strings.NewReader("body"))
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, policy.ErrCircuitOpen) {
		t.Fatalf("err = %v; want ErrCircuitOpen", err)
	}
	if n := len(next.requests()); n != 0 {
		t.Errorf("%d requests sent through an open breaker", n)
	}
}

// failsafehttp's TestClientCancelWithContext and TestClientCancelWithTimeout: the caller's
// cancellation and a policy timeout end the call at once, against a server that answers
// after a second.
func TestTransportEndsAtTheCallersCancellationOrTheTimeout(t *testing.T) {
	for _, tt := range []struct {
		name   string
		p      policy.Policy
		cancel time.Duration // 0: none
		want   error
		at     time.Duration
	}{
		{"the caller cancels", policy.Retry(3), 50 * time.Millisecond, policy.ErrCancelled, 50 * time.Millisecond},
		{"a policy timeout", policy.Timeout(100 * time.Millisecond), 0, policy.ErrTimeout, 100 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-time.After(time.Second):
						_, _ = io.WriteString(w, "late")
					case <-r.Context().Done():
					}
				}))
				rt := bulwarkhttp.NewTransport(newEngine(t), tt.p, tr)
				ctx := context.Background()
				if tt.cancel > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.cancel)
					defer cancel()
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc/slow", nil)
				start := time.Now()
				_, err := rt.RoundTrip(req)
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v; want %v", err, tt.want)
				}
				if d := time.Since(start); d != tt.at {
					t.Errorf("returned after %v, want %v", d, tt.at)
				}
			})
		})
	}
}

// A transport built with bad input fails every request with a clear error, and closes
// the request body.
func TestTransportWithBadInputFailsEveryRequest(t *testing.T) {
	e := newEngine(t)
	for _, tt := range []struct {
		name string
		e    *supervisor.Engine
		p    policy.Policy
	}{
		{"nil engine", nil, policy.Retry(3)},
		{"nil policy", e, nil},
		{"invalid policy", e, policy.Retry(0)},
		{"unknown classifier", e, policy.CircuitBreaker(1, time.Second).WithClassifier("nope")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := bulwarkhttp.NewTransport(tt.e, tt.p, &fakeNext{respond: statuses(200)})
			body := &trackedBody{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest(http.MethodPost, "http://svc/x", body)
			_, err := rt.RoundTrip(req)
			if !errors.Is(err, policy.ErrInvalidPolicy) {
				t.Fatalf("err = %v; want ErrInvalidPolicy", err)
			}
			if !body.closed.Load() {
				t.Error("the request body was not closed")
			}
		})
	}
}

// failsafehttp's TestClientHedgePolicy and IN-5 for hedges: a hedge starts while the
// primary is slow, the first answer wins, and the losing response is drained and closed
// when it arrives.
func TestTransportHedgesAndClosesTheLosersBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fakeNext{respond: func(n int, req *http.Request) (*http.Response, error) {
			if n == 1 {
				time.Sleep(100 * time.Millisecond) // the primary is slow, and ignores its context
			}
			return response(200, "answer "+strconv.Itoa(n)), nil
		}}
		rt := bulwarkhttp.NewTransport(newEngine(t), policy.Hedge(80*time.Millisecond), next)
		start := time.Now()
		resp, err := get(t, rt, "http://svc/x")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "answer 2" || time.Since(start) != 80*time.Millisecond {
			t.Errorf("got %q after %v; want the hedge's answer at 80ms", got, time.Since(start))
		}
		time.Sleep(time.Second) // the primary answers late
		synctest.Wait()
		bodies := next.made()
		if len(bodies) != 2 {
			t.Fatalf("%d responses, want 2", len(bodies))
		}
		for i, b := range bodies {
			if !b.closed.Load() {
				t.Errorf("response %d not closed", i+1)
			}
		}
	})
}

// IN-2 for hedges: a request that must not be sent twice is not hedged.
func TestTransportDoesNotHedgeANonIdempotentRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fakeNext{respond: func(int, *http.Request) (*http.Response, error) {
			time.Sleep(100 * time.Millisecond)
			return response(201, "created"), nil
		}}
		rt := bulwarkhttp.NewTransport(newEngine(t), policy.Combine(policy.Hedge(10*time.Millisecond), policy.Timeout(time.Second)), next)
		req, _ := http.NewRequest(http.MethodPost, "http://svc/orders", strings.NewReader("{}"))
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("RoundTrip = %v, %v", resp, err)
		}
		resp.Body.Close()
		if n := len(next.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// rwBody is an upgraded connection's body: it reads and writes.
type rwBody struct {
	io.Reader
	bytes.Buffer
}

func (*rwBody) Close() error { return nil }

func (b *rwBody) Read(p []byte) (int, error) { return b.Reader.Read(p) }

// A 101 Switching Protocols response keeps its body writable, as net/http gives it.
func TestTransportKeepsAnUpgradedConnectionWritable(t *testing.T) {
	conn := &rwBody{Reader: strings.NewReader("hello")}
	next := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Header: http.Header{}, Body: conn}, nil
	})
	rt := bulwarkhttp.NewTransport(newEngine(t), policy.Retry(3), next)
	resp, err := get(t, rt, "http://svc/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	w, ok := resp.Body.(io.Writer)
	if !ok {
		t.Fatalf("the body %T is not writable", resp.Body)
	}
	if _, err := io.WriteString(w, "ping"); err != nil || conn.String() != "ping" {
		t.Errorf("write: %v, the connection got %q", err, conn.String())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// IN-4 with CB-11: the Retry-After of the response that trips a breaker with
// HonorRetryAfter keeps it open that long.
func TestTransportHintLengthensTheBreakersOpenDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		next := &fakeNext{respond: func(int, *http.Request) (*http.Response, error) {
			r := response(503, "down for maintenance")
			r.Header.Set("Retry-After", "120")
			return r, nil
		}}
		p := policy.CircuitBreaker(1, 30*time.Second).Named("hinted").WithHonorRetryAfter() // the hint may lengthen the delay up to 10 × 30s
		rt := bulwarkhttp.NewTransport(e, p, next)
		start := time.Now()
		resp, err := get(t, rt, "http://svc/x")
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("RoundTrip = %v, %v; want the 503", resp, err)
		}
		resp.Body.Close()
		stats := e.Metrics().Breakers["hinted"]
		if got := stats.OpenUntil.Sub(start); got != 120*time.Second {
			t.Errorf("open until %v after the trip, want 2m0s (the server's hint, not the 30s recovery)", got)
		}
		_, err = get(t, rt, "http://svc/x")
		if d, _ := policy.RetryAfter(err); !errors.Is(err, policy.ErrCircuitOpen) || d != 120*time.Second {
			t.Errorf("the next request: %v (retry after %v); want ErrCircuitOpen for 2m0s", err, d)
		}
	})
}

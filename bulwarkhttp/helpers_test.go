package bulwarkhttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/internal/testkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newEngine builds an engine that is shut down when the test ends.
var newEngine = testkit.NewEngine

// fakeNext is a RoundTripper that answers from a script, records what it was sent and
// tracks whether each response body it made was closed.
type fakeNext struct {
	mu      sync.Mutex
	respond func(n int, req *http.Request) (*http.Response, error) // n: 1 for the first request
	sent    []sentRequest
	bodies  []*trackedBody
}

type sentRequest struct {
	at   time.Time
	body string
	ctx  context.Context
	req  *http.Request
}

func (f *fakeNext) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		body = string(b)
	}
	f.mu.Lock()
	f.sent = append(f.sent, sentRequest{at: time.Now(), body: body, ctx: req.Context(), req: req})
	n := len(f.sent)
	f.mu.Unlock()
	resp, err := f.respond(n, req)
	if resp != nil {
		tb := &trackedBody{Reader: resp.Body}
		if resp.Body == nil {
			tb.Reader = strings.NewReader("")
		}
		resp.Body = tb
		resp.Request = req
		f.mu.Lock()
		f.bodies = append(f.bodies, tb)
		f.mu.Unlock()
	}
	return resp, err
}

func (f *fakeNext) requests() []sentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRequest(nil), f.sent...)
}

func (f *fakeNext) made() []*trackedBody {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*trackedBody(nil), f.bodies...)
}

// trackedBody is a response body that records its Close.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

// statuses answers the n-th request with codes[n-1] (the last code once they run out).
func statuses(codes ...int) func(int, *http.Request) (*http.Response, error) {
	return func(n int, _ *http.Request) (*http.Response, error) {
		code := codes[min(n, len(codes))-1]
		return response(code, http.StatusText(code)), nil
	}
}

func response(code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), ProtoMajor: 1, ProtoMinor: 1}
}

// pipeListener is an in-memory listener: a client dials it through net.Pipe, so a server
// and its clients run inside a testing/synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// serveInMemory serves h on an in-memory listener and returns a transport that dials
// it; both are stopped when the test ends.
func serveInMemory(t *testing.T, h http.Handler) *http.Transport {
	t.Helper()
	l := newPipeListener()
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	tr := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
		<-served
	})
	return tr
}

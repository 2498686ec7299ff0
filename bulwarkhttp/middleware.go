package bulwarkhttp

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// Middleware returns a wrapper that runs each request's handler under p on the engine
// e; see the package doc for the answers it gives when the engine refuses or cuts a
// request. It registers Classify on e as the classifier "http". A nil engine, or a nil
// or invalid policy, makes every request fail with 500 Internal Server Error (the error
// matches policy.ErrInvalidPolicy). The handler it returns is safe for concurrent use.
//
// A server policy is usually made of admission stages (rate limits, breakers,
// bulkheads) and a Timeout. A Retry or a hedge runs the handler again on a fresh buffer,
// with the same request, whose body the first run may have read already.
func Middleware(e *supervisor.Engine, p policy.Policy, opts ...Option) func(http.Handler) http.Handler {
	o := collect(opts)
	r := newRunner[*handlerRun](e, p, o.key)
	buffered := mayAbandon(p, 0)
	return func(next http.Handler) http.Handler {
		return &protected{next: next, run: r, buffered: buffered}
	}
}

// mayAbandon reports whether p can give up on a running handler or run it again: every
// kind but breakers, rate limits and None (a timeout, a retry, and kinds this package
// does not know, to be safe). Such a handler writes to a buffer.
func mayAbandon(p policy.Policy, depth int) bool {
	switch pp := p.(type) {
	case policy.NonePolicy, policy.CircuitBreakerPolicy, policy.RateLimitPolicy:
		return false
	case policy.CombinedPolicy:
		if depth >= policy.MaxDepth {
			return true
		}
		for _, q := range pp.Policies {
			if mayAbandon(q, depth+1) {
				return true
			}
		}
		return false
	}
	return true
}

// protected is Middleware's handler.
type protected struct {
	next     http.Handler
	run      runner[*handlerRun]
	buffered bool
}

// ServeHTTP runs the handler under the policy and answers for the engine when it
// refused, cut or lost the handler.
func (h *protected) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s := &serving{h: h, w: w, req: req}
	hr, err := h.run.run(req.Context(), req, s.attempt)
	s.finish(hr, err)
}

// serving is one request in progress: its attempts' writers.
type serving struct {
	h   *protected
	w   http.ResponseWriter
	req *http.Request

	mu   sync.Mutex
	runs []*handlerRun // guarded by mu: every run so far
	done bool          // guarded by mu: the request was answered
}

// attempt runs the handler once with the attempt's context.
func (s *serving) attempt(ctx context.Context) (*handlerRun, error) {
	hr := &handlerRun{direct: s.w, buffered: s.h.buffered}
	if hr.buffered {
		hr.header = make(http.Header)
	}
	s.mu.Lock()
	done := s.done
	s.runs = append(s.runs, hr)
	s.mu.Unlock()
	if done {
		return nil, context.Canceled
	}
	s.h.next.ServeHTTP(hr, s.req.WithContext(ctx))
	if err := ctx.Err(); err != nil && hr.buffered {
		// The run's context ended (its deadline, or the caller's): as under
		// http.TimeoutHandler, what it wrote does not go out, even if it returned
		// just in time.
		return hr, err
	}
	code := hr.status()
	if serverFailure(code) {
		return hr, &StatusError{StatusCode: code}
	}
	return hr, nil
}

// finish answers the request: the chosen run's response, or the engine's refusal.
func (s *serving) finish(hr *handlerRun, err error) {
	if err != nil && errors.Is(err, http.ErrAbortHandler) {
		s.closeRuns()
		panic(http.ErrAbortHandler) // net/http aborts the response, as the handler asked
	}
	var se *StatusError
	if err != nil && hr != nil && !errors.As(err, &se) {
		hr = nil // a failure of the engine, not the handler's own answer
	}
	if !s.h.buffered {
		if hr == nil && !s.wrote() {
			refuse(s.w, err)
		}
		return
	}
	s.closeRuns()
	if hr == nil {
		refuse(s.w, err)
		return
	}
	hr.flush(s.w)
}

// wrote reports whether an unbuffered run wrote to the ResponseWriter.
func (s *serving) wrote() bool {
	s.mu.Lock()
	runs := s.runs
	s.mu.Unlock()
	for _, r := range runs {
		r.mu.Lock()
		w := r.wroteHeader
		r.mu.Unlock()
		if w {
			return true
		}
	}
	return false
}

// closeRuns ends every buffered run: later writes, by a handler the engine gave up on,
// fail with http.ErrHandlerTimeout (IN-9).
func (s *serving) closeRuns() {
	s.mu.Lock()
	s.done = true
	runs := s.runs
	s.mu.Unlock()
	for _, r := range runs {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
	}
}

// refuse answers for the engine: 429 for a rate limit, 503 for the other refusals, a
// timeout and a cancelled request, 500 for a panic and anything else (IN-8), with a
// Retry-After whenever the error says how long to wait.
func refuse(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, policy.ErrRateLimited):
		code = http.StatusTooManyRequests
	case errors.Is(err, policy.ErrCircuitOpen), errors.Is(err, policy.ErrConcurrencyLimited),
		errors.Is(err, policy.ErrOverloaded), errors.Is(err, policy.ErrShutdown),
		errors.Is(err, policy.ErrTimeout), errors.Is(err, policy.ErrCancelled):
		code = http.StatusServiceUnavailable
	}
	if d, ok := policy.RetryAfter(err); ok && code != http.StatusInternalServerError {
		w.Header().Set("Retry-After", retryAfterHeader(d))
	}
	http.Error(w, http.StatusText(code), code)
}

// handlerRun is the ResponseWriter of one run of the handler: the real one, watched for
// its status, or a buffer, as http.TimeoutHandler keeps one, when the policy may give up
// on the run.
type handlerRun struct {
	direct   http.ResponseWriter
	buffered bool

	mu          sync.Mutex
	header      http.Header // buffered: the handler's headers
	body        bytes.Buffer
	code        int
	wroteHeader bool
	closed      bool // buffered: the request was answered; writes fail
}

// Header returns the header map the handler sets.
func (r *handlerRun) Header() http.Header {
	if !r.buffered {
		return r.direct.Header()
	}
	return r.header
}

// WriteHeader records (buffered) or sends the status.
func (r *handlerRun) WriteHeader(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wroteHeader || (r.buffered && r.closed) {
		return
	}
	r.wroteHeader = true
	r.code = code
	if !r.buffered {
		r.direct.WriteHeader(code)
	}
}

// Write buffers or sends p; after a timeout it fails with http.ErrHandlerTimeout.
func (r *handlerRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buffered && r.closed {
		return 0, http.ErrHandlerTimeout
	}
	if !r.wroteHeader {
		r.wroteHeader = true
		r.code = http.StatusOK
		if !r.buffered {
			r.direct.WriteHeader(http.StatusOK)
		}
	}
	if !r.buffered {
		return r.direct.Write(p)
	}
	return r.body.Write(p)
}

// Flush sends what an unbuffered run wrote; a buffered run sends everything when the
// handler returns.
func (r *handlerRun) Flush() {
	if r.buffered {
		return
	}
	if f, ok := r.direct.(http.Flusher); ok {
		r.mu.Lock()
		defer r.mu.Unlock()
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the real writer of an unbuffered run.
func (r *handlerRun) Unwrap() http.ResponseWriter {
	if r.buffered {
		return nil
	}
	return r.direct
}

// status is the run's status: what it wrote, else 200 (as net/http sends).
func (r *handlerRun) status() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.code
}

// flush sends a buffered run's response to w.
func (r *handlerRun) flush(w http.ResponseWriter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dst := w.Header()
	for k, v := range r.header {
		dst[k] = v
	}
	code := r.code
	if !r.wroteHeader {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_, _ = w.Write(r.body.Bytes())
}

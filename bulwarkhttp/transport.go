package bulwarkhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// drainLimit is how much of a discarded response body is read before it is closed: a
// body that ends within it leaves its connection free for reuse (IN-5).
const drainLimit = 4 << 10

// transport is NewTransport's RoundTripper. It holds no per-request state (IN-7): each
// RoundTrip keeps its own in an exchange.
type transport struct {
	next       http.RoundTripper
	bodyBuffer int64
	replay     runner[*http.Response] // the policy, for requests that may be sent again
	once       runner[*http.Response] // the policy with its retries cut to one attempt
}

// NewTransport returns an http.RoundTripper that sends each request through next (nil:
// http.DefaultTransport) under p on the engine e; see the package doc for what it
// retries, how it judges responses and what it does with their bodies. It registers
// Classify on e as the classifier "http" (replacing one of that name). A nil engine, a
// nil or invalid policy, or one that names an unregistered classifier, makes every
// RoundTrip fail with an error matching policy.ErrInvalidPolicy (NewTransport itself
// cannot fail). The transport is safe for concurrent use and keeps no state of its own
// besides the engine's named actors.
func NewTransport(e *supervisor.Engine, p policy.Policy, next http.RoundTripper, opts ...Option) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	o := collect(opts)
	t := &transport{next: next, bodyBuffer: o.bodyBuffer}
	t.replay = newRunner[*http.Response](e, p, o.key)
	if once, changed := singleShot(p, 0); changed {
		t.once = newRunner[*http.Response](e, once, o.key)
	} else {
		t.once = t.replay
	}
	return t
}

// singleShot returns p with every RetryPolicy cut to one attempt and every HedgePolicy
// taken out, for requests that must not be sent twice: breakers, limiters and timeouts
// still apply to them. changed reports whether there was anything to cut.
func singleShot(p policy.Policy, depth int) (_ policy.Policy, changed bool) {
	switch pp := p.(type) {
	case policy.HedgePolicy:
		return policy.None(), true
	case policy.RetryPolicy:
		if pp.MaxAttempts > 1 {
			pp.MaxAttempts = 1
			return pp, true
		}
	case policy.CombinedPolicy:
		if depth >= policy.MaxDepth {
			return p, false // invalid anyway: Prepare says so
		}
		ps := slices.Clone(pp.Policies)
		for i, q := range ps {
			var c bool
			if ps[i], c = singleShot(q, depth+1); c {
				changed = true
			}
		}
		if changed {
			return policy.CombinedPolicy{Policies: ps}, true
		}
	}
	return p, false
}

// RoundTrip sends req under the transport's policy.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		if req != nil && req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &policy.Error{Err: errNoURL}
	}
	x := &exchange{t: t, req: req, caller: req.Context()}
	replayable, err := x.prepareBody(t.bodyBuffer)
	if err != nil {
		return nil, &policy.Error{Err: err}
	}
	r := &t.once
	if replayable && idempotent(req) {
		r = &t.replay
	}
	resp, err := r.run(supervisor.WithDiscard(x.caller, x.discard), req, x.attempt)
	return x.finish(resp, err)
}

var errNoURL = errors.New("bulwarkhttp: the request or its URL is nil")

// idempotent reports whether req may be sent more than once (IN-2): an idempotent method
// of RFC 9110 §9.2.2, or an Idempotency-Key or X-Idempotency-Key header, as net/http's
// own replay rule reads it.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// exchange is one RoundTrip in progress: the caller's request, its body, and the
// responses its attempts produced that are not released yet.
type exchange struct {
	t      *transport
	req    *http.Request
	caller context.Context

	first   io.ReadCloser                 // the body the first attempt sends; nil: none
	getBody func() (io.ReadCloser, error) // the body of a later attempt; nil: not replayable

	mu      sync.Mutex
	taken   bool             // guarded by mu: an attempt took first
	done    bool             // guarded by mu: RoundTrip returned
	pending []*http.Response // guarded by mu: responses not yet discarded or returned
}

// prepareBody decides how the attempts get their bodies, and reports whether the
// request can be sent again (IN-1): no body, a GetBody, or a body of at most maxBuffer
// bytes read into memory.
func (x *exchange) prepareBody(maxBuffer int64) (replayable bool, err error) {
	req := x.req
	if req.Body == nil || req.Body == http.NoBody {
		return true, nil
	}
	x.first = req.Body
	if req.GetBody != nil {
		x.getBody = req.GetBody
		return true, nil
	}
	if maxBuffer <= 0 {
		return false, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, maxBuffer+1))
	if err != nil {
		_ = req.Body.Close()
		return false, fmt.Errorf("bulwarkhttp: buffering the request body: %w", err)
	}
	if int64(len(buf)) > maxBuffer {
		// Too long to buffer: send what was read, then the rest, once.
		x.first = &joinedBody{Reader: io.MultiReader(bytes.NewReader(buf), req.Body), Closer: req.Body}
		return false, nil
	}
	_ = req.Body.Close()
	x.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	x.first, _ = x.getBody()
	return true, nil
}

// joinedBody reads Reader and closes Closer.
type joinedBody struct {
	io.Reader
	io.Closer
}

// body returns the body an attempt sends: the request's own for the first, a fresh one
// from getBody for the others.
func (x *exchange) body() (io.ReadCloser, error) {
	if x.first == nil {
		return x.req.Body, nil
	}
	x.mu.Lock()
	first := !x.taken
	x.taken = true
	x.mu.Unlock()
	switch {
	case first:
		return x.first, nil
	case x.getBody != nil:
		return x.getBody()
	}
	return nil, policy.Permanent(errSentOnce)
}

var errSentOnce = errors.New("bulwarkhttp: the request body was sent once and cannot be replayed (set GetBody, or use WithBodyBuffer)")

// attempt sends one copy of the request with a context of its own: it carries the
// attempt's values, ends when the attempt's context ends before the response headers
// arrive or when the caller's context ends, and otherwise lives until the response body
// is closed (IN-6).
func (x *exchange) attempt(ctx context.Context) (*http.Response, error) {
	b, err := x.body()
	if err != nil {
		return nil, err
	}
	// The request's context ends only when the caller's does (through stopCaller, not a
	// deadline of its own: the engine must see the caller's context end first), when the
	// attempt's ends before the headers, or when the body is closed.
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopCaller := afterFunc(x.caller, cancel)
	stopAttempt := noStop
	if ctx != x.caller {
		// A context of the attempt's own (a timeout's, a hedge's): it bounds the wait for
		// the response headers only.
		stopAttempt = afterFunc(ctx, cancel)
	}
	out := x.req.WithContext(reqCtx)
	out.Body = b
	resp, err := x.t.next.RoundTrip(out)
	live := stopAttempt()
	if err != nil || !live {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		cancel()
		stopCaller()
		if err == nil {
			// The stage gave up on this attempt (a timeout, a losing hedge) as it answered.
			err = ctx.Err()
		}
		return nil, x.transportError(err)
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	rb := &releasingBody{ReadCloser: resp.Body, cancel: cancel, stopCaller: stopCaller}
	if w, ok := resp.Body.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &releasingConn{releasingBody: rb, Writer: w} // an upgraded connection writes too
	} else {
		resp.Body = rb
	}
	if !x.keep(resp) {
		return nil, context.Canceled // RoundTrip has returned: nobody takes this response
	}
	if statusVerdict(resp.StatusCode) == policy.Failure {
		se := &StatusError{StatusCode: resp.StatusCode, resp: resp}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.After, _ = HeaderRetryAfter(resp.Header, time.Now())
		}
		return resp, se
	}
	return resp, nil
}

// afterFunc is context.AfterFunc, with nothing to arrange for a context that never ends.
func afterFunc(ctx context.Context, f func()) (stop func() bool) {
	if ctx.Done() == nil {
		return noStop
	}
	return context.AfterFunc(ctx, f)
}

// noStop is the stop function of a context that never ends: the function never ran.
func noStop() bool { return true }

// transportError marks an error the same request can never get past as Permanent (not
// retried, not counted by breakers): an untrusted TLS connection, or a scheme
// http.Transport does not speak.
func (x *exchange) transportError(err error) error {
	if untrusted(err) {
		return policy.Permanent(err)
	}
	if _, std := x.t.next.(*http.Transport); std && x.req.URL.Scheme != "http" && x.req.URL.Scheme != "https" {
		return policy.Permanent(err)
	}
	return err
}

// keep records resp as produced and not yet released; false when RoundTrip has
// returned already (the attempt was abandoned), in which case resp is released here.
func (x *exchange) keep(resp *http.Response) bool {
	x.mu.Lock()
	done := x.done
	if !done {
		x.pending = append(x.pending, resp)
	}
	x.mu.Unlock()
	if done {
		drain(resp)
	}
	return !done
}

// discard is the engine's discard hook (supervisor.WithDiscard): a response a stage
// throws away is drained and closed (IN-5).
func (x *exchange) discard(v any) {
	resp, _ := v.(*http.Response)
	if resp == nil {
		return
	}
	x.mu.Lock()
	i := slices.Index(x.pending, resp)
	if i >= 0 {
		x.pending = slices.Delete(x.pending, i, i+1)
	}
	x.mu.Unlock()
	if i >= 0 {
		drain(resp)
	}
}

// finish ends the exchange with the engine's answer (resp, err): every response not
// returned is released, the request body is closed if no attempt took it, and a last
// response with a retryable status is returned as a response (IN-5).
func (x *exchange) finish(resp *http.Response, err error) (*http.Response, error) {
	if err != nil && resp != nil && !answers(err, resp) {
		resp = nil
	}
	x.mu.Lock()
	x.done = true
	pending := x.pending
	x.pending = nil
	taken := x.taken
	x.mu.Unlock()
	if !taken && x.first != nil {
		_ = x.first.Close()
	}
	for _, p := range pending {
		if p != resp {
			drain(p)
		}
	}
	if resp != nil {
		return resp, nil
	}
	return nil, err
}

// answers reports whether err is resp's own StatusError: the call ended on that
// response, which the caller gets.
func answers(err error, resp *http.Response) bool {
	var se *StatusError
	return errors.As(err, &se) && se.resp == resp
}

// drain reads up to drainLimit of resp's body and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()
}

// releasingBody is a response body that ends its attempt's context when closed.
type releasingBody struct {
	io.ReadCloser
	cancel     context.CancelFunc
	stopCaller func() bool
}

// Close closes the body, then ends the attempt's context (after the close, so a body
// read to its end has handed its connection back first).
func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	b.stopCaller()
	return err
}

// releasingConn is the body of a 101 Switching Protocols response: the upgraded
// connection, which net/http hands over as an io.ReadWriteCloser.
type releasingConn struct {
	*releasingBody
	io.Writer
}

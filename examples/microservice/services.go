package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// downstream is the inventory service the gateway depends on. Its failure rate and
// latency follow the schedule's phases. It counts the requests that reach it, so the
// summary shows how much load the breaker kept off it while it was failing.
type downstream struct {
	sched schedule
	hits  [numPhases]atomic.Uint64
}

func (d *downstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, progress := d.sched.at(time.Now())
	d.hits[p].Add(1)
	latency, fail := behaviour(p, progress)
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done(): // the gateway gave up (its timeout): stop working
		return
	}
	if fail {
		http.Error(w, "inventory: internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"item\":%q,\"stock\":%d}\n", r.URL.Query().Get("item"), rand.IntN(100))
}

// errDownstream is a 5xx answer from the downstream: a transient failure, retried.
var errDownstream = errors.New("inventory service failed")

// gateway is the public service. Every call to the downstream runs through the engine
// under one combined policy, and engine errors become HTTP statuses.
type gateway struct {
	eng    *supervisor.Engine
	policy policy.Policy // boxed once: the engine caches its compiled form by identity
	client *http.Client
	base   string // the downstream's base URL
	sched  schedule
	// timedOut counts the attempts the engine's timeout cut off, by the phase they
	// started in. A request rarely ends in a timeout (the breaker, tripped by timed-out
	// attempts, refuses its next attempt), so these are what show the slow phase's
	// timeouts.
	timedOut [numPhases]atomic.Uint64
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	item := r.URL.Query().Get("item")
	body, err := supervisor.ExecuteWithPolicy(r.Context(), g.eng, g.policy, func(ctx context.Context) ([]byte, error) {
		p := g.sched.phaseAt(time.Now())
		body, err := g.fetch(ctx, item)
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			g.timedOut[p].Add(1)
		}
		return body, err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// fetch asks the downstream for one item's stock, once. ctx carries the engine's
// timeout: when it passes, the request is cancelled.
func (g *gateway) fetch(ctx context.Context, item string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/stock?item="+url.QueryEscape(item), nil)
	if err != nil {
		return nil, policy.Permanent(err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode >= 500:
		return nil, fmt.Errorf("%w: %s", errDownstream, resp.Status)
	case resp.StatusCode >= 400:
		// The request itself was wrong: never retried, never counted by the breaker.
		return nil, policy.Permanent(fmt.Errorf("inventory service refused the request: %s", resp.Status))
	}
	return body, nil
}

// kind is how a gateway request ended, as the load generator counts it.
type kind int

// The kinds of outcome.
const (
	kindOK kind = iota
	kindCircuitOpen
	kindRateLimited
	kindTimeout
	kindOther
	numKinds
)

var kindNames = [numKinds]string{"ok", "circuit_open", "rate_limited", "timeout", "other"}

// String returns the kind's name, as sent in the X-Failure header.
func (k kind) String() string {
	if k < 0 || k >= numKinds {
		return "unknown"
	}
	return kindNames[k]
}

// kindOf reads the kind back from its name; an unknown name is kindOther.
func kindOf(name string) kind {
	for k, n := range kindNames {
		if n == name {
			return kind(k)
		}
	}
	return kindOther
}

// failureHeader names the response header that carries the kind of a failure.
const failureHeader = "X-Failure"

// classify maps an engine error to the HTTP status the gateway answers with and the kind
// it reports. Refusals (open breaker, rate limit) are 503 with Retry-After, a timeout is
// 504, and a downstream that kept failing is 502. The order matters: an error from an
// exhausted retry also matches the last attempt's error.
func classify(err error) (int, kind) {
	switch {
	case err == nil:
		return http.StatusOK, kindOK
	case errors.Is(err, policy.ErrCircuitOpen):
		return http.StatusServiceUnavailable, kindCircuitOpen
	case errors.Is(err, policy.ErrRateLimited):
		return http.StatusServiceUnavailable, kindRateLimited
	case errors.Is(err, policy.ErrTimeout):
		return http.StatusGatewayTimeout, kindTimeout
	case policy.IsServiceUnavailable(err), errors.Is(err, policy.ErrCancelled):
		// Overloaded or shutting down; or the client went away and will not read this.
		return http.StatusServiceUnavailable, kindOther
	case policy.IsPermanent(err):
		return http.StatusBadRequest, kindOther
	}
	return http.StatusBadGateway, kindOther
}

// writeError answers a failed request: the status from classify, the kind in the
// X-Failure header and, when the engine advises a wait, Retry-After in whole seconds.
func writeError(w http.ResponseWriter, err error) {
	status, k := classify(err)
	w.Header().Set(failureHeader, k.String())
	if after, ok := policy.RetryAfter(err); ok && status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
	}
	http.Error(w, err.Error(), status)
}

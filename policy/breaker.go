package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// CircuitBreakerPolicy stops calling a failing dependency: after FailureThreshold
// consecutive failures the breaker opens and rejects calls with ErrCircuitOpen; after
// RecoveryTimeout it lets probes through (half-open), and SuccessThreshold successful
// probes close it again. With a Window it judges the last calls instead: FailureThreshold
// failures in the window (count-in-window mode), or with a FailureRate also that share of
// the calls (rate mode), once MinimumCalls calls are in it; SlowCall adds a slow-call rate.
// FailureThreshold and RecoveryTimeout have no default (zero is invalid); a zero
// SuccessThreshold means 1; an empty Name means the operation's ID, else "default"; every
// other zero field keeps the consecutive breaker's behaviour, and the Effective methods
// give the defaults. The value is immutable and safe to share between goroutines.
type CircuitBreakerPolicy struct {
	// Name selects the breaker actor; "" means the operation's ID, else "default". It must
	// be valid UTF-8.
	Name string
	// FailureThreshold is the number of consecutive failures that open the breaker, or
	// with a Window the number of failures the window must hold; ≥ 1 (and ≤ Window.Count
	// for a count window).
	FailureThreshold int
	// RecoveryTimeout is how long the breaker stays open before half-open; > 0.
	RecoveryTimeout time.Duration
	// SuccessThreshold is the number of half-open successes that close it; 0 means 1.
	SuccessThreshold int

	// Window, when set, judges the breaker over the last Window.Count calls or the calls
	// of the last Window.Period instead of consecutive failures. Zero: consecutive mode.
	Window Window
	// FailureRate, in (0, 1], opens a windowed breaker when failures/calls reaches it
	// (and FailureThreshold failures and MinimumCalls calls are in the window). Zero: the
	// rate is not judged, and FailureThreshold failures in the window open it.
	FailureRate float64
	// MinimumCalls is how many calls the window must hold before it is judged; 0 means
	// Window.Count for count windows and max(FailureThreshold, 10) for time windows. It
	// needs a Window, and must not exceed a count window's Count.
	MinimumCalls int
	// SlowCall, when > 0, makes a call that lasts strictly longer than it a slow call
	// (needs a Window). It costs two clock reads per call.
	SlowCall time.Duration
	// SlowCallRate, in (0, 1], opens the breaker when slow calls/calls reaches it; 0 with
	// SlowCall set means 1. Without SlowCall it must be 0.
	SlowCallRate float64
	// HalfOpenCalls is how many probes one half-open period admits; 0 means
	// SuccessThreshold.
	HalfOpenCalls int
	// MaxHalfOpen bounds the time in half-open: with no verdict by then the breaker opens
	// again. 0: no bound.
	MaxHalfOpen time.Duration
	// OpenBackoff, when set, gives the open delay after the n-th consecutive trip as
	// OpenBackoff.Delay(n); nil: RecoveryTimeout after every trip.
	OpenBackoff Backoff
	// HonorRetryAfter lets the tripping error's RetryAfter lengthen the open delay, up to
	// OpenBackoff's maximum delay, else 10 × RecoveryTimeout.
	HonorRetryAfter bool
	// Classifier names a classifier registered on the engine that judges outcomes; ""
	// means the default one.
	Classifier string
	// Shared asks cluster mode for one breaker of this name for the whole fleet; without
	// a cluster the breaker is local.
	Shared bool
}

// Window is the span a windowed circuit breaker judges: the last Count calls (a count
// window), or the calls that completed in the last Period, in Buckets buckets (a time
// window). Exactly one of Count and Period is set; Buckets 0 means 10. The zero Window
// means consecutive mode.
type Window struct {
	// Count is the number of most recent calls a count window holds.
	Count int
	// Period is how far back a time window reaches.
	Period time.Duration
	// Buckets is the time window's resolution; 0 means 10.
	Buckets int
}

// IsZero reports whether w is the zero Window (consecutive mode).
func (w Window) IsZero() bool { return w == Window{} }

// defaultBuckets is a time window's number of buckets when Window.Buckets is 0.
const defaultBuckets = 10

// maxBuckets bounds Window.Buckets: a finer window costs memory and time per bucket
// boundary and judges nothing more exactly.
const maxBuckets = 1000

// minBucketWidth is the narrowest bucket a time window may have (Period / buckets).
const minBucketWidth = time.Millisecond

// EffectiveBuckets returns the number of buckets a time window is divided into: Buckets,
// or 10 when it is zero. A count window has no buckets; the value means nothing there.
func (w Window) EffectiveBuckets() int {
	if w.Buckets == 0 {
		return defaultBuckets
	}
	return w.Buckets
}

func (CircuitBreakerPolicy) isPolicy() {}

// CircuitBreaker returns a CircuitBreakerPolicy that opens after failureThreshold
// consecutive failures and half-opens after recoveryTimeout. Name and SuccessThreshold are
// left zero (their defaults).
func CircuitBreaker(failureThreshold int, recoveryTimeout time.Duration) CircuitBreakerPolicy {
	return CircuitBreakerPolicy{FailureThreshold: failureThreshold, RecoveryTimeout: recoveryTimeout}
}

// Named returns a copy of p that uses the breaker actor called name.
func (p CircuitBreakerPolicy) Named(name string) CircuitBreakerPolicy {
	p.Name = name
	return p
}

// WithSuccessThreshold returns a copy of p that closes after n half-open successes.
func (p CircuitBreakerPolicy) WithSuccessThreshold(n int) CircuitBreakerPolicy {
	p.SuccessThreshold = n
	return p
}

// WithCountWindow returns a copy of p judged over its last n calls: Window becomes
// {Count: n}.
func (p CircuitBreakerPolicy) WithCountWindow(n int) CircuitBreakerPolicy {
	p.Window = Window{Count: n}
	return p
}

// WithTimeWindow returns a copy of p judged over the calls that completed in the last d:
// Window becomes {Period: d}, keeping any Buckets already set.
func (p CircuitBreakerPolicy) WithTimeWindow(d time.Duration) CircuitBreakerPolicy {
	p.Window = Window{Period: d, Buckets: p.Window.Buckets}
	return p
}

// WithBuckets returns a copy of p whose time window is divided into n buckets.
func (p CircuitBreakerPolicy) WithBuckets(n int) CircuitBreakerPolicy {
	p.Window.Buckets = n
	return p
}

// WithFailureRate returns a copy of p in rate mode: it opens when the window holds at
// least minimumCalls calls (0: the default of MinimumCalls) and failures/calls reaches
// rate. With CircuitBreaker(1, d) that is the pure failure-rate breaker; a larger
// FailureThreshold adds a floor of failures.
func (p CircuitBreakerPolicy) WithFailureRate(rate float64, minimumCalls int) CircuitBreakerPolicy {
	p.FailureRate, p.MinimumCalls = rate, minimumCalls
	return p
}

// WithSlowCalls returns a copy of p that counts a call lasting strictly longer than
// threshold as slow, and opens when slow calls/calls reaches rate (0 means 1).
func (p CircuitBreakerPolicy) WithSlowCalls(threshold time.Duration, rate float64) CircuitBreakerPolicy {
	p.SlowCall, p.SlowCallRate = threshold, rate
	return p
}

// WithHalfOpenCalls returns a copy of p that admits n probes per half-open period.
func (p CircuitBreakerPolicy) WithHalfOpenCalls(n int) CircuitBreakerPolicy {
	p.HalfOpenCalls = n
	return p
}

// WithMaxHalfOpen returns a copy of p that opens again when half-open has given no verdict
// within d.
func (p CircuitBreakerPolicy) WithMaxHalfOpen(d time.Duration) CircuitBreakerPolicy {
	p.MaxHalfOpen = d
	return p
}

// WithOpenBackoff returns a copy of p whose open delay after the n-th consecutive trip is
// b.Delay(n) (nil: RecoveryTimeout after every trip).
func (p CircuitBreakerPolicy) WithOpenBackoff(b Backoff) CircuitBreakerPolicy {
	p.OpenBackoff = b
	return p
}

// WithHonorRetryAfter returns a copy of p in which the tripping error's RetryAfter may
// lengthen the open delay.
func (p CircuitBreakerPolicy) WithHonorRetryAfter() CircuitBreakerPolicy {
	p.HonorRetryAfter = true
	return p
}

// WithClassifier returns a copy of p whose outcomes are judged by the classifier
// registered on the engine as name ("" or "default": the default one).
func (p CircuitBreakerPolicy) WithClassifier(name string) CircuitBreakerPolicy {
	p.Classifier = name
	return p
}

// AsShared returns a copy of p that asks cluster mode for one breaker of its name for the
// whole fleet; without a cluster the breaker is local.
func (p CircuitBreakerPolicy) AsShared() CircuitBreakerPolicy {
	p.Shared = true
	return p
}

// EffectiveSuccessThreshold returns the number of half-open successes that close the
// breaker: SuccessThreshold, or 1 when it is zero.
func (p CircuitBreakerPolicy) EffectiveSuccessThreshold() int {
	if p.SuccessThreshold == 0 {
		return 1
	}
	return p.SuccessThreshold
}

// defaultTimeMinimumCalls is the floor of a time window's default MinimumCalls.
const defaultTimeMinimumCalls = 10

// EffectiveMinimumCalls returns how many calls the window must hold before it is judged:
// MinimumCalls, or when it is zero Window.Count for a count window and
// max(FailureThreshold, 10) for a time window. In consecutive mode (no Window) it returns
// MinimumCalls, which Validate requires to be 0 there.
func (p CircuitBreakerPolicy) EffectiveMinimumCalls() int {
	switch {
	case p.MinimumCalls != 0:
		return p.MinimumCalls
	case p.Window.Period > 0:
		return max(p.FailureThreshold, defaultTimeMinimumCalls)
	case p.Window.Count > 0:
		return p.Window.Count
	}
	return 0
}

// EffectiveSlowCallRate returns the slow-call rate that opens the breaker: SlowCallRate,
// or 1 when it is zero and SlowCall is set. Without SlowCall it returns 0: slow calls are
// not judged.
func (p CircuitBreakerPolicy) EffectiveSlowCallRate() float64 {
	switch {
	case p.SlowCall <= 0:
		return 0
	case p.SlowCallRate == 0:
		return 1
	}
	return p.SlowCallRate
}

// EffectiveHalfOpenCalls returns how many probes one half-open period admits:
// HalfOpenCalls, or EffectiveSuccessThreshold() when it is zero.
func (p CircuitBreakerPolicy) EffectiveHalfOpenCalls() int {
	if p.HalfOpenCalls == 0 {
		return p.EffectiveSuccessThreshold()
	}
	return p.HalfOpenCalls
}

// Validate checks FailureThreshold ≥ 1, RecoveryTimeout > 0, SuccessThreshold ≥ 0 and that
// Name is valid UTF-8, then the window fields:
//
//   - a set Window has exactly one of Count and Period > 0, neither negative; Buckets is
//     in [0, 1000], only with a Period, and Period/EffectiveBuckets() is ≥ 1ms;
//   - for a count window, MinimumCalls and FailureThreshold are ≤ Count (else the
//     breaker could never open);
//   - FailureRate and SlowCallRate are in [0, 1]; MinimumCalls, HalfOpenCalls, SlowCall
//     and MaxHalfOpen are ≥ 0;
//   - FailureRate, MinimumCalls and SlowCall need a Window, and SlowCallRate needs
//     SlowCall;
//   - OpenBackoff, when set, is a non-nil value that validates, and Classifier is valid
//     UTF-8.
func (p CircuitBreakerPolicy) Validate() error {
	const c = "circuit_breaker"
	return first(
		atLeast(c, "FailureThreshold", p.FailureThreshold, 1),
		positive(c, "RecoveryTimeout", p.RecoveryTimeout),
		atLeast(c, "SuccessThreshold", p.SuccessThreshold, 0),
		validUTF8(c, "Name", p.Name),
		p.validateWindow(c),
		holds(isRate(p.FailureRate), c, "FailureRate", "in [0, 1]", p.FailureRate),
		atLeast(c, "MinimumCalls", p.MinimumCalls, 0),
		p.validateCountWindowFits(c),
		p.validateNeedsWindow(c),
		notNegative(c, "SlowCall", p.SlowCall),
		holds(isRate(p.SlowCallRate), c, "SlowCallRate", "in [0, 1]", p.SlowCallRate),
		p.validateSlowCallRateNeedsSlowCall(c),
		atLeast(c, "HalfOpenCalls", p.HalfOpenCalls, 0),
		notNegative(c, "MaxHalfOpen", p.MaxHalfOpen),
		validBackoff(c, "OpenBackoff", p.OpenBackoff),
		validUTF8(c, "Classifier", p.Classifier),
	)
}

// isRate reports whether r is a number in [0, 1]; NaN is not.
func isRate(r float64) bool { return r >= 0 && r <= 1 }

// validateWindow checks a set Window: one kind, in range, buckets no narrower than 1ms.
func (p CircuitBreakerPolicy) validateWindow(c string) error {
	w := p.Window
	if w.IsZero() {
		return nil
	}
	if err := first(
		atLeast(c, "Window.Count", w.Count, 0),
		notNegative(c, "Window.Period", w.Period),
	); err != nil {
		return err
	}
	if (w.Count > 0) == (w.Period > 0) {
		return invalidField(c, "Window", "a count window or a time window (exactly one of Count and Period > 0)", fmt.Sprintf("%+v", w))
	}
	if w.Buckets < 0 || w.Buckets > maxBuckets {
		return invalidField(c, "Window.Buckets", "in [0, "+strconv.Itoa(maxBuckets)+"]", w.Buckets)
	}
	if w.Period == 0 {
		if w.Buckets != 0 {
			return invalidField(c, "Window.Buckets", "0 with a count window (buckets divide a Period)", w.Buckets)
		}
		return nil
	}
	if n := w.EffectiveBuckets(); w.Period/time.Duration(n) < minBucketWidth {
		return invalidField(c, "Window.Period/Buckets", "≥ "+minBucketWidth.String(),
			fmt.Sprintf("%v/%d = %v", w.Period, n, w.Period/time.Duration(n)))
	}
	return nil
}

// validateCountWindowFits checks that a count window can hold what must be in it to trip.
func (p CircuitBreakerPolicy) validateCountWindowFits(c string) error {
	n := p.Window.Count
	if n <= 0 || p.Window.Period != 0 {
		return nil
	}
	never := func(what string) string {
		return "a window of " + strconv.Itoa(n) + " calls never holds more" + what + ", so the breaker could never open"
	}
	if p.MinimumCalls > n {
		return atMost(c, "MinimumCalls", p.MinimumCalls, n, "Window.Count", never(""))
	}
	if p.FailureThreshold > n {
		return atMost(c, "FailureThreshold", p.FailureThreshold, n, "Window.Count", never(" failures"))
	}
	return nil
}

// validateSlowCallRateNeedsSlowCall refuses a SlowCallRate that nothing would judge.
func (p CircuitBreakerPolicy) validateSlowCallRateNeedsSlowCall(c string) error {
	if p.SlowCallRate == 0 || p.SlowCall != 0 {
		return nil
	}
	return invalidField(c, "SlowCallRate", "0 without SlowCall (no call is slow)", p.SlowCallRate)
}

// validateNeedsWindow refuses, in consecutive mode, the fields only a windowed breaker
// judges: FailureRate, MinimumCalls and SlowCall.
func (p CircuitBreakerPolicy) validateNeedsWindow(c string) error {
	if !p.Window.IsZero() {
		return nil
	}
	const rule = "0 without a Window (consecutive mode does not judge it)"
	switch {
	case p.FailureRate != 0:
		return invalidField(c, "FailureRate", rule, p.FailureRate)
	case p.MinimumCalls != 0:
		return invalidField(c, "MinimumCalls", rule, p.MinimumCalls)
	case p.SlowCall > 0:
		return invalidField(c, "SlowCall", rule, p.SlowCall)
	}
	return nil
}

// String returns "circuit_breaker(N, D)", followed by ".named(...)" when Name is set,
// then the other fields in order, each left out when zero or at its default:
// ".success_threshold(N)", ".count_window(N)" or ".time_window(D)", ".buckets(N)",
// ".failure_rate(R, M)", ".slow_calls(D, R)", ".half_open_calls(N)", ".max_half_open(D)",
// ".open_backoff(B)", ".honor_retry_after()", ".classifier(...)" and ".shared()". Such as
// `circuit_breaker(1, 30s).named("inventory").time_window(10s).failure_rate(0.5, 20)`.
func (p CircuitBreakerPolicy) String() string {
	s := "circuit_breaker(" + strconv.Itoa(p.FailureThreshold) + ", " + p.RecoveryTimeout.String() + ")"
	s += named(p.Name)
	if p.EffectiveSuccessThreshold() != 1 {
		s += chained("success_threshold", strconv.Itoa(p.SuccessThreshold))
	}
	if p.Window.Count != 0 {
		s += chained("count_window", strconv.Itoa(p.Window.Count))
	}
	if p.Window.Period != 0 {
		s += chained("time_window", p.Window.Period.String())
	}
	if p.Window.Buckets != 0 && p.Window.Buckets != defaultBuckets {
		s += chained("buckets", strconv.Itoa(p.Window.Buckets))
	}
	if p.FailureRate != 0 || p.MinimumCalls != 0 {
		s += chained("failure_rate", formatFloat(p.FailureRate)+", "+strconv.Itoa(p.MinimumCalls))
	}
	if p.SlowCall != 0 || p.SlowCallRate != 0 {
		s += chained("slow_calls", p.SlowCall.String()+", "+formatFloat(p.SlowCallRate))
	}
	if p.HalfOpenCalls != 0 && p.HalfOpenCalls != p.EffectiveSuccessThreshold() {
		s += chained("half_open_calls", strconv.Itoa(p.HalfOpenCalls))
	}
	if p.MaxHalfOpen != 0 {
		s += chained("max_half_open", p.MaxHalfOpen.String())
	}
	if p.OpenBackoff != nil {
		s += chained("open_backoff", backoffString(p.OpenBackoff))
	}
	if p.HonorRetryAfter {
		s += chained("honor_retry_after", "")
	}
	if p.Classifier != "" {
		s += chained("classifier", strconv.Quote(p.Classifier))
	}
	if p.Shared {
		s += chained("shared", "")
	}
	return s
}

// circuitBreakerJSON is a CircuitBreakerPolicy's JSON document. Window and OpenBackoff are
// objects of their own, decoded strictly in their turn.
type circuitBreakerJSON struct {
	Type             string          `json:"type"`
	Name             string          `json:"name,omitempty"`
	FailureThreshold int             `json:"failure_threshold"`
	RecoveryTimeout  duration        `json:"recovery_timeout"`
	SuccessThreshold int             `json:"success_threshold,omitempty"`
	Window           json.RawMessage `json:"window,omitempty"`
	FailureRate      float64         `json:"failure_rate,omitempty"`
	MinimumCalls     int             `json:"minimum_calls,omitempty"`
	SlowCall         duration        `json:"slow_call,omitempty"`
	SlowCallRate     float64         `json:"slow_call_rate,omitempty"`
	HalfOpenCalls    int             `json:"half_open_calls,omitempty"`
	MaxHalfOpen      duration        `json:"max_half_open,omitempty"`
	OpenBackoff      json.RawMessage `json:"open_backoff,omitempty"`
	HonorRetryAfter  bool            `json:"honor_retry_after,omitempty"`
	Classifier       string          `json:"classifier,omitempty"`
	Shared           bool            `json:"shared,omitempty"`
}

// windowJSON is a Window's JSON document: {"count":N} or {"period":"10s","buckets":N}.
type windowJSON struct {
	Count   int      `json:"count,omitempty"`
	Period  duration `json:"period,omitempty"`
	Buckets int      `json:"buckets,omitempty"`
}

func encodeCircuitBreaker(p CircuitBreakerPolicy) (any, error) {
	w := circuitBreakerJSON{
		Type:             "circuit_breaker",
		Name:             p.Name,
		FailureThreshold: p.FailureThreshold,
		RecoveryTimeout:  duration(p.RecoveryTimeout),
		SuccessThreshold: p.SuccessThreshold,
		FailureRate:      p.FailureRate,
		MinimumCalls:     p.MinimumCalls,
		SlowCall:         duration(p.SlowCall),
		SlowCallRate:     p.SlowCallRate,
		HalfOpenCalls:    p.HalfOpenCalls,
		MaxHalfOpen:      duration(p.MaxHalfOpen),
		HonorRetryAfter:  p.HonorRetryAfter,
		Classifier:       p.Classifier,
		Shared:           p.Shared,
	}
	if !p.Window.IsZero() {
		b, err := json.Marshal(windowJSON{p.Window.Count, duration(p.Window.Period), p.Window.Buckets})
		if err != nil {
			return nil, within(err, "circuit_breaker: window")
		}
		w.Window = b
	}
	if p.OpenBackoff != nil {
		b, err := encodeBackoff(p.OpenBackoff)
		if err != nil {
			return nil, within(err, "circuit_breaker: open_backoff")
		}
		w.OpenBackoff = b
	}
	return w, nil
}

func decodeCircuitBreaker(data []byte, _ int) (CircuitBreakerPolicy, error) {
	var w circuitBreakerJSON
	if err := decodeStrict(data, &w); err != nil {
		return CircuitBreakerPolicy{}, err
	}
	var win windowJSON
	if len(w.Window) != 0 && string(w.Window) != "null" {
		if err := decodeStrict(w.Window, &win); err != nil {
			return CircuitBreakerPolicy{}, within(err, "circuit_breaker: window")
		}
	}
	b, err := decodeBackoff(w.OpenBackoff)
	if err != nil {
		return CircuitBreakerPolicy{}, within(err, "circuit_breaker: open_backoff")
	}
	return CircuitBreakerPolicy{
		Name:             w.Name,
		FailureThreshold: w.FailureThreshold,
		RecoveryTimeout:  time.Duration(w.RecoveryTimeout),
		SuccessThreshold: w.SuccessThreshold,
		Window:           Window{Count: win.Count, Period: time.Duration(win.Period), Buckets: win.Buckets},
		FailureRate:      w.FailureRate,
		MinimumCalls:     w.MinimumCalls,
		SlowCall:         time.Duration(w.SlowCall),
		SlowCallRate:     w.SlowCallRate,
		HalfOpenCalls:    w.HalfOpenCalls,
		MaxHalfOpen:      time.Duration(w.MaxHalfOpen),
		OpenBackoff:      b,
		HonorRetryAfter:  w.HonorRetryAfter,
		Classifier:       w.Classifier,
		Shared:           w.Shared,
	}, nil
}

// MarshalJSON writes {"type":"circuit_breaker","name":...,"failure_threshold":N,
// "recovery_timeout":"30s","success_threshold":N,"window":{"period":"10s","buckets":N},
// "failure_rate":R,"minimum_calls":N,"slow_call":"2s","slow_call_rate":R,
// "half_open_calls":N,"max_half_open":"1m0s","open_backoff":{...},
// "honor_retry_after":true,"classifier":"http","shared":true}, leaving out every zero
// field (a window of a count is {"count":N}). It fails for an invalid policy and for a
// custom OpenBackoff type.
func (p CircuitBreakerPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

package policy

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The sentinel errors, one per reason a resilient call can fail. Match them with errors.Is;
// the engine returns them inside an *Error. See IsRetryable and IsServiceUnavailable for how
// each is classified.
var (
	// ErrCircuitOpen means an open (or fully probed half-open) circuit breaker refused the call
	// without running it. Not retryable; RetryAfter gives the time until half-open.
	ErrCircuitOpen = errors.New("policy: circuit open")
	// ErrRateLimited means no token was available (or none came within MaxWait). Retryable;
	// RetryAfter gives the time until the next token.
	ErrRateLimited = errors.New("policy: rate limited")
	// ErrTimeout means a TimeoutPolicy's limit passed. Retryable. It also matches
	// context.DeadlineExceeded, and has a Timeout method reporting true.
	ErrTimeout error = &timeoutError{msg: "policy: timeout"}
	// ErrRetryExhausted means every attempt of a RetryPolicy ran and failed; the error also
	// matches the last attempt's error. Not retryable.
	ErrRetryExhausted = errors.New("policy: retries exhausted")
	// ErrCancelled means the caller's context ended; the error also matches ctx.Err(). Not
	// retryable.
	ErrCancelled = errors.New("policy: cancelled")
	// ErrInvalidPolicy means a policy, backoff, JSON document or environment value is invalid;
	// the error names the field and the value. Not retryable.
	ErrInvalidPolicy = errors.New("policy: invalid policy")
	// ErrPanic means the operation panicked; the panic was recovered. Not retryable.
	ErrPanic = errors.New("policy: panic")
	// ErrShutdown means the engine is shutting down or has shut down. Not retryable.
	ErrShutdown = errors.New("policy: shut down")
	// ErrOverloaded means the engine's queue was full and the call was refused at once.
	// Retryable.
	ErrOverloaded = errors.New("policy: overloaded")
	// ErrCircuitForcedOpen means a breaker forced open by hand (Engine.ForceOpen) refused
	// the call without running it. It also matches ErrCircuitOpen, so code that handles an
	// open circuit handles this one. Not retryable; RetryAfter gives the time left when the
	// breaker was forced open for a while.
	ErrCircuitForcedOpen error = &forcedOpenError{msg: "policy: circuit forced open"}
	// ErrConcurrencyLimited means a bulkhead or an adaptive concurrency limit was full (or
	// no slot came within its wait) and refused the call without running it. Retryable.
	ErrConcurrencyLimited = errors.New("policy: concurrency limited")
	// ErrBudgetExhausted means a retry budget refused a retry or a hedge; the error also
	// matches the last attempt's error, which it carries. Not retryable, and not a refusal
	// of the service: the call itself ran and failed.
	ErrBudgetExhausted = errors.New("policy: retry budget exhausted")
)

// forcedOpenError is the type of ErrCircuitForcedOpen: a sentinel that also matches
// ErrCircuitOpen.
type forcedOpenError struct{ msg string }

func (e *forcedOpenError) Error() string { return e.msg }

// Is reports whether target is ErrCircuitOpen.
func (e *forcedOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// timeoutError is the type of ErrTimeout: a sentinel that also matches
// context.DeadlineExceeded, so code written for contexts recognises a policy timeout.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

// Is reports whether target is context.DeadlineExceeded.
func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, like net.Error and context.DeadlineExceeded.
func (e *timeoutError) Timeout() bool { return true }

// Error is a failed resilient call: which operation, how many attempts ran, why (Kind, one
// of the sentinels, and Err, the cause), and when to try again. errors.Is matches both Kind
// and Err, and errors.As reaches it through %w wrapping. A zero field is simply left out of
// the message. An *Error is not modified after it is returned and is safe to share.
//
// A plain failure — the function's own error, which no stage acted on, or a Permanent
// error — has a nil Kind and the function's error as Err.
type Error struct {
	// Kind is the sentinel that says why, such as ErrRetryExhausted; nil for a plain failure.
	Kind error
	// Op is the operation's ID; "" leaves the op out of the message.
	Op string
	// Attempts is how many attempts ran the function, the first included; 0 means none
	// ran. An attempt refused by a breaker or a limiter did not run.
	Attempts int
	// After is how long to wait before trying again; 0 means no advice.
	After time.Duration
	// Err is the cause, such as the last attempt's error; may be nil.
	Err error
}

// Error returns `op "ID": ` (left out when Op is "") followed by what happened:
//
//	op "charge": connection refused                                 a plain failure: the function's error
//	op "charge": retries exhausted after 3 attempts: connection refused
//	op "charge": timeout 200ms                                      a cause that matches Kind says it all
//	op "charge": panic: boom
//	op "api": rate limited (retry after 1.5s)
//	op "api": rate limited after 1 attempt, retries exhausted (retry after 1.5s)
//
// The attempt count is left out when no attempt ran, and for a timeout or a panic in the
// only attempt. When retries ran out on a refusal (a breaker, a limiter or an overloaded
// actor refused the last try), the refusal comes first: it is what happened to the
// attempts that did not run. Retry advice is rounded to 3 significant digits.
func (e *Error) Error() string {
	if e == nil {
		return "policy: <nil>"
	}
	var b strings.Builder
	if e.Op != "" {
		b.WriteString("op ")
		b.WriteString(strconv.Quote(e.Op))
		b.WriteString(": ")
	}
	if e.Kind == nil && e.Err == nil {
		b.WriteString("failed")
		return b.String()
	}
	e.writeReason(&b, e.Attempts)
	return b.String()
}

// writeReason writes what happened: "kind[ after N attempts][: cause][ (retry after d)]".
// A cause that is itself an *Error contributes only its own reason, so nested errors do
// not repeat the operation and attempt count. attempts < 0 leaves the count out.
func (e *Error) writeReason(b *strings.Builder, attempts int) {
	inner, nested := e.Err.(*Error)
	nested = nested && inner != nil
	switch {
	case e.Kind == nil:
		// A plain failure reads as the function's error.
		if nested {
			inner.writeReason(b, -1)
		} else if e.Err != nil {
			b.WriteString(e.Err.Error())
		}
		writeAdvice(b, e.After)
		return
	case e.Kind == ErrRetryExhausted && nested && isRefusalKind(inner.Kind):
		inner.writeHead(b)
		if attempts > 0 {
			writeAttempts(b, attempts)
			b.WriteString(", retries exhausted")
		} else {
			b.WriteString(", retries exhausted before any attempt ran")
		}
		inner.writeCause(b)
		writeAdvice(b, max(e.After, inner.After))
		return
	}
	e.writeHead(b)
	if attempts > 1 || (attempts == 1 && e.Kind != ErrTimeout && e.Kind != ErrPanic) {
		writeAttempts(b, attempts)
	}
	e.writeCause(b)
	writeAdvice(b, e.After)
}

// writeHead writes the kind, or the cause when the cause matches the kind: such a cause
// (an invalid-policy error, a timeout that names its limit) says it all.
func (e *Error) writeHead(b *strings.Builder) {
	if e.causeSaysKind() {
		b.WriteString(e.Err.Error())
		return
	}
	b.WriteString(strings.TrimPrefix(e.Kind.Error(), "policy: "))
}

// writeCause writes ": cause", unless writeHead wrote it already.
func (e *Error) writeCause(b *strings.Builder) {
	if e.Err == nil || e.causeSaysKind() {
		return
	}
	b.WriteString(": ")
	if inner, ok := e.Err.(*Error); ok && inner != nil {
		inner.writeReason(b, -1)
		return
	}
	b.WriteString(e.Err.Error())
}

func (e *Error) causeSaysKind() bool {
	_, nested := e.Err.(*Error)
	return e.Kind != nil && e.Err != nil && !nested && errors.Is(e.Err, e.Kind)
}

func writeAttempts(b *strings.Builder, n int) {
	b.WriteString(" after ")
	b.WriteString(strconv.Itoa(n))
	if n == 1 {
		b.WriteString(" attempt")
	} else {
		b.WriteString(" attempts")
	}
}

func writeAdvice(b *strings.Builder, after time.Duration) {
	if after > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(roundForPeople(after).String())
		b.WriteByte(')')
	}
}

// isRefusalKind reports whether kind, a sentinel, says a stage refused the call without
// running it (IsRefusal asks the same of any error).
func isRefusalKind(kind error) bool { return slices.Contains(serviceUnavailable, kind) }

// roundForPeople rounds d to 3 significant digits: 4.999910051s is 5s, 1.500123ms is
// 1.5ms. Durations under 1µs are returned as they are.
func roundForPeople(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for v := d / 1000; v != 0; v /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}

// Unwrap returns Kind and Err, leaving out whichever is nil, so errors.Is and errors.As see
// both. An error with a sentinel Kind and no cause unwraps without allocating.
func (e *Error) Unwrap() []error {
	if e == nil {
		return nil
	}
	switch {
	case e.Kind == nil && e.Err == nil:
		return nil
	case e.Kind == nil:
		return []error{e.Err}
	case e.Err == nil:
		if one, ok := kindOnly[e.Kind]; ok {
			return one
		}
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Is reports whether target is e's Kind, so the common errors.Is(err, ErrCircuitOpen)
// matches without walking the chain.
func (e *Error) Is(target error) bool { return e != nil && e.Kind != nil && e.Kind == target }

// sentinels is the one table of the sentinel errors and how each is classified: a new
// sentinel is one row. retryable says whether IsRetryable holds for it; refusal says
// whether it means a stage or the engine refused the call without running it
// (IsServiceUnavailable).
var sentinels = [...]struct {
	err                error
	retryable, refusal bool
}{
	{ErrCircuitOpen, false, true},
	{ErrRateLimited, true, true},
	{ErrTimeout, true, false},
	{ErrRetryExhausted, false, false},
	{ErrCancelled, false, false},
	{ErrInvalidPolicy, false, false},
	{ErrPanic, false, false},
	{ErrShutdown, false, true},
	{ErrOverloaded, true, true},
	{ErrCircuitForcedOpen, false, true},
	{ErrConcurrencyLimited, true, true},
	{ErrBudgetExhausted, false, false},
}

// The lists derived from sentinels. kindOnly holds, for each sentinel, the one-element
// slice an *Error with that Kind and no cause unwraps to (the slices are never modified).
// notRetryable are the kinds a retry must stop at (a Permanent error among them); they win
// over retryable kinds when an error matches several. serviceUnavailable are the kinds
// that say the dependency or the engine refused the call.
var kindOnly, notRetryable, serviceUnavailable = func() (map[error][]error, []error, []error) {
	one := map[error][]error{}
	stop := []error{errPermanent}
	var refused []error
	for _, s := range sentinels {
		one[s.err] = []error{s.err}
		if !s.retryable {
			stop = append(stop, s.err)
		}
		if s.refusal {
			refused = append(refused, s.err)
		}
	}
	return one, stop, refused
}()

// errPermanent is what a Permanent error matches; IsPermanent looks for it.
var errPermanent = errors.New("policy: permanent")

// permanentError marks its cause as the request's own fault.
type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == errPermanent }

// Permanent marks err as the request's own fault (bad input, not found, forbidden): the
// retry policy never retries it and a circuit breaker does not count it as a failure. The
// result has err's message and matches err with errors.Is; the mark survives %w wrapping.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked by Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }

// IsRetryable reports whether a retry policy retries err: timeouts, rate-limited,
// overloaded, concurrency-limited and any error not listed here are retryable; retries
// exhausted, circuit open (forced open too), retry budget exhausted, cancelled, invalid
// policy, panic, shutdown and Permanent errors are not, and win when err matches several.
// It looks through %w wrapping. A nil error is not retryable.
func IsRetryable(err error) bool {
	return err != nil && !matchesAny(err, notRetryable)
}

// IsServiceUnavailable reports whether err says the call was refused rather than failed:
// circuit open (forced open too), rate limited, overloaded, concurrency limited or shut
// down. It looks through %w wrapping.
func IsServiceUnavailable(err error) bool {
	return err != nil && matchesAny(err, serviceUnavailable)
}

// IsRefusal reports whether err says a stage or the engine refused the call without
// running it: ErrRateLimited, ErrCircuitOpen (ErrCircuitForcedOpen too), ErrOverloaded,
// ErrShutdown or ErrConcurrencyLimited, looking through %w wrapping. It is the second
// rule of the outcome precedence that every stage applies, after "the caller's context
// ended" and before Permanent errors and classifiers: a breaker never counts a refusal by
// another stage, and a half-open probe refused so frees its slot. An error matching
// ErrBudgetExhausted is not itself a refusal; it is judged by the last attempt's error it
// carries, which IsRefusal sees through the wrapping. The refusals are the
// service-unavailable kinds of IsServiceUnavailable: the same rows of one table, read by
// a stage instead of by a caller.
func IsRefusal(err error) bool {
	return err != nil && matchesAny(err, serviceUnavailable)
}

// matchesAny reports whether err matches one of kinds (errors.Is). An *Error whose Kind
// is one of them, what the engine returns, is answered without errors.Is's walk.
func matchesAny(err error, kinds []error) bool {
	if pe, ok := err.(*Error); ok && pe != nil && pe.Kind != nil {
		for _, kind := range kinds {
			if pe.Kind == kind {
				return true
			}
		}
	}
	for _, kind := range kinds {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// RetryAfter returns how long to wait before trying again, when err says so: the first
// *Error with After > 0, or the first error with a method RetryAfter() time.Duration
// returning > 0, found depth-first through %w wrapping (both Unwrap forms).
func RetryAfter(err error) (time.Duration, bool) {
	switch e := err.(type) {
	case nil:
		return 0, false
	case *Error:
		if e != nil && e.After > 0 {
			return e.After, true
		}
	case interface{ RetryAfter() time.Duration }:
		if d := e.RetryAfter(); d > 0 {
			return d, true
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return RetryAfter(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range u.Unwrap() {
			if d, ok := RetryAfter(inner); ok {
				return d, true
			}
		}
	}
	return 0, false
}

package bulwarkhttp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// ClassifierName is the name under which NewTransport and Middleware register Classify
// on their engine, for policies that name it (CircuitBreakerPolicy.WithClassifier("http")).
const ClassifierName = "http"

// StatusError is the error of an attempt whose response has a status the engine must
// see as a failure: 408, 429, 500, 502, 503 or 504 on the client side, 500 and above
// except 501 on the server side. It carries the server's hint on when to try again, so
// policy.RetryAfter and the retry stage see it, and a 429 matches policy.ErrRateLimited:
// the dependency refused the call, which breakers never count. The transport returns the
// response itself, not this error, to its caller when attempts run out.
type StatusError struct {
	// StatusCode is the response's status code.
	StatusCode int
	// After is the server's hint on how long to wait (Retry-After, else RateLimit-Reset,
	// else X-RateLimit-Reset); 0 means none.
	After time.Duration

	resp *http.Response // the response this error stands for (client side)
}

// Error returns "bulwarkhttp: status 503 Service Unavailable", with " (retry after d)"
// when the server gave a hint.
func (e *StatusError) Error() string {
	s := "bulwarkhttp: status " + strconv.Itoa(e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		s += " " + text
	}
	if e.After > 0 {
		s += " (retry after " + e.After.String() + ")"
	}
	return s
}

// RetryAfter returns the server's hint, for policy.RetryAfter.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// Is reports whether target is policy.ErrRateLimited and the status is 429 Too Many
// Requests.
func (e *StatusError) Is(target error) bool {
	return target == policy.ErrRateLimited && e.StatusCode == http.StatusTooManyRequests
}

// Classify is the "http" classifier (IN-3): how the transport judges one outcome, also
// usable by name in any policy of an engine a transport or middleware was built with.
// v is an *http.Response (or nil) and err the attempt's error.
//
//   - A response (v with a nil err, or err a *StatusError) of status 408, 429, 500, 502,
//     503 or 504 is a Failure: retried when the policy retries. The transport turns a 429
//     into an error matching policy.ErrRateLimited, which breakers never count (throttling
//     is not a fault of the dependency); a retry still retries it.
//   - Any other status, 501 and 505 and the other 4xx included, is a Success: not
//     retried, and a success for breakers.
//   - A transport error is a Failure (retryable), except a request that cannot succeed as
//     sent — a certificate the client does not trust, a TLS handshake with a server that
//     does not speak TLS — and a Permanent error, which are Ignore: not retried, and not
//     counted by breakers. The caller's own cancellation is handled by the engine before
//     any classifier (DESIGN.md, "Outcome classification").
//   - A nil v and a nil err are a Success.
//
// A *StatusError of the server side (status 500 and above except 501) is a Failure too.
func Classify(v any, err error) policy.Verdict {
	if err != nil {
		var se *StatusError
		switch {
		case errors.As(err, &se):
			return policy.Failure
		case policy.IsPermanent(err), untrusted(err):
			return policy.Ignore
		}
		return policy.Failure
	}
	if resp, ok := v.(*http.Response); ok && resp != nil {
		return statusVerdict(resp.StatusCode)
	}
	return policy.Success
}

// statusVerdict is the IN-3 table for a response's status.
func statusVerdict(code int) policy.Verdict {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return policy.Failure
	}
	return policy.Success
}

// serverFailure is IN-10: a handler's status of 500 or more, except 501, is a failure.
func serverFailure(code int) bool {
	return code >= 500 && code != http.StatusNotImplemented
}

// untrusted reports whether err says the TLS connection could not be trusted or made:
// a certificate that does not verify, or a server that does not speak TLS. Sending the
// same request again cannot succeed.
func untrusted(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		header   tls.RecordHeaderError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &invalid) ||
		errors.As(err, &hostname) || errors.As(err, &header)
}

// HeaderRetryAfter returns the wait a 429 or 503 response's headers ask for, measured
// from now: Retry-After (policy.ParseRetryAfter), else RateLimit-Reset
// (ParseRateLimitReset), else X-RateLimit-Reset (ParseXRateLimitReset). ok is false when
// none of them holds a valid value.
func HeaderRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := h.Get("Retry-After"); v != "" {
		if d, ok := policy.ParseRetryAfter(v, now); ok {
			return d, true
		}
	}
	if v := h.Get("RateLimit-Reset"); v != "" {
		if d, ok := ParseRateLimitReset(v); ok {
			return d, true
		}
	}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if d, ok := ParseXRateLimitReset(v, now); ok {
			return d, true
		}
	}
	return 0, false
}

// ParseRateLimitReset reads a RateLimit-Reset header value (the IETF RateLimit header
// fields): delay-seconds, one or more digits after trimming whitespace, until the quota
// resets. A value too large for a time.Duration is clamped to the largest one; anything
// else gives (0, false).
func ParseRateLimitReset(value string) (time.Duration, bool) {
	n, ok := parseDigits(strings.TrimSpace(value))
	if !ok {
		return 0, false
	}
	return seconds(n), true
}

// ParseXRateLimitReset reads an X-RateLimit-Reset header value as Unix seconds (the form
// of Envoy's UNIX_TIMESTAMP and GitHub's API) and returns the time from now until then:
// (0, true) for an instant at or before now, (0, false) for anything but digits.
func ParseXRateLimitReset(value string, now time.Time) (time.Duration, bool) {
	n, ok := parseDigits(strings.TrimSpace(value))
	if !ok {
		return 0, false
	}
	if n > math.MaxInt64/int64(time.Second) {
		return time.Duration(math.MaxInt64), true
	}
	at := time.Unix(n, 0)
	if !at.After(now) {
		return 0, true
	}
	return at.Sub(now), true
}

// parseDigits reads 1*DIGIT, saturating at math.MaxInt64.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-int64(c-'0'))/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// seconds is n seconds, clamped to the largest Duration.
func seconds(n int64) time.Duration {
	if n > math.MaxInt64/int64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(n) * time.Second
}

// retryAfterHeader is the Retry-After value for a wait of d: whole seconds rounded up,
// at least 1 (IN-8).
func retryAfterHeader(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// Package bulwarkhttp runs net/http traffic through a bulwark engine: NewTransport wraps
// an http.RoundTripper so that every request of an http.Client passes the engine's
// policy (retries, breakers, limiters, timeouts), and Middleware protects an
// http.Handler with one. It imports the standard library and bulwark only.
//
// # The client side
//
//	client := &http.Client{Transport: bulwarkhttp.NewTransport(engine,
//	    policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, 30*time.Second).Named("inventory"), policy.Timeout(2*time.Second)),
//	    nil)}
//
// Each attempt sends its own shallow copy of the request with its own context. A body is
// replayed with Request.GetBody (set by http.NewRequest for bytes, strings and their
// readers); a body without GetBody is sent once and never retried, unless WithBodyBuffer
// lets the transport buffer it. Only the idempotent methods of RFC 9110 §9.2.2 (GET, HEAD,
// OPTIONS, TRACE, PUT, DELETE), and requests with an Idempotency-Key or
// X-Idempotency-Key header, are retried; other requests still pass breakers, limiters
// and timeouts, once.
//
// Outcomes are judged by Classify, which the transport applies to every response and
// registers on the engine as the classifier "http": 408, 500, 502, 503 and 504 are
// retryable failures; 429 is retried and never counted by a breaker (the response is
// turned into an error matching policy.ErrRateLimited, a refusal); other statuses are
// successes. A 429 or 503 response's Retry-After (policy.ParseRetryAfter), else its
// RateLimit-Reset, else its X-RateLimit-Reset, becomes the error's RetryAfter, so a
// retry waits at least that long.
//
// Responses that are thrown away (retried, losing hedges, or arriving after a Timeout
// gave up) have their bodies read up to 4 KiB and closed, so their connections are
// reused. The response RoundTrip returns is open; when attempts run out on a retryable
// status, that last response is returned with a nil error, as net/http would return it.
// The attempt's context lives until the caller closes the response body, so the body can
// be read after RoundTrip returns: a Timeout in the policy bounds the wait for the
// response headers, and body reads are bounded by the request's own context.
//
// # The server side
//
//	handler = bulwarkhttp.Middleware(engine, policy.Combine(policy.RateLimit(100), policy.Timeout(time.Second)))(handler)
//
// A request refused by a rate limiter is answered 429 Too Many Requests; one refused by
// an open breaker, a full bulkhead, an overloaded or shut-down engine, or cut by a
// Timeout, 503 Service Unavailable; each with a Retry-After header (whole seconds,
// rounded up, at least 1) whenever the refusal says how long to wait. A handler that
// panics is answered 500. For breakers, a response status of 500 or more, except 501, is
// a failure. When the policy can give up on the handler or run it again (a Timeout, a
// Retry, any kind other than breakers and rate limits), the handler writes to a buffer,
// as under http.TimeoutHandler: its response is sent when it returns in time, and after
// a timeout every write it makes fails with http.ErrHandlerTimeout.
//
// # Names
//
// WithKey names the breakers and limiters of the policy that have no Name per request —
// by route, tenant or client — on both sides. Keyed names are created on first use and,
// on an engine built with supervisor.WithIdleTimeout, passivated when idle, so a key
// space of many tenants costs memory only for the active ones.
//
// # The status page
//
//	mux.Handle("/debug/bulwark/", bulwarkhttp.StatusHandler(engine))
//
// StatusHandler serves a live page of every named breaker, limiter, bulkhead and retry
// budget, and the engine's totals: embedded HTML with no external resources, the same
// data as JSON (StatusSnapshot), kept live by server-sent events. WithControls adds
// Force open, Reset and Disable buttons behind an authorize function of yours.
//
// # Differences from failsafehttp
//
// failsafe-go's failsafehttp retries every method, reads any body into memory, answers
// an open breaker with 429 and no Retry-After, and (before its fixes) cancelled a
// response's context before its body was read. Here only idempotent requests are
// retried, bodies are replayed through GetBody or a bounded buffer, an open breaker is
// 503 with Retry-After, and the attempt's context lives until the body is closed.
package bulwarkhttp

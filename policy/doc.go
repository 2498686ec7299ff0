// Package policy is bulwark's domain layer: plain values that say what resilience an
// operation needs — retry, circuit breaker, rate limit, timeout, or a combination — and
// never how it runs. It imports only the standard library, starts no goroutine and holds no
// state, so policies and the operations that declare them can be built and tested with no
// engine running. The supervisor package runs them.
//
// # Policies
//
// Each kind is a struct value with a short constructor, and chainable methods return
// modified copies:
//
//	policy.None()                                              // run once, as it is
//	policy.Retry(3)                                            // 3 attempts in all, DefaultBackoff
//	policy.CircuitBreaker(5, 30*time.Second).Named("payments") // open after 5 failures in a row
//	policy.RateLimit(100).WithBurst(20)                        // 100 calls a second, 20 at once
//	policy.Timeout(10 * time.Second)                           // cancel after 10s
//	policy.Timeout(10 * time.Second).AsCooperative()           // the same, on the caller's goroutine
//	policy.Bulkhead(10).WithQueue(50, 100*time.Millisecond)    // 10 at once, 50 waiting ≤ 100ms
//
// A zero field takes the default documented on it (SuccessThreshold 1, Burst
// ceil(RequestsPerSecond), Backoff DefaultBackoff(), MaxWait reject at once, Name the
// operation's ID); every other zero is invalid, and Validate says which field and value.
// String prints a policy as the calls that build it. Policy values are immutable and safe to
// share between goroutines. An Operation declares its own policy, by business rule, next to
// the work it does.
//
// # Composition
//
// Combine nests policies in the order listed, the first outermost:
//
//	policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, 30*time.Second), policy.Timeout(10*time.Second))
//
// makes up to 3 attempts, each asking the breaker and each with its own 10s timeout, while
// Combine(Timeout(10s), Retry(3)) bounds all attempts together. Combine copies its arguments
// and never flattens; nesting is limited to MaxDepth.
//
// # Backoff
//
// A RetryPolicy waits Backoff.Delay(n) before retry n. FixedBackoff, LinearBackoff,
// ExponentialBackoff (optionally with full jitter) and DecorrelatedBackoff are provided;
// DefaultBackoff is exponential from 100ms, doubling, capped at 30s, with jitter. The
// jittered kinds draw from math/rand/v2 in Delay and also offer DelayWith, a pure function of
// the random sample, for exact tests. No delay is negative or overflows, whatever the attempt.
//
// # Errors
//
// The engine's errors are *Error values that match a sentinel (ErrTimeout, ErrCircuitOpen,
// ErrRateLimited, ...) and the cause with errors.Is; a plain failure, the function's own
// error, is an *Error with a nil Kind. IsRetryable, IsServiceUnavailable and
// RetryAfter classify any error through %w wrapping, by data, never by message:
//
//	sentinel               retryable  service unavailable
//	ErrTimeout             yes        no
//	ErrRateLimited         yes        yes
//	ErrOverloaded          yes        yes
//	ErrConcurrencyLimited  yes        yes
//	ErrCircuitOpen         no         yes
//	ErrCircuitForcedOpen   no         yes   (also matches ErrCircuitOpen)
//	ErrShutdown            no         yes
//	ErrRetryExhausted      no         no
//	ErrBudgetExhausted     no         no
//	ErrCancelled           no         no
//	ErrInvalidPolicy       no         no
//	ErrPanic               no         no
//	Permanent(err)         no         no
//	any other error        yes        no
//
// A non-retryable kind wins when an error matches several. Wrap an error in Permanent when
// the request itself is wrong: it is never retried and never counts against a breaker.
//
// # Outcomes
//
// Every stage judges an outcome the same way, first match wins: the caller's context ended
// (ignored, never retried); a refusal by another stage, IsRefusal (ignored by breakers);
// a Permanent error (ignored by breakers, never retried); the policy's named Classifier,
// which returns a Verdict; and the default, where a nil error is a success and any other
// error a failure. Classifiers are Go functions, so policies name them and the engine
// holds them: a policy stays data, and JSON stays complete.
//
// # Circuit breaker modes
//
// A CircuitBreakerPolicy with a zero Window counts consecutive failures. WithCountWindow
// or WithTimeWindow judges a window instead: FailureThreshold failures in it open the
// breaker, and WithFailureRate adds a rate and MinimumCalls; WithSlowCalls opens it on
// the rate of calls slower than a threshold, at the cost of two clock reads per call.
// The half-open period, the open delay (OpenBackoff, HonorRetryAfter), the Classifier and
// Shared (cluster mode) have fields of their own. Zero fields keep the consecutive
// breaker unchanged; the Effective methods say what each default means.
//
// # Configuration
//
// Every policy and backoff marshals to JSON, and ParseJSON reads it back equal and
// validated:
//
//	{"type":"combine","policies":[
//	  {"type":"retry","max_attempts":3,"backoff":{"type":"exponential","initial_delay":"100ms","multiplier":2,"max_delay":"30s","jitter":true}},
//	  {"type":"timeout","duration":"30s"}]}
//
// Spec embeds a policy in a configuration struct of your own. FromEnv builds
// Combine(Retry(MAX_RETRIES), Timeout(OPERATION_TIMEOUT)) from the environment, and
// FromLookup does the same from any key-value source.
//
// # Files
//
// Each kind has its own file, with the same stem as its stage and actor in the other
// layers: retry.go, breaker.go, ratelimit.go, timeout.go, combine.go (NonePolicy and the
// Policy interface in policy.go, the backoffs in backoff.go), each holding the type, its
// constructors, Validate, String and its JSON document. kinds.go lists the kinds once;
// isKind, String inside a combine, MarshalJSON and ParseJSON all look them up there, so a
// new kind is its file plus one row. json.go holds the JSON framework (ParseJSON, Spec,
// strict decoding); errors.go the sentinels and their classification table.
package policy

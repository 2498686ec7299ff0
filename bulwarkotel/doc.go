// Package bulwarkotel records a bulwark engine's operations as OpenTelemetry metrics and
// traces: an Observer, installed on the engine with supervisor.WithObserver.
//
//	obs, err := bulwarkotel.NewObserver(meterProvider, tracerProvider)
//	if err != nil { ... }
//	e, err := supervisor.New(supervisor.WithObserver(obs))
//	reg, err := obs.ObserveBreakers(e) // optional: the breaker-state gauge
//
// It is its own module (github.com/bulwark-go/bulwark/bulwarkotel), so the engine's
// module never requires the OpenTelemetry SDK; it needs only the API packages
// (go.opentelemetry.io/otel/metric and /trace), and the application picks the SDK and
// the exporters.
//
// # Traces
//
// Each call through the engine (Execute, ExecuteWithPolicy, Run, ExecutePlan, ...) is
// one span, "bulwark <operation ID>" ("bulwark" when the call has none), a child of the
// span in the caller's context. The function runs under a context carrying it, so spans
// the function starts are its children. The span ends when the call returns: with status
// Error, described by the error's kind (such as "retry_exhausted"), when the call failed,
// and Unset when it succeeded, a fallback's success included.
//
// When a call has several attempts (a retry, a hedge), each attempt is also a child span
// of the operation's, "bulwark attempt", spanning the attempt; a call with one attempt
// has no attempt span. The engine tells the Observer of an attempt when it ends, so the
// attempt spans are recorded with their start and end times after the fact, and the
// function's own spans are children of the operation's span, not of an attempt's.
//
// The operation's span gets events: "bulwark.rejected" when a stage refuses the call (an
// open breaker, an empty rate limiter), "bulwark.retry" when a retry is scheduled,
// "bulwark.fallback" when a fallback replaces a failure, and "bulwark.timeout" when an
// attempt or the call ends in a policy timeout.
//
// # Metrics
//
//	bulwark.operations          counter    bulwark.operation, bulwark.outcome
//	bulwark.operation.duration  histogram  (s) bulwark.operation, bulwark.outcome
//	bulwark.attempts            counter    bulwark.operation, bulwark.stage, bulwark.outcome, bulwark.attempt.hedge
//	bulwark.attempt.duration    histogram  (s) as bulwark.attempts
//	bulwark.retries             counter    bulwark.operation, error.type
//	bulwark.rejections          counter    bulwark.operation, bulwark.kind, bulwark.name
//	bulwark.fallbacks           counter    bulwark.operation, error.type
//	bulwark.breaker.state       gauge      bulwark.name (engines passed to ObserveBreakers)
//
// The histograms' buckets are DefaultDurationBuckets unless WithDurationBuckets says
// otherwise.
//
// # Attributes
//
// Attribute values come only from names and kinds, never from an error's text or from
// the function's values, so every series and span attribute stays within a bounded set:
//
//	bulwark.operation      the operation ID (Engine.Prepare, policy.Operation), "" for none
//	bulwark.outcome        an operation's: "success" or its error's kind;
//	                       an attempt's: the verdict of the stage that ran it
//	                       ("success", "failure", "ignore", "abort")
//	bulwark.stage          what ran the attempt: "retry", "hedge" or "call" (no retry)
//	bulwark.attempt.hedge  whether the attempt is a hedge
//	bulwark.attempt        the attempt's number, 1 = the first (attempt spans and
//	                       retry events only, never on metrics)
//	bulwark.kind           the refusing stage's kind: "breaker", "limiter", ...
//	bulwark.name           the refusing stage's name; the breaker's for the gauge
//	error.type             an error's kind
//
// An error's kind is the name of the engine's sentinel it carries — "circuit_open",
// "circuit_forced_open", "rate_limited", "timeout", "retry_exhausted", "cancelled",
// "invalid_policy", "panic", "shutdown", "overloaded", "concurrency_limited",
// "budget_exhausted" (the names policy.FallbackKinds uses) — or "cancelled" and
// "deadline_exceeded" for the context errors, or "failure" for the function's own error
// (and for a value a classifier judged a failure).
// Operation IDs and stage names are the application's choice: keep them few (a name per
// route, not per request).
//
// # Cost
//
// With a nil or no-op provider (go.opentelemetry.io/otel/metric/noop,
// go.opentelemetry.io/otel/trace/noop) for both signals, the Observer keeps no state and
// a call allocates nothing more than it does without an Observer. With providers that
// record, each call keeps a small state in its context; attribute sets are built once
// and reused. The global providers (otel.GetMeterProvider, otel.GetTracerProvider) are
// not no-op types: the global meter's instruments report themselves disabled until a
// provider is set, so metrics cost nothing before then, but the global tracer starts
// (non-recording) spans; pass the providers you configured.
package bulwarkotel

// Package supervisor is bulwark's application layer: the Engine, which runs operations
// under resilience policies (package policy) and supervises the actors that hold the
// state of every named circuit breaker and rate limiter (package actors).
//
// # Quick use
//
//	e, err := supervisor.New(supervisor.WithLogger(logger))
//	defer e.Shutdown(ctx)
//	plan, err := e.Prepare("charge", policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, 30*time.Second).Named("payments"), policy.Timeout(10*time.Second)))
//	v, err := supervisor.ExecutePlan(ctx, plan, callPayments)
//
// Prepare a policy once per call site: a Plan is validated and compiled, safe for
// concurrent use, and its ID is the op of the logs and errors of its calls.
// ExecuteWithPolicy takes any policy value and caches what it compiles into by the
// identity of the boxed value: a policy.Policy variable reused across calls costs what a
// Plan costs (retry, breaker and rate limit: about 65–80 ns and no allocation on a
// 2-vCPU machine), but a policy.Combine(...) written inline in the call is a new value
// each time, compiled again: about 1–1.6 µs and 10 allocations per call.
//
// # Composition order
//
// Combine nests its policies in the order listed, the first outermost:
//
//	Combine(Retry(3), CircuitBreaker(5, 30s), RateLimit(100), Timeout(10s))
//
//	retry ─► breaker ─► limiter ─► timeout ─► fn
//	  │        │          │           └ each attempt ends after 10s (fn's ctx cancelled)
//	  │        │          └ each attempt takes a token
//	  │        └ each attempt asks the breaker, and its outcome counts
//	  └ up to 3 attempts, waiting max(backoff, RetryAfter) between them
//
// So a retry outside a breaker feeds the breaker one outcome per attempt, a rate limit
// inside a retry is checked per attempt, and Combine(Timeout(1s), Retry(3)) bounds all
// attempts together. Nested Combines flatten without changing the meaning. The
// recommended order is retry, breaker, rate limit, timeout.
//
// # Message flow
//
// The engine is one supervisor actor, one actor per named breaker or limiter (its
// children), and the caller's own goroutine, which does most of the work:
//
//	caller goroutine                          breaker actor "payments"
//	────────────────                          ─────────────────────────
//	view := link.Enter()       ◄── publishes ─ immutable view (atomic pointer)
//	view.Pass? run fn             (Enter counts the call in flight: no passivation)
//	  success: link.CountSuccess() (an atomic add; the actor drains it later)
//	  failure, slow call, or a success while the view says one could trip (CB-7):
//	           Report{ticket} ───────────────► Circuit.Apply → may trip → new view
//	           wait for Acked  ◄──── Acked ─── (so the next call sees the new state)
//	  failure past WithMailboxLimit: join the link's failure batch; its first caller
//	           sends one Nudge ──────────────► the actor takes the batch in, publishes,
//	           wait for the batch  ◄─ release ─ and releases the batch's callers
//	not Pass (open):    ErrCircuitOpen from the view, no message
//	not Pass (forced open): ErrCircuitForcedOpen from the view, no message
//	not Pass (half-open): Acquire{ticket} ───► a probe slot, or Rejected
//
// The view's SlowCall, when set, makes the caller time the call: two clock reads, only
// for breakers with SlowCall. A breaker's policy may name a classifier (RegisterClassifier)
// that judges each outcome after the caller's cancellation, other stages' refusals and
// Permanent errors; the classifier runs on the caller's goroutine.
//
// Rate limiters work the same way: the limiter actor hands whole tokens out in advance
// to a pool that callers take from with one atomic operation; a caller that finds the
// pool empty is refused from the view (reject mode) or asks the actor, which grants,
// refuses, or queues it (wait mode, FIFO with critical operations first) and wakes it on
// its own timer.
//
// Bulkheads too: callers take a free permit from a counter the bulkhead actor shares,
// with one compare-and-swap, and give it back when the function really returns (also
// after a Timeout inside gave up on it); only a full bulkhead asks the actor, which
// owns the wait queue (FIFO with critical operations first, or LIFO) and grants, queues
// or refuses with ErrConcurrencyLimited.
//
// Answers reach waiting callers through the engine's inbox: a protoactor process, not
// a future, that routes each answer by its ticket to the caller's channel. A caller
// whose context ends stops waiting at once; if the actor then grants it a token or a
// probe slot, the inbox gives it back.
//
// The supervisor actor owns the registry: it spawns a breaker or limiter the first time
// a name is used, publishes the name → actor map that callers read without asking,
// reconfigures registered names, passivates idle ones (WithIdleTimeout), and restarts a
// child that panics. A child's state lives outside the actor struct, so a restart keeps
// it; the request that was being handled when it panicked is answered with an error
// matching policy.ErrOverloaded, and callers waiting on an actor that stops are released.
//
// Actor clients send messages.Execute to Engine.PID; the operation runs on a goroutine
// of its own through the same pipeline, and the sender receives a *messages.Result.
//
// # Naming
//
// A breaker's or limiter's name is its policy's Name, else the operation's ID (Execute),
// else "default". Breakers, limiters and bulkheads have separate namespaces. The first policy that
// uses an unregistered name configures its actor, also when it is recreated after
// passivation; RegisterCircuitBreaker and RegisterRateLimiter configure a name
// explicitly, win over policies, and reconfigure live actors in place. A name must be
// valid UTF-8 (it is a metric label and a log field); another is refused with
// policy.ErrInvalidPolicy.
//
// # Costs
//
// The success path of none, retry and a closed breaker (any mode) allocates nothing and
// never waits for an actor, except for the one success that can complete a window's
// MinimumCalls and trip it; SlowCall adds two clock reads per call, and a classifier
// the boxing of the value it judges (an allocation for most non-pointer values). Prepare a policy once, or convert a policy value to the
// policy.Policy interface once and reuse it: the engine caches each compiled policy by
// the identity of the boxed value (a fresh conversion allocates, and compiles again). Do
// not mutate the slice of a CombinedPolicy after using it. A Timeout stage costs a
// goroutine per call; its timer and wake channel are recycled. A cooperative Timeout
// (policy.Timeout(d).AsCooperative()) costs no goroutine, timer or allocation: the
// function runs on the caller's goroutine, and the engine's one shared timer, of 1 ms
// resolution, ends its context at the deadline.
//
// # Where the code lives
//
// This package is the public facade: engine.go (Engine, New, Shutdown), options.go,
// execute.go (Execute, ExecuteWithPolicy, Run, Prepare, Plan, ExecutePlan, RunPlan),
// bulk.go (ExecuteAll), register.go, observe.go (Metrics, Collector, Subscribe, Event)
// and actorclient.go (the process behind PID). The machinery is internal, one file per
// policy kind with the same stem in every layer:
//
//   - internal/pipeline: one call's way through its stages: compile.go (policy → stages),
//     run.go (the stage switch), retry.go, breaker.go, ratelimit.go, timeout.go,
//     plancache.go, errors.go, gate.go (the shutdown gate);
//   - internal/registry: the named actors: one Family per kind (breaker.go, limiter.go),
//     the supervisor actor (supervisor.go), resolve.go, and backend.go, the seam a
//     cluster backend implements;
//   - internal/inbox: the engine's sends and the ticketed answers of its actors;
//   - internal/telemetry: counters, histogram, events and the Prometheus collector.
//
// Shutdown sleeps two dead-letter intervals (2 ms) after stopping an actor system it
// created: protoactor throttles dead-letter logs with a goroutine of its own, and the
// sleep lets it end before Shutdown returns.
package supervisor

// Package bulwarkgrpc runs gRPC calls through a bulwark engine: client interceptors
// put every call of a grpc.ClientConn under a policy (retries, breakers, limiters,
// timeouts, hedges), and server interceptors protect a service with one. It is a module
// of its own (github.com/bulwark-go/bulwark/bulwarkgrpc), so the core module never
// depends on grpc.
//
// # The client side
//
//	p := policy.Combine(policy.Retry(3), policy.CircuitBreaker(5, 30*time.Second).Named("users"), policy.Timeout(time.Second))
//	conn, err := grpc.NewClient(target,
//	    grpc.WithUnaryInterceptor(bulwarkgrpc.UnaryClientInterceptor(engine, p)),
//	    grpc.WithStreamInterceptor(bulwarkgrpc.StreamClientInterceptor(engine, p)))
//
// Each call keeps its own metadata and deadline, and each attempt gets a child of the
// call's context. Outcomes are judged by Classify, registered on the engine as the
// classifier "grpc" and used by every retry of the policy that names no classifier of its
// own: Unavailable and ResourceExhausted are retried; a DeadlineExceeded is retried only
// when a per-attempt Timeout of the policy caused it, never the caller's deadline;
// InvalidArgument, NotFound, AlreadyExists, PermissionDenied, Unauthenticated,
// FailedPrecondition, OutOfRange and Unimplemented are the caller's own (not retried, not
// counted by breakers); Internal, Unknown, DataLoss and the other codes are failures
// that are not retried. A grpc-retry-pushback-ms trailer with a non-negative integer is
// the server's hint (the retry waits at least that long); a negative or unparsable one
// stops retrying, as gRPC's A6 says.
//
// A stream is retried or hedged only until it is committed: until its first response
// message or its response header arrives. The messages the client sent before that are
// kept and sent again on the next attempt's stream. The engine's operation is the
// stream's start, up to that first response; what happens after it is the stream's own.
//
// Errors keep their gRPC status: a failure the server answered has its code, and a
// refusal by the engine has the code the server side would give it (below), so
// status.Code works on every error, and errors.As finds the *policy.Error.
//
// # The server side
//
//	srv := grpc.NewServer(
//	    grpc.UnaryInterceptor(bulwarkgrpc.UnaryServerInterceptor(engine, policy.RateLimit(100))),
//	    grpc.StreamInterceptor(bulwarkgrpc.StreamServerInterceptor(engine, policy.RateLimit(100))))
//
// A call refused by a rate limiter is answered ResourceExhausted; by an open breaker, a
// full bulkhead, an overloaded or shut-down engine, Unavailable; a Timeout gives
// DeadlineExceeded; a panic, Internal. When the refusal says how long to wait, the
// answer carries a grpc-retry-pushback-ms trailer. The handler's own errors go out as
// they are.
package bulwarkgrpc

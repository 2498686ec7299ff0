// Package cluster shares bulwark's named circuit breakers and rate limiters across a
// fleet of service replicas, on protoactor-go's cluster (virtual actors; one owner per
// name through disthash). It is a module of its own, github.com/bulwark-go/bulwark/cluster,
// so that the core never compiles gRPC.
//
// # Setup
//
//	shared, err := cluster.Start("payments", provider) // etcd, consul, k8s or test provider
//	engine, err := supervisor.New(shared.Option())
//	p := policy.Combine(
//		policy.CircuitBreaker(5, 30*time.Second).Named("ledger").AsShared(),
//		policy.RateLimit(1000).Named("ledger-api").WithBurst(100).AsShared())
//	// ... engine.Shutdown(ctx); shared.Close(ctx)
//
// A policy that is not shared stays local. A shared name on an engine without this
// Option runs locally (the engine warns once per name). A manual control on a name no
// policy has used yet creates a local placeholder breaker: let the shared policy (or
// RegisterCircuitBreaker with it) name the breaker first. A cluster you configure yourself
// needs Kinds on every member before StartMember, then Attach.
//
// # Model
//
// A shared name is still a local link with a local actor on every node, so the callers'
// fast path is unchanged: a breaker's published view and a limiter's lock-free token
// pool, no message per call. That actor is a replica of the name's owner grain, which
// lives on one member:
//
//   - Limiters: the owner leases tokens to the nodes in counted batches. A node asks
//     when its pool runs low, reports the tokens it still holds, and uses a lease for
//     WithLeaseTTL counted from before it asked; the owner counts leased but unused
//     tokens in its bucket until the node reports or the lease expires (TTL + 200 ms), and
//     holds requests it cannot serve yet in FIFO order for WithHoldMax. A new owner
//     starts empty. Wait mode (MaxWait) queues waiters in the node's replica.
//   - Breakers: the owner runs the fleet's circuit (the same state machine as a local
//     breaker, every mode). Failures go to it at once, successes in batches every
//     WithReportInterval, each node's outcomes as run-length segments; the owner pushes
//     its view to every node that reported, and a node that heard nothing for
//     WithViewRefresh pulls it. Open → half-open runs on the owner's timer; half-open
//     probe permits are granted by the owner, at most the breaker's probe count fleet-wide;
//     manual states (ForceOpen, ResetBreaker, ...) are the owner's, fleet-wide. A new
//     owner (the old one left or crashed: its state is lost) rebuilds an open state from
//     the nodes' views: open wins.
//
// "Consecutive" across nodes means consecutive in the owner's arrival order: a success
// batch from another node that arrives between two failures resets the count, so a
// consecutive breaker trips up to one report interval later per busy node than one
// process would. Failure-rate and time-window breakers (WithTimeWindow,
// WithFailureRate) add the fleet's counts exactly and suit a fleet better.
//
// # Guarantees (owner reachable; measured on loopback, see the README)
//
//   - A shared limiter admits at most Burst + rate·w in any window w, fleet-wide.
//   - A trip on one node is seen as open by the others within milliseconds (one push).
//   - No caller ever waits on the owner: decisions use the local view and pool.
//
// # Failure modes
//
// A name whose owner did not answer within WithOwnerTimeout (default 250 ms) runs on its
// fail mode until the first answer, with a SharedDegraded event and
// bulwark_shared_coordinated 0 (SharedRestored and 1 again afterwards):
//
//   - FailLocalShare (default): a local bucket of rate R/N and burst max(1, B/N), N the
//     members last seen — k of N nodes in it admit at most (B + R·w)(1 + k/N), all of
//     them at most B + R·w + N — and a local breaker seeded with the last view (at most
//     N × FailureThreshold failing calls reach the downstream before every node opens).
//   - FailOpen: no limit, a closed breaker; unbounded.
//   - FailClosed: every call refused (ErrRateLimited, ErrCircuitOpen with RetryAfter =
//     OwnerTimeout).
//
// How fast a crashed owner is replaced is the provider's detection time: immediate for a
// graceful leave, 2–3 s with etcd (its 3 s lease), never with the test provider.
//
// # protoactor limitations users inherit (pinned version)
//
// StartMember sleeps 1 s and a graceful Shutdown 2 s; protoactor's remote and gossip
// code has data races under -race, and Remote.Start silences grpclog process-wide; the
// test provider and the etcd provider leave goroutines behind after Close; every member
// must link the same message set (an unknown protobuf type panics the receiver). Owner
// lookups run on a goroutine of their own and are abandoned on a topology change,
// because disthash's lookup blocks 5 s on a dead but still listed owner.
package cluster

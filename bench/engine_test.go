package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// newEngine starts an engine that is shut down when b and its sub-benchmarks finish.
func newEngine(b *testing.B, opts ...supervisor.Option) *supervisor.Engine {
	b.Helper()
	e, err := supervisor.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { shutdown(b, e) })
	return e
}

func shutdown(b *testing.B, e *supervisor.Engine) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		b.Errorf("shutdown: %v", err)
	}
}

// newSystem returns an actor system that logs nothing and is shut down when b finishes.
func newSystem(b *testing.B) *actor.ActorSystem {
	b.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	b.Cleanup(sys.Shutdown)
	return sys
}

// successCases are the success-path workloads: one policy each, on one shared named
// breaker and limiter. Each returns a fresh value, boxed once by the caller.
var successCases = []struct {
	name   string
	policy func() policy.Policy
}{
	{CaseNone, func() policy.Policy { return policy.None() }},
	{CaseRetry, func() policy.Policy { return policy.Retry(RetryAttempts) }},
	{CaseBreaker, func() policy.Policy { return benchBreaker() }},
	{CaseRateLimit, func() policy.Policy { return benchLimiter() }},
	{CaseTimeout, func() policy.Policy { return policy.Timeout(TimeoutLimit) }},
	{CaseRetryBreakerTimeout, func() policy.Policy {
		return policy.Combine(policy.Retry(RetryAttempts), benchBreaker(), policy.Timeout(TimeoutLimit))
	}},
	{CaseRetryBreakerRateLimit, func() policy.Policy {
		return policy.Combine(policy.Retry(RetryAttempts), benchBreaker(), benchLimiter())
	}},
	{CaseRetryBreakerRateLimitTmo, func() policy.Policy {
		return policy.Combine(policy.Retry(RetryAttempts), benchBreaker(), benchLimiter(), policy.Timeout(TimeoutLimit))
	}},
	{CaseTimeoutCoop, func() policy.Policy { return policy.Timeout(TimeoutLimit).AsCooperative() }},
	{CaseRetryBreakerTimeoutCoop, func() policy.Policy {
		return policy.Combine(policy.Retry(RetryAttempts), benchBreaker(), policy.Timeout(TimeoutLimit).AsCooperative())
	}},
	{CaseBulkhead, func() policy.Policy { return benchBulkhead() }},
	{CaseAdaptive, func() policy.Policy { return benchAdaptive() }},
	{CaseFallback, func() policy.Policy {
		return policy.Combine(policy.Fallback().WithValue(0), policy.Retry(RetryAttempts))
	}},
}

func benchBreaker() policy.CircuitBreakerPolicy {
	return policy.CircuitBreaker(BreakerFailures, BreakerRecovery).Named("bench-breaker")
}

// benchLimiter never runs dry: its burst defaults to ceil(LimiterRate) tokens.
func benchLimiter() policy.RateLimitPolicy {
	return policy.RateLimit(LimiterRate).Named("bench-limiter")
}

// BenchmarkBulwark measures ExecuteWithPolicy on every success-path case (the windowed
// breakers of breaker_test.go included), the two rejection paths, and the message API,
// each at every concurrency level. The message API is measured twice: from goroutines
// that send messages.Execute with a reply process as sender and wait on its channel (the
// shape of a bare protoactor Send with a reply channel, bench/peers'
// BenchmarkProtoactor/message), and from actor clients that loop Execute→Result (the
// shape of BenchmarkBareActor/message_actor).
func BenchmarkBulwark(b *testing.B) {
	ctx := context.Background()
	for _, c := range slices.Concat(successCases, windowCases) {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b)
			p := c.policy()
			// The first call creates the named actors; it must succeed like the rest.
			if v, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work); err != nil || v != Answer {
				b.Fatalf("%v: got %d, %v", p, v, err)
			}
			RunLevels(b, func() bool {
				v, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work)
				return err == nil && v == Answer
			})
		})
	}

	b.Run(CaseBreakerOpen, func(b *testing.B) {
		e := newEngine(b)
		var p policy.Policy = policy.CircuitBreaker(1, OpenRecovery).Named("bench-open")
		boom := errors.New("bench: boom")
		if err := supervisor.Run(ctx, e, p, func(context.Context) error { return boom }); !errors.Is(err, boom) {
			b.Fatalf("tripping call: got %v, want %v", err, boom)
		}
		if _, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work); !errors.Is(err, policy.ErrCircuitOpen) {
			b.Fatalf("after the trip: got %v, want %v", err, policy.ErrCircuitOpen)
		}
		RunLevels(b, func() bool {
			_, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work)
			return err != nil
		})
	})

	b.Run(CaseRateLimited, func(b *testing.B) {
		e := newEngine(b)
		var p policy.Policy = policy.RateLimit(1).WithBurst(1).Named("bench-reject")
		drained := false
		for range 3 {
			if _, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work); errors.Is(err, policy.ErrRateLimited) {
				drained = true
				break
			}
		}
		if !drained {
			b.Fatal("the limiter never refused a call")
		}
		RunLevels(b, func() bool {
			// One token comes back every second, so a rare admission is expected; the
			// refusal itself was checked above.
			_, _ = supervisor.ExecuteWithPolicy(ctx, e, p, Work)
			return true
		})
	})

	b.Run(CaseMessage, func(b *testing.B) {
		sys := newSystem(b)
		e := newEngine(b, supervisor.WithActorSystem(sys))
		var req any = &messages.Execute{ID: "bench-message", Policy: policy.None(), Fn: WorkAny}
		replies := newReplies(b, sys)
		RunLevelsPer(b, func() func() bool {
			r := replies.add()
			return func() bool {
				sys.Root.RequestWithCustomSender(e.PID(), req, r.pid)
				res, ok := (<-r.ch).(*messages.Result)
				return ok && res.Err == nil && res.Value == any(Answer)
			}
		})
	})

	b.Run(CaseMessageActor, func(b *testing.B) {
		sys := newSystem(b)
		e := newEngine(b, supervisor.WithActorSystem(sys))
		req := &messages.Execute{ID: "bench-message", Policy: policy.None(), Fn: WorkAny}
		roundTrips(b, sys, e.PID(), req)
	})
}

// reply is a protoactor process that hands every message it receives to a Go channel:
// the sender PID of a goroutine that talks to actors, as the reply channel of a bare
// protoactor Send would be.
type reply struct {
	pid *actor.PID
	ch  chan any // cap 1
}

func (r *reply) SendUserMessage(_ *actor.PID, message any) {
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message = env.Message
	}
	r.ch <- message
}

func (r *reply) SendSystemMessage(*actor.PID, any) {}
func (r *reply) Stop(*actor.PID)                   {}

// replies registers reply processes in sys and removes them when b finishes.
type replies struct {
	sys  *actor.ActorSystem
	mu   sync.Mutex
	pids []*actor.PID
}

func newReplies(b *testing.B, sys *actor.ActorSystem) *replies {
	rs := &replies{sys: sys}
	b.Cleanup(func() {
		for _, pid := range rs.pids {
			sys.ProcessRegistry.Remove(pid)
		}
	})
	return rs
}

// add registers a new reply process; it is safe for concurrent use.
func (rs *replies) add() *reply {
	r := &reply{ch: make(chan any, 1)}
	for {
		pid, ok := rs.sys.ProcessRegistry.Add(r, "bench-reply$"+rs.sys.ProcessRegistry.NextId())
		if ok {
			r.pid = pid
			break
		}
	}
	rs.mu.Lock()
	rs.pids = append(rs.pids, r.pid)
	rs.mu.Unlock()
	return r
}

// BenchmarkBareActor is the baseline of the message API's actor-client case, measured
// the same way in the same run: an actor client sends a request with c.Request to an
// actor that runs Work and answers with c.Respond.
func BenchmarkBareActor(b *testing.B) {
	b.Run(CaseMessageActor, func(b *testing.B) {
		sys := newSystem(b)
		target := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
		roundTrips(b, sys, target, thePing)
	})
}

type (
	ping  struct{}
	pong  struct{ value int }
	start struct{ n int }
)

var thePing = &ping{}

// echo answers every *ping with the value of Work.
type echo struct{}

func (echo) Receive(c actor.Context) {
	if _, ok := c.Message().(*ping); ok {
		v, err := Work(context.Background())
		if err != nil {
			v = -1
		}
		c.Respond(&pongs[v&1])
	}
}

// pongs are the preallocated answers of echo (Answer is even), so the baseline
// allocates only what protoactor itself does.
var pongs = [2]pong{{value: Answer}, {value: -1}}

// roundTripper is an actor client that runs n round trips back to back: it sends req
// to target with c.Request, and sends the next one when the answer arrives. One
// benchmark operation is one request→answer round trip.
type roundTripper struct {
	target *actor.PID
	req    any
	left   int
	done   chan<- error
}

func (r *roundTripper) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *start:
		r.left = m.n
		c.Request(r.target, r.req)
	case *messages.Result:
		if m.Err != nil || m.Value != any(Answer) {
			r.done <- fmt.Errorf("result: %v, %v", m.Value, m.Err)
			return
		}
		r.next(c)
	case *pong:
		if m.value != Answer {
			r.done <- fmt.Errorf("pong: %d", m.value)
			return
		}
		r.next(c)
	}
}

func (r *roundTripper) next(c actor.Context) {
	r.left--
	if r.left > 0 {
		c.Request(r.target, r.req)
		return
	}
	r.done <- nil
}

// roundTrips runs b.N round trips to target at every level: the level's goroutine count
// becomes that many client actors, which share the b.N round trips.
func roundTrips(b *testing.B, sys *actor.ActorSystem, target *actor.PID, req any) {
	for _, level := range Levels {
		b.Run(level, func(b *testing.B) {
			b.ReportAllocs()
			k := min(Goroutines(level), b.N)
			done := make(chan error, k)
			clients := make([]*actor.PID, k)
			for i := range clients {
				clients[i] = sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
					return &roundTripper{target: target, req: req, done: done}
				}))
			}
			b.ResetTimer()
			for i, n := range Split(b.N, k) {
				sys.Root.Send(clients[i], &start{n: n})
			}
			for range k {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			for _, pid := range clients {
				if err := sys.Root.StopFuture(pid).Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdle measures the memory one idle named actor holds: it creates IdleActors
// breakers (or limiters) with distinct names, one call each, and reports the growth of
// the live heap plus goroutine stacks per actor. ns/op is the time to create all of them.
func BenchmarkIdle(b *testing.B) {
	b.Run("breakers", func(b *testing.B) {
		idleActors(b, "B/breaker", func(name string) policy.Policy {
			return policy.CircuitBreaker(BreakerFailures, BreakerRecovery).Named(name)
		})
	})
	b.Run("limiters", func(b *testing.B) {
		idleActors(b, "B/limiter", func(name string) policy.Policy {
			return policy.RateLimit(100).Named(name)
		})
	})
	// The yardstick: a bare protoactor actor with the same mailbox (idle_test.go).
	b.Run("actors", idleBareActors)
}

func idleActors(b *testing.B, unit string, newPolicy func(name string) policy.Policy) {
	b.Run("n"+strconv.Itoa(IdleActors), func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		var total float64
		for range b.N {
			b.StopTimer()
			e, err := supervisor.New()
			if err != nil {
				b.Fatal(err)
			}
			// The policies are the caller's: made before the first reading, so only
			// what the engine keeps is counted.
			ps := make([]policy.Policy, IdleActors)
			for i := range ps {
				ps[i] = newPolicy("idle-" + strconv.Itoa(i))
			}
			before := liveBytes()
			b.StartTimer()
			for _, p := range ps {
				if _, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			total += float64(liveBytes() - before)
			runtime.KeepAlive(ps)
			shutdown(b, e)
		}
		b.ReportMetric(total/float64(b.N)/IdleActors, unit)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/IdleActors, "ns/create")
	})
}

// liveBytes returns the live heap plus goroutine stacks, after a full collection.
func liveBytes() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc) + int64(m.StackInuse)
}

// bulkCases are the policies of the bulk benchmarks.
var bulkCases = []struct {
	name   string
	policy func() policy.Policy
}{
	successCases[0],
	successCases[6], // retry+breaker+ratelimit
	successCases[7], // retry+breaker+ratelimit+timeout
}

// BenchmarkExecuteAll runs BulkSize functions in one ExecuteAll call per operation;
// BenchmarkExecuteSingle runs the same BulkSize functions as that many sequential
// ExecuteWithPolicy calls. Both report ns/fn, the cost of one function.
func BenchmarkExecuteAll(b *testing.B) {
	ctx := context.Background()
	fns := make([]func(context.Context) (int, error), BulkSize)
	for i := range fns {
		fns[i] = Work
	}
	benchBulk(b, func(b *testing.B, e *supervisor.Engine, p policy.Policy) {
		vals, errs := supervisor.ExecuteAll(ctx, e, p, fns)
		for i, err := range errs {
			if err != nil || vals[i] != Answer {
				b.Fatalf("entry %d: %d, %v", i, vals[i], err)
			}
		}
	})
}

// BenchmarkExecuteSingle is the baseline of BenchmarkExecuteAll.
func BenchmarkExecuteSingle(b *testing.B) {
	ctx := context.Background()
	benchBulk(b, func(b *testing.B, e *supervisor.Engine, p policy.Policy) {
		for range BulkSize {
			if v, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work); err != nil || v != Answer {
				b.Fatalf("%d, %v", v, err)
			}
		}
	})
}

// BenchmarkExecuteAllBlocking runs BulkSize functions that each block BlockTime in one
// ExecuteAll under Retry(RetryAttempts) per operation, and reports the wall time of one
// batch in units of BlockTime (wall/block): issue 17 asks for at most 5, the functions
// overlapping.
func BenchmarkExecuteAllBlocking(b *testing.B) {
	ctx := context.Background()
	fns := make([]func(context.Context) (int, error), BulkSize)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) {
			time.Sleep(BlockTime)
			return Answer, nil
		}
	}
	b.Run(CaseRetry, func(b *testing.B) {
		e := newEngine(b)
		var p policy.Policy = policy.Retry(RetryAttempts)
		b.Run(bulkLevel, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				vals, errs := supervisor.ExecuteAll(ctx, e, p, fns)
				for i, err := range errs {
					if err != nil || vals[i] != Answer {
						b.Fatalf("entry %d: %d, %v", i, vals[i], err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(BlockTime), "wall/block")
		})
	})
}

// benchBulk runs op, one operation of BulkSize functions, b.N times for each of
// bulkCases on an engine of its own, and reports ns/fn.
func benchBulk(b *testing.B, op func(b *testing.B, e *supervisor.Engine, p policy.Policy)) {
	for _, c := range bulkCases {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b)
			p := c.policy()
			b.Run(bulkLevel, func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					op(b, e, p)
				}
				reportPerFn(b)
			})
		})
	}
}

// bulkLevel names the level of the bulk benchmarks: one operation is BulkSize functions.
var bulkLevel = "n" + strconv.Itoa(BulkSize)

func reportPerFn(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/BulkSize, "ns/fn")
}

// BenchmarkPlan measures the three ways to give a call site its policy, on the
// retry+breaker+ratelimit case: a policy hoisted into a policy.Policy variable once
// (ExecuteWithPolicy's identity cache hits), a policy.Combine written inline in the call
// (a new boxed value per call: compiled again every time), and an inline Combine built
// once into a Plan (ExecutePlan). The plan must cost what the hoisted policy costs.
func BenchmarkPlan(b *testing.B) {
	ctx := context.Background()
	combine := func() policy.CombinedPolicy {
		return policy.Combine(policy.Retry(RetryAttempts), benchBreaker(), benchLimiter())
	}
	b.Run("hoisted", func(b *testing.B) {
		e := newEngine(b)
		var p policy.Policy = combine()
		RunLevels(b, func() bool {
			v, err := supervisor.ExecuteWithPolicy(ctx, e, p, Work)
			return err == nil && v == Answer
		})
	})
	b.Run("inline", func(b *testing.B) {
		e := newEngine(b)
		RunLevels(b, func() bool {
			v, err := supervisor.ExecuteWithPolicy(ctx, e, combine(), Work)
			return err == nil && v == Answer
		})
	})
	b.Run("plan", func(b *testing.B) {
		e := newEngine(b)
		pl, err := e.Prepare("bench-plan", combine())
		if err != nil {
			b.Fatal(err)
		}
		RunLevels(b, func() bool {
			v, err := supervisor.ExecutePlan(ctx, pl, Work)
			return err == nil && v == Answer
		})
	})
}

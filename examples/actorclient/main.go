// Command actorclient shows bulwark from the actor world: a protoactor actor that has
// work done under resilience policies by sending messages.Execute to the engine and
// handling the *messages.Result it gets back, without ever blocking its mailbox.
//
// The program creates its own actor system (with a silent logger) and embeds the engine
// in it with supervisor.WithActorSystem, as a service that already runs actors would.
// The client actor then, when it starts, sends five operations to Engine.PID with
// ctx.Request (so the engine knows whom to answer):
//
//   - fetch-price, under Retry(3) with a fixed backoff, fails twice and then succeeds;
//   - validate-order returns a policy.Permanent error: it is not retried;
//   - charge-card, critical, under Combine(Retry(2), Timeout(50ms)), is too slow twice;
//   - quote-1 takes the only token of RateLimit(0.2).Named("quotes"); when its result
//     arrives, the actor sends quote-2, which the limiter refuses;
//   - nightly-report carries a Deadline it cannot meet: it ends cancelled.
//
// Each operation runs on a goroutine of the engine, so the results arrive in any order.
// When the last one is in, the actor asks the engine for its stats with
// messages.GetStats, prints them, and stops itself; the program shuts the engine down,
// then the actor system, and exits.
//
// Usage:
//
//	go run ./examples/actorclient
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "actorclient:", err)
		cancel()
		os.Exit(1)
	}
}

// report is what the client actor saw.
type report struct {
	OK, Failed int
	Stats      messages.EngineStats
}

// run starts an actor system and an engine in it, lets the client actor do its work,
// and stops everything. ctx bounds the wait for the client.
func run(ctx context.Context, out io.Writer) (report, error) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()

	eng, err := supervisor.New(supervisor.WithActorSystem(sys))
	if err != nil {
		return report{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Shutdown(sctx) // a second Shutdown, after the one below, returns nil
	}()

	done := make(chan report, 1)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &client{engine: eng.PID(), out: out, done: done}
	}))

	var r report
	select {
	case r = <-done:
	case <-ctx.Done():
		sys.Root.Stop(pid)
		return report{}, fmt.Errorf("the client actor did not finish: %w", ctx.Err())
	}

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Shutdown(sctx); err != nil { // stops the engine's actors, not the system
		return r, err
	}
	fmt.Fprintln(out, "engine shut down; stopping the actor system")
	return r, nil
}

// client is the actor: it sends operations to the engine and handles their results. It
// never waits inside Receive; every answer is a message.
type client struct {
	engine  *actor.PID
	out     io.Writer
	done    chan<- report
	pending int
	r       report
}

var _ actor.Actor = (*client)(nil)

// Receive handles one message.
func (c *client) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		for _, job := range firstJobs() {
			c.send(ctx, job)
		}
	case *messages.Result:
		c.pending--
		c.print(m)
		if m.ID == "quote-1" {
			// React to a result with the next request: the limiter's only token is gone.
			c.send(ctx, quote("quote-2"))
		}
		if c.pending == 0 {
			ctx.Request(c.engine, &messages.GetStats{})
		}
	case *messages.EngineStats:
		c.r.Stats = *m
		fmt.Fprintf(c.out, "engine stats: %d operations, %d ok, %d failed\n",
			m.TotalOperations, m.SuccessfulOperations, m.FailedOperations)
		for name, l := range m.Limiters {
			fmt.Fprintf(c.out, "  limiter %q: %d allowed, %d rejected\n", name, l.Allowed, l.Rejected)
		}
		ctx.Stop(ctx.Self())
	case *actor.Stopped:
		c.done <- c.r
	}
}

// send asks the engine to run job and to answer this actor.
func (c *client) send(ctx actor.Context, job *messages.Execute) {
	c.pending++
	p := "none" // a nil Policy means policy.None()
	if job.Policy != nil {
		p = job.Policy.String()
	}
	fmt.Fprintf(c.out, "-> %-15s %s\n", job.ID, p)
	ctx.Request(c.engine, job)
}

// print shows one result, classifying a failure with the policy package's sentinels.
func (c *client) print(m *messages.Result) {
	if m.Err == nil {
		c.r.OK++
		fmt.Fprintf(c.out, "<- %-15s %-30s attempts %d  %v\n", m.ID, "ok", m.Attempts, m.Value)
		return
	}
	c.r.Failed++
	why := "failed"
	switch {
	case errors.Is(m.Err, policy.ErrRateLimited):
		why = "rate limited"
		if after, ok := policy.RetryAfter(m.Err); ok {
			why += fmt.Sprintf(" (retry in ~%v)", after.Round(time.Second))
		}
	case errors.Is(m.Err, policy.ErrCircuitOpen):
		why = "circuit open"
	case errors.Is(m.Err, policy.ErrTimeout):
		why = "timed out"
	case errors.Is(m.Err, policy.ErrCancelled):
		why = "cancelled (deadline passed)"
	case policy.IsPermanent(m.Err):
		why = "permanent error, not retried"
	}
	fmt.Fprintf(c.out, "<- %-15s %-30s attempts %d  %v\n", m.ID, why, m.Attempts, m.Err)
}

// firstJobs are the operations the client sends when it starts.
func firstJobs() []*messages.Execute {
	var calls atomic.Int32
	return []*messages.Execute{
		{
			ID:     "fetch-price",
			Policy: policy.Retry(3).WithBackoff(policy.FixedBackoff{Interval: 10 * time.Millisecond}),
			Fn: func(ctx context.Context) (any, error) {
				if calls.Add(1) < 3 {
					return nil, errors.New("price feed: connection reset")
				}
				return "EUR 42.00", nil
			},
		},
		{
			ID:     "validate-order",
			Policy: policy.Retry(3),
			Fn: func(ctx context.Context) (any, error) {
				return nil, policy.Permanent(errors.New("order has no items"))
			},
		},
		{
			ID:       "charge-card",
			Policy:   policy.Combine(policy.Retry(2).WithBackoff(policy.FixedBackoff{}), policy.Timeout(50*time.Millisecond)),
			Critical: true,
			Fn:       slowly(time.Second),
		},
		quote("quote-1"),
		{
			ID:       "nightly-report",
			Deadline: time.Now().Add(30 * time.Millisecond),
			Fn:       slowly(time.Second),
		},
	}
}

// quotes is the policy of every quote: a limiter named "quotes" with one token, refilled
// every five seconds. It is boxed once, so the engine compiles it once.
var quotes policy.Policy = policy.RateLimit(0.2).Named("quotes")

func quote(id string) *messages.Execute {
	return &messages.Execute{
		ID:     id,
		Policy: quotes,
		Fn:     func(ctx context.Context) (any, error) { return "quote " + id + ": EUR 17.50", nil },
	}
}

// slowly returns an operation that takes d, unless its context ends first.
func slowly(d time.Duration) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

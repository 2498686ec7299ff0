// Command cluster runs three replicas of a service in one process, as a fleet: three
// protoactor cluster members on 127.0.0.1 (the test provider), each with its own
// bulwark engine, sharing one rate limit and one circuit breaker. A live view shows the
// fleet-wide limit holding while every replica overloads it, then a trip on one
// replica opening the breaker on the others; it exits by itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/bulwark-go/bulwark/cluster"
	"github.com/bulwark-go/bulwark/policy"
	"github.com/bulwark-go/bulwark/supervisor"
)

// The fleet's limits: one rate limit and one breaker for all replicas together.
var (
	limit   = policy.RateLimit(300).Named("fleet-api").WithBurst(30).AsShared()
	breaker = policy.CircuitBreaker(5, 2*time.Second).Named("ledger").AsShared()
)

func main() {
	if err := run(os.Stdout, time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// replica is one service replica: its cluster member and its engine.
type replica struct {
	name     string
	shared   *cluster.Shared
	engine   *supervisor.Engine
	admitted atomic.Int64
}

// run starts the fleet, overloads the shared limit for load, trips the shared breaker
// on one replica, and shuts the fleet down.
func run(w io.Writer, load time.Duration) error {
	agent := test.NewInMemAgent() // the fleet's membership; etcd, consul or k8s in production
	replicas := make([]*replica, 3)
	errs := make(chan error, len(replicas))
	for i := range replicas {
		go func() { // StartMember takes 1 s: start the members in parallel
			s, err := cluster.Start("payments", test.NewTestProvider(agent))
			if err != nil {
				errs <- err
				return
			}
			e, err := supervisor.New(s.Option())
			replicas[i] = &replica{name: string(rune('A' + i)), shared: s, engine: e}
			errs <- err
		}()
	}
	for range replicas {
		if err := <-errs; err != nil {
			return err
		}
	}
	defer shutdown(replicas)
	fmt.Fprintf(w, "fleet of %d replicas; shared limit %v, shared breaker %v\n", len(replicas), limit, breaker)

	// Phase 1: every replica overloads the shared limit.
	fmt.Fprintln(w, "-- every replica calls as fast as it can; the fleet shares 300 calls/s (burst 30)")
	ctx, stop := context.WithTimeout(context.Background(), load)
	var wg sync.WaitGroup
	for _, r := range replicas {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					err := supervisor.Run(context.Background(), r.engine, limit, func(context.Context) error { return nil })
					if err == nil {
						r.admitted.Add(1)
					} else {
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
	}
	start := time.Now()
	tick := time.NewTicker(load / 4)
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-ctx.Done():
			done = true
		}
		total := int64(0)
		line := ""
		for _, r := range replicas {
			n := r.admitted.Load()
			total += n
			line += fmt.Sprintf(" %s=%d", r.name, n)
		}
		el := time.Since(start)
		fmt.Fprintf(w, "  %5.2fs admitted%s  fleet=%d  limit allows %d\n", el.Seconds(), line, total, 30+int(300*el.Seconds()))
	}
	tick.Stop()
	stop()
	wg.Wait()
	total := int64(0)
	for _, r := range replicas {
		total += r.admitted.Load()
	}
	if bound := 30 + int64(300*time.Since(start).Seconds()); total > bound {
		return fmt.Errorf("the fleet admitted %d > %d", total, bound)
	}
	fmt.Fprintln(w, "fleet limit held")

	// Phase 2: replica A's downstream fails; the shared breaker opens on B and C too.
	for _, r := range replicas {
		_ = supervisor.Run(context.Background(), r.engine, breaker, func(context.Context) error { return nil })
	}
	time.Sleep(200 * time.Millisecond) // the successes reach the owner
	fmt.Fprintln(w, "-- the ledger fails on replica A only")
	down := errors.New("ledger unavailable")
	for range 5 {
		_ = supervisor.Run(context.Background(), replicas[0].engine, breaker, func(context.Context) error { return down })
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		states, open := "", 0
		for _, r := range replicas {
			s := r.engine.Metrics().Breakers["ledger"].State
			states += fmt.Sprintf(" %s=%v", r.name, s)
			err := supervisor.Run(context.Background(), r.engine, breaker, func(context.Context) error { return nil })
			if errors.Is(err, policy.ErrCircuitOpen) {
				open++
			}
		}
		if open == len(replicas) {
			fmt.Fprintf(w, "  breaker%s\n", states)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the breaker did not open on every replica:%s", states)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintln(w, "open on every replica")
	return nil
}

// shutdown stops the engines, then the members (a graceful leave takes 2 s), in
// parallel.
func shutdown(replicas []*replica) {
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = r.engine.Shutdown(ctx)
			_ = r.shared.Close(ctx)
		}()
	}
	wg.Wait()
}

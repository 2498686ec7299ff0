package supervisor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// TestEnginePIDCannotBeStoppedByAClient is a regression test: Poison(e.PID()) from an
// actor client reached the supervisor actor and killed the engine for good. The
// engine's PID ignores messages that would stop or restart it; Shutdown is the only way.
func TestEnginePIDCannotBeStoppedByAClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		root := e.System().Root
		root.Poison(e.PID())
		root.Stop(e.PID())
		root.Send(e.PID(), &actor.PoisonPill{})
		if proc, ok := e.System().ProcessRegistry.Get(e.PID()); ok {
			proc.SendSystemMessage(e.PID(), &actor.Stop{})
			proc.SendSystemMessage(e.PID(), &actor.Restart{})
		}
		synctest.Wait()

		select {
		case <-supervisorDone(e):
			t.Fatal("the supervisor actor stopped")
		default:
		}
		// A new named actor needs the supervisor.
		var p policy.Policy = policy.CircuitBreaker(1, time.Hour).Named("after-poison")
		if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
			t.Fatalf("a call that creates a breaker: %v", err)
		}
		results := make(chan *messages.Result, 1)
		stats := make(chan *messages.EngineStats, 1)
		client := root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case string:
				c.Request(e.PID(), &messages.Execute{ID: "job", Policy: p, Fn: func(context.Context) (any, error) { return 1, nil }})
				c.Request(e.PID(), &messages.GetStats{})
			case *messages.Result:
				results <- m
			case *messages.EngineStats:
				stats <- m
			}
		}))
		root.Send(client, "go")
		if r := receiveResults(t, results, 1)["job"]; r == nil || r.Err != nil {
			t.Fatalf("actor client result %+v; want success", r)
		}
		if s := <-stats; s.TotalOperations < 1 {
			t.Fatalf("GetStats answered %+v", s)
		}
		root.Poison(client)
		synctest.Wait()
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		select {
		case <-supervisorDone(e):
		default:
			t.Fatal("Shutdown returned with the supervisor actor still running")
		}
	})
}

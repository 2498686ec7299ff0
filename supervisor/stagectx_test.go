package supervisor

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// The contexts the Timeout (both modes) and Hedge stages hand to the function are of the
// engine's own types. The context package gives a child of such a context a goroutine
// that waits for the parent's end, unless the parent has an AfterFunc method; these have
// one, so a function that derives contexts (an HTTP or gRPC client, a database driver)
// costs no goroutine per derived context, and the children still end with the stage.

// stageCtxPolicies are the stages whose context is the engine's: each runs fn with one.
var stageCtxPolicies = []policy.Policy{
	policy.Timeout(time.Second),
	policy.Timeout(time.Second).AsCooperative(),
	policy.Hedge(time.Hour),
}

func TestStageContextsGiveDerivedContextsNoGoroutine(t *testing.T) {
	for _, p := range stageCtxPolicies {
		t.Run(p.String(), func(t *testing.T) {
			e := newEngine(t)
			const children = 100
			_, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
				before := runtime.NumGoroutine()
				cancels := make([]context.CancelFunc, 0, 2*children)
				for range children {
					_, cancel := context.WithCancel(ctx)
					cancels = append(cancels, cancel)
					_, cancel = context.WithTimeout(ctx, time.Hour)
					cancels = append(cancels, cancel)
				}
				during := runtime.NumGoroutine()
				for _, cancel := range cancels {
					cancel()
				}
				if d := during - before; d >= children {
					t.Errorf("%d derived contexts started %d goroutines; want none", 2*children, d)
				}
				return 1, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStageContextsEndTheirDerivedContexts(t *testing.T) {
	for _, p := range stageCtxPolicies[:2] { // the hedge's attempt ends when the stage returns
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEngine(t)
				var ran, stoppedRan atomic.Bool
				var child context.Context
				_, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
					var cancel context.CancelFunc
					child, cancel = context.WithCancel(ctx)
					defer cancel()
					context.AfterFunc(ctx, func() { ran.Store(true) })
					stop := context.AfterFunc(ctx, func() { stoppedRan.Store(true) })
					if !stop() {
						t.Error("stop of a live registration returned false")
					}
					<-child.Done() // the deadline ends ctx, and so the child
					return 0, ctx.Err()
				})
				if !errors.Is(err, policy.ErrTimeout) {
					t.Fatalf("err = %v; want ErrTimeout", err)
				}
				synctest.Wait() // the pessimistic stage returned at the deadline, fn may not have
				if !errors.Is(child.Err(), context.DeadlineExceeded) {
					t.Errorf("child.Err() = %v; want DeadlineExceeded", child.Err())
				}
				if !ran.Load() {
					t.Error("a context.AfterFunc on the stage's context never ran")
				}
				if stoppedRan.Load() {
					t.Error("a stopped context.AfterFunc ran")
				}
			})
		})
	}
}

// A hedge attempt's derived context ends when the stage cancels the attempt: the loser's,
// once the winner answered.
func TestHedgeLoserDerivedContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		loser := make(chan context.Context, 1)
		v, err := ExecuteWithPolicy(context.Background(), e, policy.Hedge(time.Second), func(ctx context.Context) (int, error) {
			if n, hedge := AttemptFromContext(ctx); n == 1 && !hedge {
				child, cancel := context.WithCancel(ctx)
				defer cancel()
				loser <- child
				<-child.Done()
				return 0, child.Err()
			}
			return 2, nil
		})
		if v != 2 || err != nil {
			t.Fatalf("got %d, %v; want the hedge's 2", v, err)
		}
		child := <-loser
		synctest.Wait()
		if !errors.Is(child.Err(), context.Canceled) {
			t.Errorf("the loser's derived context: %v; want Canceled", child.Err())
		}
	})
}

// A registration made after the context ended runs at once, and its stop reports false.
func TestStageContextAfterFuncOnAnEndedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		var held context.Context
		_, _ = ExecuteWithPolicy(context.Background(), e, policy.Timeout(time.Second), func(ctx context.Context) (int, error) {
			held = ctx
			return 1, nil
		})
		ran := make(chan struct{})
		stop := context.AfterFunc(held, func() { close(ran) })
		<-ran
		if stop() {
			t.Error("stop after the function started returned true")
		}
	})
}

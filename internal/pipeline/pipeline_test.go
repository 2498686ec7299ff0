package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

func TestPlanCacheKeysOnTheBoxedValue(t *testing.T) {
	var pc planCache
	env := NewEnv()
	var p policy.Policy = policy.Combine(policy.Retry(2), policy.Timeout(time.Second))
	first := pc.get(env, p)
	if again := pc.get(env, p); again != first {
		t.Fatal("the same boxed value compiled twice")
	}
	if other := pc.get(env, policy.Policy(policy.Combine(policy.Retry(2), policy.Timeout(time.Second)))); other == first {
		t.Fatal("another boxed value got the first value's plan")
	}
	// Zero values of different types may share an address: the type word tells them apart.
	spec, combined := pc.get(env, policy.Spec{}), pc.get(env, policy.Combine())
	if spec == combined {
		t.Fatal("Spec{} got the plan of Combine()")
	}
	if len(first.stages) != 2 || first.err != nil {
		t.Fatalf("plan has %d stages, err %v; want 2, nil", len(first.stages), first.err)
	}
}

func TestCompileFlattensCombinesInOrder(t *testing.T) {
	p := policy.Combine(policy.Retry(3), policy.Combine(policy.CircuitBreaker(2, time.Second), policy.RateLimit(5).Named("r")), policy.Timeout(time.Second))
	pl := compile(NewEnv(), p)
	if pl.err != nil {
		t.Fatal(pl.err)
	}
	var kinds []string
	for _, s := range pl.stages {
		switch s.(type) {
		case *retryStage:
			kinds = append(kinds, "retry")
		case *breakerStage:
			kinds = append(kinds, "breaker")
		case *limiterStage:
			kinds = append(kinds, "limiter")
		case *timeoutStage:
			kinds = append(kinds, "timeout")
		}
	}
	if got := strings.Join(kinds, ","); got != "retry,breaker,limiter,timeout" {
		t.Fatalf("stages %s; want retry,breaker,limiter,timeout", got)
	}
	if !pl.byID {
		t.Fatal("an unnamed breaker did not mark the plan as named by the operation ID")
	}
}

// bogusStage is a stage compile never makes.
type bogusStage struct{}

func (*bogusStage) isStage() {}

func TestRunPanicsOnAStageItDoesNotKnow(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "bogusStage") {
			t.Fatalf("recovered %v; want a panic naming the stage type", r)
		}
	}()
	var c Call
	c.Init(context.Background(), "", false)
	_, _ = run(context.Background(), &c, []stage{&bogusStage{}}, func(context.Context) (int, error) { return 1, nil })
	t.Fatal("run returned for an unknown stage")
}

func TestTimeoutCtxEndsOnceAndMakesDoneLazily(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tc timeoutCtx
	tc.parent, tc.deadline = parent, time.Now().Add(time.Hour)
	if d, _ := tc.Deadline(); !d.Before(time.Now().Add(2 * time.Minute)) {
		t.Fatalf("Deadline %v; want the parent's, which is earlier", d)
	}
	if tc.done.Load() != nil {
		t.Fatal("a Done channel was made before anybody asked")
	}
	if !tc.end(endDeadline) || tc.end(endCanceled) {
		t.Fatal("end must succeed once")
	}
	if !errors.Is(tc.Err(), context.DeadlineExceeded) || !tc.expired() {
		t.Fatalf("Err %v; want DeadlineExceeded", tc.Err())
	}
	select {
	case <-tc.Done():
	default:
		t.Fatal("Done of an ended context is open")
	}

	var live timeoutCtx
	live.parent, live.deadline = context.Background(), time.Now().Add(time.Hour)
	done := live.Done()
	live.end(endCanceled)
	select {
	case <-done:
	default:
		t.Fatal("ending did not close the Done channel handed out before")
	}
	if !errors.Is(live.Err(), context.Canceled) {
		t.Fatalf("Err %v; want Canceled", live.Err())
	}
}

func TestDeadlinePassedMatchesTimeoutAndDeadline(t *testing.T) {
	err := error(deadlinePassed(200 * time.Millisecond))
	if !errors.Is(err, policy.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "timeout 200ms" {
		t.Fatalf("%v does not read or match as a timeout", err)
	}
}

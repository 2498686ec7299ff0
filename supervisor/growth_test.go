package supervisor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// growthKeys is how many distinct operation IDs TestPerKeyBreakersArePassivatedWhenIdle
// creates a breaker for: 100,000 in soak mode (about 15s under -race), 20,000 in CI
// and 3,000 with -short (the bubble's time is fake but its CPU is real).
func growthKeys(t *testing.T) int {
	t.Helper()
	switch {
	case relSoak(t) > 0:
		return 100_000
	case testing.Short():
		return 3000
	}
	return 20_000
}

// growthHeapBound is how much the live heap may keep after every idle breaker was
// passivated: a fixed allowance (protoactor's process registry is 32,768 small maps,
// each allocated on first use and never freed: about 9 MiB once all are touched), a
// few KiB for each breaker still live, and for each key that came and went only the
// remembered configuration of its name (one map entry, about 50-70 bytes: passivation
// must not lose the first policy's thresholds).
func growthHeapBound(live, keys int) int64 { return 16<<20 + int64(live)*4<<10 + int64(keys)*128 }

// TestPerKeyBreakersArePassivatedWhenIdle creates a breaker for each of many distinct
// operation IDs (Execute with an unnamed breaker), in batches, with WithIdleTimeout, and
// lets each batch go idle. Idle breakers that were not registered are passivated: the
// live actors end up being only the registered one and those holding a failure, and the
// heap keeps of the others only their names' configurations. Nothing a caller could
// observe is lost: a breaker holding a failure keeps it (two more failures open it, not
// three), and a passivated one is recreated on demand, configured as before, and
// behaves as new.
func TestPerKeyBreakersArePassivatedWhenIdle(t *testing.T) {
	keys := growthKeys(t)
	const batch, idle = 1000, time.Minute
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(idle))
		ctx := context.Background()
		if err := e.RegisterCircuitBreaker("g-pinned", policy.CircuitBreaker(3, time.Hour)); err != nil {
			t.Fatal(err)
		}
		var p policy.Policy = policy.CircuitBreaker(3, time.Hour)
		key := func(k int) string { return fmt.Sprint("key-", k) }
		holds := func(k int) bool { return k%97 == 0 } // these keep one failure: not idle
		call := func(k int, fn func(context.Context) (int, error)) error {
			_, err := Execute(ctx, e, policy.Operation[int](&funcOp{id: key(k), policy: p, fn: fn}))
			return err
		}
		procs0, heap0 := relProcesses(e), relHeap()

		// How long an idle breaker lives: created now, used once.
		if err := call(-1, ok42); err != nil {
			t.Fatal(err)
		}
		created := time.Now()
		for liveBreakers(e)[key(-1)] != nil {
			time.Sleep(time.Second)
		}
		lived := time.Since(created)
		if lived > 4*idle {
			t.Errorf("an idle breaker was passivated after %v; WithIdleTimeout(%v)", lived, idle)
		}

		var holding, peakLive int
		for b := 0; b < keys; b += batch {
			for k := b; k < min(b+batch, keys); k++ {
				fn := ok42
				if holds(k) {
					fn = failing
					holding++
				}
				if err := call(k, fn); err != nil && !errors.Is(err, errTemporary) {
					t.Fatalf("%s: %v", key(k), err)
				}
			}
			peakLive = max(peakLive, len(liveBreakers(e)))
			time.Sleep(4 * idle)
			synctest.Wait()
		}

		live := liveBreakers(e)
		if len(live) != holding+1 {
			t.Errorf("%d breakers live after the idle period; want %d (the registered one and %d holding a failure)", len(live), holding+1, holding)
		}
		if _, ok := live["g-pinned"]; !ok {
			t.Error("the registered breaker was passivated")
		}
		if n := relProcesses(e); n != procs0+holding {
			t.Errorf("%d processes registered; want %d (the engine's %d and %d breakers holding a failure)", n, procs0+holding, procs0, holding)
		}
		heap1 := relHeap()
		growth := relGrowth(heap0, heap1)
		if growth > growthHeapBound(holding, keys) {
			t.Errorf("heap grew %.1f MiB for %d keys with %d breakers live; bound %.1f MiB", relMiB(growth), keys, holding, relMiB(growthHeapBound(holding, keys)))
		}

		// Nothing a caller could observe was lost.
		for _, k := range []int{0, 97 * (holding - 1)} {
			if s := e.Metrics().Breakers[key(k)]; s.State != messages.Closed || s.Failures != 1 {
				t.Fatalf("%s holding a failure: %+v; want closed with its failure kept", key(k), s)
			}
			call(k, failing)
			call(k, failing)
			if s := e.Metrics().Breakers[key(k)].State; s != messages.Open {
				t.Fatalf("%s: state %v after 1 kept + 2 new failures; want open (threshold 3)", key(k), s)
			}
		}
		for _, k := range []int{1, keys - 1} {
			call(k, failing)
			call(k, failing)
			if s := e.Metrics().Breakers[key(k)]; s.State != messages.Closed || s.Failures != 2 {
				t.Fatalf("%s recreated: %+v after 2 failures; want closed with 2 (a new breaker)", key(k), s)
			}
			call(k, failing)
			if s := e.Metrics().Breakers[key(k)].State; s != messages.Open {
				t.Fatalf("%s recreated: state %v after 3 failures; want open", key(k), s)
			}
		}
		t.Logf("%d keys in batches of %d: peak %d breakers live, %d live after idling (%d holding a failure + 1 registered); an idle breaker lived %v with WithIdleTimeout(%v)",
			keys, batch, peakLive, len(live), holding, lived, idle)
		t.Logf("heap after GC: %.1f MiB before, %.1f MiB after idling (%+.2f MiB, %.0f bytes per key)",
			relMiB(int64(heap0)), relMiB(int64(heap1)), relMiB(growth), float64(growth)/float64(keys))
	})
}

// TestPassivatedNamesLeaveNoPerNameState is a regression test: the supervisor counted
// incarnations per name and never forgot a name, so a stream of distinct operation IDs
// kept one map entry (about 80 bytes) per ID ever seen, even after every actor was
// passivated. Child ids now come from one supervisor-wide sequence.
func TestPassivatedNamesLeaveNoPerNameState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		var p policy.Policy = policy.CircuitBreaker(3, time.Hour)
		for k := range 1000 {
			op := &funcOp{id: fmt.Sprint("gone-", k), policy: p, fn: ok42}
			if _, err := Execute(context.Background(), e, policy.Operation[int](op)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait() // also orders the supervisor's writes before the reads below
		if n := len(liveBreakers(e)); n != 0 {
			t.Fatalf("%d breakers live; want all passivated", n)
		}
		if n := children(e); n != 0 {
			t.Fatalf("the registry keeps %d entries for 1000 names whose actors are all gone; want none", n)
		}
		// What is kept is each name's configuration, all 1000 sharing one copy.
		if names, configs := rememberedBreakers(e); names != 1000 || configs != 1 {
			t.Fatalf("%d names remembered with %d configurations; want 1000 sharing 1", names, configs)
		}
	})
}

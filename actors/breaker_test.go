package actors_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/policy"
)

// breakerActor is one Breaker actor spawned in its own actor system, with the events its
// hooks saw.
type breakerActor struct {
	t   *testing.T
	sys *actor.ActorSystem
	pid *actor.PID
	l   *actors.BreakerLink

	mu       sync.Mutex
	changes  []messages.StateChanged
	exceeded []messages.StateChanged
}

// spawnBreaker starts a breaker actor for p at the current (bubble) time; it stops with
// the test.
func spawnBreaker(t *testing.T, p policy.CircuitBreakerPolicy) *breakerActor {
	t.Helper()
	b := &breakerActor{t: t}
	b.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	hooks := actors.Hooks{
		StateChanged: func(e messages.StateChanged) { b.mu.Lock(); b.changes = append(b.changes, e); b.mu.Unlock() },
		ThresholdExceeded: func(e messages.StateChanged) {
			b.mu.Lock()
			b.exceeded = append(b.exceeded, e)
			b.mu.Unlock()
		},
	}
	b.l = actors.NewBreakerLink("b", p, time.Now(), hooks)
	b.pid = b.sys.Root.Spawn(actor.PropsFromProducer(b.l.Producer(), actor.WithMailbox(b.l.Mailbox())))
	b.l.SetPID(b.pid)
	t.Cleanup(func() {
		if err := b.sys.Root.StopFuture(b.pid).Wait(); err != nil {
			t.Error(err)
		}
		b.sys.Shutdown()
	})
	return b
}

var ticket uint64

// ask sends m (a request with a Ticket) and returns the answer.
func (b *breakerActor) ask(m any) any {
	b.t.Helper()
	ans, err := b.sys.Root.RequestFuture(b.pid, m, time.Minute).Result()
	if err != nil {
		b.t.Fatalf("%T: %v", m, err)
	}
	return ans
}

func (b *breakerActor) report(gen uint64, o messages.Outcome, probe bool) {
	b.t.Helper()
	ticket++
	if _, ok := b.ask(&messages.Report{Ticket: ticket, Generation: gen, Outcome: o, Probe: probe}).(*messages.Acked); !ok {
		b.t.Fatal("Report not acked")
	}
}

func (b *breakerActor) acquire() any {
	b.t.Helper()
	ticket++
	return b.ask(&messages.Acquire{Ticket: ticket})
}

// lastChange returns the latest StateChanged the hooks saw.
func (b *breakerActor) lastChange() messages.StateChanged {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.changes) == 0 {
		b.t.Fatal("no state change seen")
	}
	return b.changes[len(b.changes)-1]
}

// TestBreakerTimeWindowReevaluatesAtBucketBoundary is CB-6/CB-7 on the actor's timer: a
// success counted on the side at 0.05s is filed in the first bucket at the first
// boundary, and when that bucket leaves the window at 1s the actor judges the window
// again and opens on the failure left (100%), with no call to make it look.
func TestBreakerTimeWindowReevaluatesAtBucketBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := breaker(1, time.Minute).WithTimeWindow(time.Second).WithFailureRate(0.6, 1).CircuitBreakerPolicy
		start := time.Now()
		b := spawnBreaker(t, p)
		time.Sleep(50 * time.Millisecond)
		v := b.l.Enter()
		if !v.Pass || !b.l.CountSuccess() {
			t.Fatal("closed breaker: the success should be counted on the side")
		}
		time.Sleep(900 * time.Millisecond) // 0.95s
		b.report(v.Generation, messages.Failure, false)
		b.l.Exit()
		if v := b.l.View(); !v.Pass {
			t.Fatalf("1 failure of 2 at 60%%: state %v", v.State)
		}
		time.Sleep(start.Add(time.Second).Sub(time.Now()) - time.Nanosecond)
		synctest.Wait()
		if v := b.l.View(); !v.Pass {
			t.Fatal("opened before the success's bucket expired")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		v = b.l.View()
		if v.State != messages.Open || v.Pass {
			t.Fatalf("state %v at 1s; want open once the success expired", v.State)
		}
		if ch := b.lastChange(); ch.Reason != "failure_rate" || ch.Calls != 1 || ch.Failures != 1 || !ch.At.Equal(start.Add(time.Second)) {
			t.Fatalf("event %+v; want failure_rate over 1 call, 1 failure, at 1s", ch)
		}
	})
}

// TestBreakerViewAsksForSuccessesWhenTheyCanTrip is CB-7 end to end: after F,F in a
// count window of 4 at 50%, CountSuccess refuses to count, the two successes go by
// Report, and the second opens the breaker before a fifth call.
func TestBreakerViewAsksForSuccessesWhenTheyCanTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := spawnBreaker(t, breaker(1, time.Minute).WithCountWindow(4).WithFailureRate(0.5, 0).CircuitBreakerPolicy)
		gen := b.l.View().Generation
		if b.l.View().ReportSuccesses {
			t.Fatal("empty window asks for successes")
		}
		b.report(gen, messages.Failure, false)
		b.report(gen, messages.Failure, false)
		if !b.l.View().ReportSuccesses || b.l.CountSuccess() {
			t.Fatal("after F,F successes must be reported")
		}
		b.report(gen, messages.Success, false)
		if v := b.l.View(); !v.Pass {
			t.Fatal("opened after 3 calls")
		}
		b.report(gen, messages.Success, false)
		if v := b.l.View(); v.State != messages.Open || b.lastChange().Reason != "failure_rate" {
			t.Fatalf("state %v after F,F,S,S; want open", v.State)
		}
	})
}

// TestBreakerMaxHalfOpenOnTheTimer is CB-9: one probe that never reports; after
// RecoveryTimeout + MaxHalfOpen the breaker is open again (probe_timeout), the late
// probe's outcome changes nothing, and after another open delay a new probe is admitted.
func TestBreakerMaxHalfOpenOnTheTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := time.Second
		b := spawnBreaker(t, breaker(1, s).WithMaxHalfOpen(2*s).CircuitBreakerPolicy)
		b.report(b.l.View().Generation, messages.Failure, false)
		time.Sleep(s)
		synctest.Wait()
		if v := b.l.View(); v.State != messages.HalfOpen || b.lastChange().Reason != "recovery_elapsed" {
			t.Fatalf("state %v after the open delay; want half-open", v.State)
		}
		g, ok := b.acquire().(*messages.Granted)
		if !ok || !g.Probe {
			t.Fatal("no probe granted")
		}
		time.Sleep(2 * s)
		synctest.Wait()
		if v := b.l.View(); v.State != messages.Open || b.lastChange().Reason != "probe_timeout" {
			t.Fatalf("state %v after MaxHalfOpen; want open on probe_timeout", v.State)
		}
		b.report(g.Generation, messages.Success, true)
		if v := b.l.View(); v.State != messages.Open {
			t.Fatalf("the timed-out probe's success moved it to %v", v.State)
		}
		time.Sleep(s)
		synctest.Wait()
		if g, ok := b.acquire().(*messages.Granted); !ok || !g.Probe {
			t.Fatal("no new probe after the second open delay")
		}
		if st := b.l.Stats(); st.ConsecutiveTrips != 2 || st.Trips != 2 {
			t.Fatalf("stats %+v; want 2 trips since close", st)
		}
	})
}

// TestBreakerForcedOpenForADuration is CB-12: SetBreakerMode ForcedOpen for 10s refuses
// with CircuitForcedOpen and the time left, survives Reconfigure, is never passivated,
// and moves to half-open on the actor's timer when the time is up.
func TestBreakerForcedOpenForADuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := time.Second
		b := spawnBreaker(t, breaker(1, s).CircuitBreakerPolicy)
		ticket++
		if _, ok := b.ask(&messages.SetBreakerMode{Ticket: ticket, Name: "b", Mode: messages.ForcedOpen, For: 10 * s}).(*messages.Acked); !ok {
			t.Fatal("SetBreakerMode not acked")
		}
		v := b.l.View()
		if v.Pass || v.State != messages.ForcedOpen || !v.OpenUntil.Equal(time.Now().Add(10*s)) || b.lastChange().Reason != "manual" {
			t.Fatalf("view %+v; want forced open for 10s", v)
		}
		time.Sleep(4 * s)
		if r, ok := b.acquire().(*messages.Rejected); !ok || r.Reason != messages.CircuitForcedOpen || r.RetryAfter != 6*s {
			t.Fatalf("Acquire answered %+v; want CircuitForcedOpen, 6s", r)
		}
		ticket++
		np := policy.CircuitBreaker(5, time.Minute)
		b.ask(&messages.Reconfigure{Ticket: ticket, Breaker: &np})
		ticket++
		if _, ok := b.ask(&messages.Passivate{Ticket: ticket}).(*messages.Rejected); !ok || b.l.View().State != messages.ForcedOpen {
			t.Fatal("a forced-open breaker agreed to passivate, or Reconfigure left the manual state")
		}
		time.Sleep(6 * s)
		synctest.Wait()
		if v := b.l.View(); v.State != messages.HalfOpen {
			t.Fatalf("state %v after the forced period; want half-open", v.State)
		}
	})
}

// TestBreakerMetricsOnlySignalsOnce is CB-12: MetricsOnly with 100% failures admits every
// call and calls ThresholdExceeded once; Disabled admits and records nothing; Closed
// resets.
func TestBreakerMetricsOnlySignalsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := spawnBreaker(t, breaker(1, time.Second).WithCountWindow(10).WithFailureRate(0.5, 0).CircuitBreakerPolicy)
		ticket++
		b.ask(&messages.SetBreakerMode{Ticket: ticket, Mode: messages.MetricsOnly})
		for range 100 {
			v := b.l.Enter()
			if !v.Pass {
				t.Fatal("metrics-only refused a call")
			}
			b.report(v.Generation, messages.Failure, false)
			b.l.Exit()
		}
		b.mu.Lock()
		n, ex := len(b.exceeded), b.exceeded
		b.mu.Unlock()
		if n != 1 || ex[0].Reason != "failure_rate" || ex[0].From != messages.MetricsOnly || ex[0].Calls != 10 {
			t.Fatalf("threshold signals %+v; want one failure_rate over 10 calls", ex)
		}
		if st := b.l.Stats(); st.State != messages.MetricsOnly || st.Failures != 100 || st.FailureRate != 1 {
			t.Fatalf("stats %+v", st)
		}
		ticket++
		b.ask(&messages.SetBreakerMode{Ticket: ticket, Mode: messages.Disabled})
		v := b.l.Enter()
		b.l.CountSuccess()
		b.report(v.Generation, messages.Failure, false)
		b.l.Exit()
		if st := b.l.Stats(); !v.Pass || st.Failures != 100 || st.Successes != 0 {
			t.Fatalf("disabled: pass %v stats %+v; want nothing recorded", v.Pass, st)
		}
		ticket++
		b.ask(&messages.SetBreakerMode{Ticket: ticket, Mode: messages.Closed})
		if st := b.l.Stats(); st.State != messages.Closed || st.Calls != 0 || b.lastChange().Reason != "manual" {
			t.Fatalf("after reset: %+v", st)
		}
	})
}

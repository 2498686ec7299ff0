package inbox

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/messages"
	"go.uber.org/zap"
)

// target is a fake actor process: it hands every user message to a channel.
type target struct{ got chan any }

func (t *target) SendUserMessage(_ *actor.PID, m any) { t.got <- actor.UnwrapEnvelopeMessage(m) }
func (t *target) SendSystemMessage(*actor.PID, any)   {}
func (t *target) Stop(*actor.PID)                     {}

type fixture struct {
	in     *Inbox
	out    *Outbox
	done   chan struct{}
	target *target
	pid    *actor.PID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	f := &fixture{out: NewOutbox(sys.Root), done: make(chan struct{}), target: &target{got: make(chan any, 16)}}
	f.in = New(f.out, f.done, zap.NewNop())
	pid, _ := sys.ProcessRegistry.Add(f.in, "inbox")
	f.in.SetPID(pid)
	f.pid, _ = sys.ProcessRegistry.Add(f.target, "target")
	return f
}

// next returns the next message the target received.
func (f *fixture) next(t *testing.T) any {
	t.Helper()
	select {
	case m := <-f.target.got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("the target received nothing")
		return nil
	}
}

func TestAskDeliversTheAnswerToItsTicket(t *testing.T) {
	f := newFixture(t)
	res := make(chan any, 1)
	go func() {
		m, err := f.in.Ask(context.Background(), f.pid, nil, func(ticket uint64) any { return &messages.Acquire{Ticket: ticket} }, UndoNothing)
		if err != nil {
			t.Errorf("Ask: %v", err)
		}
		res <- m
	}()
	req := f.next(t).(*messages.Acquire)
	f.in.SendUserMessage(nil, &messages.Acked{Ticket: req.Ticket + 1000}) // nobody waits: dropped
	f.in.SendUserMessage(nil, &messages.Granted{Ticket: req.Ticket, Generation: 7})
	if g, ok := (<-res).(*messages.Granted); !ok || g.Generation != 7 {
		t.Fatalf("answer = %v; want the Granted of generation 7", g)
	}
}

// abandon starts an Ask with undo and gives up on it; it returns the request's ticket.
func (f *fixture) abandon(t *testing.T, undo Undo) uint64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.in.Ask(ctx, f.pid, nil, func(ticket uint64) any { return &messages.Acquire{Ticket: ticket} }, undo)
		errc <- err
	}()
	req := f.next(t).(*messages.Acquire)
	cancel()
	if err := <-errc; err != Cancelled {
		t.Fatalf("err = %v; want Cancelled", err)
	}
	return req.Ticket
}

func TestAbandonedTokenIsCancelledThenRefunded(t *testing.T) {
	f := newFixture(t)
	ticket := f.abandon(t, UndoToken)
	if c, ok := f.next(t).(*messages.Cancel); !ok || c.Ticket != ticket {
		t.Fatalf("after giving up the target got %v; want Cancel of ticket %d", c, ticket)
	}
	at := time.Unix(1, 0)
	f.in.SendUserMessage(nil, &messages.Granted{Ticket: ticket, At: at})
	if r, ok := f.next(t).(*messages.Refund); !ok || !r.GrantedAt.Equal(at) {
		t.Fatalf("a late grant got %v; want a Refund of the token granted at %v", r, at)
	}
}

func TestAbandonedProbeIsReportedNeutral(t *testing.T) {
	f := newFixture(t)
	ticket := f.abandon(t, UndoProbe)
	f.in.SendUserMessage(nil, &messages.Granted{Ticket: ticket, Generation: 3, Probe: true})
	r, ok := f.next(t).(*messages.Report)
	if !ok || r.Outcome != messages.Neutral || !r.Probe || r.Generation != 3 {
		t.Fatalf("a late probe grant got %v; want a neutral probe Report of generation 3", r)
	}
}

func TestAskEndsWhenTheActorStopsOrTheEngineShutsDown(t *testing.T) {
	f := newFixture(t)
	stopped := make(chan struct{})
	close(stopped)
	build := func(ticket uint64) any { return &messages.Acquire{Ticket: ticket} }
	if _, err := f.in.Ask(context.Background(), f.pid, stopped, build, UndoNothing); err != Stopped {
		t.Fatalf("stopped actor: err = %v; want Stopped", err)
	}
	close(f.done)
	if _, err := f.in.Ask(context.Background(), f.pid, nil, build, UndoNothing); err != Shutdown {
		t.Fatalf("engine done: err = %v; want Shutdown", err)
	}
}

func TestClosedOutboxSendsNothing(t *testing.T) {
	f := newFixture(t)
	f.out.Close()
	if f.out.Tell(f.pid, &messages.Nudge{}, nil) {
		t.Fatal("Tell after Close reported a send")
	}
	if _, err := f.in.Ask(context.Background(), f.pid, nil, func(uint64) any { return &messages.Nudge{} }, UndoNothing); err != Shutdown {
		t.Fatalf("Ask after Close: err = %v; want Shutdown", err)
	}
	select {
	case m := <-f.target.got:
		t.Fatalf("the target got %v after Close", m)
	default:
	}
}

func TestNoAnswerErrorsReadPlainly(t *testing.T) {
	for err, want := range map[NoAnswerError]string{Cancelled: "caller gave up", Stopped: "actor stopped", Shutdown: "engine shut down"} {
		if got := err.Error(); got != want {
			t.Errorf("%d.Error() = %q; want %q", int(err), got, want)
		}
	}
}

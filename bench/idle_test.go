package bench

import (
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bulwark-go/bulwark/actors"
)

// idleBareActors is the yardstick of the idle named breakers and limiters (issue 17):
// IdleActors bare protoactor actors, spawned by name with the mailbox bulwark's named
// actors have (unbounded, with a depth-counting middleware of its own each), each
// having handled one request, and the growth of the live heap plus goroutine stacks per
// actor, in B/actor. ns/op is the time to create all of them.
func idleBareActors(b *testing.B) {
	b.Run("n"+strconv.Itoa(IdleActors), func(b *testing.B) {
		b.ReportAllocs()
		var total float64
		for range b.N {
			b.StopTimer()
			sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
				return slog.New(slog.DiscardHandler)
			}))
			names := make([]string, IdleActors)
			for i := range names {
				names[i] = "idle-" + strconv.Itoa(i)
			}
			before := liveBytes()
			b.StartTimer()
			pids := make([]*actor.PID, IdleActors)
			for i, name := range names {
				props := actor.PropsFromProducer(func() actor.Actor { return echo{} },
					actor.WithMailbox(actor.Unbounded(&actors.MailboxDepth{})))
				pid, err := sys.Root.SpawnNamed(props, name)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sys.Root.RequestFuture(pid, thePing, 10*time.Second).Result(); err != nil {
					b.Fatal(err)
				}
				pids[i] = pid
			}
			b.StopTimer()
			total += float64(liveBytes() - before)
			runtime.KeepAlive(names)
			runtime.KeepAlive(pids)
			sys.Shutdown()
		}
		b.ReportMetric(total/float64(b.N)/IdleActors, "B/actor")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/IdleActors, "ns/create")
	})
}

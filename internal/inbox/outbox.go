package inbox

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Outbox sends the engine's messages to its actors until Close. Tell is safe for
// concurrent use; Close waits for sends in progress.
type Outbox struct {
	root *actor.RootContext
	mu   sync.RWMutex // orders the engine's own sends before its actors stop
	down bool         // guarded by mu: the engine's actors are stopping
}

// NewOutbox returns an Outbox that sends from root.
func NewOutbox(root *actor.RootContext) *Outbox { return &Outbox{root: root} }

// Tell sends msg to pid, with sender when it is not nil, unless Close was called: a
// message to a stopped actor becomes a dead letter, and protoactor starts a goroutine to
// throttle the dead-letter log — which would outlive Shutdown. It reports whether the
// message was sent. Only slow paths send.
func (o *Outbox) Tell(pid *actor.PID, msg any, sender *actor.PID) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.down {
		return false
	}
	if sender != nil {
		o.root.RequestWithCustomSender(pid, msg, sender)
	} else {
		o.root.Send(pid, msg)
	}
	return true
}

// Close refuses every later Tell, once the sends in progress are done.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.down = true
	o.mu.Unlock()
}

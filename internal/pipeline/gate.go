package pipeline

import (
	"sync/atomic"

	"github.com/bulwark-go/bulwark/internal/telemetry"
)

// Gate is the shutdown gate. Every call enters it once and leaves it once (a batch
// enters and leaves once for all its calls), so Shutdown knows what is in flight.
type Gate struct {
	// Counters are the engine's counters, the gate's among them; they live here, beside
	// the flag every call reads, so a call reaches both through one pointer.
	Counters telemetry.Counters
	closed   atomic.Bool   // Shutdown began: new calls are refused
	done     chan struct{} // closed when Shutdown gives up waiting: releases waiters
	drain    chan struct{} // cap 1: an in-flight call finished after closed was set
}

func (g *Gate) init() {
	g.done, g.drain = make(chan struct{}), make(chan struct{}, 1)
}

// Enter admits a call through the gate; false means Shutdown began.
func (g *Gate) Enter() bool {
	g.Counters.Entered.Add(1)
	if g.closed.Load() {
		g.Counters.Refused.Add(1)
		g.wakeDrain()
		return false
	}
	return true
}

// Leave records that an admitted call returned, as an operation that succeeded (ok) or
// failed.
func (g *Gate) Leave(ok bool) {
	if ok {
		g.Counters.Succeeded.Add(1)
	} else {
		g.Counters.Failed.Add(1)
	}
	if g.closed.Load() {
		g.wakeDrain()
	}
}

// LeaveRefused gives back a place in the gate that was not an operation (an actor
// client's delivery).
func (g *Gate) LeaveRefused() {
	g.Counters.Refused.Add(1)
	if g.closed.Load() {
		g.wakeDrain()
	}
}

// EnterBatch admits n calls at once.
func (g *Gate) EnterBatch(n int64) bool {
	g.Counters.Entered.Add(uint64(n))
	if g.closed.Load() {
		g.Counters.Refused.Add(uint64(n))
		g.wakeDrain()
		return false
	}
	return true
}

// leaveBatch records a batch's outcomes, once, when the whole batch has returned.
func (g *Gate) leaveBatch(t tally) {
	g.Counters.Succeeded.Add(t.ok)
	g.Counters.Failed.Add(t.failed)
	g.Counters.Refused.Add(t.refused)
	if g.closed.Load() {
		g.wakeDrain()
	}
}

// WakeDrain tells Shutdown's drain to look again at what is in flight.
func (g *Gate) WakeDrain() {
	if g.closed.Load() {
		g.wakeDrain()
	}
}

func (g *Gate) wakeDrain() {
	select {
	case g.drain <- struct{}{}:
	default:
	}
}

// Close refuses every later call; the calls in flight go on.
func (g *Gate) Close() { g.closed.Store(true) }

// Closed reports whether Shutdown began.
func (g *Gate) Closed() bool { return g.closed.Load() }

// StopWaiting releases every caller still waiting on an actor or in a backoff: they get
// ErrShutdown, and no call starts new work. Shutdown calls it once, after Close.
func (g *Gate) StopWaiting() { close(g.done) }

// Done returns the channel StopWaiting closes.
func (g *Gate) Done() <-chan struct{} { return g.done }

// Drained returns a channel that receives when a call left the gate after Close.
func (g *Gate) Drained() <-chan struct{} { return g.drain }

// Stopped reports whether Shutdown stopped waiting for in-flight calls: from then on no
// call starts new work (a retry's next attempt, a batch's next function), and waiting
// callers get ErrShutdown.
func (g *Gate) Stopped() bool {
	return g.closed.Load() && isClosed(g.done)
}

// InFlight returns the calls still running plus abandoned functions still running. It
// reads the finished counters before the entered one: a call counted as finished was
// counted as entered before, so the difference never undercounts.
func (g *Gate) InFlight() int64 {
	finished := g.Counters.Succeeded.Load() + g.Counters.Failed.Load() + g.Counters.Refused.Load()
	return int64(g.Counters.Entered.Load()-finished) + g.Counters.AbandonedLive.Load()
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

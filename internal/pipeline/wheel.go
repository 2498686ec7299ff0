package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// The shared deadline timer of cooperative Timeout stages: one timing wheel per engine,
// driven by one goroutine, so a cooperative timeout costs no timer and no goroutine of
// its own. A context registered with a deadline d ends at the first tick at or after d:
// never before d, and at most wheelTick after it (plus the runtime's timer and
// scheduling latency; inside a testing/synctest bubble, exactly at the first tick
// boundary at or after d).
const (
	// wheelTick is the wheel's resolution.
	wheelTick = CooperativeResolution
	// wheelSize is the number of buckets: a deadline is filed under its tick modulo
	// wheelSize, and one further away than wheelSize ticks is passed over (and checked)
	// once per turn.
	wheelSize = 256
	// wheelStripes is the number of lists per bucket, each with its own lock, so that
	// concurrent calls with the same deadline tick rarely share a lock.
	wheelStripes = 4
	// wheelIdleTicks is how many ticks the goroutine goes on ticking with nothing
	// registered before it parks until the next registration.
	wheelIdleTicks = 64
)

// CooperativeResolution is the resolution of the shared deadline timer: a cooperative
// timeout's context ends at the first multiple of it (counted from the moment the
// engine's timer started) at or after its deadline.
const CooperativeResolution = time.Millisecond

// wheel is the engine's shared deadline timer. Its goroutine starts with the first
// registration and ends at Shutdown (stop); while nothing is registered for
// wheelIdleTicks ticks it parks and costs nothing.
type wheel struct {
	mu      sync.Mutex // guards starting and stopping
	started atomic.Bool
	stopped atomic.Bool
	base    time.Time // tick 0; ticks count from it on the monotonic clock
	lists   *[wheelSize * wheelStripes]wheelList
	// processed is the last tick whose bucket the goroutine processed, or is
	// processing: it is stored before the bucket is locked, so that a registration
	// under the bucket's lock sees either the goroutine coming or its deadline passed.
	processed atomic.Int64
	count     atomic.Int64  // contexts registered
	parked    atomic.Bool   // the goroutine is parked, or about to: wake it
	wake      chan struct{} // cap 1
	quit      chan struct{} // closed by stop
	exited    chan struct{} // closed when the goroutine returns
	stripe    atomic.Uint32 // hands out stripes to new contexts
}

// wheelList is one stripe of one bucket: an intrusive list of registered contexts.
type wheelList struct {
	mu   sync.Mutex
	head *coopCtx
}

// start starts the goroutine, once; it reports false once stop has run.
func (w *wheel) start() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped.Load() {
		return false
	}
	if !w.started.Load() {
		w.base = time.Now()
		w.lists = new([wheelSize * wheelStripes]wheelList)
		w.wake, w.quit, w.exited = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		w.started.Store(true)
		go w.run()
	}
	return true
}

// add registers c, whose deadline is set, so that it ends with endDeadline at the first
// tick at or after its deadline. A deadline already passed ends c at once; after stop,
// c ends at once with endStopped.
func (w *wheel) add(c *coopCtx) {
	if !w.started.Load() && !w.start() {
		c.end(endStopped)
		return
	}
	elapsed := c.deadline.Sub(w.base)
	tick := int64(0)
	if elapsed > 0 {
		tick = int64((elapsed + wheelTick - 1) / wheelTick)
	}
	c.tick = tick
	l := &w.lists[int(c.stripe)*wheelSize+int(tick%wheelSize)]
	l.mu.Lock()
	switch {
	case w.stopped.Load():
		l.mu.Unlock()
		c.end(endStopped)
		return
	case tick <= w.processed.Load():
		// The goroutine has reached the deadline's tick: the deadline has passed.
		l.mu.Unlock()
		c.end(endDeadline)
		return
	}
	c.list, c.prev, c.next = l, nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	l.mu.Unlock()
	c.home = l
	w.count.Add(1)
	if w.parked.Load() && w.parked.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// remove unregisters c if it is still registered; after it, the goroutine no longer
// touches c.
func (w *wheel) remove(c *coopCtx) {
	l := c.home
	if l == nil { // ended at once by add: never registered
		return
	}
	l.mu.Lock()
	linked := c.list != nil
	if linked {
		unlink(c)
	}
	l.mu.Unlock()
	if linked {
		w.count.Add(-1)
	}
}

// unlink takes c off its list; the list's lock is held.
func unlink(c *coopCtx) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		c.list.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.list, c.prev, c.next = nil, nil, nil
}

// now is the current tick: the last tick boundary passed.
func (w *wheel) now() int64 { return int64(time.Since(w.base) / wheelTick) }

// run is the wheel's goroutine: at every tick boundary it ends the contexts whose
// deadline tick has come, and it parks while nothing is registered.
func (w *wheel) run() {
	defer close(w.exited)
	timer := time.NewTimer(wheelTick)
	defer timer.Stop()
	idle := 0
	for {
		select {
		case <-timer.C:
		case <-w.quit:
			return
		}
		w.advance(w.now())
		if w.count.Load() != 0 {
			idle = 0
		} else if idle++; idle >= wheelIdleTicks {
			if !w.park() {
				return
			}
			idle = 0
			w.advance(w.now())
		}
		timer.Reset(time.Until(w.base.Add(time.Duration(w.now()+1) * wheelTick)))
	}
}

// park waits for a registration while nothing is registered; false means stop.
func (w *wheel) park() bool {
	w.parked.Store(true)
	if w.count.Load() == 0 {
		select {
		case <-w.wake:
		case <-w.quit:
			return false
		}
	}
	w.parked.Store(false)
	return true
}

// advance processes every tick up to now: it ends the contexts whose deadline tick is at
// most now. After a gap of a whole turn (a park) it sweeps every bucket once.
func (w *wheel) advance(now int64) {
	from := w.processed.Load() + 1
	if now < from {
		return
	}
	if now-from >= wheelSize {
		w.processed.Store(now)
		for b := range int64(wheelSize) {
			w.fire(b, now)
		}
		return
	}
	for tick := from; tick <= now; tick++ {
		w.processed.Store(tick)
		w.fire(tick%wheelSize, now)
	}
}

// fire ends, with endDeadline, the contexts of bucket b whose deadline tick is at most
// now. It ends them under their list's lock, so a caller that removed its context has
// nothing more to fear from the wheel.
func (w *wheel) fire(b, now int64) {
	for s := range wheelStripes {
		l := &w.lists[s*wheelSize+int(b)]
		l.mu.Lock()
		n := int64(0)
		for c := l.head; c != nil; {
			next := c.next
			if c.tick <= now {
				unlink(c)
				c.end(endDeadline)
				n++
			}
			c = next
		}
		l.mu.Unlock()
		if n > 0 {
			w.count.Add(-n)
		}
	}
}

// stop ends the goroutine and, with endStopped, every context still registered; later
// registrations end at once. It is idempotent.
func (w *wheel) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped.Swap(true) || !w.started.Load() {
		return
	}
	close(w.quit)
	<-w.exited
	for i := range w.lists {
		l := &w.lists[i]
		l.mu.Lock()
		for c := l.head; c != nil; {
			next := c.next
			unlink(c)
			c.end(endStopped)
			w.count.Add(-1)
			c = next
		}
		l.mu.Unlock()
	}
}

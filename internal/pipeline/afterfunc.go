package pipeline

import (
	"sync"
	"sync/atomic"
)

// afterFuncs are the functions registered through the AfterFunc method of one of the
// stages' contexts (timeoutCtx, coopCtx, hedgeCtx). The context package looks for that
// method: a context.WithCancel, WithTimeout or AfterFunc under a context of a type it
// does not know, and that has no such method, costs a goroutine that waits for the
// parent's Done channel, for as long as the child lives. With it, the child registers
// here and unregisters when it is cancelled first, as a function that derives a
// context and defers its cancel does. A function still registered when its context
// ends runs in a goroutine of its own, as context.AfterFunc's do. The zero value is
// ready.
type afterFuncs struct {
	has   atomic.Bool // a function was ever registered: end reads only this
	mu    sync.Mutex
	ended bool // fire ran: later registrations run at once
	list  []*afterEntry
	first [2]*afterEntry // list's first backing array: most contexts get one or two
}

// afterEntry is one registration; its stop unregisters it.
type afterEntry struct {
	a *afterFuncs
	f func()
}

// add registers f to run once the context ends; state is the context's, read after
// registering so that an end that raced with add is seen by one of the two: end sets
// its state before it reads has, add sets has before it reads the state.
func (a *afterFuncs) add(state *atomic.Int32, f func()) (stop func() bool) {
	e := &afterEntry{a: a, f: f}
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		go f()
		return e.stop
	}
	if a.list == nil {
		a.list = a.first[:0]
	}
	a.list = append(a.list, e)
	a.has.Store(true)
	var run []*afterEntry
	if state.Load() != live {
		run = a.take()
	}
	a.mu.Unlock()
	startAll(run)
	return e.stop
}

// stop unregisters e and reports whether it did: false once its function was started.
func (e *afterEntry) stop() bool {
	a := e.a
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.list {
		if x == e {
			last := len(a.list) - 1
			a.list[i], a.list[last] = a.list[last], nil
			a.list = a.list[:last]
			return true
		}
	}
	return false
}

// fire starts every registered function; the context has ended (its state is set).
func (a *afterFuncs) fire() {
	if !a.has.Load() {
		return
	}
	a.mu.Lock()
	run := a.take()
	a.mu.Unlock()
	startAll(run)
}

// take marks the registrations ended and returns the ones to start. a.mu is held.
func (a *afterFuncs) take() []*afterEntry {
	a.ended = true
	run := a.list
	a.list = nil
	return run
}

func startAll(run []*afterEntry) {
	for _, e := range run {
		go e.f()
	}
}

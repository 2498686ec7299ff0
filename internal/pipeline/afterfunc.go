package pipeline

import (
	"sync"
	"sync/atomic"
)

// afterSlot holds the functions registered through the AfterFunc method of one of the
// stages' contexts (timeoutCtx, coopCtx, hedgeCtx). The context package looks for that
// method: a context.WithCancel, WithTimeout or AfterFunc under a context of a type it
// does not know, and that has no such method, costs a goroutine that waits for the
// parent's Done channel, for as long as the child lives. With it, the child registers
// here and unregisters when it is cancelled first, as a function that derives a
// context and defers its cancel does. A function still registered when its context
// ends runs in a goroutine of its own, as context.AfterFunc's do.
//
// The list is made by the first registration, so a context nobody derives from carries
// one word. The zero value is ready.
type afterSlot struct{ p atomic.Pointer[afterFuncs] }

// afterFuncs is an afterSlot's list, once made.
type afterFuncs struct {
	mu    sync.Mutex
	ended bool // fire ran: later registrations run at once
	list  []*afterEntry
	first [2]*afterEntry // list's first backing array: most contexts get one or two
}

// add registers f to run once the context ends; state is the context's. The list is
// published before add reads the state, and end sets the state before fire reads the
// list, so an end that races with add is seen by one of the two.
func (s *afterSlot) add(state *atomic.Int32, f func()) (stop func() bool) {
	a := s.p.Load()
	if a == nil {
		if a = new(afterFuncs); !s.p.CompareAndSwap(nil, a) {
			a = s.p.Load()
		}
	}
	return a.add(state, f)
}

// fire starts every registered function; the context has ended (its state is set).
func (s *afterSlot) fire() {
	if a := s.p.Load(); a != nil {
		a.mu.Lock()
		run := a.take()
		a.mu.Unlock()
		startAll(run)
	}
}

// afterEntry is one registration; its stop unregisters it.
type afterEntry struct {
	a *afterFuncs
	f func()
}

// add is afterSlot.add on the list.
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

// take marks the registrations ended and returns the ones to start. a.mu is held.
func (a *afterFuncs) take() []*afterEntry {
	a.ended = true
	run := a.list
	a.list = nil
	return run
}

// startAll starts each function of run in a goroutine of its own.
func startAll(run []*afterEntry) {
	for _, e := range run {
		go e.f()
	}
}

package actors

import (
	"sync"
	"testing"
)

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// The Stopped channel is made on first use; it is closed once the actor stopped,
// whether it was asked for before, after, or while the actor stopped.
func TestLinkStoppedChannelIsLazyAndAlwaysClosed(t *testing.T) {
	before := newLink("before")
	ch := before.Stopped()
	if isClosed(ch) || before.Stopped() != ch {
		t.Fatal("a live link's Stopped is closed, or not the same channel twice")
	}
	before.markStopped()
	if !isClosed(ch) || !isClosed(before.Stopped()) {
		t.Error("the channel asked for before the stop is not closed after it")
	}

	after := newLink("after")
	if after.stopped.Load() != nil {
		t.Error("a new link made its channel before anybody asked")
	}
	after.markStopped()
	if !isClosed(after.Stopped()) {
		t.Error("Stopped asked for after the stop is not closed")
	}

	for range 100 {
		racing := newLink("racing")
		var wg sync.WaitGroup
		chans := make([]<-chan struct{}, 4)
		for i := range chans {
			wg.Go(func() { chans[i] = racing.Stopped() })
		}
		wg.Go(racing.markStopped)
		wg.Wait()
		for i, ch := range chans {
			if !isClosed(ch) {
				t.Fatalf("asker %d got a channel that the concurrent stop did not close", i)
			}
		}
	}
}

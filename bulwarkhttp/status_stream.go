package bulwarkhttp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// The stream's tuning.
const (
	// streamBuffer is each stream's subscription buffer: events past it are dropped (and
	// counted in Metrics.DroppedEvents); the next snapshot shows their effect anyway.
	streamBuffer = 256
	// streamSettle is how long after a change event the stream sends a fresh snapshot, so
	// a burst of events costs one snapshot.
	streamSettle = 100 * time.Millisecond
	// streamWriteTimeout bounds each write to a client that stopped reading.
	streamWriteTimeout = 10 * time.Second
	// streamRetry is the reconnection delay the stream asks of EventSource (ms).
	streamRetry = "5000"
)

// stream serves server-sent events until the client goes away, a write fails or the
// engine shuts down.
func (h *statusHandler) stream(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no") // ask proxies such as nginx not to buffer the stream
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	serverDown := h.serverShutdown(r) // before the first write: a Shutdown may follow it
	events, cancel := h.e.Subscribe(streamBuffer)
	defer cancel()

	s := &sse{w: w, rc: http.NewResponseController(w)}
	w.WriteHeader(http.StatusOK)
	if s.raw("retry: "+streamRetry+"\n\n") != nil || s.send("snapshot", h.snapshot()) != nil {
		return
	}
	tick := time.NewTicker(h.opts.interval)
	defer tick.Stop()
	var settle <-chan time.Time // armed after a change, until its snapshot is sent
	done := r.Context().Done()
	for {
		var err error
		select {
		case <-done:
			return
		case <-serverDown: // the page reconnects after streamRetry, to the next server
			return
		case ev, ok := <-events:
			if !ok { // Shutdown closed the subscription
				_ = s.send("snapshot", h.snapshot())
				_ = s.raw("event: shutdown\ndata: {}\n\n")
				return
			}
			err = s.send("change", changeOf(ev))
			if settle == nil {
				settle = time.After(streamSettle)
			}
		case <-settle:
			settle = nil
			err = s.send("snapshot", h.snapshot())
		case <-tick.C:
			err = s.send("snapshot", h.snapshot())
		}
		if err != nil {
			return
		}
	}
}

// sse writes server-sent events to one response and flushes each.
type sse struct {
	w  io.Writer
	rc *http.ResponseController
}

// send writes one event whose data is v as JSON (one line: encoding/json writes no
// newline inside a value).
func (s *sse) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.raw("event: " + event + "\ndata: " + string(b) + "\n\n")
}

// raw writes text as it is, with a deadline when the connection supports one, and
// flushes it.
func (s *sse) raw(text string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := io.WriteString(s.w, text); err != nil {
		return err
	}
	return s.rc.Flush()
}

// serverShutdown returns a channel closed when the http.Server serving r starts a
// graceful Shutdown, which waits for open streams to end by themselves; nil when r
// carries no server (a handler called directly).
func (h *statusHandler) serverShutdown(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.servers[srv]; ok {
		return ch
	}
	ch := make(chan struct{})
	h.servers[srv] = ch
	srv.RegisterOnShutdown(func() {
		h.mu.Lock()
		delete(h.servers, srv)
		h.mu.Unlock()
		close(ch)
	})
	return ch
}

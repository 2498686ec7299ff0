package bulwarkhttp

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/supervisor"
)

// StatusOption configures StatusHandler.
type StatusOption func(*statusOptions)

type statusOptions struct {
	authorize func(*http.Request) bool
	logger    *slog.Logger
	interval  time.Duration
}

// The live page's periodic push: the default, and the shortest interval it accepts.
const (
	defaultStatusInterval = time.Second
	minStatusInterval     = 100 * time.Millisecond
)

// WithControls turns on the page's manual controls: a Force open, a Reset and a Disable
// button on every breaker, which POST to the handler and call Engine.ForceOpen (until
// reset), ResetBreaker and DisableBreaker. Each POST is refused with 403 Forbidden
// unless authorize(r) returns true (a panicking authorize refuses), and also when it
// comes from another origin (http.CrossOriginProtection). Every control request,
// applied or refused, is logged at Info with who asked: the remote address, the
// basic-auth user, the TLS client certificate's subject and X-Forwarded-For, those that
// are present. authorize runs on every control request and must be safe for concurrent
// use. Without WithControls, the default, there are no buttons and every POST is 403;
// a nil authorize is the same as no WithControls.
func WithControls(authorize func(*http.Request) bool) StatusOption {
	return func(o *statusOptions) { o.authorize = authorize }
}

// WithStatusLogger sends the log of control requests (see WithControls) to l instead of
// slog.Default(). A nil l keeps the default.
func WithStatusLogger(l *slog.Logger) StatusOption {
	return func(o *statusOptions) { o.logger = l }
}

// WithRefreshInterval sets how often the live page receives a fresh snapshot besides
// the events, per open page: d ≤ 0 keeps the default of one second, and a d under 100ms
// is raised to 100ms.
func WithRefreshInterval(d time.Duration) StatusOption {
	return func(o *statusOptions) { o.interval = d }
}

// StatusHandler returns the engine's live status page, an http.Handler to mount on a
// path of its own, for example
//
//	mux.Handle("/debug/bulwark/", bulwarkhttp.StatusHandler(engine))
//
// It answers every path it is given alike, by method and format:
//
//   - GET: an HTML page (embedded; no external resources) listing every live named
//     breaker, limiter, bulkhead and retry budget with its state and numbers, and the
//     engine's totals; sortable by any column, filterable by name, kept live by the
//     stream below;
//   - GET with Accept: application/json, or ?format=json: the same data as a
//     StatusSnapshot;
//   - GET with Accept: text/event-stream, or ?format=events: server-sent events, a
//     "snapshot" (a StatusSnapshot) at once and then every second (WithRefreshInterval),
//     a "change" (a StatusChange) for every event of Engine.Subscribe, followed within
//     100ms by a fresh snapshot, and a final "shutdown" when the engine shuts down; the
//     stream ends when the client goes away, when the engine shuts down, and when the
//     http.Server serving it starts a graceful Shutdown (which would otherwise wait for
//     the stream);
//   - POST: a manual control, when WithControls allows it, else 403.
//
// The page and the JSON show names and numbers only, never an error's text; names are
// escaped (the page builds its DOM with textContent, under a Content-Security-Policy
// that runs only its own script). A nil e gives a handler that answers 500. The handler
// is safe for concurrent use; each open stream costs one subscription and one timer.
func StatusHandler(e *supervisor.Engine, opts ...StatusOption) http.Handler {
	o := statusOptions{interval: defaultStatusInterval}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case o.interval <= 0:
		o.interval = defaultStatusInterval
	case o.interval < minStatusInterval:
		o.interval = minStatusInterval
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return &statusHandler{e: e, opts: o, origin: http.NewCrossOriginProtection(), servers: map[*http.Server]chan struct{}{}}
}

type statusHandler struct {
	e      *supervisor.Engine
	opts   statusOptions
	origin *http.CrossOriginProtection

	mu      sync.Mutex
	servers map[*http.Server]chan struct{} // closed when that server starts shutting down
}

// The formats a GET can ask for.
const (
	formatHTML   = "html"
	formatJSON   = "json"
	formatEvents = "events"
)

func (h *statusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.e == nil {
		http.Error(w, errNilEngine.Error(), http.StatusInternalServerError)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		h.control(w, r)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Add("Vary", "Accept")
	switch f := formatOf(r); f {
	case formatHTML:
		h.page(w)
	case formatJSON:
		h.json(w)
	case formatEvents:
		h.stream(w, r)
	default:
		http.Error(w, "unknown format: use format=html, json or events", http.StatusBadRequest)
	}
}

// formatOf reads the format a GET asks for: ?format= wins, then the Accept header.
func formatOf(r *http.Request) string {
	if f := r.URL.Query().Get("format"); f != "" {
		return f
	}
	var jsonOK, htmlOK bool
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/event-stream":
			return formatEvents
		case "application/json":
			jsonOK = true
		case "text/html":
			htmlOK = true
		}
	}
	if jsonOK && !htmlOK {
		return formatJSON
	}
	return formatHTML
}

// snapshot reads the engine now.
func (h *statusHandler) snapshot() StatusSnapshot {
	return snapshotOf(h.e.Metrics(), time.Now(), h.opts.authorize != nil)
}

// noStore sets the headers every answer of the handler carries.
func noStore(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
}

func (h *statusHandler) json(w http.ResponseWriter) {
	b, err := json.Marshal(h.snapshot())
	if err != nil { // every field is a name, a time or a finite number
		http.Error(w, "bulwarkhttp: status snapshot: "+err.Error(), http.StatusInternalServerError)
		return
	}
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

func (h *statusHandler) page(w http.ResponseWriter) {
	b, err := json.Marshal(h.snapshot()) // escapes <, > and &: safe inside <script>
	if err != nil {
		http.Error(w, "bulwarkhttp: status snapshot: "+err.Error(), http.StatusInternalServerError)
		return
	}
	noStore(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", statusPage.csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	_, _ = w.Write([]byte(statusPage.head))
	_, _ = w.Write(b)
	_, _ = w.Write([]byte(statusPage.tail))
}

// The page's assets, embedded: one HTML file with the CSS and the script inlined, and
// the snapshot at the time of the request in a JSON script element, so the page shows
// the numbers before its stream connects.
var (
	//go:embed status_assets/index.html
	statusHTML string
	//go:embed status_assets/status.css
	statusCSS string
	//go:embed status_assets/status.js
	statusJS string

	statusPage = buildStatusPage(statusHTML, statusCSS, statusJS)
)

// The markers in index.html where the CSS, the initial snapshot and the script go.
const (
	markCSS  = "/*@css*/"
	markData = "/*@data*/"
	markJS   = "/*@js*/"
)

type builtPage struct {
	head, tail string // the page before and after the initial snapshot
	csp        string // its Content-Security-Policy, with the hashes of its style and script
}

func buildStatusPage(html, css, js string) builtPage {
	if strings.Count(html, markCSS) != 1 || strings.Count(html, markData) != 1 || strings.Count(html, markJS) != 1 {
		panic("bulwarkhttp: status_assets/index.html must hold each marker once") // a build defect, caught by the tests
	}
	html = strings.Replace(html, markCSS, css, 1)
	html = strings.Replace(html, markJS, js, 1)
	head, tail, _ := strings.Cut(html, markData)
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	csp := "default-src 'none'; style-src " + hash(css) + "; script-src " + hash(js) +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return builtPage{head: head, tail: tail, csp: csp}
}

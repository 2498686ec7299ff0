package bulwarkhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// StatusControl is the JSON body of a control request: POST it, with
// Content-Type: application/json, to the status handler's path.
type StatusControl struct {
	// Action is force_open (Engine.ForceOpen), reset (ResetBreaker) or disable
	// (DisableBreaker).
	Action string `json:"action"`
	// Name is a live breaker's name.
	Name string `json:"name"`
	// For bounds a force_open, as a Go duration ("30s"); empty or "0s" forces it open
	// until reset. Only force_open takes it.
	For string `json:"for,omitempty"`
}

// The actions of StatusControl.
const (
	actionForceOpen = "force_open"
	actionReset     = "reset"
	actionDisable   = "disable"
)

// maxControlBody bounds a control request's body.
const maxControlBody = 4 << 10

// controlReply is the JSON answer to a control request: on success the breaker's state
// after the action; otherwise Error, a fixed sentence of the handler's (never an
// engine error's text).
type controlReply struct {
	Action string `json:"action,omitempty"`
	Name   string `json:"name,omitempty"`
	State  string `json:"state,omitempty"`
	Error  string `json:"error,omitempty"`
}

// control applies one manual control, if the request may, and logs it either way.
func (h *statusHandler) control(w http.ResponseWriter, r *http.Request) {
	who := requester(r)
	refuse := func(code int, why string, c StatusControl) {
		h.logControl(r, who, c, code, why)
		writeReply(w, code, controlReply{Action: c.Action, Name: c.Name, Error: why})
	}
	switch {
	case h.opts.authorize == nil:
		refuse(http.StatusForbidden, "controls are not enabled", StatusControl{})
		return
	case h.origin.Check(r) != nil:
		refuse(http.StatusForbidden, "cross-origin request refused", StatusControl{})
		return
	case !authorized(h.opts.authorize, r):
		refuse(http.StatusForbidden, "not authorized", StatusControl{})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		refuse(http.StatusUnsupportedMediaType, "the body must be application/json", StatusControl{})
		return
	}
	var c StatusControl
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		refuse(http.StatusBadRequest, `the body must be one object {"action": ..., "name": ..., "for": ...}`, StatusControl{})
		return
	}
	var d time.Duration
	switch c.Action {
	case actionForceOpen:
		if c.For != "" {
			var err error
			if d, err = time.ParseDuration(c.For); err != nil || d < 0 {
				refuse(http.StatusBadRequest, "for must be a duration ≥ 0, such as 30s", c)
				return
			}
		}
	case actionReset, actionDisable:
		if c.For != "" {
			refuse(http.StatusBadRequest, "for applies to force_open only", c)
			return
		}
	default:
		refuse(http.StatusBadRequest, "action must be force_open, reset or disable", c)
		return
	}
	// Only live breakers: the page must not create breakers under made-up names.
	if _, ok := h.e.Metrics().Breakers[c.Name]; !ok {
		// Resetting a name no breaker has does nothing, and tells a shut-down engine.
		if errors.Is(h.e.ResetBreaker(c.Name), policy.ErrShutdown) {
			refuse(http.StatusServiceUnavailable, "the engine is shut down", c)
			return
		}
		refuse(http.StatusNotFound, "no live breaker has that name", c)
		return
	}
	var err error
	switch c.Action {
	case actionForceOpen:
		err = h.e.ForceOpen(c.Name, d)
	case actionReset:
		err = h.e.ResetBreaker(c.Name)
	case actionDisable:
		err = h.e.DisableBreaker(c.Name)
	}
	if err != nil {
		code, why := http.StatusInternalServerError, "the breaker did not take the change"
		if errors.Is(err, policy.ErrShutdown) {
			code, why = http.StatusServiceUnavailable, "the engine is shut down"
		}
		h.opts.logger.LogAttrs(r.Context(), slog.LevelWarn, "bulwarkhttp: status page: control failed",
			slog.String("action", c.Action), slog.String("name", c.Name), slog.Any("error", err))
		refuse(code, why, c)
		return
	}
	state := ""
	if s, ok := h.e.Metrics().Breakers[c.Name]; ok {
		state = s.State.String()
	}
	h.logControl(r, who, c, http.StatusOK, "applied")
	writeReply(w, http.StatusOK, controlReply{Action: c.Action, Name: c.Name, State: state})
}

// authorized runs the user's authorize; a panic in it refuses.
func authorized(authorize func(*http.Request) bool, r *http.Request) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return authorize(r)
}

// requester describes who sent r, from what the request carries.
func requester(r *http.Request) []slog.Attr {
	who := []slog.Attr{slog.String("remote_addr", r.RemoteAddr)}
	if user, _, ok := r.BasicAuth(); ok {
		who = append(who, slog.String("user", user))
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		who = append(who, slog.String("client_cert", r.TLS.PeerCertificates[0].Subject.String()))
	}
	if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
		who = append(who, slog.String("forwarded_for", fwd))
	}
	return who
}

// logControl logs one control request at Info: what was asked, by whom, and the answer.
func (h *statusHandler) logControl(r *http.Request, who []slog.Attr, c StatusControl, code int, outcome string) {
	attrs := append([]slog.Attr{
		slog.String("action", c.Action), slog.String("name", c.Name),
	}, who...)
	if c.For != "" {
		attrs = append(attrs, slog.String("for", c.For))
	}
	attrs = append(attrs, slog.Int("status", code), slog.String("outcome", outcome))
	h.opts.logger.LogAttrs(r.Context(), slog.LevelInfo, "bulwarkhttp: status page: breaker control", attrs...)
}

func writeReply(w http.ResponseWriter, code int, rep controlReply) {
	b, err := json.Marshal(rep)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"error":%q}`, "bulwarkhttp: reply: "+err.Error()))
	}
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

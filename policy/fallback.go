package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FallbackPolicy replaces a failed outcome of the policies inside it with a static value
// or with what a function registered on the engine returns. It never runs on success,
// on the caller's cancellation, on ErrShutdown or on ErrInvalidPolicy. Exactly one of
// Value and Func is set. Put it outermost (Combine(Fallback()..., Retry(3), ...)): a
// fallback inside a retry hides the failures from the retry. The value is immutable
// once built and safe to share between goroutines; do not change its slices.
type FallbackPolicy struct {
	// On lists the kinds of failure that trigger the fallback (FallbackKinds): a kind
	// matches an error that matches its sentinel (errors.Is), and "failure" matches an
	// error that matches none of the other kinds' sentinels. Empty: every failure.
	On []string
	// Value is a static JSON value, decoded into the call's result type T at the first
	// call with that T (a value that does not fit T is ErrInvalidPolicy before anything
	// runs). Under Run and RunPlan it is ignored; for actor clients T is any.
	Value json.RawMessage
	// Func names a function registered with supervisor.RegisterFallback, called with
	// the stage's context and the failure; its result replaces the outcome.
	Func string
	// Classifier names a registered classifier: a result with a nil error that it
	// judges Failure (or Abort) is replaced too. "": only errors trigger the fallback.
	Classifier string
}

func (FallbackPolicy) isPolicy() {}

// Fallback returns a FallbackPolicy with nothing set: give it a value (WithValue) or a
// function (WithFunc).
func Fallback() FallbackPolicy { return FallbackPolicy{} }

// WithValue returns a copy of p whose fallback is v, as JSON (json.Marshal; a
// json.RawMessage is taken as it is). A v that json cannot marshal gives a policy whose
// Validate says why.
func (p FallbackPolicy) WithValue(v any) FallbackPolicy {
	b, err := json.Marshal(v)
	if err != nil {
		p.Value = json.RawMessage(unmarshalable + err.Error())
		return p
	}
	p.Value = canonicalJSON(b)
	return p
}

// unmarshalable prefixes the Value of a WithValue whose argument json could not
// marshal: never valid JSON, so Validate refuses it with the reason.
const unmarshalable = "\x00cannot marshal: "

// WithFunc returns a copy of p whose fallback is the function registered as name.
func (p FallbackPolicy) WithFunc(name string) FallbackPolicy {
	p.Func = name
	return p
}

// OnKinds returns a copy of p triggered only by failures of the kinds given (see
// FallbackKinds).
func (p FallbackPolicy) OnKinds(kinds ...string) FallbackPolicy {
	p.On = append([]string(nil), kinds...)
	return p
}

// WithClassifier returns a copy of p that also replaces results the classifier
// registered as name judges Failure.
func (p FallbackPolicy) WithClassifier(name string) FallbackPolicy {
	p.Classifier = name
	return p
}

// fallbackKinds are the kinds a FallbackPolicy's On may list, with their sentinels;
// "failure" (no sentinel) is the last.
var fallbackKinds = []struct {
	name string
	err  error
}{
	{"circuit_open", ErrCircuitOpen},
	{"rate_limited", ErrRateLimited},
	{"timeout", ErrTimeout},
	{"retry_exhausted", ErrRetryExhausted},
	{"concurrency_limited", ErrConcurrencyLimited},
	{"budget_exhausted", ErrBudgetExhausted},
	{"overloaded", ErrOverloaded},
	{"panic", ErrPanic},
	{"failure", nil},
}

// FallbackKinds returns the kinds a FallbackPolicy's On may list: "circuit_open",
// "rate_limited", "timeout", "retry_exhausted", "concurrency_limited",
// "budget_exhausted", "overloaded", "panic" and "failure".
func FallbackKinds() []string {
	kinds := make([]string, len(fallbackKinds))
	for i, k := range fallbackKinds {
		kinds[i] = k.name
	}
	return kinds
}

// Handles reports whether err, a failure (not nil), is one p's On selects: any error
// when On is empty; else an error matching the sentinel of a listed kind, or, for
// "failure", one matching no kind's sentinel. It does not apply the rules that keep a
// fallback from running at all (cancellation, ErrShutdown, ErrInvalidPolicy).
func (p FallbackPolicy) Handles(err error) bool {
	if err == nil {
		return false
	}
	if len(p.On) == 0 {
		return true
	}
	for _, on := range p.On {
		for _, k := range fallbackKinds {
			if k.name != on {
				continue
			}
			if k.err != nil && errors.Is(err, k.err) || k.err == nil && !matchesAnyKind(err) {
				return true
			}
		}
	}
	return false
}

// matchesAnyKind reports whether err matches the sentinel of one of the fallback kinds.
func matchesAnyKind(err error) bool {
	for _, k := range fallbackKinds {
		if k.err != nil && errors.Is(err, k.err) {
			return true
		}
	}
	return false
}

// isFallbackKind reports whether name is one of FallbackKinds.
func isFallbackKind(name string) bool {
	for _, k := range fallbackKinds {
		if k.name == name {
			return true
		}
	}
	return false
}

// Validate checks that exactly one of Value and Func is set, that Value is one valid
// JSON value, that every kind in On is one of FallbackKinds, and that Func and
// Classifier are valid UTF-8.
func (p FallbackPolicy) Validate() error {
	const c = "fallback"
	hasValue := len(p.Value) > 0
	if hasValue == (p.Func != "") {
		return invalidField(c, "Value/Func", "exactly one of a static value and a registered function",
			fmt.Sprintf("value %s, func %q", truncated(p.Value), p.Func))
	}
	if hasValue {
		if bytes.HasPrefix(p.Value, []byte(unmarshalable)) {
			return invalidField(c, "Value", "a value json can marshal", strings.TrimPrefix(string(p.Value), unmarshalable))
		}
		if !json.Valid(p.Value) {
			return invalidField(c, "Value", "one valid JSON value", truncated(p.Value))
		}
	}
	for i, on := range p.On {
		if !isFallbackKind(on) {
			return invalidField(c, "On["+strconv.Itoa(i)+"]", "one of "+strings.Join(FallbackKinds(), ", "), strconv.Quote(on))
		}
	}
	return first(
		validUTF8(c, "Func", p.Func),
		validUTF8(c, "Classifier", p.Classifier),
	)
}

// truncated is b for an error message, cut at 64 bytes.
func truncated(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}

// String returns "fallback()", then ".on(...)" with the kinds, ".value(JSON)" or
// ".func(...)", and ".classifier(...)", each left out when not set: such as
// `fallback().on("circuit_open").value(0)`.
func (p FallbackPolicy) String() string {
	s := "fallback()"
	if len(p.On) > 0 {
		quoted := make([]string, len(p.On))
		for i, on := range p.On {
			quoted[i] = strconv.Quote(on)
		}
		s += chained("on", strings.Join(quoted, ", "))
	}
	if len(p.Value) > 0 {
		s += chained("value", string(canonicalJSON(p.Value)))
	}
	if p.Func != "" {
		s += chained("func", strconv.Quote(p.Func))
	}
	if p.Classifier != "" {
		s += chained("classifier", strconv.Quote(p.Classifier))
	}
	return s
}

// canonicalJSON returns b compacted and HTML-escaped, as json.Marshal writes a
// json.RawMessage, so that a value reads back, and prints, the same every time; b
// itself when it is not valid JSON.
func canonicalJSON(b []byte) json.RawMessage {
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return b
	}
	var out bytes.Buffer
	json.HTMLEscape(&out, compact.Bytes())
	return out.Bytes()
}

// fallbackJSON is a FallbackPolicy's JSON document.
type fallbackJSON struct {
	Type       string          `json:"type"`
	On         []string        `json:"on,omitempty"`
	Value      json.RawMessage `json:"value,omitempty"`
	Func       string          `json:"func,omitempty"`
	Classifier string          `json:"classifier,omitempty"`
}

func encodeFallback(p FallbackPolicy) (any, error) {
	return fallbackJSON{Type: "fallback", On: p.On, Value: p.Value, Func: p.Func, Classifier: p.Classifier}, nil
}

func decodeFallback(data []byte, _ int) (FallbackPolicy, error) {
	var w fallbackJSON
	if err := decodeStrict(data, &w); err != nil {
		return FallbackPolicy{}, err
	}
	p := FallbackPolicy{On: w.On, Func: w.Func, Classifier: w.Classifier}
	if len(w.Value) > 0 {
		p.Value = canonicalJSON(w.Value)
	}
	return p, nil
}

// MarshalJSON writes {"type":"fallback","on":[...],"value":...,"func":"...",
// "classifier":"..."}, leaving out what is not set. It fails for an invalid policy.
func (p FallbackPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

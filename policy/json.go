package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The JSON documents. Each policy or backoff is an object whose "type" names its kind;
// durations are Go duration strings ("1.5s"); optional fields are left out when zero.
// The same structs serve both directions, so the shapes cannot drift apart.
type (
	noneJSON struct {
		Type string `json:"type"`
	}
	retryJSON struct {
		Type        string          `json:"type"`
		MaxAttempts int             `json:"max_attempts"`
		Backoff     json.RawMessage `json:"backoff,omitempty"`
	}
	circuitBreakerJSON struct {
		Type             string   `json:"type"`
		Name             string   `json:"name,omitempty"`
		FailureThreshold int      `json:"failure_threshold"`
		RecoveryTimeout  duration `json:"recovery_timeout"`
		SuccessThreshold int      `json:"success_threshold,omitempty"`
	}
	rateLimitJSON struct {
		Type              string   `json:"type"`
		Name              string   `json:"name,omitempty"`
		RequestsPerSecond float64  `json:"requests_per_second"`
		Burst             int      `json:"burst,omitempty"`
		MaxWait           duration `json:"max_wait,omitempty"`
	}
	timeoutJSON struct {
		Type     string   `json:"type"`
		Duration duration `json:"duration"`
	}
	combineJSON struct {
		Type     string            `json:"type"`
		Policies []json.RawMessage `json:"policies"`
	}
	fixedJSON struct {
		Type     string   `json:"type"`
		Interval duration `json:"interval,omitempty"`
	}
	linearJSON struct {
		Type    string   `json:"type"`
		Initial duration `json:"initial,omitempty"`
		Step    duration `json:"step,omitempty"`
		Max     duration `json:"max,omitempty"`
	}
	exponentialJSON struct {
		Type         string   `json:"type"`
		InitialDelay duration `json:"initial_delay"`
		Multiplier   float64  `json:"multiplier"`
		MaxDelay     duration `json:"max_delay,omitempty"`
		Jitter       bool     `json:"jitter,omitempty"`
	}
	decorrelatedJSON struct {
		Type string   `json:"type"`
		Base duration `json:"base"`
		Max  duration `json:"max,omitempty"`
	}
)

// duration is a time.Duration written in JSON as a Go duration string.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *duration) UnmarshalJSON(data []byte) error {
	var s string
	err := json.Unmarshal(data, &s)
	if err == nil {
		var v time.Duration
		v, err = time.ParseDuration(s)
		*d = duration(v)
	}
	if err != nil {
		return fmt.Errorf(`duration %s is not a Go duration string such as "1.5s"`, data)
	}
	return nil
}

// MarshalJSON writes {"type":"none"}.
func (p NonePolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

// MarshalJSON writes {"type":"retry","max_attempts":N,"backoff":{...}}, leaving out a nil
// backoff. It fails for an invalid policy and for a custom Backoff type.
func (p RetryPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

// MarshalJSON writes {"type":"circuit_breaker","name":...,"failure_threshold":N,
// "recovery_timeout":"30s","success_threshold":N}, leaving out a zero name and success
// threshold. It fails for an invalid policy.
func (p CircuitBreakerPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

// MarshalJSON writes {"type":"rate_limit","name":...,"requests_per_second":R,"burst":N,
// "max_wait":"1s"}, leaving out a zero name, burst and max_wait. It fails for an invalid
// policy.
func (p RateLimitPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

// MarshalJSON writes {"type":"timeout","duration":"30s"}. It fails for an invalid policy.
func (p TimeoutPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

// MarshalJSON writes {"type":"combine","policies":[...]}. It fails for an invalid policy,
// including one nested deeper than MaxDepth.
func (c CombinedPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(c) }

// MarshalJSON writes {"type":"fixed","interval":"1s"}, leaving out a zero interval.
func (b FixedBackoff) MarshalJSON() ([]byte, error) { return marshalBackoff(b) }

// MarshalJSON writes {"type":"linear","initial":"1s","step":"1s","max":"10s"}, leaving out
// zero fields.
func (b LinearBackoff) MarshalJSON() ([]byte, error) { return marshalBackoff(b) }

// MarshalJSON writes {"type":"exponential","initial_delay":"100ms","multiplier":2,
// "max_delay":"30s","jitter":true}, leaving out a zero max_delay and a false jitter.
func (b ExponentialBackoff) MarshalJSON() ([]byte, error) { return marshalBackoff(b) }

// MarshalJSON writes {"type":"decorrelated","base":"100ms","max":"10s"}, leaving out a zero
// max.
func (b DecorrelatedBackoff) MarshalJSON() ([]byte, error) { return marshalBackoff(b) }

// marshalPolicy validates p, so that every document written reads back, then encodes it.
// Its errors match ErrInvalidPolicy.
func marshalPolicy(p Policy) ([]byte, error) {
	if err := validateKind(p, 0); err != nil {
		return nil, err
	}
	return encodePolicy(p)
}

// marshalBackoff validates b, then encodes it.
func marshalBackoff(b Backoff) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return encodeBackoff(b)
}

// encodePolicy encodes a valid policy of one of the package's kinds (validation bounds the
// recursion by MaxDepth).
func encodePolicy(p Policy) ([]byte, error) {
	var w any
	switch p := p.(type) {
	case NonePolicy:
		w = noneJSON{Type: "none"}
	case RetryPolicy:
		r := retryJSON{Type: "retry", MaxAttempts: p.MaxAttempts}
		if p.Backoff != nil {
			b, err := encodeBackoff(p.Backoff)
			if err != nil {
				return nil, within(err, "retry")
			}
			r.Backoff = b
		}
		w = r
	case CircuitBreakerPolicy:
		w = circuitBreakerJSON{"circuit_breaker", p.Name, p.FailureThreshold, duration(p.RecoveryTimeout), p.SuccessThreshold}
	case RateLimitPolicy:
		w = rateLimitJSON{"rate_limit", p.Name, p.RequestsPerSecond, p.Burst, duration(p.MaxWait)}
	case TimeoutPolicy:
		w = timeoutJSON{"timeout", duration(p.Duration)}
	case CombinedPolicy:
		c := combineJSON{Type: "combine", Policies: make([]json.RawMessage, len(p.Policies))}
		for i, q := range p.Policies {
			b, err := encodePolicy(q)
			if err != nil {
				return nil, atIndex(err, i)
			}
			c.Policies[i] = b
		}
		w = c
	default:
		return nil, invalidField("json", "policy", kindRule, fmt.Sprintf("%T", p))
	}
	return json.Marshal(w)
}

// encodeBackoff encodes one of the package's four backoff kinds; a custom Backoff has no
// JSON form.
func encodeBackoff(b Backoff) ([]byte, error) {
	var w any
	switch b := b.(type) {
	case FixedBackoff:
		w = fixedJSON{"fixed", duration(b.Interval)}
	case LinearBackoff:
		w = linearJSON{"linear", duration(b.Initial), duration(b.Step), duration(b.Max)}
	case ExponentialBackoff:
		w = exponentialJSON{"exponential", duration(b.InitialDelay), b.Multiplier, duration(b.MaxDelay), b.Jitter}
	case DecorrelatedBackoff:
		w = decorrelatedJSON{"decorrelated", duration(b.Base), duration(b.Max)}
	default:
		return nil, invalidField("backoff", "type", "FixedBackoff, LinearBackoff, ExponentialBackoff or DecorrelatedBackoff to marshal to JSON", fmt.Sprintf("%T", b))
	}
	return json.Marshal(w)
}

// ParseJSON reads a policy written by MarshalJSON (or by hand in the same shape) and
// validates it. Keys are exact and case-sensitive; unknown fields, a key given twice,
// unknown types, trailing data and nesting deeper than MaxDepth are errors; every error matches ErrInvalidPolicy and, for malformed JSON, the
// encoding/json error too. The result is a value of one of the package's policy types, equal
// (reflect.DeepEqual) to the policy that was marshalled. A retry without "backoff" (or with
// null) has a nil Backoff.
func ParseJSON(data []byte) (Policy, error) {
	p, err := decodePolicy(data, 0)
	if err != nil {
		return nil, err
	}
	if err := validateKind(p, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// decodePolicy decodes one policy document found inside depth CombinedPolicy values.
func decodePolicy(data []byte, depth int) (Policy, error) {
	kind, err := typeOf(data)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "none":
		var w noneJSON
		return NonePolicy{}, decodeStrict(data, &w)
	case "retry":
		var w retryJSON
		if err := decodeStrict(data, &w); err != nil {
			return nil, err
		}
		b, err := decodeBackoff(w.Backoff)
		if err != nil {
			return nil, within(err, "retry: backoff")
		}
		return RetryPolicy{MaxAttempts: w.MaxAttempts, Backoff: b}, nil
	case "circuit_breaker":
		var w circuitBreakerJSON
		err := decodeStrict(data, &w)
		return CircuitBreakerPolicy{w.Name, w.FailureThreshold, time.Duration(w.RecoveryTimeout), w.SuccessThreshold}, err
	case "rate_limit":
		var w rateLimitJSON
		err := decodeStrict(data, &w)
		return RateLimitPolicy{w.Name, w.RequestsPerSecond, w.Burst, time.Duration(w.MaxWait)}, err
	case "timeout":
		var w timeoutJSON
		err := decodeStrict(data, &w)
		return TimeoutPolicy{time.Duration(w.Duration)}, err
	case "combine":
		if depth+1 > MaxDepth {
			return nil, invalidField("combine", "nesting depth", fmt.Sprintf("≤ %d", MaxDepth), depth+1)
		}
		var w combineJSON
		if err := decodeStrict(data, &w); err != nil {
			return nil, err
		}
		var ps []Policy
		if w.Policies != nil {
			ps = make([]Policy, len(w.Policies))
		}
		for i, raw := range w.Policies {
			if ps[i], err = decodePolicy(raw, depth+1); err != nil {
				return nil, atIndex(err, i)
			}
		}
		return CombinedPolicy{Policies: ps}, nil
	}
	return nil, unknownType("policy", kind)
}

// decodeBackoff decodes a backoff document; an absent or null one is nil.
func decodeBackoff(data []byte) (Backoff, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	kind, err := typeOf(data)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "fixed":
		var w fixedJSON
		err := decodeStrict(data, &w)
		return FixedBackoff{time.Duration(w.Interval)}, err
	case "linear":
		var w linearJSON
		err := decodeStrict(data, &w)
		return LinearBackoff{time.Duration(w.Initial), time.Duration(w.Step), time.Duration(w.Max)}, err
	case "exponential":
		var w exponentialJSON
		err := decodeStrict(data, &w)
		return ExponentialBackoff{time.Duration(w.InitialDelay), w.Multiplier, time.Duration(w.MaxDelay), w.Jitter}, err
	case "decorrelated":
		var w decorrelatedJSON
		err := decodeStrict(data, &w)
		return DecorrelatedBackoff{time.Duration(w.Base), time.Duration(w.Max)}, err
	}
	return nil, unknownType("backoff", kind)
}

// typeOf reads the "type" of a document, checking on the way that data is one well-formed
// JSON value with nothing after it, and that no key appears twice.
func typeOf(data []byte) (string, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", jsonError(err)
	}
	keys, err := objectKeys(data)
	if err != nil {
		return "", err
	}
	if head.Type == nil || !slices.Contains(keys, "type") {
		return "", invalidField("json", `"type"`, "present", "an object without it")
	}
	return *head.Type, nil
}

// objectKeys returns the keys of the JSON object data, in order (none for null), and
// refuses a key given twice. encoding/json lets the last of two equal keys win, and
// matches keys to fields without regard to case, so the decoders check keys themselves.
// data is well formed (typeOf checked it).
func objectKeys(data []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	if tok != json.Delim('{') {
		return nil, nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		key, _ := tok.(string)
		if slices.Contains(keys, key) {
			return nil, invalidField("json", "key "+strconv.Quote(key), "given once", "it twice")
		}
		keys = append(keys, key)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, jsonError(err)
		}
	}
	return keys, nil
}

// checkKeys refuses a key of data that is not, exactly, the JSON name of a field of the
// struct w points to.
func checkKeys(data []byte, w any) error {
	keys, err := objectKeys(data)
	if err != nil {
		return err
	}
	t := reflect.TypeOf(w).Elem()
	for _, key := range keys {
		known := false
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == key {
				known = true
				break
			}
		}
		if !known {
			return &invalidError{msg: "json: unknown field " + strconv.Quote(key)}
		}
	}
	return nil
}

// unknownType reports a "type" that names no kind.
func unknownType(what, kind string) error {
	return invalidField("json", what+` "type"`, "a known kind", fmt.Sprintf("%q", kind))
}

// decodeStrict decodes one JSON object into the struct w points to, refusing unknown,
// mis-cased and repeated keys.
func decodeStrict(data []byte, w any) error {
	if err := checkKeys(data, w); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(w); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError reports an encoding/json error as an invalid policy, keeping it as the cause.
func jsonError(err error) error {
	return &invalidError{msg: "json: " + strings.TrimPrefix(err.Error(), "json: "), cause: err}
}

// Spec holds a policy inside a configuration struct that is read from or written to JSON:
//
//	type Config struct {
//		Payments policy.Spec `json:"payments"`
//	}
//
// It marshals as its Policy (null when nil) and unmarshals through ParseJSON, so the
// document is validated. As with encoding/json's own types, unmarshalling null leaves the
// Spec unchanged. Spec is a carrier, not a kind of policy: pass s.Policy to the engine or to
// Combine (a Spec inside a CombinedPolicy is invalid).
type Spec struct {
	Policy
}

// Validate validates the held policy; a nil Policy is invalid.
func (s Spec) Validate() error {
	if !isKind(s.Policy) {
		return invalidField("spec", "Policy", kindRule, fmt.Sprintf("%T", s.Policy))
	}
	return validateKind(s.Policy, 0)
}

// String returns the held policy's String, or "nil".
func (s Spec) String() string { return formatPolicy(s.Policy) }

// MarshalJSON writes the held policy, or null when it is nil.
func (s Spec) MarshalJSON() ([]byte, error) {
	if s.Policy == nil {
		return []byte("null"), nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return encodePolicy(s.Policy)
}

// UnmarshalJSON reads the policy with ParseJSON; null leaves s unchanged.
func (s *Spec) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	p, err := ParseJSON(data)
	if err != nil {
		return err
	}
	s.Policy = p
	return nil
}

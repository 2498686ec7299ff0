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
// Each kind's file declares its document struct, which serves both directions, so the
// shapes cannot drift apart; kinds.go lists the kinds.

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

// marshalPolicy validates p, so that every document written reads back, then encodes it.
// Its errors match ErrInvalidPolicy.
func marshalPolicy(p Policy) ([]byte, error) {
	if err := validateKind(p, 0); err != nil {
		return nil, err
	}
	return encodePolicy(p)
}

// encodePolicy encodes a valid policy of one of the package's kinds (validation bounds the
// recursion by MaxDepth).
func encodePolicy(p Policy) ([]byte, error) {
	k, ok := policies.of(p)
	if !ok {
		return nil, invalidField("json", "policy", kindRule, fmt.Sprintf("%T", p))
	}
	w, err := k.encode(p)
	if err != nil {
		return nil, err
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
	return policies.decode("policy", data, depth)
}

// decodeAs decodes data strictly into the document struct W and converts it with to.
func decodeAs[W, T any](data []byte, to func(W) T) (T, error) {
	var w W
	if err := decodeStrict(data, &w); err != nil {
		var none T
		return none, err
	}
	return to(w), nil
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

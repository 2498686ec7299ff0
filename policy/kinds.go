package policy

import (
	"fmt"
	"reflect"
)

// policyKinds is the one list of the package's policy kinds: a kind is a Go type, its JSON
// "type" and its JSON reader and writer. isKind, the String formatter, encodePolicy and
// decodePolicy all look kinds up here, so a new kind is its own file plus one row.
var policyKinds = []kind[Policy]{
	entry[Policy]("none", encodeNone, decodeNone),
	entry[Policy]("retry", encodeRetry, decodeRetry),
	entry[Policy]("circuit_breaker", encodeCircuitBreaker, decodeCircuitBreaker),
	entry[Policy]("rate_limit", encodeRateLimit, decodeRateLimit),
	entry[Policy]("timeout", encodeTimeout, decodeTimeout),
	entry[Policy]("combine", encodeCombine, decodeCombine),
	entry[Policy]("bulkhead", encodeBulkhead, decodeBulkhead),
	entry[Policy]("fallback", encodeFallback, decodeFallback),
	entry[Policy]("retry_budget", encodeBudget, decodeBudget),
	entry[Policy]("hedge", encodeHedge, decodeHedge),
	entry[Policy]("adaptive_limit", encodeAdaptive, decodeAdaptive),
}

// backoffKinds is the one list of the package's backoff kinds, in the same shape.
var backoffKinds = []kind[Backoff]{
	entry[Backoff]("fixed", encodeFixed, decodeFixed),
	entry[Backoff]("linear", encodeLinear, decodeLinear),
	entry[Backoff]("exponential", encodeExponential, decodeExponential),
	entry[Backoff]("decorrelated", encodeDecorrelated, decodeDecorrelated),
}

// policies and backoffs index the two lists. They are filled by init, not by their
// declarations, because decoding a CombinedPolicy reads policies again.
var (
	policies table[Policy]
	backoffs table[Backoff]
)

func init() {
	policies = newTable(policyKinds)
	backoffs = newTable(backoffKinds)
}

// isKind reports whether p is a value of one of the package's policy types. Nothing in the
// package calls a method of any other Policy (nil, a pointer, a Spec, a foreign type that
// embeds a Policy), so such a value cannot lead it into unbounded recursion.
func isKind(p Policy) bool {
	_, ok := policies.of(p)
	return ok
}

// kind describes one kind of T (Policy or Backoff): its Go type, the "type" that names
// it in JSON, and its JSON writer and reader.
type kind[T any] struct {
	typ  reflect.Type
	name string
	// encode returns the JSON document's struct for v, a value of typ.
	encode func(v T) (any, error)
	// decode reads a document whose "type" is name, found inside depth CombinedPolicy
	// values.
	decode func(data []byte, depth int) (T, error)
}

// entry builds the row of the kind V of T from V's own typed writer and reader.
func entry[T, V any](name string, encode func(V) (any, error), decode func(data []byte, depth int) (V, error)) kind[T] {
	var zero V
	if _, ok := any(zero).(T); !ok {
		panic(fmt.Sprintf("policy: kind %q: %T is not a %v", name, zero, reflect.TypeFor[T]()))
	}
	return kind[T]{
		typ:    reflect.TypeOf(zero),
		name:   name,
		encode: func(v T) (any, error) { return encode(any(v).(V)) },
		decode: func(data []byte, depth int) (T, error) {
			v, err := decode(data, depth)
			if err != nil {
				var none T
				return none, err
			}
			return any(v).(T), nil
		},
	}
}

// table indexes kinds by Go type and by JSON "type".
type table[T any] struct {
	byType map[reflect.Type]*kind[T]
	byName map[string]*kind[T]
}

func newTable[T any](kinds []kind[T]) table[T] {
	t := table[T]{byType: map[reflect.Type]*kind[T]{}, byName: map[string]*kind[T]{}}
	for i := range kinds {
		k := &kinds[i]
		t.byType[k.typ], t.byName[k.name] = k, k
	}
	return t
}

// of returns the kind of v, or false when v is nil or of no listed type.
func (t table[T]) of(v T) (*kind[T], bool) {
	k, ok := t.byType[reflect.TypeOf(v)]
	return k, ok
}

// decode reads the document data by the kind its "type" names; what ("policy" or
// "backoff") names the table in errors.
func (t table[T]) decode(what string, data []byte, depth int) (T, error) {
	var none T
	name, err := typeOf(data)
	if err != nil {
		return none, err
	}
	k, ok := t.byName[name]
	if !ok {
		return none, unknownType(what, name)
	}
	return k.decode(data, depth)
}

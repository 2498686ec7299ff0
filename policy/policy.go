package policy

import "strconv"

// Policy is one resilience policy: a plain value saying what an operation needs, never how
// it runs. The set is closed: NonePolicy, RetryPolicy, CircuitBreakerPolicy, RateLimitPolicy,
// TimeoutPolicy, HedgePolicy, CombinedPolicy (and BudgetPolicy, which is registered, not
// run) are the only kinds, so the engine can switch on the type.
// (A Spec, a pointer to a kind, or any type embedding a Policy also satisfies the interface
// by method promotion; where a kind is required, such as inside a CombinedPolicy, the package
// reports them as invalid.) Policy values are immutable and safe to share between goroutines.
type Policy interface {
	// Validate returns nil when the policy can run, or an error matching ErrInvalidPolicy
	// that names the first bad field and its value.
	Validate() error
	// String returns the policy as the constructor calls that build it, such as
	// `circuit_breaker(5, 30s).named("payments")`.
	String() string

	// isPolicy keeps the set of kinds closed to this package.
	isPolicy()
}

// NonePolicy runs an operation once, as it is. Its zero value is its only value, returned
// by None; it is always valid.
type NonePolicy struct{}

func (NonePolicy) isPolicy() {}

// None returns the policy that adds no resilience: the operation runs once.
func None() NonePolicy { return NonePolicy{} }

// Validate always returns nil: NonePolicy has nothing to get wrong.
func (NonePolicy) Validate() error { return nil }

// String returns "none".
func (NonePolicy) String() string { return "none" }

// noneJSON is NonePolicy's JSON document.
type noneJSON struct {
	Type string `json:"type"`
}

func encodeNone(NonePolicy) (any, error) { return noneJSON{Type: "none"}, nil }

func decodeNone(data []byte, _ int) (NonePolicy, error) {
	return decodeAs(data, func(noneJSON) NonePolicy { return NonePolicy{} })
}

// MarshalJSON writes {"type":"none"}.
func (p NonePolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

// chained formats one link of a String chain: ".name(arg)".
func chained(name, arg string) string { return "." + name + "(" + arg + ")" }

// named formats the ".named(...)" link, or nothing for an empty name.
func named(name string) string {
	if name == "" {
		return ""
	}
	return chained("named", strconv.Quote(name))
}

// formatFloat prints f in the shortest form that reads back exactly.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

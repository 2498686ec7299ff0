package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// MaxDepth is how deeply CombinedPolicy values may nest: Combine(Combine(Retry(3))) nests 2
// deep. Validate, String, MarshalJSON and ParseJSON stop there, so a CombinedPolicy that
// contains itself (possible in Go through slice aliasing) is an invalid value, never a
// stack overflow.
const MaxDepth = 32

// CombinedPolicy applies its Policies nested in the order listed, the first outermost:
// Combine(Retry(3), Timeout(time.Second)) gives each of the 3 attempts its own timeout,
// while Combine(Timeout(time.Second), Retry(3)) bounds all attempts together. Policies has
// no default: an empty list, a nil element or nesting deeper than MaxDepth is invalid. The
// value is immutable once built (Combine copies its arguments) and safe to share between
// goroutines.
type CombinedPolicy struct {
	// Policies are applied outermost first; at least one, none nil.
	Policies []Policy
}

func (CombinedPolicy) isPolicy() {}

// Combine returns a CombinedPolicy of ps, in order, the first outermost. It copies ps, so
// later changes to the caller's slice do not reach the policy, and it never flattens a
// nested CombinedPolicy.
func Combine(ps ...Policy) CombinedPolicy {
	return CombinedPolicy{Policies: slices.Clone(ps)}
}

// Validate checks that Policies is not empty, that every element is a valid policy of one
// of the package's value types, and that nesting stays within MaxDepth. An error inside an
// element names its place, such as "combine[1]: circuit_breaker: ...".
func (c CombinedPolicy) Validate() error { return c.validate(0) }

// validate checks c found inside depth enclosing CombinedPolicy values.
func (c CombinedPolicy) validate(depth int) error {
	level := depth + 1
	if level > MaxDepth {
		return invalidField("combine", "nesting depth", fmt.Sprintf("≤ %d", MaxDepth), level)
	}
	if len(c.Policies) == 0 {
		return invalidField("combine", "Policies", "a non-empty list", "[]")
	}
	for i, p := range c.Policies {
		if !isKind(p) {
			return invalidField("combine", fmt.Sprintf("Policies[%d]", i), kindRule, fmt.Sprintf("%T", p))
		}
		if _, ok := p.(BudgetPolicy); ok {
			return invalidField("combine", fmt.Sprintf("Policies[%d]", i), budgetRule, p)
		}
		if err := validateKind(p, level); err != nil {
			return atIndex(err, i)
		}
	}
	return nil
}

// budgetRule says why a BudgetPolicy cannot be combined.
const budgetRule = "a policy that runs; a retry budget is registered (Engine.RegisterBudget) and named by RetryPolicy.WithBudget or HedgePolicy.WithBudget"

// kindRule is what a policy held in a CombinedPolicy or a Spec must be.
const kindRule = "a value of one of the policy types"

// validateKind validates p, a value for which isKind holds, found inside depth
// CombinedPolicy values.
func validateKind(p Policy, depth int) error {
	if c, ok := p.(CombinedPolicy); ok {
		return c.validate(depth)
	}
	return p.Validate()
}

// String returns "combine(a, b, ...)" with each element's String. Nesting past MaxDepth
// prints as "...", and so does every CombinedPolicy printed after it, which keeps a
// self-containing value's output short.
func (c CombinedPolicy) String() string { return formatPolicy(c) }

// formatPolicy returns the String form of any policy, including nil and foreign types.
func formatPolicy(p Policy) string {
	var f formatter
	f.write(p, 0)
	return f.b.String()
}

// formatter writes policies with the depth guard shared by every String.
type formatter struct {
	b         strings.Builder
	truncated bool // a CombinedPolicy went past MaxDepth: print the rest as "..."
}

// write appends p, found inside depth CombinedPolicy values.
func (f *formatter) write(p Policy, depth int) {
	switch p := p.(type) {
	case nil:
		f.b.WriteString("nil")
	case CombinedPolicy:
		if f.truncated || depth >= MaxDepth {
			f.truncated = true
			f.b.WriteString("...")
			return
		}
		f.b.WriteString("combine(")
		for i, q := range p.Policies {
			if i > 0 {
				f.b.WriteString(", ")
			}
			f.write(q, depth+1)
		}
		f.b.WriteByte(')')
	default:
		if !isKind(p) {
			fmt.Fprintf(&f.b, "invalid(%T)", p)
			return
		}
		f.b.WriteString(p.String())
	}
}

// combineJSON is a CombinedPolicy's JSON document.
type combineJSON struct {
	Type     string            `json:"type"`
	Policies []json.RawMessage `json:"policies"`
}

func encodeCombine(c CombinedPolicy) (any, error) {
	w := combineJSON{Type: "combine", Policies: make([]json.RawMessage, len(c.Policies))}
	for i, q := range c.Policies {
		b, err := encodePolicy(q)
		if err != nil {
			return nil, atIndex(err, i)
		}
		w.Policies[i] = b
	}
	return w, nil
}

func decodeCombine(data []byte, depth int) (CombinedPolicy, error) {
	if depth+1 > MaxDepth {
		return CombinedPolicy{}, invalidField("combine", "nesting depth", fmt.Sprintf("≤ %d", MaxDepth), depth+1)
	}
	var w combineJSON
	if err := decodeStrict(data, &w); err != nil {
		return CombinedPolicy{}, err
	}
	var ps []Policy
	if w.Policies != nil {
		ps = make([]Policy, len(w.Policies))
	}
	for i, raw := range w.Policies {
		var err error
		if ps[i], err = decodePolicy(raw, depth+1); err != nil {
			return CombinedPolicy{}, atIndex(err, i)
		}
	}
	return CombinedPolicy{Policies: ps}, nil
}

// MarshalJSON writes {"type":"combine","policies":[...]}. It fails for an invalid policy,
// including one nested deeper than MaxDepth.
func (c CombinedPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(c) }

package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// invalidError is every error that reports a bad policy, backoff, JSON document or
// environment value. It matches ErrInvalidPolicy and, when there is one, its cause.
type invalidError struct {
	path  []int  // indices through nested CombinedPolicy values, outermost first
	msg   string // component and complaint, such as "retry: MaxAttempts must be ≥ 1, got 0"
	cause error  // the underlying error, if any (a JSON syntax error, a custom backoff's)
}

// Error returns "policy: [combine[i][j]: ]msg".
func (e *invalidError) Error() string {
	var b strings.Builder
	b.WriteString("policy: ")
	if len(e.path) > 0 {
		b.WriteString("combine")
		for _, i := range e.path {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(i))
			b.WriteByte(']')
		}
		b.WriteString(": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// Unwrap returns ErrInvalidPolicy and the cause, if any.
func (e *invalidError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrInvalidPolicy}
	}
	return []error{ErrInvalidPolicy, e.cause}
}

// invalidField is the one constructor of "bad field" errors: "component: field must be
// rule, got value".
func invalidField(component, field, rule string, value any) error {
	return &invalidError{msg: fmt.Sprintf("%s: %s must be %s, got %v", component, field, rule, value)}
}

// invalidCause reports err, which some other code returned, under component.
func invalidCause(component string, err error) error {
	return &invalidError{msg: component + ": " + err.Error(), cause: err}
}

// within returns err as seen from inside component: an invalidError gains the prefix,
// any other error becomes the cause of a new one.
func within(err error, component string) error {
	e, ok := err.(*invalidError)
	if !ok {
		return invalidCause(component, err)
	}
	c := *e
	c.msg = component + ": " + e.msg
	return &c
}

// atIndex returns err, found at Policies[i] of a CombinedPolicy, with i added to its path.
func atIndex(err error, i int) error {
	e, ok := err.(*invalidError)
	if !ok {
		e = &invalidError{msg: err.Error(), cause: err}
	}
	c := *e
	c.path = append([]int{i}, e.path...)
	return &c
}

// first returns the first non-nil error. Validate methods list their checks through it.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// The checks below take typed values, so a passing check boxes nothing and allocates nothing.

// atLeast checks an integer field against a minimum.
func atLeast(component, field string, v, minimum int) error {
	if v >= minimum {
		return nil
	}
	return invalidField(component, field, "≥ "+strconv.Itoa(minimum), v)
}

// atMost checks an integer field against a maximum set by another field, maxField, and
// says why the maximum matters: "field must be ≤ maxField (N), got V: why".
func atMost(component, field string, v, maximum int, maxField, why string) error {
	if v <= maximum {
		return nil
	}
	return &invalidError{msg: component + ": " + field + " must be ≤ " + maxField + " (" + strconv.Itoa(maximum) + "), got " + strconv.Itoa(v) + ": " + why}
}

// positive checks a duration that has no default.
func positive(component, field string, d time.Duration) error {
	if d > 0 {
		return nil
	}
	return invalidField(component, field, "> 0", d)
}

// notNegative checks a duration for which zero is legal.
func notNegative(component, field string, d time.Duration) error {
	if d >= 0 {
		return nil
	}
	return invalidField(component, field, "≥ 0", d)
}

// holds reports a float field that breaks rule when ok is false.
func holds(ok bool, component, field, rule string, v float64) error {
	if ok {
		return nil
	}
	return invalidField(component, field, rule, v)
}

// validCap checks a cap field where zero means no cap: it must be zero or at least the
// floor field's value.
func validCap(component, field string, d time.Duration, floorField string, floor time.Duration) error {
	if d == 0 || (d > 0 && d >= floor) {
		return nil
	}
	return invalidField(component, field, "0 (no cap) or ≥ "+floorField+" ("+floor.String()+")", d)
}

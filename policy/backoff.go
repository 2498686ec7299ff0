package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"time"
)

// Backoff gives the wait before each retry of a RetryPolicy. Delay(n) is the wait before
// retry n: attempt 1 is the first retry (after the first failure); an attempt below 1 counts
// as 1. Delay never returns a negative duration and never overflows: past the largest
// time.Duration (math.MaxInt64 ns, about 292 years) it saturates. Implementations must be
// safe for concurrent use; the four in this package are immutable values.
type Backoff interface {
	// Delay returns the wait before retry attempt (1 = first retry).
	Delay(attempt int) time.Duration
	// Validate returns nil, or an error matching ErrInvalidPolicy naming the bad field.
	Validate() error
}

// defaultExponential is DefaultBackoff's value, and defaultBackoff the one boxed copy of it
// that every Retry shares, so Retry allocates nothing.
var (
	defaultExponential = ExponentialBackoff{
		InitialDelay: 100 * time.Millisecond,
		Multiplier:   2,
		MaxDelay:     30 * time.Second,
		Jitter:       true,
	}
	defaultBackoff Backoff = defaultExponential
)

// DefaultBackoff returns the backoff of Retry and of a RetryPolicy whose Backoff is nil:
// exponential from 100ms, doubling, capped at 30s, with full jitter. Every call returns the
// same boxed value, so it does not allocate.
func DefaultBackoff() Backoff { return defaultBackoff }

// isDefaultBackoff reports whether b is DefaultBackoff's value. Comparing interfaces with
// == panics only when both hold the same incomparable type, and DefaultBackoff's type,
// ExponentialBackoff, is comparable, so == is safe for any b, a custom backoff included.
func isDefaultBackoff(b Backoff) bool { return b == defaultBackoff }

// FixedBackoff waits Interval before every retry. Its zero value waits nothing, which is
// legal. The value is immutable and safe to share between goroutines.
type FixedBackoff struct {
	// Interval is the wait before each retry; ≥ 0.
	Interval time.Duration
}

// Delay returns Interval (0 if Interval is negative).
func (b FixedBackoff) Delay(int) time.Duration { return max(b.Interval, 0) }

// Validate checks Interval ≥ 0.
func (b FixedBackoff) Validate() error { return notNegative("fixed backoff", "Interval", b.Interval) }

// String returns "fixed(D)".
func (b FixedBackoff) String() string { return "fixed(" + b.Interval.String() + ")" }

// LinearBackoff waits Initial before the first retry and Step longer before each next one,
// capped at Max: Delay(n) = min(Initial + (n-1)·Step, Max). Zero fields are legal: a zero
// Max means no cap. A non-zero Max below Initial is invalid, since every delay would be Max.
// The value is immutable and safe to share between goroutines.
type LinearBackoff struct {
	// Initial is the wait before the first retry; ≥ 0.
	Initial time.Duration
	// Step is added for each later retry; ≥ 0.
	Step time.Duration
	// Max caps the wait; 0 means no cap, otherwise ≥ Initial.
	Max time.Duration
}

// Delay returns min(Initial + (attempt-1)·Step, Max), saturating instead of overflowing.
func (b LinearBackoff) Delay(attempt int) time.Duration {
	initial, step := max(b.Initial, 0), max(b.Step, 0)
	n := int64(max(attempt, 1) - 1)
	d := maxDuration
	if step == 0 || n <= int64(maxDuration-initial)/int64(step) {
		d = initial + time.Duration(n)*step
	}
	return capAt(d, b.Max)
}

// Validate checks every field ≥ 0 and Max either 0 or ≥ Initial.
func (b LinearBackoff) Validate() error {
	const c = "linear backoff"
	return first(
		notNegative(c, "Initial", b.Initial),
		notNegative(c, "Step", b.Step),
		validCap(c, "Max", b.Max, "Initial", b.Initial),
	)
}

// String returns "linear(Initial, Step)", or "linear(Initial, Step, Max)" with a cap.
func (b LinearBackoff) String() string {
	return "linear(" + b.Initial.String() + ", " + b.Step.String() + capString(b.Max) + ")"
}

// ExponentialBackoff waits InitialDelay before the first retry and Multiplier times longer
// before each next one, capped at MaxDelay: min(InitialDelay·Multiplier^(n-1), MaxDelay).
// With Jitter, the wait is drawn uniformly from [0, that delay) ("full jitter"). InitialDelay
// has no default (zero is invalid); Multiplier must be finite and ≥ 1; a zero MaxDelay means
// no cap, otherwise it must be ≥ InitialDelay. The value is immutable and safe to share
// between goroutines; Delay draws from math/rand/v2, which is safe for concurrent use.
type ExponentialBackoff struct {
	// InitialDelay is the wait before the first retry; > 0.
	InitialDelay time.Duration
	// Multiplier is the growth factor from one retry to the next; finite, ≥ 1.
	Multiplier float64
	// MaxDelay caps the wait (before jitter); 0 means no cap, otherwise ≥ InitialDelay.
	MaxDelay time.Duration
	// Jitter draws the wait uniformly from [0, delay).
	Jitter bool
}

// Delay returns the wait before retry attempt, drawing the jitter sample from math/rand/v2
// when Jitter is set.
func (b ExponentialBackoff) Delay(attempt int) time.Duration {
	if !b.Jitter {
		return b.DelayWith(attempt, 0)
	}
	return b.DelayWith(attempt, rand.Float64())
}

// DelayWith returns the wait before retry attempt for the random sample u in [0, 1):
// min(InitialDelay·Multiplier^(attempt-1), MaxDelay), times u when Jitter is set (u is
// ignored otherwise; a u outside [0, 1) is clamped into it). It is a pure function, so tests
// can pin exact delays.
func (b ExponentialBackoff) DelayWith(attempt int, u float64) time.Duration {
	d := time.Duration(0)
	if b.InitialDelay > 0 {
		d = fromFloat(float64(b.InitialDelay) * math.Pow(b.Multiplier, float64(max(attempt, 1)-1)))
	}
	d = capAt(d, b.MaxDelay)
	if b.Jitter {
		d = jitter(d, u)
	}
	return d
}

// Validate checks InitialDelay > 0, Multiplier finite and ≥ 1, and MaxDelay either 0 or
// ≥ InitialDelay.
func (b ExponentialBackoff) Validate() error {
	const c = "exponential backoff"
	return first(
		positive(c, "InitialDelay", b.InitialDelay),
		holds(b.Multiplier >= 1 && !math.IsInf(b.Multiplier, 1), c, "Multiplier", "a finite number ≥ 1", b.Multiplier),
		validCap(c, "MaxDelay", b.MaxDelay, "InitialDelay", b.InitialDelay),
	)
}

// String returns "exponential(Initial, Multiplier[, MaxDelay][, jitter])", such as
// "exponential(100ms, 2, 30s, jitter)".
func (b ExponentialBackoff) String() string {
	s := "exponential(" + b.InitialDelay.String() + ", " + formatFloat(b.Multiplier) + capString(b.MaxDelay)
	if b.Jitter {
		s += ", jitter"
	}
	return s + ")"
}

// DecorrelatedBackoff spreads retries with decorrelated jitter in the manner of Polly's
// (its "V2" exponential jitter): delays grow about twice per retry from around Base, with no
// clustering at the bounds. Delay(n) is a pure function of n and one sample u in [0, 1):
//
//	t        = n - 1 + u
//	f(t)     = 2^t · tanh(√(4t))   for t > 0, and f(t) = 0 for t ≤ 0
//	Delay(n) = min(Base · (f(t) - f(t-1)) / 1.4, Max)
//
// So the first retry waits Base·f(u)/1.4, in [0, 1.38·Base), about 0.9·Base at u = 0.5; later
// retries wait about Base·2^(n-2+u)/1.4. Base has no default (zero is invalid); a zero Max
// means no cap, otherwise it must be ≥ Base. The value is immutable and safe to share
// between goroutines; Delay draws from math/rand/v2, which is safe for concurrent use.
type DecorrelatedBackoff struct {
	// Base is the scale of the delays, about the median first wait; > 0.
	Base time.Duration
	// Max caps the wait; 0 means no cap, otherwise ≥ Base.
	Max time.Duration
}

// Delay returns the wait before retry attempt with a sample drawn from math/rand/v2.
func (b DecorrelatedBackoff) Delay(attempt int) time.Duration {
	return b.DelayWith(attempt, rand.Float64())
}

// decorrelatedScale is the divisor that puts the median first wait near Base.
const decorrelatedScale = 1.4

// DelayWith returns the wait before retry attempt for the random sample u in [0, 1) (clamped
// into it), by the formula on DecorrelatedBackoff. It is a pure function, so tests can pin
// exact delays.
func (b DecorrelatedBackoff) DelayWith(attempt int, u float64) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	// Past 100 retries the delay exceeds any time.Duration for every Base ≥ 1ns, so capping n
	// changes nothing and keeps 2^t finite (∞ - ∞ would be NaN).
	n := min(max(attempt, 1), 100)
	t := float64(n-1) + unit(u)
	growth := decorrelatedCurve(t) - decorrelatedCurve(t-1)
	return capAt(fromFloat(float64(b.Base)*growth/decorrelatedScale), b.Max)
}

// decorrelatedCurve is f(t) = 2^t · tanh(√(4t)), 0 for t ≤ 0: increasing, so successive
// differences are positive.
func decorrelatedCurve(t float64) float64 {
	if t <= 0 {
		return 0
	}
	return math.Exp2(t) * math.Tanh(math.Sqrt(4*t))
}

// Validate checks Base > 0 and Max either 0 or ≥ Base.
func (b DecorrelatedBackoff) Validate() error {
	const c = "decorrelated backoff"
	return first(
		positive(c, "Base", b.Base),
		validCap(c, "Max", b.Max, "Base", b.Base),
	)
}

// String returns "decorrelated(Base)", or "decorrelated(Base, Max)" with a cap.
func (b DecorrelatedBackoff) String() string {
	return "decorrelated(" + b.Base.String() + capString(b.Max) + ")"
}

// backoffString formats any backoff for RetryPolicy.String: the package's kinds by their
// String, a custom one by its String method if it has one, else by its type.
func backoffString(b Backoff) string {
	if isNilPointer(b) {
		return fmt.Sprintf("(%T)(nil)", b)
	}
	if s, ok := b.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", b)
}

// isNilPointer reports whether b holds a nil pointer, such as (*FixedBackoff)(nil): a
// Backoff whose methods would panic.
func isNilPointer(b Backoff) bool {
	v := reflect.ValueOf(b)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// validBackoff checks an optional backoff field: nil is fine (the field's default), a nil
// pointer is refused instead of panicking, and any other value must validate; its error is
// reported inside component.
func validBackoff(component, field string, b Backoff) error {
	switch {
	case b == nil:
		return nil
	case isNilPointer(b):
		return invalidField(component, field, "a backoff value, not a nil pointer", fmt.Sprintf("(%T)(nil)", b))
	}
	if err := b.Validate(); err != nil {
		return within(err, component+": "+field)
	}
	return nil
}

// capString formats an optional cap argument: ", D", or nothing when d is 0.
func capString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return ", " + d.String()
}

// maxDuration is the ceiling of every delay.
const maxDuration = time.Duration(math.MaxInt64)

// fromFloat converts nanoseconds to a Duration in [0, maxDuration]: NaN and negatives give
// 0, anything past the largest Duration gives maxDuration.
func fromFloat(ns float64) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= 1<<63:
		return maxDuration
	}
	return time.Duration(ns)
}

// capAt returns d limited to limit, where a limit ≤ 0 means no cap.
func capAt(d, limit time.Duration) time.Duration {
	if limit > 0 && d > limit {
		return limit
	}
	return d
}

// jitter returns a wait drawn from [0, d] by the sample u: u·d, never above d.
func jitter(d time.Duration, u float64) time.Duration {
	return min(fromFloat(float64(d)*unit(u)), d)
}

// unit clamps a random sample into [0, 1); NaN counts as 0.
func unit(u float64) float64 {
	switch {
	case !(u > 0):
		return 0
	case u >= 1:
		return math.Nextafter(1, 0)
	}
	return u
}

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

// marshalBackoff validates b, then encodes it.
func marshalBackoff(b Backoff) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return encodeBackoff(b)
}

// encodeBackoff encodes one of the package's four backoff kinds; a custom Backoff has no
// JSON form.
func encodeBackoff(b Backoff) ([]byte, error) {
	k, ok := backoffs.of(b)
	if !ok {
		return nil, invalidField("backoff", "type", "FixedBackoff, LinearBackoff, ExponentialBackoff or DecorrelatedBackoff to marshal to JSON", fmt.Sprintf("%T", b))
	}
	w, err := k.encode(b)
	if err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// decodeBackoff decodes a backoff document; an absent or null one is nil.
func decodeBackoff(data []byte) (Backoff, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	return backoffs.decode("backoff", data, 0)
}

// The backoffs' JSON documents.
type (
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

func encodeFixed(b FixedBackoff) (any, error) { return fixedJSON{"fixed", duration(b.Interval)}, nil }

func decodeFixed(data []byte, _ int) (FixedBackoff, error) {
	return decodeAs(data, func(w fixedJSON) FixedBackoff { return FixedBackoff{time.Duration(w.Interval)} })
}

func encodeLinear(b LinearBackoff) (any, error) {
	return linearJSON{"linear", duration(b.Initial), duration(b.Step), duration(b.Max)}, nil
}

func decodeLinear(data []byte, _ int) (LinearBackoff, error) {
	return decodeAs(data, func(w linearJSON) LinearBackoff {
		return LinearBackoff{time.Duration(w.Initial), time.Duration(w.Step), time.Duration(w.Max)}
	})
}

func encodeExponential(b ExponentialBackoff) (any, error) {
	return exponentialJSON{"exponential", duration(b.InitialDelay), b.Multiplier, duration(b.MaxDelay), b.Jitter}, nil
}

func decodeExponential(data []byte, _ int) (ExponentialBackoff, error) {
	return decodeAs(data, func(w exponentialJSON) ExponentialBackoff {
		return ExponentialBackoff{time.Duration(w.InitialDelay), w.Multiplier, time.Duration(w.MaxDelay), w.Jitter}
	})
}

func encodeDecorrelated(b DecorrelatedBackoff) (any, error) {
	return decorrelatedJSON{"decorrelated", duration(b.Base), duration(b.Max)}, nil
}

func decodeDecorrelated(data []byte, _ int) (DecorrelatedBackoff, error) {
	return decodeAs(data, func(w decorrelatedJSON) DecorrelatedBackoff {
		return DecorrelatedBackoff{time.Duration(w.Base), time.Duration(w.Max)}
	})
}

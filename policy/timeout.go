package policy

import "time"

// TimeoutPolicy bounds how long an operation may run: at Duration its context is cancelled
// and the call returns ErrTimeout. Duration has no default: zero is invalid. The value is
// immutable and safe to share between goroutines.
//
// By default the timeout is pessimistic: the function runs on a goroutine of its own and
// the call returns at the deadline even if the function ignores its context. A
// cooperative timeout (AsCooperative) runs the function on the caller's goroutine and
// returns when the function returns; it costs no goroutine, timer or allocation, and
// relies on the function to honour its context. In both modes a function that fails
// once the deadline has passed failed because of it: the call returns ErrTimeout, also
// when the function saw the deadline by the clock before the engine's timer fired.
type TimeoutPolicy struct {
	// Duration is the time limit; > 0.
	Duration time.Duration
	// Cooperative runs the function on the caller's goroutine: its context ends at the
	// deadline, and the call returns when the function returns (ErrTimeout if the
	// deadline passed and the function failed; a success after the deadline stands).
	Cooperative bool
}

func (TimeoutPolicy) isPolicy() {}

// Timeout returns a pessimistic TimeoutPolicy of d.
func Timeout(d time.Duration) TimeoutPolicy { return TimeoutPolicy{Duration: d} }

// AsCooperative returns a copy of p that is cooperative: the function runs on the
// caller's goroutine and the call returns when it returns.
func (p TimeoutPolicy) AsCooperative() TimeoutPolicy {
	p.Cooperative = true
	return p
}

// Validate checks Duration > 0.
func (p TimeoutPolicy) Validate() error { return positive("timeout", "Duration", p.Duration) }

// String returns "timeout(D)", followed by ".cooperative()" for a cooperative timeout.
func (p TimeoutPolicy) String() string {
	s := "timeout(" + p.Duration.String() + ")"
	if p.Cooperative {
		s += chained("cooperative", "")
	}
	return s
}

// timeoutJSON is a TimeoutPolicy's JSON document.
type timeoutJSON struct {
	Type        string   `json:"type"`
	Duration    duration `json:"duration"`
	Cooperative bool     `json:"cooperative,omitempty"`
}

func encodeTimeout(p TimeoutPolicy) (any, error) {
	return timeoutJSON{"timeout", duration(p.Duration), p.Cooperative}, nil
}

func decodeTimeout(data []byte, _ int) (TimeoutPolicy, error) {
	return decodeAs(data, func(w timeoutJSON) TimeoutPolicy {
		return TimeoutPolicy{Duration: time.Duration(w.Duration), Cooperative: w.Cooperative}
	})
}

// MarshalJSON writes {"type":"timeout","duration":"30s"}, with "cooperative":true for a
// cooperative timeout. It fails for an invalid policy.
func (p TimeoutPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

package policy

import "time"

// TimeoutPolicy bounds how long an operation may run: at Duration its context is cancelled
// and the call returns ErrTimeout. Duration has no default: zero is invalid. The value is
// immutable and safe to share between goroutines.
type TimeoutPolicy struct {
	// Duration is the time limit; > 0.
	Duration time.Duration
}

func (TimeoutPolicy) isPolicy() {}

// Timeout returns a TimeoutPolicy of d.
func Timeout(d time.Duration) TimeoutPolicy { return TimeoutPolicy{Duration: d} }

// Validate checks Duration > 0.
func (p TimeoutPolicy) Validate() error { return positive("timeout", "Duration", p.Duration) }

// String returns "timeout(D)".
func (p TimeoutPolicy) String() string { return "timeout(" + p.Duration.String() + ")" }

// timeoutJSON is a TimeoutPolicy's JSON document.
type timeoutJSON struct {
	Type     string   `json:"type"`
	Duration duration `json:"duration"`
}

func encodeTimeout(p TimeoutPolicy) (any, error) {
	return timeoutJSON{"timeout", duration(p.Duration)}, nil
}

func decodeTimeout(data []byte, _ int) (TimeoutPolicy, error) {
	return decodeAs(data, func(w timeoutJSON) TimeoutPolicy { return TimeoutPolicy{time.Duration(w.Duration)} })
}

// MarshalJSON writes {"type":"timeout","duration":"30s"}. It fails for an invalid policy.
func (p TimeoutPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

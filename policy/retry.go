package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// RetryPolicy runs an operation up to MaxAttempts times in all (the first attempt counts),
// waiting Backoff.Delay(n) before retry n, as long as the error IsRetryable. MaxAttempts has
// no default: zero is invalid. A nil Backoff means DefaultBackoff(). The value is immutable
// and safe to share between goroutines.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included; it must be ≥ 1.
	MaxAttempts int
	// Backoff gives the wait before each retry; nil means DefaultBackoff().
	Backoff Backoff
	// Budget names the retry budget the retries draw on ("" for none): each operation's
	// first attempt deposits, each retry withdraws, and a refused retry ends the loop
	// with an error matching ErrBudgetExhausted and the last attempt's error.
	Budget string
}

func (RetryPolicy) isPolicy() {}

// Retry returns a RetryPolicy of maxAttempts attempts in all, with DefaultBackoff().
// It does not allocate.
func Retry(maxAttempts int) RetryPolicy {
	return RetryPolicy{MaxAttempts: maxAttempts, Backoff: defaultBackoff}
}

// WithBackoff returns a copy of p that waits b between attempts (nil: DefaultBackoff()).
func (p RetryPolicy) WithBackoff(b Backoff) RetryPolicy {
	p.Backoff = b
	return p
}

// WithBudget returns a copy of p whose retries draw on the retry budget name (see
// BudgetPolicy; an unregistered name is created as DefaultBudget()).
func (p RetryPolicy) WithBudget(name string) RetryPolicy {
	p.Budget = name
	return p
}

// EffectiveBackoff returns the backoff the engine applies: p.Backoff, or DefaultBackoff()
// when it is nil.
func (p RetryPolicy) EffectiveBackoff() Backoff {
	if p.Backoff == nil {
		return defaultBackoff
	}
	return p.Backoff
}

// Validate checks MaxAttempts ≥ 1 and, when set, the backoff.
func (p RetryPolicy) Validate() error {
	if err := atLeast("retry", "MaxAttempts", p.MaxAttempts, 1); err != nil {
		return err
	}
	if isNilPointer(p.Backoff) {
		return invalidField("retry", "Backoff", "a backoff value, not a nil pointer", fmt.Sprintf("(%T)(nil)", p.Backoff))
	}
	if p.Backoff != nil {
		if err := p.Backoff.Validate(); err != nil {
			return within(err, "retry")
		}
	}
	return validUTF8("retry", "Budget", p.Budget)
}

// String returns "retry(N)", followed by ".backoff(...)" when the backoff is set and is
// not DefaultBackoff().
func (p RetryPolicy) String() string {
	s := "retry(" + strconv.Itoa(p.MaxAttempts) + ")"
	if p.Backoff != nil && !isDefaultBackoff(p.Backoff) {
		s += chained("backoff", backoffString(p.Backoff))
	}
	if p.Budget != "" {
		s += chained("budget", strconv.Quote(p.Budget))
	}
	return s
}

// retryJSON is a RetryPolicy's JSON document.
type retryJSON struct {
	Type        string          `json:"type"`
	MaxAttempts int             `json:"max_attempts"`
	Backoff     json.RawMessage `json:"backoff,omitempty"`
	Budget      string          `json:"budget,omitempty"`
}

func encodeRetry(p RetryPolicy) (any, error) {
	w := retryJSON{Type: "retry", MaxAttempts: p.MaxAttempts, Budget: p.Budget}
	if p.Backoff != nil {
		b, err := encodeBackoff(p.Backoff)
		if err != nil {
			return nil, within(err, "retry")
		}
		w.Backoff = b
	}
	return w, nil
}

func decodeRetry(data []byte, _ int) (RetryPolicy, error) {
	var w retryJSON
	if err := decodeStrict(data, &w); err != nil {
		return RetryPolicy{}, err
	}
	b, err := decodeBackoff(w.Backoff)
	if err != nil {
		return RetryPolicy{}, within(err, "retry: backoff")
	}
	return RetryPolicy{MaxAttempts: w.MaxAttempts, Backoff: b, Budget: w.Budget}, nil
}

// MarshalJSON writes {"type":"retry","max_attempts":N,"backoff":{...}}, leaving out a nil
// backoff. It fails for an invalid policy and for a custom Backoff type.
func (p RetryPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

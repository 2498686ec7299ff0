package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
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
	// Classifier names a classifier registered on the engine that judges each
	// attempt's outcome, its value included: Failure retries (when the error, if any, is
	// retryable), Abort stops at once and returns the outcome, Success and Ignore return
	// it. "" (or "default"): a nil error is a success, any other error a failure.
	Classifier string
	// MaxDuration bounds the retrying: no attempt starts at or after the first attempt's
	// start + MaxDuration, and a wait that would end there is not slept (the call returns
	// ErrRetryExhausted with the last error at once). It does not cancel a running
	// attempt. 0: no bound.
	MaxDuration time.Duration
	// MaxRetryAfter is the longest server hint (an error's RetryAfter) the retry waits
	// for; a longer hint stops retrying, and the last error, which carries it, is
	// returned. 0 means 1 minute.
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds each attempt: the policy behaves exactly as
	// Combine(Retry(n), Timeout(AttemptTimeout)). 0: none.
	AttemptTimeout time.Duration
	// Budget names the retry budget the retries draw on ("" for none): each operation's
	// first attempt deposits, each retry withdraws, and a refused retry ends the loop
	// with an error matching ErrBudgetExhausted and the last attempt's error.
	Budget string
}

// DefaultMaxRetryAfter is the longest server hint a retry waits for when its
// MaxRetryAfter is 0.
const DefaultMaxRetryAfter = time.Minute

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

// WithClassifier returns a copy of p whose attempts are judged by the classifier
// registered under name (see RetryPolicy.Classifier).
func (p RetryPolicy) WithClassifier(name string) RetryPolicy {
	p.Classifier = name
	return p
}

// WithMaxDuration returns a copy of p that starts no attempt at or after d from the
// first attempt's start (see RetryPolicy.MaxDuration).
func (p RetryPolicy) WithMaxDuration(d time.Duration) RetryPolicy {
	p.MaxDuration = d
	return p
}

// WithMaxRetryAfter returns a copy of p that stops retrying when a server hint is
// longer than d (see RetryPolicy.MaxRetryAfter).
func (p RetryPolicy) WithMaxRetryAfter(d time.Duration) RetryPolicy {
	p.MaxRetryAfter = d
	return p
}

// WithAttemptTimeout returns a copy of p whose every attempt is bounded by d: exactly
// Combine(p, Timeout(d)).
func (p RetryPolicy) WithAttemptTimeout(d time.Duration) RetryPolicy {
	p.AttemptTimeout = d
	return p
}

// WithBudget returns a copy of p whose retries draw on the retry budget name (see
// BudgetPolicy; an unregistered name is created as DefaultBudget()).
func (p RetryPolicy) WithBudget(name string) RetryPolicy {
	p.Budget = name
	return p
}

// EffectiveMaxRetryAfter returns the longest hint the retry waits for: MaxRetryAfter,
// or DefaultMaxRetryAfter when it is 0.
func (p RetryPolicy) EffectiveMaxRetryAfter() time.Duration {
	if p.MaxRetryAfter == 0 {
		return DefaultMaxRetryAfter
	}
	return p.MaxRetryAfter
}

// EffectiveBackoff returns the backoff the engine applies: p.Backoff, or DefaultBackoff()
// when it is nil.
func (p RetryPolicy) EffectiveBackoff() Backoff {
	if p.Backoff == nil {
		return defaultBackoff
	}
	return p.Backoff
}

// Validate checks MaxAttempts ≥ 1, the backoff when set, a Classifier name of valid
// UTF-8, and MaxDuration, MaxRetryAfter and AttemptTimeout ≥ 0.
func (p RetryPolicy) Validate() error {
	if err := first(
		atLeast("retry", "MaxAttempts", p.MaxAttempts, 1),
		validUTF8("retry", "Classifier", p.Classifier),
		notNegative("retry", "MaxDuration", p.MaxDuration),
		notNegative("retry", "MaxRetryAfter", p.MaxRetryAfter),
		notNegative("retry", "AttemptTimeout", p.AttemptTimeout),
		validUTF8("retry", "Budget", p.Budget),
	); err != nil {
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
	return nil
}

// String returns "retry(N)", followed by ".backoff(...)" when the backoff is set and is
// not DefaultBackoff(), then the other fields in order, each left out when zero:
// ".classifier(...)", ".max_duration(D)", ".max_retry_after(D)" and
// ".attempt_timeout(D)" and ".budget(...)", such as `retry(3).attempt_timeout(2s)`.
func (p RetryPolicy) String() string {
	s := "retry(" + strconv.Itoa(p.MaxAttempts) + ")"
	if p.Backoff != nil && !isDefaultBackoff(p.Backoff) {
		s += chained("backoff", backoffString(p.Backoff))
	}
	if p.Classifier != "" {
		s += chained("classifier", strconv.Quote(p.Classifier))
	}
	if p.MaxDuration != 0 {
		s += chained("max_duration", p.MaxDuration.String())
	}
	if p.MaxRetryAfter != 0 {
		s += chained("max_retry_after", p.MaxRetryAfter.String())
	}
	if p.AttemptTimeout != 0 {
		s += chained("attempt_timeout", p.AttemptTimeout.String())
	}
	if p.Budget != "" {
		s += chained("budget", strconv.Quote(p.Budget))
	}
	return s
}

// retryJSON is a RetryPolicy's JSON document.
type retryJSON struct {
	Type           string          `json:"type"`
	MaxAttempts    int             `json:"max_attempts"`
	Backoff        json.RawMessage `json:"backoff,omitempty"`
	Classifier     string          `json:"classifier,omitempty"`
	MaxDuration    duration        `json:"max_duration,omitempty"`
	MaxRetryAfter  duration        `json:"max_retry_after,omitempty"`
	AttemptTimeout duration        `json:"attempt_timeout,omitempty"`
	Budget         string          `json:"budget,omitempty"`
}

func encodeRetry(p RetryPolicy) (any, error) {
	w := retryJSON{Type: "retry", MaxAttempts: p.MaxAttempts, Classifier: p.Classifier, MaxDuration: duration(p.MaxDuration),
		MaxRetryAfter: duration(p.MaxRetryAfter), AttemptTimeout: duration(p.AttemptTimeout), Budget: p.Budget}
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
	return RetryPolicy{MaxAttempts: w.MaxAttempts, Backoff: b, Classifier: w.Classifier, MaxDuration: time.Duration(w.MaxDuration),
		MaxRetryAfter: time.Duration(w.MaxRetryAfter), AttemptTimeout: time.Duration(w.AttemptTimeout), Budget: w.Budget}, nil
}

// MarshalJSON writes {"type":"retry","max_attempts":N,"backoff":{...}} and the keys
// "classifier", "max_duration", "max_retry_after" and "attempt_timeout", leaving out a
// nil backoff and zero fields. It fails for an invalid policy and for a custom Backoff
// type.
func (p RetryPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

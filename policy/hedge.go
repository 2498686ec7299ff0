package policy

import (
	"strconv"
	"time"
)

// MaxHedges is the most hedges a HedgePolicy may start besides the primary attempt.
const MaxHedges = 10

// HedgePolicy cuts tail latency by starting extra attempts of a slow operation: the
// primary attempt starts at once, and hedge k (1 ≤ k ≤ MaxHedges) starts Delay after the
// previous attempt started, unless a result was accepted. An attempt that fails
// retryably starts the next one at once. The first success — or the first non-retryable
// failure, or a classifier's Abort — is returned at once and the other attempts'
// contexts are cancelled; the call never waits for them. When every attempt failed, the
// error matches ErrRetryExhausted and the error of the attempt that failed last.
//
// Delay 0 starts every attempt at once. The operation must be safe to run more than once
// concurrently (idempotent). The zero value is valid: one hedge, started at once. The
// value is immutable and safe to share between goroutines.
type HedgePolicy struct {
	// Delay is how long after an attempt started the next one starts; ≥ 0.
	Delay time.Duration
	// MaxHedges is how many attempts may start besides the primary: 0 means 1, ≤ 10.
	MaxHedges int
	// Budget names a retry budget each hedge (not the primary) withdraws from; refused,
	// no more hedges start and the running attempts go on. "" for none.
	Budget string
	// Classifier names a registered classifier that judges each attempt's outcome
	// (Failure starts the next attempt, Abort stops them all); "" is the default: a nil
	// error is a success, a retryable error a failure.
	Classifier string
}

func (HedgePolicy) isPolicy() {}

// Hedge returns a HedgePolicy that starts one hedge delay after the primary attempt.
func Hedge(delay time.Duration) HedgePolicy { return HedgePolicy{Delay: delay} }

// WithMaxHedges returns a copy of p that starts up to n hedges (0 means 1; ≤ 10).
func (p HedgePolicy) WithMaxHedges(n int) HedgePolicy {
	p.MaxHedges = n
	return p
}

// WithBudget returns a copy of p whose hedges withdraw from the retry budget name.
func (p HedgePolicy) WithBudget(name string) HedgePolicy {
	p.Budget = name
	return p
}

// WithClassifier returns a copy of p whose attempts are judged by the classifier name.
func (p HedgePolicy) WithClassifier(name string) HedgePolicy {
	p.Classifier = name
	return p
}

// EffectiveMaxHedges returns the hedges p may start: MaxHedges, or 1 when it is 0.
func (p HedgePolicy) EffectiveMaxHedges() int {
	if p.MaxHedges == 0 {
		return 1
	}
	return p.MaxHedges
}

// Validate checks Delay ≥ 0, MaxHedges in [0, 10], and that Budget and Classifier are
// valid UTF-8.
func (p HedgePolicy) Validate() error {
	const c = "hedge"
	if err := notNegative(c, "Delay", p.Delay); err != nil {
		return err
	}
	if p.MaxHedges < 0 || p.MaxHedges > MaxHedges {
		return invalidField(c, "MaxHedges", "in [0, 10] (0 means 1)", p.MaxHedges)
	}
	return first(validUTF8(c, "Budget", p.Budget), validUTF8(c, "Classifier", p.Classifier))
}

// String returns "hedge(D)" followed by ".max_hedges(N)", ".budget(...)" and
// ".classifier(...)" for the fields that are set:
// hedge(50ms).max_hedges(2).budget("backend").
func (p HedgePolicy) String() string {
	s := "hedge(" + p.Delay.String() + ")"
	if p.MaxHedges != 0 {
		s += chained("max_hedges", strconv.Itoa(p.MaxHedges))
	}
	if p.Budget != "" {
		s += chained("budget", strconv.Quote(p.Budget))
	}
	if p.Classifier != "" {
		s += chained("classifier", strconv.Quote(p.Classifier))
	}
	return s
}

// hedgeJSON is a HedgePolicy's JSON document.
type hedgeJSON struct {
	Type       string   `json:"type"`
	Delay      duration `json:"delay"`
	MaxHedges  int      `json:"max_hedges,omitempty"`
	Budget     string   `json:"budget,omitempty"`
	Classifier string   `json:"classifier,omitempty"`
}

func encodeHedge(p HedgePolicy) (any, error) {
	return hedgeJSON{"hedge", duration(p.Delay), p.MaxHedges, p.Budget, p.Classifier}, nil
}

func decodeHedge(data []byte, _ int) (HedgePolicy, error) {
	return decodeAs(data, func(w hedgeJSON) HedgePolicy {
		return HedgePolicy{Delay: time.Duration(w.Delay), MaxHedges: w.MaxHedges, Budget: w.Budget, Classifier: w.Classifier}
	})
}

// MarshalJSON writes {"type":"hedge","delay":"50ms","max_hedges":2,"budget":"backend"},
// leaving out zero max_hedges, budget and classifier. It fails for an invalid policy.
func (p HedgePolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

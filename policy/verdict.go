package policy

import "strconv"

// Verdict is how a stage counts one outcome of an operation: as a success, a failure,
// neither (Ignore), or a failure that must stop retries and hedges at once (Abort). The
// zero value is Success.
type Verdict int

// The verdicts a Classifier returns.
const (
	// Success counts the outcome as a success.
	Success Verdict = iota
	// Failure counts the outcome as a failure: retried when retryable, counted by
	// breakers.
	Failure
	// Ignore counts the outcome as neither: breakers do not count it, and a half-open
	// probe that ends so frees its slot.
	Ignore
	// Abort is a failure that stops retries and hedges at once.
	Abort
)

// String returns "success", "failure", "ignore" or "abort".
func (v Verdict) String() string {
	switch v {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignore:
		return "ignore"
	case Abort:
		return "abort"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Classifier judges one outcome of an operation: the value fn returned (nil when the
// operation returned no value or a stage refused it) and its error. Classifiers are
// registered on the engine by name and named by policies, so policies stay data. A
// Classifier may be called from many goroutines at once and must not block.
type Classifier func(v any, err error) Verdict

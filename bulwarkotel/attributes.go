package bulwarkotel

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/bulwark-go/bulwark/policy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// errorKinds names the engine's sentinel errors, the names policy.FallbackKinds uses
// where it has one. ErrCircuitForcedOpen comes before ErrCircuitOpen, which it also
// matches.
var errorKinds = []struct {
	err  error
	name string
}{
	{policy.ErrCircuitForcedOpen, "circuit_forced_open"},
	{policy.ErrCircuitOpen, "circuit_open"},
	{policy.ErrRateLimited, "rate_limited"},
	{policy.ErrTimeout, "timeout"},
	{policy.ErrRetryExhausted, "retry_exhausted"},
	{policy.ErrCancelled, "cancelled"},
	{policy.ErrInvalidPolicy, "invalid_policy"},
	{policy.ErrPanic, "panic"},
	{policy.ErrShutdown, "shutdown"},
	{policy.ErrOverloaded, "overloaded"},
	{policy.ErrConcurrencyLimited, "concurrency_limited"},
	{policy.ErrBudgetExhausted, "budget_exhausted"},
}

// kindOf names the kind of err, a bounded set of words that never holds the error's
// text: the name of the sentinel Kind of a *policy.Error at the top of err (a sentinel
// added to the engine later is named from its own message, "policy: x y" giving "x_y");
// else the first sentinel err matches; else "cancelled" or "deadline_exceeded" for the
// context errors, and "failure" for anything else — the function's own error, which no
// stage acted on. A nil err is "".
func kindOf(err error) string {
	if err == nil {
		return ""
	}
	if pe, ok := err.(*policy.Error); ok && pe != nil {
		if pe.Kind == nil {
			return "failure"
		}
		return sentinelName(pe.Kind)
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	return "failure"
}

// causeKind is the kind of a failure that caused a retry or a fallback: kindOf, and
// "failure" for a nil err (a value a classifier judged a failure).
func causeKind(err error) string {
	if err == nil {
		return "failure"
	}
	return kindOf(err)
}

// outcomeOf is an operation's outcome: "success" for a nil err, else its kind.
func outcomeOf(err error) string {
	if err == nil {
		return "success"
	}
	return kindOf(err)
}

// derivedKinds caches the names of sentinels missing from errorKinds, at most
// maxDerivedKinds of them (a Kind is one of the engine's sentinels, a short list).
var derivedKinds sync.Map

const maxDerivedKinds = 64

var derivedCount struct {
	sync.Mutex
	n int
}

// sentinelName names kind, a sentinel error.
func sentinelName(kind error) string {
	for _, k := range errorKinds {
		if kind == k.err {
			return k.name
		}
	}
	if name, ok := derivedKinds.Load(kind); ok {
		return name.(string)
	}
	msg, ok := strings.CutPrefix(kind.Error(), "policy: ")
	if !ok || msg == "" || len(msg) > 40 {
		return "other"
	}
	name := strings.ReplaceAll(msg, " ", "_")
	derivedCount.Lock()
	defer derivedCount.Unlock()
	if derivedCount.n < maxDerivedKinds {
		if _, loaded := derivedKinds.LoadOrStore(kind, name); !loaded {
			derivedCount.n++
		}
	}
	return name
}

// The attribute sets of the metrics, by signal.
const (
	sigOperation = iota // a: operation, b: outcome
	sigAttempt          // a: operation, b: stage, c: verdict, hedge
	sigRetry            // a: operation, b: the failure's kind
	sigRejection        // a: operation, b: stage kind, c: stage name
	sigFallback         // a: operation, b: the failure's kind
)

// setKey identifies an attribute set.
type setKey struct {
	sig     uint8
	a, b, c string
	hedge   bool
}

// build returns k's attribute set.
func (k setKey) build() attribute.Set {
	switch k.sig {
	case sigOperation:
		return attribute.NewSet(keyOperation.String(k.a), keyOutcome.String(k.b))
	case sigAttempt:
		return attribute.NewSet(keyOperation.String(k.a), keyStage.String(k.b), keyOutcome.String(k.c), keyHedge.Bool(k.hedge))
	case sigRejection:
		return attribute.NewSet(keyOperation.String(k.a), keyKind.String(k.b), keyName.String(k.c))
	default: // sigRetry, sigFallback
		return attribute.NewSet(keyOperation.String(k.a), keyErrorType.String(k.b))
	}
}

// maxSets bounds a setCache: past it (many operation IDs or stage names), sets are
// built for each measurement instead of kept.
const maxSets = 4096

// setCache keeps the measurement options of the attribute sets in use, so a
// measurement with a known set builds none.
type setCache struct {
	mu sync.RWMutex
	m  map[setKey]metric.MeasurementOption
}

// get returns the measurement option of k's attribute set.
func (c *setCache) get(k setKey) metric.MeasurementOption {
	c.mu.RLock()
	opt, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return opt
	}
	opt = metric.WithAttributeSet(k.build())
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[k]; ok {
		return prev
	}
	if c.m == nil {
		c.m = make(map[setKey]metric.MeasurementOption)
	}
	if len(c.m) < maxSets {
		c.m[k] = opt
	}
	return opt
}

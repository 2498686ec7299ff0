package bulwarkhttp

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/bulwark-go/bulwark/messages"
	"github.com/bulwark-go/bulwark/supervisor"
)

// StatusVersion is the version of the JSON schema of StatusSnapshot and StatusChange. It
// grows only when a key changes meaning or goes away; new keys may appear without it.
const StatusVersion = 1

// StatusSnapshot is the document the status page serves as JSON (GET with
// Accept: application/json, or ?format=json), and the data of each "snapshot"
// server-sent event: the engine's totals and every live named breaker, limiter,
// bulkhead and retry budget, each list sorted by name and never null. It holds names and
// numbers only, never an error's text. Counters count since the engine (or the named
// actor) started; rates are left to the reader, as differences between two snapshots
// over their At.
type StatusSnapshot struct {
	// Version is StatusVersion.
	Version int `json:"version"`
	// At is when the snapshot was taken, by the server's clock.
	At time.Time `json:"at"`
	// Controls tells whether the handler accepts manual controls (WithControls); whether
	// a given request may use them is for the authorize function to say.
	Controls bool `json:"controls"`
	// Engine is the engine's totals.
	Engine StatusEngine `json:"engine"`
	// Breakers, Limiters, Bulkheads and Budgets are the live named actors.
	Breakers  []StatusBreaker  `json:"breakers"`
	Limiters  []StatusLimiter  `json:"limiters"`
	Bulkheads []StatusBulkhead `json:"bulkheads"`
	Budgets   []StatusBudget   `json:"budgets"`
}

// StatusEngine is the engine's totals in a StatusSnapshot: the counters of
// supervisor.Metrics under snake_case keys.
type StatusEngine struct {
	Operations           uint64 `json:"operations"`             // Metrics.TotalOperations
	Successful           uint64 `json:"successful"`             // Metrics.SuccessfulOperations
	Failed               uint64 `json:"failed"`                 // Metrics.FailedOperations
	RetryAttempts        uint64 `json:"retry_attempts"`         // Metrics.RetryAttempts
	CircuitBreakerTrips  uint64 `json:"circuit_breaker_trips"`  // Metrics.CircuitBreakerTrips
	RateLimitHits        uint64 `json:"rate_limit_hits"`        // Metrics.RateLimitHits
	ConcurrencyLimitHits uint64 `json:"concurrency_limit_hits"` // Metrics.ConcurrencyLimitHits
	Timeouts             uint64 `json:"timeouts"`               // Metrics.TimeoutCount
	AbandonedCalls       uint64 `json:"abandoned_calls"`        // Metrics.AbandonedCalls
	Panics               uint64 `json:"panics"`                 // Metrics.Panics
	ActorRestarts        uint64 `json:"actor_restarts"`         // Metrics.ActorRestarts
	DroppedEvents        uint64 `json:"dropped_events"`         // Metrics.DroppedEvents
	HedgesStarted        uint64 `json:"hedges_started"`         // Metrics.HedgesStarted
}

// StatusBreaker is one circuit breaker in a StatusSnapshot (see messages.BreakerStats).
type StatusBreaker struct {
	Name string `json:"name"`
	// State is messages.BreakerState's String: closed, open, half_open, forced_open,
	// disabled or metrics_only.
	State string `json:"state"`
	// FailureRate and SlowCallRate are over the current window, 0 to 1 (window modes).
	FailureRate  float64 `json:"failure_rate"`
	SlowCallRate float64 `json:"slow_call_rate"`
	// WindowCalls and WindowSlowCalls are the calls in the current window (window modes).
	WindowCalls     uint64 `json:"window_calls"`
	WindowSlowCalls uint64 `json:"window_slow_calls"`
	// ConsecutiveFailures is the failures in a row a closed consecutive breaker counted.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Successes, Failures and Rejected count calls let through and refused.
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	Rejected  uint64 `json:"rejected"`
	// Trips counts moves into open; ConsecutiveTrips those since it last closed.
	Trips            uint64 `json:"trips"`
	ConsecutiveTrips int    `json:"consecutive_trips"`
	// LastChange is when the state last changed.
	LastChange time.Time `json:"last_change"`
	// OpenUntil is when an open breaker (or one forced open for a while) is due for
	// half-open; null otherwise, and for a breaker forced open until reset.
	OpenUntil *time.Time `json:"open_until"`
}

// StatusLimiter is one rate limiter in a StatusSnapshot (see messages.LimiterStats).
type StatusLimiter struct {
	Name string `json:"name"`
	// Tokens is the tokens available now, fractions included.
	Tokens float64 `json:"tokens"`
	// Admitted and Rejected count calls let through and refused.
	Admitted uint64 `json:"admitted"`
	Rejected uint64 `json:"rejected"`
	// Waiting is the callers queued for a token.
	Waiting int `json:"waiting"`
}

// StatusBulkhead is one bulkhead in a StatusSnapshot (see messages.BulkheadStats).
type StatusBulkhead struct {
	Name string `json:"name"`
	// Limit is the permits; InFlight those held; Queued the callers waiting for one;
	// MaxInFlight the most ever held at once.
	Limit       int `json:"limit"`
	InFlight    int `json:"in_flight"`
	Queued      int `json:"queued"`
	MaxInFlight int `json:"max_in_flight"`
	// Admitted and Rejected count calls given a permit and refused.
	Admitted uint64 `json:"admitted"`
	Rejected uint64 `json:"rejected"`
}

// StatusBudget is one retry budget in a StatusSnapshot (see messages.BudgetStats).
type StatusBudget struct {
	Name string `json:"name"`
	// Balance is the retries the budget allows now (negative while overdrawn).
	Balance float64 `json:"balance"`
	// Deposits, Withdrawals and Refused count first attempts paid in, retries and hedges
	// allowed, and retries and hedges refused.
	Deposits    uint64 `json:"deposits"`
	Withdrawals uint64 `json:"withdrawals"`
	Refused     uint64 `json:"refused"`
}

// StatusChange is the data of a "change" server-sent event: one event of
// supervisor.Engine.Subscribe, by its names and reason code only.
type StatusChange struct {
	// Kind is the event's kind (supervisor.EventKind's String), such as
	// breaker_state_changed or limiter_saturated.
	Kind string `json:"kind"`
	// Name is the breaker's, limiter's or bulkhead's name.
	Name string `json:"name"`
	// From, To and Reason are set for a breaker's events only.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
	// At is when it happened.
	At time.Time `json:"at"`
}

// snapshotOf turns the engine's metrics into the status document.
func snapshotOf(m supervisor.Metrics, at time.Time, controls bool) StatusSnapshot {
	return StatusSnapshot{
		Version:  StatusVersion,
		At:       at,
		Controls: controls,
		Engine: StatusEngine{
			Operations:           m.TotalOperations,
			Successful:           m.SuccessfulOperations,
			Failed:               m.FailedOperations,
			RetryAttempts:        m.RetryAttempts,
			CircuitBreakerTrips:  m.CircuitBreakerTrips,
			RateLimitHits:        m.RateLimitHits,
			ConcurrencyLimitHits: m.ConcurrencyLimitHits,
			Timeouts:             m.TimeoutCount,
			AbandonedCalls:       m.AbandonedCalls,
			Panics:               m.Panics,
			ActorRestarts:        m.ActorRestarts,
			DroppedEvents:        m.DroppedEvents,
			HedgesStarted:        m.HedgesStarted,
		},
		Breakers:  rows(m.Breakers, breakerRow),
		Limiters:  rows(m.Limiters, limiterRow),
		Bulkheads: rows(m.Bulkheads, bulkheadRow),
		Budgets:   rows(m.Budgets, budgetRow),
	}
}

// rows converts a Metrics map into its rows, sorted by name; never nil.
func rows[S, R any](stats map[string]S, row func(string, S) R) []R {
	out := make([]R, 0, len(stats))
	for _, name := range slices.Sorted(maps.Keys(stats)) {
		out = append(out, row(name, stats[name]))
	}
	return out
}

func breakerRow(name string, s messages.BreakerStats) StatusBreaker {
	r := StatusBreaker{
		Name: name, State: s.State.String(),
		FailureRate: finite(s.FailureRate), SlowCallRate: finite(s.SlowCallRate),
		WindowCalls: s.Calls, WindowSlowCalls: s.SlowCalls, ConsecutiveFailures: s.ConsecutiveFailures,
		Successes: s.Successes, Failures: s.Failures, Rejected: s.Rejected,
		Trips: s.Trips, ConsecutiveTrips: s.ConsecutiveTrips, LastChange: s.LastChange,
	}
	if !s.OpenUntil.IsZero() {
		until := s.OpenUntil
		r.OpenUntil = &until
	}
	return r
}

func limiterRow(name string, s messages.LimiterStats) StatusLimiter {
	return StatusLimiter{Name: name, Tokens: finite(s.Tokens), Admitted: s.Allowed, Rejected: s.Rejected, Waiting: s.Waiting}
}

func bulkheadRow(name string, s messages.BulkheadStats) StatusBulkhead {
	return StatusBulkhead{Name: name, Limit: s.Limit, InFlight: s.InFlight, Queued: s.Queued,
		MaxInFlight: s.MaxInFlight, Admitted: s.Admitted, Rejected: s.Rejected}
}

func budgetRow(name string, s messages.BudgetStats) StatusBudget {
	return StatusBudget{Name: name, Balance: finite(s.Balance), Deposits: s.Deposits,
		Withdrawals: s.Withdrawals, Refused: s.Refused}
}

// changeOf turns an engine event into a "change" event's data.
func changeOf(ev supervisor.Event) StatusChange {
	c := StatusChange{Kind: ev.Kind.String(), Name: ev.Name, At: ev.At}
	if ev.Kind == supervisor.BreakerStateChanged || ev.Kind == supervisor.BreakerThresholdExceeded {
		c.From, c.To, c.Reason = ev.From.String(), ev.To.String(), ev.Reason
	}
	return c
}

// finite maps NaN and the infinities, which JSON cannot carry, to 0.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

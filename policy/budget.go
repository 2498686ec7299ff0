package policy

import (
	"math"
	"strconv"
	"time"
)

// BudgetPolicy configures a retry budget: a token bucket, shared by every caller of one
// name, that caps retries and hedges as a share of first attempts. It follows Finagle's
// TokenRetryBudget exactly: each operation's first attempt through a policy that names
// the budget deposits, each retry or hedge withdraws one unit, a deposit counts for TTL,
// and a reserve of MinPerSecond × TTL retries is always there (so a quiet service can
// still retry). Over any interval of TTL, retries ≤ MinPerSecond·TTL + Ratio·deposits + 1.
//
// A BudgetPolicy is registered (Engine.RegisterBudget) and named by
// RetryPolicy.WithBudget and HedgePolicy.WithBudget, never combined or executed: it
// implements Policy only so that it can be configured from JSON. In a struct literal the
// zeros are literal — Ratio 0 gives no credit per deposit, MinPerSecond 0 no reserve —
// except TTL, where 0 means 10s. The value is immutable and safe to share.
type BudgetPolicy struct {
	// Ratio is the retries each deposit allows, in [0, 1000]; 0.2 lets 20 % of first
	// attempts be retried.
	Ratio float64
	// MinPerSecond is the reserve of retries per second, ≥ 0; the reserve is
	// MinPerSecond × TTL (in whole seconds).
	MinPerSecond int
	// TTL is how long a deposit counts: 0 (10s) or in [1s, 60s].
	TTL time.Duration
}

func (BudgetPolicy) isPolicy() {}

// Budget defaults (Finagle's): RetryBudget's MinPerSecond and TTL, and the ratio of a
// budget created on first use of an unregistered name.
const (
	DefaultBudgetRatio        = 0.2
	DefaultBudgetMinPerSecond = 10
	DefaultBudgetTTL          = 10 * time.Second
	maxBudgetRatio            = 1000
	maxBudgetMinPerSecond     = 1_000_000
)

// RetryBudget returns a BudgetPolicy allowing ratio retries per first attempt, with
// Finagle's defaults: a reserve of 10 retries per second and a TTL of 10s.
func RetryBudget(ratio float64) BudgetPolicy {
	return BudgetPolicy{Ratio: ratio, MinPerSecond: DefaultBudgetMinPerSecond, TTL: DefaultBudgetTTL}
}

// DefaultBudget is the budget an unregistered name is created with: RetryBudget(0.2).
func DefaultBudget() BudgetPolicy { return RetryBudget(DefaultBudgetRatio) }

// WithMinPerSecond returns a copy of p with a reserve of n retries per second.
func (p BudgetPolicy) WithMinPerSecond(n int) BudgetPolicy {
	p.MinPerSecond = n
	return p
}

// WithTTL returns a copy of p whose deposits count for d.
func (p BudgetPolicy) WithTTL(d time.Duration) BudgetPolicy {
	p.TTL = d
	return p
}

// EffectiveTTL returns the TTL the budget applies: TTL, or 10s when it is 0.
func (p BudgetPolicy) EffectiveTTL() time.Duration {
	if p.TTL == 0 {
		return DefaultBudgetTTL
	}
	return p.TTL
}

// Validate checks Ratio in [0, 1000], MinPerSecond in [0, 1000000] and TTL 0 or in
// [1s, 60s].
func (p BudgetPolicy) Validate() error {
	const c = "retry_budget"
	r := p.Ratio
	if err := holds(r >= 0 && r <= maxBudgetRatio && !math.IsNaN(r), c, "Ratio", "in [0, 1000]", r); err != nil {
		return err
	}
	if err := atLeast(c, "MinPerSecond", p.MinPerSecond, 0); err != nil {
		return err
	}
	if p.MinPerSecond > maxBudgetMinPerSecond {
		return invalidField(c, "MinPerSecond", "≤ 1000000", p.MinPerSecond)
	}
	if p.TTL != 0 && (p.TTL < time.Second || p.TTL > time.Minute) {
		return invalidField(c, "TTL", "0 (10s) or in [1s, 60s]", p.TTL)
	}
	return nil
}

// String returns "retry_budget(R).min_per_second(N)", followed by ".ttl(D)" when TTL is
// set: RetryBudget(0.2) is retry_budget(0.2).min_per_second(10).ttl(10s).
func (p BudgetPolicy) String() string {
	s := "retry_budget(" + formatFloat(p.Ratio) + ")" + chained("min_per_second", strconv.Itoa(p.MinPerSecond))
	if p.TTL != 0 {
		s += chained("ttl", p.TTL.String())
	}
	return s
}

// budgetJSON is a BudgetPolicy's JSON document.
type budgetJSON struct {
	Type         string   `json:"type"`
	Ratio        float64  `json:"ratio"`
	MinPerSecond int      `json:"min_per_second"`
	TTL          duration `json:"ttl,omitempty"`
}

func encodeBudget(p BudgetPolicy) (any, error) {
	return budgetJSON{"retry_budget", p.Ratio, p.MinPerSecond, duration(p.TTL)}, nil
}

func decodeBudget(data []byte, _ int) (BudgetPolicy, error) {
	return decodeAs(data, func(w budgetJSON) BudgetPolicy {
		return BudgetPolicy{Ratio: w.Ratio, MinPerSecond: w.MinPerSecond, TTL: time.Duration(w.TTL)}
	})
}

// MarshalJSON writes {"type":"retry_budget","ratio":0.2,"min_per_second":10,"ttl":"10s"},
// leaving out a zero TTL. It fails for an invalid policy.
func (p BudgetPolicy) MarshalJSON() ([]byte, error) { return marshalPolicy(p) }

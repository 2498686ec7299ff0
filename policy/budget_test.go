package policy_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// BG-1: RetryBudget(r) is Ratio r with Finagle's defaults; struct-literal zeros are
// literal except TTL.
func TestRetryBudgetDefaults(t *testing.T) {
	if got, want := policy.RetryBudget(0.3), (policy.BudgetPolicy{Ratio: 0.3, MinPerSecond: 10, TTL: 10 * time.Second}); got != want {
		t.Fatalf("RetryBudget(0.3) = %+v, want %+v", got, want)
	}
	if got := (policy.BudgetPolicy{}).EffectiveTTL(); got != 10*time.Second {
		t.Fatalf("TTL 0 means %v, want 10s", got)
	}
	if got := policy.DefaultBudget(); got != policy.RetryBudget(0.2) {
		t.Fatalf("DefaultBudget() = %+v", got)
	}
	if err := (policy.BudgetPolicy{}).Validate(); err != nil {
		t.Fatalf("the zero budget (Finagle's Empty) is valid: %v", err)
	}
}

func TestBudgetPolicyString(t *testing.T) {
	for _, c := range []struct {
		p    policy.BudgetPolicy
		want string
	}{
		{policy.RetryBudget(0.2), "retry_budget(0.2).min_per_second(10).ttl(10s)"},
		{policy.BudgetPolicy{Ratio: 0.5}, "retry_budget(0.5).min_per_second(0)"},
		{policy.RetryBudget(2).WithMinPerSecond(3).WithTTL(time.Minute), "retry_budget(2).min_per_second(3).ttl(1m0s)"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("String() = %s, want %s", got, c.want)
		}
	}
}

func TestBudgetPolicyJSON(t *testing.T) {
	checkJSONRoundTrip(t, []jsonCase{
		{"default", policy.RetryBudget(0.2), `{"type":"retry_budget","ratio":0.2,"min_per_second":10,"ttl":"10s"}`},
		{"zeros literal", policy.BudgetPolicy{}, `{"type":"retry_budget","ratio":0,"min_per_second":0}`},
		{"retry naming a budget", policy.RetryPolicy{MaxAttempts: 3, Budget: "backend"}, `{"type":"retry","max_attempts":3,"budget":"backend"}`},
	})
	checkParseJSONRejects(t, []rejectCase{
		{"ratio", `{"type":"retry_budget","ratio":1001,"min_per_second":0}`, "policy: retry_budget: Ratio must be in [0, 1000], got 1001"},
		{"ttl", `{"type":"retry_budget","ratio":1,"min_per_second":0,"ttl":"61s"}`, "policy: retry_budget: TTL must be 0 (10s) or in [1s, 60s], got 1m1s"},
		{"unknown key", `{"type":"retry_budget","ratio":1,"name":"x"}`, `policy: json: unknown field "name"`},
	})
}

func TestBudgetPolicyValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		p    policy.BudgetPolicy
		want string
	}{
		{"negative ratio", policy.BudgetPolicy{Ratio: -1}, "Ratio must be in [0, 1000], got -1"},
		{"NaN ratio", policy.BudgetPolicy{Ratio: math.NaN()}, "Ratio must be in [0, 1000], got NaN"},
		{"negative reserve", policy.BudgetPolicy{Ratio: 1, MinPerSecond: -1}, "MinPerSecond must be ≥ 0, got -1"},
		{"huge reserve", policy.BudgetPolicy{Ratio: 1, MinPerSecond: 2_000_000}, "MinPerSecond must be ≤ 1000000"},
		{"short ttl", policy.BudgetPolicy{Ratio: 1, TTL: time.Millisecond}, "TTL must be 0 (10s) or in [1s, 60s], got 1ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an invalid-policy error saying %q", err, c.want)
			}
		})
	}
}

// A budget is registered, not combined: a Combine holding one is invalid, and says so.
func TestBudgetInsideCombineIsInvalid(t *testing.T) {
	err := policy.Combine(policy.Retry(3), policy.RetryBudget(0.2)).Validate()
	if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), "Engine.RegisterBudget") {
		t.Fatalf("Validate() = %v", err)
	}
	if err := policy.Retry(2).WithBudget("\xff").Validate(); !errors.Is(err, policy.ErrInvalidPolicy) {
		t.Fatalf("a budget name that is not UTF-8: %v", err)
	}
	if got := policy.Retry(2).WithBudget("b").String(); got != `retry(2).budget("b")` {
		t.Fatalf("String() = %s", got)
	}
}

func TestHedgePolicyStringJSONValidate(t *testing.T) {
	p := policy.Hedge(50 * time.Millisecond).WithMaxHedges(2).WithBudget("backend")
	if got := p.String(); got != `hedge(50ms).max_hedges(2).budget("backend")` {
		t.Fatalf("String() = %s", got)
	}
	if got := policy.Hedge(0).WithClassifier("http").String(); got != `hedge(0s).classifier("http")` {
		t.Fatalf("String() = %s", got)
	}
	if n := policy.Hedge(time.Second).EffectiveMaxHedges(); n != 1 {
		t.Fatalf("MaxHedges 0 means %d, want 1", n)
	}
	checkJSONRoundTrip(t, []jsonCase{
		{"contract", p, `{"type":"hedge","delay":"50ms","max_hedges":2,"budget":"backend"}`},
		{"zero", policy.HedgePolicy{}, `{"type":"hedge","delay":"0s"}`},
		{"classifier", policy.Hedge(time.Second).WithClassifier("c"), `{"type":"hedge","delay":"1s","classifier":"c"}`},
	})
	for _, c := range []struct {
		p    policy.HedgePolicy
		want string
	}{
		{policy.Hedge(-time.Second), "hedge: Delay must be ≥ 0, got -1s"},
		{policy.Hedge(0).WithMaxHedges(11), "hedge: MaxHedges must be in [0, 10] (0 means 1), got 11"},
		{policy.Hedge(0).WithMaxHedges(-1), "hedge: MaxHedges must be in [0, 10] (0 means 1), got -1"},
		{policy.Hedge(0).WithBudget("\xff"), "hedge: Budget must be valid UTF-8"},
	} {
		err := c.p.Validate()
		if !errors.Is(err, policy.ErrInvalidPolicy) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%v) = %v, want %q", c.p, err, c.want)
		}
	}
}

package bulwarkotel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bulwark-go/bulwark/policy"
	"go.opentelemetry.io/otel/attribute"
)

// IN-19: an error's kind is a word from a bounded set, never its text.
func TestKindOfNamesTheSentinelNeverTheText(t *testing.T) {
	secret := errors.New("token=abc123 leaked")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"function's error", secret, "failure"},
		{"plain failure", &policy.Error{Op: "x", Err: secret}, "failure"},
		{"retries exhausted", &policy.Error{Kind: policy.ErrRetryExhausted, Err: secret}, "retry_exhausted"},
		{"open", &policy.Error{Kind: policy.ErrCircuitOpen}, "circuit_open"},
		{"forced open", &policy.Error{Kind: policy.ErrCircuitForcedOpen}, "circuit_forced_open"},
		{"rate limited", &policy.Error{Kind: policy.ErrRateLimited}, "rate_limited"},
		{"timeout", &policy.Error{Kind: policy.ErrTimeout}, "timeout"},
		{"cancelled", &policy.Error{Kind: policy.ErrCancelled, Err: context.Canceled}, "cancelled"},
		{"invalid", &policy.Error{Kind: policy.ErrInvalidPolicy}, "invalid_policy"},
		{"panic", &policy.Error{Kind: policy.ErrPanic}, "panic"},
		{"shutdown", &policy.Error{Kind: policy.ErrShutdown}, "shutdown"},
		{"overloaded", &policy.Error{Kind: policy.ErrOverloaded}, "overloaded"},
		{"concurrency", &policy.Error{Kind: policy.ErrConcurrencyLimited}, "concurrency_limited"},
		{"budget", &policy.Error{Kind: policy.ErrBudgetExhausted}, "budget_exhausted"},
		{"wrapped sentinel", fmt.Errorf("call: %w", &policy.Error{Kind: policy.ErrTimeout}), "timeout"},
		{"bare sentinel", policy.ErrRateLimited, "rate_limited"},
		{"forced open wrapped", fmt.Errorf("x: %w", policy.ErrCircuitForcedOpen), "circuit_forced_open"},
		{"context cancelled", fmt.Errorf("read: %w", context.Canceled), "cancelled"},
		{"context deadline", context.DeadlineExceeded, "deadline_exceeded"},
		{"a later sentinel", &policy.Error{Kind: errors.New("policy: queue drained")}, "queue_drained"},
		{"a foreign kind", &policy.Error{Kind: secret}, "other"},
		{"a typed nil", (*policy.Error)(nil), "failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kindOf(tc.err); got != tc.want {
				t.Errorf("kindOf(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
	if got := causeKind(nil); got != "failure" {
		t.Errorf("causeKind(nil) = %q, want failure", got)
	}
	if got := outcomeOf(nil); got != "success" {
		t.Errorf("outcomeOf(nil) = %q, want success", got)
	}
}

// Every sentinel the policy package lists as a fallback kind has the same name here.
func TestKindsMatchFallbackKinds(t *testing.T) {
	named := map[string]bool{}
	for _, k := range errorKinds {
		named[k.name] = true
	}
	for _, k := range policy.FallbackKinds() {
		if k != "failure" && !named[k] {
			t.Errorf("fallback kind %q has no error kind of that name", k)
		}
	}
}

// The set cache builds each set once, and past maxSets still answers, without keeping.
func TestSetCache(t *testing.T) {
	var c setCache
	k := setKey{sig: sigOperation, a: "op", b: "success"}
	if c.get(k) != c.get(k) {
		t.Error("the same key gave two options")
	}
	for i := range maxSets + 10 {
		c.get(setKey{sig: sigRetry, a: fmt.Sprint(i), b: "failure"})
	}
	if len(c.m) != maxSets {
		t.Errorf("cache holds %d sets, want the bound %d", len(c.m), maxSets)
	}
	want := attribute.NewSet(keyOperation.String("op"), keyOutcome.String("success"))
	if got := k.build(); !got.Equals(&want) {
		t.Errorf("build = %v, want %v", got.Encoded(attribute.DefaultEncoder()), want.Encoded(attribute.DefaultEncoder()))
	}
}

func TestStageOf(t *testing.T) {
	for _, tc := range []struct {
		p    policy.Policy
		want string
	}{
		{policy.None(), "call"},
		{nil, "call"},
		{policy.Retry(2), "retry"},
		{policy.Combine(policy.Timeout(1), policy.Combine(policy.Retry(2))), "retry"},
		{policy.Combine(policy.Timeout(1)), "call"},
	} {
		if got := stageOf(tc.p, 0); got != tc.want {
			t.Errorf("stageOf(%v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

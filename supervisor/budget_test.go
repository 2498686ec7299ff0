package supervisor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

var errBackend = errors.New("backend unavailable")

// noWait is a retry of n attempts that does not wait between them.
func noWait(n int) policy.RetryPolicy { return policy.Retry(n).WithBackoff(policy.FixedBackoff{}) }

// BG-2: a refused retry ends the loop at once; the error matches ErrBudgetExhausted and
// the last attempt's error, and an outer retry does not retry it.
func TestBudgetRefusalCarriesTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBudget("backend", policy.BudgetPolicy{Ratio: 0, MinPerSecond: 0}); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		inner := noWait(5).WithBudget("backend")
		_, err := ExecuteWithPolicy(context.Background(), e, policy.Combine(noWait(3), inner), func(context.Context) (int, error) {
			calls.Add(1)
			return 0, errBackend
		})
		if !errors.Is(err, policy.ErrBudgetExhausted) || !errors.Is(err, errBackend) {
			t.Fatalf("err = %v, want ErrBudgetExhausted and the backend's error", err)
		}
		if policy.IsRetryable(err) {
			t.Fatal("a budget refusal is retryable")
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d attempts; the refused retry must end both loops after the first", n)
		}
		var pe *policy.Error
		if !errors.As(err, &pe) || pe.Kind != policy.ErrBudgetExhausted || pe.Attempts != 1 {
			t.Fatalf("error %#v, want Kind ErrBudgetExhausted after 1 attempt", pe)
		}
		s := e.Metrics().Budgets["backend"]
		if s.Refused != 1 || s.Withdrawals != 0 || s.Deposits != 1 {
			t.Fatalf("stats %+v, want 1 deposit, 0 withdrawals, 1 refused", s)
		}
	})
}

// BG-1, BG-5: retries are capped as a share of first attempts across callers; the
// allowance is served without the actor until it is spent.
func TestBudgetCapsRetriesToTheRatio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBudget("b", policy.BudgetPolicy{Ratio: 0.1, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		pl, err := e.Prepare("op", noWait(2).WithBudget("b"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for range 100 {
			if _, err := ExecutePlan(ctx, pl, ok42); err != nil {
				t.Fatal(err)
			}
		}
		var attempts, refused int
		for range 20 {
			_, err := ExecutePlan(ctx, pl, func(context.Context) (int, error) { attempts++; return 0, errBackend })
			if errors.Is(err, policy.ErrBudgetExhausted) {
				refused++
			}
		}
		// 100 + 20 deposits at 0.1: 12 retries, whatever the allowance's size.
		if retries := attempts - 20; retries != 12 || refused != 8 {
			t.Fatalf("%d retries, %d refused; want 12 retries for 120 deposits at 0.1, 8 refused", retries, refused)
		}
		s := e.Metrics().Budgets["b"]
		if s.Deposits != 120 || s.Withdrawals != 12 || s.Refused != 8 {
			t.Fatalf("stats %+v", s)
		}
		if s.Balance < 0 || s.Balance >= 1 {
			t.Fatalf("balance %v after the budget refused, want in [0, 1)", s.Balance)
		}
	})
}

// BG-1: an unregistered name is created as RetryBudget(0.2), reserve included; the
// deposits expire after the TTL.
func TestBudgetUnregisteredNameTakesTheDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		p := noWait(2).WithBudget("fresh")
		for range 10 {
			if _, err := ExecuteWithPolicy(context.Background(), e, p, ok42); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := e.Metrics().Budgets["fresh"].Balance; got != 100+10*0.2 {
			t.Fatalf("balance %v, want the reserve 100 plus 10 × 0.2", got)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if got := e.Metrics().Budgets["fresh"].Balance; got != 100 {
			t.Fatalf("balance %v after the TTL, want the reserve, 100", got)
		}
	})
}

// BG-3: an exhausted budget never refuses or delays a first attempt, and never cancels
// work in flight.
func TestBudgetNeverDelaysAFirstAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBudget("empty", policy.BudgetPolicy{}); err != nil {
			t.Fatal(err)
		}
		p := noWait(3).WithBudget("empty")
		start := time.Now()
		for range 5 {
			v, err := ExecuteWithPolicy(context.Background(), e, p, func(ctx context.Context) (int, error) {
				time.Sleep(time.Second)
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				return 7, nil
			})
			if err != nil || v != 7 {
				t.Fatalf("first attempt under an empty budget: %v, %v", v, err)
			}
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("5 one-second calls took %v", d)
		}
	})
}

// BG-4: Prometheus series of a budget.
func TestBudgetSeriesAreCollected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t)
		if err := e.RegisterBudget("s", policy.BudgetPolicy{}); err != nil {
			t.Fatal(err)
		}
		ExecuteWithPolicy(context.Background(), e, noWait(2).WithBudget("s"), failing)
		got := obsScrape(t, obsRegistry(t, e))
		for series, want := range map[string]float64{
			`bulwark_budget_balance{name="s"}`:           0,
			`bulwark_budget_deposits_total{name="s"}`:    1,
			`bulwark_budget_withdrawals_total{name="s"}`: 0,
			`bulwark_budget_refused_total{name="s"}`:     1,
		} {
			if v, ok := got[series]; !ok || v != want {
				t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
			}
		}
	})
}

// A budget is registered, not run: as a policy, alone or combined, it is invalid.
func TestBudgetPolicyDoesNotRun(t *testing.T) {
	e := newEngine(t)
	for _, p := range []policy.Policy{policy.RetryBudget(0.2), policy.Combine(noWait(2), policy.RetryBudget(0.2))} {
		_, err := ExecuteWithPolicy(context.Background(), e, p, ok42)
		if !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%v: err = %v, want ErrInvalidPolicy", p, err)
		}
		if _, err := e.Prepare("", p); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("Prepare(%v): err = %v", p, err)
		}
	}
	for _, c := range []struct {
		name string
		p    policy.BudgetPolicy
	}{{"", policy.RetryBudget(0.2)}, {"x", policy.BudgetPolicy{Ratio: -1}}} {
		if err := e.RegisterBudget(c.name, c.p); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("RegisterBudget(%q, %v) = %v", c.name, c.p, err)
		}
	}
}

// A registered budget is reconfigured in place, and survives idle scans.
func TestBudgetRegisteredIsReconfiguredAndKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEngine(t, WithIdleTimeout(time.Minute))
		if err := e.RegisterBudget("r", policy.BudgetPolicy{Ratio: 1, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if err := e.RegisterBudget("r", policy.BudgetPolicy{Ratio: 1, MinPerSecond: 1, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		ExecuteWithPolicy(context.Background(), e, noWait(1).WithBudget("r"), ok42)
		ExecuteWithPolicy(context.Background(), e, noWait(1).WithBudget("u"), ok42)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		m := e.Metrics().Budgets
		if s, ok := m["r"]; !ok || s.Balance != 60 {
			t.Fatalf("registered budget %+v (%v), want the new reserve of 60 after its deposit expired", s, ok)
		}
		if _, ok := m["u"]; ok {
			t.Fatal("the idle unregistered budget was not passivated")
		}
	})
}

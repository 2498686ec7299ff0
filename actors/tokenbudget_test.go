package actors

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

var budgetT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// runFinagleBudget is Finagle's RetryBudgetTest.testBudget: with time frozen, 10 000
// requests each deposit and try one retry; a refused retry leaves less than one retry in
// the bucket, and the retries granted are nReqs·ratio + the reserve, within 1.
func runFinagleBudget(t *testing.T, ttl time.Duration, minPerSecond int, ratio float64) {
	t.Helper()
	b := NewTokenBudget(policy.BudgetPolicy{Ratio: ratio, MinPerSecond: minPerSecond, TTL: ttl}, budgetT0)
	minRetries := int(ttl/time.Second) * minPerSecond
	if got := b.Balance(budgetT0); got != float64(minRetries) {
		t.Fatalf("ratio %v: initial balance %v, want %d", ratio, got, minRetries)
	}
	if minRetries == 0 && b.TryWithdraw(budgetT0) {
		t.Fatalf("ratio %v: a withdrawal with no deposit and no reserve was granted", ratio)
	}
	const nReqs = 10000
	retried := 0
	for i := range nReqs {
		b.Deposit(budgetT0, 1)
		if b.TryWithdraw(budgetT0) {
			retried++
		} else if got := b.Available(budgetT0); got != 0 {
			t.Fatalf("ratio %v: request %d refused with %d retries available", ratio, i, got)
		}
	}
	want := int(nReqs*ratio) + minRetries
	if d := retried - want; d < -1 || d > 1 {
		t.Fatalf("ratio %v, reserve %d: %d retries granted, want %d ± 1", ratio, minRetries, retried, want)
	}
}

// BG-1: Finagle RetryBudgetTest "apply minRetriesPerSec=0": 1 retry per 10 deposits at
// 0.1, per 2 at 0.5, ... with no reserve, TTL 60s.
func TestTokenBudgetRatioWithoutReserve(t *testing.T) {
	for _, ratio := range []float64{0.1, 0.5, 0.25, 0.75, 0.99, 0.999, 0.9999, 0.01, 0.001, 0.0001} {
		t.Run(fmt.Sprint(ratio), func(t *testing.T) { runFinagleBudget(t, time.Minute, 0, ratio) })
	}
}

// BG-1: Finagle "apply minRetriesPerSec=0": at 0.1 exactly the 10th, 20th, ... deposit
// makes a retry available.
func TestTokenBudgetOneRetryPerTenDeposits(t *testing.T) {
	b := NewTokenBudget(policy.BudgetPolicy{Ratio: 0.1, TTL: time.Minute}, budgetT0)
	for i := 1; i <= 50; i++ {
		b.Deposit(budgetT0, 1)
		got := b.TryWithdraw(budgetT0)
		if want := i%10 == 0; got != want {
			t.Fatalf("deposit %d: withdrawal granted %v, want %v", i, got, want)
		}
	}
	if d, w, r := b.Counters(); d != 50 || w != 5 || r != 45 {
		t.Fatalf("counters %d/%d/%d, want 50 deposits, 5 withdrawals, 45 refused", d, w, r)
	}
}

// BG-1: Finagle "apply minRetries=0 maxPercentOver greater than 1.0": Ratio 2.0, 10 000
// deposits give a balance of 20 000.
func TestTokenBudgetRatioAboveOne(t *testing.T) {
	b := NewTokenBudget(policy.BudgetPolicy{Ratio: 2.0, TTL: time.Minute}, budgetT0)
	if b.Balance(budgetT0) != 0 || b.TryWithdraw(budgetT0) {
		t.Fatal("an empty budget without reserve granted a withdrawal")
	}
	for range 10000 {
		b.Deposit(budgetT0, 1)
	}
	if got := b.Balance(budgetT0); got != 20000 {
		t.Fatalf("balance %v, want 20000", got)
	}
}

// BG-1: Finagle "apply with minRetries and maxPercentOver=0" and "... and maxPercentOver":
// the reserve is MinPerSecond × TTL.
func TestTokenBudgetReserve(t *testing.T) {
	for _, c := range []struct {
		ttl   time.Duration
		min   int
		ratio float64
	}{
		{time.Second, 10, 0}, {2 * time.Second, 5, 0},
		{time.Second, 10, 0.1}, {2 * time.Second, 5, 0.5},
	} {
		t.Run(fmt.Sprintf("%v/%d/%v", c.ttl, c.min, c.ratio), func(t *testing.T) { runFinagleBudget(t, c.ttl, c.min, c.ratio) })
	}
}

// BG-1: Finagle "apply minRetriesPerSec=0 maxPercentOver=0 should be empty" and "Empty":
// nothing is ever granted.
func TestTokenBudgetEmpty(t *testing.T) {
	b := NewTokenBudget(policy.BudgetPolicy{}, budgetT0)
	b.Deposit(budgetT0, 1)
	if b.Balance(budgetT0) != 0 || b.TryWithdraw(budgetT0) {
		t.Fatal("Ratio 0 and no reserve granted a withdrawal")
	}
}

// BG-1: deposits expire after the TTL (between 9/10 and 10/10 of it, in slices), and so
// do the withdrawals they paid for; the reserve stays.
func TestTokenBudgetDepositsExpireAfterTTL(t *testing.T) {
	b := NewTokenBudget(policy.BudgetPolicy{Ratio: 1, MinPerSecond: 1, TTL: 10 * time.Second}, budgetT0)
	b.Deposit(budgetT0, 5)
	if got := b.Balance(budgetT0); got != 15 {
		t.Fatalf("balance %v, want 10 reserve + 5", got)
	}
	if got := b.Balance(budgetT0.Add(9 * time.Second)); got != 15 {
		t.Fatalf("balance after 9s %v, want 15: the deposits still count", got)
	}
	if got := b.Balance(budgetT0.Add(10 * time.Second)); got != 10 {
		t.Fatalf("balance after 10s %v, want the reserve, 10", got)
	}
	// A long silence clears the whole window at once.
	b.Deposit(budgetT0.Add(10*time.Second), 3)
	if !b.TryWithdraw(budgetT0.Add(10 * time.Second)) {
		t.Fatal("withdrawal refused with 12 retries in the bucket")
	}
	if !b.Idle(budgetT0.Add(time.Hour)) || b.Balance(budgetT0.Add(time.Hour)) != 10 {
		t.Fatal("the window did not empty after an hour")
	}
}

// BG-1: over any interval of length TTL, withdrawals ≤ MinPerSecond·TTL + Ratio·deposits + 1.
func TestTokenBudgetBoundOverAnyTTL(t *testing.T) {
	p := policy.BudgetPolicy{Ratio: 0.2, MinPerSecond: 2, TTL: 10 * time.Second}
	b := NewTokenBudget(p, budgetT0)
	type ev struct {
		at       time.Duration
		withdraw bool
	}
	var evs []ev
	for ms := time.Duration(0); ms < 60*time.Second; ms += 7 * time.Millisecond {
		now := budgetT0.Add(ms)
		b.Deposit(now, 1)
		evs = append(evs, ev{ms, false})
		for range 3 {
			if b.TryWithdraw(now) {
				evs = append(evs, ev{ms, true})
			}
		}
	}
	for i := range evs {
		var d, w int
		for _, e := range evs[i:] {
			if e.at >= evs[i].at+p.TTL {
				break
			}
			if e.withdraw {
				w++
			} else {
				d++
			}
		}
		if limit := float64(p.MinPerSecond)*p.TTL.Seconds() + p.Ratio*float64(d) + 1; float64(w) > math.Floor(limit)+1e-9 {
			t.Fatalf("from %v: %d withdrawals over one TTL with %d deposits, bound %v", evs[i].at, w, d, limit)
		}
	}
}

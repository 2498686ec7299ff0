package actors

import (
	"time"

	"github.com/bulwark-go/bulwark/policy"
)

// budgetScale is Finagle's TokenRetryBudget.ScaleFactor: a deposit is worth this many
// tokens, and a withdrawal costs budgetScale / Ratio of them (truncated), so ratios such
// as 0.1 need no floating point.
const budgetScale = 1000

// budgetSlices is how many slices the TTL window is cut into (Finagle's WindowedAdder
// uses 10): a deposit expires between 9/10 and 10/10 of the TTL after it was made.
const budgetSlices = 10

// TokenBudget is the pure state machine of one retry budget: Finagle's TokenRetryBudget
// over a leaky token bucket whose tokens expire after the TTL. Deposits and withdrawals
// are kept as counts in a window of budgetSlices slices; the bucket's tokens are
//
//	reserve + deposits·depositAmount − withdrawals·withdrawalAmount
//
// over the window, with depositAmount = 1000 (0 when Ratio is 0), withdrawalAmount =
// ⌊1000/Ratio⌋ (1 when Ratio is 0) and reserve = MinPerSecond · ⌊TTL in seconds⌋ ·
// withdrawalAmount — Finagle's numbers, so every result matches its RetryBudgetTest.
// Time enters as arguments. Not safe for concurrent use: the budget actor owns it.
type TokenBudget struct {
	cfg      policy.BudgetPolicy
	deposit  int64 // tokens per deposit
	withdraw int64 // tokens per withdrawal
	reserve  int64 // tokens always there
	slice    time.Duration

	// The window: counts of the current slice, and of the budgetSlices-1 before it.
	curDeposits, curWithdrawals int64
	oldDeposits                 [budgetSlices - 1]int64
	oldWithdrawals              [budgetSlices - 1]int64
	i                           int       // the next old slice to overwrite
	start                       time.Time // when the current slice began

	deposits, withdrawals, refused uint64 // totals since creation
}

// NewTokenBudget returns the budget p (valid) with an empty window at now.
func NewTokenBudget(p policy.BudgetPolicy, now time.Time) *TokenBudget {
	b := &TokenBudget{start: now}
	b.configure(p)
	return b
}

// configure sets the amounts of p; the window's counts keep their meaning.
func (b *TokenBudget) configure(p policy.BudgetPolicy) {
	b.cfg = p
	if p.Ratio == 0 {
		b.deposit, b.withdraw = 0, 1
	} else {
		b.deposit, b.withdraw = budgetScale, int64(budgetScale/p.Ratio)
	}
	ttl := p.EffectiveTTL()
	b.reserve = int64(p.MinPerSecond) * int64(ttl/time.Second) * b.withdraw
	b.slice = ttl / budgetSlices
}

// Reconfigure changes the budget to p (valid) at now, keeping the deposits and
// withdrawals that still count; a new TTL starts a new window.
func (b *TokenBudget) Reconfigure(p policy.BudgetPolicy, now time.Time) {
	if p.EffectiveTTL() != b.cfg.EffectiveTTL() {
		b.clear(now)
	}
	b.configure(p)
}

// Config returns the budget's configuration.
func (b *TokenBudget) Config() policy.BudgetPolicy { return b.cfg }

// advance expires the slices that ended by now, as Finagle's WindowedAdder does: the
// current slice is kept, then every slice skipped since is zero.
func (b *TokenBudget) advance(now time.Time) {
	elapsed := now.Sub(b.start)
	if elapsed < b.slice {
		return
	}
	n := len(b.oldDeposits)
	b.oldDeposits[b.i], b.oldWithdrawals[b.i] = b.curDeposits, b.curWithdrawals
	b.curDeposits, b.curWithdrawals = 0, 0
	b.i = (b.i + 1) % n
	skip := min(int(elapsed/b.slice)-1, n)
	for range skip {
		b.oldDeposits[b.i], b.oldWithdrawals[b.i] = 0, 0
		b.i = (b.i + 1) % n
	}
	b.start = now
}

func (b *TokenBudget) clear(now time.Time) {
	b.curDeposits, b.curWithdrawals = 0, 0
	clear(b.oldDeposits[:])
	clear(b.oldWithdrawals[:])
	b.start = now
}

// tokens returns the bucket's tokens at now: the reserve plus the window's net.
func (b *TokenBudget) tokens(now time.Time) int64 {
	b.advance(now)
	d, w := b.curDeposits, b.curWithdrawals
	for k := range b.oldDeposits {
		d += b.oldDeposits[k]
		w += b.oldWithdrawals[k]
	}
	return b.reserve + d*b.deposit - w*b.withdraw
}

// Deposit records n first attempts at now.
func (b *TokenBudget) Deposit(now time.Time, n uint64) {
	if n == 0 {
		return
	}
	b.advance(now)
	b.curDeposits += int64(n)
	b.deposits += n
}

// TryWithdraw takes one retry at now and reports whether the bucket held one; a refusal
// is counted and leaves the balance untouched.
func (b *TokenBudget) TryWithdraw(now time.Time) bool {
	if b.tokens(now) < b.withdraw {
		b.refused++
		return false
	}
	b.Withdraw(now, 1)
	return true
}

// Available returns how many whole retries the bucket holds at now (Finagle's balance).
func (b *TokenBudget) Available(now time.Time) int64 {
	return max(b.tokens(now), 0) / b.withdraw
}

// Withdraw records n retries at now that were granted in advance (the allowance the
// actor published), whatever the balance.
func (b *TokenBudget) Withdraw(now time.Time, n uint64) {
	if n == 0 {
		return
	}
	b.advance(now)
	b.curWithdrawals += int64(n)
	b.withdrawals += n
}

// Refuse counts n refused retries.
func (b *TokenBudget) Refuse(n uint64) { b.refused += n }

// Balance returns the retries the bucket holds at now, fractions included (the reserve
// too); it is negative when more was withdrawn than the window now credits.
func (b *TokenBudget) Balance(now time.Time) float64 {
	return float64(b.tokens(now)) / float64(b.withdraw)
}

// Counters returns the deposits, withdrawals and refusals since creation.
func (b *TokenBudget) Counters() (deposits, withdrawals, refused uint64) {
	return b.deposits, b.withdrawals, b.refused
}

// Idle reports whether the window holds nothing at now: a new budget would be the same.
func (b *TokenBudget) Idle(now time.Time) bool {
	b.advance(now)
	if b.curDeposits != 0 || b.curWithdrawals != 0 {
		return false
	}
	for k := range b.oldDeposits {
		if b.oldDeposits[k] != 0 || b.oldWithdrawals[k] != 0 {
			return false
		}
	}
	return true
}

// NextExpiry returns how long after now the current slice ends (when counts may expire).
func (b *TokenBudget) NextExpiry(now time.Time) time.Duration {
	return max(b.slice-now.Sub(b.start), 0)
}

package messages

// BudgetStats is a retry budget's balance and counters: the value in
// supervisor.Metrics.Budgets, and a budget actor's answer to GetStats.
type BudgetStats struct {
	// Balance is the retries the budget allows now, counted in retries (fractions
	// allowed), the reserve included; negative while more was withdrawn than the
	// deposits that still count pay for.
	Balance float64
	// Deposits counts first attempts that paid into the budget.
	Deposits uint64
	// Withdrawals counts retries and hedges the budget allowed.
	Withdrawals uint64
	// Refused counts retries and hedges the budget refused.
	Refused uint64
}

// Withdraw asks a budget actor for one retry or hedge when the allowance its link
// publishes is spent. The actor answers *Granted, or *Rejected with Reason
// BudgetExhausted, carrying the same Ticket.
type Withdraw struct {
	// Ticket routes the answer back to the caller; it must not be zero.
	Ticket uint64
}

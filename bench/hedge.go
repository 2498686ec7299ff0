package bench

// The retry-budget and hedge workloads of issue 14, shared by bulwark and its peers.
const (
	// CaseRetryBudget is a retry of RetryAttempts attempts that draws on a retry budget
	// (bulwark: RetryPolicy.WithBudget; failsafe-go: retrypolicy WithBudget).
	CaseRetryBudget = "retry_budget"
	// CaseHedge is a hedge whose primary answers before the delay: one hedge after
	// HedgeDelay, never started.
	CaseHedge = "hedge"
	// HedgeDelay is the hedge's delay: never reached by Work.
	HedgeDelay = TimeoutLimit
)
